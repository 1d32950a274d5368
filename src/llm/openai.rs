//! OpenAI-compatible Chat Completions client (`POST {base}/chat/completions`, `stream: true`)
//! for OpenAI, Ollama, vLLM, llama.cpp server, LiteLLM, OpenRouter and the like.
//!
//! Owns: the Chat Completions wire format (system / assistant `tool_calls` / `role: tool`
//! messages, `choices[].delta` streaming with tool calls assembled by index, the usage chunk,
//! `[DONE]`, mid-stream `data: {"error":...}`) and the quirks of servers that speak it.
//! Retries and timeouts come from `retry`, event reading from `sse`. Must not: know
//! orchestration, or log the key, headers or prompts.

use async_trait::async_trait;
use eventsource_stream::Event;
use serde_json::{Value, json};

use super::pool::{Endpoint, Pool};
use super::retry::{self, Failure};
use super::sse;
use super::{
    ChatRequest, ChatResponse, ChatRole, Content, DeltaSink, LlmError, Message, Provider,
    ProviderSettings, StopReason, StreamEvent, ToolCall, ToolChoice, Usage,
};

/// Used when the settings leave `base_url` empty.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// Where the key comes from, for messages.
pub const KEY_ENV: &str = "OPENAI_API_KEY";

/// Hosted APIs that always need a key (local servers need none).
const HOSTS_NEEDING_A_KEY: [&str; 2] = ["api.openai.com", "openrouter.ai"];

/// A streaming client for OpenAI-compatible Chat Completions, over one endpoint or a pool.
pub struct OpenAiProvider {
    settings: ProviderSettings,
    pool: Pool,
    base_url: String,
    /// `api.openai.com` itself (the first endpoint): it wants `max_completion_tokens`.
    official: bool,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("endpoints", &self.pool)
            .finish()
    }
}

/// (trimmed base URL, request URL, host) of an OpenAI-compatible base URL.
fn endpoint_urls(base: &str) -> Result<(String, String, String), LlmError> {
    let base_url = if base.trim().is_empty() {
        DEFAULT_BASE_URL.to_string()
    } else {
        base.trim().trim_end_matches('/').to_string()
    };
    let host = retry::url_host(&base_url)?;
    let url = if base_url.ends_with("/chat/completions") {
        base_url.clone()
    } else {
        format!("{base_url}/chat/completions")
    };
    Ok((base_url, url, host))
}

