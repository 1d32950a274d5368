//! Whole runs of the engine where a person steers: approval policies, the mode choice,
//! pause, cancel, commands that do not apply, edits and stops, the evaluator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;

use std::sync::Arc;

use baton::engine::*;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::state::*;
use engine_common::*;
use serde_json::json;

use super::engine_loop::*;

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
