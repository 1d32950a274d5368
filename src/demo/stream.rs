//! Plays a prepared [`Reply`] as a live stream: text word by word, then the tool call's JSON
//! in fragments, at the configured pace, and assembles the final `ChatResponse`.
//!
//! Owns pacing, deterministic jitter and token accounting. Must not decide what to say.

use serde_json::Value;

use crate::llm::{ChatRequest, ChatResponse, Content, DeltaSink, StopReason, StreamEvent};
use crate::protocol::{ToolCall, Usage};

/// What the demo model answers to one request, before it is streamed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Streamed word by word.
    pub text: String,
    /// At most one tool call: `(name, arguments)`.
    pub tool: Option<(String, Value)>,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            tool: None,
        }
    }

    pub fn tool(text: impl Into<String>, name: &str, args: Value) -> Reply {
        Reply {
            text: text.into(),
            tool: Some((name.to_string(), args)),
        }
    }
}

/// A small deterministic generator (SplitMix64), seeded per request.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the demo seed and a key (e.g. the request's text).
    pub fn new(seed: u64, key: &str) -> Rng {
        Rng(seed ^ fnv1a(key))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// FNV-1a, 64 bit: a stable hash (std's `DefaultHasher` may change between releases).
pub fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Roughly 4 characters per token, never zero.
fn tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4).max(1)
}

/// Token usage for a request and its reply.
pub fn usage(req: &ChatRequest, reply: &Reply) -> Usage {
    let mut prompt = req.system.len();
    for m in &req.messages {
        for c in &m.content {
            prompt += match c {
                Content::Text { text } => text.len(),
                Content::ToolUse { name, input, .. } => name.len() + input.to_string().len(),
                Content::ToolResult { content, .. } => content.len(),
            };
        }
    }
    for t in &req.tools {
        prompt += t.name.len() + t.description.len() + t.input_schema.to_string().len();
    }
    let mut output = reply.text.len();
    if let Some((name, args)) = &reply.tool {
        output += name.len() + args.to_string().len();
    }
    Usage {
        input_tokens: tokens(prompt),
        output_tokens: tokens(output),
        cache_read_tokens: 0,
        cache_write_tokens: 0,
    }
}

/// Splits text into words that keep their trailing whitespace, so the pieces concatenate
/// back to the exact text (code blocks and line breaks survive).
pub fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, ch) in text.char_indices() {
        let space = ch.is_whitespace();
        if in_space && !space {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = space;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Splits JSON text into fragments of 12..=40 bytes (on char boundaries).
fn fragments<'a>(json: &'a str, rng: &mut Rng) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < json.len() {
        let mut end = (start + rng.range(12, 40) as usize).min(json.len());
        while !json.is_char_boundary(end) {
            end += 1;
        }
        out.push(&json[start..end]);
        start = end;
    }
    out
}

/// How long to wait before the next piece: the pace with jitter, longer after a sentence
/// or a line break, so it reads like someone typing their thoughts.
fn delay_ms(pace: u64, previous: &str, rng: &mut Rng) -> u64 {
    if pace == 0 {
        return 0;
    }
    let base = rng.range(pace * 6 / 10, pace * 14 / 10);
    let trimmed = previous.trim_end();
    if previous.contains('\n') {
        base * 4
    } else if trimmed.ends_with(['.', '!', '?', ':']) {
        base * 3
    } else if trimmed.ends_with([',', ';']) {
        base * 2
    } else {
        base
    }
}

async fn pause(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// Streams `reply` on `sink` and returns the assembled response.
pub async fn play(
    req: &ChatRequest,
    reply: Reply,
    pace_ms: u64,
    rng: &mut Rng,
    call_id: String,
    sink: DeltaSink<'_>,
) -> ChatResponse {
    let mut previous = "";
    for word in words(&reply.text) {
        pause(delay_ms(pace_ms, previous, rng)).await;
        sink(StreamEvent::TextDelta {
            text: word.to_string(),
        });
        previous = word;
    }
    let mut tool_calls = Vec::new();
    if let Some((name, args)) = &reply.tool {
        pause(delay_ms(pace_ms, previous, rng)).await;
        sink(StreamEvent::ToolCallStart {
            index: 0,
            id: call_id.clone(),
            name: name.clone(),
        });
        let json = serde_json::to_string(args).unwrap_or_else(|_| "{}".into());
        // Arguments come faster than prose: a model emits JSON in bigger bursts.
        let fragment_pace = pace_ms / 3;
        for piece in fragments(&json, rng) {
            pause(delay_ms(fragment_pace, "", rng)).await;
            sink(StreamEvent::ToolCallDelta {
                index: 0,
                json: piece.to_string(),
            });
        }
        tool_calls.push(ToolCall {
            id: call_id,
            name: name.clone(),
            arguments: args.clone(),
        });
    }
    let usage = usage(req, &reply);
    ChatResponse {
        text: reply.text,
        stop_reason: if tool_calls.is_empty() {
            StopReason::EndTurn
        } else {
            StopReason::ToolUse
        },
        tool_calls,
        usage,
        model: if req.model.is_empty() {
            "demo".into()
        } else {
            req.model.clone()
        },
        retries: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_concatenate_back_to_the_text() {
        let text = "Hello  world.\n\n```rust\nfn main() {}\n```\n end ";
        assert_eq!(words(text).concat(), text);
        assert_eq!(words("a b")[0], "a ");
        assert!(words("").is_empty());
    }

    #[test]
    fn fragments_concatenate_back() {
        let json = r#"{"a":"é ü ✓ long text here to split into several pieces","b":[1,2,3]}"#;
        let mut rng = Rng::new(1, "x");
        let parts = fragments(json, &mut rng);
        assert!(parts.len() > 1);
        assert_eq!(parts.concat(), json);
    }

    #[test]
    fn rng_is_deterministic() {
        let mut a = Rng::new(7, "key");
        let mut b = Rng::new(7, "key");
        assert_eq!(a.next_u64(), b.next_u64());
        let mut c = Rng::new(8, "key");
        assert_ne!(Rng::new(7, "key").next_u64(), c.next_u64());
    }
}
