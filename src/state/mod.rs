//! The run's state and the one reducer that builds it: `State = fold(apply, events)`, a
//! leaf that imports only `protocol`.
//!
//! Used by the engine (its own state), the TUI (a replica fed the same events) and resume
//! (replaying the journal). `apply` (in `reduce/`, one file per event family) is pure and
//! total: an event that does not fit the state (an unknown id) is ignored, never a panic,
//! so a damaged journal still folds. Queries every reader needs (`queries`) and the rule
//! book of which command applies now (`rules`, [`State::check`]) live here too, so no
//! front end re-derives the rules. This file owns the state's types.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::protocol::*;

pub mod balance;
pub mod deps;
pub mod forecast;
pub mod graph;
pub mod plan_diff;
mod queries;
mod reduce;
mod rules;
mod steer;

pub use plan_diff::{ChangeDecision, PlanDiffRecord};
pub use reduce::apply;
pub use rules::Refusal;
pub use steer::{PersonNote, SteerRecord, Steering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubtaskStatus {
    /// Proposed; waits for a person's approval.
    AwaitingApproval,
    /// Put aside by a person or by a scope decision; not run until un-deferred.
    Deferred,
    /// Approved; runs when its dependencies are done and a worker is free.
    Ready,
    Running,
    Complete,
    Partial,
    Blocked,
    Failed,
    /// Waits for a person to resolve it.
    Escalated,
    Cancelled,
}

impl SubtaskStatus {
    /// Finished for good (nothing more will run for it unless someone acts).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SubtaskStatus::Complete | SubtaskStatus::Partial | SubtaskStatus::Cancelled
        )
    }
    /// Its result can feed the subtasks that depend on it.
    pub fn satisfies_dependency(self) -> bool {
        matches!(self, SubtaskStatus::Complete | SubtaskStatus::Partial)
    }
    pub fn label(self) -> &'static str {
        match self {
            SubtaskStatus::AwaitingApproval => "awaiting approval",
            SubtaskStatus::Deferred => "deferred",
            SubtaskStatus::Ready => "ready",
            SubtaskStatus::Running => "running",
            SubtaskStatus::Complete => "complete",
            SubtaskStatus::Partial => "partial",
            SubtaskStatus::Blocked => "blocked",
            SubtaskStatus::Failed => "failed",
            SubtaskStatus::Escalated => "escalated",
            SubtaskStatus::Cancelled => "cancelled",
        }
    }
}

/// A role as a person reads it, the same on screen and in exports: `code_developer` →
/// `code developer`.
pub fn role_label(role: &str) -> String {
    role.replace('_', " ")
}

/// One recovery decision on a subtask, for the detail view and the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryRecord {
    pub action: RecoveryAction,
    pub rationale: String,
    pub impact: String,
    pub by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subtask {
    pub id: SubtaskId,
    pub title: String,
    pub description: String,
    pub role: String,
    pub priority: Priority,
    pub depends_on: Vec<SubtaskId>,
    pub expected_output: String,
    pub origin: Origin,
    pub status: SubtaskStatus,
    /// Deferred by the engine because it was over the subtask limit (held back until the
    /// limit is raised); cleared when it is un-deferred or approved.
    #[serde(default)]
    pub held_by_limit: bool,
    /// Has a person or the policy approved it (ever)?
    pub approved: bool,
    /// Attempts started so far.
    pub attempts: u32,
    pub worker: Option<WorkerId>,
    pub model: Option<String>,
    /// The brief of the latest attempt, as journaled (see `State::brief_as_sent`).
    pub brief: Option<String>,
    /// `brief` leaves out the overall task (the run's, stored once).
    #[serde(default)]
    pub brief_task_omitted: bool,
    /// Guidance a person gave when resolving an escalation (added to the next brief).
    pub guidance: Option<String>,
    /// The worker's final text output of the latest attempt that reported.
    pub output: Option<String>,
    pub report: Option<Report>,
    pub last_error: Option<String>,
    /// Why it is escalated (when it is).
    pub escalation: Option<String>,
    pub recoveries: Vec<RecoveryRecord>,
    pub tool_uses: Vec<(String, String, bool)>,
    pub files_changed: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub usage: Usage,
    pub cost_usd: f64,
    /// Its own dispatch policy, set by a person (`None`: its role's).
    #[serde(default)]
    pub dispatch: Option<DispatchPolicy>,
    /// It asked to start (policy `ask`) and waits for a person's approval.
    #[serde(default)]
    pub asked: bool,
    /// A person approved it to start after it asked (it does not ask again).
    #[serde(default)]
    pub go: bool,
}

