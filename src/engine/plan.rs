//! The run's state and the one reducer that builds it: `State = fold(apply, events)`.
//!
//! Used by the engine (its own state), the TUI (a replica fed the same events) and resume
//! (replaying the journal). `apply` is pure and total: an event that does not fit the
//! state (an unknown id) is ignored, never a panic, so a damaged journal still folds.
//! Queries that every reader needs (what is runnable, what needs a person) live here too,
//! so no front end re-derives the rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::*;
use crate::llm::Usage;

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
    /// Has a person or the policy approved it (ever)?
    pub approved: bool,
    /// Attempts started so far.
    pub attempts: u32,
    pub worker: Option<WorkerId>,
    pub model: Option<String>,
    /// The brief of the latest attempt.
    pub brief: Option<String>,
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
}

impl Subtask {
    fn from_spec(spec: &SubtaskSpec, origin: &Origin, needs_approval: bool) -> Self {
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
            approved: !needs_approval,
            attempts: 0,
            worker: None,
            model: None,
            brief: None,
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
        }
    }

    fn apply_patch(&mut self, patch: &SubtaskPatch) {
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
    fn requeue(&mut self) {
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
}

/// Something waiting for a person, in the order the UI should show them.
#[derive(Debug, Clone, PartialEq)]
pub enum NeedsPerson {
    ModeChoice { complexity: f64, threshold: f64 },
    ScopeAlert(u32),
    Escalation(SubtaskId),
    CommandApproval(u32),
    Approval(SubtaskId),
}

/// The whole run as the events describe it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    pub run_id: String,
    pub task: String,
    pub settings: Option<RunSettings>,
    pub started_at: Option<DateTime<Utc>>,
    /// Timestamp of the latest event folded.
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_seq: u64,
    pub phase: Phase,
    pub analysis: Option<Analysis>,
    pub mode: Option<RunMode>,
    /// `(complexity, threshold)` while a mode choice is pending.
    pub mode_choice: Option<(f64, f64)>,
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
    pub last_retry: Option<(DateTime<Utc>, crate::llm::RetryNotice)>,
    pub command_requests: Vec<CommandRequest>,
    /// Commands allowed for the rest of the run (`allow always`).
    pub allowed_commands: Vec<String>,
    pub files: Vec<FileChange>,
    pub conflicts: Vec<(SubtaskId, String, String)>,
    pub completion: Option<(bool, Vec<String>)>,
    pub evaluations: Vec<EvaluationRecord>,
    pub synthesis: Option<Synthesis>,
    pub summary: Option<ExecutionSummary>,
    pub outcome: Option<RunOutcome>,
    pub notices: Vec<String>,
    pub resumes: u32,
}

