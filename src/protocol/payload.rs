//! The values events and commands carry: who decided, priorities, the analysis, subtask
//! specs and patches, reports, recovery actions, resolutions, limits, scope and command
//! decisions, the synthesis, the execution summary and how a run ended.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::calls::Usage;
use super::ids::SubtaskId;

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

/// The longest wall-clock limit accepted: 100 years, so that a deadline computed from it
/// (`Instant + Duration`) can never overflow.
pub const MAX_WALL_SECS: u64 = 100 * 365 * 24 * 3600;

/// The largest task any run accepts (16 MiB); `[limits] max_task_bytes` may only lower it.
/// `--task-file` and standard input never read more.
pub const MAX_TASK_BYTES_CEILING: u64 = 16 * 1024 * 1024;

impl LimitKind {
    /// The largest value this limit may be raised to (a count fits a `u32`, tokens stay
    /// exact in an `f64`, money is capped at a trillion dollars).
    pub fn ceiling(self) -> f64 {
        match self {
            LimitKind::Subtasks | LimitKind::Cycles => f64::from(u32::MAX),
            LimitKind::Tokens => 9_007_199_254_740_992.0, // 2^53
            LimitKind::Cost => 1e12,
            LimitKind::WallClock => MAX_WALL_SECS as f64,
        }
    }

    /// Checks a new value for this limit, as typed by a person or sent by a front end: a
    /// finite, non-negative number no larger than [`LimitKind::ceiling`].
    pub fn checked(self, to: f64) -> Result<f64, String> {
        if !to.is_finite() {
            return Err(format!(
                "{to} is not a usable {self} limit (a finite number is)"
            ));
        }
        if to < 0.0 {
            return Err(format!("a {self} limit cannot be negative"));
        }
        let ceiling = self.ceiling();
        if to > ceiling {
            return Err(format!(
                "{to} is too large for the {self} limit (at most {ceiling})"
            ));
        }
        Ok(to)
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
    /// Go on as planned (the answer to a budget stage; the budget itself still holds).
    Continue,
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
    /// The evaluator's findings left undone when its round limit (`evaluate_rounds`) was
    /// reached: the synthesis is final without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings_left: Vec<String>,
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