impl Subtask {
    pub(in crate::state) fn from_spec(
        spec: &SubtaskSpec,
        origin: &Origin,
        needs_approval: bool,
    ) -> Self {
        Self {
            id: spec.id,
            title: spec.title.clone(),
            description: spec.description.clone(),
            role: spec.role.clone(),
            priority: spec.priority,
            depends_on: spec.depends_on.clone(),
            expected_output: spec.expected_output.clone(),
            origin: origin.clone(),
            status: if needs_approval {
                SubtaskStatus::AwaitingApproval
            } else {
                SubtaskStatus::Ready
            },
            held_by_limit: false,
            approved: !needs_approval,
            attempts: 0,
            worker: None,
            model: None,
            brief: None,
            brief_task_omitted: false,
            guidance: None,
            output: None,
            report: None,
            last_error: None,
            escalation: None,
            recoveries: Vec::new(),
            tool_uses: Vec::new(),
            files_changed: Vec::new(),
            started_at: None,
            finished_at: None,
            usage: Usage::default(),
            cost_usd: 0.0,
            dispatch: None,
            asked: false,
            go: false,
        }
    }

    pub(in crate::state) fn apply_patch(&mut self, patch: &SubtaskPatch) {
        if let Some(v) = &patch.title {
            self.title = v.clone();
        }
        if let Some(v) = &patch.description {
            self.description = v.clone();
        }
        if let Some(v) = &patch.role {
            self.role = v.clone();
        }
        if let Some(v) = patch.priority {
            self.priority = v;
        }
        if let Some(v) = &patch.depends_on {
            self.depends_on = v.clone();
        }
        if let Some(v) = &patch.expected_output {
            self.expected_output = v.clone();
        }
    }

    /// Back to the queue after a recovery or resolution.
    pub(in crate::state) fn requeue(&mut self) {
        self.status = SubtaskStatus::Ready;
        self.approved = true;
        self.worker = None;
        self.escalation = None;
    }
}

/// One replan cycle, for the replan log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplanEntry {
    pub cycle: u32,
    pub covered: Vec<SubtaskId>,
    pub summary: String,
    pub added: Vec<SubtaskId>,
    pub updated: Vec<SubtaskId>,
    pub cancelled: Vec<SubtaskId>,
    pub scope_note: String,
    pub estimate_before: u32,
    pub estimate_now: u32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeAlert {
    pub alert: u32,
    pub limit: LimitKind,
    pub current: f64,
    pub max: f64,
    pub pending: Vec<SubtaskId>,
    pub resolution: Option<ScopeDecision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub request: u32,
    pub id: SubtaskId,
    pub command: String,
    pub cwd: String,
    pub decision: Option<CommandDecision>,
}

/// A rollback that was journaled as started and has not ended (see `Event::RollbackStarted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackInProgress {
    pub id: SubtaskId,
    /// The files it restores (some may already be back to their content before).
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileChange {
    pub id: SubtaskId,
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub backup: Option<String>,
    pub rolled_back: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRecord {
    pub round: u32,
    pub accepted: bool,
    pub feedback: String,
    pub added: Vec<SubtaskId>,
    /// Findings left when the round limit was reached (`evaluation_completed.left`).
    #[serde(default)]
    pub left: Vec<String>,
}

/// Tokens and cost of one role's calls (`orchestrator` for the orchestrator's).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleUsage {
    pub role: String,
    pub usage: Usage,
    pub cost_usd: f64,
}

/// Something waiting for a person, in the order the UI should show them.
#[derive(Debug, Clone, PartialEq)]
pub enum NeedsPerson {
    ModeChoice {
        complexity: f64,
        threshold: f64,
    },
    ScopeAlert(u32),
    Escalation(SubtaskId),
    CommandApproval(u32),
    Approval(SubtaskId),
    /// A proposed plan diff (`plan` policy) waits for decisions.
    PlanDiff(u32),
}

/// What a worktree run did in git (`WorktreeCreated`, `BranchMerged`, `MergeConflicted`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GitRecord {
    /// The run's branch and worktree, once created.
    pub run_branch: Option<(String, String)>,
    /// `(subtask, attempt, branch, path)` of each worker worktree made ready.
    pub trees: Vec<(SubtaskId, u32, String, String)>,
    pub merges: Vec<MergeRecord>,
    /// `(subtask, attempt, files)` of each merge that conflicted.
    pub conflicts: Vec<(SubtaskId, u32, Vec<String>)>,
}

