//! The protocol between the engine and its front ends, and the journal's record format.
//!
//! [`Event`]s are facts, in order: they are appended to the journal *before* the engine acts
//! on them, broadcast to the front end, and folded by [`super::plan::apply`] into the run's
//! [`super::plan::State`]. [`Command`]s are what a person (TUI), or a policy (headless), asks
//! of the engine. Both are serde-tagged (`"type": "snake_case_name"`) and versioned through
//! [`JOURNAL_VERSION`] in the [`Envelope`].
//!
//! Must not contain behaviour beyond small helpers: the rules live in the reducer and the loop.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::llm::{RetryNotice, Usage};

/// Bumped when an event's shape changes incompatibly.
pub const JOURNAL_VERSION: u32 = 1;

/// A subtask id, shown as `#7`. Ids start at 1 and are never reused within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubtaskId(pub u32);

impl fmt::Display for SubtaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A worker slot number (1-based), for the UI's panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(pub u32);

/// One journal line: `{"seq":1,"ts":"...","v":1,"type":"run_started",...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub seq: u64,
    pub ts: DateTime<Utc>,
    pub v: u32,
    #[serde(flatten)]
    pub event: Event,
}

/// Who made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A person, through the TUI (or a command file).
    Person,
    /// The approval policy (headless or `--approve auto`).
    Policy,
    /// The orchestrator model.
    Orchestrator,
    /// The engine's own rules (limits, dependency checks).
    Engine,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    /// Sort key: high first.
    pub fn rank(self) -> u8 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }
}

/// `--approve auto|scope|all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// Only escalations wait for a person.
    Auto,
    /// Discovered subtasks, scope alerts and escalations wait for a person.
    #[default]
    Scope,
    /// Every new subtask waits for a person (plus scope alerts and escalations).
    All,
}

/// Limits that stop scope explosion. `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Limits {
    pub max_subtasks: Option<u32>,
    pub max_cycles: Option<u32>,
    pub max_tokens: Option<u64>,
    pub budget_usd: Option<f64>,
    pub max_wall_secs: Option<u64>,
}

/// The settings a run was started with (journaled in `RunStarted`; no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub provider: String,
    pub base_url: String,
    pub orchestrator_model: String,
    pub worker_model: String,
    pub max_workers: u32,
    pub approve: ApprovalPolicy,
    pub limits: Limits,
    pub complexity_threshold: f64,
    pub evaluate: bool,
    pub workspace: Option<String>,
    pub read_only: bool,
    pub allow_commands: bool,
}

/// The orchestrator's first look at the task (`submit_analysis` without the subtasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub complexity: f64,
    pub task_type: String,
    pub known_requirements: Vec<String>,
    pub unknowns: Vec<String>,
    pub estimated_subtasks: u32,
    pub strategy: String,
}

/// How the run proceeds after analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    Orchestrate,
    SingleWorker,
}

/// Where a subtask came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// The first subtasks of the analysis.
    Analysis,
    /// Reported as a new subtask by the worker of `from`, added in replan `cycle`.
    Discovered { from: SubtaskId, cycle: u32 },
    /// Added by the orchestrator in a replan (not from a worker's list).
    Replan { cycle: u32 },
    /// Added by a person.
    Person,
    /// Produced by a `decompose` recovery of `from`.
    Decomposed { from: SubtaskId },
    /// Produced by the evaluator pass.
    Evaluation { round: u32 },
    /// The single subtask of a single-worker run.
    SingleWorker,
}

/// A subtask as added to the plan (dependencies already resolved to ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskSpec {
    pub id: SubtaskId,
    pub title: String,
    pub description: String,
    pub role: String,
    pub priority: Priority,
    pub depends_on: Vec<SubtaskId>,
    pub expected_output: String,
}

/// A change to a subtask (by a replan or a person). `None` fields are unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SubtaskPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<SubtaskId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_output: Option<String>,
}

