//! Prompt caching as the fake server does it: the prompt of a request as the model reads it
//! (tools, then the system prompt, then each message block, in order), and the tokens a
//! server would serve from its cache.
//!
//! Anthropic (explicit): a prefix is written only where a request puts a `cache_control`
//! breakpoint; a later request reads the longest written prefix that ends at one of its own
//! breakpoints or at a block boundary up to 20 blocks before one (the API's lookback), and
//! writes the rest up to its last breakpoint.
//! OpenAI-compatible (automatic): the longest byte prefix of the prompt shared with any
//! earlier request is read. Tokens are counted as bytes / 4 (the fake has no tokenizer);
//! there is no minimum prompt size and no 128-token granularity.

use std::sync::Mutex;

use serde_json::Value;

use super::RecordedRequest;

/// One piece of the prompt, and whether the request marks a cache breakpoint after it.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    text: String,
    breakpoint: bool,
}

/// What one request's prompt cost: `(input, cache_read, cache_write)` tokens.
pub type CacheUsage = (u64, u64, u64);

/// The prefixes a fake server has seen (OpenAI) or written (Anthropic).
#[derive(Debug, Default)]
pub struct PrefixCache {
    seen: Mutex<Vec<Vec<String>>>,
}

fn tokens(segments: &[String]) -> u64 {
    segments.iter().map(|s| s.len() as u64).sum::<u64>() / 4
}

fn has_breakpoint(v: &Value) -> bool {
    v.get("cache_control").is_some()
}

/// The prompt of a request in reading order.
fn segments(r: &RecordedRequest) -> Vec<Segment> {
    let mut out = Vec::new();
    for t in r
        .body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut plain = t.clone();
        if let Some(o) = plain.as_object_mut() {
            o.remove("cache_control");
        }
        out.push(Segment {
            text: plain.to_string(),
            breakpoint: has_breakpoint(t),
        });
    }
    match r.body.get("system") {
        Some(Value::String(s)) => out.push(Segment {
            text: s.clone(),
            breakpoint: false,
        }),
        Some(Value::Array(blocks)) => {
            for b in blocks {
                out.push(Segment {
                    text: b
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    breakpoint: has_breakpoint(b),
                });
            }
        }
        _ => {}
    }
    for m in r.messages() {
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match m.get("content") {
            Some(Value::Array(blocks)) => {
                for b in blocks {
                    let mut plain = b.clone();
                    if let Some(o) = plain.as_object_mut() {
                        o.remove("cache_control");
                    }
                    out.push(Segment {
                        text: format!("{role}:{plain}"),
                        breakpoint: has_breakpoint(b),
                    });
                }
            }
            Some(other) => {
                let mut plain = m.clone();
                if let Some(o) = plain.as_object_mut() {
                    o.remove("content");
                }
                out.push(Segment {
                    text: format!("{plain}:{other}"),
                    breakpoint: false,
                });
            }
            None => {}
        }
    }
    out
}

impl PrefixCache {
    /// The tokens of this request's prompt: fresh input, read from the cache, written to it.
    /// Remembers what this request makes cacheable.
    pub fn account(&self, r: &RecordedRequest) -> CacheUsage {
        let segs = segments(r);
        let texts: Vec<String> = segs.iter().map(|s| s.text.clone()).collect();
        let total = tokens(&texts);
        let mut seen = self.seen.lock().unwrap();
        let shared = |len: usize, seen: &Vec<Vec<String>>| {
            seen.iter().any(|p| p.len() == len && p[..] == texts[..len])
        };
        if r.is_anthropic() {
            let marks: Vec<usize> = segs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.breakpoint)
                .map(|(i, _)| i + 1)
                .collect();
            let read_len = marks
                .iter()
                .flat_map(|m| (m.saturating_sub(20)..=*m).rev())
                .filter(|len| *len > 0 && shared(*len, &seen))
                .max()
                .unwrap_or(0);
            let last = marks.last().copied().unwrap_or(0);
            for len in &marks {
                if !shared(*len, &seen) {
                    seen.push(texts[..*len].to_vec());
                }
            }
            let read = tokens(&texts[..read_len]);
            let write = tokens(&texts[..last.max(read_len)]) - read;
            (total - read - write, read, write)
        } else {
            let prompt: String = texts.concat();
            let longest = seen
                .iter()
                .map(|p| {
                    let p = p.concat();
                    p.bytes()
                        .zip(prompt.bytes())
                        .take_while(|(a, b)| a == b)
                        .count()
                })
                .max()
                .unwrap_or(0);
            seen.push(texts.clone());
            let read = longest as u64 / 4;
            (total - read.min(total), read.min(total), 0)
        }
    }
}
