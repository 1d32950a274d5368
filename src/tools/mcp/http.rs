//! MCP servers over streamable HTTP: rmcp's [`StreamableHttpClient`] implemented on Baton's
//! own reqwest 0.12 client, and the transport for one `[[mcp_servers]]` entry with a `url`.
//!
//! Why not rmcp's `transport-streamable-http-client-reqwest`: it needs reqwest 0.13, which
//! pulls aws-lc beside the rustls/ring stack Baton already has (`cargo tree -i aws-lc-sys`
//! finds nothing). This file follows rmcp's own reqwest implementation
//! (rmcp/src/transport/common/reqwest/; the response reading is in `http_wire.rs`) and
//! enforces the limits the trait documents: a
//! JSON body over `max_json_response_size` and an SSE event over `max_sse_event_size` are
//! refused, not truncated and parsed; error bodies keep at most `max_error_response_size`.
//!
//! Secrets: the headers (`http_headers`, `env_http_headers`, `bearer_token_env_var`) are
//! read here when the server starts, go only into requests to the configured origin, and
//! never into an error message, the journal or the screen. They are refused over plain
//! `http://` to a host that is not loopback. Redirects are followed only to the same origin
//! (and only 307/308, which keep the method and body), so no header reaches another host.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue, StatusCode};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::common::http_header::{
    EVENT_STREAM_MIME_TYPE, HEADER_LAST_EVENT_ID, HEADER_SESSION_ID, JSON_MIME_TYPE,
};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use super::McpServerSpec;
use super::http_wire::{
    auth_error, bounded_sse, discover_rejected, limits, media_type_is, read_bounded, read_prefix,
    status_error,
};

/// Largest complete JSON response (and single SSE event) accepted from a server. A tool
/// result is capped to 16,000 bytes for the model anyway; this bounds what is parsed.
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;
/// Bytes of a failed response's body kept for the error message.
pub(super) const MAX_ERROR_BODY: usize = 2_000;
/// Longest wait for a TCP (and TLS) connection, whatever `timeout_secs` says.
const MAX_CONNECT: Duration = Duration::from_secs(10);
/// Redirects followed (same origin only).
const MAX_REDIRECTS: usize = 5;

/// Why a request failed, without the URL (it may carry a query token) or any header.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl From<reqwest::Error> for HttpError {
    fn from(e: reqwest::Error) -> HttpError {
        let kind = if e.is_connect() {
            "could not connect"
        } else if e.is_timeout() {
            "timed out"
        } else if e.is_redirect() {
            "too many redirects"
        } else {
            "the request failed"
        };
        let mut text = kind.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let part = s.to_string();
            if !part.contains("://") && !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            source = s.source();
        }
        HttpError(text)
    }
}

pub(super) type Error = StreamableHttpError<HttpError>;

pub(super) fn client_error(e: reqwest::Error) -> Error {
    StreamableHttpError::Client(HttpError::from(e))
}

/// Baton's HTTP client for one MCP server: bounded connects, same-origin redirects only.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    /// The last error, kept for the message of a call that fails (rmcp's transport only
    /// says "Transport closed" once it gave up).
    last_error: Arc<Mutex<String>>,
}

impl HttpClient {
    /// A client whose connects give up after `connect` (at most 10 s), keeping its last
    /// error in `last_error`.
    pub fn new(connect: Duration, last_error: Arc<Mutex<String>>) -> Result<HttpClient, String> {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().first().is_some_and(|first| {
                let next = attempt.url();
                first.scheme() == next.scheme()
                    && first.host_str() == next.host_str()
                    && first.port_or_known_default() == next.port_or_known_default()
            });
            let keeps_body = matches!(
                attempt.status(),
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            );
            if same_origin && keeps_body && attempt.previous().len() <= MAX_REDIRECTS {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let inner = reqwest::Client::builder()
            .connect_timeout(connect.min(MAX_CONNECT))
            .redirect(policy)
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {}", HttpError::from(e)))?;
        Ok(HttpClient { inner, last_error })
    }

    /// Keeps `e` as the last error and passes it on.
    fn noted<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result
            && !matches!(e, StreamableHttpError::ServerDoesNotSupportSse)
        {
            let text = match e {
                StreamableHttpError::Client(inner) => inner.to_string(),
                other => other.to_string(),
            };
            note(&self.last_error, text);
        }
        result
    }

