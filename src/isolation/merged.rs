//! What a subtask of a worktree run changed, read from git once its worktree is gone (after
//! `baton accept`, which removes the run's worktrees): the diff its merge brought into the
//! run's branch, `git diff <before> <after> -- <its files>` from the journaled
//! `branch_merged` commits. The commits stay in the repository (accepting merged them into
//! the person's branch), so this works whatever happened to the worktree paths.
//!
//! Decision: for a real (non fast-forward) merge the diff is from the run branch before
//! the merge to after it, restricted to the files the subtask changed: what the run's
//! branch got from it. Several merges of one subtask (attempts) are shown one after the
//! other, oldest first; a reverted merge (rollback) is marked `rolled back`.
//!
//! Reads only; must not change the repository.

use std::path::Path;

use super::git::{self, At};
use crate::protocol::SubtaskId;
use crate::state::GitRecord;

/// One file's diff as git printed it (the TUI shows it as a `tools::diff::FileDiff`;
/// `isolation` does not import `tools`, a layer beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// Workspace-relative path.
    pub path: String,
    /// Unified diff from `---`/`+++` on; empty when git has no text to show.
    pub diff: String,
    pub added: usize,
    pub removed: usize,
    /// `created`, `deleted`, `binary file`, `rolled back`, or why git could not show it.
    pub notes: Vec<String>,
}

/// The diffs of `id`'s merges into the run branch, read in the repository at `workspace`;
/// `None` when it has no merge (nothing reached the run branch).
pub fn subtask_diffs(workspace: &Path, git: &GitRecord, id: SubtaskId) -> Option<Vec<FileDiff>> {
    let merges: Vec<_> = git.merges.iter().filter(|m| m.id == id).collect();
    if merges.is_empty() {
        return None;
    }
    let at = At::Dir(workspace.to_path_buf());
    let mut out = Vec::new();
    for merge in merges {
        for path in &merge.files {
            let mut diff = file_diff(&at, &merge.before, &merge.after, path);
            if merge.reverted {
                diff.notes.push("rolled back".into());
            }
            out.push(diff);
        }
    }
    Some(out)
}

/// `git diff before after -- path` as a [`FileDiff`] (a hex commit id is all git is given
/// besides the path, after `--`).
fn file_diff(at: &At, before: &str, after: &str, path: &str) -> FileDiff {
    let mut out = FileDiff {
        path: path.to_string(),
        diff: String::new(),
        added: 0,
        removed: 0,
        notes: Vec::new(),
    };
    let is_commit = |c: &str| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_hexdigit());
    if !is_commit(before) || !is_commit(after) {
        out.notes
            .push("the journaled merge has no commit ids".into());
        return out;
    }
    let args = [
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
        "-U3",
        before,
        after,
        "--",
        path,
    ];
    let printed = match git::run(at, &args) {
        Ok(o) if o.ok => o.stdout,
        Ok(o) => {
            out.notes.push(format!(
                "git cannot show it: {}",
                crate::text::one_line(o.stderr.trim(), 200)
            ));
            return out;
        }
        Err(e) => {
            out.notes.push(format!("git cannot show it: {e}"));
            return out;
        }
    };
    let mut body = String::new();
    let mut in_hunks = false;
    // The `---`/`+++` header lines still to come once the hunks start.
    let mut headers = 2;
    for line in printed.lines() {
        if !in_hunks {
            if line.starts_with("new file mode") {
                out.notes.push("created".into());
            } else if line.starts_with("deleted file mode") {
                out.notes.push("deleted".into());
            } else if line.starts_with("Binary files ") {
                out.notes.push("binary file".into());
            }
            if !line.starts_with("--- ") {
                continue;
            }
            in_hunks = true;
        }
        if headers > 0 {
            headers -= 1;
        } else if line.starts_with('+') {
            out.added += 1;
        } else if line.starts_with('-') {
            out.removed += 1;
        }
        body.push_str(line);
        body.push('\n');
    }
    out.diff = body;
    out
}
