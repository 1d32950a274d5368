//! The budget forecast and staged stops, whole runs against the fake LLM server in both wire
//! formats: the forecast is journaled before the first dispatch and after each replan; a
//! budget stage raises its scope alert *before* the dispatch that would cross it (the server
//! sees no request of that subtask until the alert is answered); headless stops with exit 3
//! on a stage, `--approve auto` follows the policy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;
use crate::support_cli as cli;

use std::sync::Arc;

use super::engine_http::first_user_text;
use baton::engine::*;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use engine_common::{check_consistent, config, drive, settings, st};
use serde_json::{Value, json};
use support::{FakeLlm, RecordedRequest, ScriptedResponse};

/// The title of the worker brief a request carries, if it is a worker's.
fn brief_title(r: &RecordedRequest) -> Option<String> {
    extract_block::<WorkerBrief>(&first_user_text(r), "brief").map(|b| b.title)
}

/// Survey (analyser) then Build (developer); orchestrator calls use 160 tokens, worker
/// calls 280.
fn answer(r: &RecordedRequest, kind: ProviderKind) -> ScriptedResponse {
    let tool = |name: &str, args: Value, input: u64, output: u64| {
        support::Reply::new()
            .tool(&format!("t{}", r.index), name, args)
            .usage(input, output)
            .model(r.model().unwrap_or(""))
            .for_kind(kind)
    };
    match r.forced_tool() {
        Some(SUBMIT_ANALYSIS) => tool(
            SUBMIT_ANALYSIS,
            json!({"complexity": 0.9, "task_type": "build", "known_requirements": [],
                   "unknowns": [], "estimated_subtasks": 2, "strategy": "survey then build",
                   "subtasks": [st("Survey", "code_analyzer", &[]),
                                st("Build", "code_developer", &["Survey"])]}),
            120,
            40,
        ),
        Some(SUBMIT_REPLAN) => tool(
            SUBMIT_REPLAN,
            json!({"summary": "ok", "add": [], "update": [], "cancel": [], "scope_note": "same"}),
            120,
            40,
        ),
        Some(ASSESS_COMPLETION) => tool(
            ASSESS_COMPLETION,
            json!({"complete": true, "missing": []}),
            120,
            40,
        ),
        Some(SUBMIT_SYNTHESIS) => tool(
            SUBMIT_SYNTHESIS,
            json!({"deliverable": "done", "integration_points": [], "conflicts": [],
                   "coherence": "ok"}),
            120,
            40,
        ),
        _ => tool(
            SUBMIT_REPORT,
            json!({"status": "complete", "results": "done", "discoveries": [],
                   "recommendations": [], "new_subtasks": []}),
            200,
            80,
        ),
    }
}

