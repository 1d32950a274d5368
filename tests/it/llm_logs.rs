//! Key hygiene in the logs: the key reaches the server but never the log output, nor the
//! system prompt. In its own test binary on purpose: `tracing`'s callsite interest cache is
//! global, so a test that captures logs with a thread-local subscriber is flaky when other
//! tests in the same binary hit the same callsites concurrently without one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use baton::llm::anthropic::AnthropicProvider;
use baton::llm::openai::OpenAiProvider;
use baton::llm::{LlmError, Provider, ProviderKind, ToolChoice};
use support::*;

fn both(server: &FakeLlm) -> Vec<(ProviderKind, Box<dyn Provider>)> {
    vec![
        (
            ProviderKind::Anthropic,
            Box::new(AnthropicProvider::new(server.settings(ProviderKind::Anthropic)).unwrap()),
        ),
        (
            ProviderKind::Openai,
            Box::new(OpenAiProvider::new(server.settings(ProviderKind::Openai)).unwrap()),
        ),
    ]
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn key_reaches_the_server_but_never_the_logs() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = FakeLlm::with_responder(|r| {
        if r.index % 3 == 0 {
            ScriptedResponse::anthropic_error(429, "rate_limit_error", "slow down")
                .header("retry-after-ms", "5")
        } else if r.index % 3 == 1 {
            Reply::new().text("ok").for_kind(if r.is_anthropic() {
                ProviderKind::Anthropic
            } else {
                ProviderKind::Openai
            })
        } else {
            ScriptedResponse::openai_error(401, "bad key")
        }
    })
    .await;
    let mut req = request("m", &["t"], ToolChoice::Auto);
    req.system = "SECRET-SYSTEM-PROMPT-TEXT".into();
    for (kind, p) in both(&server) {
        let resp = p.chat(req.clone(), &|_| {}).await;
        assert!(resp.is_ok(), "{kind}: {resp:?}");
        let err = p.chat(req.clone(), &|_| {}).await.unwrap_err();
        assert!(matches!(err, LlmError::Auth { .. }), "{kind}: {err:?}");
        assert!(!err.to_string().contains(TEST_KEY));
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 6);
    assert_eq!(requests[1].header("x-api-key"), Some(TEST_KEY));
    assert_eq!(
        requests[4].header("authorization"),
        Some(format!("Bearer {TEST_KEY}").as_str())
    );

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("retrying LLM call"), "logs: {text}");
    assert!(text.contains("anthropic request"), "logs: {text}");
    assert!(!text.contains(TEST_KEY), "key in logs: {text}");
    assert!(!text.contains("FAKE-0123"), "key in logs: {text}");
    assert!(!text.to_ascii_lowercase().contains("x-api-key"), "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "{text}"
    );
    assert!(
        !text.contains("SECRET-SYSTEM-PROMPT-TEXT"),
        "prompt in logs: {text}"
    );
}