    fn request(
        &self,
        method: reqwest::Method,
        uri: &str,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let url = reqwest::Url::parse(uri)
            .map_err(|_| StreamableHttpError::UnexpectedServerResponse("invalid URL".into()))?;
        let mut builder = self.inner.request(method, url.clone());
        // The configured headers are marked sensitive (`transport`); rmcp's protocol headers
        // are not and may go anywhere.
        if auth.is_some() || headers.values().any(HeaderValue::is_sensitive) {
            check_secure(&url)
                .map_err(|e| StreamableHttpError::UnexpectedServerResponse(e.into()))?;
        }
        if let Some(token) = auth {
            builder = builder.bearer_auth(token);
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        Ok(builder)
    }
}

pub(super) fn note(keep: &Mutex<String>, text: String) {
    if let Ok(mut keep) = keep.lock() {
        *keep = text;
    }
}

/// Headers are sent only over https or to a loopback address.
pub fn check_secure(url: &reqwest::Url) -> Result<(), String> {
    if url.scheme() == "https" || is_loopback(url) {
        Ok(())
    } else {
        Err("headers are sent only over https:// or to a loopback address".into())
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// The URL as shown to people: scheme, host, port and path (no user info, no query).
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}{}", u.scheme(), u.path()),
                None => format!("{}://{host}{}", u.scheme(), u.path()),
            }
        }
        Err(_) => "(an invalid URL)".into(),
    }
}

/// The transport to `spec.url` with its headers, secrets read from the environment now.
pub fn transport(
    spec: &McpServerSpec,
    last_error: Arc<Mutex<String>>,
) -> Result<StreamableHttpClientTransport<HttpClient>, String> {
    let url = spec.url.as_deref().unwrap_or_default();
    let parsed =
        reqwest::Url::parse(url).map_err(|_| "the `url` is not a valid URL".to_string())?;
    let mut headers = HashMap::new();
    let mut add = |name: &str, value: &str, from: &str| -> Result<(), String> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of the header `{name}` ({from}) is not valid"))?;
        value.set_sensitive(true);
        headers.insert(name, value);
        Ok(())
    };
    for (name, value) in &spec.http_headers {
        add(name, value, "http_headers")?;
    }
    for (name, var) in &spec.env_http_headers {
        add(name, &secret(var)?, &format!("from ${var}"))?;
    }
    let token = spec
        .bearer_token_env_var
        .as_deref()
        .map(secret)
        .transpose()?;
    if (token.is_some() || !headers.is_empty()) && check_secure(&parsed).is_err() {
        return Err(format!(
            "{} is plain http:// to a host that is not loopback: its headers and token \
             are sent only over https://",
            shown_url(url)
        ));
    }
    let connect = Duration::from_secs(spec.timeout_secs());
    let mut config = StreamableHttpClientTransportConfig::with_uri(url)
        .custom_headers(headers)
        .max_sse_event_size(MAX_RESPONSE)
        .max_json_response_size(MAX_RESPONSE)
        .max_error_response_size(MAX_ERROR_BODY);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    Ok(StreamableHttpClientTransport::with_client(
        HttpClient::new(connect, last_error)?,
        config,
    ))
}

/// The value of the environment variable `name` (a secret: never shown).
fn secret(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("the environment variable `{name}` is not set")),
    }
}

impl StreamableHttpClient for HttpClient {
    type Error = HttpError;

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Error> {
        self.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            auth,
            headers,
            MAX_RESPONSE,
        )
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Error> {
        let stream = self.get(
            uri,
            session_id,
            last_event_id,
            auth,
            headers,
            max_sse_event_size,
        );
        self.noted(stream.await)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session: Arc<str>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Error> {
        let response = self
            .request(reqwest::Method::DELETE, &uri, auth, headers)?
            .header(HEADER_SESSION_ID, session.as_ref())
            .send()
            .await
            .map_err(client_error)?;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED || response.status().is_success() {
            return Ok(());
        }
        Err(StreamableHttpError::UnexpectedServerResponse(
            format!("HTTP {} to the session's DELETE", response.status()).into(),
        ))
    }

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Error> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth,
            headers,
            limits(MAX_RESPONSE),
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, Error> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth,
            headers,
            limits(max_sse_event_size),
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Error> {
        let posted = self.post(uri, message, session_id, auth, headers, limits);
        self.noted(posted.await)
    }
}

impl HttpClient {
    /// GET: the server's own SSE stream.
    async fn get(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Error> {
        let mut request = self
            .request(reqwest::Method::GET, &uri, auth, headers)?
            .header(
                ACCEPT,
                format!("{EVENT_STREAM_MIME_TYPE}, {JSON_MIME_TYPE}"),
            );
        if let Some(id) = session_id {
            request = request.header(HEADER_SESSION_ID, id.as_ref());
        }
        if let Some(id) = last_event_id {
            request = request.header(HEADER_LAST_EVENT_ID, id);
        }
        let response = request.send().await.map_err(client_error)?;
        let status = response.status();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if let Some(e) = auth_error(status, response.headers()) {
            return Err(e);
        }
        if let Some(e) = status_error(status, response.headers()) {
            return Err(e.into());
        }
        if !status.is_success() {
            return Err(StreamableHttpError::UnexpectedServerResponse(
                format!("HTTP {status}").into(),
            ));
        }
        let content_type = response.headers().get(CONTENT_TYPE);
        if !media_type_is(content_type, EVENT_STREAM_MIME_TYPE)
            && !media_type_is(content_type, JSON_MIME_TYPE)
        {
            return Err(StreamableHttpError::UnexpectedContentType(
                content_type.map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned()),
            ));
        }
        Ok(bounded_sse(
            response.bytes_stream(),
            max_sse_event_size,
            self.last_error.clone(),
        ))
    }