/// A 40,000-token budget: Survey's prior (26,000) passes 50 %; after it, Build's prior
/// (46,000, no developer has finished) passes 100 %. Each alert comes before the dispatch.
#[tokio::test]
async fn a_stage_alert_comes_before_the_dispatch_that_would_cross_it() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let server = FakeLlm::with_responder(move |r| answer(r, kind)).await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(ApprovalPolicy::Scope, 2);
        s.limits.max_tokens = Some(40_000);
        let mut seen_at_alert: Vec<(u32, Vec<String>)> = Vec::new();
        let f = drive(
            config(dir.path(), s),
            provider,
            Start::New {
                run_id: "stages".into(),
                task: "build the thing".into(),
            },
            |e, state| match &e.event {
                Event::ScopeAlertRaised { alert, .. } => {
                    let stage = state.outlook.stage_of(*alert).unwrap();
                    // What the server has seen of workers when the alert is raised.
                    let briefs = server.requests().iter().filter_map(brief_title).collect();
                    seen_at_alert.push((stage.percent, briefs));
                    vec![Command::ResolveScopeAlert {
                        alert: *alert,
                        decision: ScopeDecision::Continue,
                    }]
                }
                _ => vec![],
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind:?}");
        check_consistent(&f);
        assert_eq!(
            seen_at_alert,
            vec![(50, vec![]), (100, vec!["Survey".to_string()])],
            "{kind:?}: no request of the subtask before its alert was answered"
        );
        let stages: Vec<(u32, SubtaskId, LimitKind)> = f
            .state
            .outlook
            .stages
            .iter()
            .map(|s| (s.percent, s.subtask, s.limit))
            .collect();
        assert_eq!(
            stages,
            vec![
                (50, SubtaskId(1), LimitKind::Tokens),
                (100, SubtaskId(2), LimitKind::Tokens)
            ]
        );
        // In the journal: the stage, its alert, the answer, then the dispatch.
        let pos = |want: &dyn Fn(&Event) -> bool| {
            f.journal
                .events
                .iter()
                .position(|e| want(&e.event))
                .unwrap()
        };
        let stage2 =
            pos(&|e| matches!(e, Event::BudgetStageReached { stage } if stage.percent == 100));
        let answered2 = pos(&|e| matches!(e, Event::ScopeAlertResolved { alert: 2, .. }));
        let build = pos(&|e| matches!(e, Event::SubtaskStarted { id, .. } if id.0 == 2));
        assert!(stage2 < answered2 && answered2 < build, "{kind:?}");
        // The forecast: journaled before the first dispatch (prior) and after the replan.
        let forecasts: Vec<&Forecast> = f
            .journal
            .events
            .iter()
            .filter_map(|e| match &e.event {
                Event::ForecastUpdated { forecast } => Some(forecast),
                _ => None,
            })
            .collect();
        assert!(forecasts.len() >= 2, "{forecasts:?}");
        assert_eq!(forecasts[0].basis, ForecastBasis::Prior);
        assert_eq!(forecasts[0].remaining, 2);
        assert_eq!(forecasts[0].replans, 0);
        let survey = pos(&|e| matches!(e, Event::SubtaskStarted { id, .. } if id.0 == 1));
        let first = pos(&|e| matches!(e, Event::ForecastUpdated { .. }));
        assert!(first < survey);
        assert_eq!(forecasts[1].basis, ForecastBasis::Mixed);
        assert_eq!(forecasts[1].remaining, 1);
    }
}

/// Under `auto` the policy answers: continue below 100 %, stop and synthesise at 100 %
/// (budgets are hard), before the crossing subtask ever starts.
#[tokio::test]
async fn auto_continues_below_100_and_stops_before_crossing_it() {
    let kind = ProviderKind::Anthropic;
    let server = FakeLlm::with_responder(move |r| answer(r, kind)).await;
    let provider = build_provider(&server.settings(kind)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 2);
    s.limits.max_tokens = Some(40_000);
    let f = drive(
        config(dir.path(), s),
        provider,
        Start::New {
            run_id: "auto".into(),
            task: "t".into(),
        },
        |_, _| vec![],
    )
    .await;
    check_consistent(&f);
    let answers: Vec<Option<ScopeDecision>> = f
        .state
        .alerts
        .iter()
        .map(|a| a.resolution.clone())
        .collect();
    assert_eq!(
        answers,
        vec![
            Some(ScopeDecision::Continue),
            Some(ScopeDecision::StopAndSynthesize)
        ]
    );
    assert_eq!(f.state.subtasks[1].attempts, 0, "Build never started");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| brief_title(r).as_deref() != Some("Build"))
    );
    assert_eq!(
        f.outcome,
        RunOutcome::Stopped {
            reason: "stopped at the token limit: 1 of 2 not run".into()
        }
    );
}

/// Headless (`--approve scope`) parks on a stage with exit 3; the demo's first worker's
/// prior time passes 50 % of a 100-second budget.
#[test]
fn headless_stops_with_exit_3_on_a_stage() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "max_wall_secs = 100\nbudget_stages = [50, 80, 100]\n[demo]\npace_ms = 0\n",
    )
    .unwrap();
    let o = cli::baton(home.path())
        .args(["--headless", "--approve", "scope", cli::TASK])
        .output()
        .unwrap();
    let (_, stderr) = cli::text(&o);
    assert_eq!(o.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stderr.contains("forecast: $0.00 so far"), "{stderr}");
    assert!(
        stderr.contains("! budget stage") && stderr.contains("wall-clock seconds would pass"),
        "{stderr}"
    );
    assert!(!stderr.contains("started ["), "nothing started: {stderr}");
    assert!(
        stderr.contains("budget stage 50 %") && stderr.contains("continue, raise the budget"),
        "what it needs: {stderr}"
    );
}

