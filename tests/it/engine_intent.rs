//! Commands that carry intent, not results: `AdjustWorkers` is applied by the engine to its
//! own count (a burst becomes one journaled change), and the plan rules the engine enforces
//! on a person's and the orchestrator's changes (issue 10).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;

use std::sync::Arc;

use baton::engine::Start;
use baton::protocol::*;
use engine_common::*;

/// A new run of `fake` under `approve` with `workers`, answering events with `on_event`.
async fn run(
    dir: &std::path::Path,
    approve: ApprovalPolicy,
    workers: u32,
    fake: Fake,
    on_event: impl FnMut(&Envelope, &baton::state::State) -> Vec<Command>,
) -> Finished {
    let start = Start::New {
        run_id: "r".into(),
        task: "t".into(),
    };
    let f = drive(
        config(dir, settings(approve, workers)),
        Arc::new(fake),
        start,
        on_event,
    )
    .await;
    check_consistent(&f);
    f
}

#[tokio::test(start_paused = true)]
async fn three_plus_presses_from_one_worker_give_four_in_one_journaled_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut sent = false;
    let f = run(
        dir.path(),
        ApprovalPolicy::Auto,
        1,
        Fake::new(vec![
            st("A", "code_developer", &[]),
            st("B", "code_developer", &[]),
        ])
        .latency(10),
        move |e, _| match &e.event {
            Event::SubtaskStarted { .. } if !sent => {
                sent = true;
                vec![Command::AdjustWorkers { delta: 1 }; 3]
            }
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    let changes: Vec<u32> = f
        .of(|e| matches!(e, Event::MaxWorkersChanged { .. }))
        .map(|e| match e {
            Event::MaxWorkersChanged { max_workers, .. } => *max_workers,
            _ => 0,
        })
        .collect();
    assert_eq!(changes, vec![4], "one journaled change, to 4");
    assert_eq!(f.state.max_workers, 4);
}

#[tokio::test(start_paused = true)]
async fn fewer_workers_stops_at_one_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let mut sent = false;
    let f = run(
        dir.path(),
        ApprovalPolicy::Auto,
        2,
        Fake::new(vec![st("A", "code_developer", &[])]).latency(10),
        move |e, _| match &e.event {
            Event::SubtaskStarted { .. } if !sent => {
                sent = true;
                vec![Command::AdjustWorkers { delta: -5 }]
            }
            Event::MaxWorkersChanged { .. } => vec![Command::AdjustWorkers { delta: -1 }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.state.max_workers, 1);
    assert_eq!(
        f.of(|e| matches!(e, Event::MaxWorkersChanged { .. }))
            .count(),
        1
    );
    assert!(
        f.state
            .notices
            .iter()
            .any(|n| n.contains("at least one worker")),
        "{:?}",
        f.state.notices
    );
}

#[tokio::test(start_paused = true)]
async fn an_edit_refused_for_its_role_approves_nothing() {
    let dir = tempfile::tempdir().unwrap();

    let f = run(
        dir.path(),
        ApprovalPolicy::All,
        1,
        Fake::new(vec![st("A", "code_developer", &[])]).latency(10),
        |e, _| match &e.event {
            Event::SubtaskAdded {
                spec,
                needs_approval: true,
                ..
            } => vec![Command::EditAndApprove {
                id: spec.id,
                patch: SubtaskPatch {
                    role: Some("wizard".into()),
                    ..Default::default()
                },
            }],
            Event::Notice { message } if message.contains("unknown role") => {
                vec![Command::EditAndApprove {
                    id: SubtaskId(1),
                    patch: SubtaskPatch {
                        priority: Some(Priority::High),
                        ..Default::default()
                    },
                }]
            }
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    let seq_of = |pred: &dyn Fn(&Event) -> bool| {
        f.events
            .iter()
            .find(|e| pred(&e.event))
            .map(|e| e.seq)
            .unwrap()
    };
    let refused = seq_of(&|e| matches!(e, Event::Notice { message } if message.contains("wizard")));
    let approved = seq_of(&|e| matches!(e, Event::SubtaskApproved { id, .. } if id.0 == 1));
    assert!(approved > refused, "the refused edit approved nothing");
    assert_eq!(f.state.subtasks[0].role, "code_developer");
    assert_eq!(f.state.subtasks[0].priority, Priority::High);
}

#[tokio::test(start_paused = true)]
async fn a_running_subtask_is_not_given_a_dependency_that_is_not_done() {
    let dir = tempfile::tempdir().unwrap();
    let mut sent = false;
    let f = run(
        dir.path(),
        ApprovalPolicy::Auto,
        1,
        Fake::new(vec![
            st("A", "code_developer", &[]),
            st("B", "code_developer", &[]),
        ])
        .latency(10),
        move |e, state| match &e.event {
            Event::SubtaskStarted { id, .. } if id.0 == 1 && !sent => {
                sent = true;
                // B has not run (one worker): A, already running, cannot start waiting on it.
                assert_eq!(
                    state.subtask(SubtaskId(2)).unwrap().status,
                    baton::state::SubtaskStatus::Ready
                );
                vec![Command::Edit {
                    id: SubtaskId(1),
                    patch: SubtaskPatch {
                        depends_on: Some(vec![SubtaskId(2)]),
                        ..Default::default()
                    },
                }]
            }
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    assert!(f.state.subtasks[0].depends_on.is_empty());
    assert!(
        f.state
            .notices
            .iter()
            .any(|n| n.contains("already running") && n.contains("#2")),
        "{:?}",
        f.state.notices
    );
}
