//! The OpenAI-compatible Chat Completions provider against the in-process fake server:
//! request format, streaming assembly by index, usage, real-server quirks, failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use baton::llm::openai::OpenAiProvider;
use baton::llm::{
    ChatRole, Content, LlmError, Message, Provider, ProviderKind, ProviderSettings, Secret,
    StopReason, StreamEvent, ToolChoice, ToolMode,
};
use serde_json::json;
use support::*;

fn provider(server: &FakeLlm) -> OpenAiProvider {
    OpenAiProvider::new(server.settings(ProviderKind::Openai)).unwrap()
}

fn args() -> serde_json::Value {
    json!({
        "summary": "Split the work; {braces} and \"quotes\" and ✓ survive.",
        "add": [{"title": "Benchmark", "depends_on": ["Parser"], "priority": "low"}],
        "update": [], "cancel": [], "scope_note": "12 subtasks now, 8 estimated"
    })
}

fn sse(lines: &[serde_json::Value], done: bool) -> ScriptedResponse {
    let mut events: Vec<String> = lines.iter().map(|l| format!("data: {l}\n\n")).collect();
    if done {
        events.push("data: [DONE]\n\n".into());
    }
    ScriptedResponse::sse(events)
}

#[tokio::test]
async fn tool_arguments_split_across_many_chunks_reassemble_exactly() {
    let reply = Reply::new()
        .tool("call_1", "submit_replan", args())
        .chunk_size(2);
    let server = FakeLlm::start([reply.openai().rechunk(5)]).await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(
            request(
                "gpt-4.1",
                &["submit_replan"],
                ToolChoice::Tool("submit_replan".into()),
            ),
            &|e| rec.push(e),
        )
        .await
        .unwrap();
    assert_eq!(resp.tool_calls.len(), 1);
    assert_eq!(resp.tool_calls[0].id, "call_1");
    assert_eq!(resp.tool_calls[0].name, "submit_replan");
    assert_eq!(resp.tool_calls[0].arguments, args());
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(rec.final_tool_json(0), args().to_string());
    assert!(rec.events().len() > 50);
}

