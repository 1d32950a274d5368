//! Model replies described at a high level ([`Reply`]) and rendered as Anthropic or OpenAI
//! SSE bodies, plus mid-stream error events.

use baton::llm::ProviderKind;
use serde_json::{Value, json};

use super::ScriptedResponse;

/// One part of a model reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    /// A tool call; `arguments` is the raw JSON text (may be deliberately broken).
    Tool {
        id: String,
        name: String,
        arguments: String,
    },
}

/// A model reply described at a high level, rendered as an Anthropic or OpenAI SSE body.
///
/// By default: model `fake-model`, no usage, a `ping` after `message_start` (Anthropic),
/// the terminal event present, text and argument JSON each in one fragment.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub parts: Vec<Part>,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Fragment size in bytes for text and tool arguments (0 = whole).
    pub chunk_size: usize,
    /// Overrides the stop reason / finish reason derived from the parts.
    pub stop_reason: Option<String>,
    /// Anthropic `message_stop`; OpenAI `finish_reason` and `[DONE]`.
    pub terminal: bool,
    /// OpenAI: send `[DONE]` (when `terminal`).
    pub done_marker: bool,
    /// OpenAI: send the `finish_reason` chunk (when `terminal`).
    pub finish_chunk: bool,
    /// Anthropic: a `ping` event after `message_start`.
    pub ping: bool,
    /// Anthropic: an empty text block before the first block (proxy quirk).
    pub empty_text_block_first: bool,
    /// OpenAI: the usage chunk carries `choices: [{"index":0,"delta":{}}]` instead of `[]`.
    pub usage_chunk_with_empty_choice: bool,
    /// OpenAI: `content: ""` beside the first fragment of each tool call.
    pub empty_content_beside_tool_calls: bool,
}

impl Default for Reply {
    fn default() -> Self {
        Self::new()
    }
}

impl Reply {
    pub fn new() -> Self {
        Self {
            parts: Vec::new(),
            model: "fake-model".into(),
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            chunk_size: 0,
            stop_reason: None,
            terminal: true,
            done_marker: true,
            finish_chunk: true,
            ping: true,
            empty_text_block_first: false,
            usage_chunk_with_empty_choice: false,
            empty_content_beside_tool_calls: false,
        }
    }

    pub fn text(mut self, text: &str) -> Self {
        self.parts.push(Part::Text(text.to_string()));
        self
    }

    pub fn tool(self, id: &str, name: &str, arguments: Value) -> Self {
        self.tool_raw(id, name, &arguments.to_string())
    }

    /// A tool call whose argument JSON is given verbatim (e.g. truncated).
    pub fn tool_raw(mut self, id: &str, name: &str, arguments: &str) -> Self {
        self.parts.push(Part::Tool {
            id: id.to_string(),
            name: name.to_string(),
            arguments: arguments.to_string(),
        });
        self
    }

    pub fn model(mut self, model: &str) -> Self {
        self.model = model.to_string();
        self
    }

    /// Input (uncached) and output tokens.
    pub fn usage(mut self, input: u64, output: u64) -> Self {
        self.input_tokens = input;
        self.output_tokens = output;
        self
    }

    /// Cache read and cache write tokens.
    pub fn cache(mut self, read: u64, write: u64) -> Self {
        self.cache_read_tokens = read;
        self.cache_write_tokens = write;
        self
    }

    /// Splits text and argument JSON into fragments of `n` bytes (on char boundaries).
    pub fn chunk_size(mut self, n: usize) -> Self {
        self.chunk_size = n;
        self
    }

    pub fn stop_reason(mut self, reason: &str) -> Self {
        self.stop_reason = Some(reason.to_string());
        self
    }

    /// Leaves out the terminal event(s): no `message_stop`; no `finish_reason`, no `[DONE]`.
    pub fn without_terminal(mut self) -> Self {
        self.terminal = false;
        self
    }

    /// OpenAI: ends with `[DONE]` but sends no `finish_reason`.
    pub fn without_finish_reason(mut self) -> Self {
        self.finish_chunk = false;
        self
    }

    /// OpenAI: sends `finish_reason` but no `[DONE]`.
    pub fn without_done(mut self) -> Self {
        self.done_marker = false;
        self
    }

    pub fn without_ping(mut self) -> Self {
        self.ping = false;
        self
    }

    pub fn with_empty_text_block_first(mut self) -> Self {
        self.empty_text_block_first = true;
        self
    }

    pub fn with_usage_chunk_empty_choice(mut self) -> Self {
        self.usage_chunk_with_empty_choice = true;
        self
    }

    pub fn with_empty_content_beside_tool_calls(mut self) -> Self {
        self.empty_content_beside_tool_calls = true;
        self
    }

