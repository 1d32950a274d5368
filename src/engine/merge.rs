//! Worktree isolation in the loop (`isolation = "worktree"`, docs/engine.md "Worktree
//! isolation"): a writing worker's attempt gets its own worktree (made ready at dispatch),
//! its report is merged into the run's branch before
//! the report is journaled, and a conflict becomes a failure with the conflicting files and
//! hunks: a recovery decision by the orchestrator, or (`merge_conflicts = "person"`) an
//! escalation to the person. Rollback of a merged subtask reverts its merge on the run
//! branch; at the end a notice says how to accept the run's branch.
//!
//! Decisions: only `complete` and `partial` reports are merged (a `blocked` worker's
//! changes stay on its own branch; a retry starts again from the run's branch). Every
//! attempt starts from the run branch's head at that moment, so a retry after a conflict
//! builds on what the others merged. The git work (a worktree at dispatch, a merge on
//! report) runs on a blocking thread while the loop waits for it (milliseconds against a
//! model call's seconds): the loop is then the only one running git, merges happen in
//! report order, and workers dispatched together start from the same commit. The git facts are journaled after git did them (`BranchMerged`
//! after the merge): a crash between the two leaves a merge the journal does not know,
//! which the resumed attempt of that subtask rebases onto (its worktree starts at the run
//! branch's head, which holds the merge).
//!
//! Must not run git itself (`crate::isolation` does) nor touch the person's working tree.

use std::path::Path;
use std::sync::Arc;

use super::roles::RoleSpec;
use super::run::Engine;
use crate::isolation::{ConflictPolicy, Merge, RunWorktrees};
use crate::protocol::*;
use crate::text::one_line;
use crate::tools::mcp::{McpTools, ToolSet};
use crate::tools::{WorkerTools, Workspace, WorkspaceOptions};

/// Opens the workers' tools over a directory (a worktree, or the workspace's place in it).
pub type OpenTools = Arc<dyn Fn(&Path) -> Result<Arc<dyn WorkerTools>, String> + Send + Sync>;

/// The run's worktrees and how workers' tools are opened in them.
pub struct Worktrees {
    pub trees: Arc<RunWorktrees>,
    pub open_tools: OpenTools,
    pub conflicts: ConflictPolicy,
}

impl Worktrees {
    pub fn new(trees: RunWorktrees, conflicts: ConflictPolicy, open_tools: OpenTools) -> Self {
        Worktrees {
            trees: Arc::new(trees),
            open_tools,
            conflicts,
        }
    }

    /// Opens the workspace tools with `options` (backups in the run directory, the same
    /// allow list, protections and sandbox) in each worktree, beside the run's MCP servers
    /// when it has any: commands run there and the sandbox confines their writes to it.
    pub fn workspace_tools(options: WorkspaceOptions, mcp: Option<Arc<McpTools>>) -> OpenTools {
        Arc::new(move |root: &Path| {
            let ws = Arc::new(Workspace::open(root, options.clone()).map_err(|e| e.to_string())?);
            Ok(match &mcp {
                Some(mcp) => Arc::new(ToolSet {
                    workspace: Some(ws),
                    mcp: mcp.clone(),
                }) as Arc<dyn WorkerTools>,
                None => ws,
            })
        })
    }
}

impl Engine {
    /// Whether workers of `role` may change files (write tools or commands), so get a
    /// worktree of their own.
    fn may_write(&self, role: Option<&RoleSpec>) -> bool {
        !self.cfg.settings.read_only
            && role.is_some_and(|r| {
                r.tools
                    .iter()
                    .any(|t| crate::tools::schema::is_write_tool(t))
            })
    }

