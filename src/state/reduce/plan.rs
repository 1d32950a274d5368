//! Plan events: subtasks added, rejected, approved, deferred, edited, cancelled, and the
//! replan log.

use chrono::{DateTime, Utc};

use crate::state::*;

/// Folds one plan event; other events are not this family's and change nothing here.
pub(super) fn apply(state: &mut State, ts: DateTime<Utc>, event: &Event) {
    match event {
        Event::SubtaskAdded {
            spec,
            origin,
            needs_approval,
            // Ids are dense; an out-of-order id means a damaged journal: ignore it.
        } if spec.id == state.next_id() => {
            state
                .subtasks
                .push(Subtask::from_spec(spec, origin, *needs_approval));
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
                s.held_by_limit = false;
                s.approved = true;
                if s.asked {
                    // Approving a subtask that asked to start is the go-ahead.
                    s.asked = false;
                    s.go = true;
                }
            }
        }
        Event::SubtaskDeferred { id, by } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.status = SubtaskStatus::Deferred;
                // The engine defers only what is over the subtask limit.
                s.held_by_limit = *by == Actor::Engine;
            }
        }
        Event::SubtaskUndeferred { id, .. } => {
            if let Some(s) = state.subtask_mut(*id) {
                s.held_by_limit = false;
                if s.status == SubtaskStatus::Deferred {
                    s.status = if s.approved {
                        SubtaskStatus::Ready
                    } else {
                        SubtaskStatus::AwaitingApproval
                    };
                }
            }
        }
        Event::SubtaskEdited { id, patch, by } => {
            super::steer::on_edit(state, *id, *by);
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
        Event::ReportsCovered { ids } => state.covered.extend(ids.iter().copied()),
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
        } => {
            state.covered.extend(covered.iter().copied());
            state.replan_log.push(ReplanEntry {
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
            })
        }
        _ => {}
    }
}
