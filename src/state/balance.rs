//! Balanced workers: does one role or one worker hold most of the finished work?
//!
//! The pattern's workers are specialists, and parallel slots are there to share the load:
//! when one role or one worker slot holds [`SHARE_PERCENT`] % or more of the finished
//! subtasks, once at least [`MIN_FINISHED`] have finished, the header and the replan log
//! warn and the orchestrator's next replan context says so. Worker slots are compared only
//! when the run has more than one (with `max_workers = 1` one slot does everything by
//! design). "Finished" means a complete or partial report (`Outlook::finished_by_*`,
//! counted by the reducer), so a retried subtask that reports twice counts twice.
//!
//! Pure: the engine journals `balance_changed` when [`imbalance`]'s answer changes, so the
//! warning is journaled once per crossing and a resume does not repeat it.

use super::State;
use crate::protocol::{BalanceKind, Imbalance};

/// Finished subtasks needed before a share means anything.
pub const MIN_FINISHED: u32 = 5;
/// The share of the finished work that is too much for one role or worker.
pub const SHARE_PERCENT: u32 = 80;

fn over(held: u32, finished: u32) -> bool {
    u64::from(held) * 100 >= u64::from(SHARE_PERCENT) * u64::from(finished)
}

/// The role (first) or worker holding too much of the finished work, if any.
pub fn imbalance(state: &State) -> Option<Imbalance> {
    let o = &state.outlook;
    let finished = o
        .finished_by_role
        .values()
        .fold(0u32, |a, n| a.saturating_add(*n));
    if finished < MIN_FINISHED {
        return None;
    }
    let top_role = o.finished_by_role.iter().max_by_key(|(_, n)| **n);
    if let Some((role, held)) = top_role
        && over(*held, finished)
    {
        return Some(Imbalance {
            kind: BalanceKind::Role,
            name: role.clone(),
            held: *held,
            finished,
        });
    }
    if state.max_workers <= 1 {
        return None;
    }
    let top_worker = o.finished_by_worker.iter().max_by_key(|(_, n)| **n);
    match top_worker {
        Some((w, held)) if over(*held, finished) => Some(Imbalance {
            kind: BalanceKind::Worker,
            name: format!("w{w}"),
            held: *held,
            finished,
        }),
        _ => None,
    }
}

/// Is the warning journaled now different from what the finished work says (a crossing up,
/// a change of holder, or back under the share)? Counts alone changing is no crossing.
pub fn changed(state: &State) -> Option<Option<Imbalance>> {
    let now = imbalance(state);
    let was = &state.outlook.imbalance;
    let same = match (&now, was) {
        (Some(a), Some(b)) => a.kind == b.kind && a.name == b.name,
        (None, None) => true,
        _ => false,
    };
    (!same).then_some(now)
}

/// The warning in words: `code developer did 9 of 10 finished subtasks (90 %)`.
pub fn describe(i: &Imbalance) -> String {
    let who = match i.kind {
        BalanceKind::Role => format!("role {}", super::role_label(&i.name)),
        BalanceKind::Worker => format!("worker {}", i.name),
    };
    format!(
        "{who} did {} of {} finished subtasks ({} %)",
        i.held,
        i.finished,
        i.percent()
    )
}

/// The one line the orchestrator's next replan context carries.
pub fn context_line(state: &State) -> Option<String> {
    state.outlook.imbalance.as_ref().map(|i| {
        format!(
            "{}: spread the remaining work across roles and independent subtasks where the task allows",
            describe(i)
        )
    })
}
