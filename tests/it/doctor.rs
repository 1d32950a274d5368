//! `baton doctor` against the in-process fake server: good in both wire formats, and each
//! broken setup diagnosed with its fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::net::TcpListener as StdListener;

use baton::doctor::{self, PING_TOOL, Problem, ToolSupport};
use baton::llm::{ProviderKind, ProviderSettings, Secret, ToolMode};
use serde_json::json;
use support::*;

/// Answers by calling whichever tool the request forces.
fn obliging(kind: ProviderKind) -> impl Fn(&RecordedRequest) -> ScriptedResponse {
    move |r| {
        let tool = r.forced_tool().unwrap_or("none").to_string();
        Reply::new()
            .tool("call_1", &tool, json!({"reply": "pong"}))
            .model("served-model-2025")
            .for_kind(kind)
    }
}

#[tokio::test]
async fn good_setup_in_both_wire_formats() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let server = FakeLlm::with_responder(obliging(kind)).await;
        let settings = server.settings(kind);
        let report = doctor::run(&settings, "served-model").await;
        assert!(report.ok(), "{kind}: {report}");
        assert_eq!(report.provider, kind);
        assert_eq!(report.base_url, server.base_url(kind));
        assert_eq!(report.tool_calls, ToolSupport::Works);
        assert!(report.first_token.is_some());
        assert!(report.total.is_some());
        assert_eq!(report.answered_model.as_deref(), Some("served-model-2025"));
        assert_eq!(report.key_fingerprint, Secret::new(TEST_KEY).fingerprint());

        // One small request that forces the ping tool.
        let requests = server.requests();
        assert_eq!(requests.len(), 1, "{kind}");
        assert_eq!(requests[0].forced_tool(), Some(PING_TOOL));
        assert_eq!(requests[0].body["stream"], true);

        let text = report.to_string();
        for needle in [
            kind.to_string(),
            server.base_url(kind),
            "served-model (answered as served-model-2025)".into(),
            "first token".into(),
            "work (the forced `ping` tool was called)".into(),
            "OK".into(),
            report.key_fingerprint.clone(),
        ] {
            assert!(text.contains(&needle), "{needle:?} missing in:\n{text}");
        }
        assert!(!text.contains(TEST_KEY), "{text}");
    }
}

#[tokio::test]
async fn json_text_mode_is_checked_too() {
    let server = FakeLlm::with_responder(|_| {
        Reply::new()
            .text("{\"tool\": \"ping\", \"arguments\": {\"reply\": \"pong\"}}")
            .openai()
    })
    .await;
    let mut settings = server.settings(ProviderKind::Openai);
    settings.tool_mode = ToolMode::JsonText;
    let report = doctor::run(&settings, "small").await;
    assert!(report.ok(), "{report}");
    assert!(report.to_string().contains("json_text"));
    assert!(server.requests()[0].body.get("tools").is_none());
}

#[tokio::test]
async fn key_rejected() {
    let server = FakeLlm::start([ScriptedResponse::anthropic_error(
        401,
        "authentication_error",
        "invalid x-api-key",
    )])
    .await;
    let report = doctor::run(&server.settings(ProviderKind::Anthropic), "claude-x").await;
    assert!(!report.ok());
    let d = report.diagnosis.clone().unwrap();
    assert_eq!(d.problem, Problem::KeyRejected);
    assert!(d.detail.contains("invalid x-api-key"));
    assert!(d.fix.contains("ANTHROPIC_API_KEY"));
    assert_eq!(server.request_count(), 1);
    let text = report.to_string();
    assert!(text.contains("FAILED") && text.contains("fix"), "{text}");
    assert!(!text.contains(TEST_KEY));
}

#[tokio::test]
async fn model_not_found() {
    let server = FakeLlm::start([ScriptedResponse::openai_error(
        404,
        "The model `gpt-nope` does not exist or you do not have access to it.",
    )])
    .await;
    let report = doctor::run(&server.settings(ProviderKind::Openai), "gpt-nope").await;
    let d = report.diagnosis.unwrap();
    assert_eq!(d.problem, Problem::ModelNotFound);
    assert!(d.fix.contains("--model"), "{}", d.fix);
}

#[tokio::test]
async fn wrong_base_url_404_on_the_path() {
    let server = FakeLlm::start([ScriptedResponse::text(
        404,
        "text/plain",
        "404 page not found",
    )])
    .await;
    let mut settings = server.settings(ProviderKind::Openai);
    settings.base_url = server.url(); // missing /v1
    let report = doctor::run(&settings, "m").await;
    let d = report.diagnosis.unwrap();
    assert_eq!(d.problem, Problem::WrongBaseUrl);
    assert!(d.fix.contains("/v1"), "{}", d.fix);
    assert_eq!(server.requests()[0].path, "/chat/completions");
}

