//! Provider resilience against misbehaving servers, in both wire formats: separate retry
//! budgets, rate-limit patience, any `retry-after` value, keep-alive-only and endless streams,
//! silent accepts, the per-call deadline and byte cap, redirects, retry notices sent when the
//! wait starts, usage of rejected attempts, malformed tool arguments left for the repair.
//! Time is paused: no test waits real seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::sync::Mutex;
use std::time::Duration;

use baton::llm::{
    LlmError, Provider, ProviderKind, ProviderSettings, RetrySettings, StreamEvent, ToolChoice,
};
use baton::session::build_provider;
use serde_json::json;
use support::*;

const KINDS: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::Openai];

fn provider(settings: &ProviderSettings) -> std::sync::Arc<dyn Provider> {
    build_provider(settings).unwrap()
}

fn rate_limited(kind: ProviderKind) -> ScriptedResponse {
    match kind {
        ProviderKind::Openai => ScriptedResponse::openai_error(429, "slow down"),
        _ => ScriptedResponse::anthropic_error(429, "rate_limit_error", "slow down"),
    }
}

fn server_error(kind: ProviderKind, status: u16) -> ScriptedResponse {
    match kind {
        ProviderKind::Openai => ScriptedResponse::openai_error(status, "boom"),
        _ => ScriptedResponse::anthropic_error(status, "api_error", "boom"),
    }
}

/// A reply of `kind` cut after its first chunk.
fn cut_stream(kind: ProviderKind) -> ScriptedResponse {
    Reply::new()
        .text("partial words")
        .usage(7, 3)
        .for_kind(kind)
        .cut_after(2)
}

/// Settings of `server` for `kind` with the shipped budgets and small backoffs.
fn shipped(server: &FakeLlm, kind: ProviderKind) -> ProviderSettings {
    let mut s = server.settings(kind);
    s.retry = RetrySettings {
        initial_backoff_ms: 10,
        max_backoff_ms: 40,
        ..RetrySettings::default()
    };
    s
}

#[tokio::test(start_paused = true)]
async fn ten_consecutive_429s_are_survived_with_the_shipped_settings() {
    for kind in KINDS {
        let mut script =
            ScriptedResponse::rate_limit_storm(10, kind == ProviderKind::Anthropic, "1");
        script.push(Reply::new().text("finally").for_kind(kind));
        let server = FakeLlm::start(script).await;
        let resp = provider(&shipped(&server, kind))
            .chat(request("m", &[], ToolChoice::Auto), &|_| {})
            .await
            .unwrap();
        assert_eq!(resp.text, "finally", "{kind}");
        assert_eq!(resp.retries.len(), 10, "{kind}");
        assert!(
            resp.retries[9].reason.contains("rate-limit retry 10/10"),
            "{:?}",
            resp.retries[9]
        );
        assert_eq!(server.request_count(), 11);
    }
}

