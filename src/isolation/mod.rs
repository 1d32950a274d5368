//! Git worktree isolation (`isolation = "worktree"`): the run works on its own branch in
//! its own worktree, and every worker that may write works in a worktree of its own,
//! merged into the run's branch when it reports. The person's working tree and current
//! branch are never touched until they accept the run's branch ([`accept`]).
//!
//! Owns: the names (branch `baton/<run id>` for the run; `baton-work/<run id>/<n>` for
//! subtask `#n`, because git cannot hold a branch `baton/<run id>` and branches below it,
//! `baton/<run id>/3`, at once), the directories (`<run dir>/worktrees/<run id>` and
//! `<run dir>/worktrees/<run id>-<n>`, outside the workspace), creating or reusing them,
//! committing a worker's changes, merging (fast-forward or a real merge; a conflict is
//! aborted and described), reverting a merge (rollback) and accepting.
//!
//! All git work goes through [`git`] (the command line, hardened; why not libgit2 is said
//! there) and is serialised by one lock per run: workers preparing their worktrees and the
//! engine merging never run git against the same repository at once.
//!
//! Must not journal anything (the engine journals what this did) nor decide what a
//! conflict leads to (the engine does: recovery or a person).

pub mod git;
pub mod merged;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::protocol::SubtaskId;
use git::{At, GitError};

/// Most bytes of conflicting hunks kept for the orchestrator or the person.
pub const HUNKS_CAP: usize = 6 * 1024;

/// `isolation`: where writing workers work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// In the workspace itself, with change records (today's behaviour).
    #[default]
    None,
    /// In a git worktree each, merged into the run's branch on report.
    Worktree,
}

impl Isolation {
    pub fn name(self) -> &'static str {
        match self {
            Isolation::None => "none",
            Isolation::Worktree => "worktree",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "none" => Ok(Isolation::None),
            "worktree" => Ok(Isolation::Worktree),
            other => Err(format!("unknown isolation `{other}`; use worktree or none")),
        }
    }
}

/// `merge_conflicts`: who decides when a worker's branch does not merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// The orchestrator gets a recovery decision with the conflicting files and hunks.
    #[default]
    Recover,
    /// The subtask is escalated to the person with the conflicting hunks.
    Person,
}

impl FromStr for ConflictPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "recover" => Ok(ConflictPolicy::Recover),
            "person" => Ok(ConflictPolicy::Person),
            other => Err(format!(
                "unknown merge_conflicts `{other}`; use recover or person"
            )),
        }
    }
}

impl fmt::Display for ConflictPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConflictPolicy::Recover => "recover",
            ConflictPolicy::Person => "person",
        })
    }
}

/// The run's branch name.
/// The run's branch as shown to a person (the header, `baton runs`): one line, safe for a
/// terminal, at most 48 characters.
pub fn shown_branch(branch: &str) -> String {
    crate::text::sanitize::one_line(branch, 48)
}

pub fn run_branch(run_id: &str) -> String {
    format!("baton/{run_id}")
}

/// The branch of subtask `id` in run `run_id`.
pub fn subtask_branch(run_id: &str, id: SubtaskId) -> String {
    format!("baton-work/{run_id}/{}", id.0)
}

/// One worktree as created or reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub branch: String,
    /// The worktree's directory.
    pub path: PathBuf,
    /// Where workers' tools are rooted (and the path journaled): the worktree, or the
    /// workspace's subdirectory in it when the workspace is below the repository's top.
    pub root: PathBuf,
    /// The commit it starts from.
    pub base: String,
    /// False when an existing worktree was reused (a resumed run).
    pub created: bool,
}

/// A worker's branch merged into the run's branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// The worker changed nothing: no commit, nothing merged.
    Nothing,
    Merged {
        /// The run branch's head before and after.
        before: String,
        after: String,
        fast_forward: bool,
        files: Vec<String>,
    },
    /// The merge was aborted; the run branch is as it was.
    Conflict { files: Vec<String>, hunks: String },
}

/// The run's repository and worktrees.
#[derive(Debug)]
pub struct RunWorktrees {
    run_id: String,
    /// The top of the person's repository (its main working tree).
    top: PathBuf,
    /// The workspace's path below `top` (`""` at the top), with a trailing `/`.
    prefix: String,
    /// The repository's common git directory.
    common: PathBuf,
    /// `<run dir>/worktrees`.
    dir: PathBuf,
    run: Tree,
    lock: Mutex<()>,
}

