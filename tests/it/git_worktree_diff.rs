//! The diff view of a worktree run after `baton accept` removed its worktrees: each
//! subtask's changes are read from its merge commits with git (real git, a real run through
//! the fake model), the same files and line counts as before accepting; a subtask rolled
//! back before accepting is marked `rolled back`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use baton::isolation::{self, ConflictPolicy};
use baton::protocol::RunOutcome;
use baton::tui::app::Screen;
use baton::tui::changes;

use crate::git_worktree::{isolated, merges, repo, responder, run};
use crate::support::FakeLlm;
use crate::tui_support::new_ui;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diff_view_reads_the_merge_commits_once_accept_removed_the_worktrees() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let run_dir = tmp.path().join("run");
    let server = FakeLlm::with_responder(responder(false)).await;
    let f = run(
        isolated(&repo, &run_dir, "r1", ConflictPolicy::Recover),
        &server,
        "r1",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    let m = merges(&f);
    let id_of = |file: &str| m.iter().find(|(_, _, f)| f[0] == file).unwrap().0;
    let (a, b) = (id_of("new_a.txt"), id_of("new_b.txt"));

    // Roll #a back before accepting (a revert on the run branch).
    let (mut finished, _) = baton::engine::finished::FinishedRun::open(&run_dir).unwrap();
    finished.rollback(a).unwrap();
    let state = finished.state().clone();

    let mut ui = new_ui();
    ui.state = state;
    ui.info.run_dir = Some(run_dir.clone());
    let shown = |ui: &baton::tui::app::Ui, id| {
        let c = changes::load(ui, id, Screen::Main);
        assert_eq!(c.problem, None);
        c.diffs
            .iter()
            .map(|d| (d.path.clone(), d.added, d.removed))
            .collect::<Vec<_>>()
    };
    let before_b = shown(&ui, b);
    assert_eq!(before_b, [("new_b.txt".to_string(), 1, 0)]);

    isolation::accept(&repo, &run_dir, "r1").unwrap();
    let tree = ui.state.git.worktree_of(b).unwrap().to_string();
    assert!(!Path::new(&tree).exists(), "{tree}");

    // The worktree is gone: the same file and counts, now from git.
    assert_eq!(shown(&ui, b), before_b);
    let diff = &changes::load(&ui, b, Screen::Main).diffs[0];
    assert!(diff.diff.contains("+from B"), "{diff:?}");
    assert!(diff.notes.contains(&"created".to_string()), "{diff:?}");
    let rolled = &changes::load(&ui, a, Screen::Main).diffs[0];
    assert_eq!(rolled.path, "new_a.txt");
    assert!(rolled.diff.contains("+from A"), "{rolled:?}");
    assert!(
        rolled.notes.contains(&"rolled back".to_string()),
        "{rolled:?}"
    );
}
