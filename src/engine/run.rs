//! The orchestration loop (DESIGN.md steps 1-8): one actor that owns the run's [`State`],
//! the journal and the running tasks.
//!
//! Every state change goes through [`Engine::emit`]: append to the journal, fold with
//! `plan::apply`, send to the front end — in that order, one path. Orchestrator steps and
//! workers run as tokio tasks and talk back through [`ToEngine`]; the loop `select!`s over
//! them, the front end's commands and the wall-clock limit, and after each message calls
//! [`Engine::progress`], which starts whatever can start now. What is pending (reports not
//! yet replanned, failures awaiting recovery, the analysis, the synthesis) is derived from
//! the folded state, so a resumed run picks up exactly where the journal ends.
//!
//! Must not render anything or know about a front end; rules that are pure functions live in
//! `policy`, `deps`, `summary`, texts in `prompts`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::call::{CallCtx, Recorder, ToEngine};
use super::event::*;
use super::plan::{NeedsPerson, State, SubtaskStatus, apply};
use super::policy::{self, MAX_ATTEMPTS};
use super::protocol::*;
use super::roles::RoleSpec;
use super::worker::{WorkerJob, WorkerOutcome};
use super::{EngineConfig, Start, deps, prompts, schemas, summary, validate, worker};
use crate::journal::Journal;
use crate::llm::pricing::PriceTable;
use crate::llm::{ChatRequest, Message, Provider, ToolChoice};

/// Output budget of one orchestrator call.
const ORCHESTRATOR_MAX_TOKENS: u32 = 8192;
/// Output budget of one worker call.
const WORKER_MAX_TOKENS: u32 = 8192;
/// Capacity of the tasks → loop channel.
const INTERNAL_CHANNEL: usize = 1024;
/// Messages from tasks handled in one go before the loop looks at what to start.
const INTERNAL_BATCH: usize = 256;
/// Yield-and-drain rounds after a message (see `drain_internal`).
const DRAIN_ROUNDS: usize = 4;
/// While workers are still running, a replan waits this long after the oldest report it
/// would cover, so reports that land together (workers dispatched together finish within a
/// few milliseconds) go into one replan: otherwise the stragglers wait for a replan that
/// missed them, and every such extra replan is a sequential orchestrator call that can
/// land on the critical path. Tiny against a model call (seconds); see BENCHMARKS.md.
const REPLAN_SETTLE: Duration = Duration::from_millis(3);

