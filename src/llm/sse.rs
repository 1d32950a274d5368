//! Server-sent-event reading shared by the HTTP providers.
//!
//! Owns: checking that a 2xx response really is an event stream, and reading its events
//! (via `eventsource-stream` over `reqwest`'s `bytes_stream()`) with the first-byte and idle
//! timeouts of [`RetrySettings`]. Must not: interpret event payloads (each provider does).

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::Response;

use super::retry::{Failure, error_chain, truncate};
use serde_json::{Value, json};

use super::{LlmError, RetrySettings, StopReason, ms};

type EventResult = Result<Event, EventStreamError<reqwest::Error>>;

/// The events of one streaming response.
pub struct SseStream {
    inner: Pin<Box<dyn Stream<Item = EventResult> + Send>>,
    first_byte: Duration,
    idle: Duration,
    started: bool,
}

impl SseStream {
    /// Wraps a successful response. A body that is plainly not an event stream (an HTML page,
    /// a JSON document) fails at once with a message naming what came back.
    pub async fn open(response: Response, settings: &RetrySettings) -> Result<Self, Failure> {
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.is_empty() && !content_type.contains("event-stream") {
            let limit = ms(settings.idle_timeout_ms);
            let body = match tokio::time::timeout(limit, response.text()).await {
                Ok(Ok(text)) => text,
                _ => String::new(),
            };
            return Err(
                LlmError::InvalidResponse(not_an_event_stream(&content_type, &body)).into(),
            );
        }
        Ok(Self {
            inner: Box::pin(response.bytes_stream().eventsource()),
            first_byte: ms(settings.first_byte_timeout_ms),
            idle: ms(settings.idle_timeout_ms),
            started: false,
        })
    }

    /// The next event; `Ok(None)` when the body ended. A cut connection is a retryable
    /// [`LlmError::Stream`], silence longer than the timeout a [`LlmError::Timeout`].
    pub async fn next(&mut self) -> Result<Option<Event>, LlmError> {
        let (limit, what) = if self.started {
            (self.idle, "idle_timeout_ms")
        } else {
            (self.first_byte, "first_byte_timeout_ms")
        };
        match tokio::time::timeout(limit, self.inner.next()).await {
            Err(_) => Err(LlmError::Timeout(format!(
                "the stream was silent for {} ms ({what})",
                limit.as_millis()
            ))),
            Ok(None) => Ok(None),
            Ok(Some(Ok(event))) => {
                self.started = true;
                Ok(Some(event))
            }
            Ok(Some(Err(EventStreamError::Transport(e)))) => Err(LlmError::Stream(format!(
                "connection cut mid-stream: {}",
                error_chain(&e)
            ))),
            Ok(Some(Err(e))) => Err(LlmError::Stream(format!("malformed event stream: {e}"))),
        }
    }
}

/// The message for a 2xx response that is not an event stream.
pub const NOT_AN_EVENT_STREAM: &str = "the server did not answer with an event stream";

fn not_an_event_stream(content_type: &str, body: &str) -> String {
    let hint = if content_type.contains("json") {
        "it may not support streaming, or --base-url points at a different API"
    } else {
        "check that --base-url points at the API (for OpenAI-compatible servers it usually ends in /v1)"
    };
    format!(
        "{NOT_AN_EVENT_STREAM} (content-type {content_type}); {hint}; body starts: {}",
        truncate(body.trim(), 200)
    )
}

/// Parses an event's data as JSON, or fails with a retryable stream error naming the event.
pub fn json_data(event: &Event) -> Result<serde_json::Value, LlmError> {
    serde_json::from_str(&event.data).map_err(|e| {
        LlmError::Stream(format!(
            "malformed JSON in `{}` event: {e}: {}",
            event.event,
            truncate(&event.data, 200)
        ))
    })
}

/// A tool call's assembled argument JSON, checked. Truncated JSON is a retryable stream
/// failure, unless the model ran out of `max_tokens` (a retry would cut it again).
pub fn tool_arguments(
    name: &str,
    json: &str,
    initial: Value,
    stop_reason: &StopReason,
) -> Result<Value, LlmError> {
    if json.trim().is_empty() {
        return Ok(match initial {
            Value::Object(_) => initial,
            _ => json!({}),
        });
    }
    match serde_json::from_str::<Value>(json) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(LlmError::InvalidResponse(format!(
            "the arguments of tool `{name}` are not a JSON object: {}",
            truncate(&other.to_string(), 200)
        ))),
        Err(e) if *stop_reason == StopReason::MaxTokens => Err(LlmError::InvalidResponse(format!(
            "the arguments of tool `{name}` were cut off at max_tokens ({e}); raise max_tokens"
        ))),
        Err(e) => Err(LlmError::Stream(format!(
            "the arguments of tool `{name}` are not valid JSON ({e}); the stream was probably truncated"
        ))),
    }
}
