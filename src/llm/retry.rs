//! The retry layer shared by the HTTP providers (`anthropic`, `openai`) and `baton doctor`.
//!
//! Owns: the three retry budgets (request failures, stream failures, rate limits/overload
//! with a patience limit, each counted on its own), honouring `retry-after` up to a cap,
//! exponential backoff with jitter, the overall per-call deadline, and the loop that repeats a
//! whole call (a cut stream is retried from the start). Each retry is reported on the sink as
//! [`StreamEvent::Retry`] *when its wait starts*, and the usage of a rejected attempt as
//! [`StreamEvent::Usage`]; neither is swallowed. HTTP details live in `http`.
//! Must not: know any wire format (providers parse bodies), or log keys or headers.

use std::future::Future;
use std::time::Duration;

use super::{DeltaSink, LlmError, RetryNotice, RetrySettings, StreamEvent, Usage, ms};

pub use super::http::{
    classify_status, error_chain, error_message, http_client, mentions_tools_unsupported,
    parse_retry_after, parse_retry_after_value, send, transport_error, truncate, url_host,
};

/// Which retry budget a failure counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// 5xx (but 529), 408/409, connection failures, no response headers in time.
    Request,
    /// A cut, stalled, idle or malformed stream.
    Stream,
    /// 429 and overload (529 / `overloaded_error`): retried with patience.
    RateLimit,
}

impl Budget {
    fn name(self) -> &'static str {
        match self {
            Budget::Request => "request",
            Budget::Stream => "stream",
            Budget::RateLimit => "rate-limit",
        }
    }

    fn index(self) -> usize {
        match self {
            Budget::Request => 0,
            Budget::Stream => 1,
            Budget::RateLimit => 2,
        }
    }

    fn limit(self, s: &RetrySettings) -> u32 {
        match self {
            Budget::Request => s.max_retries,
            Budget::Stream => s.stream_retries,
            Budget::RateLimit => s.rate_limit_retries,
        }
    }
}

/// One failed attempt: the error, when the server said so how long to wait, the budget it
/// counts on (`None`: a retry cannot fix it) and the tokens the attempt used.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: LlmError,
    pub retry_after: Option<Duration>,
    pub budget: Option<Budget>,
    /// Model and usage the server reported before the attempt failed.
    pub usage: Option<(String, Usage)>,
    /// Another endpoint of the pool can take the retry at once: no wait.
    pub failover: bool,
}

impl Failure {
    /// Counts this failure on `budget` (when it is retryable at all).
    pub fn on(mut self, budget: Budget) -> Self {
        if self.budget.is_some() {
            self.budget = Some(budget);
        }
        self
    }

    /// Attaches the usage the attempt reported (ignored when zero).
    pub fn with_usage(mut self, model: &str, usage: Usage) -> Self {
        if usage.total() > 0 {
            self.usage = Some((model.to_string(), usage));
        }
        self
    }
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
        let budget = match &error {
            LlmError::RateLimited { .. } | LlmError::Server { status: 529, .. } => {
                Some(Budget::RateLimit)
            }
            LlmError::Server { .. } | LlmError::Unreachable { .. } => Some(Budget::Request),
            LlmError::Stream(_) | LlmError::Timeout(_) => Some(Budget::Stream),
            _ => None,
        };
        Self {
            error,
            retry_after,
            budget,
            usage: None,
            failover: false,
        }
    }
}