impl SubtaskPatch {
    pub fn is_empty(&self) -> bool {
        self == &SubtaskPatch::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Complete,
    Partial,
    Blocked,
}

/// A new subtask as a model writes it (dependencies as titles or `#id`s, unresolved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposedSubtask {
    pub title: String,
    pub description: String,
    pub role: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub expected_output: String,
}

/// A worker's `submit_report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub status: ReportStatus,
    pub results: String,
    pub discoveries: Vec<String>,
    pub recommendations: Vec<String>,
    pub new_subtasks: Vec<ProposedSubtask>,
}

/// What kind of LLM call a usage record belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallPurpose {
    Analysis,
    Worker { id: SubtaskId, attempt: u32 },
    Replan { cycle: u32 },
    Recovery { id: SubtaskId },
    Completion,
    Synthesis,
    Evaluation { round: u32 },
}

/// `decide_recovery`'s action, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RecoveryAction {
    Retry,
    Reassign {
        role: String,
    },
    /// The failed subtask is cancelled; these new ones (already added) replace it.
    Decompose {
        into: Vec<SubtaskId>,
    },
    Escalate,
}

/// How a person resolved an escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Resolution {
    /// Run again with this guidance added to the brief.
    Retry {
        guidance: String,
    },
    /// Run again under another role, with optional guidance.
    Reassign {
        role: String,
        guidance: String,
    },
    /// The person supplies the result; the subtask completes with it.
    MarkDone {
        result: String,
    },
    Cancel,
}

/// Which limit a scope alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Subtasks,
    Cycles,
    Tokens,
    Cost,
    WallClock,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Subtasks => "subtasks",
            LimitKind::Cycles => "replan cycles",
            LimitKind::Tokens => "tokens",
            LimitKind::Cost => "cost (USD)",
            LimitKind::WallClock => "wall-clock seconds",
        })
    }
}

/// A person's (or the policy's) answer to a scope alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ScopeDecision {
    /// Raise the limit to this value (same unit as the alert).
    RaiseLimit { to: f64 },
    /// Defer every pending low-priority subtask and continue.
    DeferLowPriority,
    /// Run nothing new; synthesise what is done.
    StopAndSynthesize,
}

/// The answer to a command-approval request (workspace tools).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum CommandDecision {
    AllowOnce,
    /// Allow, and add the command to this run's allow list.
    AllowAlways,
    Deny {
        reason: String,
    },
}

/// The final deliverable (`submit_synthesis`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Synthesis {
    pub deliverable: String,
    pub integration_points: Vec<String>,
    pub conflicts: Vec<String>,
    pub coherence: String,
}

/// Numbers of the execution summary, computed from the journal (never from the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ExecutionSummary {
    pub subtasks_total: u32,
    pub initial_estimate: u32,
    pub completed: u32,
    pub failed: u32,
    pub cancelled: u32,
    pub deferred: u32,
    /// (role, subtasks run by it)
    pub per_role: Vec<(String, u32)>,
    pub replan_cycles: u32,
    /// Key pivots: replans that cancelled work, recoveries, scope decisions.
    pub pivots: Vec<String>,
    pub elapsed_secs: f64,
    pub tokens: Usage,
    /// `None` when some model had no known price.
    pub cost_usd: Option<f64>,
    pub retries: u32,
    pub evaluation_rounds: u32,
    pub files_changed: Vec<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunOutcome {
    Completed,
    Failed {
        reason: String,
    },
    /// Stopped because something needs a person (headless) or the person quit; resumable.
    Stopped {
        reason: String,
    },
}