impl State {
    /// Folds a whole event sequence (resume, tests).
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Envelope>) -> State {
        let mut state = State::default();
        for e in events {
            apply(&mut state, e);
        }
        state
    }

    pub fn subtask(&self, id: SubtaskId) -> Option<&Subtask> {
        self.subtasks.get((id.0 as usize).wrapping_sub(1))
    }

    fn subtask_mut(&mut self, id: SubtaskId) -> Option<&mut Subtask> {
        self.subtasks.get_mut((id.0 as usize).wrapping_sub(1))
    }

    /// The id the next added subtask gets.
    pub fn next_id(&self) -> SubtaskId {
        SubtaskId(self.subtasks.len() as u32 + 1)
    }

    /// The estimate the analysis made (0 before it).
    pub fn initial_estimate(&self) -> u32 {
        self.analysis.as_ref().map_or(0, |a| a.estimated_subtasks)
    }

    /// The scope estimate now: the latest replan's, else the analysis'.
    pub fn current_estimate(&self) -> u32 {
        self.replan_log
            .last()
            .map_or(self.initial_estimate(), |r| r.estimate_now)
    }

    pub fn count(&self, status: SubtaskStatus) -> usize {
        self.subtasks.iter().filter(|s| s.status == status).count()
    }

    pub fn running(&self) -> impl Iterator<Item = &Subtask> {
        self.subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Running)
    }

    /// Subtasks that count toward the subtask limit (everything not cancelled or rejected).
    pub fn live_subtask_count(&self) -> u32 {
        self.subtasks
            .iter()
            .filter(|s| s.status != SubtaskStatus::Cancelled)
            .count() as u32
    }

    /// Are all of this subtask's dependencies satisfied?
    pub fn dependencies_done(&self, s: &Subtask) -> bool {
        s.depends_on.iter().all(|d| {
            self.subtask(*d)
                .is_some_and(|dep| dep.status.satisfies_dependency())
        })
    }

    /// Dependencies that can never be satisfied (cancelled or failed for good).
    pub fn dead_dependencies(&self, s: &Subtask) -> Vec<SubtaskId> {
        s.depends_on
            .iter()
            .copied()
            .filter(|d| {
                self.subtask(*d)
                    .is_none_or(|dep| dep.status == SubtaskStatus::Cancelled)
            })
            .collect()
    }

    /// Ready subtasks whose dependencies are done, highest priority first, then oldest.
    pub fn runnable(&self) -> Vec<SubtaskId> {
        let mut v: Vec<&Subtask> = self
            .subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Ready && self.dependencies_done(s))
            .collect();
        v.sort_by_key(|s| (s.priority.rank(), s.id));
        v.into_iter().map(|s| s.id).collect()
    }

    /// Unresolved scope alerts.
    pub fn open_alerts(&self) -> impl Iterator<Item = &ScopeAlert> {
        self.alerts.iter().filter(|a| a.resolution.is_none())
    }

    /// Command approvals still waiting.
    pub fn open_command_requests(&self) -> impl Iterator<Item = &CommandRequest> {
        self.command_requests
            .iter()
            .filter(|c| c.decision.is_none())
    }

    /// Everything waiting for a person, most urgent first.
    pub fn needs_person(&self) -> Vec<NeedsPerson> {
        let mut out = Vec::new();
        if let Some((complexity, threshold)) = self.mode_choice {
            out.push(NeedsPerson::ModeChoice {
                complexity,
                threshold,
            });
        }
        out.extend(self.open_alerts().map(|a| NeedsPerson::ScopeAlert(a.alert)));
        out.extend(
            self.open_command_requests()
                .map(|c| NeedsPerson::CommandApproval(c.request)),
        );
        out.extend(
            self.subtasks
                .iter()
                .filter(|s| s.status == SubtaskStatus::Escalated)
                .map(|s| NeedsPerson::Escalation(s.id)),
        );
        out.extend(
            self.subtasks
                .iter()
                .filter(|s| s.status == SubtaskStatus::AwaitingApproval)
                .map(|s| NeedsPerson::Approval(s.id)),
        );
        out
    }

    /// Seconds from the first to the latest event.
    pub fn elapsed_secs(&self) -> f64 {
        match (self.started_at, self.last_event_at) {
            (Some(a), Some(b)) => (b - a).num_milliseconds().max(0) as f64 / 1000.0,
            _ => 0.0,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }
}

