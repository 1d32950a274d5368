//! Server-sent-event reading shared by the HTTP providers.
//!
//! Owns: checking that a 2xx response really is an event stream, and reading its events
//! (via `eventsource-stream` over `reqwest`'s `bytes_stream()`) with the first-byte and idle
//! timeouts and the byte cap of [`RetrySettings`]. Keep-alives (`ping` events; SSE comments
//! never surface as events) do not reset the idle clock: a stream of only those ends after
//! `idle_timeout_ms`. Must not: interpret event payloads (each provider does).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::Response;

use super::retry::{Failure, error_chain, truncate};
use serde_json::{Value, json};

use super::{LlmError, RetrySettings, ms};

type EventResult = Result<Event, EventStreamError<reqwest::Error>>;

/// The events of one streaming response.
pub struct SseStream {
    inner: Pin<Box<dyn Stream<Item = EventResult> + Send>>,
    first_byte: Duration,
    idle: Duration,
    started: bool,
    /// Bytes of the body read so far, and the cap.
    read: Arc<AtomicU64>,
    max_bytes: u64,
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
        let read = Arc::new(AtomicU64::new(0));
        let counter = read.clone();
        let max_bytes = settings.max_response_bytes;
        // Reading stops once the cap is passed, so an endless body cannot grow memory.
        let bytes = response.bytes_stream().take_while(move |chunk| {
            let n = chunk.as_ref().map(|b| b.len() as u64).unwrap_or(0);
            let total = counter.fetch_add(n, Ordering::Relaxed).saturating_add(n);
            futures::future::ready(total <= max_bytes)
        });
        Ok(Self {
            inner: Box::pin(bytes.eventsource()),
            first_byte: ms(settings.first_byte_timeout_ms),
            idle: ms(settings.idle_timeout_ms),
            started: false,
            read,
            max_bytes,
        })
    }

    /// The next event that is not a keep-alive; `Ok(None)` when the body ended. A cut
    /// connection is a retryable [`LlmError::Stream`], silence (or only keep-alives) longer
    /// than the timeout a [`LlmError::Timeout`], a body over the cap [`LlmError::TooLarge`].
    pub async fn next(&mut self) -> Result<Option<Event>, LlmError> {
        let (limit, what) = if self.started {
            (self.idle, "idle_timeout_ms")
        } else {
            (self.first_byte, "first_byte_timeout_ms")
        };
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let event = match tokio::time::timeout_at(deadline, self.inner.next()).await {
                Err(_) => {
                    return Err(LlmError::Timeout(format!(
                        "the stream sent nothing but keep-alives or silence for {} ms ({what})",
                        limit.as_millis()
                    )));
                }
                Ok(None) if self.read.load(Ordering::Relaxed) > self.max_bytes => {
                    return Err(LlmError::TooLarge {
                        limit: self.max_bytes,
                    });
                }
                Ok(None) => return Ok(None),
                Ok(Some(Ok(event))) => event,
                Ok(Some(Err(EventStreamError::Transport(e)))) => {
                    return Err(LlmError::Stream(format!(
                        "connection cut mid-stream: {}",
                        error_chain(&e)
                    )));
                }
                Ok(Some(Err(e))) => {
                    return Err(LlmError::Stream(format!("malformed event stream: {e}")));
                }
            };
            if !is_keep_alive(&event) {
                self.started = true;
                return Ok(Some(event));
            }
        }
    }
}

/// An Anthropic `ping` (by event name or payload type): proof of a live connection, not of
/// progress.
fn is_keep_alive(event: &Event) -> bool {
    if event.event == "ping" {
        return true;
    }
    // Proxies may drop the `event:` line; a ping payload is tiny, so only short data is parsed.
    event.data.len() < 64
        && serde_json::from_str::<Value>(&event.data)
            .ok()
            .and_then(|v| v.get("type").and_then(Value::as_str).map(|t| t == "ping"))
            .unwrap_or(false)
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

/// A tool call's assembled argument JSON. Arguments that are not a JSON object (malformed,
/// or cut off at the output cap) come back as the raw text in a JSON string, for the caller's
/// repair round trip (see [`super::ToolCall::arguments_error`]): the stream itself was
/// complete, so a blind retry would only pay for the same answer again.
pub fn tool_arguments(json: &str, initial: Value) -> Value {
    if json.trim().is_empty() {
        return match initial {
            Value::Object(_) => initial,
            _ => json!({}),
        };
    }
    match serde_json::from_str::<Value>(json) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::String(json.to_string()),
    }
}