impl OpenAiProvider {
    /// Fails with [`LlmError::MissingKey`] when a hosted API (OpenAI, OpenRouter) has no key;
    /// local servers need none.
    pub fn new(settings: ProviderSettings) -> Result<Self, LlmError> {
        let pool = Pool::new(&settings, endpoint_urls, |host, key| {
            if key.is_empty() && HOSTS_NEEDING_A_KEY.contains(&host) {
                Err(LlmError::MissingKey {
                    env_var: KEY_ENV.into(),
                })
            } else {
                Ok(())
            }
        })?;
        let (base_url, official) = pool
            .primary()
            .map(|e| (e.base_url.clone(), e.host == "api.openai.com"))
            .unwrap_or_default();
        Ok(Self {
            official,
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
        let mut request = ep
            .client
            .post(&ep.url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .json(body);
        if !ep.key.is_empty() {
            request = request.bearer_auth(ep.key.expose());
        }
        let mut events = self
            .pool
            .open_stream(ep, request, &self.settings.retry, KEY_ENV, sink)
            .await?;
        let mut assembler = Assembler::default();
        loop {
            match events.next().await {
                Ok(Some(event)) => match assembler.on_event(&event, sink) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => return Err(assembler.failure(e)),
                },
                Ok(None) => break,
                // After a finish_reason the answer is complete; only usage may be missing.
                Err(e) if assembler.finish_reason.is_some() => {
                    tracing::debug!(error = %e, "stream ended badly after finish_reason; answer kept");
                    break;
                }
                Err(e) => return Err(assembler.failure(e)),
            }
        }
        let (model, usage) = (assembler.model.clone(), assembler.usage);
        assembler
            .finish()
            .map_err(|e| Failure::from(e).with_usage(&model, usage))
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        "openai"
    }

    fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn chat(&self, req: ChatRequest, sink: DeltaSink<'_>) -> Result<ChatResponse, LlmError> {
        retry::call_with_retries(
            "openai",
            &self.pool,
            &self.settings,
            req,
            sink,
            |wire| request_body(wire, self.official),
            |ep, body| async move { self.attempt(ep, &body, sink).await },
        )
        .await
    }
}

/// Reasoning models (o-series, gpt-5) reject a `temperature` other than the default.
fn is_reasoning_model(model: &str) -> bool {
    let bare = model.rsplit('/').next().unwrap_or(model);
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| bare.starts_with(p))
}

/// The JSON body of a streaming Chat Completions request. `official` selects
/// `max_completion_tokens` (api.openai.com) over `max_tokens` (what other servers know).
pub fn request_body(req: &ChatRequest, official: bool) -> Value {
    let mut body = json!({
        "model": req.model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": messages_json(&req.system, &req.messages),
    });
    let max_key = if official {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    body[max_key] = json!(req.max_tokens);
    if let Some(t) = req.temperature
        && !is_reasoning_model(&req.model)
    {
        body["temperature"] = json!(t);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.input_schema}})
            })
            .collect();
        body["tool_choice"] = match &req.tool_choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Any => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            ToolChoice::None => json!("none"),
        };
    }
    body
}

