//! Recovery: which reports wait for a replan and which failures for a recovery decision,
//! escalating exhausted subtasks, re-linking dead dependencies, applying a decision.

use super::policy::MAX_ATTEMPTS;
use super::run::*;
use crate::protocol::model::*;
use crate::protocol::*;
use crate::state::SubtaskStatus;

impl Engine {
    pub(super) fn pending_reports(&self) -> Vec<SubtaskId> {
        let inflight: Vec<SubtaskId> = match self.step.as_ref().map(|s| &s.kind) {
            Some(StepKind::Replan { covered, .. }) => covered.clone(),
            _ => Vec::new(),
        };
        self.state
            .subtasks
            .iter()
            .filter(|s| s.status.satisfies_dependency() && s.report.is_some())
            .map(|s| s.id)
            .filter(|id| !self.state.covered.contains(id) && !inflight.contains(id))
            .collect()
    }

    /// The first failed subtask that no recovery step is deciding on.
    pub(super) fn next_failure(&self) -> Option<SubtaskId> {
        let busy = match self.step.as_ref().map(|s| &s.kind) {
            Some(StepKind::Recovery { id }) => Some(*id),
            _ => None,
        };
        self.failures().into_iter().find(|f| Some(*f) != busy)
    }

    pub(super) fn failures(&self) -> Vec<SubtaskId> {
        self.state
            .subtasks
            .iter()
            .filter(|s| matches!(s.status, SubtaskStatus::Failed | SubtaskStatus::Blocked))
            .filter(|s| !self.running.contains_key(&s.id))
            .map(|s| s.id)
            .collect()
    }

    /// Subtasks that failed `MAX_ATTEMPTS` times go to a person without asking the model.
    pub(super) async fn escalate_exhausted(&mut self) {
        let busy = match self.step.as_ref().map(|s| &s.kind) {
            Some(StepKind::Recovery { id }) => Some(*id),
            _ => None,
        };
        let exhausted: Vec<(SubtaskId, u32, String)> = self
            .state
            .subtasks
            .iter()
            .filter(|s| matches!(s.status, SubtaskStatus::Failed | SubtaskStatus::Blocked))
            .filter(|s| s.attempts >= MAX_ATTEMPTS && Some(s.id) != busy)
            .map(|s| (s.id, s.attempts, s.last_error.clone().unwrap_or_default()))
            .collect();
        for (id, attempts, error) in exhausted {
            self.emit(Event::SubtaskEscalated {
                id,
                reason: format!("failed {attempts} attempts; last error: {error}"),
                by: Actor::Engine,
            })
            .await;
        }
    }

    /// Subtasks waiting on a cancelled dependency drop it (and say so) instead of waiting
    /// forever.
    pub(super) async fn relink_dead_dependencies(&mut self) {
        let dead: Vec<(SubtaskId, Vec<SubtaskId>, Vec<SubtaskId>)> = self
            .state
            .subtasks
            .iter()
            .filter(|s| {
                matches!(
                    s.status,
                    SubtaskStatus::Ready
                        | SubtaskStatus::AwaitingApproval
                        | SubtaskStatus::Deferred
                )
            })
            .filter_map(|s| {
                let gone = self.state.dead_dependencies(s);
                (!gone.is_empty()).then(|| {
                    let keep = s
                        .depends_on
                        .iter()
                        .copied()
                        .filter(|d| !gone.contains(d))
                        .collect();
                    (s.id, keep, gone)
                })
            })
            .collect();
        for (id, keep, gone) in dead {
            let ids: Vec<String> = gone.iter().map(|g| g.to_string()).collect();
            self.emit(Event::SubtaskEdited {
                id,
                patch: SubtaskPatch {
                    depends_on: Some(keep),
                    ..SubtaskPatch::default()
                },
                by: Actor::Engine,
            })
            .await;
            self.notice(format!(
                "{id} no longer waits for {}: cancelled",
                ids.join(", ")
            ))
            .await;
        }
    }

    pub(super) fn is_failed(&self, id: SubtaskId) -> bool {
        self.state
            .subtask(id)
            .is_some_and(|s| matches!(s.status, SubtaskStatus::Failed | SubtaskStatus::Blocked))
    }

    pub(super) async fn apply_recovery(&mut self, id: SubtaskId, r: RecoveryArgs) {
        if !self.is_failed(id) {
            self.notice(format!(
                "recovery decision for {id} dropped: a person acted on it meanwhile"
            ))
            .await;
            return;
        }
        let by = Actor::Orchestrator;
        let (rationale, impact) = (r.rationale, r.impact);
        match r.action {
            RecoveryChoice::Retry => {
                self.emit(Event::RecoveryDecided {
                    id,
                    action: RecoveryAction::Retry,
                    rationale,
                    impact,
                    by,
                })
                .await;
            }
            RecoveryChoice::Reassign => {
                let role = r.role.unwrap_or_default();
                self.emit(Event::RecoveryDecided {
                    id,
                    action: RecoveryAction::Reassign { role },
                    rationale,
                    impact,
                    by,
                })
                .await;
            }
            RecoveryChoice::Decompose => {
                let items = r
                    .subtasks
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p, Origin::Decomposed { from: id }))
                    .collect();
                let into = self.add_batch(items).await;
                if into.is_empty() {
                    self.emit(Event::SubtaskEscalated {
                        id,
                        reason: "the decomposition produced no valid subtasks".into(),
                        by: Actor::Engine,
                    })
                    .await;
                    return;
                }
                self.emit(Event::RecoveryDecided {
                    id,
                    action: RecoveryAction::Decompose { into: into.clone() },
                    rationale,
                    impact,
                    by,
                })
                .await;
                // Whoever waited for the original now waits for its parts.
                let dependents: Vec<(SubtaskId, Vec<SubtaskId>)> = self
                    .state
                    .subtasks
                    .iter()
                    .filter(|s| !s.status.is_terminal() && s.depends_on.contains(&id))
                    .map(|s| {
                        let mut d: Vec<SubtaskId> =
                            s.depends_on.iter().copied().filter(|x| *x != id).collect();
                        d.extend(into.iter().copied().filter(|n| *n != s.id));
                        (s.id, d)
                    })
                    .collect();
                for (dep_id, depends_on) in dependents {
                    self.emit(Event::SubtaskEdited {
                        id: dep_id,
                        patch: SubtaskPatch {
                            depends_on: Some(depends_on),
                            ..SubtaskPatch::default()
                        },
                        by: Actor::Engine,
                    })
                    .await;
                }
            }
            RecoveryChoice::Escalate => {
                self.emit(Event::RecoveryDecided {
                    id,
                    action: RecoveryAction::Escalate,
                    rationale: rationale.clone(),
                    impact,
                    by,
                })
                .await;
                self.emit(Event::SubtaskEscalated {
                    id,
                    reason: rationale,
                    by,
                })
                .await;
            }
        }
    }
}
