//! The approval policy (`--approve auto|scope|all|plan`) and the engine's fixed rules: which new
//! subtasks wait for a person, how `auto` chooses the run mode and answers scope alerts,
//! attempt and round caps, and which limits are reached.
//!
//! Pure functions over the settings and the [`State`]; must not journal or call models.

use crate::protocol::*;
use crate::state::{State, SubtaskStatus};

/// Worker attempts per subtask before it is escalated without asking the orchestrator.
pub const MAX_ATTEMPTS: u32 = 3;
/// Model turns per worker attempt; the last one forces `submit_report`.
pub const MAX_WORKER_TURNS: u32 = 20;
/// Completion assessments that may add work before the engine synthesises anyway.
pub const MAX_COMPLETION_ROUNDS: u32 = 3;

/// What a replan does to a running subtask it changes under the worker's feet (a new
/// dependency not yet done, a rewritten title, description, role or expected output):
/// `on_replan_conflict` in the config. Cancelling a running subtask always stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplanConflict {
    /// Stop the worker and run the subtask again under the new plan (the default).
    #[default]
    Restart,
    /// Stop the worker and escalate the subtask: a person decides (retry, done, cancel).
    Ask,
    /// Let the worker finish against its old brief (the change applies to the plan).
    Finish,
}

impl ReplanConflict {
    pub const ALL: [ReplanConflict; 3] = [
        ReplanConflict::Restart,
        ReplanConflict::Ask,
        ReplanConflict::Finish,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReplanConflict::Restart => "restart",
            ReplanConflict::Ask => "ask",
            ReplanConflict::Finish => "finish",
        }
    }
}

impl std::str::FromStr for ReplanConflict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReplanConflict::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown on_replan_conflict `{s}` (restart, ask or finish)"))
    }
}

/// Must a person approve a new subtask of this origin before it runs?
///
/// `all`: every subtask except those a person added. `scope`: what changes the scope after
/// the analysis (discovered, replan, decomposed, evaluation). `auto`: none.
pub fn needs_approval(policy: ApprovalPolicy, origin: &Origin) -> bool {
    match policy {
        ApprovalPolicy::Auto => false,
        ApprovalPolicy::All => !matches!(origin, Origin::Person),
        // Under `plan` a replan's and an evaluation's additions reach the plan only through a
        // diff a person accepted (added approved); what else adds work waits as under `scope`.
        ApprovalPolicy::Scope | ApprovalPolicy::Plan => matches!(
            origin,
            Origin::Discovered { .. }
                | Origin::Replan { .. }
                | Origin::Decomposed { .. }
                | Origin::Evaluation { .. }
        ),
    }
}

/// `auto`'s choice below the complexity threshold: orchestrate when the analysis expects more
/// than one subtask (estimate or first subtasks), else a single worker.
pub fn auto_mode(analysis: &Analysis, first_subtasks: usize) -> RunMode {
    if analysis.estimated_subtasks > 1 || first_subtasks > 1 {
        RunMode::Orchestrate
    } else {
        RunMode::SingleWorker
    }
}

/// `auto`'s answer to a scope alert: too many subtasks → defer the low-priority ones and
/// continue (the subtasks over the limit stay deferred); replan cycles, tokens, cost and wall
/// clock → stop and synthesise what is done (budgets are hard).
pub fn auto_scope_decision(limit: LimitKind) -> ScopeDecision {
    match limit {
        LimitKind::Subtasks => ScopeDecision::DeferLowPriority,
        _ => ScopeDecision::StopAndSynthesize,
    }
}

/// Subtasks that count toward the subtask limit: not cancelled, not deferred.
pub fn counted_subtasks(state: &State) -> u32 {
    state
        .subtasks
        .iter()
        .filter(|s| !matches!(s.status, SubtaskStatus::Cancelled | SubtaskStatus::Deferred))
        .count() as u32
}

/// Has a scope decision told the run to stop and synthesise?
pub fn winding_down(state: &State) -> bool {
    state
        .alerts
        .iter()
        .any(|a| a.resolution == Some(ScopeDecision::StopAndSynthesize))
}

/// The budget limits (tokens, cost, wall clock) that are reached now, with (current, max).
pub fn budgets_reached(state: &State, wall_secs: f64) -> Vec<(LimitKind, f64, f64)> {
    let l = &state.limits;
    let mut out = Vec::new();
    if let Some(max) = l.max_tokens {
        let cur = state.usage.total();
        if cur >= max {
            out.push((LimitKind::Tokens, cur as f64, max as f64));
        }
    }
    if let Some(max) = l.budget_usd
        && state.cost_usd >= max
    {
        out.push((LimitKind::Cost, state.cost_usd, max));
    }
    if let Some(max) = l.max_wall_secs
        && wall_secs >= max as f64
    {
        out.push((LimitKind::WallClock, wall_secs, max as f64));
    }
    out
}

/// Is an alert about this limit open?
pub fn alert_open(state: &State, limit: LimitKind) -> bool {
    state.open_alerts().any(|a| a.limit == limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_by_policy_and_origin() {
        let d = Origin::Discovered {
            from: SubtaskId(1),
            cycle: 1,
        };
        assert!(!needs_approval(ApprovalPolicy::Auto, &d));
        assert!(needs_approval(ApprovalPolicy::Scope, &d));
        assert!(!needs_approval(ApprovalPolicy::Scope, &Origin::Analysis));
        assert!(needs_approval(ApprovalPolicy::All, &Origin::Analysis));
        assert!(!needs_approval(ApprovalPolicy::All, &Origin::Person));
    }
}
