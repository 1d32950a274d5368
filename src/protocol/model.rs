//! The LLM protocol: tool names, argument types, and the machine-readable context blocks
//! the engine puts into its prompts (schemas in `schemas`, validation in the engine).
//!
//! Tools (DESIGN.md "The LLM protocol"): `submit_analysis`, `submit_report`,
//! `submit_replan`, `decide_recovery`, `assess_completion`, `submit_synthesis`, plus
//! `submit_evaluation` for the optional evaluator pass.
//!
//! Context blocks: every orchestrator prompt carries one `<context>{json}</context>` block
//! ([`OrchestratorContext`]) and every worker prompt one `<brief>{json}</brief>` block
//! ([`WorkerBrief`]) beside the human-readable text, so models (and the `demo` model) can
//! read the plan exactly. [`extract_block`] reads them back.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::payload::{Priority, ProposedSubtask, Report};

pub const SUBMIT_ANALYSIS: &str = "submit_analysis";
pub const SUBMIT_REPORT: &str = "submit_report";
pub const SUBMIT_REPLAN: &str = "submit_replan";
pub const DECIDE_RECOVERY: &str = "decide_recovery";
pub const ASSESS_COMPLETION: &str = "assess_completion";
pub const SUBMIT_SYNTHESIS: &str = "submit_synthesis";
pub const SUBMIT_EVALUATION: &str = "submit_evaluation";

/// `submit_analysis` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisArgs {
    pub complexity: f64,
    pub task_type: String,
    pub known_requirements: Vec<String>,
    pub unknowns: Vec<String>,
    pub estimated_subtasks: u32,
    pub strategy: String,
    pub subtasks: Vec<ProposedSubtask>,
}

/// `submit_report` arguments are a [`Report`].
pub type ReportArgs = Report;

/// One `update` item of `submit_replan`: `id` is `#3`, `3` or an exact title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReplanUpdate {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
}

/// One `cancel` item of `submit_replan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplanCancel {
    pub id: String,
    #[serde(default)]
    pub reason: String,
}

/// `submit_replan` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplanArgs {
    /// The rationale of this cycle.
    pub summary: String,
    pub add: Vec<ProposedSubtask>,
    pub update: Vec<ReplanUpdate>,
    pub cancel: Vec<ReplanCancel>,
    /// Scope assessment: original estimate vs now, and why.
    pub scope_note: String,
    /// The orchestrator's estimate of total subtasks now (defaults to the live count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_total: Option<u32>,
    /// The last replan (`OrchestratorContext::last_replan`) is also the completion
    /// assessment: is the task complete? (Absent: complete when it adds nothing.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// The last replan: what is missing, when not complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryChoice {
    Retry,
    Reassign,
    Decompose,
    Escalate,
}

/// `decide_recovery` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryArgs {
    pub action: RecoveryChoice,
    pub rationale: String,
    /// Required for `reassign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Required (non-empty) for `decompose`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtasks: Option<Vec<ProposedSubtask>>,
    /// Effect on the plan (timeline, other subtasks).
    #[serde(default)]
    pub impact: String,
}

/// `assess_completion` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionArgs {
    pub complete: bool,
    pub missing: Vec<String>,
    /// Subtasks to add when not complete.
    #[serde(default)]
    pub new_subtasks: Vec<ProposedSubtask>,
}

/// `submit_synthesis` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthesisArgs {
    pub deliverable: String,
    pub integration_points: Vec<String>,
    pub conflicts: Vec<String>,
    pub coherence: String,
}

/// `submit_evaluation` arguments (evaluator pass).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationArgs {
    pub accepted: bool,
    pub feedback: String,
    #[serde(default)]
    pub new_subtasks: Vec<ProposedSubtask>,
    /// What is wrong or missing, one short line each (optional). Findings the round limit
    /// (`evaluate_rounds`) keeps from becoming work are named in the execution summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

/// Which orchestrator step a prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Analysis,
    Replan,
    Recovery,
    Completion,
    Synthesis,
    Evaluation,
}

/// A subtask as shown to the orchestrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskView {
    pub id: u32,
    pub title: String,
    pub role: String,
    /// `SubtaskStatus::label()`.
    pub status: String,
    pub priority: Priority,
    pub depends_on: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    /// The guidance a person gave when resolving its escalation (absent when no person
    /// decided anything about it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<String>,
}

/// A report as shown to the orchestrator in a replan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportView {
    pub id: u32,
    pub title: String,
    pub role: String,
    pub report: Report,
}

