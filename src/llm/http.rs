//! HTTP for the providers: the `reqwest` client (no redirects: the key must never go to
//! another host), sending one request with its first-byte timeout, turning statuses and
//! transport errors into [`LlmError`]s that say what to fix, and `retry-after` parsing
//! (checked: any value a server sends becomes a bounded wait or none, never a panic).
//! Must not: know any wire format, decide about retries (`retry` does), or log keys or
//! headers.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};

use super::retry::{Budget, Failure};
use super::{LlmError, ProviderSettings, RetrySettings, ms};

/// The shared `reqwest` client settings of the HTTP providers. System proxies
/// (`HTTPS_PROXY`, ...) apply, except to a server on this machine (Ollama, llama.cpp, tests).
pub fn http_client(settings: &ProviderSettings) -> Result<reqwest::Client, LlmError> {
    http_client_for(&settings.base_url, &settings.retry)
}

/// [`http_client`] for one endpoint of a pool.
pub fn http_client_for(base_url: &str, retry: &RetrySettings) -> Result<reqwest::Client, LlmError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(ms(retry.connect_timeout_ms))
        .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
        // A redirect would re-send the key and the prompt to wherever it points.
        .redirect(reqwest::redirect::Policy::none());
    let local = url_host(base_url)
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

/// Sends the request. The time to the response headers is bounded by the first-byte timeout
/// (the connect timeout is set on the client). A non-2xx status becomes the matching error; a
/// redirect is an error naming where it pointed (never followed). Failures before a status
/// arrived count on the request budget.
pub async fn send(
    request: RequestBuilder,
    settings: &RetrySettings,
    url: &str,
    key_hint: &str,
) -> Result<Response, Failure> {
    let limit = ms(settings.first_byte_timeout_ms);
    let response = match tokio::time::timeout(limit, request.send()).await {
        Err(_) => {
            return Err(Failure::from(LlmError::Timeout(format!(
                "no response from {url} within {} ms (first_byte_timeout_ms)",
                settings.first_byte_timeout_ms
            )))
            .on(Budget::Request));
        }
        Ok(Err(e)) => return Err(Failure::from(transport_error(&e, url)).on(Budget::Request)),
        Ok(Ok(r)) => r,
    };
    if response.status().is_success() {
        return Ok(response);
    }
    if response.status().is_redirection() {
        return Err(redirected(&response).into());
    }
    Err(status_failure(response, settings, key_hint).await)
}

/// The error for a 3xx: where it pointed, control characters removed, shortened.
fn redirected(response: &Response) -> LlmError {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_else(|| "(no location given)".into());
    let clean: String = location.chars().filter(|c| !c.is_control()).collect();
    LlmError::Redirected {
        status: response.status().as_u16(),
        location: truncate(&clean, 300),
    }
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
    let mut failure = Failure::from(error);
    failure.retry_after = retry_after;
    failure
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

/// `retry-after-ms` (milliseconds), else `retry-after` (seconds or an HTTP date). Negative,
/// non-numeric and NaN values are ignored (the backoff applies); values too large for a
/// [`Duration`] (`1e20`, `inf`) become [`Duration::MAX`], which the retry layer caps.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(v) = headers.get("retry-after-ms").and_then(|v| v.to_str().ok())
        && let Some(d) = seconds(v.trim(), 1000.0)
    {
        return Some(d);
    }
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    parse_retry_after_value(v, chrono::Utc::now())
}

/// One `retry-after` value: delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after_value(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if v.parse::<f64>().is_ok() {
        return seconds(v, 1.0);
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// `v / per_second` seconds as a checked [`Duration`].
fn seconds(v: &str, per_second: f64) -> Option<Duration> {
    let n = v.parse::<f64>().ok()?;
    if n.is_nan() || n < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(n / per_second).unwrap_or(Duration::MAX))
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
    fn retry_after_values_too_large_garbage_or_negative_never_panic() {
        let now = chrono::Utc::now();
        for huge in [
            "1e20",
            "18446744073709551616",
            "inf",
            "1.7976931348623157e308",
        ] {
            assert_eq!(
                parse_retry_after_value(huge, now),
                Some(Duration::MAX),
                "{huge}"
            );
        }
        for ignored in ["-5", "NaN", "-inf", "", "soon", "0x10"] {
            assert_eq!(parse_retry_after_value(ignored, now), None, "{ignored}");
        }
        let mut h = HeaderMap::new();
        h.insert("retry-after-ms", "1e30".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::MAX));
        h.insert("retry-after-ms", "-1".parse().unwrap());
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
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
