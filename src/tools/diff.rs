//! Diffs of a subtask's file changes for a person to review (the TUI's diff view, exports):
//! for each file, a unified diff from its original (the backup taken before the subtask's
//! first change, or nothing for a file it created) to the file as it is on disk now.
//!
//! Reads only (backups in the run directory, files in the workspace); must not change
//! anything or resolve paths outside the workspace.

use std::path::Path;

use similar::TextDiff;

use crate::state::FileChange;

use super::changes::sha256_hex;
use super::paths::Root;

/// The diff of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// Workspace-relative path.
    pub path: String,
    /// Unified diff (`--- a/path`, `+++ b/path`, hunks); empty when there is nothing to show
    /// as text (see `note`).
    pub diff: String,
    /// Lines added and removed.
    pub added: usize,
    pub removed: usize,
    /// Something the person should know: `created`, `deleted`, `binary file`,
    /// `changed since by someone else`, `rolled back`, or why the diff is missing.
    pub notes: Vec<String>,
}

/// Diffs of what `changes` (journal order; any subtasks) did to each file they touched, in
/// first-touched order. `run_dir` holds the backups; `workspace` is the workspace root.
pub fn file_diffs(run_dir: &Path, workspace: &Path, changes: &[FileChange]) -> Vec<FileDiff> {
    let root = Root::open(workspace).ok();
    let mut order: Vec<&str> = Vec::new();
    for c in changes {
        if !order.contains(&c.path.as_str()) {
            order.push(&c.path);
        }
    }
    order
        .into_iter()
        .map(|path| {
            let of_path: Vec<&FileChange> = changes.iter().filter(|c| c.path == path).collect();
            diff_one(run_dir, root.as_ref(), path, &of_path)
        })
        .collect()
}

/// Diffs of what subtask `id` itself did to each file, in its first-touched order: from the
/// original before its first change to the content right after its last change. `all` is
/// every change of the run (journal order): when a later subtask changed the file since,
/// the content this subtask left is read from that subtask's backup (checked against the
/// recorded hash), so the diff shows only this subtask's work, with a note naming who
/// changed it later. Without such a backup it falls back to the file on disk, as
/// [`file_diffs`] does.
pub fn subtask_diffs(
    run_dir: &Path,
    workspace: &Path,
    all: &[FileChange],
    id: crate::protocol::SubtaskId,
) -> Vec<FileDiff> {
    let root = Root::open(workspace).ok();
    let mine: Vec<(usize, &FileChange)> =
        all.iter().enumerate().filter(|(_, c)| c.id == id).collect();
    let mut order: Vec<&str> = Vec::new();
    for (_, c) in &mine {
        if !order.contains(&c.path.as_str()) {
            order.push(&c.path);
        }
    }
    order
        .into_iter()
        .map(|path| {
            let of_path: Vec<&FileChange> = mine
                .iter()
                .filter(|(_, c)| c.path == path)
                .map(|(_, c)| *c)
                .collect();
            let last_at = mine
                .iter()
                .filter(|(_, c)| c.path == path)
                .map(|(i, _)| *i)
                .next_back()
                .unwrap_or(0);
            let later = all
                .iter()
                .skip(last_at + 1)
                .find(|c| c.path == path && c.id != id && !c.rolled_back);
            let left = match (later, of_path.last()) {
                (Some(l), Some(last)) if !last.rolled_back => {
                    left_by(run_dir, l, last.after.as_deref())
                }
                _ => None,
            };
            diff_with(run_dir, root.as_ref(), path, &of_path, left)
        })
        .collect()
}

/// The content a subtask left in a file, from the backup `later` (the next subtask's change
/// of it) took, if that backup is what the subtask wrote. `(content, note)`.
fn left_by(
    run_dir: &Path,
    later: &FileChange,
    after: Option<&str>,
) -> Option<(Option<Vec<u8>>, String)> {
    let note = format!("changed since by {}", later.id);
    match (after, &later.before, &later.backup) {
        // The subtask deleted the file and the later one created it again.
        (None, None, _) => Some((None, note)),
        (Some(after), Some(before), Some(backup)) if after == before => {
            let bytes = std::fs::read(run_dir.join(backup)).ok()?;
            (sha256_hex(&bytes) == after).then_some((Some(bytes), note))
        }
        _ => None,
    }
}

fn diff_one(run_dir: &Path, root: Option<&Root>, path: &str, changes: &[&FileChange]) -> FileDiff {
    diff_with(run_dir, root, path, changes, None)
}

/// `left`: the content the changes left (and a note), when it is not the file on disk.
fn diff_with(
    run_dir: &Path,
    root: Option<&Root>,
    path: &str,
    changes: &[&FileChange],
    left: Option<(Option<Vec<u8>>, String)>,
) -> FileDiff {
    let mut out = FileDiff {
        path: path.to_string(),
        diff: String::new(),
        added: 0,
        removed: 0,
        notes: Vec::new(),
    };
    let (Some(first), Some(last)) = (changes.first(), changes.last()) else {
        return out;
    };
    if changes.iter().all(|c| c.rolled_back) {
        out.notes.push("rolled back".into());
    }
    let original: Option<Vec<u8>> = match (&first.before, &first.backup) {
        (None, _) => {
            out.notes.push("created".into());
            None
        }
        (Some(_), Some(backup)) => match std::fs::read(run_dir.join(backup)) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                out.notes
                    .push(format!("the backup ({backup}) cannot be read: {e}"));
                return out;
            }
        },
        (Some(_), None) => {
            out.notes.push("no backup was recorded".into());
            return out;
        }
    };
    let current: Option<Vec<u8>> = if let Some((content, note)) = left {
        out.notes.push(note);
        if content.is_none() {
            out.notes.push("deleted".into());
        }
        content
    } else {
        match root.map(|r| r.resolve(path)) {
            Some(Ok(resolved)) => std::fs::read(&resolved.abs).ok(),
            Some(Err(e)) => {
                out.notes.push(e.to_string());
                return out;
            }
            None => {
                out.notes.push("the workspace cannot be opened".into());
                return out;
            }
        }
    };
    // With `left` given, the content is what the changes left: the checks below are done.
    if !out.notes.iter().any(|n| n.starts_with("changed since by ")) {
        if current.is_none() && last.after.is_none() {
            out.notes.push("deleted".into());
        }
        if current.as_deref().map(sha256_hex) != last.after
            && !out.notes.iter().any(|n| n == "rolled back")
        {
            out.notes.push("changed since by someone else".into());
        }
    }
    let old = original.unwrap_or_default();
    let new = current.unwrap_or_default();
    let (Ok(old_text), Ok(new_text)) = (std::str::from_utf8(&old), std::str::from_utf8(&new))
    else {
        out.notes.push("binary file".into());
        return out;
    };
    if old_text.contains('\0') || new_text.contains('\0') {
        out.notes.push("binary file".into());
        return out;
    }
    let diff = TextDiff::from_lines(old_text, new_text);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => out.added += 1,
            similar::ChangeTag::Delete => out.removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    out.diff = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    out
}
