//! Changes to the plan: adding a batch of subtasks, applying a replan, editing,
//! cancelling, stopping a subtask's worker.

use super::policy::{self};
use super::run::*;
use crate::protocol::model::*;
use crate::protocol::*;
use crate::state::deps;

impl Engine {
    /// Adds new subtasks: resolves dependencies, rejects what cannot run (with a reason),
    /// applies the approval policy and the subtask limit. Returns the ids added.
    pub(super) async fn add_batch(
        &mut self,
        items: Vec<(ProposedSubtask, Origin)>,
    ) -> Vec<SubtaskId> {
        self.add_batch_as(items, false).await
    }

    /// [`add_batch`](Self::add_batch); `approved`: a person already accepted them (a plan
    /// diff's rows), so none waits for approval again.
    pub(super) async fn add_batch_as(
        &mut self,
        items: Vec<(ProposedSubtask, Origin)>,
        approved: bool,
    ) -> Vec<SubtaskId> {
        let proposed: Vec<ProposedSubtask> = items.iter().map(|(p, _)| p.clone()).collect();
        let batch = deps::plan_batch(&self.state, &proposed, &self.role_names);
        for (title, reason) in batch.rejected {
            self.emit(Event::SubtaskRejected { title, reason }).await;
        }
        let mut added = Vec::new();
        let mut over = false;
        for (i, spec) in batch.accepted {
            let origin = items[i].1.clone();
            let needs_approval =
                !approved && policy::needs_approval(self.cfg.settings.approve, &origin);
            let id = spec.id;
            let room = self
                .state
                .limits
                .max_subtasks
                .is_none_or(|m| policy::counted_subtasks(&self.state) < m);
            self.emit(Event::SubtaskAdded {
                spec,
                origin,
                needs_approval,
            })
            .await;
            if !room {
                over = true;
                self.emit(Event::SubtaskDeferred {
                    id,
                    by: Actor::Engine,
                })
                .await;
            }
            added.push(id);
            self.assessed = false;
        }
        if over && !self.limit_held(LimitKind::Subtasks) {
            let current = (policy::counted_subtasks(&self.state)
                + self.state.held_back().len() as u32) as f64;
            let max = self.state.limits.max_subtasks.unwrap_or(0) as f64;
            self.raise_alert(LimitKind::Subtasks, current, max).await;
        }
        added
    }

    /// A replan's result: under the `plan` policy held as a diff for a person
    /// (`plan_diff.rs`), else applied now.
    pub(super) async fn apply_replan(
        &mut self,
        covered: Vec<SubtaskId>,
        cycle: u32,
        last: bool,
        args: ReplanArgs,
    ) {
        if self.cfg.settings.approve == ApprovalPolicy::Plan {
            self.propose_replan(covered, cycle, last, args).await;
        } else {
            self.apply_replan_as(covered, cycle, last, args, false)
                .await;
        }
    }

