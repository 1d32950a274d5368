//! The retry and timeout layer shared by the HTTP providers (`anthropic`, `openai`).
//!
//! Owns: sending one HTTP request with connect / first-byte timeouts, turning HTTP statuses
//! and transport errors into [`LlmError`]s that say what to fix, `retry-after` parsing,
//! exponential backoff with jitter, and the loop that repeats a whole call (a cut stream is
//! retried from the start). Each retry is reported on the sink as [`StreamEvent::Retry`] and
//! returned to the caller, never swallowed.
//! Must not: know any wire format (providers parse bodies), or log keys or headers.

use std::future::Future;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};

use super::{DeltaSink, LlmError, ProviderSettings, RetryNotice, RetrySettings, StreamEvent, ms};

/// The longest `retry-after` we honour; a server asking for more gets this much.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// One failed attempt: the error and, when the server said so, how long to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: LlmError,
    pub retry_after: Option<Duration>,
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Self {
        let retry_after = match &error {
            LlmError::RateLimited {
                retry_after_ms: Some(v),
                ..
            } => Some(ms(*v)),
            _ => None,
        };
        Self { error, retry_after }
    }
}

/// The shared `reqwest` client settings of the HTTP providers. System proxies
/// (`HTTPS_PROXY`, ...) apply, except to a server on this machine (Ollama, llama.cpp, tests).
pub fn http_client(settings: &ProviderSettings) -> Result<reqwest::Client, LlmError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(ms(settings.retry.connect_timeout_ms))
        .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")));
    let local = url_host(&settings.base_url)
        .map(|h| matches!(h.as_str(), "localhost" | "127.0.0.1" | "[::1]" | "::1"))
        .unwrap_or(false);
    if local {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| LlmError::InvalidResponse(format!("cannot build the HTTP client: {e}")))
}

/// The host of a base URL, or an error that says what is wrong with it.
pub fn url_host(base_url: &str) -> Result<String, LlmError> {
    let invalid = |why: String| LlmError::Unreachable {
        url: base_url.to_string(),
        message: why,
    };
    let parsed = reqwest::Url::parse(base_url).map_err(|e| {
        invalid(format!(
            "not a valid URL ({e}); write it like https://host/v1"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "unsupported scheme `{}`; use http:// or https://",
            parsed.scheme()
        )));
    }
    parsed
        .host_str()
        .map(str::to_string)
        .ok_or_else(|| invalid("the URL has no host".into()))
}

/// Runs `attempt` until it succeeds, fails with an error a retry cannot fix, or
/// `settings.max_retries` retries are used up. Before each retry a [`RetryNotice`] goes to
/// `sink` (so the UI can drop the failed attempt's partial output); all notices are returned
/// with the successful value.
pub async fn run_with_retries<T, F, Fut>(
    settings: &RetrySettings,
    sink: DeltaSink<'_>,
    mut attempt: F,
) -> Result<(T, Vec<RetryNotice>), LlmError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut notices = Vec::new();
    let mut retries = 0u32;
    loop {
        let failure = match attempt().await {
            Ok(value) => return Ok((value, notices)),
            Err(failure) => failure,
        };
        if !failure.error.is_retryable() {
            tracing::debug!(error = %failure.error, "LLM call failed; not retryable");
            return Err(failure.error);
        }
        if retries >= settings.max_retries {
            tracing::info!(error = %failure.error, attempts = retries + 1, "LLM call failed; no retries left");
            return Err(if retries == 0 {
                failure.error
            } else {
                LlmError::RetriesExhausted {
                    attempts: retries + 1,
                    last: Box::new(failure.error),
                }
            });
        }
        retries += 1;
        let delay = failure
            .retry_after
            .map(|d| d.min(MAX_RETRY_AFTER))
            .unwrap_or_else(|| backoff(settings, retries));
        let notice = RetryNotice {
            attempt: retries,
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            reason: describe(&failure),
        };
        tracing::info!(
            attempt = notice.attempt,
            delay_ms = notice.delay_ms,
            reason = %notice.reason,
            "retrying LLM call"
        );
        sink(StreamEvent::Retry(notice.clone()));
        notices.push(notice);
        tokio::time::sleep(delay).await;
    }
}

/// Exponential backoff with jitter for retry number `retry` (1-based): the nominal delay
/// `initial * 2^(retry-1)`, capped at `max_backoff_ms`, then a random value in its upper half.
pub fn backoff(settings: &RetrySettings, retry: u32) -> Duration {
    let exp = retry.saturating_sub(1).min(30);
    let nominal = settings
        .initial_backoff_ms
        .saturating_mul(1u64 << exp)
        .min(settings.max_backoff_ms.max(settings.initial_backoff_ms));
    let half = nominal / 2;
    ms(nominal - half + fastrand::u64(0..=half))
}

