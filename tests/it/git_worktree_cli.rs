//! Worktree isolation through the real binary (headless, demo provider): the session
//! creates the run's worktree from `--isolation worktree`, the person's repository is
//! untouched, `baton accept` merges the run's branch; without git the flag is a usage error;
//! a worker's command runs in its worktree and the sandbox keeps its writes there; the TUI's
//! diff view of a subtask reads its worktree.

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

/// The diff view of a worktree run's subtask compares its recorded original with the file
/// in the subtask's own worktree (what its branch changed), not with the person's copy.
#[test]
fn the_diff_view_reads_the_subtask_s_worktree() {
    use crate::tui_support::{Script, added, feed, new_ui, settings, started};
    use baton::protocol::*;
    use baton::tools::changes::sha256_hex;
    use baton::tui::app::Screen;

    let tmp = tempfile::tempdir().unwrap();
    let (ws, tree, run) = (
        tmp.path().join("ws"),
        tmp.path().join("run/worktrees/r6-1"),
        tmp.path().join("run"),
    );
    for dir in [&ws, &tree, &run.join("backups/1")] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(ws.join("app.py"), "old\n").unwrap();
    std::fs::write(tree.join("app.py"), "new\n").unwrap();
    std::fs::write(run.join("backups/1/1-app.py"), "old\n").unwrap();
    let mut ui = new_ui();
    ui.info.run_dir = Some(run.clone());
    let mut s = settings();
    s.workspace = Some(ws.display().to_string());
    let tree_event = |id: Option<SubtaskId>, path: &Path| Event::WorktreeCreated {
        id,
        attempt: u32::from(id.is_some()),
        branch: "b".into(),
        path: path.display().to_string(),
        base: "0".repeat(40),
        created: true,
    };
    feed(
        &mut ui,
        &mut Script::default(),
        vec![
            Event::RunStarted {
                run_id: "r6".into(),
                task: "t".into(),
                settings: s,
            },
            tree_event(None, &run.join("worktrees/r6")),
            added(
                1,
                "Edit",
                "code_developer",
                Priority::Normal,
                &[],
                Origin::Analysis,
                false,
            ),
            started(1, 1, "code_developer"),
            tree_event(Some(SubtaskId(1)), &tree),
            Event::FileChanged {
                id: SubtaskId(1),
                path: "app.py".into(),
                before: Some(sha256_hex(b"old\n")),
                after: Some(sha256_hex(b"new\n")),
                backup: Some("backups/1/1-app.py".into()),
            },
        ],
    );
    let changes = baton::tui::changes::load(&ui, SubtaskId(1), Screen::Main);
    assert_eq!(changes.problem, None);
    let diff = &changes.diffs[0];
    assert!(
        diff.diff.contains("-old") && diff.diff.contains("+new"),
        "{diff:?}"
    );
    assert!(diff.notes.is_empty(), "{diff:?}");
}
