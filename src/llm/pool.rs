//! The endpoints one HTTP provider sends to: a single base URL, or a pool of several
//! endpoints/keys with weights and per-endpoint concurrency.
//!
//! Owns: each endpoint's URL, key, HTTP client, adaptive [`Limiter`] and health; choosing the
//! endpoint of each attempt (weighted among those that are up and have room, waiting when
//! none has), marking an endpoint down after a request failure and failing over to another
//! at once, and turning limiter changes into [`StreamEvent::Throttle`] notices.
//! A key is only ever sent to its own endpoint: it lives in the [`Endpoint`] the attempt is
//! given, nowhere else. Must not: know a wire format (providers build bodies) or log keys.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::limiter::{DEFAULT_MAX_CONCURRENT, Limiter, Outcome, RateHeaders, Ticket};
use super::retry::{Budget, Failure};
use super::{DeltaSink, LlmError, ProviderSettings, Secret, StreamEvent, ms};

/// One endpoint of a pool as configured (`[[pools.NAME.endpoints]]`, docs/providers.md).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EndpointSettings {
    pub base_url: String,
    /// This endpoint's own key (empty for servers that need none).
    pub api_key: Secret,
    /// Share of the requests relative to the other endpoints' weights.
    pub weight: u32,
    /// The most requests in flight at once (the ceiling of the adaptive limit).
    pub max_concurrent: Option<u32>,
}

/// One endpoint as the provider uses it.
pub struct Endpoint {
    /// The base URL as configured, trimmed (for display).
    pub base_url: String,
    /// The request URL (`.../v1/messages`, `.../chat/completions`).
    pub url: String,
    pub key: Secret,
    pub client: reqwest::Client,
    pub host: String,
    weight: u32,
    state: Mutex<EndpointState>,
}

struct EndpointState {
    limiter: Limiter,
    /// After a request failure: no new request before this instant (pools of two or more).
    down_until: Option<Instant>,
    failures: u32,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("key", &self.key)
            .field("weight", &self.weight)
            .finish()
    }
}

impl Endpoint {
    fn lock(&self) -> MutexGuard<'_, EndpointState> {
        // A poisoned lock only means another call panicked mid-update; the counters are
        // still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The limit and in-flight count now (for tests and diagnostics).
    pub fn load(&self) -> (u32, u32) {
        let s = self.lock();
        (s.limiter.limit(), s.limiter.in_flight())
    }
}

/// A started attempt on one endpoint.
pub struct Lease<'a> {
    pub endpoint: &'a Endpoint,
    ticket: Ticket,
}

/// The endpoints of one provider.
pub struct Pool {
    endpoints: Vec<Endpoint>,
    wake: Notify,
    backoff: (u64, u64),
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.endpoints).finish()
    }
}

