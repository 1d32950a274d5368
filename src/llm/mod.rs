//! The provider layer: one streaming chat call with tools, behind the [`Provider`] trait.
//!
//! Owns: wire-neutral request/response types, the trait, provider settings, errors, retry
//! notices, usage and pricing. Must not know anything about orchestration: the engine builds
//! [`ChatRequest`]s and reads [`ChatResponse`]s. HTTP providers (`anthropic`, `openai`) share
//! the retry/timeout layer in `retry`. The simulated `demo` model implements the same trait
//! outside this module; the composition root (`session`) picks the provider.

pub mod anthropic;
pub mod http;
pub mod jsontext;
pub mod limiter;
pub mod openai;
pub mod pool;
pub mod pricing;
pub mod prompt_cache;
pub mod retry;
pub mod sse;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::{RetryNotice, ThrottleNotice, ToolCall, ToolDef, Usage};

/// A secret (API key). `Debug`, `Display` and `Serialize` never show the value, only a
/// short fingerprint, so it cannot leak through logs, the journal or `baton config`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The raw value, for building the HTTP header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `sha256:1a2b3c4d` (first 8 hex chars of the SHA-256), or `(none)`.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        if self.0.is_empty() {
            return "(none)".into();
        }
        let digest = sha2::Sha256::digest(self.0.as_bytes());
        let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.fingerprint())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fingerprint())
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.fingerprint())
    }
}

/// Which backend speaks for the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Anthropic,
    Openai,
    #[default]
    Demo,
}

impl ProviderKind {
    /// The environment variable its API key is read from (`None` for `demo`).
    pub fn key_env_var(self) -> Option<&'static str> {
        match self {
            ProviderKind::Anthropic => Some("ANTHROPIC_API_KEY"),
            ProviderKind::Openai => Some("OPENAI_API_KEY"),
            ProviderKind::Demo => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Openai => "openai",
            ProviderKind::Demo => "demo",
        })
    }
}

/// How structured output is obtained from the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ToolMode {
    /// Native tool calls (`tools` + `tool_choice`).
    #[default]
    Native,
    /// For models without tool support: the schemas go into the system prompt and the first
    /// JSON object of the reply is parsed as the tool call (see `jsontext`).
    JsonText,
}

/// Timeouts, retry budgets and response caps of the HTTP providers (`[retry]` in the config;
/// behaviour documented in docs/providers.md). Each budget counts on its own: a call may meet
/// up to `max_retries` request failures *and* `stream_retries` stream failures *and*
/// `rate_limit_retries` rate limits before it fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrySettings {
    /// Retries of request failures: 5xx (but 529), 408/409, a refused or failed connection,
    /// no response headers within `first_byte_timeout_ms`. (Key name kept from before the
    /// budgets were split.)
    pub max_retries: u32,
    /// Retries of stream failures: a cut connection, silence longer than `idle_timeout_ms`,
    /// a malformed event stream, a stream that ends without its terminal event.
    pub stream_retries: u32,
    /// Retries of rate limits (429) and overload (529, `overloaded_error`) ...
    pub rate_limit_retries: u32,
    /// ... and the most time spent waiting for them in one call, whichever ends first.
    pub rate_limit_patience_ms: u64,
    /// The longest `retry-after` honoured; a server asking for more gets this much.
    pub max_retry_after_ms: u64,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub connect_timeout_ms: u64,
    /// Time allowed from sending the request to the response headers, and from the headers
    /// to the first event.
    pub first_byte_timeout_ms: u64,
    /// Longest time allowed between two events that carry content. Keep-alives (`ping`
    /// events, SSE comments) do not count as content, so a stream of only those ends too.
    pub idle_timeout_ms: u64,
    /// Overall deadline of one call, retries and their waits included.
    pub call_timeout_ms: u64,
    /// The most bytes one response body may have.
    pub max_response_bytes: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_retries: 4,
            stream_retries: 5,
            rate_limit_retries: 10,
            rate_limit_patience_ms: 300_000,
            max_retry_after_ms: 120_000,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 30_000,
            connect_timeout_ms: 10_000,
            first_byte_timeout_ms: 60_000,
            idle_timeout_ms: 90_000,
            call_timeout_ms: 1_800_000,
            max_response_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Everything needed to build a provider (built by the configuration; the provider itself
/// by the composition root, `session::build_provider`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    /// e.g. `https://api.anthropic.com`, `https://api.openai.com/v1`, `http://localhost:11434/v1`.
    pub base_url: String,
    /// Empty for local servers that need no key.
    pub api_key: Secret,
    pub tool_mode: ToolMode,
    pub retry: RetrySettings,
    /// Anthropic `anthropic-version` header.
    pub anthropic_version: String,
    /// Demo: milliseconds between streamed words (0 = instant, for tests).
    pub demo_pace_ms: u64,
    /// Demo: seed for its deterministic choices.
    pub demo_seed: u64,
    /// The most requests in flight at once on `base_url` (the ceiling of the adaptive
    /// limit; `None`: [`limiter::DEFAULT_MAX_CONCURRENT`]).
    pub max_concurrent: Option<u32>,
    /// A pool of endpoints/keys used instead of `base_url`/`api_key` when not empty.
    pub pool: Vec<pool::EndpointSettings>,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            kind: ProviderKind::Demo,
            base_url: String::new(),
            api_key: Secret::default(),
            tool_mode: ToolMode::Native,
            retry: RetrySettings::default(),
            anthropic_version: "2023-06-01".into(),
            demo_pace_ms: 25,
            demo_seed: 7,
            max_concurrent: None,
            pool: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: ChatRole,
    pub content: Vec<Content>,
}

