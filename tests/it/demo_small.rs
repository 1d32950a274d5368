//! A small software task gets a small plan on the demo (issue 10): "Rename a variable"
//! under `--approve auto`, orchestrated, runs two subtasks (make the change, check it),
//! not the software theme's six-subtask chain. Pace 0, paused time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::demo_support;
use crate::engine_common;

use baton::engine::Start;
use baton::protocol::{ApprovalPolicy, Command, Event, RunMode, RunOutcome};
use engine_common::{check_consistent, config, drive, settings};

#[tokio::test(start_paused = true)]
async fn rename_a_variable_gets_a_small_plan_under_approve_auto() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 3);
    s.provider = "demo".into();
    let f = drive(
        config(dir.path(), s),
        demo_support::demo_arc(),
        Start::New {
            run_id: "demo-small".into(),
            task: "Rename a variable".into(),
        },
        |env, _| {
            let mut out = demo_support::person(env);
            // Whoever answers the gate, orchestrating it must still give a small plan.
            if let Event::ModeChoiceRequested { .. } = env.event {
                out.push(Command::ChooseMode {
                    mode: RunMode::Orchestrate,
                });
            }
            out
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);
    let titles: Vec<&str> = f.state.subtasks.iter().map(|s| s.title.as_str()).collect();
    assert!(
        titles.len() <= 3,
        "a small task gets a small plan, not {}: {titles:?}",
        titles.len()
    );
    assert_eq!(f.state.initial_estimate(), 2, "{titles:?}");
    let analysis = f
        .of(|e| matches!(e, Event::AnalysisCompleted { .. }))
        .next()
        .unwrap();
    if let Event::AnalysisCompleted { analysis, .. } = analysis {
        assert!(
            analysis.strategy.contains("small change"),
            "{}",
            analysis.strategy
        );
    }
}

/// "small" describes the product, not the change: a build with several parts keeps the
/// theme's plan (seen failing first: it got the two-subtask "small change" plan).
#[test]
fn a_small_app_to_build_is_not_a_small_change() {
    assert!(baton::demo::analysis::is_small("Rename a variable"));
    assert!(!baton::demo::analysis::is_small(
        "Build a small CLI todo app with tests and docs"
    ));
    assert!(!baton::demo::analysis::is_small(
        "A quick prototype of a chat server"
    ));
}