impl Pool {
    /// The endpoints of `settings`: its `pool`, else its one `base_url`/`api_key`.
    /// `resolve` turns a base URL into (trimmed base, request URL, host) or says what is
    /// wrong with it; `needs_key` refuses an endpoint without a key.
    pub fn new(
        settings: &ProviderSettings,
        resolve: impl Fn(&str) -> Result<(String, String, String), LlmError>,
        needs_key: impl Fn(&str, &Secret) -> Result<(), LlmError>,
    ) -> Result<Self, LlmError> {
        let single = [EndpointSettings {
            base_url: settings.base_url.clone(),
            api_key: settings.api_key.clone(),
            weight: 1,
            max_concurrent: settings.max_concurrent,
        }];
        let list: &[EndpointSettings] = if settings.pool.is_empty() {
            &single
        } else {
            &settings.pool
        };
        let mut endpoints = Vec::with_capacity(list.len());
        for e in list {
            let (base_url, url, host) = resolve(&e.base_url)?;
            needs_key(&host, &e.api_key)?;
            let client = super::http::http_client_for(&base_url, &settings.retry)?;
            let limiter = Limiter::new(
                &host,
                e.max_concurrent.unwrap_or(DEFAULT_MAX_CONCURRENT),
                ms(settings.retry.max_retry_after_ms),
            );
            endpoints.push(Endpoint {
                base_url,
                url,
                key: e.api_key.clone(),
                client,
                host,
                weight: e.weight.max(1),
                state: Mutex::new(EndpointState {
                    limiter,
                    down_until: None,
                    failures: 0,
                }),
            });
        }
        Ok(Self {
            endpoints,
            wake: Notify::new(),
            backoff: (
                settings.retry.initial_backoff_ms,
                settings.retry.max_backoff_ms,
            ),
        })
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The first endpoint (what a single-endpoint provider shows).
    pub fn primary(&self) -> Option<&Endpoint> {
        self.endpoints.first()
    }

    /// Waits until some endpoint may take a request and starts it there: weighted at random
    /// among the endpoints that are up and have room.
    pub async fn acquire(&self) -> Lease<'_> {
        loop {
            let wake = self.wake.notified();
            let now = Instant::now();
            let mut open: Vec<(usize, u32)> = Vec::new();
            let mut next: Option<Instant> = None;
            for (i, e) in self.endpoints.iter().enumerate() {
                let s = e.lock();
                let down = s.down_until.filter(|t| *t > now);
                let ready = s.limiter.ready_at(now).max(down);
                match ready {
                    Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                    None if s.limiter.can_start(now) => open.push((i, e.weight)),
                    None => {}
                }
            }
            if let Some(i) = pick(&open)
                && let Some(ticket) = self.endpoints[i].lock().limiter.try_start(now)
            {
                return Lease {
                    endpoint: &self.endpoints[i],
                    ticket,
                };
            }
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = wake => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => wake.await,
            }
        }
    }

    /// Ends an attempt: its outcome adjusts the endpoint's limit and health; a notice goes to
    /// `sink` when throttling starts or ends. A failure that another endpoint can take at once
    /// is marked for failover (retried there without waiting).
    pub fn release<T>(
        &self,
        lease: Lease<'_>,
        result: &mut Result<T, Failure>,
        sink: DeltaSink<'_>,
    ) {
        let now = Instant::now();
        let ep = lease.endpoint;
        let outcome = match &*result {
            Ok(_) => Outcome::Success,
            Err(f) if f.budget == Some(Budget::RateLimit) => Outcome::Overloaded {
                reason: short_reason(&f.error),
                pause: f.retry_after,
            },
            Err(_) => Outcome::Other,
        };
        let notice = {
            let mut s = ep.lock();
            match &*result {
                Ok(_) => {
                    s.failures = 0;
                    s.down_until = None;
                }
                Err(f) if f.budget == Some(Budget::Request) && self.endpoints.len() > 1 => {
                    s.failures = s.failures.saturating_add(1);
                    let exp = s.failures.saturating_sub(1).min(16);
                    let down = self.backoff.0.saturating_mul(1 << exp).min(self.backoff.1);
                    s.down_until = Some(now + ms(down.max(1)));
                }
                Err(_) => {}
            }
            s.limiter.finish(lease.ticket, &outcome, now)
        };
        if let Some(n) = notice {
            sink(StreamEvent::Throttle(n));
        }
        if let Err(f) = result
            && f.budget.is_some()
            && self.endpoints.len() > 1
        {
            f.failover = self.other_open(ep, now);
        }
        self.wake.notify_waiters();
    }

    /// Sends `request` to `endpoint`, reads its rate-limit headers and opens its event stream.
    pub async fn open_stream(
        &self,
        endpoint: &Endpoint,
        request: reqwest::RequestBuilder,
        retry: &super::RetrySettings,
        key_hint: &str,
        sink: DeltaSink<'_>,
    ) -> Result<super::sse::SseStream, Failure> {
        let response = super::http::send(request, retry, &endpoint.url, key_hint).await?;
        self.observe(endpoint, response.headers(), sink);
        super::sse::SseStream::open(response, retry).await
    }

    /// The rate-limit headers of a response from `endpoint`.
    pub fn observe(
        &self,
        endpoint: &Endpoint,
        headers: &reqwest::header::HeaderMap,
        sink: DeltaSink<'_>,
    ) {
        let parsed = RateHeaders::parse(headers, chrono::Utc::now());
        if parsed == RateHeaders::default() {
            return;
        }
        let notice = endpoint.lock().limiter.observe(&parsed, Instant::now());
        if let Some(n) = notice {
            sink(StreamEvent::Throttle(n));
        }
    }

    /// Whether another endpoint could take a request now.
    fn other_open(&self, failed: &Endpoint, now: Instant) -> bool {
        self.endpoints
            .iter()
            .filter(|e| !std::ptr::eq(*e, failed))
            .any(|e| {
                let s = e.lock();
                s.down_until.is_none_or(|t| t <= now) && s.limiter.can_start(now)
            })
    }
}

/// Weighted random choice of an index.
fn pick(open: &[(usize, u32)]) -> Option<usize> {
    let total: u64 = open.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let mut r = fastrand::u64(0..total);
    for (i, w) in open {
        let w = u64::from(*w);
        if r < w {
            return Some(*i);
        }
        r -= w;
    }
    open.last().map(|(i, _)| *i)
}

fn short_reason(e: &LlmError) -> String {
    match e {
        LlmError::RateLimited { .. } => "429 rate limited".into(),
        LlmError::Server { status: 529, .. } => "529 overloaded".into(),
        other => super::http::truncate(&other.to_string(), 120),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_choice_follows_the_weights() {
        let open = [(0, 3), (1, 1)];
        let mut counts = [0u32; 2];
        for _ in 0..4000 {
            counts[pick(&open).unwrap()] += 1;
        }
        assert!((2700..=3300).contains(&counts[0]), "{counts:?}");
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&[(4, 1)]), Some(4));
    }
}