#[tokio::test(start_paused = true)]
async fn four_request_and_five_stream_faults_in_one_call_are_survived() {
    for kind in KINDS {
        let script = vec![
            server_error(kind, 500),
            cut_stream(kind),
            server_error(kind, 503),
            cut_stream(kind),
            cut_stream(kind),
            server_error(kind, 502),
            cut_stream(kind),
            server_error(kind, 500),
            cut_stream(kind),
            rate_limited(kind).header("retry-after", "1"),
            Reply::new().text("ok").for_kind(kind),
        ];
        let server = FakeLlm::start(script).await;
        let resp = provider(&shipped(&server, kind))
            .chat(request("m", &[], ToolChoice::Auto), &|_| {})
            .await
            .unwrap();
        assert_eq!(resp.text, "ok", "{kind}");
        assert_eq!(resp.retries.len(), 10, "{kind}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_fifth_request_fault_fails_the_call_whatever_the_other_budgets_say() {
    for kind in KINDS {
        let script: Vec<_> = (0..5).map(|_| server_error(kind, 503)).collect();
        let server = FakeLlm::start(script).await;
        let err = provider(&shipped(&server, kind))
            .chat(request("m", &[], ToolChoice::Auto), &|_| {})
            .await
            .unwrap_err();
        match err {
            LlmError::RetriesExhausted { attempts, last } => {
                assert_eq!(attempts, 5);
                assert!(
                    matches!(*last, LlmError::Server { status: 503, .. }),
                    "{last:?}"
                );
            }
            e => panic!("{kind}: {e:?}"),
        }
        assert_eq!(server.request_count(), 5);
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limits_stop_when_the_patience_is_used_up() {
    // retry-after 120 s: 120 + 120 fit in 5 minutes, a third wait would not.
    for kind in KINDS {
        let script = ScriptedResponse::rate_limit_storm(5, kind == ProviderKind::Anthropic, "120");
        let server = FakeLlm::start(script).await;
        let err = provider(&shipped(&server, kind))
            .chat(request("m", &[], ToolChoice::Auto), &|_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(err, LlmError::RetriesExhausted { attempts: 3, .. }),
            "{err:?}"
        );
        assert_eq!(server.request_count(), 3);
    }
}

#[tokio::test(start_paused = true)]
async fn any_retry_after_value_is_a_bounded_wait_never_a_panic() {
    for kind in KINDS {
        for (value, expect_ms) in [
            ("1e20", Some(120_000u64)),
            ("inf", Some(120_000)),
            ("18446744073709551616", Some(120_000)),
            ("-5", None),
            ("NaN", None),
            ("soon-ish", None),
        ] {
            let server = FakeLlm::start([
                rate_limited(kind).header("retry-after", value),
                Reply::new().text("ok").for_kind(kind),
            ])
            .await;
            let resp = provider(&shipped(&server, kind))
                .chat(request("m", &[], ToolChoice::Auto), &|_| {})
                .await
                .unwrap();
            let delay = resp.retries[0].delay_ms;
            match expect_ms {
                Some(ms) => assert_eq!(delay, ms, "{kind} {value}"),
                // Ignored: the backoff (10..=40 ms here) applies.
                None => assert!(delay <= 40, "{kind} {value}: {delay}"),
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_reported_when_its_wait_starts() {
    for kind in KINDS {
        let server = FakeLlm::start([
            rate_limited(kind).header("retry-after", "3"),
            rate_limited(kind).header("retry-after", "3"),
            Reply::new().text("ok").for_kind(kind),
        ])
        .await;
        let seen: Mutex<Vec<tokio::time::Instant>> = Mutex::new(Vec::new());
        let sink = |e: StreamEvent| {
            if matches!(e, StreamEvent::Retry(_)) {
                seen.lock().unwrap().push(tokio::time::Instant::now());
            }
        };
        provider(&shipped(&server, kind))
            .chat(request("m", &[], ToolChoice::Auto), &sink)
            .await
            .unwrap();
        let r = server.requests();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        // Each notice arrives right after the failed request, 3 s before the next one.
        for (i, at) in seen.iter().enumerate() {
            assert!(
                *at - r[i].at < Duration::from_millis(100),
                "{kind} notice {i}"
            );
            assert!(
                r[i + 1].at - *at >= Duration::from_secs(3),
                "{kind} notice {i}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_of_only_keep_alives_ends_at_the_idle_timeout() {
    for kind in KINDS {
        let forever = match kind {
            ProviderKind::Openai => ScriptedResponse::openai_keepalive_only(),
            _ => ScriptedResponse::anthropic_ping_only(),
        };
        let server = FakeLlm::start([forever]).await;
        let mut settings = server.settings(kind);
        settings.retry.stream_retries = 0;
        let started = tokio::time::Instant::now();
        let err = provider(&settings)
            .chat(request("m", &[], ToolChoice::Auto), &|_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(&err, LlmError::Timeout(m) if m.contains("idle_timeout_ms") || m.contains("first_byte_timeout_ms")),
            "{kind}: {err:?}"
        );
        // idle/first-byte timeout of fast_retry(): 5 s, pings every second did not extend it.
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "{kind}: {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_trickling_endless_stream_ends_at_the_call_deadline() {
    for kind in KINDS {
        let text = match kind {
            ProviderKind::Openai => {
                let c = json!({"choices": [{"index": 0, "delta": {"content": "more "}}]});
                format!("data: {c}\n\n")
            }
            _ => {
                let d = json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": "more "}});
                format!("event: content_block_delta\ndata: {d}\n\n")
            }
        };
        let start = Reply::new().text("start").for_kind(kind);
        let head: Vec<_> = start.chunks.iter().take(2).cloned().collect();
        let mut endless = start.clone();
        endless.chunks = head;
        let endless = endless.then_forever(text, Duration::from_secs(1));
        let server = FakeLlm::start([endless]).await;
        let mut settings = server.settings(kind);
        settings.retry.call_timeout_ms = 60_000;
        let err = provider(&settings)
            .chat(request("m", &[], ToolChoice::Auto), &|_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(&err, LlmError::Timeout(m) if m.contains("call_timeout_ms")),
            "{kind}: {err:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_endless_stream_is_cut_at_the_byte_cap() {
    for kind in KINDS {
        let filler = format!(": {}\n\n", "x".repeat(1000));
        let server = FakeLlm::start([ScriptedResponse::sse(Vec::<String>::new())
            .then_forever(filler, Duration::from_millis(1))])
        .await;
        let mut settings = server.settings(kind);
        settings.retry.max_response_bytes = 64 * 1024;
        let err = provider(&settings)
            .chat(request("m", &[], ToolChoice::Auto), &|_| {})
            .await
            .unwrap_err();
        assert_eq!(err, LlmError::TooLarge { limit: 64 * 1024 }, "{kind}");
        assert_eq!(server.request_count(), 1, "not retried");
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_accept_counts_on_the_request_budget_and_each_retry_shows_at_once() {
    for kind in KINDS {
        let server = FakeLlm::start([ScriptedResponse::silent(), ScriptedResponse::silent()]).await;
        let mut settings = server.settings(kind);
        settings.retry.max_retries = 1;
        let notices = Mutex::new(Vec::new());
        let sink = |e: StreamEvent| {
            if let StreamEvent::Retry(n) = e {
                notices.lock().unwrap().push(n);
            }
        };
        let err = provider(&settings)
            .chat(request("m", &[], ToolChoice::Auto), &sink)
            .await
            .unwrap_err();
        assert!(
            matches!(err, LlmError::RetriesExhausted { attempts: 2, .. }),
            "{kind}: {err:?}"
        );
        let notices = notices.lock().unwrap().clone();
        assert_eq!(notices.len(), 1);
        assert!(
            notices[0].reason.contains("first_byte_timeout_ms"),
            "{:?}",
            notices[0]
        );
        assert!(
            notices[0].reason.contains("request retry 1/1"),
            "{:?}",
            notices[0]
        );
    }
}

#[tokio::test]
async fn a_redirect_is_an_error_and_the_key_never_reaches_the_other_host() {
    for kind in KINDS {
        for status in [301, 302, 307, 308] {
            let elsewhere = FakeLlm::start([Reply::new().text("stolen").for_kind(kind)]).await;
            let target = format!("{}/v1/messages", elsewhere.url());
            let server = FakeLlm::start([ScriptedResponse::redirect(status, &target)]).await;
            let err = provider(&server.settings(kind))
                .chat(request("m", &[], ToolChoice::Auto), &|_| {})
                .await
                .unwrap_err();
            match &err {
                LlmError::Redirected {
                    status: s,
                    location,
                } => {
                    assert_eq!(*s, status);
                    assert_eq!(location, &target);
                }
                e => panic!("{kind} {status}: {e:?}"),
            }
            assert!(err.to_string().contains(&target));
            assert_eq!(server.request_count(), 1, "not retried");
            assert_eq!(
                elsewhere.request_count(),
                0,
                "{kind} {status}: the other host was called"
            );
        }
    }
}

#[tokio::test]
async fn the_usage_of_a_rejected_attempt_is_reported() {
    for kind in KINDS {
        // The server reports usage, then fails mid-stream (a retryable error event).
        let rejected = match kind {
            ProviderKind::Openai => {
                let usage = json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
                    "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 4}});
                ScriptedResponse::sse([
                    format!("data: {usage}\n\n"),
                    openai_error_event("server overloaded", json!(503)),
                ])
            }
            _ => {
                let mut events = Reply::new().text("partial").usage(11, 4).anthropic_events();
                events.truncate(1);
                events.push(anthropic_error_event("api_error", "internal"));
                ScriptedResponse::sse(events)
            }
        };
        let server =
            FakeLlm::start([rejected, Reply::new().text("ok").usage(5, 1).for_kind(kind)]).await;
        let usages = Mutex::new(Vec::new());
        let sink = |e: StreamEvent| {
            if let StreamEvent::Usage { usage, .. } = e {
                usages.lock().unwrap().push(usage);
            }
        };
        let resp = provider(&server.settings(kind))
            .chat(request("m", &[], ToolChoice::Auto), &sink)
            .await
            .unwrap();
        assert_eq!(resp.usage.input_tokens, 5, "{kind}");
        let usages = usages.lock().unwrap().clone();
        assert_eq!(usages.len(), 1, "{kind}: {usages:?}");
        assert_eq!(usages[0].input_tokens, 11, "{kind}");
    }
}

#[tokio::test]
async fn malformed_tool_arguments_are_returned_for_repair_not_retried() {
    for kind in KINDS {
        for stop in [None, Some("max_tokens")] {
            let mut reply = Reply::new().tool_raw("t1", "submit_report", r#"{"status": "comp"#);
            if let Some(stop) = stop {
                reply = reply.stop_reason(if kind == ProviderKind::Openai {
                    "length"
                } else {
                    stop
                });
            }
            let server = FakeLlm::start([reply.for_kind(kind)]).await;
            let resp = provider(&server.settings(kind))
                .chat(request("m", &["submit_report"], ToolChoice::Auto), &|_| {})
                .await
                .unwrap();
            assert_eq!(server.request_count(), 1, "{kind}: retried blind");
            let call = &resp.tool_calls[0];
            let why = call
                .arguments_error()
                .expect("the malformed arguments are flagged");
            assert!(why.contains("not valid JSON"), "{why}");
            assert_eq!(call.arguments, json!(r#"{"status": "comp"#));
        }
    }
}