impl RunWorktrees {
    /// Opens the run's worktree for `workspace` (a git repository with at least one commit):
    /// creates branch `baton/<run id>` from HEAD and its worktree under `run_dir`, or reuses
    /// them when they exist (a resumed run).
    pub fn prepare(workspace: &Path, run_dir: &Path, run_id: &str) -> Result<Self, GitError> {
        let at = At::Dir(workspace.to_path_buf());
        let top = git::check(&at, &["rev-parse", "--show-toplevel"])?.line();
        if top.is_empty() {
            return Err(GitError(format!(
                "{} is not in a git working tree",
                workspace.display()
            )));
        }
        let top = PathBuf::from(top);
        let prefix = git::check(&at, &["rev-parse", "--show-prefix"])?.line();
        let common = git::absolute(
            workspace,
            &git::check(&at, &["rev-parse", "--git-common-dir"])?.line(),
        );
        let dir = run_dir.join("worktrees");
        std::fs::create_dir_all(&dir)
            .map_err(|e| GitError(format!("cannot create {}: {e}", dir.display())))?;
        let mut trees = RunWorktrees {
            run_id: run_id.to_string(),
            top,
            prefix,
            common,
            dir,
            run: Tree {
                branch: run_branch(run_id),
                path: PathBuf::new(),
                root: PathBuf::new(),
                base: String::new(),
                created: false,
            },
            lock: Mutex::new(()),
        };
        let _ = git::run(&trees.main(), &["worktree", "prune"]);
        let branch = trees.run.branch.clone();
        let path = trees.dir.join(run_id);
        let exists = trees.branch_exists(&branch)?;
        let start = if exists {
            branch.clone()
        } else {
            "HEAD".into()
        };
        let base = git::check(&trees.main(), &["rev-parse", "--verify", &start])
            .map_err(|_| {
                GitError(
                    "the repository has no commit yet; commit once before a worktree run".into(),
                )
            })?
            .line();
        let created = if trees.usable(&path) {
            false
        } else {
            let p = path.to_string_lossy().into_owned();
            if exists {
                git::check(&trees.main(), &["worktree", "add", &p, &branch])?;
            } else {
                git::check(
                    &trees.main(),
                    &["worktree", "add", "-b", &branch, &p, &base],
                )?;
            }
            true
        };
        trees.run = Tree {
            root: trees.root_in(&path),
            path,
            branch,
            base,
            created,
        };
        trees.check_admin(&trees.run.path)?;
        Ok(trees)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The run's worktree.
    pub fn run_tree(&self) -> &Tree {
        &self.run
    }

    /// The person's repository top.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The worktree of subtask `id`, made to start at the run branch's current head: created
    /// the first time, reset (tracked files restored, untracked ones removed, ignored ones
    /// kept) for a new attempt or a resumed run. Its earlier attempts' work is dropped: a
    /// retry starts again from what the run has merged so far.
    pub fn prepare_subtask(&self, id: SubtaskId) -> Result<Tree, GitError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let branch = subtask_branch(&self.run_id, id);
        let path = self.dir.join(format!("{}-{}", self.run_id, id.0));
        let base = self.head_of(&self.run.branch)?;
        let created = if self.usable(&path) {
            let at = self.at(&path)?;
            git::check(&at, &["reset", "-q", "--hard"])?;
            git::check(&at, &["clean", "-q", "-fd"])?;
            git::check(&at, &["checkout", "-q", "-B", &branch, &base])?;
            false
        } else {
            let p = path.to_string_lossy().into_owned();
            git::check(
                &self.main(),
                &["worktree", "add", "-q", "-B", &branch, &p, &base],
            )?;
            self.check_admin(&path)?;
            true
        };
        Ok(Tree {
            root: self.root_in(&path),
            path,
            branch,
            base,
            created,
        })
    }

