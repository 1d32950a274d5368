//! Prompt caching on the wire: where an Anthropic request marks its stable prefix with
//! `cache_control` breakpoints. (OpenAI-compatible servers cache by prefix on their own; the
//! providers keep the prefix stable by sending system prompt, messages and tools in the same
//! order every time.) Must not: change what the model reads, only where the cache may cut.

use serde_json::{Value, json};

/// Marks the stable prefix for Anthropic's prompt cache (at most 4 breakpoints, in reading
/// order tools → system → messages): after the tool definitions, after the system prompt,
/// after the stable first block of the first user message (project instructions, the task,
/// shared decisions: what other calls of the run repeat) and after the last message (the
/// conversation so far, which the next turn of a worker's tool loop repeats). Decision
/// written in docs/providers.md.
pub fn cache_breakpoints(body: &mut Value) {
    let mark = |v: &mut Value| {
        if let Some(o) = v.as_object_mut() {
            o.insert("cache_control".into(), json!({"type": "ephemeral"}));
        }
    };
    // `get_mut`, not indexing: indexing a missing key would add it as `null`.
    for key in ["tools", "system"] {
        if let Some(last) = body
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .and_then(|t| t.last_mut())
        {
            mark(last);
        }
    }
    if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
        // The first message's stable block, when it was sent in two (`Message::user_split`).
        if let Some(first) = messages
            .first_mut()
            .and_then(|m| m["content"].as_array_mut())
            .filter(|c| c.len() >= 2)
            .and_then(|c| c.first_mut())
        {
            mark(first);
        }
        if let Some(block) = messages
            .last_mut()
            .and_then(|m| m["content"].as_array_mut())
            .and_then(|c| c.last_mut())
        {
            mark(block);
        }
    }
}
