//! Anthropic Messages API client (`POST {base}/v1/messages`, `stream: true`).
//!
//! Owns: the Anthropic wire format (request body, SSE event types, `input_json_delta`
//! assembly per content block, usage from `message_start` / `message_delta`, mid-stream
//! `error` events) and the quirks of proxies that speak it. Retries and timeouts come from
//! `retry`, event reading from `sse`. Must not: know orchestration, or log the key, headers
//! or prompts.

use std::collections::BTreeMap;

use async_trait::async_trait;
use eventsource_stream::Event;
use serde_json::{Value, json};

use super::pool::{Endpoint, Pool};
use super::retry::{self, Failure};
use super::sse;
use super::{
    ChatRequest, ChatResponse, ChatRole, Content, DeltaSink, LlmError, Provider, ProviderSettings,
    StopReason, StreamEvent, ToolCall, ToolChoice, Usage,
};

/// Used when the settings leave `base_url` empty.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// Where the key comes from, for messages.
pub const KEY_ENV: &str = "ANTHROPIC_API_KEY";

/// A streaming client for the Anthropic Messages API, over one endpoint or a pool.
pub struct AnthropicProvider {
    settings: ProviderSettings,
    pool: Pool,
    base_url: String,
}

impl std::fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("endpoints", &self.pool)
            .finish()
    }
}

/// (trimmed base URL, request URL, host) of an Anthropic base URL.
fn endpoint_urls(base: &str) -> Result<(String, String, String), LlmError> {
    let base_url = if base.trim().is_empty() {
        DEFAULT_BASE_URL.to_string()
    } else {
        base.trim().trim_end_matches('/').to_string()
    };
    let host = retry::url_host(&base_url)?;
    // Accept a base given with the version path too (`https://api.anthropic.com/v1`).
    let root = base_url.strip_suffix("/v1").unwrap_or(&base_url);
    let url = format!("{root}/v1/messages");
    Ok((base_url, url, host))
}

impl AnthropicProvider {
    /// Fails with [`LlmError::MissingKey`] when an endpoint has no key.
    pub fn new(settings: ProviderSettings) -> Result<Self, LlmError> {
        let pool = Pool::new(&settings, endpoint_urls, |_, key| {
            if key.is_empty() {
                Err(LlmError::MissingKey {
                    env_var: KEY_ENV.into(),
                })
            } else {
                Ok(())
            }
        })?;
        let base_url = pool
            .primary()
            .map(|e| e.base_url.clone())
            .unwrap_or_default();
        Ok(Self {
            settings,
            pool,
            base_url,
        })
    }

    async fn attempt(
        &self,
        ep: &Endpoint,
        body: &Value,
        sink: DeltaSink<'_>,
    ) -> Result<ChatResponse, Failure> {
        let request = ep
            .client
            .post(&ep.url)
            .header("x-api-key", ep.key.expose())
            .header("anthropic-version", &self.settings.anthropic_version)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .json(body);
        let mut events = self
            .pool
            .open_stream(ep, request, &self.settings.retry, KEY_ENV, sink)
            .await?;
        let mut assembler = Assembler::default();
        let step = async {
            while let Some(event) = events.next().await? {
                if assembler.on_event(&event, sink)? {
                    break;
                }
            }
            Ok::<(), LlmError>(())
        };
        if let Err(e) = step.await {
            // What the server counted before the failure is billed too.
            let failure = Failure::from(e);
            return Err(failure.with_usage(&assembler.model, assembler.usage));
        }
        let (model, usage) = (assembler.model.clone(), assembler.usage);
        assembler
            .finish()
            .map_err(|e| Failure::from(e).with_usage(&model, usage))
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn chat(&self, req: ChatRequest, sink: DeltaSink<'_>) -> Result<ChatResponse, LlmError> {
        retry::call_with_retries(
            "anthropic",
            &self.pool,
            &self.settings,
            req,
            sink,
            request_body,
            |ep, body| async move { self.attempt(ep, &body, sink).await },
        )
        .await
    }
}

/// The JSON body of a streaming Messages request, with prompt-cache breakpoints
/// ([`super::prompt_cache::cache_breakpoints`]).
pub fn request_body(req: &ChatRequest) -> Value {
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens,
        "stream": true,
        "messages": req.messages.iter().map(message_json).collect::<Vec<_>>(),
    });
    if !req.system.is_empty() {
        body["system"] = json!([{"type": "text", "text": req.system}]);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        body["tool_choice"] = match &req.tool_choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::Any => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
            ToolChoice::None => json!({"type": "none"}),
        };
    }
    super::prompt_cache::cache_breakpoints(&mut body);
    body
}

