//! Whole runs of the engine against its limits: subtasks, cycles, tokens, cost and wall
//! clock raise scope alerts; huge or unusable limits never panic.
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

fn alerts(f: &Finished) -> Vec<(LimitKind, Option<ScopeDecision>)> {
    f.state
        .alerts
        .iter()
        .map(|a| (a.limit, a.resolution.clone()))
        .collect()
}

pub(crate) fn chain() -> Vec<serde_json::Value> {
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
    // The limit reached, not its stages before it (engine_forecast).
    s.limits.budget_stages = BudgetStages(Vec::new());
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
    // The limit reached, not its stages before it (engine_forecast).
    s.limits.budget_stages = BudgetStages(Vec::new());
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
    // The limit reached, not its stages before it (engine_forecast).
    s.limits.budget_stages = BudgetStages(Vec::new());
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
    // The limit reached, not its stages before it (engine_forecast).
    s.limits.budget_stages = BudgetStages(Vec::new());
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
