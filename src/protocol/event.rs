//! [`Event`]s, the journal's record format ([`Envelope`]) and the run's [`Phase`].
//!
//! Events are facts, in order: they are appended to the journal *before* the engine acts
//! on them, broadcast to the front end, and folded by `crate::state::apply` into the run's
//! `State`. Events and commands are serde-tagged (`"type": "snake_case_name"`) and
//! versioned through [`JOURNAL_VERSION`] in the [`Envelope`].
//!
//! Must not contain behaviour beyond small helpers: the rules live in the reducer and the loop.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::calls::{RetryNotice, ThrottleNotice, Usage};
use super::forecast::{BudgetStage, Forecast, Imbalance};
use super::ids::{SubtaskId, WorkerId};
use super::payload::*;
use super::plan_diff::{DiffSource, PlanChange};
use super::settings::{DispatchPolicy, RunSettings, SettingChange};
use super::steer::Steer;

fn is_false(b: &bool) -> bool {
    !*b
}

/// Bumped when an event's shape changes incompatibly.
pub const JOURNAL_VERSION: u32 = 1;

/// One journal line: `{"seq":1,"ts":"...","v":1,"type":"run_started",...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub seq: u64,
    pub ts: DateTime<Utc>,
    pub v: u32,
    #[serde(flatten)]
    pub event: Event,
}

/// A fact about the run. One journal line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    // ---- run lifecycle -------------------------------------------------------------
    RunStarted {
        run_id: String,
        /// The task, journaled once; shared (`Arc`) by the state, the front end and prompts.
        task: Arc<str>,
        settings: RunSettings,
    },
    /// The run was reopened from its journal.
    RunResumed {
        /// Subtasks that were running when the process stopped; they run again.
        interrupted: Vec<SubtaskId>,
        /// A torn (partial) last journal line was found and dropped.
        torn_line_dropped: bool,
    },
    /// This run was forked from another run's journal prefix (`baton fork`): the events
    /// before this one are `parent_run`'s up to `parent_seq` (its `run_started` renamed).
    RunForked {
        parent_run: String,
        parent_seq: u64,
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
        /// The first subtasks the analysis proposed, journaled before the mode choice so a
        /// resume does not ask the model again. Absent in journals written before 0.x
        /// carried it: such a run redoes the analysis on resume.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_subtasks: Option<Vec<ProposedSubtask>>,
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
        /// When `task_omitted`, the overall task is left out (it is `run_started`'s, stored
        /// once); `State::brief_as_sent` rebuilds what the worker saw.
        brief: String,
        /// The brief was journaled without the overall task. Absent (false) in journals
        /// written before the task was stored once: there `brief` is the whole text.
        #[serde(default, skip_serializing_if = "is_false")]
        task_omitted: bool,
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
    /// A person steered one subtask's worker (`attempt`: the attempt running then, or the
    /// latest one): paused, resumed, gave a note or a model, restarted it.
    WorkerSteered {
        id: SubtaskId,
        attempt: u32,
        steer: Steer,
        by: Actor,
    },

    // ---- replanning --------------------------------------------------------------------
    /// Reports the engine took as handled without a replan (single-worker mode, winding
    /// down, a replan that failed): they never ask for a replan again, after a resume either.
    ReportsCovered {
        ids: Vec<SubtaskId>,
    },
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

    /// Under the `plan` approval policy: a replan's (or an evaluation round's) changes,
    /// held as a diff for a person before they touch the plan. `proposal` numbers them
    /// from 1; the reports a replan covered count as covered from here on.
    PlanDiffProposed {
        proposal: u32,
        source: DiffSource,
        changes: Vec<PlanChange>,
    },
    /// A decision on one row (`change`, from 0) of a proposed diff; once every row is
    /// decided the accepted ones are applied (the replan's own events follow).
    PlanChangeDecided {
        proposal: u32,
        change: u32,
        accepted: bool,
        by: Actor,
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
    /// A subtask's own dispatch policy was set (it overrides its role's).
    DispatchPolicySet {
        id: SubtaskId,
        policy: DispatchPolicy,
        by: Actor,
    },
    /// A runnable subtask whose policy is `ask` waits for a person's approval to start.
    DispatchAsked {
        id: SubtaskId,
    },
    /// The provider layer started, changed or stopped throttling an endpoint.
    ProviderThrottled {
        notice: ThrottleNotice,
    },
    /// A resumed run continues with other settings than its journal held (flags given to
    /// `baton resume`, or resume trust narrowing them): what changed, and the settings now
    /// in force (the reducer takes them, so a later resume and `export` see them). Never
    /// holds a key.
    SettingsChanged {
        changes: Vec<SettingChange>,
        settings: RunSettings,
        by: Actor,
    },

    /// The forecast of the remaining plan, after the analysis and after every replan.
    ForecastUpdated {
        forecast: Forecast,
    },
    /// A dispatch was about to cross a budget stage (`budget_stages`); the scope alert
    /// `stage.alert` follows and the subtask waits for its answer. Fires once per stage.
    BudgetStageReached {
        stage: BudgetStage,
    },
    /// One role or worker came to hold (or stopped holding) 80 % or more of the finished
    /// work; `None` when the work is balanced again.
    BalanceChanged {
        imbalance: Option<Imbalance>,
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
    /// A rollback of `id`'s changes passed its check and is about to restore `files`:
    /// journaled (and synced) before any file is touched. `SubtaskRolledBack` ends it; a
    /// journal whose last rollback has no end was interrupted, and the next process that
    /// opens the run finishes it (the restore is idempotent).
    RollbackStarted {
        id: SubtaskId,
        files: Vec<String>,
    },
    SubtaskRolledBack {
        id: SubtaskId,
        files: Vec<String>,
        by: Actor,
    },

    // ---- git worktrees (`isolation = "worktree"`) -------------------------------------------
    /// A worktree is ready: the run's (`id` absent), or a writing worker's for this attempt
    /// (its branch set to the run branch's head `base`). `created` is false when an existing
    /// worktree was reused (a resumed run, a new attempt).
    WorktreeCreated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<SubtaskId>,
        attempt: u32,
        branch: String,
        /// Where the workers' tools are rooted: the worktree (or the workspace's place in it).
        path: String,
        base: String,
        created: bool,
    },
    /// A worker's branch was merged into the run's branch (`before` → `after`), on its report.
    BranchMerged {
        id: SubtaskId,
        attempt: u32,
        branch: String,
        before: String,
        after: String,
        fast_forward: bool,
        files: Vec<String>,
    },
    /// A worker's branch did not merge into the run's branch; the merge was aborted (the run
    /// branch is unchanged). `hunks`: the conflicting hunks, capped.
    MergeConflicted {
        id: SubtaskId,
        attempt: u32,
        branch: String,
        files: Vec<String>,
        hunks: String,
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
        /// Findings not turned into work because the round limit (`evaluate_rounds`) was
        /// reached: the synthesis is final and the summary says so.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        left: Vec<String>,
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
