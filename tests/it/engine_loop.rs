//! Whole runs of the engine against a scripted model: the loop, discovered subtasks,
//! dependencies and parallelism, replan batching, recovery, repair, approvals, commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;

use std::sync::Arc;

use baton::engine::*;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::state::*;
use engine_common::*;
use serde_json::json;

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

pub(crate) fn worker<'a>(c: &'a Call, title: &str) -> Option<&'a WorkerBrief> {
    c.brief.as_ref().filter(|b| b.title == title)
}

pub(crate) fn ms(v: u64) -> std::time::Duration {
    std::time::Duration::from_millis(v)
}

#[tokio::test(start_paused = true)]
async fn dependencies_order_work_and_independent_work_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(
        Fake::new(vec![
            st("A", "code_analyzer", &[]),
            st("B", "code_analyzer", &[]),
            st("C", "code_developer", &["A", "#2"]),
        ])
        .delay(|c| c.brief.as_ref().map(|_| ms(50))),
    );
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 4)),
        fake.clone(),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let rec = fake.records();
    let span = |id: u32| {
        let r: Vec<_> = rec.iter().filter(|r| r.subtask == Some(id)).collect();
        (r[0].start, r[r.len() - 1].end)
    };
    let (a0, a1) = span(1);
    let (b0, b1) = span(2);
    let (c0, _) = span(3);
    assert!(a0 < b1 && b0 < a1, "A and B should overlap");
    assert!(c0 >= a1 && c0 >= b1, "C must wait for A and B");
    assert_eq!(
        f.state.subtasks[2].depends_on,
        vec![SubtaskId(1), SubtaskId(2)]
    );
}

/// Three independent subtasks whose workers take `worker_ms(id)`, a fourth that takes
/// 500 ms (so the others are not at the tail of the run), and replans 100 ms: the reports
/// each replan covered, in order.
pub(crate) async fn replan_coverage(worker_ms: fn(u32) -> u64) -> Vec<Vec<u32>> {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(
        Fake::new(vec![
            st("A", "code_analyzer", &[]),
            st("B", "code_analyzer", &[]),
            st("C", "code_analyzer", &[]),
            st("D", "code_analyzer", &[]),
        ])
        .delay(move |c| {
            if let Some(b) = &c.brief {
                return Some(ms(if b.id == 4 { 500 } else { worker_ms(b.id) }));
            }
            (c.forced.as_deref() == Some(SUBMIT_REPLAN)).then(|| ms(100))
        }),
    );
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 4)),
        fake,
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    f.state
        .replan_log
        .iter()
        .map(|r| r.covered.iter().map(|i| i.0).collect())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn reports_arriving_during_a_replan_are_batched() {
    // Reports 30 ms apart: more than the engine's settle window, so the first replan
    // covers A alone; B and C land while it is in flight and share the next one. D, the
    // last report, gets the last replan.
    let covered = replan_coverage(|id| 30 * id as u64).await;
    assert_eq!(covered, vec![vec![1], vec![2, 3], vec![4]]);
}

#[tokio::test(start_paused = true)]
async fn reports_landing_together_share_one_replan() {
    // Reports 1 ms apart, as workers dispatched together finish: one replan.
    let covered = replan_coverage(|id| 20 + id as u64).await;
    assert_eq!(covered, vec![vec![1, 2, 3], vec![4]]);
}

#[tokio::test(start_paused = true)]
async fn the_settle_window_counts_from_the_newest_report() {
    // Reports 6 ms apart over 18 ms (each gap inside the 10 ms window, the whole spread
    // longer than it): one replan, not one that fires before the last of them lands.
    let covered = replan_coverage(|id| 20 + 6 * id as u64).await;
    assert_eq!(covered, vec![vec![1, 2, 3], vec![4]]);
}