/// A fact about the run. One journal line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    // ---- run lifecycle -------------------------------------------------------------
    RunStarted {
        run_id: String,
        task: String,
        settings: RunSettings,
    },
    /// The run was reopened from its journal.
    RunResumed {
        /// Subtasks that were running when the process stopped; they run again.
        interrupted: Vec<SubtaskId>,
        /// A torn (partial) last journal line was found and dropped.
        torn_line_dropped: bool,
    },
    PhaseChanged {
        phase: Phase,
    },
    RunFinished {
        outcome: RunOutcome,
    },

    // ---- analysis --------------------------------------------------------------------
    AnalysisCompleted {
        analysis: Analysis,
    },
    /// Complexity is below the threshold: someone must choose orchestrate vs single worker.
    ModeChoiceRequested {
        complexity: f64,
        threshold: f64,
    },
    ModeChosen {
        mode: RunMode,
        by: Actor,
    },

    // ---- the plan ----------------------------------------------------------------------
    SubtaskAdded {
        spec: SubtaskSpec,
        origin: Origin,
        /// True when a person must approve it before it can run.
        needs_approval: bool,
    },
    /// A proposed subtask the engine refused (unknown dependency, cycle, over the limit).
    SubtaskRejected {
        title: String,
        reason: String,
    },
    SubtaskApproved {
        id: SubtaskId,
        by: Actor,
    },
    SubtaskDeferred {
        id: SubtaskId,
        by: Actor,
    },
    SubtaskUndeferred {
        id: SubtaskId,
        by: Actor,
    },
    SubtaskEdited {
        id: SubtaskId,
        patch: SubtaskPatch,
        by: Actor,
    },
    SubtaskCancelled {
        id: SubtaskId,
        reason: String,
        by: Actor,
    },

    // ---- workers -----------------------------------------------------------------------
    SubtaskStarted {
        id: SubtaskId,
        attempt: u32,
        worker: WorkerId,
        role: String,
        model: String,
        /// The brief the worker was given (task, shared decisions, dependency results).
        brief: String,
    },
    /// A worker used a workspace tool (the tool transcript).
    WorkerToolUsed {
        id: SubtaskId,
        attempt: u32,
        tool: String,
        /// Short, human-readable: `read_file src/api.rs (212 lines)`.
        summary: String,
        is_error: bool,
        /// The call's arguments, as the model sent them.
        #[serde(default)]
        input: serde_json::Value,
        /// The result exactly as the model received it (already capped by the tool, with a
        /// note of what was cut): with `input`, the worker's tool transcript.
        #[serde(default)]
        output: String,
    },
    /// A worker's final text output and report; durable before anything depends on it.
    SubtaskReported {
        id: SubtaskId,
        attempt: u32,
        output: String,
        report: Report,
    },
    SubtaskFailed {
        id: SubtaskId,
        attempt: u32,
        error: String,
    },
    RecoveryDecided {
        id: SubtaskId,
        action: RecoveryAction,
        rationale: String,
        impact: String,
        by: Actor,
    },
    SubtaskEscalated {
        id: SubtaskId,
        reason: String,
        by: Actor,
    },
    EscalationResolved {
        id: SubtaskId,
        resolution: Resolution,
        by: Actor,
    },

    // ---- replanning --------------------------------------------------------------------
    /// One replan cycle applied; the added / edited / cancelled subtasks are their own
    /// events just before this one.
    ReplanLogged {
        cycle: u32,
        /// The reports this replan covered.
        covered: Vec<SubtaskId>,
        summary: String,
        added: Vec<SubtaskId>,
        updated: Vec<SubtaskId>,
        cancelled: Vec<SubtaskId>,
        scope_note: String,
        estimate_before: u32,
        estimate_now: u32,
    },

    // ---- cost, limits, control -----------------------------------------------------------
    LlmUsage {
        purpose: CallPurpose,
        model: String,
        usage: Usage,
        cost_usd: Option<f64>,
    },
    LlmRetried {
        purpose: CallPurpose,
        notice: RetryNotice,
    },
    ScopeAlertRaised {
        alert: u32,
        limit: LimitKind,
        current: f64,
        max: f64,
        /// Subtasks not yet run when the alert was raised.
        pending: Vec<SubtaskId>,
    },
    ScopeAlertResolved {
        alert: u32,
        decision: ScopeDecision,
        by: Actor,
    },
    DispatchPaused {
        by: Actor,
    },
    DispatchResumed {
        by: Actor,
    },
    MaxWorkersChanged {
        max_workers: u32,
        by: Actor,
    },

    // ---- workspace tools ----------------------------------------------------------------
    CommandApprovalRequested {
        request: u32,
        id: SubtaskId,
        command: String,
        cwd: String,
    },
    CommandApprovalDecided {
        request: u32,
        decision: CommandDecision,
        by: Actor,
    },
    FileChanged {
        id: SubtaskId,
        path: String,
        /// SHA-256 hex of the content before (`None`: the file did not exist).
        before: Option<String>,
        /// SHA-256 hex after (`None`: the file was deleted).
        after: Option<String>,
        /// Backup of the original in the run directory, relative to it.
        backup: Option<String>,
    },
    /// Two workers wrote the same file; reported to the orchestrator.
    FileConflict {
        id: SubtaskId,
        path: String,
        detail: String,
    },
    SubtaskRolledBack {
        id: SubtaskId,
        files: Vec<String>,
        by: Actor,
    },

    // ---- the end -----------------------------------------------------------------------
    CompletionAssessed {
        complete: bool,
        missing: Vec<String>,
    },
    EvaluationCompleted {
        round: u32,
        accepted: bool,
        feedback: String,
        added: Vec<SubtaskId>,
    },
    SynthesisCompleted {
        synthesis: Synthesis,
        summary: ExecutionSummary,
    },
    /// Something worth telling a person that changes no state (a warning).
    Notice {
        message: String,
    },
}

