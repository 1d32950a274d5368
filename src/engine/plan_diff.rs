//! Replans as diffs a person approves (`--approve plan`): a replan's (or an evaluation
//! round's) changes become a [`PlanDiffProposed`](Event::PlanDiffProposed) instead of
//! touching the plan; a person's decisions (`Command::DecidePlanDiff`) are journaled one
//! row each (`plan_change_decided`), then the accepted rows are applied exactly as the
//! replan would have applied them (`plan_ops::apply_replan_as`), added subtasks approved
//! by that decision. Rejected rows reach the orchestrator's next replan
//! (`State::rejected_changes`, `prompts`).
//!
//! While a diff waits: workers already running go on; the subtasks it would edit or drop
//! are not dispatched (`State::runnable`); no other replan starts (its reports wait, so
//! the next replan sees the decisions). A decided diff not yet applied (the process
//! stopped in between) is applied on the next turn of the loop.

use super::run::*;
use crate::protocol::model::*;
use crate::protocol::*;
use crate::state::{State, deps};

/// What a diff row's fields read as.
fn dep_text(ids: &[SubtaskId]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rows of a replan: additions, edits (only the fields that change) and drops of
/// subtasks that are still open. References that name nothing and subtasks that are
/// finished are left out, each with the notice the replan itself would have given.
pub(super) fn rows(state: &State, cycle: u32, args: &ReplanArgs) -> (Vec<PlanChange>, Vec<String>) {
    let mut changes: Vec<PlanChange> = args
        .add
        .iter()
        .map(|p| PlanChange::Add { subtask: p.clone() })
        .collect();
    let mut notices = Vec::new();
    for u in &args.update {
        let Some(s) = deps::resolve_ref(state, &u.id).and_then(|id| state.subtask(id)) else {
            notices.push(format!("replan {cycle}: no subtask \"{}\" to update", u.id));
            continue;
        };
        if let Err(refusal) = state.check_open("edit", s.id) {
            notices.push(format!("replan {cycle}: {refusal}"));
            continue;
        }
        let mut fields = Vec::new();
        let mut field = |name: &str, before: String, after: Option<String>| {
            if let Some(after) = after
                && after != before
            {
                fields.push(FieldChange {
                    field: name.into(),
                    before,
                    after,
                });
            }
        };
        field("title", s.title.clone(), u.title.clone());
        field("description", s.description.clone(), u.description.clone());
        field("role", s.role.clone(), u.role.clone());
        field(
            "priority",
            priority_name(s.priority).into(),
            u.priority.map(|p| priority_name(p).into()),
        );
        field(
            "depends_on",
            dep_text(&s.depends_on),
            u.depends_on.as_ref().map(|d| {
                if d.is_empty() {
                    return "none".to_string();
                }
                d.iter()
                    .map(|r| {
                        deps::resolve_ref(state, r)
                            .map_or_else(|| r.trim().to_string(), |id| id.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        );
        if fields.is_empty() {
            continue;
        }
        let mut update = u.clone();
        update.id = s.id.to_string();
        changes.push(PlanChange::Edit {
            id: s.id,
            title: s.title.clone(),
            fields,
            update,
        });
    }
    for c in &args.cancel {
        let Some(s) = deps::resolve_ref(state, &c.id).and_then(|id| state.subtask(id)) else {
            notices.push(format!("replan {cycle}: no subtask \"{}\" to cancel", c.id));
            continue;
        };
        if let Err(refusal) = state.check_open("cancel", s.id) {
            notices.push(format!("replan {cycle}: {refusal}"));
            continue;
        }
        changes.push(PlanChange::Drop {
            id: s.id,
            title: s.title.clone(),
            reason: c.reason.clone(),
        });
    }
    (changes, notices)
}

pub(super) fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::High => "high",
        Priority::Normal => "normal",
        Priority::Low => "low",
    }
}

impl Engine {
    /// Under `plan`: holds a replan's changes as a diff for a person. A replan that changes
    /// nothing is applied at once (its log entry, its completion assessment).
    pub(super) async fn propose_replan(
        &mut self,
        covered: Vec<SubtaskId>,
        cycle: u32,
        last: bool,
        args: ReplanArgs,
    ) {
        let (changes, notices) = rows(&self.state, cycle, &args);
        for n in notices {
            self.notice(n).await;
        }
        if changes.is_empty() {
            let args = ReplanArgs {
                add: Vec::new(),
                update: Vec::new(),
                cancel: Vec::new(),
                ..args
            };
            self.apply_replan_as(covered, cycle, last, args, false)
                .await;
            return;
        }
        let source = DiffSource::Replan {
            cycle,
            covered,
            last,
            summary: args.summary,
            scope_note: args.scope_note,
            estimated_total: args.estimated_total,
            complete: args.complete,
            missing: args.missing,
        };
        let proposal = self.state.next_proposal();
        self.emit(Event::PlanDiffProposed {
            proposal,
            source,
            changes,
        })
        .await;
    }

    /// Under `plan`: holds an evaluation round's new subtasks as a diff for a person.
    pub(super) async fn propose_evaluation(
        &mut self,
        round: u32,
        feedback: String,
        subtasks: Vec<ProposedSubtask>,
    ) {
        let changes = subtasks
            .into_iter()
            .map(|subtask| PlanChange::Add { subtask })
            .collect();
        let proposal = self.state.next_proposal();
        self.emit(Event::PlanDiffProposed {
            proposal,
            source: DiffSource::Evaluation { round, feedback },
            changes,
        })
        .await;
    }

    /// A person's decisions on every row (already checked by `State::check`): one event
    /// each, then the accepted rows are applied.
    pub(super) async fn decide_plan_diff(&mut self, proposal: u32, accepted: Vec<bool>) {
        for (change, accepted) in accepted.into_iter().enumerate() {
            let change = u32::try_from(change).unwrap_or(u32::MAX);
            self.emit(Event::PlanChangeDecided {
                proposal,
                change,
                accepted,
                by: Actor::Person,
            })
            .await;
        }
        self.apply_decided_diff().await;
    }

    /// A diff left pending by a run now resumed under another policy (`--approve auto`,
    /// say): the policy accepts every row, and the changes then apply as that policy's
    /// replan would (added subtasks wait for approval under `scope` and `all`).
    pub(super) async fn policy_decides_diff(&mut self) {
        if self.cfg.settings.approve == ApprovalPolicy::Plan {
            return;
        }
        let Some(d) = self.state.pending_plan_diff() else {
            return;
        };
        let proposal = d.proposal;
        let open: Vec<u32> = (0..d.decisions.len())
            .filter(|i| d.decisions[*i].is_none())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        for change in open {
            self.emit(Event::PlanChangeDecided {
                proposal,
                change,
                accepted: true,
                by: Actor::Policy,
            })
            .await;
        }
    }

    /// Applies a diff whose rows are all decided and that was not applied yet.
    pub(super) async fn apply_decided_diff(&mut self) {
        self.policy_decides_diff().await;
        let Some(diff) = self.state.plan_diff_to_apply().cloned() else {
            return;
        };
        // Rows a person accepted are approved by that; the policy's go through the policy.
        let by_person = diff
            .decisions
            .iter()
            .flatten()
            .all(|d| d.by == Actor::Person);
        let accepted: Vec<PlanChange> = diff
            .changes
            .iter()
            .enumerate()
            .filter(|(i, _)| diff.accepted(*i))
            .map(|(_, c)| c.clone())
            .collect();
        let mut add = Vec::new();
        let mut update = Vec::new();
        let mut cancel = Vec::new();
        for c in accepted {
            match c {
                PlanChange::Add { subtask } => add.push(subtask),
                PlanChange::Edit { update: u, .. } => update.push(u),
                PlanChange::Drop { id, reason, .. } => cancel.push(ReplanCancel {
                    id: id.to_string(),
                    reason,
                }),
            }
        }
        match diff.source {
            DiffSource::Replan {
                cycle,
                covered,
                last,
                summary,
                scope_note,
                estimated_total,
                complete,
                missing,
            } => {
                let args = ReplanArgs {
                    summary,
                    add,
                    update,
                    cancel,
                    scope_note,
                    estimated_total,
                    complete,
                    missing,
                };
                self.apply_replan_as(covered, cycle, last, args, by_person)
                    .await;
            }
            DiffSource::Evaluation { round, feedback } => {
                self.evaluation_applied(round, feedback, add, by_person)
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn state() -> State {
        let add = |id: u32, title: &str| Event::SubtaskAdded {
            spec: SubtaskSpec {
                id: SubtaskId(id),
                title: title.into(),
                description: "d".into(),
                role: "code_developer".into(),
                priority: Priority::Normal,
                depends_on: Vec::new(),
                expected_output: String::new(),
            },
            origin: Origin::Analysis,
            needs_approval: false,
        };
        let events = [
            add(1, "Done"),
            add(2, "Open"),
            Event::SubtaskCancelled {
                id: SubtaskId(1),
                reason: "gone".into(),
                by: Actor::Person,
            },
        ];
        let envelopes: Vec<Envelope> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Envelope {
                seq: i as u64 + 1,
                ts: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                v: JOURNAL_VERSION,
                event,
            })
            .collect();
        State::fold(&envelopes)
    }

    fn update(id: &str) -> ReplanUpdate {
        ReplanUpdate {
            id: id.into(),
            ..ReplanUpdate::default()
        }
    }

    #[test]
    fn rows_keep_only_real_changes_of_open_subtasks() {
        let s = state();
        let args = ReplanArgs {
            summary: "s".into(),
            add: Vec::new(),
            update: vec![
                // Changes nothing: no row.
                ReplanUpdate {
                    priority: Some(Priority::Normal),
                    description: Some("d".into()),
                    ..update("Open")
                },
                // Finished (cancelled): left out with a notice.
                ReplanUpdate {
                    priority: Some(Priority::High),
                    ..update("#1")
                },
                // Names nothing: a notice.
                ReplanUpdate {
                    priority: Some(Priority::High),
                    ..update("Nope")
                },
                ReplanUpdate {
                    role: Some("test_engineer".into()),
                    depends_on: Some(vec!["Open".into(), "later".into()]),
                    ..update("2")
                },
            ],
            cancel: vec![ReplanCancel {
                id: "#9".into(),
                reason: String::new(),
            }],
            scope_note: String::new(),
            estimated_total: None,
            complete: None,
            missing: Vec::new(),
        };
        let (changes, notices) = rows(&s, 4, &args);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            changes[0].summary(),
            "~ #2 Open: role code_developer -> test_engineer; depends_on none -> #2 later"
        );
        let PlanChange::Edit { update, .. } = &changes[0] else {
            panic!("{changes:?}");
        };
        assert_eq!(update.id, "#2");
        assert_eq!(notices.len(), 3, "{notices:?}");
        assert!(notices[0].contains("cannot edit #1: it is already cancelled"));
        assert!(notices[1].contains("no subtask \"Nope\" to update"));
        assert!(notices[2].contains("no subtask \"#9\" to cancel"));
    }
}
