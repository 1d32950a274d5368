//! Queries every reader of the state needs (what is runnable, what needs a person, counts,
//! estimates), so no front end re-derives the rules.

use super::*;

impl State {
    /// Folds a whole event sequence (resume, tests).
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Envelope>) -> State {
        let mut state = State::default();
        for e in events {
            apply(&mut state, e);
        }
        state
    }

    pub fn subtask(&self, id: SubtaskId) -> Option<&Subtask> {
        self.subtasks.get((id.0 as usize).wrapping_sub(1))
    }

    pub(in crate::state) fn subtask_mut(&mut self, id: SubtaskId) -> Option<&mut Subtask> {
        self.subtasks.get_mut((id.0 as usize).wrapping_sub(1))
    }

    /// The id the next added subtask gets.
    pub fn next_id(&self) -> SubtaskId {
        SubtaskId(self.subtasks.len() as u32 + 1)
    }

    /// The estimate the analysis made (0 before it).
    pub fn initial_estimate(&self) -> u32 {
        self.analysis.as_ref().map_or(0, |a| a.estimated_subtasks)
    }

    /// The scope estimate now: the latest replan's, else the analysis'.
    pub fn current_estimate(&self) -> u32 {
        self.replan_log
            .last()
            .map_or(self.initial_estimate(), |r| r.estimate_now)
    }

    pub fn count(&self, status: SubtaskStatus) -> usize {
        self.subtasks.iter().filter(|s| s.status == status).count()
    }

    pub fn running(&self) -> impl Iterator<Item = &Subtask> {
        self.subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Running)
    }

    /// Subtasks that count toward the subtask limit (everything not cancelled or rejected).
    pub fn live_subtask_count(&self) -> u32 {
        self.subtasks
            .iter()
            .filter(|s| s.status != SubtaskStatus::Cancelled)
            .count() as u32
    }

    /// Are all of this subtask's dependencies satisfied?
    pub fn dependencies_done(&self, s: &Subtask) -> bool {
        s.depends_on.iter().all(|d| {
            self.subtask(*d)
                .is_some_and(|dep| dep.status.satisfies_dependency())
        })
    }

    /// Dependencies that can never be satisfied (cancelled or failed for good).
    pub fn dead_dependencies(&self, s: &Subtask) -> Vec<SubtaskId> {
        s.depends_on
            .iter()
            .copied()
            .filter(|d| {
                self.subtask(*d)
                    .is_none_or(|dep| dep.status == SubtaskStatus::Cancelled)
            })
            .collect()
    }

    /// Ready subtasks whose dependencies are done, highest priority first, then oldest.
    pub fn runnable(&self) -> Vec<SubtaskId> {
        let mut v: Vec<&Subtask> = self
            .subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Ready && self.dependencies_done(s))
            .collect();
        v.sort_by_key(|s| (s.priority.rank(), s.id));
        v.into_iter().map(|s| s.id).collect()
    }

    /// Unresolved scope alerts.
    pub fn open_alerts(&self) -> impl Iterator<Item = &ScopeAlert> {
        self.alerts.iter().filter(|a| a.resolution.is_none())
    }

    /// Command approvals still waiting.
    pub fn open_command_requests(&self) -> impl Iterator<Item = &CommandRequest> {
        self.command_requests
            .iter()
            .filter(|c| c.decision.is_none())
    }

    /// Everything waiting for a person, most urgent first.
    pub fn needs_person(&self) -> Vec<NeedsPerson> {
        let mut out = Vec::new();
        if let Some((complexity, threshold)) = self.mode_choice {
            out.push(NeedsPerson::ModeChoice {
                complexity,
                threshold,
            });
        }
        out.extend(self.open_alerts().map(|a| NeedsPerson::ScopeAlert(a.alert)));
        out.extend(
            self.open_command_requests()
                .map(|c| NeedsPerson::CommandApproval(c.request)),
        );
        out.extend(
            self.subtasks
                .iter()
                .filter(|s| s.status == SubtaskStatus::Escalated)
                .map(|s| NeedsPerson::Escalation(s.id)),
        );
        out.extend(
            self.subtasks
                .iter()
                .filter(|s| s.status == SubtaskStatus::AwaitingApproval)
                .map(|s| NeedsPerson::Approval(s.id)),
        );
        out
    }

    /// Seconds from the first to the latest event.
    pub fn elapsed_secs(&self) -> f64 {
        match (self.started_at, self.last_event_at) {
            (Some(a), Some(b)) => (b - a).num_milliseconds().max(0) as f64 / 1000.0,
            _ => 0.0,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// Subtasks held back by the subtask limit (deferred by the engine, not since released),
    /// oldest first. Raising the limit releases them.
    pub fn held_back(&self) -> Vec<SubtaskId> {
        self.subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Deferred && s.held_by_limit)
            .map(|s| s.id)
            .collect()
    }

    /// Replan cycles that changed the plan (added, edited or cancelled a subtask): what the
    /// cycle limit counts. A replan that only acknowledged reports is not a cycle.
    pub fn plan_cycles(&self) -> u32 {
        self.replan_log
            .iter()
            .filter(|r| !(r.added.is_empty() && r.updated.is_empty() && r.cancelled.is_empty()))
            .count() as u32
    }
}
