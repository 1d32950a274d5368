//! A worktree run's branch (`baton/<run id>`) where a person looks for it: the header's
//! second line (snapshots at 80x24 and 160x48; the last item, so a narrow line drops it
//! before tokens and cost; made safe for the terminal) and the STATUS column of `baton runs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use baton::journal::{RunStatus, RunSummary};
use baton::protocol::Event;

use baton::protocol::{Origin, Priority};
use baton::tui::app::Ui;

use crate::tui_support::{Script, added, feed, mid_run, new_ui, render, settings, started};

fn run_tree(branch: &str) -> Event {
    Event::WorktreeCreated {
        id: None,
        attempt: 0,
        branch: branch.into(),
        path: "/tmp/run/worktrees/20260101-100000-url".into(),
        base: "0".repeat(40),
        created: true,
    }
}

/// A worktree run with two workers writing (no dialog over the screen).
fn worktree_run() -> Ui {
    let mut ui = new_ui();
    let mut s = Script::default();
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "20260101-100000-url".into(),
                task: "Add input validation and its tests".into(),
                settings: settings(),
            },
            run_tree("baton/20260101-100000-url"),
            added(
                1,
                "Validate URLs",
                "code_developer",
                Priority::High,
                &[],
                Origin::Analysis,
                false,
            ),
            added(
                2,
                "Test validation",
                "test_engineer",
                Priority::Normal,
                &[],
                Origin::Analysis,
                false,
            ),
            started(1, 1, "code_developer"),
            started(2, 2, "test_engineer"),
        ],
    );
    ui
}

#[test]
fn the_header_shows_the_run_branch() {
    let mut ui = worktree_run();
    let wide = render(&mut ui, 160, 48);
    assert!(wide.contains("· baton/20260101-100000-url"), "{wide}");
    insta::assert_snapshot!("run_branch_header_160x48", wide);
    let narrow = render(&mut ui, 80, 24);
    assert!(narrow.contains("· baton/20260101-100000-url"), "{narrow}");
    insta::assert_snapshot!("run_branch_header_80x24", narrow);
}

#[test]
fn a_hostile_branch_name_reaches_the_header_without_its_escapes() {
    let mut ui = new_ui();
    let mut s = mid_run(&mut ui);
    feed(
        &mut ui,
        &mut s,
        vec![run_tree("baton/x\u{1b}]0;owned\u{7}\nnext")],
    );
    let text = render(&mut ui, 160, 48);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text}"
    );
    assert!(text.contains("· baton/x"), "{text}");
}

#[test]
fn baton_runs_shows_a_worktree_run_s_branch() {
    let summary = |id: &str, branch: Option<&str>| RunSummary {
        id: id.into(),
        dir: PathBuf::from("/tmp/runs").join(id),
        started: None,
        task: "Improve the shortener".into(),
        status: RunStatus::Completed,
        subtasks: 4,
        cost_usd: 0.5,
        cost_incomplete: false,
        corrupt_lines: 0,
        rollback_in_progress: None,
        branch: branch.map(String::from),
    };
    let table = baton::export::runs_table(
        &[
            summary("20260101-100000-aaaa", None),
            summary("20260101-110000-bbbb", Some("baton/20260101-110000-bbbb")),
        ],
        &PathBuf::from("/tmp/runs"),
    );
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[1].contains("completed, on baton/20260101-110000-bbbb"),
        "{table}"
    );
    assert!(!lines[2].contains(", on "), "{table}");
}