/// Human text for a retry notice.
fn describe(failure: &Failure) -> String {
    let after = failure
        .retry_after
        .map(|d| format!(" (retry-after {})", human_duration(d)))
        .unwrap_or_default();
    match &failure.error {
        LlmError::RateLimited { message, .. } => format!("429 rate limited{after}: {message}"),
        LlmError::Server {
            status: 529,
            message,
        } => format!("529 overloaded{after}: {message}"),
        LlmError::Server { status, message } => format!("server error {status}{after}: {message}"),
        other => format!("{other}{after}"),
    }
}

fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Sends the request. The time to the response headers is bounded by the first-byte timeout
/// (the connect timeout is set on the client). A non-2xx status becomes the matching error.
pub async fn send(
    request: RequestBuilder,
    settings: &RetrySettings,
    url: &str,
    key_hint: &str,
) -> Result<Response, Failure> {
    let limit = ms(settings.first_byte_timeout_ms);
    let response = match tokio::time::timeout(limit, request.send()).await {
        Err(_) => {
            return Err(LlmError::Timeout(format!(
                "no response from {url} within {} ms (first_byte_timeout_ms)",
                settings.first_byte_timeout_ms
            ))
            .into());
        }
        Ok(Err(e)) => return Err(transport_error(&e, url).into()),
        Ok(Ok(r)) => r,
    };
    if response.status().is_success() {
        return Ok(response);
    }
    Err(status_failure(response, settings, key_hint).await)
}

/// A `reqwest` error from connecting or sending, as an [`LlmError`].
pub fn transport_error(e: &reqwest::Error, url: &str) -> LlmError {
    let message = error_chain(e);
    if e.is_timeout() {
        LlmError::Timeout(format!(
            "connecting to {url}: {message} (connect_timeout_ms)"
        ))
    } else if e.is_connect() {
        LlmError::Unreachable {
            url: url.to_string(),
            message,
        }
    } else {
        LlmError::Stream(message)
    }
}

/// An error and its sources in one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Reads an error response and classifies it. `key_hint` names where the key comes from
/// (e.g. `ANTHROPIC_API_KEY`), for the message of a 401/403.
async fn status_failure(response: Response, settings: &RetrySettings, key_hint: &str) -> Failure {
    let status = response.status();
    let retry_after = parse_retry_after(response.headers());
    let limit = ms(settings.idle_timeout_ms);
    let body = match tokio::time::timeout(limit, response.text()).await {
        Ok(Ok(text)) => text,
        Ok(Err(_)) | Err(_) => String::new(),
    };
    let error = classify_status(status, &body, retry_after, key_hint);
    Failure { error, retry_after }
}

/// The error for a non-2xx status with this body.
pub fn classify_status(
    status: StatusCode,
    body: &str,
    retry_after: Option<Duration>,
    key_hint: &str,
) -> LlmError {
    let code = status.as_u16();
    let message = error_message(body, status);
    match code {
        401 | 403 => LlmError::Auth {
            status: code,
            message: format!("{message}; check {key_hint} (or `api_key` in the config)"),
        },
        404 => LlmError::NotFound {
            status: code,
            message,
        },
        429 => LlmError::RateLimited {
            message,
            retry_after_ms: retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        },
        408 | 409 | 500..=599 => LlmError::Server {
            status: code,
            message,
        },
        _ if mentions_tools_unsupported(&message) => LlmError::ToolsUnsupported { message },
        _ => LlmError::BadRequest {
            status: code,
            message,
        },
    }
}

/// Whether a server's error text says the model or server cannot do tool calls
/// (Ollama "does not support tools", vLLM "--enable-auto-tool-choice", llama.cpp "--jinja").
pub fn mentions_tools_unsupported(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("tool")
        && (m.contains("not support")
            || m.contains("unsupported")
            || m.contains("enable-auto-tool-choice")
            || m.contains("--jinja"))
}

/// The human part of an error body: `error.message` of the JSON error shapes both APIs use,
/// else the start of the body, else the status text.
pub fn error_message(body: &str, status: StatusCode) -> String {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        let candidates = [
            value.pointer("/error/message"),
            value.get("error"),
            value.get("message"),
            value.get("detail"),
        ];
        for c in candidates.into_iter().flatten() {
            if let Some(s) = c.as_str() {
                return truncate(s, 500);
            }
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return status
            .canonical_reason()
            .unwrap_or("no error text")
            .to_string();
    }
    truncate(trimmed, 300)
}

/// At most `max` bytes of `s` (on a char boundary), with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `retry-after-ms` (milliseconds), else `retry-after` (seconds or an HTTP date).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(v) = headers.get("retry-after-ms").and_then(|v| v.to_str().ok())
        && let Ok(n) = v.trim().parse::<f64>()
        && n.is_finite()
        && n >= 0.0
    {
        return Some(Duration::from_secs_f64(n / 1000.0));
    }
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    parse_retry_after_value(v, chrono::Utc::now())
}

