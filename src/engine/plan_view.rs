//! What the orchestrator has seen of the plan, and the compact replan context built from
//! it: a replan sends what changed since the orchestrator's previous call (new reports,
//! subtasks that are new or whose status, title, role, priority, dependencies, attempts or
//! guidance changed) plus a compact index of every subtask id by status, so the prompt
//! grows with the change, not with the plan (O(N) bytes per run instead of O(N²)).
//!
//! Decisions: plans of at most [`FULL_PLAN_UP_TO`] subtasks are always sent whole (they
//! are small, and a whole plan is easier for a model); the analysis, recoveries, the last
//! replan (which is also the completion assessment), the synthesis and the evaluation
//! always see the whole plan; a resumed run starts with nothing seen, so its first replan
//! sends the whole plan.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::prompts;
use crate::protocol::SubtaskId;
use crate::protocol::model::{OrchestratorContext, PlanIndex};
use crate::state::{State, Subtask, SubtaskStatus};

/// Plans up to this size are sent whole in every replan.
pub const FULL_PLAN_UP_TO: usize = 24;

/// The fingerprint of each subtask as the orchestrator last saw it (index `i` is `#(i+1)`;
/// 0 = never seen).
#[derive(Debug, Default)]
pub(crate) struct PlanSeen {
    seen: Vec<u64>,
}

fn fingerprint(s: &Subtask) -> u64 {
    let mut h = DefaultHasher::new();
    (
        s.status.label(),
        &s.title,
        &s.role,
        s.priority,
        &s.depends_on,
        s.attempts,
        &s.guidance,
    )
        .hash(&mut h);
    h.finish() | 1
}

impl PlanSeen {
    /// Records every subtask as the orchestrator sees it in the call being sent now.
    pub(crate) fn saw(&mut self, state: &State) {
        self.seen.clear();
        self.seen.extend(state.subtasks.iter().map(fingerprint));
    }

    fn changed(&self, s: &Subtask) -> bool {
        let i = (s.id.0 as usize).wrapping_sub(1);
        self.seen.get(i).is_none_or(|f| *f != fingerprint(s))
    }

    /// Fills a replan context's `subtasks` with only the changes, and its plan index
    /// (used when the plan is bigger than [`FULL_PLAN_UP_TO`]).
    pub(crate) fn compact(&self, state: &State, ctx: &mut OrchestratorContext) {
        let reported: Vec<u32> = ctx.reports.iter().map(|r| r.id).collect();
        ctx.subtasks = state
            .subtasks
            .iter()
            .filter(|s| self.changed(s))
            .map(|s| {
                let mut v = prompts::subtask_view(s);
                // Its report is in `reports` already.
                if reported.contains(&s.id.0) {
                    v.results = None;
                }
                v
            })
            .collect();
        ctx.plan_index = Some(plan_index(state));
    }
}

/// Every subtask id by status, as ranges.
pub fn plan_index(state: &State) -> PlanIndex {
    let order = [
        SubtaskStatus::Complete,
        SubtaskStatus::Partial,
        SubtaskStatus::Running,
        SubtaskStatus::Ready,
        SubtaskStatus::AwaitingApproval,
        SubtaskStatus::Deferred,
        SubtaskStatus::Blocked,
        SubtaskStatus::Failed,
        SubtaskStatus::Escalated,
        SubtaskStatus::Cancelled,
    ];
    let by_status = order
        .iter()
        .filter_map(|st| {
            let ids: Vec<SubtaskId> = state
                .subtasks
                .iter()
                .filter(|s| s.status == *st)
                .map(|s| s.id)
                .collect();
            (!ids.is_empty()).then(|| (st.label().to_string(), ranges(&ids)))
        })
        .collect();
    PlanIndex {
        total: state.subtasks.len() as u32,
        by_status,
    }
}

/// `[1,2,3,5,7,8]` → `"1-3,5,7-8"` (ids ascending).
pub fn ranges(ids: &[SubtaskId]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i].0;
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1].0 == end + 1 {
            i += 1;
            end += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_compact() {
        let ids: Vec<SubtaskId> = [1, 2, 3, 5, 7, 8].into_iter().map(SubtaskId).collect();
        assert_eq!(ranges(&ids), "1-3,5,7-8");
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[SubtaskId(4)]), "4");
    }
}
