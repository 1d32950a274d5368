//! Worktree isolation through the real binary (headless, demo provider): the session
//! creates the run's worktree from `--isolation worktree`, the person's repository is
//! untouched, `baton accept` merges the run's branch; without git the flag is a usage error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::git_worktree::{git, person_view};
use crate::support::copy_dir;
use crate::support_cli::{baton, data_dir, only_run_dir, text};

/// The real binary (headless, demo provider): `--isolation worktree` makes the session
/// create the run's worktree; the demo developers' edits land on `baton/<run id>` only;
/// `baton accept latest` merges them into `main`. Without a git repository the flag is a
/// usage error that creates no run.
#[test]
fn the_binary_runs_in_worktrees_and_accept_merges_the_run_branch() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();

    let plain = work.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let o = baton(home.path())
        .args(["--headless", "--isolation", "worktree", "--workspace"])
        .arg(&plain)
        .arg("Fix the TODOs")
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not in a git working tree"), "{err}");
    assert!(
        baton::journal::list_runs(&data_dir(home.path()))
            .unwrap_or_default()
            .is_empty()
    );

    let project = work.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-project"),
        &project,
    );
    git(&project, &["init", "-q", "-b", "main"]);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "-m", "sample"]);
    let before = person_view(&project);
    let o = baton(home.path())
        .args(["--headless", "--isolation", "worktree", "--workspace"])
        .arg(&project)
        .arg("Fix the TODOs in this URL shortener")
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let run_dir = only_run_dir(home.path());
    let run_id = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    let branch = format!("baton/{run_id}");
    assert!(err.contains(&format!("baton accept {run_id}")), "{err}");
    assert_eq!(person_view(&project), before);
    let changed = git(&project, &["diff", "--name-only", "main", &branch]);
    assert!(
        !changed.trim().is_empty(),
        "the demo changed nothing: {err}"
    );

    let o = baton(home.path())
        .args(["accept", "latest"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains(&format!("merged {branch} into main")), "{out}");
    assert_eq!(git(&project, &["diff", "--name-only", "main", &branch]), "");
    assert_eq!(git(&project, &["status", "--porcelain"]), "");
    assert!(!run_dir.join("worktrees").join(&run_id).exists());
}