/// An orchestrator step in flight.
#[derive(Debug, Clone)]
pub(crate) enum StepKind {
    Analysis,
    Replan { covered: Vec<SubtaskId>, cycle: u32 },
    Recovery { id: SubtaskId },
    Completion,
    Synthesis,
    Evaluation { round: u32 },
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

struct RunningWorker {
    attempt: u32,
    worker: WorkerId,
    abort: AbortHandle,
}

struct ActiveStep {
    job: u64,
    kind: StepKind,
    abort: AbortHandle,
}

pub(crate) struct Engine {
    cfg: EngineConfig,
    provider: Arc<dyn Provider>,
    pricing: Arc<PriceTable>,
    journal: Journal,
    state: State,
    role_names: Vec<String>,
    events: Option<mpsc::Sender<Envelope>>,
    deltas: mpsc::Sender<Delta>,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    tx: mpsc::Sender<ToEngine>,
    rx: mpsc::Receiver<ToEngine>,
    running: HashMap<SubtaskId, RunningWorker>,
    /// When the oldest report still waiting for a replan arrived (see [`REPLAN_SETTLE`]).
    replan_settle_from: Option<Instant>,
    step: Option<ActiveStep>,
    next_job: u64,
    /// Reports already given to a replan (or that need none).
    covered: HashSet<SubtaskId>,
    /// The analysis' first subtasks, until the run mode is chosen.
    analysis_subtasks: Option<Vec<ProposedSubtask>>,
    /// The completion assessment has said "complete" for the current plan.
    assessed: bool,
    completion_rounds: u32,
    /// The synthesis waiting for the evaluator (or to be published).
    synthesis: Option<SynthesisArgs>,
    /// The evaluator has passed the current synthesis (or will not run).
    evaluated: bool,
    /// Command approvals waiting for a person, by request number.
    approvals: HashMap<u32, (SubtaskId, oneshot::Sender<CommandDecision>)>,
    /// Subtasks deferred because they were over the subtask limit.
    limit_deferred: Vec<SubtaskId>,
    /// Wall-clock seconds the run had used before this process started it.
    wall_base: f64,
    started: Instant,
    fatal: Option<String>,
    finished: Option<RunOutcome>,
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
            replan_settle_from: None,
            step: None,
            next_job: 1,
            covered: HashSet::new(),
            analysis_subtasks: None,
            assessed: false,
            completion_rounds: 0,
            synthesis: None,
            evaluated: false,
            approvals: HashMap::new(),
            limit_deferred: Vec::new(),
            wall_base: 0.0,
            started: Instant::now(),
            fatal: None,
            finished: None,
        }
    }

    // ---- the one path for facts -------------------------------------------------------

    /// Journals the event, folds it into the state, sends it to the front end.
    async fn emit(&mut self, event: Event) {
        if self.fatal.is_some() {
            return;
        }
        let envelope = match self.journal.append(event) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("journal write failed: {e}");
                self.fatal = Some(format!(
                    "cannot write the journal {}: {e}",
                    self.journal.path.display()
                ));
                return;
            }
        };
        apply(&mut self.state, &envelope);
        self.send(envelope).await;
    }

    async fn send(&mut self, envelope: Envelope) {
        if let Some(tx) = &self.events {
            if tx.send(envelope).await.is_err() {
                tracing::warn!("the front end stopped receiving events; the run continues");
                self.events = None;
            }
        }
    }

    async fn notice(&mut self, message: impl Into<String>) {
        self.emit(Event::Notice {
            message: message.into(),
        })
        .await;
    }

    // ---- the loop ------------------------------------------------------------------------

    pub(crate) async fn run(mut self, start: Start) -> (RunOutcome, State) {
        match start {
            Start::New { run_id, task } => {
                let settings = self.cfg.settings.clone();
                self.emit(Event::RunStarted {
                    run_id,
                    task,
                    settings,
                })
                .await;
            }
            Start::Resume {
                events,
                torn_line_dropped,
            } => self.resume(events, torn_line_dropped).await,
        }
        loop {
            if let Some(reason) = self.fatal.take() {
                self.abort_all();
                self.finished = Some(RunOutcome::Failed { reason });
            }
            if self.finished.is_some() {
                break;
            }
            self.progress().await;
            if self.finished.is_some() || self.fatal.is_some() {
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
    async fn drain_internal(&mut self) {
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

    async fn resume(&mut self, events: Vec<Envelope>, torn_line_dropped: bool) {
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
        for r in &self.state.replan_log {
            self.covered.extend(r.covered.iter().copied());
        }
        if was_completed {
            self.finish(RunOutcome::Completed).await;
        }
    }

    async fn finish(&mut self, outcome: RunOutcome) {
        if self.finished.is_some() {
            return;
        }
        self.abort_all();
        self.emit(Event::RunFinished {
            outcome: outcome.clone(),
        })
        .await;
        self.finished = Some(outcome);
    }

    fn abort_all(&mut self) {
        for (_, w) in self.running.drain() {
            w.abort.abort();
        }
        if let Some(s) = self.step.take() {
            s.abort.abort();
        }
        self.approvals.clear();
    }

    fn wall_secs(&self) -> f64 {
        self.wall_base + self.started.elapsed().as_secs_f64()
    }

    /// Whether a replan may start now: at once when no worker is running, else once
    /// [`REPLAN_SETTLE`] has passed since the oldest report it would cover arrived.
    fn replan_settled(&self) -> bool {
        self.running.is_empty()
            || self
                .replan_settle_from
                .is_none_or(|since| since.elapsed() >= REPLAN_SETTLE)
    }

    /// When a settling replan may start (a wake-up for the loop).
    fn settle_deadline(&self) -> Option<Instant> {
        if self.step.is_some() || self.running.is_empty() {
            return None;
        }
        // A deadline already past means the replan was held for another reason (a budget,
        // the cycle limit): no wake-up for it, or the loop would spin.
        self.replan_settle_from
            .map(|t| t + REPLAN_SETTLE)
            .filter(|d| *d > Instant::now())
    }

    fn wall_deadline(&self) -> Option<Instant> {
        let max = self.state.limits.max_wall_secs?;
        if policy::winding_down(&self.state) || self.limit_held(LimitKind::WallClock) {
            return None;
        }
        let left = (max as f64 - self.wall_base).max(0.0);
        Some(self.started + Duration::from_secs_f64(left))
    }

    // ---- what can start now --------------------------------------------------------------

    async fn progress(&mut self) {
        if self.finished.is_some() {
            return;
        }
        self.check_budgets().await;
        self.relink_dead_dependencies().await;

        // 1. Analysis (again after a resume that lost the first subtasks).
        if self.state.mode.is_none() && self.analysis_subtasks.is_none() {
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
            if self.step.is_none() && !held {
                if let Some(id) = self.next_failure() {
                    self.start_step(StepKind::Recovery { id }).await;
                }
            }
        }
        // 4. Replan the reports not yet covered.
        let pending = self.pending_reports();
        if pending.is_empty() {
            self.replan_settle_from = None;
        } else {
            // The window counts from the oldest waiting report's arrival, even while
            // another step is in flight: reports that already waited do not wait again.
            self.replan_settle_from.get_or_insert_with(Instant::now);
            if wind || self.state.mode == Some(RunMode::SingleWorker) {
                self.replan_settle_from = None;
                self.covered.extend(pending);
            } else if self.step.is_none() && !held {
                let cycle = self.state.replan_log.len() as u32 + 1;
                let settled = self.replan_settled();
                match self.state.limits.max_cycles {
                    Some(max) if cycle > max => {
                        if !self.limit_held(LimitKind::Cycles) {
                            self.raise_alert(LimitKind::Cycles, cycle as f64, max as f64)
                                .await;
                        }
                    }
                    _ if !settled => {}
                    _ => {
                        self.replan_settle_from = None;
                        self.covered.extend(pending.iter().copied());
                        self.start_step(StepKind::Replan {
                            covered: pending,
                            cycle,
                        })
                        .await;
                    }
                }
            }
        }
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

    fn quiescent(&self) -> bool {
        if !self.running.is_empty() || self.step.is_some() {
            return false;
        }
        let wind = policy::winding_down(&self.state);
        if wind {
            return true;
        }
        if !self.pending_reports().is_empty() && !self.budget_hold() && !self.cycles_blocked() {
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

    fn cycles_blocked(&self) -> bool {
        let cycle = self.state.replan_log.len() as u32 + 1;
        self.state.limits.max_cycles.is_some_and(|m| cycle > m)
    }

    /// What needs a person, given whether the run is winding down.
    fn person_needed(&self) -> Vec<NeedsPerson> {
        let wind = policy::winding_down(&self.state);
        self.state
            .needs_person()
            .into_iter()
            .filter(|n| {
                !wind || !matches!(n, NeedsPerson::Approval(_) | NeedsPerson::Escalation(_))
            })
            .collect()
    }

    async fn at_quiescence(&mut self) {
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
        } else if self.cfg.settings.evaluate
            && !wind
            && !self.evaluated
            && (self.state.evaluations.len() as u32) < policy::MAX_EVALUATION_ROUNDS
        {
            let round = self.state.evaluations.len() as u32 + 1;
            self.start_step(StepKind::Evaluation { round }).await;
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
            self.finish(RunOutcome::Completed).await;
        }
        self.sync_phase().await;
    }

    /// Headless (or nobody listening): stop when something needs a person.
    async fn maybe_stop_for_person(&mut self) {
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

    async fn sync_phase(&mut self) {
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

    async fn decide_mode(&mut self) {
        let Some(a) = self.state.analysis.clone() else {
            return;
        };
        let threshold = self.cfg.settings.complexity_threshold;
        let first = self.analysis_subtasks.as_ref().map_or(0, |v| v.len());
        if a.complexity >= threshold {
            self.choose_mode(RunMode::Orchestrate, Actor::Engine).await;
        } else if self.cfg.settings.approve == ApprovalPolicy::Auto {
            self.choose_mode(policy::auto_mode(&a, first), Actor::Policy)
                .await;
        } else {
            self.emit(Event::ModeChoiceRequested {
                complexity: a.complexity,
                threshold,
            })
            .await;
        }
    }

    async fn choose_mode(&mut self, mode: RunMode, by: Actor) {
        self.emit(Event::ModeChosen { mode, by }).await;
        let proposed = self.analysis_subtasks.take().unwrap_or_default();
        match mode {
            RunMode::Orchestrate => {
                let items = proposed
                    .into_iter()
                    .map(|p| (p, Origin::Analysis))
                    .collect();
                self.add_batch(items).await;
            }
            RunMode::SingleWorker => {
                let role = proposed
                    .iter()
                    .map(|p| p.role.clone())
                    .find(|r| self.role_names.contains(r))
                    .or_else(|| self.role_names.first().cloned())
                    .unwrap_or_default();
                let task = self.state.task.clone();
                let title: String = task.lines().next().unwrap_or("").chars().take(80).collect();
                let p = ProposedSubtask {
                    title: if title.trim().is_empty() {
                        "The whole task".into()
                    } else {
                        title
                    },
                    description: task,
                    role,
                    depends_on: Vec::new(),
                    priority: Priority::Normal,
                    expected_output: "The complete deliverable for the task.".into(),
                };
                self.add_batch(vec![(p, Origin::SingleWorker)]).await;
            }
        }
    }

    fn pending_reports(&self) -> Vec<SubtaskId> {
        let inflight: Vec<SubtaskId> = match self.step.as_ref().map(|s| &s.kind) {
            Some(StepKind::Replan { covered, .. }) => covered.clone(),
            _ => Vec::new(),
        };
        self.state
            .subtasks
            .iter()
            .filter(|s| s.status.satisfies_dependency() && s.report.is_some())
            .map(|s| s.id)
            .filter(|id| !self.covered.contains(id) && !inflight.contains(id))
            .collect()
    }

    /// The first failed subtask that no recovery step is deciding on.
    fn next_failure(&self) -> Option<SubtaskId> {
        let busy = match self.step.as_ref().map(|s| &s.kind) {
            Some(StepKind::Recovery { id }) => Some(*id),
            _ => None,
        };
        self.failures().into_iter().find(|f| Some(*f) != busy)
    }

    fn failures(&self) -> Vec<SubtaskId> {
        self.state
            .subtasks
            .iter()
            .filter(|s| matches!(s.status, SubtaskStatus::Failed | SubtaskStatus::Blocked))
            .filter(|s| !self.running.contains_key(&s.id))
            .map(|s| s.id)
            .collect()
    }

    /// Subtasks that failed `MAX_ATTEMPTS` times go to a person without asking the model.
    async fn escalate_exhausted(&mut self) {
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
    async fn relink_dead_dependencies(&mut self) {
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

    // ---- limits ----------------------------------------------------------------------------

    /// Is this limit's alert open, or was its overrun accepted (defer low priority) at the
    /// current maximum?
    fn limit_held(&self, limit: LimitKind) -> bool {
        if policy::alert_open(&self.state, limit) {
            return true;
        }
        let max = self.limit_max(limit);
        self.state
            .alerts
            .iter()
            .rev()
            .find(|a| a.limit == limit)
            .is_some_and(|a| {
                a.resolution == Some(ScopeDecision::DeferLowPriority) && Some(a.max) == max
            })
    }

    fn limit_max(&self, limit: LimitKind) -> Option<f64> {
        let l = &self.state.limits;
        match limit {
            LimitKind::Subtasks => l.max_subtasks.map(f64::from),
            LimitKind::Cycles => l.max_cycles.map(f64::from),
            LimitKind::Tokens => l.max_tokens.map(|v| v as f64),
            LimitKind::Cost => l.budget_usd,
            LimitKind::WallClock => l.max_wall_secs.map(|v| v as f64),
        }
    }

    /// A budget alert (tokens, cost, wall clock) is open: nothing new starts.
    fn budget_hold(&self) -> bool {
        self.state.open_alerts().any(|a| {
            matches!(
                a.limit,
                LimitKind::Tokens | LimitKind::Cost | LimitKind::WallClock
            )
        })
    }

    async fn check_budgets(&mut self) {
        if policy::winding_down(&self.state) {
            return;
        }
        for (limit, current, max) in policy::budgets_reached(&self.state, self.wall_secs()) {
            if !self.limit_held(limit) {
                self.raise_alert(limit, current, max).await;
            }
        }
    }

    async fn raise_alert(&mut self, limit: LimitKind, current: f64, max: f64) {
        let alert = self.state.alerts.len() as u32 + 1;
        let pending = self
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
            .map(|s| s.id)
            .collect();
        self.emit(Event::ScopeAlertRaised {
            alert,
            limit,
            current,
            max,
            pending,
        })
        .await;
        if self.cfg.settings.approve == ApprovalPolicy::Auto {
            self.resolve_alert(alert, policy::auto_scope_decision(limit), Actor::Policy)
                .await;
        }
    }

    async fn resolve_alert(&mut self, alert: u32, decision: ScopeDecision, by: Actor) {
        let Some(limit) = self
            .state
            .open_alerts()
            .find(|a| a.alert == alert)
            .map(|a| a.limit)
        else {
            self.notice(format!("scope alert {alert} is not open"))
                .await;
            return;
        };
        self.emit(Event::ScopeAlertResolved {
            alert,
            decision: decision.clone(),
            by,
        })
        .await;
        match decision {
            ScopeDecision::DeferLowPriority => {
                let low: Vec<SubtaskId> = self
                    .state
                    .subtasks
                    .iter()
                    .filter(|s| s.priority == Priority::Low)
                    .filter(|s| {
                        matches!(
                            s.status,
                            SubtaskStatus::Ready | SubtaskStatus::AwaitingApproval
                        )
                    })
                    .map(|s| s.id)
                    .collect();
                for id in low {
                    self.emit(Event::SubtaskDeferred { id, by }).await;
                }
            }
            ScopeDecision::RaiseLimit { .. } if limit == LimitKind::Subtasks => {
                let held = std::mem::take(&mut self.limit_deferred);
                for id in held {
                    let room = self
                        .state
                        .limits
                        .max_subtasks
                        .is_none_or(|m| policy::counted_subtasks(&self.state) < m);
                    let deferred = self
                        .state
                        .subtask(id)
                        .is_some_and(|s| s.status == SubtaskStatus::Deferred);
                    if room && deferred {
                        self.emit(Event::SubtaskUndeferred { id, by }).await;
                    } else if deferred {
                        self.limit_deferred.push(id);
                    }
                }
            }
            _ => {}
        }
    }

    // ---- the plan --------------------------------------------------------------------------

    /// Adds new subtasks: resolves dependencies, rejects what cannot run (with a reason),
    /// applies the approval policy and the subtask limit. Returns the ids added.
    async fn add_batch(&mut self, items: Vec<(ProposedSubtask, Origin)>) -> Vec<SubtaskId> {
        let proposed: Vec<ProposedSubtask> = items.iter().map(|(p, _)| p.clone()).collect();
        let batch = deps::plan_batch(&self.state, &proposed, &self.role_names);
        for (title, reason) in batch.rejected {
            self.emit(Event::SubtaskRejected { title, reason }).await;
        }
        let mut added = Vec::new();
        let mut over = false;
        for (i, spec) in batch.accepted {
            let origin = items[i].1.clone();
            let needs_approval = policy::needs_approval(self.cfg.settings.approve, &origin);
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
                self.limit_deferred.push(id);
            }
            added.push(id);
            self.assessed = false;
        }
        if over && !self.limit_held(LimitKind::Subtasks) {
            let current =
                (policy::counted_subtasks(&self.state) + self.limit_deferred.len() as u32) as f64;
            let max = self.state.limits.max_subtasks.unwrap_or(0) as f64;
            self.raise_alert(LimitKind::Subtasks, current, max).await;
        }
        added
    }

    async fn apply_replan(&mut self, covered: Vec<SubtaskId>, cycle: u32, args: ReplanArgs) {
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
        let added = self.add_batch(items).await;
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
            if let Some(d) = u.depends_on {
                let resolved: Vec<Option<SubtaskId>> = d
                    .iter()
                    .map(|r| deps::resolve_ref(&self.state, r))
                    .collect();
                let ids: Vec<SubtaskId> = resolved.iter().flatten().copied().collect();
                let check = if resolved.iter().any(Option::is_none) {
                    Err("a dependency names no subtask".to_string())
                } else {
                    deps::check_new_deps(&self.state, id, &ids)
                };
                match check {
                    Ok(()) => patch.depends_on = Some(ids),
                    Err(e) => {
                        self.notice(format!(
                            "replan {cycle}: dependencies of {id} left unchanged: {e}"
                        ))
                        .await
                    }
                }
            }
            if patch.is_empty() {
                continue;
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
    }

    /// Edits a subtask that has not finished. Returns whether it did.
    async fn edit(&mut self, id: SubtaskId, patch: SubtaskPatch, by: Actor) -> bool {
        let Some(s) = self.state.subtask(id) else {
            self.notice(format!("there is no subtask {id}")).await;
            return false;
        };
        if s.status.is_terminal() {
            self.notice(format!("{id} is {}; it cannot be edited", s.status.label()))
                .await;
            return false;
        }
        if let Some(role) = &patch.role {
            if !self.role_names.contains(role) {
                self.notice(format!(
                    "unknown role `{role}`; roles: {}",
                    self.role_names.join(", ")
                ))
                .await;
                return false;
            }
        }
        self.emit(Event::SubtaskEdited { id, patch, by }).await;
        true
    }

    /// Cancels a subtask that has not finished (stopping its worker). Returns whether it did.
    async fn cancel(&mut self, id: SubtaskId, reason: String, by: Actor) -> bool {
        let Some(s) = self.state.subtask(id) else {
            self.notice(format!("there is no subtask {id}")).await;
            return false;
        };
        if s.status.is_terminal() {
            self.notice(format!("{id} is already {}", s.status.label()))
                .await;
            return false;
        }
        self.stop_worker(id).await;
        self.emit(Event::SubtaskCancelled { id, reason, by }).await;
        true
    }

    /// Aborts a running worker (if any) and denies its pending command approvals.
    async fn stop_worker(&mut self, id: SubtaskId) {
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

    // ---- workers ---------------------------------------------------------------------------

    async fn dispatch(&mut self) {
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

    fn free_slot(&self) -> WorkerId {
        let used: BTreeSet<u32> = self.running.values().map(|w| w.worker.0).collect();
        WorkerId((1..).find(|n| !used.contains(n)).unwrap_or(1))
    }

    fn role(&self, name: &str) -> Option<&RoleSpec> {
        self.cfg.roles.iter().find(|r| r.name == name)
    }

    async fn start_worker(&mut self, id: SubtaskId) {
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
            max_tokens: WORKER_MAX_TOKENS,
        };
        let tx = self.tx.clone();
        let handle = tokio::spawn(async move {
            let (outcome, records) = worker::run(job).await;
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

    fn call_ctx(&self, purpose: CallPurpose, subtask: Option<SubtaskId>, attempt: u32) -> CallCtx {
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

    // ---- orchestrator steps ----------------------------------------------------------------

    async fn start_step(&mut self, kind: StepKind) {
        let roles = self.role_names.clone();
        let (step, purpose, reports, failure, cycle, tool, extra) = match &kind {
            StepKind::Analysis => (
                Step::Analysis,
                CallPurpose::Analysis,
                Vec::new(),
                None,
                0,
                SUBMIT_ANALYSIS,
                String::new(),
            ),
            StepKind::Replan { covered, cycle } => (
                Step::Replan,
                CallPurpose::Replan { cycle: *cycle },
                covered.clone(),
                None,
                *cycle,
                SUBMIT_REPLAN,
                String::new(),
            ),
            StepKind::Recovery { id } => {
                let failure = self.state.subtask(*id).map(|s| FailureView {
                    id: s.id.0,
                    title: s.title.clone(),
                    role: s.role.clone(),
                    attempts: s.attempts,
                    error: s.last_error.clone().unwrap_or_default(),
                    last_output: s.output.clone().unwrap_or_default(),
                });
                (
                    Step::Recovery,
                    CallPurpose::Recovery { id: *id },
                    Vec::new(),
                    failure,
                    0,
                    DECIDE_RECOVERY,
                    String::new(),
                )
            }
            StepKind::Completion => (
                Step::Completion,
                CallPurpose::Completion,
                Vec::new(),
                None,
                self.completion_rounds + 1,
                ASSESS_COMPLETION,
                String::new(),
            ),
            StepKind::Synthesis => (
                Step::Synthesis,
                CallPurpose::Synthesis,
                Vec::new(),
                None,
                0,
                SUBMIT_SYNTHESIS,
                String::new(),
            ),
            StepKind::Evaluation { round } => (
                Step::Evaluation,
                CallPurpose::Evaluation { round: *round },
                Vec::new(),
                None,
                *round,
                SUBMIT_EVALUATION,
                format!(
                    "# Deliverable to evaluate\n{}",
                    self.synthesis
                        .as_ref()
                        .map(|s| s.deliverable.as_str())
                        .unwrap_or("")
                ),
            ),
        };
        let mut ctx =
            prompts::context(&self.state, step, &self.cfg.roles, &reports, failure, cycle);
        ctx.person_available = !self.cfg.stop_when_person_needed;
        let message = prompts::orchestrator_message(&ctx, &self.cfg.roles, &extra);
        let req = ChatRequest {
            model: self.cfg.settings.orchestrator_model.clone(),
            system: prompts::ORCHESTRATOR_SYSTEM.to_string(),
            messages: vec![Message::user(
                prompts::project_instructions(&self.cfg.project_instructions) + &message,
            )],
            tools: vec![schemas::tool_def(tool, &roles)],
            tool_choice: ToolChoice::Tool(tool.to_string()),
            max_tokens: ORCHESTRATOR_MAX_TOKENS,
            temperature: None,
        };
        let call = self.call_ctx(purpose, None, 0);
        let job = self.next_job;
        self.next_job += 1;
        let tx = self.tx.clone();
        let parse_kind = kind.clone();
        let handle = tokio::spawn(async move {
            let result = match parse_kind {
                StepKind::Analysis => call
                    .call_forced(req, tool, |v| validate::analysis(v, &roles))
                    .await
                    .map(StepOutput::Analysis),
                StepKind::Replan { .. } => call
                    .call_forced(req, tool, |v| validate::replan(v, &roles))
                    .await
                    .map(StepOutput::Replan),
                StepKind::Recovery { .. } => call
                    .call_forced(req, tool, |v| validate::recovery(v, &roles))
                    .await
                    .map(StepOutput::Recovery),
                StepKind::Completion => call
                    .call_forced(req, tool, |v| validate::completion(v, &roles))
                    .await
                    .map(StepOutput::Completion),
                StepKind::Synthesis => call
                    .call_forced(req, tool, |v| validate::synthesis(v, &roles))
                    .await
                    .map(StepOutput::Synthesis),
                StepKind::Evaluation { .. } => call
                    .call_forced(req, tool, |v| validate::evaluation(v, &roles))
                    .await
                    .map(StepOutput::Evaluation),
            };
            let _ = tx.send(ToEngine::StepDone { job, result }).await;
        });
        self.step = Some(ActiveStep {
            job,
            kind,
            abort: handle.abort_handle(),
        });
        self.sync_phase().await;
    }

    async fn step_done(&mut self, job: u64, result: Result<StepOutput, String>) {
        let Some(active) = self.step.take_if(|s| s.job == job) else {
            return;
        };
        match (active.kind, result) {
            (StepKind::Analysis, Ok(StepOutput::Analysis(a))) => {
                let analysis = Analysis {
                    complexity: a.complexity,
                    task_type: a.task_type,
                    known_requirements: a.known_requirements,
                    unknowns: a.unknowns,
                    estimated_subtasks: a.estimated_subtasks,
                    strategy: a.strategy,
                };
                self.emit(Event::AnalysisCompleted { analysis }).await;
                self.analysis_subtasks = Some(a.subtasks);
            }
            (StepKind::Analysis, Err(e)) => {
                self.finish(RunOutcome::Failed {
                    reason: format!("the analysis failed: {e}"),
                })
                .await;
            }
            (StepKind::Replan { covered, cycle }, Ok(StepOutput::Replan(r))) => {
                self.apply_replan(covered, cycle, r).await;
            }
            (StepKind::Replan { cycle, .. }, Err(e)) => {
                self.notice(format!(
                    "replan cycle {cycle} failed: {e}; the plan stays as it is"
                ))
                .await;
            }
            (StepKind::Recovery { id }, Ok(StepOutput::Recovery(r))) => {
                self.apply_recovery(id, r).await;
            }
            (StepKind::Recovery { id }, Err(e)) => {
                if self.is_failed(id) {
                    self.emit(Event::SubtaskEscalated {
                        id,
                        reason: format!("no recovery decision: {e}"),
                        by: Actor::Engine,
                    })
                    .await;
                }
            }
            (StepKind::Completion, Ok(StepOutput::Completion(c))) => {
                self.completion_rounds += 1;
                self.emit(Event::CompletionAssessed {
                    complete: c.complete,
                    missing: c.missing,
                })
                .await;
                let mut added = Vec::new();
                if !c.complete {
                    let origin = Origin::Replan {
                        cycle: self.state.replan_log.len() as u32,
                    };
                    let items = c
                        .new_subtasks
                        .into_iter()
                        .map(|p| (p, origin.clone()))
                        .collect();
                    added = self.add_batch(items).await;
                }
                self.assessed = added.is_empty();
            }
            (StepKind::Completion, Err(e)) => {
                self.notice(format!(
                    "the completion assessment failed: {e}; synthesising what is done"
                ))
                .await;
                self.assessed = true;
            }
            (StepKind::Synthesis, Ok(StepOutput::Synthesis(s))) => {
                self.synthesis = Some(s);
                self.evaluated = false;
            }
            (StepKind::Synthesis, Err(e)) => {
                self.finish(RunOutcome::Failed {
                    reason: format!("the synthesis failed: {e}"),
                })
                .await;
            }
            (StepKind::Evaluation { round }, Ok(StepOutput::Evaluation(e))) => {
                let mut added = Vec::new();
                if !e.accepted {
                    let items = e
                        .new_subtasks
                        .into_iter()
                        .map(|p| (p, Origin::Evaluation { round }))
                        .collect();
                    added = self.add_batch(items).await;
                }
                self.emit(Event::EvaluationCompleted {
                    round,
                    accepted: e.accepted,
                    feedback: e.feedback,
                    added: added.clone(),
                })
                .await;
                if added.is_empty() {
                    self.evaluated = true;
                } else {
                    // Work goes back into the loop; synthesise again afterwards.
                    self.synthesis = None;
                    self.assessed = false;
                }
            }
            (StepKind::Evaluation { round }, Err(e)) => {
                self.notice(format!(
                    "evaluation round {round} failed: {e}; keeping the deliverable"
                ))
                .await;
                self.evaluated = true;
            }
            (kind, Ok(out)) => {
                tracing::error!("step {kind:?} returned a mismatched output {out:?}");
            }
        }
    }

    fn is_failed(&self, id: SubtaskId) -> bool {
        self.state
            .subtask(id)
            .is_some_and(|s| matches!(s.status, SubtaskStatus::Failed | SubtaskStatus::Blocked))
    }

    async fn apply_recovery(&mut self, id: SubtaskId, r: RecoveryArgs) {
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

    // ---- messages from tasks -----------------------------------------------------------------

    async fn handle_internal(&mut self, msg: ToEngine) {
        match msg {
            ToEngine::Record { event, done } => {
                self.emit(event).await;
                let _ = done.send(());
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
                    }
                    WorkerOutcome::Failed { error } => {
                        self.emit(Event::SubtaskFailed { id, attempt, error }).await;
                    }
                }
            }
            ToEngine::StepDone { job, result } => self.step_done(job, result).await,
        }
    }

    async fn approve_command(
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

    // ---- commands ----------------------------------------------------------------------------

    async fn handle_command(&mut self, cmd: Command) {
        let by = Actor::Person;
        match cmd {
            Command::Approve { id } => match self.status(id) {
                Some(SubtaskStatus::AwaitingApproval | SubtaskStatus::Deferred) => {
                    self.emit(Event::SubtaskApproved { id, by }).await
                }
                other => self.not_applicable(id, "approve", other).await,
            },
            Command::ApproveAll => {
                let ids: Vec<SubtaskId> = self
                    .state
                    .subtasks
                    .iter()
                    .filter(|s| s.status == SubtaskStatus::AwaitingApproval)
                    .map(|s| s.id)
                    .collect();
                if ids.is_empty() {
                    self.notice("nothing awaits approval").await;
                }
                for id in ids {
                    self.emit(Event::SubtaskApproved { id, by }).await;
                }
            }
            Command::Defer { id } => match self.status(id) {
                Some(SubtaskStatus::AwaitingApproval | SubtaskStatus::Ready) => {
                    self.emit(Event::SubtaskDeferred { id, by }).await
                }
                other => self.not_applicable(id, "defer", other).await,
            },
            Command::Undefer { id } => match self.status(id) {
                Some(SubtaskStatus::Deferred) => {
                    self.limit_deferred.retain(|x| *x != id);
                    self.emit(Event::SubtaskUndeferred { id, by }).await
                }
                other => self.not_applicable(id, "un-defer", other).await,
            },
            Command::Escalate { id, reason } => match self.status(id) {
                Some(s) if !s.is_terminal() && s != SubtaskStatus::Escalated => {
                    self.stop_worker(id).await;
                    let reason = if reason.trim().is_empty() {
                        "escalated by a person".to_string()
                    } else {
                        reason
                    };
                    self.emit(Event::SubtaskEscalated { id, reason, by }).await;
                }
                other => self.not_applicable(id, "escalate", other).await,
            },
            Command::Resolve { id, resolution } => match self.status(id) {
                Some(SubtaskStatus::Escalated) => {
                    if let Resolution::Reassign { role, .. } = &resolution {
                        if !self.role_names.contains(role) {
                            self.notice(format!(
                                "unknown role `{role}`; roles: {}",
                                self.role_names.join(", ")
                            ))
                            .await;
                            return;
                        }
                    }
                    self.emit(Event::EscalationResolved { id, resolution, by })
                        .await;
                }
                other => self.not_applicable(id, "resolve", other).await,
            },
            Command::Edit { id, patch } => {
                if let Some(d) = &patch.depends_on {
                    if let Err(e) = deps::check_new_deps(&self.state, id, d) {
                        self.notice(format!("cannot edit {id}: {e}")).await;
                        return;
                    }
                }
                if patch.is_empty() {
                    self.notice(format!("nothing to change in {id}")).await;
                    return;
                }
                self.edit(id, patch, by).await;
            }
            Command::Add { subtask } => {
                let added = self.add_batch(vec![(subtask, Origin::Person)]).await;
                if added.is_empty() {
                    self.notice("the subtask was not added (see the rejection)")
                        .await;
                }
            }
            Command::Cancel { id } => {
                self.cancel(id, "cancelled by a person".into(), by).await;
            }
            Command::Pause => {
                if self.state.paused {
                    self.notice("dispatch is already paused").await;
                } else {
                    self.emit(Event::DispatchPaused { by }).await;
                }
            }
            Command::Resume => {
                if self.state.paused {
                    self.emit(Event::DispatchResumed { by }).await;
                } else {
                    self.notice("dispatch is not paused").await;
                }
            }
            Command::SetMaxWorkers { max_workers } => {
                if max_workers == 0 {
                    self.notice("max workers must be at least 1 (use pause to stop dispatch)")
                        .await;
                } else {
                    self.emit(Event::MaxWorkersChanged { max_workers, by })
                        .await;
                }
            }
            Command::ChooseMode { mode } => {
                if self.state.mode_choice.is_some() && self.state.mode.is_none() {
                    if self.analysis_subtasks.is_none() {
                        self.notice("the analysis is being redone; choose again after it")
                            .await;
                        return;
                    }
                    self.choose_mode(mode, by).await;
                } else {
                    self.notice("no run-mode choice is pending").await;
                }
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
                    self.notice(format!("command request {request} is not waiting"))
                        .await
                }
            },
            Command::Rollback { id } => self.rollback(id).await,
            Command::Stop => {
                self.finish(RunOutcome::Stopped {
                    reason: "stopped by a person".into(),
                })
                .await;
            }
        }
    }

    fn status(&self, id: SubtaskId) -> Option<SubtaskStatus> {
        self.state.subtask(id).map(|s| s.status)
    }

    async fn not_applicable(&mut self, id: SubtaskId, what: &str, status: Option<SubtaskStatus>) {
        let msg = match status {
            None => format!("cannot {what} {id}: there is no such subtask"),
            Some(s) => format!("cannot {what} {id}: it is {}", s.label()),
        };
        self.notice(msg).await;
    }

    async fn rollback(&mut self, id: SubtaskId) {
        let Some(tools) = self.cfg.tools.clone() else {
            self.notice("rollback needs workspace tools (--workspace)")
                .await;
            return;
        };
        if self.running.contains_key(&id) {
            self.notice(format!("{id} is running; cancel it before rolling back"))
                .await;
            return;
        }
        let changes: Vec<_> = self
            .state
            .files
            .iter()
            .filter(|f| f.id == id && !f.rolled_back)
            .cloned()
            .collect();
        if changes.is_empty() {
            self.notice(format!("{id} changed no files")).await;
            return;
        }
        match tools.rollback(&changes).await {
            Ok(files) => {
                self.emit(Event::SubtaskRolledBack {
                    id,
                    files,
                    by: Actor::Person,
                })
                .await
            }
            Err(e) => self.notice(format!("rollback of {id} failed: {e}")).await,
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// One sentence naming what waits for a person.
fn describe_needs(state: &State, needs: &[NeedsPerson]) -> String {
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
        })
        .collect();
    format!("needs a person: {}", parts.join("; "))
}