fn message_json(m: &super::Message) -> Value {
    let role = match m.role {
        ChatRole::User => "user",
        ChatRole::Assistant => "assistant",
    };
    let content: Vec<Value> = m
        .content
        .iter()
        // The API rejects empty text blocks.
        .filter(|c| !matches!(c, Content::Text { text } if text.is_empty()))
        .map(|c| match c {
            Content::Text { text } => json!({"type": "text", "text": text}),
            Content::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
            Content::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => json!({
                "type": "tool_result",
                "tool_use_id": tool_use_id,
                "content": content,
                "is_error": is_error,
            }),
        })
        .collect();
    json!({"role": role, "content": content})
}

/// One content block being streamed.
#[derive(Debug)]
enum Block {
    Text,
    Tool {
        /// Index among this response's tool calls (the `StreamEvent` index).
        call_index: usize,
        id: String,
        name: String,
        json: String,
        /// `input` given whole in `content_block_start` (some proxies send no deltas).
        initial: Value,
    },
    Other,
}

/// Builds a [`ChatResponse`] from the events of one attempt, forwarding live deltas.
#[derive(Debug, Default)]
pub struct Assembler {
    text: String,
    blocks: BTreeMap<u64, Block>,
    tool_count: usize,
    usage: Usage,
    model: String,
    stop_reason: Option<String>,
    done: bool,
}

