//! The execution summary, computed from the folded journal ([`State`]), never from a model.
//!
//! Pure; must not call models or journal.

use crate::protocol::*;
use crate::state::{State, SubtaskStatus};

fn action_text(a: &RecoveryAction) -> String {
    match a {
        RecoveryAction::Retry => "retry".into(),
        RecoveryAction::Reassign { role } => format!("reassigned to {role}"),
        RecoveryAction::Decompose { into } => format!(
            "decomposed into {}",
            into.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        RecoveryAction::Escalate => "escalated".into(),
    }
}

fn decision_text(d: &ScopeDecision) -> String {
    match d {
        ScopeDecision::RaiseLimit { to } => format!("limit raised to {to}"),
        ScopeDecision::DeferLowPriority => "low-priority subtasks deferred".into(),
        ScopeDecision::StopAndSynthesize => "stopped and synthesised".into(),
        ScopeDecision::Continue => "continued past a budget stage".into(),
    }
}

/// The numbers of the run as the journal records them.
pub fn execution_summary(state: &State) -> ExecutionSummary {
    let count = |f: &dyn Fn(SubtaskStatus) -> bool| -> u32 {
        state.subtasks.iter().filter(|s| f(s.status)).count() as u32
    };
    let mut per_role: Vec<(String, u32)> = Vec::new();
    for s in state.subtasks.iter().filter(|s| s.attempts > 0) {
        match per_role.iter_mut().find(|(r, _)| r == &s.role) {
            Some((_, n)) => *n += 1,
            None => per_role.push((s.role.clone(), 1)),
        }
    }
    per_role.sort();
    let mut pivots = Vec::new();
    for r in &state.replan_log {
        if !r.cancelled.is_empty() {
            let ids: Vec<String> = r.cancelled.iter().map(|i| i.to_string()).collect();
            pivots.push(format!(
                "replan {} cancelled {}: {}",
                r.cycle,
                ids.join(", "),
                r.summary
            ));
        }
    }
    for s in &state.subtasks {
        for rec in &s.recoveries {
            pivots.push(format!(
                "{} {}: {} ({})",
                s.id,
                s.title,
                action_text(&rec.action),
                rec.rationale
            ));
        }
    }
    for a in &state.alerts {
        if let Some(d) = &a.resolution {
            pivots.push(format!(
                "scope alert {} ({} {} of {}): {}",
                a.alert,
                a.limit,
                a.current,
                a.max,
                decision_text(d)
            ));
        }
    }
    let mut files_changed: Vec<String> = Vec::new();
    for f in state.files.iter().filter(|f| !f.rolled_back) {
        if !files_changed.contains(&f.path) {
            files_changed.push(f.path.clone());
        }
    }
    ExecutionSummary {
        subtasks_total: state.subtasks.len() as u32,
        initial_estimate: state.initial_estimate(),
        completed: count(&|s| matches!(s, SubtaskStatus::Complete | SubtaskStatus::Partial)),
        failed: count(&|s| {
            matches!(
                s,
                SubtaskStatus::Failed | SubtaskStatus::Blocked | SubtaskStatus::Escalated
            )
        }),
        cancelled: count(&|s| s == SubtaskStatus::Cancelled),
        deferred: count(&|s| s == SubtaskStatus::Deferred),
        per_role,
        replan_cycles: state.replan_log.len() as u32,
        pivots,
        elapsed_secs: state.elapsed_secs(),
        tokens: state.usage,
        cost_usd: (state.unpriced_calls == 0).then_some(state.cost_usd),
        retries: state.retries,
        evaluation_rounds: state.evaluations.len() as u32,
        findings_left: state.findings_left(),
        files_changed,
    }
}
