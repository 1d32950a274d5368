//! The orchestration loop (DESIGN.md steps 1-8): one actor that owns the run's [`State`],
//! the journal and the running tasks.
//!
//! Every state change goes through [`Engine::emit`]: append to the journal, fold with
//! `state::apply`, send to the front end — in that order, one path. Orchestrator steps and
//! workers run as tokio tasks and talk back through [`ToEngine`]; the loop `select!`s over
//! them, the front end's commands and the wall-clock limit, and after each message calls
//! [`Engine::progress`], which starts whatever can start now. What is pending (reports not
//! yet replanned, failures awaiting recovery, the analysis, the synthesis) is derived from
//! the folded state, so a resumed run picks up exactly where the journal ends.
//!
//! This file owns the actor (its fields, start, the `select!` loop, progress and quiescence);
//! the rest of the loop is split by responsibility: `dispatch` (workers), `steps`
//! (orchestrator calls), `plan_ops` (changes to the plan), `recovery`, `limits`, and
//! `commands` (the front end's). Must not render anything or know about a front end; rules
//! that are pure functions live in `state` (`check`, `deps`), `policy`, `summary`, texts in
//! `prompts`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::Delta;
use super::call::ToEngine;
use super::policy::{self};
use super::{EngineConfig, Start, summary};
use crate::journal::Journal;
use crate::llm::Provider;
use crate::llm::pricing::PriceTable;
use crate::protocol::model::*;
use crate::protocol::*;
use crate::state::{NeedsPerson, State, apply};

/// Capacity of the tasks → loop channel.
pub(super) const INTERNAL_CHANNEL: usize = 1024;
/// Messages from tasks handled in one go before the loop looks at what to start.
pub(super) const INTERNAL_BATCH: usize = 256;
/// Yield-and-drain rounds after a message (see `drain_internal`).
pub(super) const DRAIN_ROUNDS: usize = 4;
/// An orchestrator step in flight.
#[derive(Debug, Clone)]
pub(crate) enum StepKind {
    Analysis,
    /// `last`: nothing else is left to run, so this replan is also the completion
    /// assessment (the merged tail call, see `replans.rs`).
    Replan {
        covered: Vec<SubtaskId>,
        cycle: u32,
        last: bool,
    },
    Recovery {
        id: SubtaskId,
    },
    Completion,
    Synthesis,
    Evaluation {
        round: u32,
    },
}

/// The parsed result of an orchestrator step.
#[derive(Debug)]
pub(crate) enum StepOutput {
    Analysis(AnalysisArgs),
    Replan(ReplanArgs),
    Recovery(RecoveryArgs),
    Completion(CompletionArgs),
    Synthesis(SynthesisArgs),
    Evaluation(EvaluationArgs),
}

pub(super) struct RunningWorker {
    pub(super) attempt: u32,
    pub(super) worker: WorkerId,
    pub(super) abort: AbortHandle,
}

pub(super) struct ActiveStep {
    pub(super) job: u64,
    pub(super) kind: StepKind,
    pub(super) abort: AbortHandle,
}

pub(crate) struct Engine {
    pub(super) cfg: EngineConfig,
    pub(super) provider: Arc<dyn Provider>,
    pub(super) pricing: Arc<PriceTable>,
    pub(super) journal: Journal,
    pub(super) state: State,
    pub(super) role_names: Vec<String>,
    pub(super) events: Option<mpsc::Sender<Envelope>>,
    pub(super) deltas: mpsc::Sender<Delta>,
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) commands_open: bool,
    pub(super) tx: mpsc::Sender<ToEngine>,
    pub(super) rx: mpsc::Receiver<ToEngine>,
    pub(super) running: HashMap<SubtaskId, RunningWorker>,
    /// The running workers' steering channels (`steer.rs`).
    pub(super) steers: super::steer::Steers,
    /// When the oldest and the newest report still waiting for a replan arrived (the
    /// settle window, see `replans.rs`).
    pub(super) replan_oldest: Option<Instant>,
    pub(super) replan_newest: Option<Instant>,
    pub(super) step: Option<ActiveStep>,
    /// Replans superseded by the merged tail call, by job: still running to their answer,
    /// whose usage is journaled (the tokens are billed) and whose result is ignored.
    pub(super) superseded: HashMap<u64, AbortHandle>,
    /// What the orchestrator has seen of the plan (compact replan contexts).
    pub(super) seen: super::plan_view::PlanSeen,
    pub(super) next_job: u64,
    /// The completion assessment has said "complete" for the current plan.
    pub(super) assessed: bool,
    pub(super) completion_rounds: u32,
    /// The synthesis waiting for the evaluator (or to be published).
    pub(super) synthesis: Option<SynthesisArgs>,
    /// The evaluator has passed the current synthesis (or will not run).
    pub(super) evaluated: bool,
    /// Command approvals waiting for a person, by request number.
    pub(super) approvals: HashMap<u32, (SubtaskId, oneshot::Sender<CommandDecision>)>,
    /// Wall-clock seconds the run had used before this process started it.
    pub(super) wall_base: f64,
    pub(super) started: Instant,
    pub(super) fatal: Option<String>,
    pub(super) finished: Option<RunOutcome>,
}