impl Assembler {
    /// Handles one event; `Ok(true)` once the terminal `message_stop` arrived.
    pub fn on_event(&mut self, event: &Event, sink: DeltaSink<'_>) -> Result<bool, LlmError> {
        let data = sse::json_data(event)?;
        // Dispatch on the payload's `type` (proxies sometimes drop the `event:` line).
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event.event.as_str())
            .to_string();
        match kind.as_str() {
            "message_start" => self.message_start(&data),
            "content_block_start" => self.block_start(&data, sink)?,
            "content_block_delta" => self.block_delta(&data, sink)?,
            "message_delta" => self.message_delta(&data),
            "message_stop" => {
                self.done = true;
                return Ok(true);
            }
            "error" => return Err(stream_error(&data)),
            // `ping`, `content_block_stop` and unknown future events carry nothing we need.
            _ => {}
        }
        Ok(false)
    }

    fn message_start(&mut self, data: &Value) {
        let message = &data["message"];
        if let Some(model) = message["model"].as_str() {
            self.model = model.to_string();
        }
        read_usage(&message["usage"], &mut self.usage);
    }

    fn block_start(&mut self, data: &Value, sink: DeltaSink<'_>) -> Result<(), LlmError> {
        let index = block_index(data)?;
        let block = &data["content_block"];
        let entry = match block["type"].as_str() {
            Some("text") => {
                if let Some(text) = block["text"].as_str().filter(|t| !t.is_empty()) {
                    self.push_text(text, sink);
                }
                Block::Text
            }
            Some("tool_use") => {
                let call_index = self.tool_count;
                self.tool_count += 1;
                let id = block["id"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("toolu_{call_index}"));
                let name = block["name"].as_str().unwrap_or_default().to_string();
                sink(StreamEvent::ToolCallStart {
                    index: call_index,
                    id: id.clone(),
                    name: name.clone(),
                });
                Block::Tool {
                    call_index,
                    id,
                    name,
                    json: String::new(),
                    initial: block["input"].clone(),
                }
            }
            _ => Block::Other,
        };
        self.blocks.insert(index, entry);
        Ok(())
    }

    fn block_delta(&mut self, data: &Value, sink: DeltaSink<'_>) -> Result<(), LlmError> {
        let index = block_index(data)?;
        let delta = &data["delta"];
        match delta["type"].as_str() {
            Some("text_delta") => {
                let text = delta["text"].as_str().unwrap_or_default();
                if !text.is_empty() {
                    self.push_text(text, sink);
                }
            }
            Some("input_json_delta") => {
                let part = delta["partial_json"].as_str().unwrap_or_default();
                match self.blocks.get_mut(&index) {
                    Some(Block::Tool {
                        call_index, json, ..
                    }) => {
                        json.push_str(part);
                        if !part.is_empty() {
                            sink(StreamEvent::ToolCallDelta {
                                index: *call_index,
                                json: part.to_string(),
                            });
                        }
                    }
                    _ => {
                        return Err(LlmError::Stream(format!(
                            "input_json_delta for content block {index}, which is not a tool_use block"
                        )));
                    }
                }
            }
            // thinking / signature / citations deltas are not part of the answer.
            _ => {}
        }
        Ok(())
    }

    fn message_delta(&mut self, data: &Value) {
        if let Some(reason) = data["delta"]["stop_reason"].as_str() {
            self.stop_reason = Some(reason.to_string());
        }
        read_usage(&data["usage"], &mut self.usage);
    }

    fn push_text(&mut self, text: &str, sink: DeltaSink<'_>) {
        self.text.push_str(text);
        sink(StreamEvent::TextDelta {
            text: text.to_string(),
        });
    }

    /// The assembled response. Fails when the stream ended without `message_stop`; tool
    /// arguments that are not a JSON object are kept raw for the caller's repair.
    pub fn finish(self) -> Result<ChatResponse, LlmError> {
        if !self.done {
            return Err(LlmError::Stream(
                "the stream ended before message_stop".into(),
            ));
        }
        let stop_reason = match self.stop_reason.as_deref() {
            Some("end_turn") => StopReason::EndTurn,
            Some("tool_use") => StopReason::ToolUse,
            Some("max_tokens") => StopReason::MaxTokens,
            Some("stop_sequence") => StopReason::StopSequence,
            Some(other) => StopReason::Other(other.to_string()),
            None if self.tool_count > 0 => StopReason::ToolUse,
            None => StopReason::EndTurn,
        };
        let mut tool_calls = Vec::new();
        for block in self.blocks.into_values() {
            if let Block::Tool {
                id,
                name,
                json,
                initial,
                ..
            } = block
            {
                let arguments = sse::tool_arguments(&json, initial);
                tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments,
                });
            }
        }
        Ok(ChatResponse {
            text: self.text,
            tool_calls,
            stop_reason,
            usage: self.usage,
            model: self.model,
            retries: Vec::new(),
        })
    }
}

fn block_index(data: &Value) -> Result<u64, LlmError> {
    data["index"]
        .as_u64()
        .ok_or_else(|| LlmError::Stream(format!("content block event without index: {data}")))
}

/// Adds the token counts present in an Anthropic `usage` object (later values replace
/// earlier ones: `message_delta` carries the final counts).
fn read_usage(usage: &Value, into: &mut Usage) {
    let get = |k: &str| usage.get(k).and_then(Value::as_u64);
    if let Some(v) = get("input_tokens").filter(|v| *v > 0) {
        into.input_tokens = v;
    }
    if let Some(v) = get("output_tokens") {
        into.output_tokens = v;
    }
    if let Some(v) = get("cache_read_input_tokens").filter(|v| *v > 0) {
        into.cache_read_tokens = v;
    }
    if let Some(v) = get("cache_creation_input_tokens").filter(|v| *v > 0) {
        into.cache_write_tokens = v;
    }
}

