//! The retry / timeout layer shared by both HTTP providers, and key hygiene: retry-after
//! forms, notices, limits, unreachable servers, and that the key never reaches `Debug`
//! (the logs: `llm_logs.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::net::TcpListener as StdListener;
use std::time::Duration;

use baton::llm::anthropic::AnthropicProvider;
use baton::llm::openai::OpenAiProvider;
use baton::llm::{LlmError, Provider, ProviderKind, ProviderSettings, ToolChoice};
use baton::session::build_provider;
use serde_json::json;
use support::*;

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_honoured() {
    let when = chrono::Utc::now() + chrono::Duration::seconds(3);
    let date = when.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let server = FakeLlm::start([
        ScriptedResponse::openai_error(429, "slow down").header("retry-after", &date),
        Reply::new().text("ok").openai(),
    ])
    .await;
    let p = OpenAiProvider::new(server.settings(ProviderKind::Openai)).unwrap();
    let resp = p
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    let delay = resp.retries[0].delay_ms;
    assert!((2_000..=3_000).contains(&delay), "{delay}");
    let r = server.requests();
    assert!(r[1].at - r[0].at >= Duration::from_millis(delay));
}

#[tokio::test(start_paused = true)]
async fn retry_after_ms_is_honoured_on_5xx_too() {
    let server = FakeLlm::start([
        ScriptedResponse::anthropic_error(503, "api_error", "busy")
            .header("retry-after-ms", "1500"),
        Reply::new().text("ok").anthropic(),
    ])
    .await;
    let p = AnthropicProvider::new(server.settings(ProviderKind::Anthropic)).unwrap();
    let resp = p
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!(resp.retries[0].delay_ms, 1_500);
    let r = server.requests();
    assert!(r[1].at - r[0].at >= Duration::from_millis(1_500));
}

#[tokio::test]
async fn each_retry_is_numbered_reported_and_only_the_successful_attempt_is_returned() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let partial = Reply::new()
            .text("stale words that must vanish")
            .chunk_size(5);
        let server = FakeLlm::start([
            ScriptedResponse::json(408, &json!({"error": {"message": "request timeout"}})),
            ScriptedResponse::json(409, &json!({"error": {"message": "conflict"}})),
            partial.for_kind(kind).cut_after(4),
            Reply::new().text("fresh answer").for_kind(kind),
        ])
        .await;
        let p = build_provider(&server.settings(kind)).unwrap();
        let rec = Recorder::default();
        let resp = p
            .chat(request("m", &[], ToolChoice::Auto), &|e| rec.push(e))
            .await
            .unwrap();
        assert_eq!(resp.text, "fresh answer", "{kind}");
        let attempts: Vec<u32> = resp.retries.iter().map(|n| n.attempt).collect();
        assert_eq!(attempts, [1, 2, 3], "{kind}");
        assert!(resp.retries[0].reason.contains("408"));
        assert!(resp.retries[1].reason.contains("409"));
        assert!(resp.retries[2].reason.contains("stream"));
        assert_eq!(rec.retries(), resp.retries, "{kind}");
        assert_eq!(rec.final_text(), "fresh answer", "{kind}");
    }
}

#[tokio::test]
async fn max_retries_zero_fails_with_the_first_error() {
    let server =
        FakeLlm::start([ScriptedResponse::anthropic_error(500, "api_error", "boom")]).await;
    let mut settings = server.settings(ProviderKind::Anthropic);
    settings.retry.max_retries = 0;
    let err = AnthropicProvider::new(settings)
        .unwrap()
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(
        matches!(err, LlmError::Server { status: 500, .. }),
        "{err:?}"
    );
}

fn closed_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
    // dropped here: nothing listens on the port any more
}

#[tokio::test]
async fn unreachable_server_is_retried_then_reported_with_the_url() {
    let port = closed_port();
    let settings = ProviderSettings {
        kind: ProviderKind::Openai,
        base_url: format!("http://127.0.0.1:{port}/v1"),
        retry: fast_retry(),
        ..ProviderSettings::default()
    };
    let rec = Recorder::default();
    let err = OpenAiProvider::new(settings)
        .unwrap()
        .chat(request("m", &[], ToolChoice::Auto), &|e| rec.push(e))
        .await
        .unwrap_err();
    assert_eq!(rec.retries().len(), 3);
    match err {
        LlmError::RetriesExhausted { attempts: 4, last } => {
            assert!(matches!(*last, LlmError::Unreachable { .. }), "{last:?}");
            let text = last.to_string();
            assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
            assert!(text.contains("--base-url"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalid_base_url_is_rejected_with_a_hint() {
    let settings = ProviderSettings {
        kind: ProviderKind::Openai,
        base_url: "localhost:11434/v1".into(),
        ..ProviderSettings::default()
    };
    let err = OpenAiProvider::new(settings).unwrap_err();
    assert!(err.to_string().contains("http"), "{err}");
}

#[test]
fn debug_of_settings_and_providers_never_shows_the_key() {
    let settings = ProviderSettings {
        kind: ProviderKind::Anthropic,
        base_url: "http://127.0.0.1:9".into(),
        api_key: baton::llm::Secret::new(TEST_KEY),
        ..ProviderSettings::default()
    };
    let debug = format!("{settings:?} {settings:#?}");
    assert!(!debug.contains(TEST_KEY), "{debug}");
    assert!(!debug.contains("FAKE"), "{debug}");
    assert!(debug.contains("sha256:"), "{debug}");
    let serialized = serde_json::to_string(&settings).unwrap();
    assert!(!serialized.contains(TEST_KEY));
    let a = AnthropicProvider::new(settings.clone()).unwrap();
    let o = OpenAiProvider::new(ProviderSettings {
        kind: ProviderKind::Openai,
        ..settings
    })
    .unwrap();
    let debug = format!("{a:?} {o:?}");
    assert!(!debug.contains(TEST_KEY), "{debug}");
}