impl GitRecord {
    /// The latest worktree of subtask `id` (where its changed files are), if it had one.
    pub fn worktree_of(&self, id: SubtaskId) -> Option<&str> {
        self.trees
            .iter()
            .rev()
            .find(|(i, _, _, _)| *i == id)
            .map(|(_, _, _, path)| path.as_str())
    }
}

/// One worker branch merged into the run's branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub id: SubtaskId,
    pub attempt: u32,
    pub before: String,
    pub after: String,
    pub fast_forward: bool,
    pub files: Vec<String>,
    /// Undone by a rollback (a revert commit on the run branch).
    pub reverted: bool,
}

/// The whole run as the events describe it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    pub run_id: String,
    /// The run's task, shared with the events and prompts that carry it (`Arc`).
    pub task: std::sync::Arc<str>,
    pub settings: Option<RunSettings>,
    pub started_at: Option<DateTime<Utc>>,
    /// Timestamp of the latest event folded.
    pub last_event_at: Option<DateTime<Utc>>,
    /// Seconds the run was running before its latest start or resume (each stretch ends
    /// with the last event before the resume: a stop, or a process that died).
    #[serde(default)]
    pub run_secs_before: f64,
    /// When the run last started or resumed.
    #[serde(default)]
    pub running_since: Option<DateTime<Utc>>,
    pub last_seq: u64,
    pub phase: Phase,
    pub analysis: Option<Analysis>,
    pub mode: Option<RunMode>,
    /// `(complexity, threshold)` while a mode choice is pending.
    pub mode_choice: Option<(f64, f64)>,
    /// The analysis's first subtasks, until a mode is chosen (`None`: no analysis yet, or
    /// one from a journal that did not carry them, which is then redone).
    pub first_subtasks: Option<Vec<ProposedSubtask>>,
    /// Reports already given to a replan or covered without one (`ReportsCovered`).
    pub covered: BTreeSet<SubtaskId>,
    /// Index `i` holds subtask `#(i+1)`.
    pub subtasks: Vec<Subtask>,
    pub rejected: Vec<(String, String)>,
    pub replan_log: Vec<ReplanEntry>,
    pub alerts: Vec<ScopeAlert>,
    pub paused: bool,
    pub max_workers: u32,
    pub limits: Limits,
    pub usage: Usage,
    pub cost_usd: f64,
    /// LLM calls whose model had no known price (cost is then a lower bound).
    pub unpriced_calls: u32,
    pub llm_calls: u32,
    pub retries: u32,
    /// The latest retry, for the header's backoff indicator.
    pub last_retry: Option<(DateTime<Utc>, RetryNotice)>,
    pub command_requests: Vec<CommandRequest>,
    /// Commands allowed for the rest of the run (`allow always`).
    pub allowed_commands: Vec<String>,
    pub files: Vec<FileChange>,
    /// A rollback journaled as started (`rollback_started`) and not yet ended
    /// (`subtask_rolled_back`): its files may be partly restored. Whoever opens the run to
    /// write finishes it first.
    #[serde(default)]
    pub rollback_in_progress: Option<RollbackInProgress>,
    pub conflicts: Vec<(SubtaskId, String, String)>,
    /// Git worktree isolation: the worktrees made ready and the merges into the run branch.
    #[serde(default)]
    pub git: GitRecord,
    pub completion: Option<(bool, Vec<String>)>,
    pub evaluations: Vec<EvaluationRecord>,
    pub synthesis: Option<Synthesis>,
    pub summary: Option<ExecutionSummary>,
    pub outcome: Option<RunOutcome>,
    pub notices: Vec<String>,
    pub resumes: u32,
    /// `(parent run id, parent seq)` when this run was forked from another.
    #[serde(default)]
    pub forked_from: Option<(String, u64)>,
    /// Endpoints the provider layer is throttling now, by host (the header shows them).
    #[serde(default)]
    pub throttled: std::collections::BTreeMap<String, ThrottleNotice>,
    /// The budget forecast, the budget stages reached and the balance of finished work.
    #[serde(default)]
    pub outlook: forecast::Outlook,
    /// What a person did to single workers (pauses, notes, models, restarts), by subtask.
    #[serde(default)]
    pub steering: std::collections::BTreeMap<SubtaskId, Steering>,
    /// Plan diffs proposed under the `plan` policy, with their decisions (`plan_diff.rs`).
    #[serde(default)]
    pub plan_diffs: Vec<PlanDiffRecord>,
}