#[tokio::test]
async fn not_an_llm_server() {
    let server = FakeLlm::start([ScriptedResponse::text(
        200,
        "text/html",
        "<html>Welcome to nginx!</html>",
    )])
    .await;
    let report = doctor::run(&server.settings(ProviderKind::Anthropic), "m").await;
    assert_eq!(report.diagnosis.unwrap().problem, Problem::WrongBaseUrl);
}

#[tokio::test]
async fn server_not_reachable() {
    let port = {
        let l = StdListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let settings = ProviderSettings {
        kind: ProviderKind::Openai,
        base_url: format!("http://127.0.0.1:{port}/v1"),
        retry: fast_retry(),
        ..ProviderSettings::default()
    };
    let report = doctor::run(&settings, "llama3.1").await;
    let d = report.diagnosis.clone().unwrap();
    assert_eq!(d.problem, Problem::Unreachable);
    assert!(d.fix.contains(&format!("127.0.0.1:{port}")), "{}", d.fix);
    assert_eq!(report.tool_calls, ToolSupport::NotChecked);
}

#[tokio::test]
async fn model_answers_text_instead_of_the_forced_tool() {
    let server = FakeLlm::start([Reply::new().text("pong!").openai()]).await;
    let report = doctor::run(&server.settings(ProviderKind::Openai), "tiny").await;
    assert_eq!(report.tool_calls, ToolSupport::Unsupported);
    let d = report.diagnosis.clone().unwrap();
    assert_eq!(d.problem, Problem::NoToolSupport);
    assert!(d.detail.contains("pong!"), "{}", d.detail);
    assert!(d.fix.contains("json_text"), "{}", d.fix);
    assert!(report.first_token.is_some());
}

#[tokio::test]
async fn server_says_tools_are_unsupported() {
    let server = FakeLlm::start([ScriptedResponse::openai_error(
        400,
        "registry.ollama.ai/library/gemma:2b does not support tools",
    )])
    .await;
    let report = doctor::run(&server.settings(ProviderKind::Openai), "gemma:2b").await;
    assert_eq!(report.tool_calls, ToolSupport::Unsupported);
    assert_eq!(report.diagnosis.unwrap().problem, Problem::NoToolSupport);
}

#[tokio::test]
async fn no_key() {
    let settings = ProviderSettings {
        kind: ProviderKind::Anthropic,
        ..ProviderSettings::default()
    };
    let report = doctor::run(&settings, "claude-sonnet-4-5").await;
    assert_eq!(report.base_url, "https://api.anthropic.com");
    assert_eq!(report.key_fingerprint, "(none)");
    let d = report.diagnosis.clone().unwrap();
    assert_eq!(d.problem, Problem::NoKey);
    assert!(d.fix.contains("ANTHROPIC_API_KEY"));
    assert!(d.fix.contains("--provider demo"));
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_check_is_retried_and_says_so() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let good = obliging(kind);
        let limited = move |kind: ProviderKind| match kind {
            ProviderKind::Openai => ScriptedResponse::openai_error(429, "slow down"),
            _ => ScriptedResponse::anthropic_error(429, "rate_limit_error", "slow down"),
        };
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let server = FakeLlm::with_responder(move |r| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                limited(kind).header("retry-after", "30")
            } else {
                good(r)
            }
        })
        .await;
        let report = doctor::run(&server.settings(kind), "m").await;
        assert!(report.ok(), "{kind}: {report}");
        assert_eq!(server.request_count(), 2);
        assert_eq!(report.retries.len(), 1);
        assert_eq!(report.retries[0].delay_ms, 30_000);
        let text = report.to_string();
        assert!(text.contains("retry") && text.contains("429"), "{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_check_that_stays_rate_limited_fails_within_its_patience_and_lists_the_retries() {
    let server = FakeLlm::with_responder(|_| {
        ScriptedResponse::anthropic_error(429, "rate_limit_error", "slow down")
            .header("retry-after", "30")
    })
    .await;
    let started = tokio::time::Instant::now();
    let report = doctor::run(&server.settings(ProviderKind::Anthropic), "m").await;
    assert_eq!(
        report.diagnosis.as_ref().unwrap().problem,
        Problem::RateLimited
    );
    // Patience capped at 60 s for a check: two waits of 30 s, then the failure.
    assert_eq!(report.retries.len(), 2);
    assert!(started.elapsed() <= std::time::Duration::from_secs(61));
    assert!(report.to_string().contains("retry"));
}

#[tokio::test]
async fn demo_uses_no_network() {
    let settings = ProviderSettings::default();
    let report = doctor::run(&settings, "demo").await;
    assert!(report.ok());
    assert!(!report.network);
    let text = report.to_string();
    assert!(text.contains("no key, no requests"), "{text}");
}
