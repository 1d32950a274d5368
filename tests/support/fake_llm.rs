//! An in-process fake LLM HTTP server for tests, speaking both wire formats (Anthropic
//! Messages SSE and OpenAI Chat Completions SSE).
//!
//! Owns: a minimal HTTP/1.1 server on `127.0.0.1:0` (tokio `TcpListener`, one request per
//! connection, `connection: close`), scripted or computed responses sent as timed chunks,
//! connection cuts and stalls, responses held behind a [`Gate`], request recording, and builders for SSE bodies.
//! Must not: touch the network beyond loopback, or depend on Baton's provider code (tests
//! must be able to check the providers against it independently).
//!
//! # Example
//! ```ignore
//! let server = FakeLlm::start([
//!     ScriptedResponse::anthropic_error(429, "rate_limit_error", "slow down").header("retry-after", "1"),
//!     Reply::new().text("hi").tool("t1", "submit_report", json!({"status": "complete"})).anthropic(),
//! ]).await;
//! let provider = AnthropicProvider::new(server.settings(ProviderKind::Anthropic))?;
//! // ... call it, then inspect server.requests()
//! ```
//!
//! Responses can also be computed per request with [`FakeLlm::with_responder`], e.g. to answer
//! according to [`RecordedRequest::forced_tool`]. Time uses `tokio::time`, so delays work
//! under `#[tokio::test(start_paused = true)]` (then only `current_thread` runtimes).

mod cache;
mod gate;
mod protocol;
mod reply;
mod request;
mod script;
mod server;

pub use cache::*;
pub use gate::*;
pub use protocol::*;
pub use reply::*;
pub use request::*;
pub use script::*;
pub use server::*;

/// The API key that [`FakeLlm::settings`] puts in the provider settings.
pub const TEST_KEY: &str = "sk-test-FAKE-0123456789abcdef";