#[tokio::test(start_paused = true)]
async fn recovery_retry_after_provider_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::new(vec![st("A", "code_developer", &[])]).rule(|c| {
        let b = worker(c, "A")?;
        (b.attempt == 1).then(|| {
            Reply::Error(baton::llm::LlmError::Server {
                status: 500,
                message: "boom".into(),
            })
        })
    }));
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake,
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let a = &f.state.subtasks[0];
    assert_eq!(a.status, SubtaskStatus::Complete);
    assert_eq!(a.attempts, 2);
    assert_eq!(a.recoveries[0].action, RecoveryAction::Retry);
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskFailed { .. })).count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn recovery_reassign_to_another_role() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(
        Fake::new(vec![st("A", "code_developer", &[])])
            .rule(|c| {
                let b = worker(c, "A")?;
                (b.role == "code_developer")
                    .then(|| Reply::Tool(SUBMIT_REPORT, report("blocked", "no tests", vec![])))
            })
            .rule(|c| {
                (c.forced.as_deref() == Some(DECIDE_RECOVERY)).then(|| {
                    Reply::Tool(
                        DECIDE_RECOVERY,
                        json!({"action": "reassign", "role": "test_engineer",
                               "rationale": "needs a tester", "impact": "small"}),
                    )
                })
            }),
    );
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake,
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let a = &f.state.subtasks[0];
    assert_eq!(a.role, "test_engineer");
    assert_eq!(a.status, SubtaskStatus::Complete);
    assert_eq!(
        a.recoveries[0].action,
        RecoveryAction::Reassign {
            role: "test_engineer".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn recovery_decompose_relinks_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(
        Fake::new(vec![
            st("Big", "code_developer", &[]),
            st("After", "documentation_writer", &["Big"]),
        ])
        .rule(|c| {
            worker(c, "Big")
                .map(|_| Reply::Tool(SUBMIT_REPORT, report("blocked", "too big", vec![])))
        })
        .rule(|c| {
            (c.forced.as_deref() == Some(DECIDE_RECOVERY)).then(|| {
                Reply::Tool(
                    DECIDE_RECOVERY,
                    json!({"action": "decompose", "rationale": "split it", "impact": "+1",
                           "subtasks": [st("Part 1", "code_developer", &[]),
                                        st("Part 2", "code_developer", &["Part 1"])]}),
                )
            })
        }),
    );
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 2)),
        fake,
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let s = &f.state;
    assert_eq!(s.subtasks[0].status, SubtaskStatus::Cancelled);
    assert_eq!(
        s.subtasks[2].origin,
        Origin::Decomposed { from: SubtaskId(1) }
    );
    assert_eq!(s.subtasks[3].depends_on, vec![SubtaskId(3)]);
    assert_eq!(s.subtasks[1].depends_on, vec![SubtaskId(3), SubtaskId(4)]);
    assert_eq!(s.subtasks[1].status, SubtaskStatus::Complete);
    assert!(
        s.summary
            .as_ref()
            .unwrap()
            .pivots
            .iter()
            .any(|p| p.contains("decomposed"))
    );
}

pub(crate) fn escalating_fake() -> Fake {
    Fake::new(vec![st("A", "code_developer", &[])])
        .rule(|c| {
            let b = worker(c, "A")?;
            match &b.guidance {
                Some(g) => Some(Reply::Tool(SUBMIT_REPORT, report("complete", g, vec![]))),
                None if b.role == "code_developer" => Some(Reply::Tool(
                    SUBMIT_REPORT,
                    report("blocked", "need a decision", vec![]),
                )),
                None => None,
            }
        })
        .rule(|c| {
            (c.forced.as_deref() == Some(DECIDE_RECOVERY)).then(|| {
                Reply::Tool(
                    DECIDE_RECOVERY,
                    json!({"action": "escalate", "rationale": "a person must choose",
                           "impact": "waits"}),
                )
            })
        })
}

