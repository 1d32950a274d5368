//! Budget and dispatch events: model usage and retries, scope alerts (raising a limit),
//! pause/resume of dispatch and the worker count.

use chrono::{DateTime, Utc};

use crate::state::*;

/// Folds one budget event; other events are not this family's and change nothing here.
pub(super) fn apply(state: &mut State, ts: DateTime<Utc>, event: &Event) {
    match event {
        Event::LlmUsage {
            purpose,
            usage,
            cost_usd,
            ..
        } => {
            state.llm_calls += 1;
            state.usage.add(usage);
            match cost_usd {
                Some(c) => state.cost_usd += c,
                None => state.unpriced_calls += 1,
            }
            if let CallPurpose::Worker { id, .. } = purpose
                && let Some(s) = state.subtask_mut(*id)
            {
                s.usage.add(usage);
                s.cost_usd += cost_usd.unwrap_or(0.0);
            }
        }
        Event::LlmRetried { notice, .. } => {
            state.retries += 1;
            state.last_retry = Some((ts, notice.clone()));
        }
        Event::ScopeAlertRaised {
            alert,
            limit,
            current,
            max,
            pending,
        } => state.alerts.push(ScopeAlert {
            alert: *alert,
            limit: *limit,
            current: *current,
            max: *max,
            pending: pending.clone(),
            resolution: None,
        }),
        Event::ScopeAlertResolved {
            alert, decision, ..
        } => {
            let mut raised = None;
            if let Some(a) = state.alerts.iter_mut().find(|a| a.alert == *alert) {
                a.resolution = Some(decision.clone());
                raised = Some(a.limit);
            }
            if let (Some(limit), ScopeDecision::RaiseLimit { to }) = (raised, decision) {
                let l = &mut state.limits;
                match limit {
                    LimitKind::Subtasks => l.max_subtasks = Some(*to as u32),
                    LimitKind::Cycles => l.max_cycles = Some(*to as u32),
                    LimitKind::Tokens => l.max_tokens = Some(*to as u64),
                    LimitKind::Cost => l.budget_usd = Some(*to),
                    LimitKind::WallClock => l.max_wall_secs = Some(*to as u64),
                }
            }
        }
        Event::DispatchPaused { .. } => state.paused = true,
        Event::DispatchResumed { .. } => state.paused = false,
        Event::MaxWorkersChanged { max_workers, .. } => state.max_workers = *max_workers,
        _ => {}
    }
}
