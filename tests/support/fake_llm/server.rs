//! The fake LLM HTTP server itself: a minimal HTTP/1.1 server on `127.0.0.1:0` (one request
//! per connection, `connection: close`) that records requests and writes scripted responses.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::llm::{ProviderKind, ProviderSettings, RetrySettings, Secret};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::{RecordedRequest, ScriptedResponse, TEST_KEY};

/// Computes the response to a request.
pub type Responder = Arc<dyn Fn(&RecordedRequest) -> ScriptedResponse + Send + Sync>;

struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    /// Requests read and not yet fully answered, and the most seen at once.
    open: Mutex<(usize, usize)>,
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
            open: Mutex::new((0, 0)),
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
            open: Mutex::new((0, 0)),
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

    /// The most requests this server had open at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.open.lock().unwrap().1
    }
}

/// Retry settings for tests: 3 retries on every budget, 10–40 ms backoff, 5 s timeouts;
/// the rest as shipped.
pub fn fast_retry() -> RetrySettings {
    RetrySettings {
        max_retries: 3,
        stream_retries: 3,
        rate_limit_retries: 3,
        initial_backoff_ms: 10,
        max_backoff_ms: 40,
        connect_timeout_ms: 5_000,
        first_byte_timeout_ms: 5_000,
        idle_timeout_ms: 5_000,
        ..RetrySettings::default()
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
        let mut open = shared.open.lock().unwrap();
        open.0 += 1;
        open.1 = open.1.max(open.0);
        request.in_flight = open.0;
        drop(open);
        let mut requests = shared.requests.lock().unwrap();
        request.index = requests.len();
        requests.push(request.clone());
        drop(requests);
        shared.respond(&request)
    };
    write_response(&mut stream, &response).await;
    shared.open.lock().unwrap().0 -= 1;
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
        in_flight: 0,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn write_response(stream: &mut TcpStream, r: &ScriptedResponse) {
    if r.silent {
        std::future::pending::<()>().await;
    }
    if let Some(gate) = &r.hold {
        gate.wait().await;
    }
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
        if !write_chunk(stream, &chunk.bytes).await {
            return;
        }
    }
    if r.cut_after == Some(r.chunks.len()) {
        return;
    }
    if r.stall_after == Some(r.chunks.len()) {
        std::future::pending::<()>().await;
    }
    if let Some(chunk) = &r.repeat {
        loop {
            tokio::time::sleep(chunk.delay).await;
            if !write_chunk(stream, &chunk.bytes).await {
                return;
            }
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

/// Writes one chunk of a chunked body; `false` once the client is gone.
async fn write_chunk(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
    framed.extend_from_slice(bytes);
    framed.extend_from_slice(b"\r\n");
    if stream.write_all(&framed).await.is_err() {
        return false;
    }
    let _ = stream.flush().await;
    true
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
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
