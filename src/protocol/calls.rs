//! The parts of a model call the journal records and the tools see: tool definitions and
//! calls, token usage and retry notices. Pure data; the provider layer (`llm`) builds them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool the model may call; `input_schema` is a JSON Schema object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// A complete tool call, arguments parsed as JSON. When the model's arguments are not a JSON
/// object (malformed, or cut off at the output cap), `arguments` holds the raw text as a JSON
/// string and [`ToolCall::arguments_error`] says what is wrong: the caller repairs it with the
/// model (a tool error or the repair round trip), a retry would not help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

impl ToolCall {
    /// Why the arguments are unusable (`None` when they are a JSON object).
    pub fn arguments_error(&self) -> Option<String> {
        match &self.arguments {
            Value::Object(_) => None,
            Value::String(raw) => Some(match serde_json::from_str::<Value>(raw) {
                Err(e) => format!("the arguments of `{}` are not valid JSON ({e})", self.name),
                Ok(_) => format!("the arguments of `{}` are not a JSON object", self.name),
            }),
            _ => Some(format!(
                "the arguments of `{}` are not a JSON object",
                self.name
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }
}

/// One retry the provider layer made (reported, never swallowed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryNotice {
    /// 1 for the first retry.
    pub attempt: u32,
    pub delay_ms: u64,
    /// Human text: "429 rate limited (retry-after 2s)", "stream cut before message_stop", ...
    pub reason: String,
}

/// The provider layer started, changed or stopped holding requests back on one endpoint
/// (adaptive concurrency): journaled, shown in the header while `active`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleNotice {
    /// The endpoint's host (never a key).
    pub endpoint: String,
    /// `false`: no longer throttling.
    pub active: bool,
    /// Requests allowed at once now.
    pub limit: u32,
    /// Why: "429 rate limited", "the server allows no more requests for 2s (rate-limit headers)".
    pub reason: String,
}
