//! Dispatch: starting workers for runnable subtasks, and the messages tasks send back
//! (reports, failures, usage, tool uses, command approvals).

use super::call::{CallCtx, Recorder, ToEngine};
use super::roles::RoleSpec;
use super::run::*;
use super::supervise::supervised;
use super::worker::{WorkerJob, WorkerOutcome};
use super::{prompts, worker};
use crate::protocol::*;
use crate::state::SubtaskStatus;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::oneshot;

impl Engine {
    pub(super) async fn dispatch(&mut self) {
        let max = self.state.max_workers.max(1) as usize;
        if self.running.len() >= max {
            return;
        }
        let free = max - self.running.len();
        let ready: Vec<SubtaskId> = self.state.runnable().into_iter().take(free).collect();
        for id in ready {
            self.start_worker(id).await;
        }
    }

    pub(super) fn free_slot(&self) -> WorkerId {
        let used: BTreeSet<u32> = self.running.values().map(|w| w.worker.0).collect();
        WorkerId((1..).find(|n| !used.contains(n)).unwrap_or(1))
    }

    pub(super) fn role(&self, name: &str) -> Option<&RoleSpec> {
        self.cfg.roles.iter().find(|r| r.name == name)
    }

    pub(super) async fn start_worker(&mut self, id: SubtaskId) {
        let Some(s) = self.state.subtask(id) else {
            return;
        };
        let attempt = s.attempts + 1;
        let role = self.role(&s.role).cloned();
        let model = role
            .as_ref()
            .and_then(|r| r.model.clone())
            .unwrap_or_else(|| self.cfg.settings.worker_model.clone());
        let brief = prompts::worker_brief(&self.state, s, attempt);
        let message = prompts::worker_message(&brief);
        let role_name = s.role.clone();
        let worker_id = self.free_slot();
        self.emit(Event::SubtaskStarted {
            id,
            attempt,
            worker: worker_id,
            role: role_name,
            model: model.clone(),
            brief: message.clone(),
        })
        .await;
        if self.fatal.is_some() {
            return;
        }
        let max_tokens = role
            .as_ref()
            .and_then(|r| r.max_output)
            .filter(|n| *n > 0)
            .unwrap_or_else(|| self.cfg.pricing.max_output(&model));
        let job = WorkerJob {
            call: self.call_ctx(CallPurpose::Worker { id, attempt }, Some(id), attempt),
            id,
            attempt,
            model,
            system: prompts::worker_system(role.as_ref()),
            // The project instructions go to the model, not into the journaled brief.
            message: prompts::project_instructions(&self.cfg.project_instructions) + &message,
            tools: self.cfg.tools.clone(),
            allowed_tools: role.map(|r| r.tools).unwrap_or_default(),
            roles: self.role_names.clone(),
            timeout: Duration::from_secs(self.cfg.worker_timeout_secs.max(1)),
            max_tokens,
        };
        let tx = self.tx.clone();
        let handle = tokio::spawn(async move {
            // A panic in the worker is that attempt's failure (recovered like any failure).
            let (outcome, records) = supervised(worker::run(job)).await.unwrap_or_else(|p| {
                (
                    WorkerOutcome::Failed {
                        error: format!("the worker {p}"),
                    },
                    Vec::new(),
                )
            });
            let _ = tx
                .send(ToEngine::WorkerDone {
                    id,
                    attempt,
                    outcome,
                    records,
                })
                .await;
        });
        self.running.insert(
            id,
            RunningWorker {
                attempt,
                worker: worker_id,
                abort: handle.abort_handle(),
            },
        );
    }

    pub(super) fn call_ctx(
        &self,
        purpose: CallPurpose,
        subtask: Option<SubtaskId>,
        attempt: u32,
    ) -> CallCtx {
        CallCtx {
            provider: self.provider.clone(),
            recorder: Recorder {
                tx: self.tx.clone(),
            },
            pricing: self.pricing.clone(),
            deltas: self.deltas.clone(),
            purpose,
            subtask,
            attempt,
        }
    }

    pub(super) async fn handle_internal(&mut self, msg: ToEngine) {
        match msg {
            ToEngine::Record { event, done } => {
                self.emit(event).await;
                // `fatal` is set when this (or an earlier) write failed: then it is not
                // journaled and whoever waits must not act on it.
                let _ = done.send(match &self.fatal {
                    Some(reason) => Err(reason.clone()),
                    None => Ok(()),
                });
            }
            ToEngine::ApproveCommand {
                subtask,
                command,
                cwd,
                reply,
            } => self.approve_command(subtask, command, cwd, reply).await,
            ToEngine::WorkerDone {
                id,
                attempt,
                outcome,
                records,
            } => {
                // Tokens were spent even when the attempt was stopped meanwhile.
                for event in records {
                    self.emit(event).await;
                }
                let current = self.running.get(&id).is_some_and(|w| w.attempt == attempt);
                let running = self
                    .state
                    .subtask(id)
                    .is_some_and(|s| s.status == SubtaskStatus::Running && s.attempts == attempt);
                if !current || !running {
                    tracing::debug!("dropping the result of stopped attempt {attempt} of {id}");
                    return;
                }
                self.running.remove(&id);
                match outcome {
                    WorkerOutcome::Reported { output, report } => {
                        self.emit(Event::SubtaskReported {
                            id,
                            attempt,
                            output,
                            report,
                        })
                        .await;
                        self.report_arrived();
                    }
                    WorkerOutcome::Failed { error } => {
                        self.emit(Event::SubtaskFailed { id, attempt, error }).await;
                    }
                }
            }
            ToEngine::StepDone { job, result } => self.step_done(job, result).await,
        }
    }

    pub(super) async fn approve_command(
        &mut self,
        subtask: SubtaskId,
        command: String,
        cwd: String,
        reply: oneshot::Sender<CommandDecision>,
    ) {
        let request = self.state.command_requests.len() as u32 + 1;
        self.emit(Event::CommandApprovalRequested {
            request,
            id: subtask,
            command: command.clone(),
            cwd,
        })
        .await;
        let allowed = self.cfg.settings.allow_commands
            || self.state.allowed_commands.iter().any(|c| c == &command);
        let decision = if allowed {
            Some(CommandDecision::AllowOnce)
        } else if self.cfg.stop_when_person_needed || !self.commands_open {
            Some(CommandDecision::Deny {
                reason: "no person can approve commands in this run; use --allow-commands".into(),
            })
        } else {
            None
        };
        match decision {
            Some(decision) => {
                self.emit(Event::CommandApprovalDecided {
                    request,
                    decision: decision.clone(),
                    by: Actor::Policy,
                })
                .await;
                let _ = reply.send(decision);
            }
            None => {
                self.approvals.insert(request, (subtask, reply));
            }
        }
    }
}