/// The `messages` array: the system prompt first, tool results as `role: tool` messages
/// (right after the assistant message that called them), assistant tool calls as `tool_calls`.
pub fn messages_json(system: &str, messages: &[Message]) -> Vec<Value> {
    let mut out = Vec::new();
    if !system.is_empty() {
        out.push(json!({"role": "system", "content": system}));
    }
    for m in messages {
        let text: Vec<&str> = m
            .content
            .iter()
            .filter_map(|c| match c {
                Content::Text { text } if !text.is_empty() => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let text = text.join("\n\n");
        match m.role {
            ChatRole::User => {
                for c in &m.content {
                    if let Content::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } = c
                    {
                        let content = if *is_error {
                            format!("Error: {content}")
                        } else {
                            content.clone()
                        };
                        out.push(
                            json!({"role": "tool", "tool_call_id": tool_use_id, "content": content}),
                        );
                    }
                }
                if !text.is_empty() {
                    out.push(json!({"role": "user", "content": text}));
                }
            }
            ChatRole::Assistant => {
                let calls: Vec<Value> = m
                    .content
                    .iter()
                    .filter_map(|c| match c {
                        Content::ToolUse { id, name, input } => Some(json!({
                            "id": id, "type": "function",
                            "function": {"name": name, "arguments": input.to_string()}})),
                        _ => None,
                    })
                    .collect();
                let mut msg = json!({"role": "assistant", "content": text});
                if !calls.is_empty() {
                    if text.is_empty() {
                        msg["content"] = Value::Null;
                    }
                    msg["tool_calls"] = Value::Array(calls);
                }
                out.push(msg);
            }
        }
    }
    out
}

/// One tool call being streamed.
#[derive(Debug, Default)]
struct PartialCall {
    wire_index: u64,
    id: String,
    name: String,
    arguments: String,
    started: bool,
}

/// Builds a [`ChatResponse`] from the chunks of one attempt, forwarding live deltas.
#[derive(Debug, Default)]
pub struct Assembler {
    text: String,
    calls: Vec<PartialCall>,
    usage: Usage,
    model: String,
    finish_reason: Option<String>,
    done: bool,
}

impl Assembler {
    /// Handles one event; `Ok(true)` once `[DONE]` arrived.
    pub fn on_event(&mut self, event: &Event, sink: DeltaSink<'_>) -> Result<bool, LlmError> {
        if event.data.trim() == "[DONE]" {
            self.done = true;
            return Ok(true);
        }
        let data = sse::json_data(event)?;
        if let Some(error) = data.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(error));
        }
        if self.model.is_empty()
            && let Some(model) = data.get("model").and_then(Value::as_str)
        {
            self.model = model.to_string();
        }
        if let Some(usage) = data.get("usage").filter(|u| u.is_object()) {
            read_usage(usage, &mut self.usage);
        }
        let choices = data
            .get("choices")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for choice in choices {
            // Only the first choice is requested (n = 1).
            if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            let delta = &choice["delta"];
            if let Some(text) = delta.get("content").and_then(Value::as_str)
                && !text.is_empty()
            {
                self.text.push_str(text);
                sink(StreamEvent::TextDelta {
                    text: text.to_string(),
                });
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for (position, fragment) in calls.iter().enumerate() {
                    self.tool_fragment(position, fragment, sink);
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_string());
            }
        }
        Ok(false)
    }

    /// One `tool_calls[]` fragment: `id` and `name` come in the first fragment of a call,
    /// `arguments` pieces in all of them; fragments are matched to calls by `index`.
    fn tool_fragment(&mut self, position: usize, fragment: &Value, sink: DeltaSink<'_>) {
        let wire_index = fragment
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(position as u64);
        let id = fragment
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let name = fragment
            .pointer("/function/name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let arguments = match fragment.pointer("/function/arguments") {
            Some(Value::String(s)) => s.clone(),
            // Some servers send the arguments as an object, whole.
            Some(v @ Value::Object(_)) => v.to_string(),
            _ => String::new(),
        };
        // The latest call with this index, unless a new id says it is another call
        // (servers that number every call 0).
        let existing = self
            .calls
            .iter()
            .rposition(|c| c.wire_index == wire_index)
            .filter(|&i| match id {
                Some(id) => self.calls[i].id.is_empty() || self.calls[i].id == id,
                None => true,
            });
        let slot = match existing {
            Some(i) => i,
            None => {
                self.calls.push(PartialCall {
                    wire_index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[slot];
        if let Some(id) = id
            && call.id.is_empty()
        {
            call.id = id.to_string();
        }
        if let Some(name) = name
            && call.name.is_empty()
        {
            call.name = name.to_string();
        }
        call.arguments.push_str(&arguments);
        if !call.started && !call.name.is_empty() {
            call.started = true;
            if call.id.is_empty() {
                call.id = format!("call_{slot}");
            }
            sink(StreamEvent::ToolCallStart {
                index: slot,
                id: call.id.clone(),
                name: call.name.clone(),
            });
            // Arguments that came before the name are sent now, in one piece.
            if !call.arguments.is_empty() {
                sink(StreamEvent::ToolCallDelta {
                    index: slot,
                    json: call.arguments.clone(),
                });
            }
        } else if call.started && !arguments.is_empty() {
            sink(StreamEvent::ToolCallDelta {
                index: slot,
                json: arguments,
            });
        }
    }

    /// A failure of this attempt, with the usage the server reported so far.
    fn failure(&self, e: LlmError) -> Failure {
        Failure::from(e).with_usage(&self.model, self.usage)
    }

    /// The assembled response. Fails when the stream ended with neither `[DONE]` nor a
    /// `finish_reason`; tool arguments that are not a JSON object are kept raw for the
    /// caller's repair.
    pub fn finish(self) -> Result<ChatResponse, LlmError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(LlmError::Stream(
                "the stream ended before [DONE] or a finish_reason".into(),
            ));
        }
        // OpenAI answers a named tool_choice with "stop": the calls decide.
        let stop_reason = match self.finish_reason.as_deref() {
            Some("length") => StopReason::MaxTokens,
            _ if !self.calls.is_empty() => StopReason::ToolUse,
            Some("stop") | None => StopReason::EndTurn,
            Some("tool_calls") | Some("function_call") => StopReason::ToolUse,
            Some(other) => StopReason::Other(other.to_string()),
        };
        let mut tool_calls = Vec::with_capacity(self.calls.len());
        for (i, call) in self.calls.into_iter().enumerate() {
            if call.name.is_empty() {
                return Err(LlmError::Stream(format!(
                    "tool call {i} arrived without a function name"
                )));
            }
            let arguments = sse::tool_arguments(&call.arguments, Value::Null);
            tool_calls.push(ToolCall {
                id: call.id,
                name: call.name,
                arguments,
            });
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

/// `prompt_tokens` includes cached tokens; Baton counts them apart.
fn read_usage(usage: &Value, into: &mut Usage) {
    let get = |p: &str| usage.pointer(p).and_then(Value::as_u64);
    let prompt = get("/prompt_tokens").unwrap_or(0);
    let cached = get("/prompt_tokens_details/cached_tokens").unwrap_or(0);
    into.input_tokens = prompt.saturating_sub(cached);
    into.cache_read_tokens = cached;
    into.output_tokens = get("/completion_tokens").unwrap_or(0);
}

/// A mid-stream `{"error": ...}` as an error; unknown ones are retryable stream failures.
fn stream_error(error: &Value) -> LlmError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("the server sent an error mid-stream")
        .to_string();
    let code = error.get("code");
    let numeric = code
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok());
    let label = [
        code.and_then(Value::as_str),
        error.get("type").and_then(Value::as_str),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    if numeric == Some(429) || label.contains("rate_limit") {
        return LlmError::RateLimited {
            message,
            retry_after_ms: None,
        };
    }
    match numeric {
        Some(status @ (401 | 403)) => LlmError::Auth {
            status,
            message: format!("{message}; check {KEY_ENV}"),
        },
        Some(404) => LlmError::NotFound {
            status: 404,
            message,
        },
        Some(400) if retry::mentions_tools_unsupported(&message) => {
            LlmError::ToolsUnsupported { message }
        }
        Some(400) => LlmError::BadRequest {
            status: 400,
            message,
        },
        Some(status @ 500..=599) => LlmError::Server { status, message },
        _ => LlmError::Stream(format!("error mid-stream: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_models_get_no_temperature_and_official_api_gets_max_completion_tokens() {
        let req = ChatRequest {
            model: "o3-mini".into(),
            system: String::new(),
            messages: vec![Message::user("hi")],
            tools: vec![],
            tool_choice: ToolChoice::Auto,
            max_tokens: 10,
            temperature: Some(0.5),
        };
        let b = request_body(&req, true);
        assert!(b.get("temperature").is_none());
        assert_eq!(b["max_completion_tokens"], 10);
        assert!(b.get("max_tokens").is_none());
        let req = ChatRequest {
            model: "llama3.1".into(),
            ..req
        };
        let b = request_body(&req, false);
        assert_eq!(b["max_tokens"], 10);
        assert!(b.get("temperature").is_some());
        assert!(b.get("tools").is_none());
        assert!(b.get("tool_choice").is_none());
    }

    #[test]
    fn mid_stream_errors_classify() {
        assert!(matches!(
            stream_error(&json!({"message": "slow down", "code": 429})),
            LlmError::RateLimited { .. }
        ));
        assert!(matches!(
            stream_error(&json!({"message": "x", "type": "rate_limit_exceeded"})),
            LlmError::RateLimited { .. }
        ));
        assert!(matches!(
            stream_error(&json!({"message": "upstream", "code": 502})),
            LlmError::Server { status: 502, .. }
        ));
        assert!(matches!(stream_error(&json!("boom")), LlmError::Stream(_)));
        assert!(matches!(
            stream_error(&json!({"message": "bad key", "code": 401})),
            LlmError::Auth { status: 401, .. }
        ));
    }
}
