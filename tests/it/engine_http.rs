//! Whole runs through the real HTTP providers against the in-process fake LLM server, in
//! both wire formats (Anthropic Messages and OpenAI Chat Completions): the engine's
//! requests (forced tools, schemas, `<context>`/`<brief>` blocks) survive the wire, and
//! provider retries are journaled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use baton::engine::*;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use baton::state::*;
use engine_common::{check_consistent, config, drive, settings, st};
use serde_json::{Value, json};
use support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse};

pub(crate) fn first_user_text(r: &RecordedRequest) -> String {
    let msgs = r.messages();
    let Some(m) = msgs
        .iter()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    else {
        return String::new();
    };
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn answer(r: &RecordedRequest, kind: ProviderKind, failed_once: &AtomicBool) -> ScriptedResponse {
    let text = first_user_text(r);
    let tool = |name: &str, args: Value| {
        Reply::new()
            .tool(&format!("t{}", r.index), name, args)
            .usage(120, 40)
            .model(r.model().unwrap_or(""))
            .for_kind(kind)
    };
    match r.forced_tool() {
        Some(SUBMIT_ANALYSIS) => tool(
            SUBMIT_ANALYSIS,
            json!({"complexity": 0.8, "task_type": "open-ended", "known_requirements": [],
                   "unknowns": ["scale"], "estimated_subtasks": 2, "strategy": "survey then build",
                   "subtasks": [st("Survey", "code_analyzer", &[]), st("Build", "code_developer", &["Survey"])]}),
        ),
        Some(SUBMIT_REPLAN) => {
            let ctx: OrchestratorContext = extract_block(&text, "context").unwrap();
            let known: Vec<String> = ctx.subtasks.iter().map(|s| s.title.clone()).collect();
            let add: Vec<Value> = ctx
                .reports
                .iter()
                .flat_map(|r| r.report.new_subtasks.iter())
                .filter(|p| !known.contains(&p.title))
                .map(|p| serde_json::to_value(p).unwrap())
                .collect();
            tool(
                SUBMIT_REPLAN,
                json!({"summary": "ok", "add": add, "update": [], "cancel": [], "scope_note": "fine"}),
            )
        }
        Some(ASSESS_COMPLETION) => {
            tool(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
        }
        Some(SUBMIT_SYNTHESIS) => {
            let ctx: OrchestratorContext = extract_block(&text, "context").unwrap();
            let all: Vec<String> = ctx
                .subtasks
                .iter()
                .filter_map(|s| s.results.clone())
                .collect();
            tool(
                SUBMIT_SYNTHESIS,
                json!({"deliverable": all.join("\n"), "integration_points": [], "conflicts": [],
                       "coherence": "consistent"}),
            )
        }
        Some(DECIDE_RECOVERY) => tool(
            DECIDE_RECOVERY,
            json!({"action": "retry", "rationale": "r"}),
        ),
        _ => {
            let brief: WorkerBrief = extract_block(&text, "brief").unwrap();
            if brief.title == "Build" && !failed_once.swap(true, Ordering::SeqCst) {
                return match kind {
                    ProviderKind::Openai => ScriptedResponse::openai_error(503, "overloaded"),
                    _ => ScriptedResponse::anthropic_error(529, "overloaded_error", "overloaded"),
                };
            }
            let new = if brief.title == "Survey" {
                vec![st("Document", "documentation_writer", &["Build"])]
            } else {
                vec![]
            };
            let deps: Vec<String> = brief
                .dependency_results
                .iter()
                .map(|d| d.results.clone())
                .collect();
            Reply::new()
                .text(&format!("Working on {}.", brief.title))
                .tool(
                    &format!("t{}", r.index),
                    SUBMIT_REPORT,
                    json!({"status": "complete",
                           "results": format!("{} done (after: {})", brief.title, deps.join("; ")),
                           "discoveries": [], "recommendations": [], "new_subtasks": new}),
                )
                .usage(200, 80)
                .model(r.model().unwrap_or(""))
                .for_kind(kind)
        }
    }
}

#[tokio::test]
async fn whole_run_over_both_wire_formats() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let failed_once = Arc::new(AtomicBool::new(false));
        let f1 = failed_once.clone();
        let server = FakeLlm::with_responder(move |r| answer(r, kind, &f1)).await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(ApprovalPolicy::Auto, 2);
        s.orchestrator_model = "claude-sonnet-4-5".into();
        s.worker_model = "claude-haiku-4-5".into();
        let f = drive(
            config(dir.path(), s),
            provider,
            Start::New {
                run_id: "http".into(),
                task: "build the thing".into(),
            },
            |_, _| vec![],
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind:?}");
        check_consistent(&f);
        let st = &f.state;
        let titles: Vec<&str> = st.subtasks.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Survey", "Build", "Document"], "{kind:?}");
        assert!(
            st.subtasks
                .iter()
                .all(|s| s.status == SubtaskStatus::Complete)
        );
        // The worker's streamed text is its output; the dependency's result reached Build.
        assert_eq!(st.subtasks[0].output.as_deref(), Some("Working on Survey."));
        assert!(
            st.subtasks[1]
                .report
                .as_ref()
                .unwrap()
                .results
                .contains("Survey done")
        );
        // The 5xx was retried by the provider layer and journaled.
        assert_eq!(st.retries, 1, "{kind:?}");
        let sum = st.summary.as_ref().unwrap();
        assert_eq!(sum.retries, 1);
        assert_eq!(sum.subtasks_total, 3);
        assert!(sum.tokens.total() > 0);
        assert!(
            sum.cost_usd.is_some_and(|c| c > 0.0),
            "{kind:?}: priced models"
        );
        assert!(
            st.synthesis
                .as_ref()
                .unwrap()
                .deliverable
                .contains("Build done")
        );
        // Orchestrator steps were forced, with the schema of their tool.
        let reqs = server.requests();
        for r in reqs.iter().filter(|r| r.forced_tool().is_some()) {
            assert_eq!(r.tool_names(), vec![r.forced_tool().unwrap()]);
        }
        let worker_req = reqs
            .iter()
            .find(|r| first_user_text(r).contains("<brief>"))
            .unwrap();
        assert!(worker_req.tool_names().contains(&SUBMIT_REPORT));
        assert!(!format!("{:?}", f.journal.events).contains(support::TEST_KEY));
    }
}
