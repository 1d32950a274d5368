//! MCP servers over streamable HTTP, end to end: the fixture tools (`crate::fixture`)
//! served by rmcp's `StreamableHttpService` (a dev-dependency) through hyper on a loopback
//! port, with a few edge routes that misbehave on purpose.
//!
//! Routes: `/mcp` (the server), `/moved` (a 307 to the same server under another host name,
//! i.e. another origin), `/huge` (the server, except that a `tools/call` gets one SSE event
//! of 5 MB). Every request's host, path and auth headers are recorded. [`McpHttp::kill`]
//! stops the server and every open connection (a server that dies mid-run).

pub mod cases;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{Request, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub host: String,
    pub path: String,
    pub authorization: Option<String>,
    pub api_key: Option<String>,
}

pub struct McpHttp {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

type Body = BoxBody<Bytes, Infallible>;

fn full(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::builder().status(status);
    for (k, v) in headers {
        response = response.header(*k, *v);
    }
    response.body(Full::new(body.into()).boxed()).unwrap()
}

impl McpHttp {
    pub async fn start() -> McpHttp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let service = StreamableHttpService::new(
            || Ok(crate::fixture::Tracker),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default(),
        );
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (seen2, tasks2) = (seen.clone(), tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = service.clone();
                let seen = seen2.clone();
                let conn = tokio::spawn(async move {
                    let handler = hyper::service::service_fn(move |req: Request<_>| {
                        let service = service.clone();
                        let seen = seen.clone();
                        async move { Ok::<_, Infallible>(route(req, &service, &seen, port).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, handler)
                        .await;
                });
                tasks2.lock().unwrap().push(conn.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        McpHttp { port, seen, tasks }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The server dies: no new connection, every open one cut.
    pub fn kill(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for McpHttp {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn route(
    req: Request<hyper::body::Incoming>,
    service: &StreamableHttpService<crate::fixture::Tracker, LocalSessionManager>,
    seen: &Mutex<Vec<Seen>>,
    port: u16,
) -> Response<Body> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let path = req.uri().path().to_string();
    seen.lock().unwrap().push(Seen {
        host: header("host").unwrap_or_default(),
        path: path.clone(),
        authorization: header("authorization"),
        api_key: header("x-api-key"),
    });
    match path.as_str() {
        "/moved" => {
            let to = format!("http://localhost:{port}/mcp");
            full(307, &[("location", &to)], "")
        }
        "/huge" => {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            if String::from_utf8_lossy(&body).contains("\"tools/call\"") {
                let event = format!("data: {}\n\n", "x".repeat(5_000_000));
                return full(200, &[("content-type", "text/event-stream")], event);
            }
            service
                .handle(Request::from_parts(parts, Full::new(body)))
                .await
        }
        "/mcp" => service.handle(req).await,
        _ => full(404, &[], "not here"),
    }
}