    /// Commits what the worker of `id` changed on its branch (`message` as the commit
    /// message) and merges it into the run's branch.
    pub fn merge(&self, id: SubtaskId, message: &str) -> Result<Merge, GitError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let branch = subtask_branch(&self.run_id, id);
        let path = self.dir.join(format!("{}-{}", self.run_id, id.0));
        let work = self.at(&path)?;
        git::check(&work, &["add", "-A"])?;
        let staged = git::run(&work, &["diff", "--cached", "--quiet"])?;
        if staged.ok {
            // Nothing to commit; nothing to merge unless the branch has commits of its own.
            let ahead = git::check(
                &work,
                &[
                    "rev-list",
                    "--count",
                    &format!("{}..{branch}", self.run.branch),
                ],
            )?
            .line();
            if ahead == "0" {
                return Ok(Merge::Nothing);
            }
        } else {
            git::check(&work, &["commit", "-q", "--no-verify", "-m", message])?;
        }
        let run = self.at(&self.run.path)?;
        let before = self.head_of(&self.run.branch)?;
        let merged = git::run(
            &run,
            &[
                "merge",
                "--no-edit",
                "-m",
                &format!("Merge {branch}: {message}"),
                &branch,
            ],
        )?;
        if merged.ok {
            let after = self.head_of(&self.run.branch)?;
            let fast_forward = after == self.head_of(&branch)?;
            let files = lines(&git::check(&run, &["diff", "--name-only", &before, &after])?.stdout);
            return Ok(Merge::Merged {
                before,
                after,
                fast_forward,
                files,
            });
        }
        let files = lines(&git::run(&run, &["diff", "--name-only", "--diff-filter=U"])?.stdout);
        let hunks = git::run(&run, &["diff", "--no-ext-diff", "--no-color"])?.stdout;
        let _ = git::run(&run, &["merge", "--abort"]);
        if files.is_empty() {
            return Err(GitError(format!(
                "merging {branch} failed: {}",
                crate::text::one_line(merged.stderr.trim(), 300)
            )));
        }
        Ok(Merge::Conflict {
            files,
            hunks: cap(&hunks, HUNKS_CAP),
        })
    }

    /// Undoes a merge on the run's branch with a revert commit (`before..after` as
    /// recorded by [`Merge::Merged`]). Returns the files the revert changed.
    pub fn revert(&self, before: &str, after: &str) -> Result<Vec<String>, GitError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let run = self.at(&self.run.path)?;
        let head = self.head_of(&self.run.branch)?;
        let parents = git::check(&run, &["rev-list", "--parents", "-n", "1", after])?.line();
        let is_merge = parents.split_whitespace().count() > 2;
        let range = format!("{before}..{after}");
        let args: Vec<&str> = if is_merge {
            vec!["revert", "--no-edit", "-m", "1", after]
        } else {
            vec!["revert", "--no-edit", &range]
        };
        let out = git::run(&run, &args)?;
        if !out.ok {
            let _ = git::run(&run, &["revert", "--abort"]);
            return Err(GitError(format!(
                "the revert does not apply cleanly (later work changed the same lines): {}",
                crate::text::one_line(out.stdout.trim(), 200)
            )));
        }
        let now = self.head_of(&self.run.branch)?;
        Ok(lines(
            &git::check(&run, &["diff", "--name-only", &head, &now])?.stdout,
        ))
    }

    /// The person's repository (its main working tree; only read, and written in refs).
    fn main(&self) -> At {
        At::Dir(self.top.clone())
    }

    /// The workspace's place in the worktree at `path`.
    fn root_in(&self, path: &Path) -> PathBuf {
        if self.prefix.is_empty() {
            path.to_path_buf()
        } else {
            path.join(&self.prefix)
        }
    }

    /// How many paths `git status` lists in the person's working tree: changes the run does
    /// not see (it starts from HEAD).
    pub fn uncommitted(&self) -> usize {
        git::run(&self.main(), &["status", "--porcelain"])
            .map(|o| lines(&o.stdout).len())
            .unwrap_or(0)
    }

    fn branch_exists(&self, branch: &str) -> Result<bool, GitError> {
        let r = format!("refs/heads/{branch}");
        Ok(git::run(&self.main(), &["rev-parse", "--verify", "-q", &r])?.ok)
    }

    fn head_of(&self, branch: &str) -> Result<String, GitError> {
        let r = format!("refs/heads/{branch}");
        Ok(git::check(&self.main(), &["rev-parse", "--verify", &r])?.line())
    }

    /// The worktree at `path` is one git knows as this directory (a resumed run reuses it).
    fn usable(&self, path: &Path) -> bool {
        path.is_dir() && self.check_admin(path).is_ok()
    }

    /// The administrative directory git keeps for the worktree at `path`: worktree names
    /// are the directories' names, unique per run id.
    fn admin(&self, path: &Path) -> PathBuf {
        let name = path.file_name().map(PathBuf::from).unwrap_or_default();
        self.common.join("worktrees").join(name)
    }

    /// Checks that git's record of the worktree at `path` points at it.
    fn check_admin(&self, path: &Path) -> Result<(), GitError> {
        let gitdir = std::fs::read_to_string(self.admin(path).join("gitdir")).unwrap_or_default();
        let want = path.join(".git");
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if same(Path::new(gitdir.trim()), &want) {
            Ok(())
        } else {
            Err(GitError(format!(
                "git did not register the worktree {} as expected",
                path.display()
            )))
        }
    }

    /// Where to run git for the worktree at `path`, through its administrative directory.
    fn at(&self, path: &Path) -> Result<At, GitError> {
        if !self.usable(path) {
            return Err(GitError(format!(
                "the worktree {} is missing",
                path.display()
            )));
        }
        Ok(At::Tree {
            git_dir: self.admin(path),
            work_tree: path.to_path_buf(),
        })
    }
}