/// What the run is doing, for the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Starting,
    Analysing,
    Running,
    Replanning,
    Recovering,
    Assessing,
    Synthesising,
    Evaluating,
    Done,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Starting => "starting",
            Phase::Analysing => "analysing",
            Phase::Running => "running",
            Phase::Replanning => "replanning",
            Phase::Recovering => "recovering",
            Phase::Assessing => "assessing",
            Phase::Synthesising => "synthesising",
            Phase::Evaluating => "evaluating",
            Phase::Done => "done",
        })
    }
}

/// What a person or policy asks of the engine. Accepted at any time; ones that do not
/// apply (approve a running subtask) are answered with a `Notice` event, never a panic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    Approve {
        id: SubtaskId,
    },
    ApproveAll,
    Defer {
        id: SubtaskId,
    },
    Undefer {
        id: SubtaskId,
    },
    /// Hand a subtask to a person now (stops it if running).
    Escalate {
        id: SubtaskId,
        reason: String,
    },
    Resolve {
        id: SubtaskId,
        resolution: Resolution,
    },
    Edit {
        id: SubtaskId,
        patch: SubtaskPatch,
    },
    /// Add a subtask by hand; `depends_on` as titles or `#id`s.
    Add {
        subtask: ProposedSubtask,
    },
    Cancel {
        id: SubtaskId,
    },
    Pause,
    Resume,
    SetMaxWorkers {
        max_workers: u32,
    },
    ChooseMode {
        mode: RunMode,
    },
    ResolveScopeAlert {
        alert: u32,
        decision: ScopeDecision,
    },
    DecideCommand {
        request: u32,
        decision: CommandDecision,
    },
    Rollback {
        id: SubtaskId,
    },
    /// Stop the run now; it stays resumable.
    Stop,
    /// Stop the run now because the process got a signal (`SIGTERM`, `SIGHUP`, ...); it
    /// stays resumable, and the journaled reason names the signal, not a person.
    StopForSignal {
        signal: String,
    },
}

/// Live, lossy output of a worker or the orchestrator, for the UI only (not journaled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// `None`: the orchestrator.
    pub subtask: Option<SubtaskId>,
    pub attempt: u32,
    pub event: crate::llm::StreamEvent,
}