/// A stage fires once per run: headless stops on it (exit 3 in the binary); the resumed
/// run's person continues, and the dispatch that follows does not raise it again.
#[tokio::test(start_paused = true)]
async fn a_resumed_run_does_not_fire_a_stage_again() {
    use baton::journal::{self, JOURNAL_FILE};
    use engine_common::{Fake, run_until_person_needed};
    let fake = || {
        Fake::new(vec![
            st("A", "code_developer", &[]),
            st("B", "code_developer", &["A"]),
        ])
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Scope, 1);
    // A developer's prior (46,000 tokens) would pass the whole budget.
    s.limits.max_tokens = Some(30_000);
    let stopped = run_until_person_needed(dir.path(), s.clone(), fake()).await;
    assert_eq!(stopped.state.outlook.stages.len(), 1);
    assert_eq!(stopped.state.outlook.stages[0].percent, 100);
    assert_eq!(
        stopped.state.subtasks[0].attempts, 0,
        "A waits for the answer"
    );

    let replay = journal::replay(&dir.path().join(JOURNAL_FILE)).unwrap();
    let f = drive(
        config(dir.path(), s),
        Arc::new(fake()),
        Start::Resume {
            events: replay.events,
            torn_line_dropped: false,
        },
        |e, state| match &e.event {
            Event::ScopeAlertRaised { alert, .. }
                if state.open_alerts().any(|a| a.alert == *alert) =>
            {
                vec![Command::ResolveScopeAlert {
                    alert: *alert,
                    decision: ScopeDecision::Continue,
                }]
            }
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(f.state.outlook.stages.len(), 1, "not fired again");
    assert_eq!(f.state.alerts.len(), 1);
}

/// Six developer subtasks: once 5 have finished, one role holds all the finished work; the
/// warning is journaled once and the next replan's context says so, in both wire formats.
#[tokio::test]
async fn one_role_doing_the_work_is_told_to_the_next_replan() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let server = FakeLlm::with_responder(move |r| {
            if r.forced_tool() == Some(SUBMIT_ANALYSIS) {
                let subtasks: Vec<Value> = (1..=6)
                    .map(|i| st(&format!("Part {i}"), "code_developer", &[]))
                    .collect();
                return support::Reply::new()
                    .tool(
                        "a1",
                        SUBMIT_ANALYSIS,
                        json!({"complexity": 0.9, "task_type": "build", "known_requirements": [],
                               "unknowns": [], "estimated_subtasks": 6, "strategy": "parts",
                               "subtasks": subtasks}),
                    )
                    .usage(120, 40)
                    .model(r.model().unwrap_or(""))
                    .for_kind(kind);
            }
            answer(r, kind)
        })
        .await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let f = drive(
            config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
            provider,
            Start::New {
                run_id: "balance".into(),
                task: "t".into(),
            },
            |_, _| vec![],
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind:?}");
        check_consistent(&f);
        let warnings: Vec<&Event> = f
            .journal
            .events
            .iter()
            .map(|e| &e.event)
            .filter(|e| matches!(e, Event::BalanceChanged { .. }))
            .collect();
        assert_eq!(warnings.len(), 1, "{kind:?}: once per crossing");
        let told: Vec<Option<String>> = server
            .requests()
            .iter()
            .filter(|r| r.forced_tool() == Some(SUBMIT_REPLAN))
            .filter_map(|r| extract_block::<OrchestratorContext>(&first_user_text(r), "context"))
            .map(|c| c.balance)
            .collect();
        assert_eq!(told.len(), 6, "{kind:?}");
        assert!(told[..4].iter().all(Option::is_none), "{kind:?}: {told:?}");
        let line = told[4].as_deref().unwrap();
        assert!(
            line.starts_with("role code developer did 5 of 5 finished subtasks (100 %)"),
            "{line}"
        );
    }
}