/// A mid-stream `error` event as an error; overloaded / api errors are retryable.
fn stream_error(data: &Value) -> LlmError {
    let kind = data["error"]["type"].as_str().unwrap_or("error");
    let message = data["error"]["message"]
        .as_str()
        .unwrap_or("the server sent an error event")
        .to_string();
    match kind {
        "overloaded_error" => LlmError::Server {
            status: 529,
            message,
        },
        "api_error" => LlmError::Server {
            status: 500,
            message,
        },
        "rate_limit_error" => LlmError::RateLimited {
            message,
            retry_after_ms: None,
        },
        "authentication_error" | "permission_error" => LlmError::Auth {
            status: 401,
            message: format!("{message}; check {KEY_ENV}"),
        },
        "not_found_error" => LlmError::NotFound {
            status: 404,
            message,
        },
        "invalid_request_error" if retry::mentions_tools_unsupported(&message) => {
            LlmError::ToolsUnsupported { message }
        }
        "invalid_request_error" => LlmError::BadRequest {
            status: 400,
            message,
        },
        other => LlmError::Stream(format!("error event `{other}`: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: Value) -> Event {
        Event {
            event: name.into(),
            data: data.to_string(),
            ..Event::default()
        }
    }

    fn run(events: &[Event]) -> Result<ChatResponse, LlmError> {
        let mut a = Assembler::default();
        for e in events {
            if a.on_event(e, &|_| {})? {
                break;
            }
        }
        a.finish()
    }

    #[test]
    fn events_without_an_event_line_dispatch_on_their_type() {
        let resp = run(&[
            event("message", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "Hi"}})),
            event("message", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there"}})),
            event("message", json!({"type": "message_stop"})),
        ])
        .unwrap();
        assert_eq!(resp.text, "Hi there");
        assert_eq!(resp.stop_reason, StopReason::EndTurn);
    }

    #[test]
    fn tool_input_given_whole_in_block_start_is_used() {
        let resp = run(&[
            event("content_block_start", json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "tool_use", "id": "t1", "name": "ping", "input": {"reply": "pong"}}})),
            event("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            event("message_stop", json!({"type": "message_stop"})),
        ])
        .unwrap();
        assert_eq!(resp.tool_calls[0].arguments, json!({"reply": "pong"}));
        assert_eq!(resp.stop_reason, StopReason::ToolUse);
    }

    #[test]
    fn json_delta_for_a_text_block_is_a_stream_error() {
        let err = run(&[
            event("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            event("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{"}})),
        ])
        .unwrap_err();
        assert!(matches!(err, LlmError::Stream(_)), "{err:?}");
    }

    #[test]
    fn malformed_event_data_is_a_retryable_stream_error() {
        let err = run(&[Event {
            event: "message_start".into(),
            data: "{not json".into(),
            ..Event::default()
        }])
        .unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
    }

    #[test]
    fn mid_stream_error_types_map_to_errors() {
        let e = |kind: &str| {
            stream_error(&json!({"type": "error", "error": {"type": kind, "message": "m"}}))
        };
        assert!(matches!(
            e("overloaded_error"),
            LlmError::Server { status: 529, .. }
        ));
        assert!(matches!(
            e("api_error"),
            LlmError::Server { status: 500, .. }
        ));
        assert!(matches!(
            e("rate_limit_error"),
            LlmError::RateLimited { .. }
        ));
        assert!(matches!(
            e("invalid_request_error"),
            LlmError::BadRequest { .. }
        ));
        assert!(matches!(e("authentication_error"), LlmError::Auth { .. }));
        assert!(e("something_new").is_retryable());
    }
}
