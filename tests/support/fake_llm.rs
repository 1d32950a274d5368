//! An in-process fake LLM HTTP server for tests, speaking both wire formats (Anthropic
//! Messages SSE and OpenAI Chat Completions SSE).
//!
//! Owns: a minimal HTTP/1.1 server on `127.0.0.1:0` (tokio `TcpListener`, one request per
//! connection, `connection: close`), scripted or computed responses sent as timed chunks,
//! connection cuts and stalls, request recording, and builders for SSE bodies.
//! Must not: touch the network beyond loopback, or depend on Baton's provider code (tests
//! must be able to check the providers against it independently).
//!
//! # Example
//! ```ignore
//! let server = FakeLlm::start([
//!     ScriptedResponse::anthropic_error(429, "rate_limit_error", "slow down").header("retry-after", "1"),
//!     Reply::new().text("hi").tool("t1", "submit_report", json!({"status": "complete"})).anthropic(),
//! ]).await;
//! let provider = AnthropicProvider::new(server.settings(ProviderKind::Anthropic))?;
//! // ... call it, then inspect server.requests()
//! ```
//!
//! Responses can also be computed per request with [`FakeLlm::with_responder`], e.g. to answer
//! according to [`RecordedRequest::forced_tool`]. Time uses `tokio::time`, so delays work
//! under `#[tokio::test(start_paused = true)]` (then only `current_thread` runtimes).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::llm::{ProviderKind, ProviderSettings, RetrySettings, Secret};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The API key that [`FakeLlm::settings`] puts in the provider settings.
pub const TEST_KEY: &str = "sk-test-FAKE-0123456789abcdef";

/// Computes the response to a request.
pub type Responder = Arc<dyn Fn(&RecordedRequest) -> ScriptedResponse + Send + Sync>;

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
}

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
        }
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

struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    script: Mutex<VecDeque<ScriptedResponse>>,
    responder: Option<Responder>,
}

impl Shared {
    fn respond(&self, req: &RecordedRequest) -> ScriptedResponse {
        if let Some(f) = &self.responder {
            return f(req);
        }
        self.script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| {
                ScriptedResponse::json(
                    500,
                    &json!({"error": {"message": "fake LLM: the script has no response left", "type": "script_exhausted"}}),
                )
            })
    }
}

/// The running server. Dropping it stops it (and every open connection).
pub struct FakeLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    /// Serves `script` in order, one response per request; afterwards every request gets a
    /// 500 "script has no response left".
    pub async fn start(script: impl IntoIterator<Item = ScriptedResponse>) -> Self {
        Self::launch(Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(script.into_iter().collect()),
            responder: None,
        })
        .await
    }

    /// Answers every request with `f(&request)`.
    pub async fn with_responder(
        f: impl Fn(&RecordedRequest) -> ScriptedResponse + Send + Sync + 'static,
    ) -> Self {
        Self::launch(Shared {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            responder: Some(Arc::new(f)),
        })
        .await
    }

    async fn launch(shared: Shared) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(shared);
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Self { addr, shared, task }
    }

    /// Appends a response to the script.
    pub fn push(&self, response: ScriptedResponse) {
        self.shared.script.lock().unwrap().push_back(response);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the Anthropic base URL (requests go to `/v1/messages`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the OpenAI-compatible base URL (`/v1/chat/completions`).
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL for this provider kind.
    pub fn base_url(&self, kind: ProviderKind) -> String {
        match kind {
            ProviderKind::Openai => self.openai_base_url(),
            _ => self.url(),
        }
    }

    /// Provider settings pointing at this server, with [`TEST_KEY`] and [`fast_retry`].
    pub fn settings(&self, kind: ProviderKind) -> ProviderSettings {
        ProviderSettings {
            kind,
            base_url: self.base_url(kind),
            api_key: Secret::new(TEST_KEY),
            retry: fast_retry(),
            ..ProviderSettings::default()
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }
}

/// Retry settings for tests: 3 retries, 10–40 ms backoff, 5 s timeouts.
pub fn fast_retry() -> RetrySettings {
    RetrySettings {
        max_retries: 3,
        initial_backoff_ms: 10,
        max_backoff_ms: 40,
        connect_timeout_ms: 5_000,
        first_byte_timeout_ms: 5_000,
        idle_timeout_ms: 5_000,
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                connections.spawn(serve(stream, shared.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(mut request) = read_request(&mut stream).await else {
        return;
    };
    let response = {
        let mut requests = shared.requests.lock().unwrap();
        request.index = requests.len();
        requests.push(request.clone());
        drop(requests);
        shared.respond(&request)
    };
    write_response(&mut stream, &response).await;
}

async fn read_request(stream: &mut TcpStream) -> Option<RecordedRequest> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    Some(RecordedRequest {
        index: 0,
        method,
        path,
        headers,
        body: serde_json::from_str(&raw_body).unwrap_or(Value::Null),
        raw_body,
        at: tokio::time::Instant::now(),
        at_std: std::time::Instant::now(),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn write_response(stream: &mut TcpStream, r: &ScriptedResponse) {
    if !r.first_byte_delay.is_zero() {
        tokio::time::sleep(r.first_byte_delay).await;
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let _ = stream.flush().await;
    for (i, chunk) in r.chunks.iter().enumerate() {
        if r.cut_after == Some(i) {
            return;
        }
        if r.stall_after == Some(i) {
            std::future::pending::<()>().await;
        }
        if !chunk.delay.is_zero() {
            tokio::time::sleep(chunk.delay).await;
        }
        if chunk.bytes.is_empty() {
            continue;
        }
        let mut framed = format!("{:x}\r\n", chunk.bytes.len()).into_bytes();
        framed.extend_from_slice(&chunk.bytes);
        framed.extend_from_slice(b"\r\n");
        if stream.write_all(&framed).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
    }
    if r.cut_after == Some(r.chunks.len()) {
        return;
    }
    if r.stall_after == Some(r.chunks.len()) {
        std::future::pending::<()>().await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

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
