//! Git worktree events (`isolation = "worktree"`): worktrees made ready, merges into the
//! run's branch, conflicts, and a rollback marking a subtask's merges reverted.

use crate::state::*;

/// Folds one git event (and `SubtaskRolledBack`, which reverts a subtask's merges).
pub(super) fn apply(state: &mut State, event: &Event) {
    match event {
        Event::WorktreeCreated {
            id: None,
            branch,
            path,
            ..
        } => state.git.run_branch = Some((branch.clone(), path.clone())),
        Event::WorktreeCreated {
            id: Some(id),
            attempt,
            branch,
            path,
            ..
        } => state
            .git
            .trees
            .push((*id, *attempt, branch.clone(), path.clone())),
        Event::BranchMerged {
            id,
            attempt,
            before,
            after,
            fast_forward,
            files,
            ..
        } => state.git.merges.push(MergeRecord {
            id: *id,
            attempt: *attempt,
            before: before.clone(),
            after: after.clone(),
            fast_forward: *fast_forward,
            files: files.clone(),
            reverted: false,
        }),
        Event::MergeConflicted {
            id, attempt, files, ..
        } => state.git.conflicts.push((*id, *attempt, files.clone())),
        Event::SubtaskRolledBack { id, .. } => {
            for m in state.git.merges.iter_mut().filter(|m| m.id == *id) {
                m.reverted = true;
            }
        }
        _ => {}
    }
}