    /// The tools of a worker of `role` for this attempt: the run's tools, or (worktree
    /// isolation, a worker that may write) those of its own worktree, created or reset to
    /// the run branch's head now and journaled. Done in the loop, at dispatch, so every
    /// worker dispatched together starts from the same commit, in dispatch order.
    pub(super) async fn attempt_tools(
        &mut self,
        id: SubtaskId,
        attempt: u32,
        role: Option<&RoleSpec>,
    ) -> Result<Option<Arc<dyn WorkerTools>>, String> {
        let Some(iso) = self.cfg.isolation.clone() else {
            return Ok(self.cfg.tools.clone());
        };
        if !self.may_write(role) {
            return Ok(self.cfg.tools.clone());
        }
        let trees = iso.trees.clone();
        let tree = tokio::task::spawn_blocking(move || trees.prepare_subtask(id))
            .await
            .map_err(|e| format!("preparing the worktree stopped: {e}"))?
            .map_err(|e| format!("cannot prepare the worker's git worktree: {e}"))?;
        self.emit(Event::WorktreeCreated {
            id: Some(id),
            attempt,
            branch: tree.branch.clone(),
            path: tree.root.display().to_string(),
            base: tree.base.clone(),
            created: tree.created,
        })
        .await;
        (iso.open_tools)(&tree.root).map(Some)
    }

    /// Journals the run's worktree once (a resumed run reuses it and says nothing).
    pub(super) async fn journal_run_tree(&mut self) {
        let Some(iso) = &self.cfg.isolation else {
            return;
        };
        if self.state.git.run_branch.is_some() {
            return;
        }
        let tree = iso.trees.run_tree().clone();
        self.emit(Event::WorktreeCreated {
            id: None,
            attempt: 0,
            branch: tree.branch,
            path: tree.root.display().to_string(),
            base: tree.base,
            created: tree.created,
        })
        .await;
    }

    /// Merges the reporting worker's branch into the run's branch. `true`: go on and
    /// journal the report; `false`: the merge failed and the subtask's failure (and, by
    /// policy, its escalation) has been journaled instead.
    pub(super) async fn merge_on_report(
        &mut self,
        id: SubtaskId,
        attempt: u32,
        report: &Report,
    ) -> bool {
        let Some(iso) = &self.cfg.isolation else {
            return true;
        };
        let had_tree = self
            .state
            .git
            .trees
            .iter()
            .any(|(i, a, _, _)| *i == id && *a == attempt);
        if !had_tree || report.status == ReportStatus::Blocked {
            return true;
        }
        let trees = iso.trees.clone();
        let policy = iso.conflicts;
        let title = self
            .state
            .subtask(id)
            .map(|s| one_line(&s.title, 72))
            .unwrap_or_default();
        let message = format!(
            "{id} {title}\n\nBaton run {}, attempt {attempt}",
            trees.run_id()
        );
        let merged = tokio::task::spawn_blocking(move || trees.merge(id, &message))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let branch = crate::isolation::subtask_branch(iso.trees.run_id(), id);
        let run_branch = iso.trees.run_tree().branch.clone();
        let said = one_line(&report.results, 300);
        match merged {
            Ok(Merge::Nothing) => true,
            Ok(Merge::Merged {
                before,
                after,
                fast_forward,
                files,
            }) => {
                self.emit(Event::BranchMerged {
                    id,
                    attempt,
                    branch,
                    before,
                    after,
                    fast_forward,
                    files,
                })
                .await;
                true
            }
            Ok(Merge::Conflict { files, hunks }) => {
                self.emit(Event::MergeConflicted {
                    id,
                    attempt,
                    branch: branch.clone(),
                    files: files.clone(),
                    hunks: hunks.clone(),
                })
                .await;
                let reason = format!(
                    "its changes conflict with work already merged into {run_branch} in {} \
                     (the merge of {branch} was aborted; {run_branch} is unchanged). The worker \
                     reported: {said}\nConflicting hunks:\n{hunks}",
                    files.join(", ")
                );
                self.emit(Event::SubtaskFailed {
                    id,
                    attempt,
                    error: reason.clone(),
                })
                .await;
                if policy == ConflictPolicy::Person {
                    self.emit(Event::SubtaskEscalated {
                        id,
                        reason: format!("merge conflict: {reason}"),
                        by: Actor::Engine,
                    })
                    .await;
                }
                false
            }
            Err(e) => {
                self.emit(Event::SubtaskFailed {
                    id,
                    attempt,
                    error: format!(
                        "its changes could not be merged into {run_branch}: {e}. The worker \
                         reported: {said}"
                    ),
                })
                .await;
                false
            }
        }
    }

