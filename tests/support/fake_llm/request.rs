//! The requests the fake LLM server received, and queries on their bodies in either wire format.

use serde_json::Value;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// 0 for the first request this server received.
    pub index: usize,
    pub method: String,
    /// Path and query, e.g. `/v1/messages`.
    pub path: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, `Value::Null` when it is not JSON.
    pub body: Value,
    pub raw_body: String,
    /// When the request was fully read (`tokio` clock: virtual under paused time).
    pub at: tokio::time::Instant,
    /// The same moment on the wall clock.
    pub at_std: std::time::Instant,
    /// Requests open at this server when this one arrived, itself included.
    pub in_flight: usize,
}

impl RecordedRequest {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is an Anthropic Messages request (path ends in `/messages`).
    pub fn is_anthropic(&self) -> bool {
        self.path.ends_with("/messages")
    }

    /// The requested model.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }

    /// The tool a request forces, in either wire format (`{"type":"tool","name":N}` or
    /// `{"type":"function","function":{"name":N}}`).
    pub fn forced_tool(&self) -> Option<&str> {
        let choice = self.body.get("tool_choice")?;
        choice
            .get("name")
            .or_else(|| choice.pointer("/function/name"))
            .and_then(Value::as_str)
    }

    /// Names of the tools offered, in either wire format.
    pub fn tool_names(&self) -> Vec<&str> {
        self.body
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .filter_map(|t| {
                        t.get("name")
                            .or_else(|| t.pointer("/function/name"))
                            .and_then(Value::as_str)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The system prompt: Anthropic `system`, or the first OpenAI `system` message.
    pub fn system_prompt(&self) -> Option<&str> {
        if let Some(s) = self.body.get("system").and_then(Value::as_str) {
            return Some(s);
        }
        // Anthropic system blocks (with cache breakpoints): the first block's text.
        if let Some(s) = self.body.pointer("/system/0/text").and_then(Value::as_str) {
            return Some(s);
        }
        self.body
            .get("messages")?
            .as_array()?
            .iter()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("system"))?
            .get("content")?
            .as_str()
    }

    /// The `messages` array (empty when absent).
    pub fn messages(&self) -> Vec<Value> {
        self.body
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The text of the first message (a worker's brief, the orchestrator's prompt): a string
    /// content, or its text blocks joined.
    pub fn first_text(&self) -> String {
        match self.messages().first().map(|m| &m["content"]) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        }
    }
}
