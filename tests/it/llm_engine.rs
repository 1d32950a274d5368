//! The provider layer as the engine uses it, over both wire formats against the fake server:
//! malformed tool arguments and a `length` stop on a protocol call get the repair round trip
//! (not a blind retry), the rejected answer's usage is counted, a retry is journaled when its
//! wait starts (not when the call ends), and the output cap comes from the model table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::engine::*;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use engine_common::{check_consistent, config, drive, settings, st};
use serde_json::{Value, json};
use support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse};

const KINDS: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::Openai];

/// How the first analysis answer goes wrong.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Tool arguments that are not JSON, stream complete.
    MalformedJson,
    /// The answer hit the output cap: arguments cut off, `max_tokens` / `length` stop.
    CutAtCap,
    /// The first worker call is rate limited for 30 s.
    RateLimitedWorker,
}

/// A small run: one subtask, every step answered; the first answer broken by `fault`.
fn answer(
    r: &RecordedRequest,
    kind: ProviderKind,
    fault: Fault,
    seen: &Mutex<(u32, u32)>,
) -> ScriptedResponse {
    let reply = |name: &str, args: Value| {
        Reply::new()
            .tool(&format!("t{}", r.index), name, args)
            .usage(100, 10)
            .for_kind(kind)
    };
    // (analysis calls, worker calls) so far, this one included.
    let (analyses, workers) = {
        let mut n = seen.lock().unwrap();
        match r.forced_tool() {
            Some(SUBMIT_ANALYSIS) => n.0 += 1,
            None => n.1 += 1,
            _ => {}
        }
        *n
    };
    let first = analyses == 1;
    match r.forced_tool() {
        Some(SUBMIT_ANALYSIS) if first => {
            let broken = Reply::new()
                .tool_raw(
                    "t0",
                    SUBMIT_ANALYSIS,
                    r#"{"complexity": 0.8, "task_type": "open"#,
                )
                .usage(100, 10);
            match fault {
                Fault::MalformedJson => broken.for_kind(kind),
                Fault::CutAtCap => broken
                    .stop_reason(if kind == ProviderKind::Openai {
                        "length"
                    } else {
                        "max_tokens"
                    })
                    .for_kind(kind),
                Fault::RateLimitedWorker => reply(SUBMIT_ANALYSIS, analysis()),
            }
        }
        Some(SUBMIT_ANALYSIS) => reply(SUBMIT_ANALYSIS, analysis()),
        Some(SUBMIT_REPLAN) => reply(
            SUBMIT_REPLAN,
            json!({"summary": "ok", "add": [], "update": [], "cancel": [], "scope_note": "fine"}),
        ),
        Some(ASSESS_COMPLETION) => {
            reply(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
        }
        Some(SUBMIT_SYNTHESIS) => reply(
            SUBMIT_SYNTHESIS,
            json!({"deliverable": "done", "integration_points": [], "conflicts": [],
                   "coherence": "consistent"}),
        ),
        Some(DECIDE_RECOVERY) => reply(
            DECIDE_RECOVERY,
            json!({"action": "retry", "rationale": "r"}),
        ),
        _ => {
            if matches!(fault, Fault::RateLimitedWorker) && workers == 1 {
                return match kind {
                    ProviderKind::Openai => ScriptedResponse::openai_error(429, "slow down"),
                    _ => ScriptedResponse::anthropic_error(429, "rate_limit_error", "slow down"),
                }
                .header("retry-after", "30");
            }
            reply(
                SUBMIT_REPORT,
                json!({"status": "complete", "results": "built", "discoveries": [],
                       "recommendations": [], "new_subtasks": []}),
            )
        }
    }
}

fn analysis() -> Value {
    json!({"complexity": 0.8, "task_type": "open-ended", "known_requirements": [],
           "unknowns": [], "estimated_subtasks": 1, "strategy": "build",
           "subtasks": [st("Build", "code_developer", &[])]})
}

/// Runs the small run with `fault`; returns the run, the requests, and the virtual times at
/// which the front end received each `LlmRetried`.
async fn run(
    kind: ProviderKind,
    fault: Fault,
    developer_cap: Option<u32>,
) -> (
    engine_common::Finished,
    Vec<RecordedRequest>,
    Vec<tokio::time::Instant>,
) {
    let seen = Arc::new(Mutex::new((0u32, 0u32)));
    let s2 = seen.clone();
    let server = FakeLlm::with_responder(move |r| answer(r, kind, fault, &s2)).await;
    let provider = build_provider(&server.settings(kind)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.orchestrator_model = "claude-sonnet-4-5".into();
    s.worker_model = "gpt-4o".into();
    let mut retried_at = Vec::new();
    let mut cfg = config(dir.path(), s);
    for role in &mut cfg.roles {
        if role.name == "code_developer" {
            role.max_output = developer_cap;
        }
    }
    let f = drive(
        cfg,
        provider,
        Start::New {
            run_id: "llm".into(),
            task: "build".into(),
        },
        |e, _| {
            if matches!(e.event, Event::LlmRetried { .. }) {
                retried_at.push(tokio::time::Instant::now());
            }
            vec![]
        },
    )
    .await;
    (f, server.requests(), retried_at)
}

fn analysis_requests(reqs: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    reqs.iter()
        .filter(|r| r.forced_tool() == Some(SUBMIT_ANALYSIS))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn malformed_tool_json_gets_the_repair_round_trip_and_its_usage_counts() {
    for kind in KINDS {
        let (f, reqs, _) = run(kind, Fault::MalformedJson, None).await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind}");
        check_consistent(&f);
        let analyses = analysis_requests(&reqs);
        assert_eq!(analyses.len(), 2, "{kind}: one answer, one repair");
        let repair = analyses[1].raw_body.clone();
        assert!(repair.contains("not valid JSON"), "{kind}: {repair}");
        // No provider retry happened: the stream was fine.
        assert_eq!(f.state.retries, 0, "{kind}");
        // Both analysis answers were counted (100 input tokens each).
        let analysis_input: u64 = f
            .of(|e| {
                matches!(
                    e,
                    Event::LlmUsage {
                        purpose: CallPurpose::Analysis,
                        ..
                    }
                )
            })
            .map(|e| match e {
                Event::LlmUsage { usage, .. } => usage.input_tokens,
                _ => 0,
            })
            .sum();
        assert_eq!(analysis_input, 200, "{kind}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_length_stop_on_a_protocol_call_asks_for_a_shorter_answer_before_failing() {
    for kind in KINDS {
        let (f, reqs, _) = run(kind, Fault::CutAtCap, None).await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind}");
        let analyses = analysis_requests(&reqs);
        assert_eq!(analyses.len(), 2, "{kind}");
        let repair = analyses[1].raw_body.clone();
        assert!(
            repair.contains("cut off at the output cap of 64000 tokens"),
            "{kind}: {repair}"
        );
        assert!(repair.contains("shorter"), "{kind}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_output_cap_of_a_call_comes_from_the_model_table() {
    for kind in KINDS {
        let (_, reqs, _) = run(kind, Fault::MalformedJson, None).await;
        let cap = |r: &RecordedRequest| {
            r.body
                .get("max_tokens")
                .or_else(|| r.body.get("max_completion_tokens"))
                .and_then(Value::as_u64)
        };
        let orchestrator = analysis_requests(&reqs)[0];
        assert_eq!(cap(orchestrator), Some(64_000), "{kind}: claude-sonnet-4-5");
        let worker = reqs.iter().find(|r| r.forced_tool().is_none()).unwrap();
        assert_eq!(cap(worker), Some(16_384), "{kind}: gpt-4o");
    }
}

#[tokio::test(start_paused = true)]
async fn a_role_s_own_output_cap_overrides_the_model_table() {
    for kind in KINDS {
        let (f, reqs, _) = run(kind, Fault::MalformedJson, Some(1_234)).await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind}");
        let worker = reqs.iter().find(|r| r.forced_tool().is_none()).unwrap();
        let cap = worker
            .body
            .get("max_tokens")
            .or_else(|| worker.body.get("max_completion_tokens"))
            .and_then(Value::as_u64);
        assert_eq!(cap, Some(1_234), "{kind}: [[roles]] max_output");
        let orchestrator = analysis_requests(&reqs)[0];
        assert_ne!(
            orchestrator.body.get("max_tokens").and_then(Value::as_u64),
            Some(1_234),
            "{kind}: the orchestrator keeps its model's cap"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_journaled_when_its_wait_starts() {
    for kind in KINDS {
        let (f, reqs, retried_at) = run(kind, Fault::RateLimitedWorker, None).await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind}");
        check_consistent(&f);
        assert_eq!(f.state.retries, 1, "{kind}");
        assert_eq!(retried_at.len(), 1, "{kind}");
        // The notice reached the front end right after the 429, 30 s before the retry.
        let limited = reqs.iter().find(|r| r.forced_tool().is_none()).unwrap();
        let next = &reqs[limited.index + 1];
        assert!(next.at - retried_at[0] >= Duration::from_secs(29), "{kind}");
    }
}