#[tokio::test(start_paused = true)]
async fn escalation_resolved_by_each_resolution() {
    let cases = [
        Resolution::Retry {
            guidance: "use plan B".into(),
        },
        Resolution::Reassign {
            role: "system_architect".into(),
            guidance: String::new(),
        },
        Resolution::MarkDone {
            result: "done by hand".into(),
        },
        Resolution::Cancel,
    ];
    for resolution in cases {
        let dir = tempfile::tempdir().unwrap();
        let fake = Arc::new(escalating_fake());
        let res = resolution.clone();
        let f = drive(
            config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
            fake,
            Start::New {
                run_id: "r".into(),
                task: "t".into(),
            },
            move |e, _| match &e.event {
                Event::SubtaskEscalated {
                    id,
                    by: Actor::Orchestrator,
                    ..
                } => {
                    vec![Command::Resolve {
                        id: *id,
                        resolution: res.clone(),
                    }]
                }
                _ => vec![],
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{resolution:?}");
        check_consistent(&f);
        let a = &f.state.subtasks[0];
        match &resolution {
            Resolution::Retry { .. } => {
                assert_eq!(a.status, SubtaskStatus::Complete);
                assert_eq!(a.report.as_ref().unwrap().results, "use plan B");
            }
            Resolution::Reassign { .. } => {
                assert_eq!(a.status, SubtaskStatus::Complete);
                assert_eq!(a.role, "system_architect");
            }
            Resolution::MarkDone { .. } => {
                assert_eq!(a.status, SubtaskStatus::Complete);
                assert_eq!(a.output.as_deref(), Some("done by hand"));
                assert_eq!(a.attempts, 1);
            }
            Resolution::Cancel => assert_eq!(a.status, SubtaskStatus::Cancelled),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn headless_escalation_stops_the_run_needing_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.stop_when_person_needed = true;
    let f = run_new(cfg, Arc::new(escalating_fake()), "t").await;
    match &f.outcome {
        RunOutcome::Stopped { reason } => {
            assert!(reason.contains("escalated subtask #1"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    check_consistent(&f);
}

#[tokio::test(start_paused = true)]
async fn attempts_are_capped_then_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.stop_when_person_needed = true;
    let fake = Arc::new(Fake::new(vec![st("A", "code_developer", &[])]).rule(|c| {
        worker(c, "A").map(|_| Reply::Error(baton::llm::LlmError::Timeout("slow".into())))
    }));
    let f = run_new(cfg, fake, "t").await;
    assert!(matches!(f.outcome, RunOutcome::Stopped { .. }));
    check_consistent(&f);
    let a = &f.state.subtasks[0];
    assert_eq!(a.status, SubtaskStatus::Escalated);
    assert_eq!(a.attempts, baton::engine::policy::MAX_ATTEMPTS);
    assert!(
        f.of(|e| matches!(
            e,
            Event::SubtaskEscalated {
                by: Actor::Engine,
                ..
            }
        ))
        .count()
            == 1
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_arguments_get_one_repair() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::new(vec![st("A", "code_developer", &[])]).rule(|c| {
        (c.forced.as_deref() == Some(SUBMIT_ANALYSIS) && !c.is_repair()).then(|| {
            Reply::Tool(
                SUBMIT_ANALYSIS,
                json!({"complexity": 1.5, "task_type": "x"}),
            )
        })
    }));
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake.clone(),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let analysis_calls = fake
        .records()
        .iter()
        .filter(|r| r.forced.as_deref() == Some(SUBMIT_ANALYSIS))
        .count();
    assert_eq!(analysis_calls, 2);
}

#[tokio::test(start_paused = true)]
async fn invalid_arguments_twice_fail() {
    // The orchestrator's analysis: the run fails with the validation error.
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::new(vec![]).rule(|c| {
        (c.forced.as_deref() == Some(SUBMIT_ANALYSIS))
            .then(|| Reply::Tool(SUBMIT_ANALYSIS, json!({"complexity": "high"})))
    }));
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake,
        "t",
    )
    .await;
    match &f.outcome {
        RunOutcome::Failed { reason } => {
            assert!(reason.contains("after one repair"), "{reason}");
            assert!(reason.contains("complexity"), "{reason}");
        }
        o => panic!("{o:?}"),
    }
    check_consistent(&f);
    // A worker's report: the attempt fails and gets a recovery decision (retry succeeds).
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::new(vec![st("A", "code_developer", &[])]).rule(|c| {
        let b = worker(c, "A")?;
        (b.attempt == 1).then(|| Reply::Tool(SUBMIT_REPORT, json!({"status": "done"})))
    }));
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake,
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    let failed: Vec<&Event> = f.of(|e| matches!(e, Event::SubtaskFailed { .. })).collect();
    assert_eq!(failed.len(), 1);
    assert!(
        matches!(failed[0], Event::SubtaskFailed { error, .. } if error.contains("after one repair"))
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_dependencies_and_cycles_are_rejected_not_deadlocked() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::new(vec![
        st("A", "code_developer", &[]),
        st("B", "code_developer", &["ghost"]),
        st("C", "code_developer", &["D"]),
        st("D", "code_developer", &["C"]),
    ]));
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 2)),
        fake,
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(f.state.subtasks.len(), 1);
    let reasons: Vec<&str> = f.state.rejected.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(reasons.len(), 3);
    assert!(reasons[0].contains("ghost"));
    assert!(reasons[1].contains("cycle"));
}

pub(crate) fn discovering_fake() -> Fake {
    Fake::new(vec![st("A", "code_analyzer", &[])]).rule(|c| {
        worker(c, "A").map(|_| {
            Reply::Tool(
                SUBMIT_REPORT,
                report(
                    "complete",
                    "found",
                    vec![st("New", "code_developer", &["A"])],
                ),
            )
        })
    })
}
