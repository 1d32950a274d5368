//! The Anthropic Messages provider against the in-process fake server: request format,
//! streaming assembly, usage, proxy quirks, retries and failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use baton::llm::anthropic::AnthropicProvider;
use baton::llm::{
    ChatRole, Content, LlmError, Message, Provider, ProviderKind, ProviderSettings, StopReason,
    StreamEvent, ToolChoice, ToolMode,
};
use serde_json::json;
use support::*;

fn provider(server: &FakeLlm) -> AnthropicProvider {
    AnthropicProvider::new(server.settings(ProviderKind::Anthropic)).unwrap()
}

fn big_arguments() -> serde_json::Value {
    json!({
        "status": "complete",
        "results": "Wrote the parser. Braces { } and quotes \" survive; ünïcödé ✓ too.",
        "discoveries": ["a", "b", {"nested": {"deep": [1, 2, 3]}}],
        "recommendations": [],
        "new_subtasks": [{"title": "Write tests", "depends_on": ["Write the parser"], "priority": "high"}]
    })
}

#[tokio::test]
async fn tool_arguments_split_across_many_chunks_reassemble_exactly() {
    let args = big_arguments();
    let reply = Reply::new()
        .tool("toolu_1", "submit_report", args.clone())
        .chunk_size(3);
    // Also cut the HTTP body into 7-byte pieces, splitting events, lines and UTF-8.
    let server = FakeLlm::start([reply.anthropic().rechunk(7)]).await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(
            request(
                "claude-test",
                &["submit_report"],
                ToolChoice::Tool("submit_report".into()),
            ),
            &|e| rec.push(e),
        )
        .await
        .unwrap();
    assert_eq!(resp.tool_calls.len(), 1);
    assert_eq!(resp.tool_calls[0].id, "toolu_1");
    assert_eq!(resp.tool_calls[0].name, "submit_report");
    assert_eq!(resp.tool_calls[0].arguments, args);
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert!(resp.retries.is_empty());
    // The live deltas carry the same JSON, fragment by fragment.
    let deltas = rec
        .events()
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallDelta { .. }))
        .count();
    assert!(deltas > 50, "only {deltas} deltas");
    assert_eq!(rec.final_tool_json(0), args.to_string());
    assert_eq!(
        rec.events()[0],
        StreamEvent::ToolCallStart {
            index: 0,
            id: "toolu_1".into(),
            name: "submit_report".into()
        }
    );
}