    /// The assembled text of all text parts.
    pub fn full_text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Tool { .. } => None,
            })
            .collect()
    }

    fn has_tools(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Tool { .. }))
    }

    fn pieces<'a>(&self, s: &'a str) -> Vec<&'a str> {
        split_utf8(s, self.chunk_size)
    }

    /// The Anthropic SSE events (each `event: ..\ndata: ..\n\n`).
    pub fn anthropic_events(&self) -> Vec<String> {
        let ev = |kind: &str, data: Value| format!("event: {kind}\ndata: {data}\n\n");
        let mut out = vec![ev(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": self.input_tokens, "output_tokens": 1,
                          "cache_creation_input_tokens": self.cache_write_tokens,
                          "cache_read_input_tokens": self.cache_read_tokens}}}),
        )];
        if self.ping {
            out.push(ev("ping", json!({"type": "ping"})));
        }
        let mut index = 0;
        if self.empty_text_block_first {
            out.push(ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
            ));
            out.push(ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
            index += 1;
        }
        for part in &self.parts {
            match part {
                Part::Text(text) => {
                    out.push(ev(
                        "content_block_start",
                        json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
                    ));
                    for piece in self.pieces(text) {
                        out.push(ev(
                            "content_block_delta",
                            json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}),
                        ));
                    }
                }
                Part::Tool {
                    id,
                    name,
                    arguments,
                } => {
                    out.push(ev(
                        "content_block_start",
                        json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
                    ));
                    for piece in self.pieces(arguments) {
                        out.push(ev(
                            "content_block_delta",
                            json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}),
                        ));
                    }
                }
            }
            out.push(ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
            index += 1;
        }
        let stop = self.stop_reason.clone().unwrap_or_else(|| {
            if self.has_tools() {
                "tool_use".into()
            } else {
                "end_turn".into()
            }
        });
        out.push(ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                   "usage": {"output_tokens": self.output_tokens}}),
        ));
        if self.terminal {
            out.push(ev("message_stop", json!({"type": "message_stop"})));
        }
        out
    }

    /// The OpenAI Chat Completions SSE events (each `data: ..\n\n`).
    pub fn openai_events(&self) -> Vec<String> {
        let chunk = |choices: Value| {
            let data = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                              "created": 0, "model": self.model, "choices": choices});
            format!("data: {data}\n\n")
        };
        let delta = |d: Value| chunk(json!([{"index": 0, "delta": d, "finish_reason": null}]));
        let mut out = vec![delta(json!({"role": "assistant", "content": ""}))];
        let mut tool_index = 0;
        for part in &self.parts {
            match part {
                Part::Text(text) => {
                    for piece in self.pieces(text) {
                        out.push(delta(json!({"content": piece})));
                    }
                }
                Part::Tool {
                    id,
                    name,
                    arguments,
                } => {
                    let mut first = json!({"tool_calls": [{"index": tool_index, "id": id, "type": "function",
                                                           "function": {"name": name, "arguments": ""}}]});
                    if self.empty_content_beside_tool_calls {
                        first["content"] = json!("");
                    }
                    out.push(delta(first));
                    for piece in self.pieces(arguments) {
                        out.push(delta(json!({"tool_calls": [{"index": tool_index,
                                                              "function": {"arguments": piece}}]})));
                    }
                    tool_index += 1;
                }
            }
        }
        if self.terminal && self.finish_chunk {
            let finish = self.stop_reason.clone().unwrap_or_else(|| {
                if self.has_tools() {
                    "tool_calls".into()
                } else {
                    "stop".into()
                }
            });
            out.push(chunk(
                json!([{"index": 0, "delta": {}, "finish_reason": finish}]),
            ));
        }
        let choices = if self.usage_chunk_with_empty_choice {
            json!([{"index": 0, "delta": {}}])
        } else {
            json!([])
        };
        let usage = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": self.model, "choices": choices,
            "usage": {"prompt_tokens": self.input_tokens + self.cache_read_tokens,
                      "completion_tokens": self.output_tokens,
                      "total_tokens": self.input_tokens + self.cache_read_tokens + self.output_tokens,
                      "prompt_tokens_details": {"cached_tokens": self.cache_read_tokens}}});
        out.push(format!("data: {usage}\n\n"));
        if self.terminal && self.done_marker {
            out.push("data: [DONE]\n\n".to_string());
        }
        out
    }

    /// A 200 event-stream response with [`Reply::anthropic_events`], one chunk per event.
    pub fn anthropic(&self) -> ScriptedResponse {
        ScriptedResponse::sse(self.anthropic_events())
    }

    /// A 200 event-stream response with [`Reply::openai_events`], one chunk per event.
    pub fn openai(&self) -> ScriptedResponse {
        ScriptedResponse::sse(self.openai_events())
    }

    /// The response in the wire format of `kind` (Anthropic for anything but OpenAI).
    pub fn for_kind(&self, kind: ProviderKind) -> ScriptedResponse {
        match kind {
            ProviderKind::Openai => self.openai(),
            _ => self.anthropic(),
        }
    }
}

/// A whole Anthropic reply that calls one tool (`toolu_NAME`) with `args`: the usual scripted
/// turn of an orchestrator step or a worker's report.
pub fn anthropic_tool_call(name: &str, args: Value) -> ScriptedResponse {
    Reply::new()
        .tool(&format!("toolu_{name}"), name, args)
        .usage(50, 10)
        .anthropic()
}

/// An Anthropic mid-stream `error` event.
pub fn anthropic_error_event(kind: &str, message: &str) -> String {
    let data = json!({"type": "error", "error": {"type": kind, "message": message}});
    format!("event: error\ndata: {data}\n\n")
}

/// An OpenAI-compatible mid-stream error line (`data: {"error":...}`).
pub fn openai_error_event(message: &str, code: Value) -> String {
    let data = json!({"error": {"message": message, "code": code}});
    format!("data: {data}\n\n")
}

/// `s` in pieces of at most `n` bytes (at least one char each); `n == 0` keeps it whole.
pub fn split_utf8(s: &str, n: usize) -> Vec<&str> {
    if n == 0 || s.is_empty() {
        return vec![s];
    }
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let mut end = n.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (piece, tail) = rest.split_at(end);
        out.push(piece);
        rest = tail;
    }
    out
}
