//! The tail and the replan queue of a run (issue 12): one merged "add work or complete"
//! call when nothing else is left to run, a replan in flight superseded by it, compact
//! replan contexts for big plans, replans that change nothing not counted as cycles, and
//! an honest end when a limit kept work from running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;

use std::sync::{Arc, Mutex};

use baton::protocol::model::*;
use baton::protocol::*;
use baton::state::*;
use engine_common::*;
use serde_json::Value;

fn ms(v: u64) -> std::time::Duration {
    std::time::Duration::from_millis(v)
}

/// A chain of `n` subtasks (#k depends on #k-1).
fn chain(n: usize) -> Vec<Value> {
    (1..=n)
        .map(|i| {
            let title = format!("T{i}");
            let dep = format!("#{}", i - 1);
            let deps: Vec<&str> = if i > 1 { vec![dep.as_str()] } else { vec![] };
            st(&title, "code_developer", &deps)
        })
        .collect()
}

/// Records every orchestrator context the model sees (the rule never answers).
fn recording(fake: Fake) -> (Fake, Arc<Mutex<Vec<OrchestratorContext>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let fake = fake.rule(move |c| {
        if let Some(ctx) = &c.ctx {
            log.lock().unwrap().push(ctx.clone());
        }
        None
    });
    (fake, seen)
}

fn limits(max_subtasks: Option<u32>, max_cycles: Option<u32>) -> RunSettings {
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.limits.max_subtasks = max_subtasks;
    s.limits.max_cycles = max_cycles;
    s
}