    /// POST: one message; the answer as JSON, an SSE stream, or accepted.
    async fn post(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Error> {
        let mut request = self
            .request(reqwest::Method::POST, &uri, auth, headers)?
            .header(
                ACCEPT,
                format!("{EVENT_STREAM_MIME_TYPE}, {JSON_MIME_TYPE}"),
            );
        let with_session = session_id.is_some();
        if let Some(id) = session_id {
            request = request.header(HEADER_SESSION_ID, id.as_ref());
        }
        let response = request.json(&message).send().await.map_err(client_error)?;
        let status = response.status();
        if let Some(e) = auth_error(status, response.headers()) {
            return Err(e);
        }
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && with_session {
            return Err(StreamableHttpError::SessionExpired);
        }
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let is_json = media_type_is(content_type.as_ref(), JSON_MIME_TYPE);
        let session = response
            .headers()
            .get(HEADER_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let no_reply_needed = !matches!(message, ClientJsonRpcMessage::Request(_));
        if status.is_success() && response.content_length() == Some(0) && no_reply_needed {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if !status.is_success() {
            let status_err = status_error(status, response.headers());
            let body =
                if is_json && !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    let raw = match read_bounded(response, limits.max_json_response_size).await {
                        Ok(raw) => raw,
                        Err(e) => return Err(status_err.map(Error::from).unwrap_or(e)),
                    };
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    if let Ok(error @ ServerJsonRpcMessage::Error(_)) =
                        serde_json::from_str::<ServerJsonRpcMessage>(&text)
                    {
                        if let Some(r) = discover_rejected(&message, with_session, status, &text) {
                            return Ok(r);
                        }
                        return Ok(StreamableHttpPostResponse::Json(error, session));
                    }
                    text.chars().take(limits.max_error_response_size).collect()
                } else {
                    read_prefix(response, limits.max_error_response_size).await
                };
            if let Some(r) = discover_rejected(&message, with_session, status, &body) {
                return Ok(r);
            }
            if let Some(e) = status_err {
                return Err(e.into());
            }
            return Err(StreamableHttpError::UnexpectedServerResponse(Cow::Owned(
                format!("HTTP {status}: {}", body.trim()),
            )));
        }
        if media_type_is(content_type.as_ref(), EVENT_STREAM_MIME_TYPE) {
            let stream = bounded_sse(
                response.bytes_stream(),
                limits.max_sse_event_size,
                self.last_error.clone(),
            );
            return Ok(StreamableHttpPostResponse::Sse(stream, session));
        }
        if is_json {
            let body = read_bounded(response, limits.max_json_response_size).await?;
            return match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                Ok(parsed) => Ok(StreamableHttpPostResponse::Json(parsed, session)),
                Err(_) if no_reply_needed => Ok(StreamableHttpPostResponse::Accepted),
                Err(e) => Err(StreamableHttpError::UnexpectedServerResponse(
                    format!("the answer is not JSON-RPC: {e}").into(),
                )),
            };
        }
        if no_reply_needed {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        Err(StreamableHttpError::UnexpectedContentType(
            content_type.map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_user_info_or_query() {
        assert_eq!(
            shown_url("https://me:secret@mcp.example.com:8443/mcp?key=abc"),
            "https://mcp.example.com:8443/mcp"
        );
        assert_eq!(shown_url("not a url"), "(an invalid URL)");
    }

    #[test]
    fn secrets_go_only_over_https_or_to_loopback() {
        let ok = |u: &str| check_secure(&reqwest::Url::parse(u).unwrap()).is_ok();
        assert!(ok("https://mcp.example.com/mcp"));
        assert!(ok("http://127.0.0.1:9/mcp"));
        assert!(ok("http://[::1]:9/mcp"));
        assert!(ok("http://localhost/mcp"));
        assert!(!ok("http://mcp.example.com/mcp"));
        assert!(!ok("http://127.0.0.1.example.com/mcp"));
    }
}