impl Message {
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: ChatRole::User,
            content: vec![Content::Text { text: text.into() }],
        }
    }
    /// A user message in two text blocks: the first `stable` bytes (what other calls repeat:
    /// project instructions, the task, shared decisions), then the rest. Providers mark the
    /// end of the first block for prompt caching; on the wire the text is the same.
    pub fn user_split(text: &str, stable: usize) -> Self {
        match text.split_at_checked(stable) {
            Some((head, tail)) if !head.is_empty() && !tail.is_empty() => Self {
                role: ChatRole::User,
                content: vec![
                    Content::Text { text: head.into() },
                    Content::Text { text: tail.into() },
                ],
            },
            _ => Self::user(text),
        }
    }
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: ChatRole::Assistant,
            content: vec![Content::Text { text: text.into() }],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must call some tool.
    Any,
    /// The model must call this tool.
    Tool(String),
    /// No tool calls.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolDef>,
    pub tool_choice: ToolChoice,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    Other(String),
}

/// Live, lossy progress of one call, for the UI. The assembled result is in [`ChatResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    TextDelta {
        text: String,
    },
    /// A tool call begins (index within this response).
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallDelta {
        index: usize,
        json: String,
    },
    /// The provider layer is about to retry; everything streamed since the last
    /// `Restart`/start of this call is void and will be streamed again. Sent when the wait
    /// starts, so a UI shows it at once.
    Retry(RetryNotice),
    /// Tokens a failed attempt used (the server reported usage, then the attempt was
    /// rejected): counted for cost and budgets like any other usage.
    Usage {
        model: String,
        usage: Usage,
    },
    /// The provider layer started, changed or stopped holding requests back on an endpoint
    /// (adaptive concurrency, rate-limit headers). Not output: a fact to journal.
    Throttle(ThrottleNotice),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub stop_reason: StopReason,
    pub usage: Usage,
    /// The model that answered (as reported by the server, else the requested one).
    pub model: String,
    /// Retries made before this response succeeded.
    pub retries: Vec<RetryNotice>,
}

/// Errors after the provider layer gave up (or at once, for errors a retry cannot fix).
/// Every message says what to fix.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LlmError {
    #[error("no API key: set {env_var} or `api_key` in the config file")]
    MissingKey { env_var: String },
    #[error("the server rejected the API key ({status}): {message}")]
    Auth { status: u16, message: String },
    #[error("model or endpoint not found ({status}): {message}; check --model and --base-url")]
    NotFound { status: u16, message: String },
    #[error("bad request ({status}): {message}")]
    BadRequest { status: u16, message: String },
    #[error("the model does not support tool calls: {message}; set tool_mode = \"json_text\"")]
    ToolsUnsupported { message: String },
    #[error("cannot reach {url}: {message}; check --base-url and that the server runs")]
    Unreachable { url: String, message: String },
    #[error("timed out: {0}")]
    Timeout(String),
    #[error(
        "the server redirected the call to {location} ({status}); API calls do not follow redirects (the key must not go to another host): set --base-url to the final address if you trust it"
    )]
    Redirected { status: u16, location: String },
    #[error("the response is larger than {limit} bytes (max_response_bytes)")]
    TooLarge { limit: u64 },
    #[error("server error ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("rate limited (429): {message}")]
    RateLimited {
        message: String,
        retry_after_ms: Option<u64>,
    },
    #[error("the stream broke: {0}")]
    Stream(String),
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted { attempts: u32, last: Box<LlmError> },
    #[error("cancelled")]
    Cancelled,
}

impl LlmError {
    /// Whether another attempt of the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::Timeout(_)
                | LlmError::Server { .. }
                | LlmError::RateLimited { .. }
                | LlmError::Stream(_)
                | LlmError::Unreachable { .. }
        )
    }
}

/// Receives live stream events. Must not block (the engine forwards on a lossy channel).
pub type DeltaSink<'a> = &'a (dyn Fn(StreamEvent) + Send + Sync);

/// A streaming chat model with tools. Implemented by the HTTP providers and by `demo`.
#[async_trait]
pub trait Provider: Send + Sync {
    /// `anthropic`, `openai`, `demo`.
    fn name(&self) -> &str;
    /// The base URL (empty for demo), for display.
    fn base_url(&self) -> &str;
    /// One call. Retries are done inside; each is reported on `sink` and in the response.
    async fn chat(&self, req: ChatRequest, sink: DeltaSink<'_>) -> Result<ChatResponse, LlmError>;
}

/// A helper for tests and callers that do not need live deltas.
pub fn discard_sink() -> impl Fn(StreamEvent) + Send + Sync {
    |_| {}
}

/// Convenience: `Duration` from milliseconds.
pub(crate) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}
