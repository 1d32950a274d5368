//! Commands from the front end: each is checked against `State::check` (the rule
//! book shared with the TUI), then acted on; a refusal becomes a `Notice`.

use super::run::*;
use crate::protocol::*;
use crate::state::{Refusal, State, SubtaskStatus};

impl Engine {
    /// Acts on a command from the front end. `AdjustWorkers` already queued behind it are
    /// taken now and summed, so a burst of `+` presses is one journaled change.
    pub(super) async fn handle_command(&mut self, first: Command) {
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            let Command::AdjustWorkers { delta } = cmd else {
                self.apply_command(cmd).await;
                continue;
            };
            let mut total = i64::from(delta);
            while let Ok(queued) = self.commands.try_recv() {
                match queued {
                    Command::AdjustWorkers { delta } => total += i64::from(delta),
                    other => {
                        next = Some(other);
                        break;
                    }
                }
            }
            let delta = i32::try_from(total.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
                .unwrap_or_default();
            self.apply_command(Command::AdjustWorkers { delta }).await;
        }
    }

    /// Acts on a person's command. The rule book (`State::check`) is asked first; what only
    /// the engine knows (role names, workspace tools, live tasks) is checked after it.
    async fn apply_command(&mut self, cmd: Command) {
        if let Err(refusal) = self.state.check(&cmd) {
            self.notice(refusal.to_string()).await;
            return;
        }
        let by = Actor::Person;
        match cmd {
            Command::Approve { id } => self.emit(Event::SubtaskApproved { id, by }).await,
            Command::ApproveAll => {
                let ids: Vec<SubtaskId> = self
                    .state
                    .subtasks
                    .iter()
                    .filter(|s| s.status == SubtaskStatus::AwaitingApproval)
                    .map(|s| s.id)
                    .collect();
                for id in ids {
                    self.emit(Event::SubtaskApproved { id, by }).await;
                }
            }
            Command::Defer { id } => self.emit(Event::SubtaskDeferred { id, by }).await,
            Command::SetDispatch { id, policy } => {
                self.emit(Event::DispatchPolicySet { id, policy, by }).await
            }
            Command::Undefer { id } => self.emit(Event::SubtaskUndeferred { id, by }).await,
            Command::DecidePlanDiff { proposal, accepted } => {
                self.decide_plan_diff(proposal, accepted).await
            }
            Command::Escalate { id, reason } => {
                self.stop_worker(id).await;
                let reason = if reason.trim().is_empty() {
                    "escalated by a person".to_string()
                } else {
                    reason
                };
                self.emit(Event::SubtaskEscalated { id, reason, by }).await;
            }
            Command::Resolve { id, resolution } => {
                if let Resolution::Reassign { role, .. } = &resolution
                    && !self.known_role(role).await
                {
                    return;
                }
                self.emit(Event::EscalationResolved { id, resolution, by })
                    .await;
            }
            Command::Edit { id, patch } => {
                self.edit(id, patch, by).await;
            }
            Command::EditAndApprove { id, patch } => {
                // The approval rides on the edit: a refused edit approves nothing.
                if (patch.is_empty() || self.edit(id, patch, by).await)
                    && self.state.check(&Command::Approve { id }).is_ok()
                {
                    self.emit(Event::SubtaskApproved { id, by }).await;
                }
            }
            Command::Add { subtask } => {
                let title = subtask.title.clone();
                let added = self.add_batch(vec![(subtask, Origin::Person)]).await;
                if added.is_empty() {
                    // Say why where the person looks (the notice shows in the footer and
                    // the message log), not just in the journal's rejection.
                    let why = self
                        .state
                        .rejected
                        .iter()
                        .rev()
                        .find(|(t, _)| *t == title)
                        .map_or_else(|| "it was rejected".to_string(), |(_, r)| r.clone());
                    self.notice(format!("\"{title}\" was not added: {why}"))
                        .await;
                }
            }
            Command::Cancel { id } => {
                self.cancel(id, "cancelled by a person".into(), by).await;
            }
            Command::Pause => self.emit(Event::DispatchPaused { by }).await,
            Command::Resume => self.emit(Event::DispatchResumed { by }).await,
            Command::SetMaxWorkers { max_workers } => {
                self.emit(Event::MaxWorkersChanged { max_workers, by })
                    .await;
            }
            Command::AdjustWorkers { delta } => {
                let max_workers = self.state.workers_after(delta);
                self.emit(Event::MaxWorkersChanged { max_workers, by })
                    .await;
            }
            Command::ChooseMode { mode } => {
                if self.state.first_subtasks.is_none() {
                    self.notice("the analysis is being redone; choose again after it")
                        .await;
                    return;
                }
                self.choose_mode(mode, by).await;
            }
            Command::ResolveScopeAlert { alert, decision } => {
                self.resolve_alert(alert, decision, by).await;
            }
            Command::DecideCommand { request, decision } => match self.approvals.remove(&request) {
                Some((_, reply)) => {
                    self.emit(Event::CommandApprovalDecided {
                        request,
                        decision: decision.clone(),
                        by,
                    })
                    .await;
                    let _ = reply.send(decision);
                }
                None => {
                    self.notice(Refusal::CommandNotWaiting(request).to_string())
                        .await
                }
            },
            Command::Steer { id, steer } => self.steer(id, steer).await,
            Command::Rollback { id } => self.rollback(id).await,
            Command::Stop => {
                self.finish(RunOutcome::Stopped {
                    reason: "stopped by a person".into(),
                })
                .await;
            }
            Command::StopForSignal { signal } => {
                self.finish(RunOutcome::Stopped {
                    reason: format!("stopped by {signal}"),
                })
                .await;
            }
        }
    }