/// The reducer. Pure: the same events always give the same state.
pub fn apply(state: &mut State, envelope: &Envelope) {
    let ts = envelope.ts;
    state.last_seq = envelope.seq;
    state.last_event_at = Some(ts);
    if state.started_at.is_none() {
        state.started_at = Some(ts);
    }
    match &envelope.event {
        Event::RunStarted {
            run_id,
            task,
            settings,
        } => {
            state.run_id = run_id.clone();
            state.task = task.clone();
            state.max_workers = settings.max_workers;
            state.limits = settings.limits.clone();
            state.settings = Some(settings.clone());
        }
        Event::RunResumed { interrupted, .. } => {
            state.resumes += 1;
            state.outcome = None;
            for id in interrupted {
                if let Some(s) = state.subtask_mut(*id) {
                    if s.status == SubtaskStatus::Running {
                        s.status = SubtaskStatus::Ready;
                        s.worker = None;
                    }
                }
            }
            // Pending command approvals died with the process: the worker asks again.
            for c in state.command_requests.iter_mut() {
                if c.decision.is_none() {
                    c.decision = Some(CommandDecision::Deny {
                        reason: "the run was interrupted".into(),
                    });
                }
            }
        }
        Event::PhaseChanged { phase } => state.phase = *phase,
        Event::RunFinished { outcome } => {
            state.outcome = Some(outcome.clone());
            if matches!(outcome, RunOutcome::Completed) {
                state.phase = Phase::Done;
            }
        }
        Event::AnalysisCompleted { analysis } => state.analysis = Some(analysis.clone()),
        Event::ModeChoiceRequested {
            complexity,
            threshold,
        } => state.mode_choice = Some((*complexity, *threshold)),
        Event::ModeChosen { mode, .. } => {
            state.mode = Some(*mode);
            state.mode_choice = None;
        }
        Event::SubtaskAdded {
            spec,
            origin,
            needs_approval,
        } => {
            // Ids are dense; an out-of-order id means a damaged journal: ignore it.
            if spec.id == state.next_id() {
                state
                    .subtasks
                    .push(Subtask::from_spec(spec, origin, *needs_approval));
            }
        }
        Event::SubtaskRejected { title, reason } => {
            state.rejected.push((title.clone(), reason.clone()));
        }
        Event::SubtaskApproved { id, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                if matches!(
                    s.status,
                    SubtaskStatus::AwaitingApproval | SubtaskStatus::Deferred
                ) {
                    s.status = SubtaskStatus::Ready;
                }
                s.approved = true;
            }
        }
        Event::SubtaskDeferred { id, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.status = SubtaskStatus::Deferred;
            }
        }
        Event::SubtaskUndeferred { id, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                if s.status == SubtaskStatus::Deferred {
                    s.status = if s.approved {
                        SubtaskStatus::Ready
                    } else {
                        SubtaskStatus::AwaitingApproval
                    };
                }
            }
        }
        Event::SubtaskEdited { id, patch, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.apply_patch(patch);
            }
        }
        Event::SubtaskCancelled { id, reason, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.status = SubtaskStatus::Cancelled;
                s.worker = None;
                if s.last_error.is_none() && !reason.is_empty() {
                    s.last_error = Some(format!("cancelled: {reason}"));
                }
                s.finished_at.get_or_insert(ts);
            }
        }
        Event::SubtaskStarted {
            id,
            attempt,
            worker,
            role,
            model,
            brief,
        } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.status = SubtaskStatus::Running;
                s.attempts = *attempt;
                s.worker = Some(*worker);
                s.role = role.clone();
                s.model = Some(model.clone());
                s.brief = Some(brief.clone());
                s.started_at = Some(ts);
                s.finished_at = None;
                s.last_error = None;
            }
        }
        Event::WorkerToolUsed {
            id,
            tool,
            summary,
            is_error,
            ..
        } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.tool_uses.push((tool.clone(), summary.clone(), *is_error));
            }
        }
        Event::SubtaskReported {
            id, output, report, ..
        } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.status = match report.status {
                    ReportStatus::Complete => SubtaskStatus::Complete,
                    ReportStatus::Partial => SubtaskStatus::Partial,
                    ReportStatus::Blocked => SubtaskStatus::Blocked,
                };
                if report.status == ReportStatus::Blocked {
                    s.last_error = Some(format!("blocked: {}", report.results));
                }
                s.output = Some(output.clone());
                s.report = Some(report.clone());
                s.worker = None;
                s.finished_at = Some(ts);
            }
        }
        Event::SubtaskFailed { id, error, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.status = SubtaskStatus::Failed;
                s.last_error = Some(error.clone());
                s.worker = None;
                s.finished_at = Some(ts);
            }
        }
        Event::RecoveryDecided {
            id,
            action,
            rationale,
            impact,
            by,
        } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.recoveries.push(RecoveryRecord {
                    action: action.clone(),
                    rationale: rationale.clone(),
                    impact: impact.clone(),
                    by: *by,
                });
                match action {
                    RecoveryAction::Retry => s.requeue(),
                    RecoveryAction::Reassign { role } => {
                        s.role = role.clone();
                        s.requeue();
                    }
                    RecoveryAction::Decompose { .. } => {
                        s.status = SubtaskStatus::Cancelled;
                        s.worker = None;
                    }
                    RecoveryAction::Escalate => {
                        s.status = SubtaskStatus::Escalated;
                        s.escalation = Some(rationale.clone());
                    }
                }
            }
        }
        Event::SubtaskEscalated { id, reason, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.status = SubtaskStatus::Escalated;
                s.escalation = Some(reason.clone());
                s.worker = None;
            }
        }
        Event::EscalationResolved { id, resolution, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                match resolution {
                    Resolution::Retry { guidance } => {
                        s.guidance = non_empty(guidance);
                        s.requeue();
                    }
                    Resolution::Reassign { role, guidance } => {
                        s.role = role.clone();
                        s.guidance = non_empty(guidance);
                        s.requeue();
                    }
                    Resolution::MarkDone { result } => {
                        s.status = SubtaskStatus::Complete;
                        s.escalation = None;
                        s.output = Some(result.clone());
                        s.report = Some(Report {
                            status: ReportStatus::Complete,
                            results: result.clone(),
                            discoveries: Vec::new(),
                            recommendations: Vec::new(),
                            new_subtasks: Vec::new(),
                        });
                        s.finished_at = Some(ts);
                    }
                    Resolution::Cancel => {
                        s.status = SubtaskStatus::Cancelled;
                        s.escalation = None;
                        s.finished_at = Some(ts);
                    }
                }
            }
        }
        Event::ReplanLogged {
            cycle,
            covered,
            summary,
            added,
            updated,
            cancelled,
            scope_note,
            estimate_before,
            estimate_now,
        } => state.replan_log.push(ReplanEntry {
            cycle: *cycle,
            covered: covered.clone(),
            summary: summary.clone(),
            added: added.clone(),
            updated: updated.clone(),
            cancelled: cancelled.clone(),
            scope_note: scope_note.clone(),
            estimate_before: *estimate_before,
            estimate_now: *estimate_now,
            at: ts,
        }),
        Event::LlmUsage {
            purpose,
            usage,
            cost_usd,
            ..
        } => {
            state.llm_calls += 1;
            state.usage.add(usage);
            match cost_usd {
                Some(c) => state.cost_usd += c,
                None => state.unpriced_calls += 1,
            }
            if let CallPurpose::Worker { id, .. } = purpose {
                if let Some(s) = state.subtask_mut(*id) {
                    s.usage.add(usage);
                    s.cost_usd += cost_usd.unwrap_or(0.0);
                }
            }
        }
        Event::LlmRetried { notice, .. } => {
            state.retries += 1;
            state.last_retry = Some((ts, notice.clone()));
        }
        Event::ScopeAlertRaised {
            alert,
            limit,
            current,
            max,
            pending,
        } => state.alerts.push(ScopeAlert {
            alert: *alert,
            limit: *limit,
            current: *current,
            max: *max,
            pending: pending.clone(),
            resolution: None,
        }),
        Event::ScopeAlertResolved {
            alert, decision, ..
        } => {
            let mut raised = None;
            if let Some(a) = state.alerts.iter_mut().find(|a| a.alert == *alert) {
                a.resolution = Some(decision.clone());
                raised = Some(a.limit);
            }
            if let (Some(limit), ScopeDecision::RaiseLimit { to }) = (raised, decision) {
                let l = &mut state.limits;
                match limit {
                    LimitKind::Subtasks => l.max_subtasks = Some(*to as u32),
                    LimitKind::Cycles => l.max_cycles = Some(*to as u32),
                    LimitKind::Tokens => l.max_tokens = Some(*to as u64),
                    LimitKind::Cost => l.budget_usd = Some(*to),
                    LimitKind::WallClock => l.max_wall_secs = Some(*to as u64),
                }
            }
        }
        Event::DispatchPaused { .. } => state.paused = true,
        Event::DispatchResumed { .. } => state.paused = false,
        Event::MaxWorkersChanged { max_workers, .. } => state.max_workers = *max_workers,
        Event::CommandApprovalRequested {
            request,
            id,
            command,
            cwd,
        } => state.command_requests.push(CommandRequest {
            request: *request,
            id: *id,
            command: command.clone(),
            cwd: cwd.clone(),
            decision: None,
        }),
        Event::CommandApprovalDecided {
            request, decision, ..
        } => {
            if let Some(c) = state
                .command_requests
                .iter_mut()
                .find(|c| c.request == *request)
            {
                c.decision = Some(decision.clone());
                if *decision == CommandDecision::AllowAlways
                    && !state.allowed_commands.contains(&c.command)
                {
                    state.allowed_commands.push(c.command.clone());
                }
            }
        }
        Event::FileChanged {
            id,
            path,
            before,
            after,
            backup,
        } => {
            state.files.push(FileChange {
                id: *id,
                path: path.clone(),
                before: before.clone(),
                after: after.clone(),
                backup: backup.clone(),
                rolled_back: false,
            });
            if let Some(s) = state.subtask_mut(*id) {
                if !s.files_changed.contains(path) {
                    s.files_changed.push(path.clone());
                }
            }
        }
        Event::FileConflict { id, path, detail } => {
            state.conflicts.push((*id, path.clone(), detail.clone()));
        }
        Event::SubtaskRolledBack { id, .. } => {
            for f in state.files.iter_mut().filter(|f| f.id == *id) {
                f.rolled_back = true;
            }
        }
        Event::CompletionAssessed { complete, missing } => {
            state.completion = Some((*complete, missing.clone()));
        }
        Event::EvaluationCompleted {
            round,
            accepted,
            feedback,
            added,
        } => state.evaluations.push(EvaluationRecord {
            round: *round,
            accepted: *accepted,
            feedback: feedback.clone(),
            added: added.clone(),
        }),
        Event::SynthesisCompleted { synthesis, summary } => {
            state.synthesis = Some(synthesis.clone());
            state.summary = Some(summary.clone());
        }
        Event::Notice { message } => state.notices.push(message.clone()),
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}