    /// Rollback in a worktree run: reverts the subtask's merges on the run's branch, newest
    /// first, and journals `SubtaskRolledBack` with the files the reverts changed.
    pub(super) async fn rollback_merges(&mut self, id: SubtaskId) {
        let Some(iso) = &self.cfg.isolation else {
            return;
        };
        let merges: Vec<(String, String)> = self
            .state
            .git
            .merges
            .iter()
            .filter(|m| m.id == id && !m.reverted)
            .rev()
            .map(|m| (m.before.clone(), m.after.clone()))
            .collect();
        if merges.is_empty() {
            self.notice(format!(
                "nothing of {id} was merged into the run's branch; there is nothing to roll back"
            ))
            .await;
            return;
        }
        let trees = iso.trees.clone();
        let reverted = tokio::task::spawn_blocking(move || {
            let mut files = Vec::new();
            for (before, after) in merges {
                for f in trees.revert(&before, &after)? {
                    if !files.contains(&f) {
                        files.push(f);
                    }
                }
            }
            Ok::<_, crate::isolation::git::GitError>(files)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
        match reverted {
            Ok(files) => {
                self.emit(Event::SubtaskRolledBack {
                    id,
                    files,
                    by: Actor::Person,
                })
                .await
            }
            Err(e) => self.notice(format!("rollback of {id} failed: {e}")).await,
        }
    }

    /// At the end of a worktree run that merged anything: how to accept the run's branch.
    pub(super) async fn accept_notice(&mut self) {
        let Some(iso) = &self.cfg.isolation else {
            return;
        };
        if !self.state.git.merges.iter().any(|m| !m.reverted) {
            return;
        }
        let branch = iso.trees.run_tree().branch.clone();
        let run = iso.trees.run_id().to_string();
        let top = iso.trees.top().display().to_string();
        // The command first: headless shortens notices to one line.
        self.notice(format!(
            "to take the run's changes: baton accept {run} (or `git merge {branch}` in \
             {top}); they are on branch {branch}, your working tree was not touched"
        ))
        .await;
    }
}

/// Rollback of a subtask of a finished worktree run (`FinishedRun::rollback`): reverts its
/// merges on the run branch, newest first, in the run's worktree (found again, or recreated
/// from the branch after `baton accept`); returns the files. The caller journals.
pub(crate) fn revert_merges(
    run_dir: &Path,
    workspace: &Path,
    state: &crate::state::State,
    id: SubtaskId,
) -> Result<Vec<String>, String> {
    let merges: Vec<&crate::state::MergeRecord> = state
        .git
        .merges
        .iter()
        .filter(|m| m.id == id && !m.reverted)
        .rev()
        .collect();
    if merges.is_empty() {
        return Err(format!(
            "nothing of {id} was merged into the run's branch; there is nothing to roll back"
        ));
    }
    let trees =
        RunWorktrees::prepare(workspace, run_dir, &state.run_id).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for m in merges {
        for f in trees
            .revert(&m.before, &m.after)
            .map_err(|e| e.to_string())?
        {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    Ok(files)
}

/// `baton accept`: merges the run's branch into the branch checked out in the run's
/// workspace (from its journal) and removes its worktrees. The caller holds the run's lock.
pub fn accept_run(run_dir: &Path) -> Result<String, String> {
    let run_id = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = run_dir.join(crate::journal::JOURNAL_FILE);
    let replay = crate::journal::replay(&path)
        .map_err(|e| format!("cannot read the journal {}: {e}", path.display()))?;
    let state = crate::state::State::fold(&replay.events);
    if state.git.run_branch.is_none() {
        return Err(format!(
            "run {run_id} did not use worktree isolation: its changes are already in its \
             workspace"
        ));
    }
    let workspace = state
        .settings
        .as_ref()
        .and_then(|s| s.workspace.clone())
        .ok_or_else(|| format!("run {run_id} has no workspace"))?;
    let done = crate::isolation::accept(Path::new(&workspace), run_dir, &run_id)
        .map_err(|e| e.to_string())?;
    let how = if done.fast_forward {
        "fast-forward"
    } else {
        "merge commit"
    };
    Ok(format!(
        "merged {} into {} ({how}) in {workspace}; removed {} worktree(s) of the run (the \
         branch {} is kept)",
        done.branch, done.into, done.removed, done.branch
    ))
}
