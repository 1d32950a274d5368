//! Reading an MCP server's HTTP responses within limits (for `http.rs`): bodies refused
//! over their size before they are parsed, error bodies cut to a prefix, SSE streams that end
//! at the first oversized event, and the HTTP statuses rmcp's transport classifies (auth,
//! rate limits and server errors, a rejected `server/discover`).

use std::sync::{Arc, Mutex};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderValue, StatusCode};
use reqwest::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, ErrorData, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, HttpStatusError, InsufficientScopeError, SseError, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use sse_stream::{Sse, SseStream};

use super::http::{Error, HttpError, MAX_ERROR_BODY, MAX_RESPONSE, client_error, note};

pub(super) fn media_type_is(value: Option<&HeaderValue>, expected: &str) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}

/// The body, refused when it is over `max` bytes (counted before it is kept).
pub(super) async fn read_bounded(
    response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, Error> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(StreamableHttpError::ResponseBodyTooLarge { max_size: max });
    }
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.try_next().await.map_err(client_error)? {
        if chunk.len() > max.saturating_sub(body.len()) {
            return Err(StreamableHttpError::ResponseBodyTooLarge { max_size: max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// At most `max` bytes of the body, as text, for an error message.
pub(super) async fn read_prefix(response: reqwest::Response, max: usize) -> String {
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while body.len() < max {
        match stream.next().await {
            Some(Ok(chunk)) => {
                let n = chunk.len().min(max - body.len());
                body.extend_from_slice(&chunk[..n]);
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// An SSE stream that ends with an error at the first event over `max` bytes.
pub(super) fn bounded_sse<S>(
    bytes: S,
    max: usize,
    last_error: Arc<Mutex<String>>,
) -> BoxStream<'static, Result<Sse, SseError>>
where
    S: Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send + 'static,
{
    let mut event = 0usize;
    let mut line_empty = true;
    let mut failed = false;
    let limited = bytes.map(move |chunk| {
        if failed {
            return Err(std::io::Error::other(
                "the stream ended after an oversized event",
            ));
        }
        let chunk = chunk.map_err(|e| std::io::Error::other(HttpError::from(e)))?;
        for &b in chunk.as_ref() {
            match b {
                b'\r' => {}
                b'\n' if line_empty => event = 0,
                b'\n' => line_empty = true,
                _ => {
                    line_empty = false;
                    event = event.saturating_add(1);
                }
            }
            if event > max {
                failed = true;
                let text = format!("an SSE event exceeded the maximum size of {max} bytes");
                note(&last_error, text.clone());
                return Err(std::io::Error::other(text));
            }
        }
        Ok(chunk)
    });
    SseStream::from_bytes_stream(limited).boxed()
}

/// 429 and 5xx keep their status (and Retry-After) for the caller.
pub(super) fn status_error(status: StatusCode, headers: &HeaderMap) -> Option<HttpStatusError> {
    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
        return None;
    }
    let retry_after = headers
        .get(RETRY_AFTER)
        .filter(|v| v.as_bytes().len() <= 128)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Some(HttpStatusError::new(status.as_u16(), retry_after))
}

/// 401/403 with a challenge: rmcp's auth errors (the reconnect logic stops on them).
pub(super) fn auth_error(status: StatusCode, headers: &HeaderMap) -> Option<Error> {
    let challenge = headers.get(WWW_AUTHENTICATE)?.to_str().ok()?.to_string();
    match status {
        StatusCode::UNAUTHORIZED => Some(StreamableHttpError::AuthRequired(
            AuthRequiredError::new(challenge),
        )),
        StatusCode::FORBIDDEN => Some(StreamableHttpError::InsufficientScope(
            InsufficientScopeError::new(challenge, None),
        )),
        _ => None,
    }
}

/// A sessionless `server/discover` rejected with a 4xx: an error the lifecycle can classify
/// (it then falls back to the legacy `initialize`), as rmcp's own client does.
pub(super) fn discover_rejected(
    message: &ClientJsonRpcMessage,
    session: bool,
    status: StatusCode,
    body: &str,
) -> Option<StreamableHttpPostResponse> {
    if session
        || !status.is_client_error()
        || matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
    {
        return None;
    }
    let ClientJsonRpcMessage::Request(request) = message else {
        return None;
    };
    if !matches!(request.request, ClientRequest::DiscoverRequest(_)) {
        return None;
    }
    let error = match serde_json::from_str::<ServerJsonRpcMessage>(body) {
        Ok(ServerJsonRpcMessage::Error(e)) => e.error,
        _ => {
            ErrorData::invalid_request(format!("server/discover rejected with HTTP {status}"), None)
        }
    };
    Some(StreamableHttpPostResponse::Json(
        ServerJsonRpcMessage::error(error, Some(request.id.clone())),
        None,
    ))
}

/// The limits with `max_sse_event_size` and Baton's own JSON and error-body bounds.
pub(super) fn limits(max_sse_event_size: usize) -> StreamableHttpResponseLimits {
    let mut limits = StreamableHttpResponseLimits::default();
    limits.max_sse_event_size = max_sse_event_size;
    limits.max_json_response_size = MAX_RESPONSE;
    limits.max_error_response_size = MAX_ERROR_BODY;
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&str]) -> impl Stream<Item = Result<bytes::Bytes, reqwest::Error>> + use<> {
        let parts: Vec<Result<bytes::Bytes, reqwest::Error>> = parts
            .iter()
            .map(|p| Ok(bytes::Bytes::from(p.to_string())))
            .collect();
        futures::stream::iter(parts)
    }

    #[tokio::test]
    async fn sse_events_within_the_limit_pass_and_a_bigger_one_ends_the_stream() {
        let kept = Arc::new(Mutex::new(String::new()));
        let small = "data: 0123456789\n\n";
        let events: Vec<_> = bounded_sse(
            chunks(&[small, "data: 01234", "56789\n\n"]),
            20,
            kept.clone(),
        )
        .collect()
        .await;
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.is_ok()));

        let big = format!("data: {}\n\n", "x".repeat(30));
        let events: Vec<_> = bounded_sse(chunks(&[small, &big, small]), 20, kept.clone())
            .collect()
            .await;
        assert!(events[0].is_ok());
        assert!(events[1].is_err(), "{events:?}");
        assert!(kept.lock().unwrap().contains("maximum size of 20 bytes"));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_before_it_is_parsed() {
        let response = |body: &str| reqwest::Response::from(http::Response::new(body.to_string()));
        assert_eq!(read_bounded(response("{}"), 2).await.unwrap(), b"{}");
        assert!(matches!(
            read_bounded(response("{\"a\":1}"), 2).await,
            Err(StreamableHttpError::ResponseBodyTooLarge { max_size: 2 })
        ));
        assert_eq!(read_prefix(response("abcdef"), 3).await, "abc");
    }
}
