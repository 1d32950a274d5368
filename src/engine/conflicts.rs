//! Replans that change running work (issue 12): eager dispatch is only safe if a replan
//! that changes a subtask while its worker runs does not let that worker finish against a
//! stale plan. A change conflicts when it gives the subtask a dependency that is not done,
//! or rewrites its title, description, role or expected output (priority does not matter
//! to a running worker). What happens is `on_replan_conflict` ([`ReplanConflict`]):
//! `restart` stops the worker and requeues the subtask (a journaled `recovery_decided`
//! retry by the engine that says why), `ask` stops it and escalates it to a person,
//! `finish` lets it finish and says so in a notice. Cancelling a running subtask always
//! stops it (`plan_ops::cancel`). This is the one rule: the replan's edit itself then goes
//! through `State::check_open` like a person's, after the worker was stopped.

use super::policy::ReplanConflict;
use super::run::*;
use crate::protocol::*;
use crate::state::State;

/// Why `patch` conflicts with the running attempt of `id`, or `None`.
pub(super) fn conflict(state: &State, id: SubtaskId, patch: &SubtaskPatch) -> Option<String> {
    let s = state.subtask(id)?;
    let mut why = Vec::new();
    if let Some(deps) = &patch.depends_on {
        let new: Vec<String> = deps
            .iter()
            .filter(|d| !s.depends_on.contains(d))
            .filter(|d| {
                state
                    .subtask(**d)
                    .is_none_or(|x| !x.status.satisfies_dependency())
            })
            .map(|d| d.to_string())
            .collect();
        if !new.is_empty() {
            why.push(format!(
                "a new dependency on {} not done yet",
                new.join(", ")
            ));
        }
    }
    let differs = |new: &Option<String>, old: &str| new.as_deref().is_some_and(|n| n != old);
    for (name, new, old) in [
        ("title", &patch.title, s.title.as_str()),
        ("description", &patch.description, s.description.as_str()),
        ("role", &patch.role, s.role.as_str()),
        (
            "expected output",
            &patch.expected_output,
            s.expected_output.as_str(),
        ),
    ] {
        if differs(new, old) {
            why.push(format!("a new {name}"));
        }
    }
    (!why.is_empty()).then(|| why.join(", "))
}

impl Engine {
    /// Applies `on_replan_conflict` before a replan edits `id`. Returns after the worker
    /// was stopped (restart, ask) or left running (finish, or no conflict).
    pub(super) async fn replan_conflict(
        &mut self,
        cycle: u32,
        id: SubtaskId,
        patch: &SubtaskPatch,
    ) {
        if !self.running.contains_key(&id) {
            return;
        }
        let Some(why) = conflict(&self.state, id, patch) else {
            return;
        };
        match self.cfg.on_replan_conflict {
            ReplanConflict::Restart => {
                self.stop_worker(id).await;
                self.emit(Event::RecoveryDecided {
                    id,
                    action: RecoveryAction::Retry,
                    rationale: format!(
                        "replan {cycle} changed it while it ran ({why}): restarted under the \
                         new plan (on_replan_conflict = restart)"
                    ),
                    impact: "the running attempt was stopped; it runs again".into(),
                    by: Actor::Engine,
                })
                .await;
            }
            ReplanConflict::Ask => {
                self.stop_worker(id).await;
                self.emit(Event::SubtaskEscalated {
                    id,
                    reason: format!(
                        "replan {cycle} changed it while it ran ({why}); the worker was \
                         stopped: retry it under the new plan, mark it done, or cancel it \
                         (on_replan_conflict = ask)"
                    ),
                    by: Actor::Engine,
                })
                .await;
            }
            ReplanConflict::Finish => {
                self.notice(format!(
                    "replan {cycle} changed {id} while it runs ({why}); it finishes against \
                     its old brief (on_replan_conflict = finish)"
                ))
                .await;
            }
        }
    }
}