#[tokio::test(start_paused = true)]
async fn one_call_decides_add_work_or_complete_at_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, seen) = recording(Fake::new(chain(3)).latency(100));
    let fake = Arc::new(fake);
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        fake.clone(),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let rec = fake.records();
    // No separate completion assessment: the last replan is it.
    assert!(
        rec.iter()
            .all(|r| r.forced.as_deref() != Some(ASSESS_COMPLETION)),
        "{rec:?}"
    );
    // After the last worker's answer only two calls: the last replan and the synthesis.
    let last_worker = rec.iter().rposition(|r| r.subtask.is_some()).unwrap();
    let after: Vec<_> = rec[last_worker + 1..]
        .iter()
        .map(|r| r.forced.clone().unwrap())
        .collect();
    assert_eq!(after, vec![SUBMIT_REPLAN, SUBMIT_SYNTHESIS]);
    let ctxs = seen.lock().unwrap();
    let replans: Vec<&OrchestratorContext> =
        ctxs.iter().filter(|c| c.step == Step::Replan).collect();
    assert_eq!(replans.len(), 3);
    assert!(replans[..2].iter().all(|c| !c.last_replan));
    assert!(replans[2].last_replan, "the tail call says so");
    assert!(
        replans[2].subtasks.len() == 3 && replans[2].plan_index.is_none(),
        "the last replan sees the whole plan"
    );
    // The journal records the assessment the merged call made.
    assert_eq!(f.state.completion, Some((true, vec![])));
    assert_eq!(f.state.replan_log.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_merged_call_can_add_work_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(chain(1)).rule(|c| {
        let ctx = c.ctx.as_ref()?;
        (ctx.step == Step::Replan && ctx.last_replan && ctx.subtasks.len() == 1).then(|| {
            Reply::Tool(
                SUBMIT_REPLAN,
                serde_json::json!({"summary": "tests are missing", "add": [st("Tests", "test_engineer", &["#1"])],
                       "update": [], "cancel": [], "scope_note": "+1", "complete": false,
                       "missing": ["tests"]}),
            )
        })
    });
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        Arc::new(fake),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(f.state.subtasks.len(), 2);
    assert!(
        f.state
            .subtasks
            .iter()
            .all(|s| s.status == SubtaskStatus::Complete)
    );
    let assessed: Vec<(bool, Vec<String>)> = f
        .of(|e| matches!(e, Event::CompletionAssessed { .. }))
        .map(|e| match e {
            Event::CompletionAssessed { complete, missing } => (*complete, missing.clone()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        assessed,
        vec![(false, vec!["tests".to_string()]), (true, vec![])]
    );
}

/// A reports at 20 ms; its replan (200 ms) is in flight when B, the last worker, reports
/// at 60 ms, so the merged last replan supersedes it.
async fn superseding_run(dir: &std::path::Path) -> Finished {
    let fake = Fake::new(vec![
        st("A", "code_analyzer", &[]),
        st("B", "code_analyzer", &[]),
    ])
    .delay(|c| {
        if let Some(b) = &c.brief {
            return Some(ms(if b.id == 1 { 20 } else { 60 }));
        }
        (c.forced.as_deref() == Some(SUBMIT_REPLAN)).then(|| ms(200))
    });
    run_new(
        config(dir, settings(ApprovalPolicy::Auto, 2)),
        Arc::new(fake),
        "t",
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn a_replan_in_flight_at_the_tail_is_superseded_by_the_merged_call() {
    // A reports at 20 ms; its replan (200 ms) is in flight when B, the last worker,
    // reports at 60 ms. Waiting for that replan and then replanning B would put two
    // sequential calls after the last report; instead one call covers both.
    let dir = tempfile::tempdir().unwrap();
    let f = superseding_run(dir.path()).await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let covered: Vec<Vec<u32>> = f
        .state
        .replan_log
        .iter()
        .map(|r| r.covered.iter().map(|i| i.0).collect())
        .collect();
    assert_eq!(covered, vec![vec![1, 2]]);
    assert!(
        f.state.notices.iter().any(|n| n.contains("superseded")),
        "{:?}",
        f.state.notices
    );
    // Nothing replans a covered report again.
    assert_eq!(f.state.covered.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_superseded_replans_tokens_are_journaled_and_counted() {
    // The superseded replan (started at 20 ms) is billed by the provider whether or not
    // its answer is read: its usage must reach the journal, the run's totals, the
    // orchestrator's share and the execution summary. Six calls of 100 + 50 tokens:
    // analysis, A, B, the superseded replan, the merged last replan, the synthesis.
    let dir = tempfile::tempdir().unwrap();
    let f = superseding_run(dir.path()).await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert!(f.state.notices.iter().any(|n| n.contains("superseded")));
    let replan_usages = f
        .of(|e| {
            matches!(
                e,
                Event::LlmUsage {
                    purpose: CallPurpose::Replan { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(replan_usages, 2, "the superseded replan and the merged one");
    assert_eq!(f.state.usage.input_tokens, 600);
    assert_eq!(f.state.usage.output_tokens, 300);
    let orchestrator = f
        .state
        .usage_by_role()
        .into_iter()
        .find(|r| r.role == "orchestrator")
        .unwrap();
    assert_eq!(orchestrator.usage.input_tokens, 400);
    let summary = f
        .events
        .iter()
        .find_map(|e| match &e.event {
            Event::SynthesisCompleted { summary, .. } => Some(summary.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(summary.tokens.input_tokens, 600);
    // The journal read back folds to the same totals.
    assert_eq!(State::fold(&f.journal.events).usage, f.state.usage);
}

#[tokio::test(start_paused = true)]
async fn big_plans_send_replans_the_changes_and_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, seen) = recording(Fake::new(chain(30)));
    let f = run_new(config(dir.path(), limits(None, None)), Arc::new(fake), "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    let ctxs = seen.lock().unwrap();
    let replans: Vec<&OrchestratorContext> =
        ctxs.iter().filter(|c| c.step == Step::Replan).collect();
    assert_eq!(replans.len(), 30);
    // The first replan: the orchestrator has seen no ids yet, so every subtask is new.
    assert_eq!(replans[0].subtasks.len(), 30);
    // Then only what changed: the subtask that reported (the next one is dispatched right
    // after the replan starts, so it is still ready in this one).
    for c in &replans[1..29] {
        let index = c
            .plan_index
            .as_ref()
            .expect("a compact replan has an index");
        assert_eq!(index.total, 30);
        assert!(c.subtasks.len() <= 2, "{:?}", c.subtasks);
        assert_eq!(c.reports.len(), 1);
    }
    let mid = replans[10].plan_index.as_ref().unwrap();
    assert_eq!(
        mid.by_status,
        vec![
            ("complete".to_string(), "1-11".to_string()),
            ("ready".to_string(), "12-30".to_string()),
        ]
    );
    assert!(replans[29].last_replan && replans[29].subtasks.len() == 30);
}

#[tokio::test(start_paused = true)]
async fn replans_that_change_nothing_are_not_cycles() {
    // The default cycle limit (40) and a 50-subtask chain: 50 replans, none changed the
    // plan, so the chain finishes.
    let dir = tempfile::tempdir().unwrap();
    let f = run_new(
        config(dir.path(), limits(None, Some(40))),
        Arc::new(Fake::new(chain(50))),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert!(f.state.alerts.is_empty(), "{:?}", f.state.alerts);
    assert_eq!(f.state.replan_log.len(), 50);
    assert_eq!(f.state.plan_cycles(), 0);
    assert!(
        f.state
            .subtasks
            .iter()
            .all(|s| s.status == SubtaskStatus::Complete)
    );
}

#[tokio::test(start_paused = true)]
async fn replans_that_change_the_plan_are_cycles() {
    // Every report proposes one more subtask, which the replan adds: each replan is a
    // cycle, and the limit of 2 holds the third.
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(chain(1)).rule(|c| {
        let b = c.brief.as_ref()?;
        let next = format!("More {}", b.id);
        Some(Reply::Tool(
            SUBMIT_REPORT,
            report("complete", "done", vec![st(&next, "code_developer", &[])]),
        ))
    });
    let f = run_new(
        config(dir.path(), limits(None, Some(2))),
        Arc::new(fake),
        "t",
    )
    .await;
    check_consistent(&f);
    assert_eq!(f.state.plan_cycles(), 2);
    let alert = f
        .state
        .alerts
        .iter()
        .find(|a| a.limit == LimitKind::Cycles)
        .expect("the cycle limit is reached");
    assert_eq!((alert.current, alert.max), (3.0, 2.0));
}

#[tokio::test(start_paused = true)]
async fn a_run_stopped_by_the_subtask_limit_says_so_and_is_not_complete() {
    // Default limits: 40 subtasks. A 50-subtask chain runs 40, holds 10 back, and the run
    // ends stopped (exit 3 headless), naming what was not run, after synthesising what
    // was done.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), limits(Some(40), Some(40)));
    cfg.stop_when_person_needed = true;
    let f = run_new(cfg, Arc::new(Fake::new(chain(50))), "t").await;
    check_consistent(&f);
    assert_eq!(
        f.outcome,
        RunOutcome::Stopped {
            reason: "stopped at the subtask limit: 10 of 50 not run".into()
        }
    );
    assert_eq!(f.state.held_back().len(), 10);
    assert!(f.state.synthesis.is_some(), "what was done is synthesised");
    let done = f
        .state
        .subtasks
        .iter()
        .filter(|s| s.status == SubtaskStatus::Complete)
        .count();
    assert_eq!(done, 40);
}