#[tokio::test]
async fn request_carries_headers_and_the_messages_format() {
    let server = FakeLlm::start([Reply::new().text("ok").anthropic()]).await;
    let mut req = request(
        "claude-test",
        &["read_file", "submit_report"],
        ToolChoice::Any,
    );
    req.messages = vec![
        Message::user("Start."),
        Message {
            role: ChatRole::Assistant,
            content: vec![
                Content::Text {
                    text: String::new(),
                },
                Content::ToolUse {
                    id: "toolu_9".into(),
                    name: "read_file".into(),
                    input: json!({"path": "src/lib.rs"}),
                },
            ],
        },
        Message {
            role: ChatRole::User,
            content: vec![Content::ToolResult {
                tool_use_id: "toolu_9".into(),
                content: "no such file".into(),
                is_error: true,
            }],
        },
    ];
    let resp = provider(&server).chat(req, &|_| {}).await.unwrap();
    assert_eq!(resp.text, "ok");
    assert_eq!(resp.stop_reason, StopReason::EndTurn);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(TEST_KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), None);
    let b = &r.body;
    assert_eq!(b["model"], "claude-test");
    assert_eq!(b["stream"], true);
    assert_eq!(b["max_tokens"], 1024);
    assert!((b["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    // One system block; its cache breakpoints are checked in llm_caching.rs.
    assert_eq!(b["system"][0]["text"], "You are a test.");
    assert_eq!(b["tool_choice"], json!({"type": "any"}));
    assert_eq!(b["tools"][0]["name"], "read_file");
    assert!(b["tools"][0]["input_schema"].is_object());
    assert!(b["tools"][0]["description"].is_string());
    // The empty text block is dropped (the API rejects it).
    assert_eq!(
        b["messages"][1]["content"],
        json!([{"type": "tool_use", "id": "toolu_9", "name": "read_file", "input": {"path": "src/lib.rs"}}])
    );
    // The last message carries the rolling cache breakpoint.
    assert_eq!(
        b["messages"][2]["content"],
        json!([{"type": "tool_result", "tool_use_id": "toolu_9", "content": "no such file", "is_error": true,
                "cache_control": {"type": "ephemeral"}}])
    );
}

#[tokio::test]
async fn tool_choice_variants_on_the_wire() {
    let server = FakeLlm::with_responder(|_| Reply::new().text("ok").anthropic()).await;
    let p = provider(&server);
    for choice in [
        ToolChoice::Auto,
        ToolChoice::Any,
        ToolChoice::Tool("t".into()),
        ToolChoice::None,
    ] {
        p.chat(request("m", &["t"], choice), &|_| {}).await.unwrap();
    }
    p.chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    let choices: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.body.get("tool_choice").cloned())
        .collect();
    assert_eq!(
        choices,
        vec![
            Some(json!({"type": "auto"})),
            Some(json!({"type": "any"})),
            Some(json!({"type": "tool", "name": "t"})),
            Some(json!({"type": "none"})),
            None,
        ]
    );
    assert_eq!(server.requests()[2].forced_tool(), Some("t"));
    assert!(server.requests()[4].body.get("tools").is_none());
}

#[tokio::test]
async fn text_and_tool_calls_interleaved() {
    let reply = Reply::new()
        .text("Let me look. ")
        .tool("toolu_a", "read_file", json!({"path": "a.rs"}))
        .text("And also ")
        .tool("toolu_b", "read_file", json!({"path": "b.rs"}))
        .chunk_size(4);
    let server = FakeLlm::start([reply.anthropic()]).await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(request("m", &["read_file"], ToolChoice::Auto), &|e| {
            rec.push(e)
        })
        .await
        .unwrap();
    assert_eq!(resp.text, "Let me look. And also ");
    let ids: Vec<_> = resp.tool_calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["toolu_a", "toolu_b"]);
    assert_eq!(resp.tool_calls[1].arguments, json!({"path": "b.rs"}));
    // Live order: text, start 0, deltas 0, text, start 1, deltas 1.
    let shape: Vec<String> = rec
        .events()
        .iter()
        .map(|e| match e {
            StreamEvent::TextDelta { .. } => "T".to_string(),
            StreamEvent::ToolCallStart { index, .. } => format!("S{index}"),
            StreamEvent::ToolCallDelta { index, .. } => format!("D{index}"),
            StreamEvent::Retry(_) => "R".to_string(),
            StreamEvent::Usage { .. } => "U".to_string(),
            StreamEvent::Throttle(_) => "H".to_string(),
        })
        .fold(Vec::new(), |mut v, s| {
            if v.last() != Some(&s) {
                v.push(s);
            }
            v
        });
    assert_eq!(shape, ["T", "S0", "D0", "T", "S1", "D1"]);
    assert_eq!(rec.final_tool_json(1), r#"{"path":"b.rs"}"#);
}

#[tokio::test]
async fn usage_and_model_are_read() {
    let reply = Reply::new()
        .text("hi")
        .model("claude-sonnet-4-5-20250929")
        .usage(1234, 56)
        .cache(700, 300);
    let server = FakeLlm::start([reply.anthropic()]).await;
    let resp = provider(&server)
        .chat(request("claude-sonnet-4-5", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!(resp.model, "claude-sonnet-4-5-20250929");
    assert_eq!(resp.usage.input_tokens, 1234);
    assert_eq!(resp.usage.output_tokens, 56);
    assert_eq!(resp.usage.cache_read_tokens, 700);
    assert_eq!(resp.usage.cache_write_tokens, 300);
}

#[tokio::test]
async fn proxy_quirks_empty_text_block_and_no_ping_are_accepted() {
    let reply = Reply::new()
        .with_empty_text_block_first()
        .without_ping()
        .tool("toolu_1", "submit_report", json!({"status": "complete"}));
    let server = FakeLlm::start([reply.anthropic()]).await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(
            request(
                "m",
                &["submit_report"],
                ToolChoice::Tool("submit_report".into()),
            ),
            &|e| rec.push(e),
        )
        .await
        .unwrap();
    assert_eq!(resp.text, "");
    assert_eq!(resp.tool_calls[0].arguments, json!({"status": "complete"}));
    assert!(
        !rec.events()
            .iter()
            .any(|e| matches!(e, StreamEvent::TextDelta { .. })),
        "an empty text block must not produce a delta"
    );
}

#[tokio::test]
async fn stream_cut_mid_tool_json_is_retried_and_the_caller_sees_one_clean_result() {
    let args = big_arguments();
    let reply = Reply::new()
        .text("Reporting now.")
        .tool("toolu_1", "submit_report", args.clone())
        .chunk_size(8)
        .usage(10, 20);
    let events = reply.anthropic_events();
    let cut = events.len() / 2; // well inside the tool JSON
    let server = FakeLlm::start([reply.anthropic().cut_after(cut), reply.anthropic()]).await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(request("m", &["submit_report"], ToolChoice::Any), &|e| {
            rec.push(e)
        })
        .await
        .unwrap();
    assert_eq!(server.request_count(), 2);
    assert_eq!(resp.text, "Reporting now.");
    assert_eq!(resp.tool_calls.len(), 1);
    assert_eq!(resp.tool_calls[0].arguments, args);
    assert_eq!(resp.usage.output_tokens, 20);
    assert_eq!(resp.retries.len(), 1);
    assert!(
        resp.retries[0].reason.contains("stream"),
        "{}",
        resp.retries[0].reason
    );
    assert_eq!(rec.retries(), resp.retries);
    // The first attempt's partial output came before the Retry notice; after it, one clean copy.
    assert_eq!(rec.final_text(), "Reporting now.");
    assert_eq!(rec.final_tool_json(0), args.to_string());
}

#[tokio::test]
async fn stream_without_message_stop_after_truncated_tool_json_is_retried() {
    let truncated = Reply::new()
        .tool_raw("toolu_1", "submit_report", r#"{"status": "compl"#)
        .without_terminal();
    let good = Reply::new().tool("toolu_1", "submit_report", json!({"status": "complete"}));
    let server = FakeLlm::start([truncated.anthropic(), good.anthropic()]).await;
    let resp = provider(&server)
        .chat(request("m", &["submit_report"], ToolChoice::Any), &|_| {})
        .await
        .unwrap();
    assert_eq!(server.request_count(), 2);
    assert_eq!(resp.tool_calls[0].arguments, json!({"status": "complete"}));
    assert!(resp.retries[0].reason.contains("message_stop"));
}

#[tokio::test]
async fn malformed_tool_json_in_a_complete_stream_is_returned_for_repair_not_retried() {
    let truncated = Reply::new().tool_raw("toolu_1", "submit_report", r#"{"status": "compl"#);
    let server = FakeLlm::start([truncated.anthropic()]).await;
    let resp = provider(&server)
        .chat(request("m", &["submit_report"], ToolChoice::Any), &|_| {})
        .await
        .unwrap();
    assert_eq!(server.request_count(), 1);
    assert!(resp.retries.is_empty());
    let why = resp.tool_calls[0].arguments_error().unwrap();
    assert!(why.contains("not valid JSON"), "{why}");
}

#[tokio::test]
async fn tool_json_cut_at_max_tokens_is_returned_with_the_length_stop() {
    let truncated = Reply::new()
        .tool_raw("toolu_1", "submit_report", r#"{"status": "compl"#)
        .stop_reason("max_tokens");
    let server = FakeLlm::start([truncated.anthropic()]).await;
    let resp = provider(&server)
        .chat(request("m", &["submit_report"], ToolChoice::Any), &|_| {})
        .await
        .unwrap();
    assert_eq!(server.request_count(), 1);
    assert_eq!(resp.stop_reason, StopReason::MaxTokens);
    assert!(resp.tool_calls[0].arguments_error().is_some());
}

#[tokio::test(start_paused = true)]
async fn rate_limit_429_honours_retry_after() {
    let server = FakeLlm::start([
        ScriptedResponse::anthropic_error(
            429,
            "rate_limit_error",
            "Number of requests has exceeded your rate limit",
        )
        .header("retry-after", "2"),
        Reply::new().text("done").anthropic(),
    ])
    .await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|e| rec.push(e))
        .await
        .unwrap();
    assert_eq!(resp.text, "done");
    let r = server.requests();
    assert_eq!(r.len(), 2);
    assert!(
        r[1].at - r[0].at >= Duration::from_secs(2),
        "gap {:?}",
        r[1].at - r[0].at
    );
    assert_eq!(resp.retries.len(), 1);
    assert_eq!(resp.retries[0].attempt, 1);
    assert_eq!(resp.retries[0].delay_ms, 2000);
    assert!(resp.retries[0].reason.contains("429"));
    assert!(resp.retries[0].reason.contains("retry-after 2s"));
    assert_eq!(rec.retries(), resp.retries);
}

#[tokio::test]
async fn server_error_500_then_success() {
    let server = FakeLlm::start([
        ScriptedResponse::anthropic_error(500, "api_error", "Internal server error"),
        Reply::new().text("fine").anthropic(),
    ])
    .await;
    let resp = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!(resp.text, "fine");
    assert_eq!(server.request_count(), 2);
    assert!(resp.retries[0].reason.contains("500"));
}

#[tokio::test]
async fn overloaded_529_then_success() {
    let server = FakeLlm::start([
        ScriptedResponse::anthropic_error(529, "overloaded_error", "Overloaded"),
        Reply::new().text("fine").anthropic(),
    ])
    .await;
    let resp = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!(resp.text, "fine");
    assert!(
        resp.retries[0].reason.contains("529 overloaded"),
        "{}",
        resp.retries[0].reason
    );
}

#[tokio::test]
async fn mid_stream_overloaded_error_event_is_retried() {
    let reply = Reply::new().text("partial answer").chunk_size(4);
    let mut events = reply.anthropic_events();
    events.truncate(4);
    events.push(anthropic_error_event("overloaded_error", "Overloaded"));
    let server = FakeLlm::start([
        ScriptedResponse::sse(events),
        Reply::new().text("whole answer").anthropic(),
    ])
    .await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|e| rec.push(e))
        .await
        .unwrap();
    assert_eq!(resp.text, "whole answer");
    assert_eq!(rec.final_text(), "whole answer");
    assert_eq!(resp.retries.len(), 1);
    assert!(resp.retries[0].reason.contains("Overloaded"));
}

#[tokio::test]
async fn unauthorized_401_fails_at_once_with_the_fix() {
    let server = FakeLlm::start([ScriptedResponse::anthropic_error(
        401,
        "authentication_error",
        "invalid x-api-key",
    )])
    .await;
    let err = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(matches!(err, LlmError::Auth { status: 401, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("invalid x-api-key"), "{text}");
    assert!(text.contains("ANTHROPIC_API_KEY"), "{text}");
}

#[tokio::test]
async fn unknown_model_404_is_not_found() {
    let server = FakeLlm::start([ScriptedResponse::anthropic_error(
        404,
        "not_found_error",
        "model: claude-nope",
    )])
    .await;
    let err = provider(&server)
        .chat(request("claude-nope", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(
        matches!(err, LlmError::NotFound { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--model"), "{err}");
}

#[tokio::test]
async fn bad_request_400_fails_at_once() {
    let server = FakeLlm::start([ScriptedResponse::anthropic_error(
        400,
        "invalid_request_error",
        "max_tokens: must be at most 8192",
    )])
    .await;
    let err = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(
        matches!(err, LlmError::BadRequest { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("max_tokens"));
}

#[tokio::test(start_paused = true)]
async fn first_byte_timeout_fires() {
    let server = FakeLlm::start([Reply::new()
        .text("late")
        .anthropic()
        .first_byte_delay(Duration::from_secs(60))])
    .await;
    let mut settings = server.settings(ProviderKind::Anthropic);
    settings.retry.max_retries = 0;
    settings.retry.first_byte_timeout_ms = 1_000;
    let err = AnthropicProvider::new(settings)
        .unwrap()
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("first_byte_timeout_ms"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_fires_and_the_call_is_retried() {
    let reply = Reply::new().text("some words here").chunk_size(3);
    let server = FakeLlm::start([reply.anthropic().stall_after(4), reply.anthropic()]).await;
    let mut settings = server.settings(ProviderKind::Anthropic);
    settings.retry.idle_timeout_ms = 1_000;
    let rec = Recorder::default();
    let resp = AnthropicProvider::new(settings)
        .unwrap()
        .chat(request("m", &[], ToolChoice::Auto), &|e| rec.push(e))
        .await
        .unwrap();
    assert_eq!(resp.text, "some words here");
    assert!(
        resp.retries[0].reason.contains("idle_timeout_ms"),
        "{}",
        resp.retries[0].reason
    );
    assert_eq!(rec.final_text(), "some words here");
}

#[tokio::test]
async fn retries_are_bounded() {
    let server = FakeLlm::with_responder(|_| {
        ScriptedResponse::anthropic_error(503, "api_error", "unavailable")
    })
    .await;
    let rec = Recorder::default();
    let err = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|e| rec.push(e))
        .await
        .unwrap_err();
    // fast_retry() allows 3 retries: 4 attempts in all, each retry reported.
    assert_eq!(server.request_count(), 4);
    assert_eq!(rec.retries().len(), 3);
    match err {
        LlmError::RetriesExhausted { attempts, last } => {
            assert_eq!(attempts, 4);
            assert!(matches!(*last, LlmError::Server { status: 503, .. }));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn missing_key_is_reported_before_any_request() {
    let settings = ProviderSettings {
        kind: ProviderKind::Anthropic,
        ..ProviderSettings::default()
    };
    let err = AnthropicProvider::new(settings).unwrap_err();
    assert_eq!(
        err,
        LlmError::MissingKey {
            env_var: "ANTHROPIC_API_KEY".into()
        }
    );
    assert!(err.to_string().contains("ANTHROPIC_API_KEY"));
}

#[tokio::test]
async fn html_page_instead_of_a_stream_says_to_check_the_base_url() {
    let server = FakeLlm::start([ScriptedResponse::text(
        200,
        "text/html",
        "<html><body>Welcome to nginx</body></html>",
    )])
    .await;
    let err = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    let text = err.to_string();
    assert!(text.contains("event stream"), "{text}");
    assert!(text.contains("--base-url"), "{text}");
}

#[tokio::test]
async fn json_text_mode_parses_the_reply() {
    let server = FakeLlm::start([Reply::new()
        .text("Here you go:\n```json\n{\"tool\": \"submit_report\", \"arguments\": {\"status\": \"complete\"}}\n```")
        .chunk_size(5)
        .anthropic()])
    .await;
    let mut settings = server.settings(ProviderKind::Anthropic);
    settings.tool_mode = ToolMode::JsonText;
    let resp = AnthropicProvider::new(settings)
        .unwrap()
        .chat(
            request(
                "m",
                &["submit_report"],
                ToolChoice::Tool("submit_report".into()),
            ),
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(resp.tool_calls.len(), 1);
    assert_eq!(resp.tool_calls[0].name, "submit_report");
    assert_eq!(resp.tool_calls[0].arguments, json!({"status": "complete"}));
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    let r = &server.requests()[0];
    assert!(r.body.get("tools").is_none());
    assert!(r.body.get("tool_choice").is_none());
    let system = r.system_prompt().unwrap();
    assert!(system.starts_with("You are a test."));
    assert!(system.contains("submit_report"));
}
