//! Commands a finished run still accepts, after the engine's task has ended.
//!
//! Rolling back a subtask's file changes is the one decision a person may still take once
//! the run is complete (the deliverable is there; the changes are reviewed afterwards). It
//! does exactly what the live engine does on `Command::Rollback`: the same tools code
//! restores the files, and `SubtaskRolledBack` is journaled, so the journal stays the one
//! record of the run. Front ends call this instead of touching the workspace or the
//! journal themselves. Must not be called while the run's engine task is alive (two
//! writers of one journal).

use std::path::Path;

use crate::protocol::{Actor, Envelope, Event, SubtaskId};
use crate::state::{FileChange, State};

/// Rolls back `id`'s changes of a finished run and returns the journaled envelope (for the
/// caller to fold). Refuses, changing nothing, when a file changed since.
pub fn rollback(
    run_dir: &Path,
    workspace: &Path,
    state: &State,
    id: SubtaskId,
) -> Result<Envelope, String> {
    if state.git.run_branch.is_some() {
        return super::merge::rollback_finished(run_dir, workspace, state, id);
    }
    let changes: Vec<FileChange> = state
        .files
        .iter()
        .filter(|f| f.id == id && !f.rolled_back)
        .cloned()
        .collect();
    if changes.is_empty() {
        return Err(format!("{id} has no changes to roll back"));
    }
    let root = crate::tools::paths::Root::open(workspace).map_err(|e| e.to_string())?;
    let record = crate::tools::changes::ChangeRecord::new(run_dir.to_path_buf());
    let files = record.rollback(&root, &changes)?;
    journal_rollback(run_dir, id, files)
}

/// Journals `SubtaskRolledBack` for a rollback done after the run's engine ended.
pub(super) fn journal_rollback(
    run_dir: &Path,
    id: SubtaskId,
    files: Vec<String>,
) -> Result<Envelope, String> {
    let mut journal = crate::journal::Journal::open_append(run_dir)
        .map_err(|e| format!("the journal cannot be opened to record the rollback: {e}"))?;
    let env = journal
        .append(Event::SubtaskRolledBack {
            id,
            files,
            by: Actor::Person,
        })
        .map_err(|e| format!("the rollback was done but could not be journaled: {e}"))?;
    if let Err(e) = journal.sync() {
        tracing::warn!("journal sync after rollback: {e}");
    }
    Ok(env)
}
