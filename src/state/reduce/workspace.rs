//! Workspace events: command approvals (and `allow always`), file changes, conflicts
//! and rollbacks (a rollback started and not yet ended is `State::rollback_in_progress`).

use chrono::{DateTime, Utc};

use crate::state::*;

/// Folds one workspace event; other events are not this family's and change nothing here.
pub(super) fn apply(state: &mut State, _ts: DateTime<Utc>, event: &Event) {
    match event {
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
            if let Some(s) = state.subtask_mut(*id)
                && !s.files_changed.contains(path)
            {
                s.files_changed.push(path.clone());
            }
        }
        Event::FileConflict { id, path, detail } => {
            state.conflicts.push((*id, path.clone(), detail.clone()));
        }
        Event::RollbackStarted { id, files } => {
            state.rollback_in_progress = Some(RollbackInProgress {
                id: *id,
                files: files.clone(),
            });
        }
        Event::SubtaskRolledBack { id, .. } => {
            for f in state.files.iter_mut().filter(|f| f.id == *id) {
                f.rolled_back = true;
            }
            if state
                .rollback_in_progress
                .as_ref()
                .is_some_and(|r| r.id == *id)
            {
                state.rollback_in_progress = None;
            }
        }
        _ => {}
    }
}
