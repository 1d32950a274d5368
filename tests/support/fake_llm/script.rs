//! What the fake LLM server does with one request: status, headers, timed body chunks and the
//! faults (cuts, stalls, silent accepts, endless or ping-only streams, redirects).

use std::time::Duration;

use serde_json::{Value, json};

/// A piece of a response body, sent after `delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyChunk {
    pub delay: Duration,
    pub bytes: Vec<u8>,
}

/// What the server does with one request: status, headers, body chunks and timing.
/// The body is sent with chunked transfer encoding, so a cut is visible to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<BodyChunk>,
    /// Wait this long before sending anything (status line included).
    pub first_byte_delay: Duration,
    /// Close the connection after this many chunks, without ending the body.
    pub cut_after: Option<usize>,
    /// Stop sending after this many chunks and keep the connection open (silence).
    pub stall_after: Option<usize>,
    /// Read the request and never answer (not even the status line), keeping the connection.
    pub silent: bool,
    /// After the chunks, send this one again and again, forever (an endless stream).
    pub repeat: Option<BodyChunk>,
    /// Send nothing until this gate opens (then the delays as usual).
    pub hold: Option<super::Gate>,
}

impl ScriptedResponse {
    /// A response with this status, no headers and no body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            chunks: Vec::new(),
            first_byte_delay: Duration::ZERO,
            cut_after: None,
            stall_after: None,
            silent: false,
            repeat: None,
            hold: None,
        }
    }

    /// Accepts the request and never answers.
    pub fn silent() -> Self {
        Self {
            silent: true,
            ..Self::new(200)
        }
    }

    /// A redirect (`status` 301/302/307/308) to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::new(status).header("location", location)
    }

    /// `n` Anthropic or OpenAI 429s (`anthropic`: the Anthropic error body), each with this
    /// `retry-after` header value.
    pub fn rate_limit_storm(n: usize, anthropic: bool, retry_after: &str) -> Vec<Self> {
        (0..n)
            .map(|_| {
                let r = if anthropic {
                    Self::anthropic_error(429, "rate_limit_error", "slow down")
                } else {
                    Self::openai_error(429, "slow down")
                };
                r.header("retry-after", retry_after)
            })
            .collect()
    }

    /// After the chunks, sends `bytes` every `every`, forever.
    pub fn then_forever(mut self, bytes: impl AsRef<[u8]>, every: Duration) -> Self {
        self.repeat = Some(BodyChunk {
            delay: every,
            bytes: bytes.as_ref().to_vec(),
        });
        self
    }

    /// An Anthropic stream that starts a message, then sends only `ping` events, one per second.
    pub fn anthropic_ping_only() -> Self {
        let start = json!({"type": "message_start", "message": {"id": "msg_ping", "type": "message",
            "role": "assistant", "model": "fake-model", "content": [],
            "usage": {"input_tokens": 5, "output_tokens": 0}}});
        Self::sse([format!("event: message_start\ndata: {start}\n\n")]).then_forever(
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            Duration::from_secs(1),
        )
    }

    /// An OpenAI-compatible stream of only SSE keep-alive comments, one per second.
    pub fn openai_keepalive_only() -> Self {
        Self::sse(Vec::<String>::new()).then_forever(": keep-alive\n\n", Duration::from_secs(1))
    }

    /// A JSON body.
    pub fn json(status: u16, body: &Value) -> Self {
        Self::text(status, "application/json", &body.to_string())
    }

    /// A body of any content type, in one chunk.
    pub fn text(status: u16, content_type: &str, body: &str) -> Self {
        Self::new(status)
            .header("content-type", content_type)
            .chunk(body.as_bytes())
    }

    /// A 200 `text/event-stream` with one chunk per event (each a complete `...\n\n` text).
    pub fn sse<I, S>(events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut r = Self::new(200)
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache");
        for e in events {
            r = r.chunk(e.as_ref().as_bytes());
        }
        r
    }

    /// An Anthropic error body: `{"type":"error","error":{"type":kind,"message":..}}`.
    pub fn anthropic_error(status: u16, kind: &str, message: &str) -> Self {
        Self::json(
            status,
            &json!({"type": "error", "error": {"type": kind, "message": message}}),
        )
    }

    /// An OpenAI error body: `{"error":{"message":..,"type":..,"code":..}}`.
    pub fn openai_error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            &json!({"error": {"message": message, "type": "invalid_request_error", "code": null}}),
        )
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Appends a body chunk sent without delay.
    pub fn chunk(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.chunks.push(BodyChunk {
            delay: Duration::ZERO,
            bytes: bytes.as_ref().to_vec(),
        });
        self
    }

    /// Sends nothing until `gate` opens (e.g. a worker's answer held until a replan has
    /// been applied).
    pub fn hold_until(mut self, gate: &super::Gate) -> Self {
        self.hold = Some(gate.clone());
        self
    }

    /// Waits `delay` before sending the status line.
    pub fn first_byte_delay(mut self, delay: Duration) -> Self {
        self.first_byte_delay = delay;
        self
    }

    /// Waits `delay` before every chunk but the first.
    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        for c in self.chunks.iter_mut().skip(1) {
            c.delay = delay;
        }
        self
    }

    /// Waits `delay` before chunk `index` (0-based).
    pub fn delay_before_chunk(mut self, index: usize, delay: Duration) -> Self {
        if let Some(c) = self.chunks.get_mut(index) {
            c.delay = delay;
        }
        self
    }

    /// Closes the connection after `n` chunks, mid-body.
    pub fn cut_after(mut self, n: usize) -> Self {
        self.cut_after = Some(n);
        self
    }

    /// Goes silent after `n` chunks, keeping the connection open.
    pub fn stall_after(mut self, n: usize) -> Self {
        self.stall_after = Some(n);
        self
    }

    /// Re-splits the whole body into chunks of `n` bytes (cutting events, lines and UTF-8
    /// sequences anywhere). Delays are reset.
    pub fn rechunk(mut self, n: usize) -> Self {
        let body: Vec<u8> = self.chunks.iter().flat_map(|c| c.bytes.clone()).collect();
        self.chunks = body
            .chunks(n.max(1))
            .map(|b| BodyChunk {
                delay: Duration::ZERO,
                bytes: b.to_vec(),
            })
            .collect();
        self
    }

    /// The whole body as text (for assertions).
    pub fn body_text(&self) -> String {
        let body: Vec<u8> = self.chunks.iter().flat_map(|c| c.bytes.clone()).collect();
        String::from_utf8_lossy(&body).into_owned()
    }
}