/// A failure as shown to the orchestrator in `decide_recovery`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureView {
    pub id: u32,
    pub title: String,
    pub role: String,
    pub attempts: u32,
    pub error: String,
    #[serde(default)]
    pub last_output: String,
}

/// The `<context>` block of every orchestrator prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrchestratorContext {
    pub step: Step,
    pub task: Arc<str>,
    /// The analysis' estimate and the current one.
    pub initial_estimate: u32,
    pub current_estimate: u32,
    pub subtasks: Vec<SubtaskView>,
    /// Replan: the reports this cycle covers.
    #[serde(default)]
    pub reports: Vec<ReportView>,
    /// Recovery: the failed subtask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureView>,
    /// Roles a subtask may be given.
    pub roles: Vec<String>,
    /// Replan cycle number / evaluation round, when relevant.
    #[serde(default)]
    pub cycle: u32,
    /// Whether a person can answer an escalation now. False in headless runs: there an
    /// escalation stops the run (exit 3), so the orchestrator should settle what it can.
    #[serde(default = "default_true")]
    pub person_available: bool,
    /// Replan: nothing else is left to run, so this replan is also the completion
    /// assessment (set `complete`, add what is missing). The plan is complete in
    /// `subtasks`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub last_replan: bool,
    /// Replan: `subtasks` lists only the subtasks that are new or changed since the
    /// orchestrator's previous call; `plan_index` lists every subtask id by status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_index: Option<PlanIndex>,
    /// Replan: one role or worker holds 80 % or more of the finished work (one line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    /// Changes of earlier replans a person rejected (`--approve plan`), one line each
    /// (`~ #3 Tests: priority normal -> high`): not to be proposed again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_by_person: Vec<String>,
}

/// Every subtask id by status, as compact ranges (`"1-57,60"`), for a replan whose
/// `subtasks` carries only the changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PlanIndex {
    pub total: u32,
    /// `(status label, id ranges)`, in the order of `SubtaskStatus`.
    pub by_status: Vec<(String, String)>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_true() -> bool {
    true
}

/// A dependency's result given to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyResult {
    pub id: u32,
    pub title: String,
    pub results: String,
}

/// The `<brief>` block of every worker prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerBrief {
    pub task: Arc<str>,
    pub id: u32,
    pub title: String,
    pub description: String,
    pub role: String,
    pub expected_output: String,
    pub attempt: u32,
    /// Decisions every worker must respect (strategy, earlier discoveries).
    pub shared_decisions: Vec<String>,
    pub dependency_results: Vec<DependencyResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<String>,
}

/// The heading the worker's message starts with; the overall task follows it.
pub const TASK_HEADING: &str = "# Overall task\n";
/// How the `<brief>` block starts when its task is empty (the journaled form). A JSON
/// string escapes `"`, so this cannot occur inside the block's values.
const EMPTY_TASK_BLOCK: &str = "<brief>{\"task\":\"\"";

/// What a worker saw, rebuilt from its journaled brief (rendered with an empty task, see
/// `engine::prompts::journaled_brief`) and the run's task: the task goes back after the
/// heading and into the `<brief>` block. A brief not in that form is returned as it is.
pub fn brief_with_task(journaled: &str, task: &str) -> String {
    let (Some(rest), Some(block)) = (
        journaled.strip_prefix(TASK_HEADING),
        journaled.rfind(EMPTY_TASK_BLOCK),
    ) else {
        return journaled.to_string();
    };
    let Some(block) = block.checked_sub(TASK_HEADING.len()) else {
        return journaled.to_string();
    };
    let task_json = serde_json::to_string(task).unwrap_or_else(|_| "\"\"".into());
    let (prose, tail) = rest.split_at(block);
    let after = &tail[EMPTY_TASK_BLOCK.len()..];
    let mut out = String::with_capacity(journaled.len() + 2 * task.len() + 16);
    out.push_str(TASK_HEADING);
    out.push_str(task);
    out.push_str(prose);
    out.push_str("<brief>{\"task\":");
    out.push_str(&task_json);
    out.push_str(after);
    out
}

/// Renders `<tag>{json}</tag>`.
pub fn render_block<T: Serialize>(tag: &str, value: &T) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    format!("<{tag}>{json}</{tag}>")
}

/// Reads the last `<tag>{json}</tag>` block in `text`.
pub fn extract_block<T: for<'de> Deserialize<'de>>(text: &str, tag: &str) -> Option<T> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.rfind(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    serde_json::from_str(&text[start..end]).ok()
}