impl Engine {
    pub(crate) fn new(
        cfg: EngineConfig,
        provider: Arc<dyn Provider>,
        journal: Journal,
        events: mpsc::Sender<Envelope>,
        deltas: mpsc::Sender<Delta>,
        commands: mpsc::Receiver<Command>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(INTERNAL_CHANNEL);
        let role_names = cfg.roles.iter().map(|r| r.name.clone()).collect();
        let pricing = Arc::new(cfg.pricing.clone());
        Self {
            cfg,
            provider,
            pricing,
            journal,
            state: State::default(),
            role_names,
            events: Some(events),
            deltas,
            commands,
            commands_open: true,
            tx,
            rx,
            running: HashMap::new(),
            steers: HashMap::new(),
            replan_oldest: None,
            replan_newest: None,
            step: None,
            superseded: HashMap::new(),
            seen: Default::default(),
            next_job: 1,
            assessed: false,
            completion_rounds: 0,
            synthesis: None,
            evaluated: false,
            approvals: HashMap::new(),
            wall_base: 0.0,
            started: Instant::now(),
            fatal: None,
            finished: None,
        }
    }

    pub(crate) async fn run(mut self, start: Start) -> (RunOutcome, State) {
        match start {
            Start::New { run_id, task } => {
                let settings = self.cfg.settings.clone();
                self.emit(Event::RunStarted {
                    run_id,
                    task: task.into(),
                    settings,
                })
                .await;
            }
            Start::Resume {
                events,
                torn_line_dropped,
            } => self.resume(events, torn_line_dropped).await,
        }
        self.journal_run_tree().await;
        loop {
            if let Some(reason) = self.fatal.take() {
                self.abort_all();
                self.finished = Some(RunOutcome::Failed { reason });
            }
            if self.finished.is_some() {
                break;
            }
            // The reports of the last batch are durable before anything acts on them.
            self.commit();
            if self.fatal.is_some() {
                continue;
            }
            self.progress().await;
            if self.finished.is_some() || self.fatal.is_some() {
                continue;
            }
            // One write for the events of this turn, before waiting for anything.
            if let Err(e) = self.journal.flush() {
                self.journal_failed(&e);
                continue;
            }
            let wall_deadline = self.wall_deadline();
            let settle_deadline = self.settle_deadline();
            tokio::select! {
                biased;
                msg = self.rx.recv() => {
                    if let Some(msg) = msg {
                        self.handle_internal(msg).await;
                        self.drain_internal().await;
                    }
                }
                cmd = self.commands.recv(), if self.commands_open => match cmd {
                    Some(cmd) => self.handle_command(cmd).await,
                    None => {
                        tracing::info!("command channel closed; nobody can answer questions now");
                        self.commands_open = false;
                    }
                },
                _ = sleep_until_opt(wall_deadline), if wall_deadline.is_some() => {}
                _ = sleep_until_opt(settle_deadline), if settle_deadline.is_some() => {}
            }
        }
        if let Err(e) = self.journal.sync() {
            tracing::warn!("journal sync failed: {e}");
        }
        let outcome = self.finished.clone().unwrap_or(RunOutcome::Failed {
            reason: "the engine stopped unexpectedly".into(),
        });
        (outcome, self.state)
    }

