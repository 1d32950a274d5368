//! Running the `git` command line for the run's worktrees: one function, [`run`], that
//! starts `git` with a scrubbed environment and with nothing configurable to run code.
//!
//! Why the command line and not libgit2 (`git2`): worktrees, merges with conflicts,
//! `merge --abort` and `revert -m 1` are what the person's own `git` does, with the
//! person's git version and the repository's own format (sha256 repositories, reftables,
//! sparse indexes, new extensions) that libgit2 lags behind or refuses; the result the
//! person accepts is then exactly what their `git merge` would give. It also adds no C
//! dependency to the build. The cost is a process per operation (a few milliseconds), which
//! is nothing next to a model call.
//!
//! Hardening (docs/security.md, "Worktree isolation"): the environment is cleared except
//! `PATH`; no system or global config is read (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL`
//! = `/dev/null`), so the person's aliases, pagers and credential helpers play no part;
//! hooks and the fsmonitor are off (`-c core.hooksPath=/dev/null -c core.fsmonitor=false`);
//! no prompt, no pager, no signing, no external diff or text conversion. Commits are made
//! as `Baton <baton@localhost>`, so they need no identity configured. A worktree a worker
//! wrote to is addressed with `--git-dir`/`--work-tree` given by Baton, never through the
//! `.git` file inside it (a command could have rewritten that file).
//!
//! Must not: read a key, use the network (no fetch, no push), or touch the person's
//! working tree except in [`super::accept`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Most bytes of a git command's output kept (a diff of a huge file is cut).
pub const OUTPUT_CAP: usize = 256 * 1024;

/// Where a git command runs.
#[derive(Debug, Clone)]
pub enum At {
    /// A directory of a repository (`git -C dir`).
    Dir(PathBuf),
    /// A worktree given by its administrative directory and its working directory.
    Tree {
        git_dir: PathBuf,
        work_tree: PathBuf,
    },
}

/// What a git command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The first line of stdout, trimmed (a commit id, a path).
    pub fn line(&self) -> String {
        self.stdout.lines().next().unwrap_or("").trim().to_string()
    }
}

/// A git command that could not run or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GitError(pub String);

/// Runs `git ARGS` at `at`; `Ok` whatever the exit code (the caller decides).
pub fn run(at: &At, args: &[&str]) -> Result<Output, GitError> {
    let mut cmd = Command::new("git");
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("LC_ALL", "C")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env("GIT_OPTIONAL_LOCKS", "0");
    for setting in [
        "core.hooksPath=/dev/null",
        "core.fsmonitor=false",
        "core.pager=cat",
        "commit.gpgsign=false",
        "tag.gpgsign=false",
        "user.name=Baton",
        "user.email=baton@localhost",
        "merge.conflictStyle=merge",
        "advice.detachedHead=false",
    ] {
        cmd.arg("-c").arg(setting);
    }
    match at {
        At::Dir(dir) => {
            cmd.arg("-C").arg(dir);
        }
        At::Tree { git_dir, work_tree } => {
            cmd.arg("--git-dir")
                .arg(git_dir)
                .arg("--work-tree")
                .arg(work_tree)
                .current_dir(work_tree);
        }
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd
        .output()
        .map_err(|e| GitError(format!("cannot run git: {e}")))?;
    Ok(Output {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: capped(&out.stdout),
        stderr: capped(&out.stderr),
    })
}

/// Runs `git ARGS` and fails with git's own message when it fails.
pub fn check(at: &At, args: &[&str]) -> Result<Output, GitError> {
    let out = run(at, args)?;
    if out.ok {
        return Ok(out);
    }
    let said = out.stderr.trim();
    let said = if said.is_empty() {
        out.stdout.trim()
    } else {
        said
    };
    Err(GitError(format!(
        "`git {}` failed: {}",
        args.join(" "),
        crate::text::one_line(said, 300)
    )))
}

fn capped(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(OUTPUT_CAP)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > OUTPUT_CAP {
        text.push_str("\n… (cut)\n");
    }
    text
}

/// A path as git prints it, made absolute against `base`.
pub fn absolute(base: &Path, printed: &str) -> PathBuf {
    let p = PathBuf::from(printed.trim());
    if p.is_absolute() { p } else { base.join(p) }
}