#[tokio::test]
async fn request_carries_bearer_key_and_the_chat_completions_format() {
    let server = FakeLlm::start([Reply::new().text("ok").openai()]).await;
    let mut req = request("gpt-4.1", &["read_file"], ToolChoice::Any);
    req.messages = vec![
        Message::user("Start."),
        Message {
            role: ChatRole::Assistant,
            content: vec![
                Content::Text {
                    text: "Reading.".into(),
                },
                Content::ToolUse {
                    id: "call_9".into(),
                    name: "read_file".into(),
                    input: json!({"path": "a.rs"}),
                },
            ],
        },
        Message {
            role: ChatRole::User,
            content: vec![
                Content::ToolResult {
                    tool_use_id: "call_9".into(),
                    content: "no such file".into(),
                    is_error: true,
                },
                Content::Text {
                    text: "Go on.".into(),
                },
            ],
        },
    ];
    let resp = provider(&server).chat(req, &|_| {}).await.unwrap();
    assert_eq!(resp.text, "ok");
    assert_eq!(resp.stop_reason, StopReason::EndTurn);

    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TEST_KEY}").as_str())
    );
    assert_eq!(r.header("x-api-key"), None);
    let b = &r.body;
    assert_eq!(b["stream"], true);
    assert_eq!(b["stream_options"], json!({"include_usage": true}));
    assert_eq!(b["max_tokens"], 1024);
    assert_eq!(b["tool_choice"], "required");
    assert_eq!(b["tools"][0]["type"], "function");
    assert_eq!(b["tools"][0]["function"]["name"], "read_file");
    assert!(b["tools"][0]["function"]["parameters"].is_object());
    assert_eq!(
        b["messages"],
        json!([
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": "Start."},
            {"role": "assistant", "content": "Reading.", "tool_calls": [
                {"id": "call_9", "type": "function",
                 "function": {"name": "read_file", "arguments": "{\"path\":\"a.rs\"}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "Error: no such file"},
            {"role": "user", "content": "Go on."}
        ])
    );
}

#[tokio::test]
async fn tool_choice_variants_on_the_wire() {
    let server = FakeLlm::with_responder(|_| Reply::new().text("ok").openai()).await;
    let p = provider(&server);
    for choice in [
        ToolChoice::Auto,
        ToolChoice::Any,
        ToolChoice::Tool("t".into()),
        ToolChoice::None,
    ] {
        p.chat(request("m", &["t"], choice), &|_| {}).await.unwrap();
    }
    let choices: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.body["tool_choice"].clone())
        .collect();
    assert_eq!(
        choices,
        vec![
            json!("auto"),
            json!("required"),
            json!({"type": "function", "function": {"name": "t"}}),
            json!("none"),
        ]
    );
    assert_eq!(server.requests()[2].forced_tool(), Some("t"));
}

#[tokio::test]
async fn local_server_needs_no_key_and_gets_no_authorization_header() {
    let server = FakeLlm::start([Reply::new().text("hi").openai()]).await;
    let mut settings = server.settings(ProviderKind::Openai);
    settings.api_key = Secret::default();
    let resp = OpenAiProvider::new(settings)
        .unwrap()
        .chat(request("llama3.1", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!(resp.text, "hi");
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn hosted_openai_without_a_key_is_a_missing_key() {
    let settings = ProviderSettings {
        kind: ProviderKind::Openai,
        base_url: "https://api.openai.com/v1".into(),
        ..ProviderSettings::default()
    };
    assert_eq!(
        OpenAiProvider::new(settings).unwrap_err(),
        LlmError::MissingKey {
            env_var: "OPENAI_API_KEY".into()
        }
    );
}

#[tokio::test]
async fn text_and_tool_calls_interleaved_and_usage_read() {
    let reply = Reply::new()
        .text("Two reads. ")
        .tool("call_a", "read_file", json!({"path": "a.rs"}))
        .tool("call_b", "read_file", json!({"path": "b.rs"}))
        .chunk_size(3)
        .model("gpt-4o-mini-2024-07-18")
        .usage(900, 42)
        .cache(100, 0);
    let server = FakeLlm::start([reply.openai()]).await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(
            request("gpt-4o-mini", &["read_file"], ToolChoice::Auto),
            &|e| rec.push(e),
        )
        .await
        .unwrap();
    assert_eq!(resp.text, "Two reads. ");
    assert_eq!(resp.tool_calls.len(), 2);
    assert_eq!(resp.tool_calls[0].arguments, json!({"path": "a.rs"}));
    assert_eq!(resp.tool_calls[1].id, "call_b");
    assert_eq!(resp.tool_calls[1].arguments, json!({"path": "b.rs"}));
    assert_eq!(resp.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(resp.usage.input_tokens, 900);
    assert_eq!(resp.usage.cache_read_tokens, 100);
    assert_eq!(resp.usage.output_tokens, 42);
    let starts: Vec<_> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallStart { index, id, .. } => Some((index, id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        [(0, "call_a".to_string()), (1, "call_b".to_string())]
    );
}

#[tokio::test]
async fn quirk_named_tool_choice_answered_with_finish_reason_stop() {
    let reply = Reply::new()
        .tool("call_1", "submit_replan", args())
        .stop_reason("stop");
    let server = FakeLlm::start([reply.openai()]).await;
    let resp = provider(&server)
        .chat(
            request(
                "gpt-4.1",
                &["submit_replan"],
                ToolChoice::Tool("submit_replan".into()),
            ),
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    assert_eq!(resp.tool_calls[0].arguments, args());
}

#[tokio::test]
async fn quirk_usage_chunk_with_an_empty_delta_choice_and_empty_content_beside_tool_calls() {
    let reply = Reply::new()
        .tool("call_1", "submit_replan", args())
        .chunk_size(7)
        .usage(10, 5)
        .with_usage_chunk_empty_choice()
        .with_empty_content_beside_tool_calls();
    let server = FakeLlm::start([reply.openai()]).await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(request("m", &["submit_replan"], ToolChoice::Any), &|e| {
            rec.push(e)
        })
        .await
        .unwrap();
    assert_eq!(resp.text, "");
    assert_eq!(resp.tool_calls[0].arguments, args());
    assert_eq!(resp.usage.output_tokens, 5);
    assert!(
        !rec.events()
            .iter()
            .any(|e| matches!(e, StreamEvent::TextDelta { .. }))
    );
}

#[tokio::test]
async fn quirk_finish_reason_without_done_and_done_without_finish_reason_are_complete() {
    let server = FakeLlm::start([
        Reply::new().text("a").without_done().openai(),
        Reply::new().text("b").without_finish_reason().openai(),
    ])
    .await;
    let p = provider(&server);
    let a = p
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    let b = p
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!((a.text.as_str(), b.text.as_str()), ("a", "b"));
    assert_eq!(server.request_count(), 2);
    assert!(a.retries.is_empty() && b.retries.is_empty());
}

#[tokio::test]
async fn stream_without_terminal_event_is_retried() {
    let server = FakeLlm::start([
        Reply::new().text("half of it").without_terminal().openai(),
        Reply::new().text("all of it").openai(),
    ])
    .await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|e| rec.push(e))
        .await
        .unwrap();
    assert_eq!(resp.text, "all of it");
    assert_eq!(rec.final_text(), "all of it");
    assert!(
        resp.retries[0].reason.contains("[DONE]"),
        "{}",
        resp.retries[0].reason
    );
}

#[tokio::test]
async fn done_after_malformed_tool_json_returns_it_for_repair_not_retried() {
    let truncated = Reply::new()
        .tool_raw("call_1", "submit_replan", r#"{"summary": "Spl"#)
        .chunk_size(4);
    let server = FakeLlm::start([truncated.openai()]).await;
    let resp = provider(&server)
        .chat(request("m", &["submit_replan"], ToolChoice::Any), &|_| {})
        .await
        .unwrap();
    assert_eq!(server.request_count(), 1);
    assert!(resp.retries.is_empty());
    assert_eq!(resp.tool_calls[0].arguments, json!(r#"{"summary": "Spl"#));
    let why = resp.tool_calls[0].arguments_error().unwrap();
    assert!(why.contains("not valid JSON"), "{why}");
}

#[tokio::test]
async fn stream_cut_mid_tool_json_is_retried_and_the_caller_sees_one_clean_result() {
    let reply = Reply::new()
        .text("Replanning.")
        .tool("call_1", "submit_replan", args())
        .chunk_size(6);
    let cut = reply.openai_events().len() / 2;
    let server = FakeLlm::start([reply.openai().cut_after(cut), reply.openai()]).await;
    let rec = Recorder::default();
    let resp = provider(&server)
        .chat(request("m", &["submit_replan"], ToolChoice::Any), &|e| {
            rec.push(e)
        })
        .await
        .unwrap();
    assert_eq!(resp.text, "Replanning.");
    assert_eq!(resp.tool_calls[0].arguments, args());
    assert_eq!(rec.retries().len(), 1);
    assert_eq!(rec.final_text(), "Replanning.");
    assert_eq!(rec.final_tool_json(0), args().to_string());
}

#[tokio::test]
async fn mid_stream_error_line_is_retried() {
    let mut events = Reply::new().text("partial").openai_events();
    events.truncate(2);
    events.push(openai_error_event("upstream provider error", json!(502)));
    let server = FakeLlm::start([
        ScriptedResponse::sse(events),
        Reply::new().text("whole").openai(),
    ])
    .await;
    let resp = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!(resp.text, "whole");
    assert!(resp.retries[0].reason.contains("upstream provider error"));
}

#[tokio::test]
async fn rate_limit_without_retry_after_falls_back_to_backoff() {
    let server = FakeLlm::start([
        ScriptedResponse::openai_error(429, "Rate limit reached"),
        Reply::new().text("ok").openai(),
    ])
    .await;
    let resp = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!(resp.text, "ok");
    let notice = &resp.retries[0];
    assert!(!notice.reason.contains("retry-after"), "{}", notice.reason);
    // fast_retry(): the first backoff is 5..=10 ms.
    assert!((5..=10).contains(&notice.delay_ms), "{}", notice.delay_ms);
}

#[tokio::test]
async fn servers_that_number_every_call_zero_or_send_whole_calls_without_index() {
    let chunk =
        |delta: serde_json::Value| json!({"model": "m", "choices": [{"index": 0, "delta": delta}]});
    let finish = json!({"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]});
    let server = FakeLlm::start([
        sse(
            &[
                chunk(json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "read_file", "arguments": "{\"path\":"}}]})),
                chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"a\"}"}}]})),
                chunk(json!({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "read_file", "arguments": "{\"path\":\"b\"}"}}]})),
                finish.clone(),
            ],
            true,
        ),
        // Ollama-style: each call whole in one fragment, no index, arguments as an object.
        sse(
            &[
                chunk(json!({"content": "", "tool_calls": [
                    {"id": "x", "function": {"name": "read_file", "arguments": {"path": "x"}}},
                    {"id": "y", "function": {"name": "read_file", "arguments": {"path": "y"}}}]})),
                finish,
            ],
            true,
        ),
    ])
    .await;
    let p = provider(&server);
    let first = p
        .chat(request("m", &["read_file"], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    let got: Vec<_> = first
        .tool_calls
        .iter()
        .map(|c| (c.id.as_str(), c.arguments.clone()))
        .collect();
    assert_eq!(
        got,
        [("a", json!({"path": "a"})), ("b", json!({"path": "b"}))]
    );
    let second = p
        .chat(request("m", &["read_file"], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    let got: Vec<_> = second
        .tool_calls
        .iter()
        .map(|c| (c.id.as_str(), c.arguments.clone()))
        .collect();
    assert_eq!(
        got,
        [("x", json!({"path": "x"})), ("y", json!({"path": "y"}))]
    );
}

#[tokio::test]
async fn unauthorized_401_fails_at_once_with_the_fix() {
    let server = FakeLlm::start([ScriptedResponse::openai_error(
        401,
        "Incorrect API key provided: sk-test***",
    )])
    .await;
    let err = provider(&server)
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(matches!(err, LlmError::Auth { status: 401, .. }), "{err:?}");
    assert!(err.to_string().contains("OPENAI_API_KEY"), "{err}");
    assert!(err.to_string().contains("Incorrect API key"), "{err}");
}

#[tokio::test]
async fn unknown_model_404_is_not_found() {
    let server = FakeLlm::start([ScriptedResponse::openai_error(
        404,
        "The model `gpt-nope` does not exist or you do not have access to it.",
    )])
    .await;
    let err = provider(&server)
        .chat(request("gpt-nope", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(
        matches!(err, LlmError::NotFound { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("gpt-nope"));
}

#[tokio::test]
async fn tools_unsupported_400_says_to_use_json_text() {
    let server = FakeLlm::start([ScriptedResponse::openai_error(
        400,
        "registry.ollama.ai/library/gemma:2b does not support tools",
    )])
    .await;
    let err = provider(&server)
        .chat(request("gemma:2b", &["t"], ToolChoice::Any), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(matches!(err, LlmError::ToolsUnsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("json_text"), "{err}");
}

#[tokio::test]
async fn json_text_mode_parses_the_reply() {
    let reply = Reply::new()
        .text("I will call it.\n{\"tool\": \"submit_replan\", \"arguments\": ")
        .text(&args().to_string())
        .text("}\nThat is all.")
        .chunk_size(9);
    let server = FakeLlm::start([reply.openai()]).await;
    let mut settings = server.settings(ProviderKind::Openai);
    settings.tool_mode = ToolMode::JsonText;
    let resp = OpenAiProvider::new(settings)
        .unwrap()
        .chat(
            request(
                "small-model",
                &["submit_replan"],
                ToolChoice::Tool("submit_replan".into()),
            ),
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(resp.tool_calls.len(), 1);
    assert_eq!(resp.tool_calls[0].name, "submit_replan");
    assert_eq!(resp.tool_calls[0].arguments, args());
    assert_eq!(resp.stop_reason, StopReason::ToolUse);
    let r = &server.requests()[0];
    assert!(r.body.get("tools").is_none());
    assert!(r.body.get("tool_choice").is_none());
    let system = r.system_prompt().unwrap();
    assert!(system.contains("\"arguments\""), "{system}");
    assert!(system.contains("submit_replan"));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_hangs_after_finish_reason_still_gives_the_answer() {
    let reply = Reply::new().text("complete").without_done();
    let events = reply.openai_events();
    // finish_reason and the usage chunk arrive, then silence without [DONE] or close.
    let server = FakeLlm::start([reply.openai().stall_after(events.len())]).await;
    let mut settings = server.settings(ProviderKind::Openai);
    settings.retry.idle_timeout_ms = 1_000;
    let resp = OpenAiProvider::new(settings)
        .unwrap()
        .chat(request("m", &[], ToolChoice::Auto), &|_| {})
        .await
        .unwrap();
    assert_eq!(resp.text, "complete");
    assert!(resp.retries.is_empty());
    assert_eq!(server.request_count(), 1);
}