    /// Takes what else tasks have sent too, so reports that land together are covered by
    /// one replan: drains the channel, and while that brings anything, yields once so
    /// tasks woken by it (a worker whose usage was just journaled) can deliver as well.
    pub(super) async fn drain_internal(&mut self) {
        let mut handled = 0;
        for _ in 0..DRAIN_ROUNDS {
            let mut got = false;
            while handled < INTERNAL_BATCH {
                match self.rx.try_recv() {
                    Ok(msg) => {
                        self.handle_internal(msg).await;
                        handled += 1;
                        got = true;
                    }
                    Err(_) => break,
                }
            }
            if !got || handled >= INTERNAL_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
    }

    pub(super) async fn resume(&mut self, events: Vec<Envelope>, torn_line_dropped: bool) {
        for e in events {
            apply(&mut self.state, &e);
            self.send(e).await;
        }
        if self.journal.last_seq() < self.state.last_seq {
            tracing::warn!("journal is behind the replayed events");
        }
        self.wall_base = self.state.elapsed_secs();
        let interrupted: Vec<SubtaskId> = self.state.running().map(|s| s.id).collect();
        let was_completed = matches!(self.state.outcome, Some(RunOutcome::Completed));
        self.emit(Event::RunResumed {
            interrupted,
            torn_line_dropped,
        })
        .await;
        self.finish_interrupted_rollback().await;
        self.journal_settings_in_force().await;
        if was_completed {
            self.finish(RunOutcome::Completed).await;
        }
    }

    pub(super) async fn finish(&mut self, outcome: RunOutcome) {
        if self.finished.is_some() {
            return;
        }
        self.abort_all();
        if outcome == RunOutcome::Completed {
            self.accept_notice().await;
        }
        self.emit(Event::RunFinished {
            outcome: outcome.clone(),
        })
        .await;
        self.finished = Some(outcome);
    }

    pub(super) fn abort_all(&mut self) {
        for (_, w) in self.running.drain() {
            w.abort.abort();
        }
        if let Some(s) = self.step.take() {
            s.abort.abort();
        }
        for (_, abort) in self.superseded.drain() {
            abort.abort();
        }
        self.approvals.clear();
    }

    pub(super) fn wall_secs(&self) -> f64 {
        self.wall_base + self.started.elapsed().as_secs_f64()
    }

    pub(super) fn wall_deadline(&self) -> Option<Instant> {
        let max = self.state.limits.max_wall_secs?;
        if policy::winding_down(&self.state) || self.limit_held(LimitKind::WallClock) {
            return None;
        }
        let left = (max as f64 - self.wall_base).max(0.0);
        // A limit too far away to be an `Instant` is no deadline (the config and the scope
        // dialog cap it at `MAX_WALL_SECS`; a journal may still carry a bigger one).
        let left = Duration::try_from_secs_f64(left).ok()?;
        self.started.checked_add(left)
    }

    pub(super) async fn progress(&mut self) {
        if self.finished.is_some() {
            return;
        }
        self.check_budgets().await;
        self.relink_dead_dependencies().await;
        self.apply_decided_diff().await;

        // 1. Analysis (again after a resume that lost the first subtasks).
        if self.state.mode.is_none() && self.state.first_subtasks.is_none() {
            if self.step.is_none() {
                self.start_step(StepKind::Analysis).await;
            }
            self.sync_phase().await;
            return;
        }
        // 2. Orchestrate or single worker.
        if self.state.mode.is_none() {
            if self.state.mode_choice.is_none() {
                self.decide_mode().await;
            }
            if self.state.mode.is_none() {
                self.maybe_stop_for_person().await;
                return;
            }
        }
        let wind = policy::winding_down(&self.state);
        let held = self.budget_hold();
        // 3. Failures: recovery decisions.
        if !wind {
            self.escalate_exhausted().await;
            if self.step.is_none()
                && !held
                && let Some(id) = self.next_failure()
            {
                self.start_step(StepKind::Recovery { id }).await;
            }
        }
        // 4. Replan the reports not yet covered (or merge them into the tail call).
        self.replan_queue(wind, held).await;
        // 5. Dispatch (a scope decision above may have ended new work).
        if !self.state.paused && !policy::winding_down(&self.state) && !self.budget_hold() {
            self.dispatch().await;
        }
        self.sync_phase().await;
        // 6. Nothing running: finish, or wait for a person.
        if self.quiescent() {
            self.at_quiescence().await;
        }
    }

    pub(super) fn quiescent(&self) -> bool {
        if !self.running.is_empty() || self.step.is_some() {
            return false;
        }
        let wind = policy::winding_down(&self.state);
        if wind {
            return true;
        }
        if !self.pending_reports().is_empty()
            && !self.budget_hold()
            && !self.cycles_blocked()
            && self.state.pending_plan_diff().is_none()
        {
            return false;
        }
        if self.next_failure().is_some() && !self.budget_hold() {
            return false;
        }
        // Runnable work blocked by pause or a budget alert waits, it is not "done".
        if !self.state.runnable().is_empty() {
            return self.state.paused || self.budget_hold();
        }
        true
    }

    /// What needs a person, given whether the run is winding down.
    pub(super) fn person_needed(&self) -> Vec<NeedsPerson> {
        let wind = policy::winding_down(&self.state);
        self.state
            .needs_person()
            .into_iter()
            .filter(|n| {
                !wind
                    || !matches!(
                        n,
                        NeedsPerson::Approval(_)
                            | NeedsPerson::Escalation(_)
                            | NeedsPerson::PlanDiff(_)
                    )
            })
            .collect()
    }

    pub(super) async fn at_quiescence(&mut self) {
        if self.hold_for_policy().await {
            return;
        }
        if !self.state.runnable().is_empty() && (self.state.paused || self.budget_hold()) {
            // Paused with work left, or held by a budget alert: wait (or stop, headless).
            self.maybe_stop_for_person().await;
            if self.state.paused && self.finished.is_none() && self.cfg.stop_when_person_needed {
                self.finish(RunOutcome::Stopped {
                    reason: "dispatch is paused".into(),
                })
                .await;
            }
            return;
        }
        if !self.person_needed().is_empty() {
            self.maybe_stop_for_person().await;
            return;
        }
        let wind = policy::winding_down(&self.state);
        let orchestrate = self.state.mode == Some(RunMode::Orchestrate);
        if orchestrate
            && !wind
            && !self.assessed
            && self.completion_rounds < policy::MAX_COMPLETION_ROUNDS
        {
            self.start_step(StepKind::Completion).await;
        } else if self.synthesis.is_none() {
            self.start_step(StepKind::Synthesis).await;
        } else if self.cfg.settings.evaluate && !wind && !self.evaluated && self.evaluation_due() {
            let round = self.state.evaluations.len() as u32 + 1;
            self.start_step(StepKind::Evaluation { round }).await;
        } else if !self.superseded.is_empty() {
            // A superseded replan still running: its usage goes into the summary's tokens
            // and cost, so the run ends after its answer (it started before the merged
            // call, so it is rarely the later one).
        } else if let Some(s) = self.synthesis.take() {
            let synthesis = Synthesis {
                deliverable: s.deliverable,
                integration_points: s.integration_points,
                conflicts: s.conflicts,
                coherence: s.coherence,
            };
            // The summary is computed from the state the journal describes, this event's
            // own timestamp aside.
            let summary = summary::execution_summary(&self.state);
            self.emit(Event::SynthesisCompleted { synthesis, summary })
                .await;
            self.emit(Event::PhaseChanged { phase: Phase::Done }).await;
            // Work a limit kept from running makes the run stopped, never "complete".
            let outcome = match self.stopped_by_limit() {
                Some(reason) => RunOutcome::Stopped { reason },
                None => RunOutcome::Completed,
            };
            self.finish(outcome).await;
        }
        self.sync_phase().await;
    }

    /// Headless (or nobody listening): stop when something needs a person.
    pub(super) async fn maybe_stop_for_person(&mut self) {
        if !self.running.is_empty() || self.step.is_some() {
            return;
        }
        let needs = self.person_needed();
        if needs.is_empty() || (!self.cfg.stop_when_person_needed && self.commands_open) {
            return;
        }
        let reason = describe_needs(&self.state, &needs);
        self.finish(RunOutcome::Stopped { reason }).await;
    }

    pub(super) async fn sync_phase(&mut self) {
        if self.finished.is_some() {
            return;
        }
        let phase = match self.step.as_ref().map(|s| &s.kind) {
            Some(StepKind::Analysis) => Phase::Analysing,
            Some(StepKind::Replan { .. }) => Phase::Replanning,
            Some(StepKind::Recovery { .. }) => Phase::Recovering,
            Some(StepKind::Completion) => Phase::Assessing,
            Some(StepKind::Synthesis) => Phase::Synthesising,
            Some(StepKind::Evaluation { .. }) => Phase::Evaluating,
            None if self.state.mode.is_some() => Phase::Running,
            None => return,
        };
        if self.state.phase != phase {
            self.emit(Event::PhaseChanged { phase }).await;
        }
    }
}

pub(super) async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// One sentence naming what waits for a person.
pub(super) fn describe_needs(state: &State, needs: &[NeedsPerson]) -> String {
    let parts: Vec<String> = needs
        .iter()
        .map(|n| match n {
            NeedsPerson::ModeChoice {
                complexity,
                threshold,
            } => format!(
                "choose orchestrate or single worker (complexity {complexity:.2} < {threshold:.2})"
            ),
            NeedsPerson::ScopeAlert(a) => {
                let limit = state
                    .alerts
                    .iter()
                    .find(|x| x.alert == *a)
                    .map(|x| x.limit.to_string())
                    .unwrap_or_default();
                format!("scope alert {a} ({limit} limit)")
            }
            NeedsPerson::Escalation(id) => format!("escalated subtask {id}"),
            NeedsPerson::CommandApproval(r) => format!("command approval {r}"),
            NeedsPerson::Approval(id) => format!("subtask {id} awaits approval"),
            NeedsPerson::PlanDiff(p) => format!("a replan to approve (plan diff {p})"),
        })
        .collect();
    format!("needs a person: {}", parts.join("; "))
}
