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
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::oneshot;

impl Engine {
    /// Starts runnable subtasks up to `max_workers` and each role's own cap, and asks a
    /// person about runnable subtasks whose dispatch policy is `ask`.
    pub(super) async fn dispatch(&mut self) {
        for id in self.state.to_ask() {
            self.emit(Event::DispatchAsked { id }).await;
        }
        let max = self.state.max_workers.max(1) as usize;
        if self.running.len() >= max {
            return;
        }
        let mut free = max - self.running.len();
        let mut by_role: BTreeMap<String, u32> = BTreeMap::new();
        for s in self.state.running() {
            *by_role.entry(s.role.clone()).or_default() += 1;
        }
        for id in self.state.runnable() {
            if free == 0 || self.fatal.is_some() {
                break;
            }
            let Some(role) = self.state.subtask(id).map(|s| s.role.clone()) else {
                continue;
            };
            let cap = self.state.role_dispatch(&role).max_concurrent;
            let used = by_role.entry(role).or_default();
            if cap.is_some_and(|c| *used >= c.max(1)) {
                continue;
            }
            if self.stage_hold(id).await {
                break; // a budget stage's alert waits for an answer (`outlook.rs`)
            }
            *used += 1;
            free -= 1;
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
        // The role's own pool (`[roles_pools]`), else the run's provider.
        let role_provider = self.cfg.role_providers.get(&s.role).cloned();
        let role = self.role(&s.role).cloned();
        // A person's model for this subtask (steering), else the role's, else the run's.
        let model = (self.state.steered_model(id).map(str::to_string))
            .or_else(|| role.as_ref().and_then(|r| r.model.clone()))
            .unwrap_or_else(|| self.cfg.settings.worker_model.clone());
        let brief = prompts::worker_brief(&self.state, s, attempt);
        let (stable, rest) = prompts::worker_message_parts(&brief);
        let stable_len = stable.len();
        let message = stable + &rest;
        let role_name = s.role.clone();
        let worker_id = self.free_slot();
        self.emit(Event::SubtaskStarted {
            id,
            attempt,
            worker: worker_id,
            role: role_name,
            model: model.clone(),
            // The task is journaled once (run_started); the brief references it.
            brief: prompts::journaled_brief(&brief),
            task_omitted: true,
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
        let tools = match self.attempt_tools(id, attempt, role.as_ref()).await {
            Ok(tools) => tools,
            Err(error) => {
                self.emit(Event::SubtaskFailed { id, attempt, error }).await;
                return;
            }
        };
        let mut call = self.call_ctx(CallPurpose::Worker { id, attempt }, Some(id), attempt);
        if let Some(p) = role_provider {
            call.provider = p;
        }
        let instructions = prompts::project_instructions(&self.cfg.project_instructions);
        let stable = instructions.len() + stable_len;
        let job = WorkerJob {
            call,
            stable,
            id,
            attempt,
            model,
            system: prompts::worker_system(role.as_ref()),
            // The project instructions go to the model, not into the journaled brief.
            message: instructions + &message,
            tools,
            allowed_tools: role.map(|r| r.tools).unwrap_or_default(),
            roles: self.role_names.clone(),
            timeout: Duration::from_secs(self.cfg.worker_timeout_secs.max(1)),
            max_tokens,
            steer: self.steer_channel(id),
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
            context_warned: Default::default(),
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
                        if !self.merge_on_report(id, attempt, &report).await {
                            return;
                        }
                        self.emit_grouped(Event::SubtaskReported {
                            id,
                            attempt,
                            output,
                            report,
                        })
                        .await;
                        self.report_arrived();
                    }
                    WorkerOutcome::Failed { error } => {
                        self.emit_grouped(Event::SubtaskFailed { id, attempt, error })
                            .await;
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

impl Engine {
    /// Subtasks on `hold` keep a quiescent run from finishing: it waits for a person to
    /// change their policy (the TUI), or stops saying so (headless). `true` when held.
    pub(super) async fn hold_for_policy(&mut self) -> bool {
        let held = self.state.on_hold();
        if held.is_empty() || super::policy::winding_down(&self.state) {
            return false;
        }
        if self.cfg.stop_when_person_needed && self.finished.is_none() {
            let ids: Vec<String> = held.iter().map(ToString::to_string).collect();
            self.finish(RunOutcome::Stopped {
                reason: format!(
                    "{} on hold (dispatch policy `hold`): change the policy to run {}",
                    ids.join(", "),
                    if held.len() == 1 { "it" } else { "them" }
                ),
            })
            .await;
        }
        true
    }
}