    /// Is `role` one of the run's roles? Says which roles there are when it is not.
    pub(super) async fn known_role(&mut self, role: &str) -> bool {
        match State::check_role(role, &self.role_names) {
            Ok(()) => true,
            Err(refusal) => {
                self.notice(refusal.to_string()).await;
                false
            }
        }
    }

    /// Rolls back `id`'s file changes, journal-before-act (`finished::roll_back`: check,
    /// `rollback_started`, restore, `subtask_rolled_back`); a refusal is a notice and
    /// changes nothing.
    pub(super) async fn rollback(&mut self, id: SubtaskId) {
        if self.cfg.isolation.is_some() {
            return self.rollback_merges(id).await;
        }
        if self.cfg.tools.is_none() {
            self.notice("rollback needs workspace tools (--workspace)")
                .await;
            return;
        }
        if let Err(e) = super::finished::roll_back(self, id).await {
            self.notice(format!("rollback of {id} failed: {e}")).await;
        }
    }

    /// On resume: finishes a rollback the journal says started and never ended.
    pub(super) async fn finish_interrupted_rollback(&mut self) {
        if self.state.rollback_in_progress.is_none() {
            return;
        }
        if self.cfg.tools.is_none() {
            self.notice(
                "a rollback was interrupted and cannot be finished without the run's \
                 workspace tools (--workspace); it stays in progress",
            )
            .await;
            return;
        }
        if let Err(e) = super::finished::finish_interrupted(self).await {
            self.notice(e).await;
        }
    }
}

impl super::finished::RollbackWriter for Engine {
    fn state(&self) -> &crate::state::State {
        &self.state
    }

    async fn check(&self, changes: &[crate::state::FileChange]) -> Result<Vec<String>, String> {
        match &self.cfg.tools {
            Some(tools) => tools.check_rollback(changes).await,
            None => Err("rollback needs workspace tools (--workspace)".into()),
        }
    }

    async fn restore(&self, changes: &[crate::state::FileChange]) -> Result<Vec<String>, String> {
        match &self.cfg.tools {
            Some(tools) => tools.rollback(changes).await,
            None => Err("rollback needs workspace tools (--workspace)".into()),
        }
    }

    async fn journal(&mut self, event: Event) -> Result<(), String> {
        self.emit(event).await;
        match &self.fatal {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }
}
