//! Whole runs of the engine against a scripted model: the loop, discovered subtasks,
//! dependencies and parallelism, replan batching, recovery, repair, approvals, commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod engine_common;

use std::sync::Arc;

use baton::engine::protocol::*;
use baton::engine::*;
use engine_common::*;

#[tokio::test(start_paused = true)]
async fn whole_run_with_discovered_subtask() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(
        Fake::new(vec![
            st("Survey", "code_analyzer", &[]),
            st("Design", "system_architect", &["Survey"]),
        ])
        .rule(|c| {
            let b = c.brief.as_ref()?;
            (b.title == "Survey").then(|| {
                Reply::Tool(
                    SUBMIT_REPORT,
                    report(
                        "complete",
                        "survey done",
                        vec![st("Docs", "documentation_writer", &["#1"])],
                    ),
                )
            })
        }),
    );
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 2)),
        fake,
        "build it",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let s = &f.state;
    assert_eq!(s.subtasks.len(), 3);
    assert!(
        s.subtasks
            .iter()
            .all(|t| t.status == SubtaskStatus::Complete)
    );
    assert_eq!(
        s.subtasks[2].origin,
        Origin::Discovered {
            from: SubtaskId(1),
            cycle: 1
        }
    );
    let synth = s.synthesis.as_ref().unwrap();
    assert!(synth.deliverable.contains("survey done"));
    let sum = s.summary.as_ref().unwrap();
    assert_eq!(sum.subtasks_total, 3);
    assert_eq!(sum.initial_estimate, 2);
    assert_eq!(sum.completed, 3);
    assert!(sum.replan_cycles >= 2);
    assert_eq!(s.phase, Phase::Done);
    // Design (#2) got Survey's result in its brief, Docs too; not Design's.
    let brief2 = s.subtasks[1].brief.as_ref().unwrap();
    assert!(brief2.contains("survey done"));
}