    /// Applies a replan; `approved`: a person accepted these changes (a plan diff).
    pub(super) async fn apply_replan_as(
        &mut self,
        covered: Vec<SubtaskId>,
        cycle: u32,
        last: bool,
        args: ReplanArgs,
        approved: bool,
    ) {
        let estimate_before = self.state.current_estimate();
        // Which added subtasks did a worker propose?
        let proposals: Vec<(String, SubtaskId)> = covered
            .iter()
            .filter_map(|id| self.state.subtask(*id))
            .filter_map(|s| s.report.as_ref().map(|r| (s.id, r)))
            .flat_map(|(id, r)| {
                r.new_subtasks
                    .iter()
                    .map(move |p| (p.title.trim().to_lowercase(), id))
            })
            .collect();
        let items = args
            .add
            .into_iter()
            .map(|p| {
                let t = p.title.trim().to_lowercase();
                let origin = match proposals.iter().find(|(pt, _)| *pt == t) {
                    Some((_, from)) => Origin::Discovered { from: *from, cycle },
                    None => Origin::Replan { cycle },
                };
                (p, origin)
            })
            .collect();
        let added = self.add_batch_as(items, approved).await;
        let mut updated = Vec::new();
        for u in args.update {
            let Some(id) = deps::resolve_ref(&self.state, &u.id) else {
                self.notice(format!("replan {cycle}: no subtask \"{}\" to update", u.id))
                    .await;
                continue;
            };
            let mut patch = SubtaskPatch {
                title: u.title,
                description: u.description,
                role: u.role,
                priority: u.priority,
                depends_on: None,
                expected_output: None,
            };
            // Unknown names refuse the new dependencies at once. The rest is checked after
            // the conflict policy had its say: `restart`/`ask` stop a running worker first,
            // so it may then wait for unfinished work; under `finish` it is still running
            // and `check_new_deps` refuses a dependency it did not wait for.
            let mut wanted: Option<Vec<SubtaskId>> = None;
            if let Some(d) = u.depends_on {
                let resolved: Vec<Option<SubtaskId>> = d
                    .iter()
                    .map(|r| deps::resolve_ref(&self.state, r))
                    .collect();
                if resolved.iter().any(Option::is_none) {
                    self.notice(format!(
                        "replan {cycle}: dependencies of {id} left unchanged: a dependency \
                         names no subtask"
                    ))
                    .await;
                } else {
                    wanted = Some(resolved.into_iter().flatten().collect());
                }
            }
            patch.depends_on = wanted.clone();
            if patch.is_empty() {
                continue;
            }
            self.replan_conflict(cycle, id, &patch).await;
            if let Some(ids) = wanted
                && let Err(e) = deps::check_new_deps(&self.state, id, &ids)
            {
                patch.depends_on = None;
                self.notice(format!(
                    "replan {cycle}: dependencies of {id} left unchanged: {e}"
                ))
                .await;
                if patch.is_empty() {
                    continue;
                }
            }
            if self.edit(id, patch, Actor::Orchestrator).await {
                updated.push(id);
            }
        }
        let mut cancelled = Vec::new();
        for c in args.cancel {
            let Some(id) = deps::resolve_ref(&self.state, &c.id) else {
                self.notice(format!("replan {cycle}: no subtask \"{}\" to cancel", c.id))
                    .await;
                continue;
            };
            if self.cancel(id, c.reason, Actor::Orchestrator).await {
                cancelled.push(id);
            }
        }
        let estimate_now = args
            .estimated_total
            .unwrap_or_else(|| policy::counted_subtasks(&self.state));
        let nothing_added = added.is_empty();
        self.emit(Event::ReplanLogged {
            cycle,
            covered,
            summary: args.summary,
            added,
            updated,
            cancelled,
            scope_note: args.scope_note,
            estimate_before,
            estimate_now,
        })
        .await;
        if last {
            // The merged tail call is also the completion assessment (`replans.rs`).
            self.completion_rounds += 1;
            self.emit(Event::CompletionAssessed {
                complete: args.complete.unwrap_or(nothing_added),
                missing: args.missing,
            })
            .await;
            self.assessed = nothing_added;
        }
    }

    /// Edits a subtask that has not finished. Returns whether it did.
    pub(super) async fn edit(&mut self, id: SubtaskId, patch: SubtaskPatch, by: Actor) -> bool {
        if let Err(refusal) = self.state.check_open("edit", id) {
            self.notice(refusal.to_string()).await;
            return false;
        }
        if let Some(role) = &patch.role
            && !self.known_role(role).await
        {
            return false;
        }
        self.emit(Event::SubtaskEdited { id, patch, by }).await;
        true
    }

    /// Cancels a subtask that has not finished (stopping its worker). Returns whether it did.
    pub(super) async fn cancel(&mut self, id: SubtaskId, reason: String, by: Actor) -> bool {
        if let Err(refusal) = self.state.check_open("cancel", id) {
            self.notice(refusal.to_string()).await;
            return false;
        }
        self.stop_worker(id).await;
        self.emit(Event::SubtaskCancelled { id, reason, by }).await;
        true
    }

    /// Aborts a running worker (if any) and denies its pending command approvals.
    pub(super) async fn stop_worker(&mut self, id: SubtaskId) {
        if let Some(w) = self.running.remove(&id) {
            w.abort.abort();
        }
        let open: Vec<u32> = self
            .approvals
            .iter()
            .filter(|(_, (sid, _))| *sid == id)
            .map(|(r, _)| *r)
            .collect();
        for request in open {
            self.approvals.remove(&request);
            self.emit(Event::CommandApprovalDecided {
                request,
                decision: CommandDecision::Deny {
                    reason: "the subtask was stopped".into(),
                },
                by: Actor::Engine,
            })
            .await;
        }
    }
}
