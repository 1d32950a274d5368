//! The evaluator reopens work (issue 11, capability 7) through the real HTTP providers
//! against the fake LLM server, in both wire formats: with `--evaluate` and one round,
//! the first evaluation's finding becomes a subtask that a worker runs (its request reaches
//! the fake), the round after only judges, and the summary names what was left.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;

use baton::engine::Start;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use baton::state::*;

use crate::engine_common::{config, drive, settings, st};
use crate::engine_http::first_user_text;
use crate::support::{FakeLlm, Reply};

#[tokio::test]
async fn the_evaluators_finding_becomes_work_a_worker_runs_in_both_wire_formats() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let rounds = Arc::new(AtomicU32::new(0));
        let seen = rounds.clone();
        let server = FakeLlm::with_responder(move |r| {
            if r.forced_tool() != Some(SUBMIT_EVALUATION) {
                let only = [("Work".to_string(), "code_developer".to_string())];
                return crate::support::protocol_answer(r, kind, &only);
            }
            let round = seen.fetch_add(1, Ordering::SeqCst) + 1;
            Reply::new()
                .tool(
                    &format!("t{}", r.index),
                    SUBMIT_EVALUATION,
                    json!({"accepted": false, "feedback": "not there yet",
                           "findings": [format!("round {round} finds a gap")],
                           "new_subtasks": [st(&format!("Polish {round}"), "code_developer", &[])]}),
                )
                .usage(100, 30)
                .for_kind(kind)
        })
        .await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(ApprovalPolicy::Auto, 2);
        s.evaluate = true;
        s.evaluate_rounds = 1;
        let f = drive(
            config(dir.path(), s),
            provider,
            Start::New {
                run_id: "evaluate".into(),
                task: "build it".into(),
            },
            |_, _| vec![],
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind:?}");
        let state = &f.state;
        let polish = state
            .subtasks
            .iter()
            .find(|t| t.title == "Polish 1")
            .unwrap_or_else(|| panic!("{kind:?}: the finding became a subtask"));
        assert_eq!(polish.origin, Origin::Evaluation { round: 1 });
        assert_eq!(polish.status, SubtaskStatus::Complete);
        assert!(
            !state.subtasks.iter().any(|t| t.title == "Polish 2"),
            "the round after the limit only judges"
        );
        // A worker ran it: its brief reached the fake.
        let requests = server.requests();
        assert!(
            requests
                .iter()
                .any(|r| r.forced_tool().is_none() && first_user_text(r).contains("Polish 1")),
            "{kind:?}"
        );
        assert_eq!(rounds.load(Ordering::SeqCst), 2, "{kind:?}");
        let summary = state.summary.as_ref().unwrap();
        assert_eq!(summary.evaluation_rounds, 2);
        assert_eq!(
            summary.findings_left,
            vec!["round 2 finds a gap".to_string(), "Polish 2".to_string()]
        );
    }
}