/// Whether `workspace` can hold a worktree run: inside a git working tree whose HEAD is a
/// commit. Checked before a run directory is created.
pub fn check_repository(workspace: &Path) -> Result<(), GitError> {
    let at = At::Dir(workspace.to_path_buf());
    let inside = git::run(&at, &["rev-parse", "--is-inside-work-tree"])?;
    if !inside.ok || inside.line() != "true" {
        return Err(GitError(format!(
            "{} is not in a git working tree",
            workspace.display()
        )));
    }
    if !git::run(&at, &["rev-parse", "--verify", "-q", "HEAD"])?.ok {
        return Err(GitError(
            "the repository has no commit yet; commit once before a worktree run".into(),
        ));
    }
    Ok(())
}

/// What [`accept`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub branch: String,
    /// The person's branch it was merged into (`HEAD` when detached).
    pub into: String,
    pub fast_forward: bool,
    /// Worktrees of the run that were removed.
    pub removed: usize,
}

/// `baton accept RUN`: merges the run's branch into the branch checked out in `workspace`
/// (the person's explicit decision; the only git operation of Baton in their working tree),
/// then removes the run's worktrees and its subtasks' branches. The run's branch is kept.
/// A merge that does not go through cleanly is aborted, leaving the person's tree as it
/// was, and the error says how to merge by hand.
pub fn accept(workspace: &Path, run_dir: &Path, run_id: &str) -> Result<Accepted, GitError> {
    let at = At::Dir(workspace.to_path_buf());
    let top = PathBuf::from(git::check(&at, &["rev-parse", "--show-toplevel"])?.line());
    let main = At::Dir(top.clone());
    let branch = run_branch(run_id);
    let r = format!("refs/heads/{branch}");
    if !git::run(&main, &["rev-parse", "--verify", "-q", &r])?.ok {
        return Err(GitError(format!(
            "the repository at {} has no branch {branch}",
            top.display()
        )));
    }
    let into = git::run(&main, &["symbolic-ref", "-q", "--short", "HEAD"])?.line();
    let into = if into.is_empty() { "HEAD".into() } else { into };
    let before = git::check(&main, &["rev-parse", "HEAD"])?.line();
    let merged = git::run(
        &main,
        &[
            "merge",
            "--no-edit",
            "-m",
            &format!("Merge {branch} (Baton run {run_id})"),
            &branch,
        ],
    )?;
    if !merged.ok {
        let _ = git::run(&main, &["merge", "--abort"]);
        let said = format!("{} {}", merged.stdout.trim(), merged.stderr.trim());
        return Err(GitError(format!(
            "{branch} does not merge cleanly into {into}, so nothing was changed ({}); \
             run `git merge {branch}` yourself to resolve it",
            crate::text::one_line(said.trim(), 300)
        )));
    }
    let after = git::check(&main, &["rev-parse", "HEAD"])?.line();
    let tip = git::check(&main, &["rev-parse", &r])?.line();
    let fast_forward = after == tip && before != after;
    let mut removed = 0;
    if let Ok(entries) = std::fs::read_dir(run_dir.join("worktrees")) {
        for entry in entries.flatten() {
            let p = entry.path().to_string_lossy().into_owned();
            if git::run(&main, &["worktree", "remove", "--force", &p])?.ok {
                removed += 1;
            }
        }
    }
    let _ = git::run(&main, &["worktree", "prune"]);
    let work = format!("refs/heads/baton-work/{run_id}/");
    let refs = git::run(&main, &["for-each-ref", "--format=%(refname)", &work])?;
    for name in lines(&refs.stdout) {
        let _ = git::run(&main, &["update-ref", "-d", &name]);
    }
    Ok(Accepted {
        branch,
        into,
        fast_forward,
        removed,
    })
}

/// The non-empty lines of `text`.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// `text` cut to about `max` bytes (at a character boundary), with a note of the cut.
fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n… ({} more bytes)\n", &text[..end], text.len() - end)
}
