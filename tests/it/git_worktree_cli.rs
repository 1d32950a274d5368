//! Worktree isolation through the real binary (headless, demo provider): the session
//! creates the run's worktree from `--isolation worktree`, the person's repository is
//! untouched, `baton accept` merges the run's branch; without git the flag is a usage error;
//! a worker's command runs in its worktree and the sandbox keeps its writes there.

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

/// A writing worker's `run_command` runs in its own worktree, and the sandbox confines its
/// writes there: not the person's tree, not the repository's `.git/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_s_command_runs_in_its_worktree_and_writes_nowhere_else() {
    use crate::tools_support::{FakeHost, tool_call};
    use baton::engine::merge::Worktrees;
    use baton::isolation::RunWorktrees;
    use baton::protocol::SubtaskId;
    use baton::tools::WorkspaceOptions;
    use baton::tools::sandbox::{SandboxMode, SandboxOptions, Support};

    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("project");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "# project\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    let before = person_view(&repo);
    let run_dir = tmp.path().join("run");
    let trees = RunWorktrees::prepare(&repo, &run_dir, "r5").unwrap();
    let tree = trees.prepare_subtask(SubtaskId(1)).unwrap();

    let support = Support::probe();
    assert!(support.landlock_abi.is_some(), "this test needs Landlock");
    let mut options = WorkspaceOptions::new(&run_dir);
    options.allow_commands = true;
    options.sandbox = SandboxOptions {
        mode: SandboxMode::On,
        network: false,
        command_env: Vec::new(),
        launcher: Some(std::path::PathBuf::from(env!("CARGO_BIN_EXE_baton"))),
        support,
    };
    let tools = (Worktrees::workspace_tools(options, None))(&tree.root).unwrap();
    let line = format!(
        "pwd; echo inside > inside.txt; echo out > {0}/escape.txt; echo hook > {0}/.git/hooks/post-commit; true",
        repo.display()
    );
    let out = tools
        .call(
            &FakeHost::default(),
            SubtaskId(1),
            1,
            &tool_call("run_command", serde_json::json!({"command": line})),
        )
        .await;
    let canonical = tree.root.canonicalize().unwrap();
    assert!(
        out.content.contains(&canonical.display().to_string()),
        "{}",
        out.content
    );
    assert_eq!(
        std::fs::read_to_string(tree.root.join("inside.txt")).unwrap(),
        "inside\n"
    );
    assert!(!repo.join("escape.txt").exists(), "{}", out.content);
    assert!(
        !repo.join(".git/hooks/post-commit").exists(),
        "{}",
        out.content
    );
    assert_eq!(person_view(&repo), before);
}