/// Runs `attempt` until it succeeds, fails with an error a retry cannot fix, or the budget
/// its failure counts on is used up (for rate limits: the tries or the patience, whichever
/// ends first). Before each wait a [`RetryNotice`] goes to `sink` (so the UI shows it at once
/// and can drop the failed attempt's partial output); all notices are returned with the
/// successful value.
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
    let mut used = [0u32; 3];
    let mut rate_limit_waited = Duration::ZERO;
    let patience = ms(settings.rate_limit_patience_ms);
    loop {
        let failure = match attempt().await {
            Ok(value) => return Ok((value, notices)),
            Err(failure) => failure,
        };
        if let Some((model, usage)) = failure.usage.clone() {
            sink(StreamEvent::Usage { model, usage });
        }
        let attempts = u32::try_from(notices.len()).unwrap_or(u32::MAX);
        let Some(budget) = failure.budget else {
            tracing::debug!(error = %failure.error, "LLM call failed; not retryable");
            return Err(failure.error);
        };
        let delay = match (failure.failover, failure.retry_after) {
            (true, _) => Duration::ZERO,
            (false, Some(after)) => after.min(ms(settings.max_retry_after_ms)),
            (false, None) => backoff(settings, used[budget.index()].saturating_add(1)),
        };
        let limit = budget.limit(settings);
        let impatient =
            budget == Budget::RateLimit && rate_limit_waited.saturating_add(delay) > patience;
        if used[budget.index()] >= limit || impatient {
            tracing::info!(error = %failure.error, budget = budget.name(), "LLM call failed; no retries left");
            return Err(if attempts == 0 {
                failure.error
            } else {
                LlmError::RetriesExhausted {
                    attempts: attempts.saturating_add(1),
                    last: Box::new(failure.error),
                }
            });
        }
        used[budget.index()] += 1;
        if budget == Budget::RateLimit {
            rate_limit_waited = rate_limit_waited.saturating_add(delay);
        }
        let notice = RetryNotice {
            attempt: attempts.saturating_add(1),
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            reason: format!(
                "{} [{} retry {}/{limit}]",
                describe(&failure),
                budget.name(),
                used[budget.index()]
            ),
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

/// [`run_with_retries`] bounded by the overall per-call deadline (`call_timeout_ms`), so no
/// server (endless trickle, keep-alives, retry storms) can hold a call longer.
pub async fn within_deadline<T, F, Fut>(
    settings: &RetrySettings,
    sink: DeltaSink<'_>,
    attempt: F,
) -> Result<(T, Vec<RetryNotice>), LlmError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let limit = ms(settings.call_timeout_ms);
    match tokio::time::timeout(limit, run_with_retries(settings, sink, attempt)).await {
        Ok(result) => result,
        Err(_) => Err(LlmError::Timeout(format!(
            "no complete answer within {} s (call_timeout_ms), retries included",
            limit.as_secs()
        ))),
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
    let mut after = failure
        .retry_after
        .map(|d| format!(" (retry-after {})", human_duration(d)))
        .unwrap_or_default();
    if failure.failover {
        after.push_str(", failing over to another endpoint");
    }
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
    if d == Duration::MAX {
        "too long to honour".into()
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The call flow both HTTP providers share: JSON-in-text preparation when the tool mode asks
/// for it, the wire body, the retried attempts within the call deadline, and the assembled
/// response (model name, retry notices, JSON-in-text tool call). `label` names the provider
/// in the debug log.
pub(crate) async fn call_with_retries<'s, 'p, F, Fut>(
    label: &str,
    pool: &'p super::pool::Pool,
    settings: &super::ProviderSettings,
    req: super::ChatRequest,
    sink: DeltaSink<'s>,
    body_of: impl FnOnce(&super::ChatRequest) -> serde_json::Value,
    attempt: F,
) -> Result<super::ChatResponse, LlmError>
where
    F: Fn(&'p super::pool::Endpoint, std::sync::Arc<serde_json::Value>) -> Fut,
    Fut: Future<Output = Result<super::ChatResponse, Failure>>,
{
    let json_text = settings.tool_mode == super::ToolMode::JsonText;
    let body = std::sync::Arc::new(if json_text {
        body_of(&super::jsontext::prepare(&req))
    } else {
        body_of(&req)
    });
    let url = pool.primary().map(|e| e.url.as_str()).unwrap_or_default();
    tracing::debug!(
        url = %url,
        endpoints = pool.endpoints().len(),
        model = %req.model,
        messages = req.messages.len(),
        tools = req.tools.len(),
        json_text,
        "{label} request"
    );
    let attempt = &attempt;
    let body = &body;
    let (mut response, retries) = within_deadline(&settings.retry, sink, || async move {
        // Each attempt waits for room on an endpoint (adaptive concurrency), then runs there.
        let lease = pool.acquire().await;
        let mut result = attempt(lease.endpoint, body.clone()).await;
        pool.release(lease, &mut result, sink);
        result
    })
    .await?;
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
    fn failures_count_on_their_budget() {
        let budget = |e: LlmError| Failure::from(e).budget;
        let rate = LlmError::RateLimited {
            message: "m".into(),
            retry_after_ms: Some(u64::MAX),
        };
        assert_eq!(budget(rate), Some(Budget::RateLimit));
        let overloaded = LlmError::Server {
            status: 529,
            message: "m".into(),
        };
        assert_eq!(budget(overloaded), Some(Budget::RateLimit));
        let server = LlmError::Server {
            status: 503,
            message: "m".into(),
        };
        assert_eq!(budget(server), Some(Budget::Request));
        assert_eq!(budget(LlmError::Stream("cut".into())), Some(Budget::Stream));
        let timeout = Failure::from(LlmError::Timeout("t".into())).on(Budget::Request);
        assert_eq!(timeout.budget, Some(Budget::Request));
        let fatal = Failure::from(LlmError::Redirected {
            status: 307,
            location: "x".into(),
        })
        .on(Budget::Request);
        assert_eq!(fatal.budget, None);
    }
}