/// One `retry-after` value: delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after_value(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Ok(n) = v.parse::<f64>() {
        return (n.is_finite() && n >= 0.0).then(|| Duration::from_secs_f64(n));
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// The call flow both HTTP providers share: JSON-in-text preparation when the tool mode asks
/// for it, the wire body, the retried attempts, and the assembled response (model name,
/// retry notices, JSON-in-text tool call). `label` names the provider in the debug log.
pub(crate) async fn call_with_retries<'s, F, Fut>(
    label: &str,
    url: &str,
    settings: &super::ProviderSettings,
    req: super::ChatRequest,
    sink: DeltaSink<'s>,
    body_of: impl FnOnce(&super::ChatRequest) -> serde_json::Value,
    attempt: F,
) -> Result<super::ChatResponse, LlmError>
where
    F: Fn(std::sync::Arc<serde_json::Value>) -> Fut,
    Fut: Future<Output = Result<super::ChatResponse, Failure>>,
{
    let json_text = settings.tool_mode == super::ToolMode::JsonText;
    let body = std::sync::Arc::new(if json_text {
        body_of(&super::jsontext::prepare(&req))
    } else {
        body_of(&req)
    });
    tracing::debug!(
        url = %url,
        model = %req.model,
        messages = req.messages.len(),
        tools = req.tools.len(),
        json_text,
        "{label} request"
    );
    let (mut response, retries) =
        run_with_retries(&settings.retry, sink, || attempt(body.clone())).await?;
    if response.model.is_empty() {
        response.model = req.model.clone();
    }
    response.retries = retries;
    if json_text {
        response = super::jsontext::finish(response, &req);
    }
    tracing::debug!(
        model = %response.model,
        input_tokens = response.usage.input_tokens,
        output_tokens = response.usage.output_tokens,
        tool_calls = response.tool_calls.len(),
        retries = response.retries.len(),
        "{label} response"
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = chrono::Utc
            .with_ymd_and_hms(2015, 10, 21, 7, 28, 0)
            .unwrap();
        assert_eq!(
            parse_retry_after_value("2", now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after_value("0.5", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after_value("Wed, 21 Oct 2015 07:28:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after_value("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after_value("soon", now), None);
        assert_eq!(parse_retry_after_value("-1", now), None);
    }

    #[test]
    fn retry_after_ms_header_wins() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "5".parse().unwrap());
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(250)));
        h.remove("retry-after-ms");
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(5)));
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let s = RetrySettings {
            initial_backoff_ms: 100,
            max_backoff_ms: 1_000,
            ..RetrySettings::default()
        };
        for _ in 0..50 {
            let b1 = backoff(&s, 1).as_millis();
            assert!((50..=100).contains(&b1), "{b1}");
            let b3 = backoff(&s, 3).as_millis();
            assert!((200..=400).contains(&b3), "{b3}");
            let b10 = backoff(&s, 10).as_millis();
            assert!((500..=1_000).contains(&b10), "{b10}");
        }
    }

    #[test]
    fn statuses_classify() {
        let anth = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        match classify_status(StatusCode::UNAUTHORIZED, anth, None, "ANTHROPIC_API_KEY") {
            LlmError::Auth { status, message } => {
                assert_eq!(status, 401);
                assert!(message.contains("invalid x-api-key"));
                assert!(message.contains("ANTHROPIC_API_KEY"));
            }
            e => panic!("{e:?}"),
        }
        let ollama = r#"{"error":{"message":"registry.ollama.ai/library/gemma:2b does not support tools","type":"api_error"}}"#;
        assert!(matches!(
            classify_status(StatusCode::BAD_REQUEST, ollama, None, "K"),
            LlmError::ToolsUnsupported { .. }
        ));
        assert!(matches!(
            classify_status(StatusCode::BAD_REQUEST, "{}", None, "K"),
            LlmError::BadRequest { status: 400, .. }
        ));
        assert!(matches!(
            classify_status(StatusCode::from_u16(529).unwrap(), "", None, "K"),
            LlmError::Server { status: 529, .. }
        ));
        assert!(matches!(
            classify_status(StatusCode::REQUEST_TIMEOUT, "", None, "K"),
            LlmError::Server { status: 408, .. }
        ));
        match classify_status(
            StatusCode::TOO_MANY_REQUESTS,
            "",
            Some(Duration::from_secs(3)),
            "K",
        ) {
            LlmError::RateLimited { retry_after_ms, .. } => assert_eq!(retry_after_ms, Some(3000)),
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            classify_status(StatusCode::NOT_FOUND, "<html>nope</html>", None, "K"),
            LlmError::NotFound { status: 404, .. }
        ));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
