//! Shared test support: the fake LLM HTTP server and small helpers for provider tests.
//!
//! Owns: re-exports of `fake_llm`, a [`Recorder`] for live stream events, request builders.
//! Must not: reach the network or need a real key. Include with `mod support;`.
#![allow(dead_code, unused_imports)]

pub mod fake_llm;

use std::sync::Mutex;

use baton::llm::{ChatRequest, Message, StreamEvent, ToolChoice};
use baton::protocol::{RetryNotice, ToolDef};
pub use fake_llm::*;
use serde_json::json;

/// Collects the live [`StreamEvent`]s of a call: `provider.chat(req, &|e| rec.push(e))`.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<StreamEvent>>,
}

impl Recorder {
    pub fn push(&self, event: StreamEvent) {
        self.events.lock().unwrap().push(event);
    }

    pub fn events(&self) -> Vec<StreamEvent> {
        self.events.lock().unwrap().clone()
    }

    /// The retry notices seen, in order.
    pub fn retries(&self) -> Vec<RetryNotice> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                StreamEvent::Retry(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    /// Events after the last `Retry` (what a UI that discards on `Retry` shows).
    pub fn final_attempt(&self) -> Vec<StreamEvent> {
        let events = self.events();
        let start = events
            .iter()
            .rposition(|e| matches!(e, StreamEvent::Retry(_)))
            .map(|i| i + 1)
            .unwrap_or(0);
        events[start..].to_vec()
    }

    /// The text of the final attempt's `TextDelta`s.
    pub fn final_text(&self) -> String {
        self.final_attempt()
            .into_iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta { text } => Some(text),
                _ => None,
            })
            .collect()
    }

    /// The argument JSON of tool call `index` in the final attempt, from its deltas.
    pub fn final_tool_json(&self, index: usize) -> String {
        self.final_attempt()
            .into_iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallDelta { index: i, json } if i == index => Some(json),
                _ => None,
            })
            .collect()
    }
}

/// A tool with a permissive object schema.
pub fn tool(name: &str) -> ToolDef {
    ToolDef {
        name: name.to_string(),
        description: format!("The {name} tool."),
        input_schema: json!({"type": "object", "properties": {"status": {"type": "string"}}}),
    }
}

/// A one-message request offering `tools`, with `choice`.
pub fn request(model: &str, tools: &[&str], choice: ToolChoice) -> ChatRequest {
    ChatRequest {
        model: model.to_string(),
        system: "You are a test.".to_string(),
        messages: vec![Message::user("Do the thing.")],
        tools: tools.iter().map(|t| tool(t)).collect(),
        tool_choice: choice,
        max_tokens: 1024,
        temperature: Some(0.2),
    }
}

/// Copies the directory `from` into `to` (e.g. `assets/sample-project` for a workspace).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
