//! Replans that change running work (issue 12): a replan that gives a running subtask a
//! dependency not done yet or rewrites its description restarts the worker (default), asks
//! a person, or lets it finish, as `on_replan_conflict` says, and says why in the journal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;

use std::sync::Arc;

use baton::engine::policy::ReplanConflict;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::state::*;
use engine_common::*;
use serde_json::{Value, json};

fn ms(v: u64) -> std::time::Duration {
    std::time::Duration::from_millis(v)
}

/// A (slow, 100 ms) and B (10 ms) run at once; B's replan answers with `replan` (once).
fn fake(replan: Value) -> Fake {
    Fake::new(vec![
        st("A", "code_developer", &[]),
        st("B", "code_analyzer", &[]),
    ])
    .delay(|c| {
        let b = c.brief.as_ref()?;
        Some(ms(if b.title == "A" { 100 } else { 10 }))
    })
    .rule(move |c| {
        let ctx = c.ctx.as_ref()?;
        (ctx.step == Step::Replan && ctx.cycle == 1 && !ctx.last_replan)
            .then(|| Reply::Tool(SUBMIT_REPLAN, replan.clone()))
    })
}

fn rewrite_a() -> Value {
    json!({"summary": "A must use the new API", "add": [], "cancel": [], "scope_note": "same",
           "update": [{"id": "#1", "description": "use the NEW api"}]})
}

fn cfg(dir: &std::path::Path, policy: ReplanConflict) -> baton::engine::EngineConfig {
    let mut c = config(dir, settings(ApprovalPolicy::Auto, 2));
    c.on_replan_conflict = policy;
    c
}

#[tokio::test(start_paused = true)]
async fn restart_stops_the_worker_and_runs_it_again_under_the_new_plan() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(fake(rewrite_a()));
    let f = run_new(cfg(dir.path(), ReplanConflict::Restart), fake.clone(), "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let a = &f.state.subtasks[0];
    assert_eq!(a.status, SubtaskStatus::Complete);
    assert_eq!(
        a.attempts, 2,
        "the stale attempt was stopped, a new one ran"
    );
    let why = &a.recoveries[0];
    assert_eq!(
        (why.action.clone(), why.by),
        (RecoveryAction::Retry, Actor::Engine)
    );
    assert!(
        why.rationale
            .contains("replan 1 changed it while it ran (a new description)"),
        "{}",
        why.rationale
    );
    assert!(a.brief.as_ref().unwrap().contains("use the NEW api"));
    // Only the second attempt reported.
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskReported { id, .. } if id.0 == 1))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_dependency_on_unfinished_work_restarts_the_worker_after_it() {
    // The replan adds C and makes the running A depend on it: A stops, waits for C, and
    // runs again with C's result (never `A ← C` with C unfinished).
    let dir = tempfile::tempdir().unwrap();
    let replan = json!({"summary": "A needs C first", "cancel": [], "scope_note": "+1",
        "add": [st("C", "system_architect", &[])],
        "update": [{"id": "#1", "depends_on": ["C"]}]});
    let fake = Arc::new(fake(replan));
    let f = run_new(cfg(dir.path(), ReplanConflict::Restart), fake.clone(), "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let a = &f.state.subtasks[0];
    assert_eq!(a.depends_on, vec![SubtaskId(3)]);
    assert_eq!(a.attempts, 2);
    assert!(a.recoveries[0].rationale.contains("a new dependency on #3"));
    let seq = |pred: &dyn Fn(&Event) -> bool| f.events.iter().position(|e| pred(&e.event)).unwrap();
    let c_done = seq(&|e| matches!(e, Event::SubtaskReported { id, .. } if id.0 == 3));
    let a_again = seq(&|e| matches!(e, Event::SubtaskStarted { id, attempt: 2, .. } if id.0 == 1));
    assert!(a_again > c_done, "A runs again only after C is done");
    assert!(a.brief.as_ref().unwrap().contains("result of C"));
}

#[tokio::test(start_paused = true)]
async fn ask_stops_the_worker_and_escalates_to_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path(), ReplanConflict::Ask);
    c.stop_when_person_needed = true;
    let f = run_new(c, Arc::new(fake(rewrite_a())), "t").await;
    check_consistent(&f);
    assert!(
        matches!(f.outcome, RunOutcome::Stopped { .. }),
        "{:?}",
        f.outcome
    );
    let a = &f.state.subtasks[0];
    assert_eq!(a.status, SubtaskStatus::Escalated);
    assert!(
        a.escalation
            .as_ref()
            .unwrap()
            .contains("on_replan_conflict = ask"),
        "{:?}",
        a.escalation
    );
    assert_eq!(a.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn finish_lets_the_worker_finish_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let f = run_new(
        cfg(dir.path(), ReplanConflict::Finish),
        Arc::new(fake(rewrite_a())),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let a = &f.state.subtasks[0];
    assert_eq!(a.attempts, 1);
    assert_eq!(a.description, "use the NEW api");
    assert!(
        f.state
            .notices
            .iter()
            .any(|n| n.contains("finishes against its old brief")),
        "{:?}",
        f.state.notices
    );
}

#[tokio::test(start_paused = true)]
async fn a_priority_change_is_no_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let replan = json!({"summary": "A first", "add": [], "cancel": [], "scope_note": "same",
           "update": [{"id": "#1", "priority": "high"}]});
    let f = run_new(
        cfg(dir.path(), ReplanConflict::Restart),
        Arc::new(fake(replan)),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    assert_eq!(f.state.subtasks[0].attempts, 1);
    assert!(f.state.subtasks[0].recoveries.is_empty());
}
