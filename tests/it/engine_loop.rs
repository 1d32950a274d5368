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

fn worker<'a>(c: &'a Call, title: &str) -> Option<&'a WorkerBrief> {
    c.brief.as_ref().filter(|b| b.title == title)
}

fn ms(v: u64) -> std::time::Duration {
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
async fn replan_coverage(worker_ms: fn(u32) -> u64) -> Vec<Vec<u32>> {
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

fn escalating_fake() -> Fake {
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

fn discovering_fake() -> Fake {
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

#[tokio::test(start_paused = true)]
async fn approval_policy_auto_scope_all() {
    // auto: nothing waits.
    let dir = tempfile::tempdir().unwrap();
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        Arc::new(discovering_fake()),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    assert!(f.state.subtasks.iter().all(|s| s.approved));
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskApproved { .. })).count(),
        0
    );

    // scope and all: the driver approves what waits; record which ones waited.
    for (policy, waited_expected) in [
        (ApprovalPolicy::Scope, vec![2]),
        (ApprovalPolicy::All, vec![1, 2]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let f = drive(
            config(dir.path(), settings(policy, 1)),
            Arc::new(discovering_fake()),
            Start::New {
                run_id: "r".into(),
                task: "t".into(),
            },
            |e, _| match &e.event {
                Event::SubtaskAdded {
                    spec,
                    needs_approval: true,
                    ..
                } => {
                    vec![Command::Approve { id: spec.id }]
                }
                _ => vec![],
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{policy:?}");
        check_consistent(&f);
        let waited: Vec<u32> = f
            .of(|e| {
                matches!(
                    e,
                    Event::SubtaskAdded {
                        needs_approval: true,
                        ..
                    }
                )
            })
            .filter_map(|e| match e {
                Event::SubtaskAdded { spec, .. } => Some(spec.id.0),
                _ => None,
            })
            .collect();
        assert_eq!(waited, waited_expected, "{policy:?}");
    }

    // scope, headless: the discovered subtask stops the run once nothing else can run.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Scope, 1));
    cfg.stop_when_person_needed = true;
    let f = run_new(cfg, Arc::new(discovering_fake()), "t").await;
    match &f.outcome {
        RunOutcome::Stopped { reason } => {
            assert!(reason.contains("#2 awaits approval"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(f.state.subtasks[0].status, SubtaskStatus::Complete);
}

#[tokio::test(start_paused = true)]
async fn mode_choice_below_threshold() {
    // auto, one expected subtask: a single worker does the whole task.
    let dir = tempfile::tempdir().unwrap();
    let mut fake = Fake::new(vec![st("Only", "code_developer", &[])]);
    fake.complexity = 0.2;
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 2)),
        Arc::new(fake),
        "fix the typo",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(f.state.mode, Some(RunMode::SingleWorker));
    assert_eq!(f.state.subtasks.len(), 1);
    assert_eq!(f.state.subtasks[0].origin, Origin::SingleWorker);
    assert_eq!(f.state.subtasks[0].description, "fix the typo");

    // scope: a person chooses.
    let dir = tempfile::tempdir().unwrap();
    let mut fake = Fake::new(vec![
        st("X", "code_developer", &[]),
        st("Y", "code_developer", &[]),
    ]);
    fake.complexity = 0.2;
    let f = run_choosing(
        config(dir.path(), settings(ApprovalPolicy::Scope, 2)),
        Arc::new(fake),
        RunMode::Orchestrate,
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    assert_eq!(f.state.mode, Some(RunMode::Orchestrate));
    assert_eq!(f.state.subtasks.len(), 2);

    // scope, headless: stops at once.
    let dir = tempfile::tempdir().unwrap();
    let mut fake = Fake::new(vec![st("X", "code_developer", &[])]);
    fake.complexity = 0.2;
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Scope, 2));
    cfg.stop_when_person_needed = true;
    let f = run_new(cfg, Arc::new(fake), "t").await;
    assert!(
        matches!(&f.outcome, RunOutcome::Stopped { reason } if reason.contains("single worker"))
    );
}

#[tokio::test(start_paused = true)]
async fn pause_holds_dispatch_until_resume() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(
        Fake::new(vec![
            st("A", "code_developer", &[]),
            st("B", "code_developer", &[]),
            st("C", "code_developer", &[]),
        ])
        .latency(10),
    );
    let mut paused = false;
    let f = drive(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake,
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        move |e, _| match &e.event {
            Event::SubtaskStarted { id, .. } if id.0 == 1 && !paused => {
                paused = true;
                vec![Command::Pause, Command::Pause]
            }
            Event::ReplanLogged { cycle: 1, .. } => vec![Command::Resume],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let seq = |pred: &dyn Fn(&Event) -> bool| f.events.iter().find(|e| pred(&e.event)).unwrap().seq;
    let p = seq(&|e| matches!(e, Event::DispatchPaused { .. }));
    let r = seq(&|e| matches!(e, Event::DispatchResumed { .. }));
    let started_between = f
        .events
        .iter()
        .filter(|e| e.seq > p && e.seq < r && matches!(e.event, Event::SubtaskStarted { .. }))
        .count();
    assert_eq!(started_between, 0);
    // The second Pause did not apply: a notice, not a panic.
    assert!(f.state.notices.iter().any(|n| n.contains("already paused")));
}

#[tokio::test(start_paused = true)]
async fn cancel_a_running_subtask() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(
        Fake::new(vec![
            st("Slow", "code_developer", &[]),
            st("Fast", "code_developer", &[]),
        ])
        .delay(|c| worker(c, "Slow").map(|_| ms(10_000))),
    );
    let f = drive(
        config(dir.path(), settings(ApprovalPolicy::Auto, 2)),
        fake,
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        |e, _| match &e.event {
            Event::SubtaskStarted { id, .. } if id.0 == 1 => vec![Command::Cancel { id: *id }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(f.state.subtasks[0].status, SubtaskStatus::Cancelled);
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskReported { id, .. } if id.0 == 1))
            .count(),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn commands_that_do_not_apply_are_notices() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::new(vec![st("A", "code_developer", &[])]).latency(10));
    let mut sent = false;
    let f = drive(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake,
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        move |e, _| match &e.event {
            Event::SubtaskStarted { .. } if !sent => {
                sent = true;
                vec![
                    Command::Approve { id: SubtaskId(1) },
                    Command::Resolve {
                        id: SubtaskId(9),
                        resolution: Resolution::Cancel,
                    },
                    Command::Undefer { id: SubtaskId(1) },
                    Command::ResolveScopeAlert {
                        alert: 4,
                        decision: ScopeDecision::DeferLowPriority,
                    },
                    Command::DecideCommand {
                        request: 1,
                        decision: CommandDecision::AllowOnce,
                    },
                    Command::ChooseMode {
                        mode: RunMode::SingleWorker,
                    },
                    Command::SetMaxWorkers { max_workers: 0 },
                    Command::Rollback { id: SubtaskId(1) },
                    Command::Edit {
                        id: SubtaskId(1),
                        patch: SubtaskPatch {
                            depends_on: Some(vec![SubtaskId(1)]),
                            ..Default::default()
                        },
                    },
                    Command::Add {
                        subtask: ProposedSubtask {
                            title: "Z".into(),
                            description: "z".into(),
                            role: "wizard".into(),
                            depends_on: vec![],
                            priority: Priority::Low,
                            expected_output: String::new(),
                        },
                    },
                ]
            }
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert!(f.state.notices.len() >= 9, "{:?}", f.state.notices);
    assert!(
        f.state
            .rejected
            .iter()
            .any(|(t, r)| t == "Z" && r.contains("wizard"))
    );
}

#[tokio::test(start_paused = true)]
async fn person_adds_edits_defers_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(
        Fake::new(vec![
            st("A", "code_developer", &[]),
            st("B", "code_developer", &["A"]),
        ])
        .latency(10),
    );
    let f = drive(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake,
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        |e, _| match &e.event {
            Event::SubtaskStarted { id, .. } if id.0 == 1 => vec![
                Command::Add {
                    subtask: ProposedSubtask {
                        title: "Mine".into(),
                        description: "by hand".into(),
                        role: "test_engineer".into(),
                        depends_on: vec!["B".into()],
                        priority: Priority::High,
                        expected_output: String::new(),
                    },
                },
                Command::Edit {
                    id: SubtaskId(2),
                    patch: SubtaskPatch {
                        priority: Some(Priority::Low),
                        ..Default::default()
                    },
                },
                Command::Defer { id: SubtaskId(2) },
                Command::SetMaxWorkers { max_workers: 3 },
            ],
            Event::SubtaskReported { id, .. } if id.0 == 1 => vec![Command::Stop],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(
        f.outcome,
        RunOutcome::Stopped {
            reason: "stopped by a person".into()
        }
    );
    check_consistent(&f);
    let s = &f.state;
    assert_eq!(s.subtasks[2].origin, Origin::Person);
    assert!(s.subtasks[2].approved);
    assert_eq!(s.subtasks[2].depends_on, vec![SubtaskId(2)]);
    assert_eq!(s.subtasks[1].priority, Priority::Low);
    assert_eq!(s.subtasks[1].status, SubtaskStatus::Deferred);
    assert_eq!(s.max_workers, 3);
}

#[tokio::test(start_paused = true)]
async fn evaluator_sends_work_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::new(vec![st("A", "code_developer", &[])]).rule(|c| {
        (c.forced.as_deref() == Some(SUBMIT_EVALUATION) && c.ctx.as_ref()?.cycle == 1).then(|| {
            Reply::Tool(
                SUBMIT_EVALUATION,
                json!({"accepted": false, "feedback": "missing tests",
                       "new_subtasks": [st("Tests", "test_engineer", &["A"])]}),
            )
        })
    }));
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.evaluate = true;
    let f = run_new(config(dir.path(), s), fake, "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(f.state.evaluations.len(), 2);
    assert!(!f.state.evaluations[0].accepted);
    assert!(f.state.evaluations[1].accepted);
    assert_eq!(f.state.subtasks[1].origin, Origin::Evaluation { round: 1 });
    assert_eq!(f.state.subtasks[1].status, SubtaskStatus::Complete);
    assert_eq!(
        f.of(|e| matches!(e, Event::SynthesisCompleted { .. }))
            .count(),
        1
    );
    assert_eq!(f.state.summary.as_ref().unwrap().evaluation_rounds, 2);
}

fn alerts(f: &Finished) -> Vec<(LimitKind, Option<ScopeDecision>)> {
    f.state
        .alerts
        .iter()
        .map(|a| (a.limit, a.resolution.clone()))
        .collect()
}

fn chain() -> Vec<serde_json::Value> {
    vec![
        st("A", "code_developer", &[]),
        st("B", "code_developer", &["A"]),
        st("C", "code_developer", &["B"]),
    ]
}

#[tokio::test(start_paused = true)]
async fn subtask_limit_raises_an_alert() {
    let first = || {
        let mut low = st("C", "code_developer", &[]);
        low["priority"] = json!("low");
        vec![
            st("A", "code_developer", &[]),
            st("B", "code_developer", &[]),
            low,
        ]
    };
    // auto: defer low priority, the subtask over the limit stays deferred.
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.limits.max_subtasks = Some(2);
    let f = run_new(
        config(dir.path(), s.clone()),
        Arc::new(Fake::new(first())),
        "t",
    )
    .await;
    // Work the limit held back: the run says so instead of "complete" (issue 12).
    assert_eq!(
        f.outcome,
        RunOutcome::Stopped {
            reason: "stopped at the subtask limit: 1 of 3 not run".into()
        }
    );
    check_consistent(&f);
    assert_eq!(
        alerts(&f),
        vec![(LimitKind::Subtasks, Some(ScopeDecision::DeferLowPriority))]
    );
    assert_eq!(f.state.subtasks[2].status, SubtaskStatus::Deferred);
    assert_eq!(f.state.summary.as_ref().unwrap().deferred, 1);

    // scope: a person raises the limit and the held subtask runs.
    let dir = tempfile::tempdir().unwrap();
    s.approve = ApprovalPolicy::Scope;
    let f = drive(
        config(dir.path(), s),
        Arc::new(Fake::new(first())),
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        |e, _| match &e.event {
            Event::ScopeAlertRaised { alert, .. } => vec![Command::ResolveScopeAlert {
                alert: *alert,
                decision: ScopeDecision::RaiseLimit { to: 3.0 },
            }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(
        alerts(&f),
        vec![(
            LimitKind::Subtasks,
            Some(ScopeDecision::RaiseLimit { to: 3.0 })
        )]
    );
    assert_eq!(f.state.subtasks[2].status, SubtaskStatus::Complete);
    assert_eq!(f.state.limits.max_subtasks, Some(3));
}

#[tokio::test(start_paused = true)]
async fn cycle_limit_raises_an_alert_and_auto_synthesises() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.limits.max_cycles = Some(1);
    // Every replan changes the plan (it raises C's priority), so each one is a cycle; a
    // replan that changes nothing would not be (engine_tail).
    let fake = Fake::new(chain()).rule(|c| {
        (c.forced.as_deref() == Some(SUBMIT_REPLAN)).then(|| {
            Reply::Tool(
                SUBMIT_REPLAN,
                json!({"summary": "C first", "add": [], "cancel": [], "scope_note": "same",
                       "update": [{"id": "#3", "priority": "high"}]}),
            )
        })
    });
    let f = run_new(config(dir.path(), s), Arc::new(fake), "t").await;
    assert_eq!(
        f.outcome,
        RunOutcome::Stopped {
            reason: "stopped at the replan cycle limit: 1 of 3 not run".into()
        }
    );
    check_consistent(&f);
    assert_eq!(
        alerts(&f),
        vec![(LimitKind::Cycles, Some(ScopeDecision::StopAndSynthesize))]
    );
    assert_eq!(f.state.replan_log.len(), 1);
    assert!(f.state.synthesis.is_some());
    // B ran before the alert; C never started.
    assert_eq!(f.state.subtasks[2].attempts, 0);
}

#[tokio::test(start_paused = true)]
async fn token_limit_raises_an_alert_a_person_can_raise() {
    // auto: stop and synthesise.
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.limits.max_tokens = Some(400);
    let f = run_new(
        config(dir.path(), s.clone()),
        Arc::new(Fake::new(chain())),
        "t",
    )
    .await;
    assert_eq!(
        f.outcome,
        RunOutcome::Stopped {
            reason: "stopped at the token limit: 1 of 3 not run".into()
        }
    );
    check_consistent(&f);
    assert_eq!(
        alerts(&f),
        vec![(LimitKind::Tokens, Some(ScopeDecision::StopAndSynthesize))]
    );
    assert!(f.state.subtasks.iter().any(|t| t.attempts == 0));

    // scope: the person raises it; everything runs.
    let dir = tempfile::tempdir().unwrap();
    s.approve = ApprovalPolicy::Scope;
    let f = drive(
        config(dir.path(), s),
        Arc::new(Fake::new(chain()).latency(1)),
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        |e, _| match &e.event {
            Event::ScopeAlertRaised { alert, .. } => vec![Command::ResolveScopeAlert {
                alert: *alert,
                decision: ScopeDecision::RaiseLimit { to: 1e9 },
            }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(f.state.alerts.len(), 1);
    assert!(
        f.state
            .subtasks
            .iter()
            .all(|t| t.status == SubtaskStatus::Complete)
    );
}

#[tokio::test(start_paused = true)]
async fn cost_limit_raises_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.limits.budget_usd = Some(0.25);
    let mut cfg = config(dir.path(), s);
    let mut prices = baton::llm::pricing::PriceTable::empty();
    // 100 input + 50 output tokens per call: $0.125 per worker call.
    prices.set(
        "work",
        baton::llm::pricing::ModelPrice {
            input: 1000.0,
            output: 500.0,
            cached_input: None,
            cache_write: None,
        },
    );
    cfg.pricing = prices;
    let f = run_new(cfg, Arc::new(Fake::new(chain())), "t").await;
    assert_eq!(
        f.outcome,
        RunOutcome::Stopped {
            reason: "stopped at the cost limit: 1 of 3 not run".into()
        }
    );
    check_consistent(&f);
    assert_eq!(
        alerts(&f),
        vec![(LimitKind::Cost, Some(ScopeDecision::StopAndSynthesize))]
    );
    assert_eq!(f.state.alerts[0].current, 0.25);
    assert_eq!(f.state.subtasks[2].attempts, 0);
    // The orchestrator's model has no price: the total cost is unknown.
    assert_eq!(f.state.summary.as_ref().unwrap().cost_usd, None);
}

#[tokio::test(start_paused = true)]
async fn wall_clock_limit_raises_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.limits.max_wall_secs = Some(1);
    let fake = Fake::new(chain()).delay(|c| c.brief.as_ref().map(|_| ms(700)));
    let f = run_new(config(dir.path(), s), Arc::new(fake), "t").await;
    assert!(
        matches!(&f.outcome, RunOutcome::Stopped { reason }
            if reason.starts_with("stopped at the wall-clock limit:")),
        "{:?}",
        f.outcome
    );
    check_consistent(&f);
    assert_eq!(
        alerts(&f),
        vec![(LimitKind::WallClock, Some(ScopeDecision::StopAndSynthesize))]
    );
    assert!(f.state.alerts[0].current >= 1.0);
    // A (0.7 s) and B (started before 1 s) ran; C did not start.
    assert_eq!(f.state.subtasks[2].attempts, 0);
    assert_eq!(f.state.subtasks[1].status, SubtaskStatus::Complete);
}

/// Workspace tools that ask the engine for command approval and record file changes.
struct FakeTools;

#[async_trait::async_trait]
impl baton::tools::WorkerTools for FakeTools {
    fn definitions(&self, allowed: &[String]) -> Vec<baton::protocol::ToolDef> {
        ["run_command", "write_file"]
            .iter()
            .filter(|t| allowed.iter().any(|a| a == *t))
            .map(|t| baton::protocol::ToolDef {
                name: t.to_string(),
                description: String::new(),
                input_schema: json!({"type": "object"}),
            })
            .collect()
    }
    async fn call(
        &self,
        host: &dyn baton::tools::ToolHost,
        subtask: SubtaskId,
        _attempt: u32,
        call: &baton::protocol::ToolCall,
    ) -> baton::tools::ToolOutput {
        if call.name == "run_command" {
            let decision = host.approve_command(subtask, "cargo test", ".").await;
            let ok = !matches!(decision, CommandDecision::Deny { .. });
            return baton::tools::ToolOutput {
                content: format!("{decision:?}"),
                is_error: !ok,
                summary: "run_command cargo test".into(),
            };
        }
        let journaled = host
            .record(Event::FileChanged {
                id: subtask,
                path: "src/lib.rs".into(),
                before: None,
                after: Some("abc".into()),
                backup: None,
            })
            .await;
        // A live engine journals the record before the tool acts on it.
        assert_eq!(journaled, Ok(()));
        baton::tools::ToolOutput {
            content: "written".into(),
            is_error: false,
            summary: "write_file src/lib.rs".into(),
        }
    }
    async fn check_rollback(
        &self,
        changes: &[baton::state::FileChange],
    ) -> Result<Vec<String>, String> {
        Ok(changes.iter().map(|c| c.path.clone()).collect())
    }
    async fn rollback(&self, changes: &[baton::state::FileChange]) -> Result<Vec<String>, String> {
        Ok(changes.iter().map(|c| c.path.clone()).collect())
    }
}

fn tool_using_fake() -> Fake {
    Fake::new(vec![st("A", "code_developer", &[])]).rule(|c| {
        worker(c, "A")?;
        match c.turn {
            1 => Some(Reply::Tool("run_command", json!({"command": "cargo test"}))),
            2 => Some(Reply::Tool("write_file", json!({"path": "src/lib.rs"}))),
            _ => None,
        }
    })
}

#[tokio::test(start_paused = true)]
async fn worker_tools_ask_for_command_approval_and_changes_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.tools = Some(Arc::new(FakeTools));
    let f = drive(
        cfg,
        Arc::new(tool_using_fake().latency(10)),
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        |e, _| match &e.event {
            Event::CommandApprovalRequested { request, .. } => vec![Command::DecideCommand {
                request: *request,
                decision: CommandDecision::AllowAlways,
            }],
            Event::SubtaskReported { id, .. } => vec![Command::Rollback { id: *id }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let s = &f.state;
    assert_eq!(s.allowed_commands, vec!["cargo test".to_string()]);
    let tools: Vec<&str> = s.subtasks[0]
        .tool_uses
        .iter()
        .map(|(t, _, _)| t.as_str())
        .collect();
    assert_eq!(tools, ["run_command", "write_file"]);
    assert_eq!(s.subtasks[0].files_changed, vec!["src/lib.rs".to_string()]);
    assert!(s.files.iter().all(|f| f.rolled_back));
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskRolledBack { .. }))
            .count(),
        1
    );

    // Headless: nobody can approve; the command is denied by the policy, the run goes on.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.tools = Some(Arc::new(FakeTools));
    cfg.stop_when_person_needed = true;
    let f = run_new(cfg, Arc::new(tool_using_fake()), "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert!(matches!(
        f.state.command_requests[0].decision,
        Some(CommandDecision::Deny { .. })
    ));
    assert!(
        f.state.subtasks[0].tool_uses[0].2,
        "the denied command is a tool error"
    );
}

#[tokio::test(start_paused = true)]
async fn worker_timeout_is_a_failure_with_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.worker_timeout_secs = 5;
    let fake = Fake::new(vec![st("A", "code_developer", &[])]).delay(|c| {
        worker(c, "A")
            .filter(|b| b.attempt == 1)
            .map(|_| ms(60_000))
    });
    let f = run_new(cfg, Arc::new(fake), "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let failed: Vec<&Event> = f.of(|e| matches!(e, Event::SubtaskFailed { .. })).collect();
    assert!(matches!(failed[0], Event::SubtaskFailed { error, .. } if error.contains("timed out")));
    assert_eq!(f.state.subtasks[0].attempts, 2);
    assert_eq!(f.state.subtasks[0].status, SubtaskStatus::Complete);
}

#[tokio::test(start_paused = true)]
async fn escalating_a_running_subtask_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(vec![st("A", "code_developer", &[])]).latency(100);
    let f = drive(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        Arc::new(fake),
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        |e, _| match &e.event {
            Event::SubtaskStarted { id, attempt: 1, .. } => {
                vec![Command::Escalate {
                    id: *id,
                    reason: "let me look".into(),
                }]
            }
            Event::SubtaskEscalated {
                id,
                by: Actor::Person,
                ..
            } => vec![Command::Resolve {
                id: *id,
                resolution: Resolution::Retry {
                    guidance: "go on".into(),
                },
            }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let a = &f.state.subtasks[0];
    assert_eq!(a.attempts, 2);
    assert_eq!(a.guidance.as_deref(), Some("go on"));
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskReported { attempt: 1, .. }))
            .count(),
        0
    );
}

/// A wall-clock limit too far away for an `Instant` (a journal or a front end may carry
/// one) is no deadline, never a panic; a raised limit that is not a usable number is
/// refused with a notice.
#[tokio::test(start_paused = true)]
async fn huge_or_unusable_wall_clock_limits_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.limits.max_wall_secs = Some(u64::MAX);
    let f = run_new(config(dir.path(), s), Arc::new(Fake::new(chain())), "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);

    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Scope, 1);
    s.limits.max_wall_secs = Some(1);
    let fake = Fake::new(chain()).delay(|c| c.brief.as_ref().map(|_| ms(700)));
    let mut tried = false;
    let f = drive(
        config(dir.path(), s),
        Arc::new(fake),
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        move |e, _| match &e.event {
            Event::ScopeAlertRaised { alert, .. } if !tried => {
                tried = true;
                [f64::INFINITY, 1e19, -1.0, f64::NAN, 1e9]
                    .into_iter()
                    .map(|to| Command::ResolveScopeAlert {
                        alert: *alert,
                        decision: ScopeDecision::RaiseLimit { to },
                    })
                    .collect()
            }
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let refused = f
        .of(|e| matches!(e, Event::Notice { message } if message.contains("limit")))
        .count();
    assert_eq!(refused, 4, "the four unusable values are refused");
    assert_eq!(f.state.limits.max_wall_secs, Some(1_000_000_000));
}

/// A provider that panics (a bug at the edge) fails that step or worker like any other
/// failure: the run goes on and ends, it never hangs.
#[tokio::test(start_paused = true)]
async fn a_panicking_provider_fails_the_call_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(chain()).rule(|c| match &c.brief {
        Some(b) if b.attempt == 1 => Some(Reply::Panic("provider bug")),
        _ => None,
    });
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        Arc::new(fake),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let failed: Vec<String> = f
        .of(|e| matches!(e, Event::SubtaskFailed { .. }))
        .filter_map(|e| match e {
            Event::SubtaskFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed.iter().all(|e| e.contains("panicked: provider bug")),
        "{failed:?}"
    );

    // The analysis step panics: the run fails (journaled), it does not hang.
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(chain()).rule(|c| c.brief.is_none().then_some(Reply::Panic("boom")));
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        Arc::new(fake),
        "t",
    )
    .await;
    match &f.outcome {
        RunOutcome::Failed { reason } => assert!(reason.contains("panicked: boom"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
