//! Work events: a subtask started, its tool uses, its report or failure, recovery
//! decisions, escalations and their resolution.

use chrono::{DateTime, Utc};

use crate::state::*;

/// Folds one work event; other events are not this family's and change nothing here.
pub(super) fn apply(state: &mut State, ts: DateTime<Utc>, event: &Event) {
    match event {
        Event::SubtaskStarted {
            id,
            attempt,
            worker,
            role,
            model,
            brief,
            task_omitted,
        } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.status = SubtaskStatus::Running;
                s.attempts = *attempt;
                s.worker = Some(*worker);
                s.role = role.clone();
                s.model = Some(model.clone());
                s.brief = Some(brief.clone());
                s.brief_task_omitted = *task_omitted;
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
        _ => {}
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}
