//! Adaptive concurrency and provider pools against the fake server, in both wire formats: a
//! server that answers 429 above k concurrent requests sees in-flight converge to about k
//! (and every call succeed), rate-limit headers pace requests before a 429, a pool spreads
//! requests by weight, sends each key only to its own endpoint, and fails over when an
//! endpoint is down or throttled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::llm::pool::EndpointSettings;
use baton::llm::{Provider, ProviderKind, Secret, StreamEvent, ToolChoice};
use baton::protocol::ThrottleNotice;
use baton::session::build_provider;
use support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse, request};

const KINDS: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::Openai];

fn too_many(kind: ProviderKind) -> ScriptedResponse {
    match kind {
        ProviderKind::Openai => ScriptedResponse::openai_error(429, "slow down"),
        _ => ScriptedResponse::anthropic_error(429, "rate_limit_error", "slow down"),
    }
}

fn ok(kind: ProviderKind, latency_ms: u64) -> ScriptedResponse {
    Reply::new()
        .text("ok")
        .usage(10, 1)
        .for_kind(kind)
        .first_byte_delay(Duration::from_millis(latency_ms))
}

/// The key a request carried, in either wire format.
fn key_of(r: &RecordedRequest) -> String {
    r.header("x-api-key")
        .map(str::to_string)
        .or_else(|| {
            r.header("authorization")
                .map(|v| v.trim_start_matches("Bearer ").to_string())
        })
        .unwrap_or_default()
}

/// `callers` tasks making `each` calls one after another on `provider`; the throttle
/// notices seen.
async fn load(provider: Arc<dyn Provider>, callers: usize, each: usize) -> Vec<ThrottleNotice> {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..callers {
        let p = provider.clone();
        let n = notices.clone();
        tasks.spawn(async move {
            for _ in 0..each {
                let sink = |e: StreamEvent| {
                    if let StreamEvent::Throttle(t) = e {
                        n.lock().unwrap().push(t);
                    }
                };
                p.chat(request("m", &[], ToolChoice::Auto), &sink)
                    .await
                    .expect("every call succeeds");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    notices.lock().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn in_flight_converges_to_what_the_server_allows() {
    const K: usize = 3;
    for kind in KINDS {
        let server = FakeLlm::with_responder(move |r| {
            if r.in_flight > K {
                too_many(kind)
            } else {
                ok(kind, 200)
            }
        })
        .await;
        let mut settings = server.settings(kind);
        settings.retry.rate_limit_retries = 10;
        let provider = build_provider(&settings).unwrap();
        let notices = load(provider, 16, 6).await;

        let reqs = server.requests();
        let ok_count = reqs.iter().filter(|r| r.in_flight <= K).count();
        assert_eq!(ok_count, 96, "{kind}: every call got its answer");
        let rejected = reqs.len() - ok_count;
        // Without adaptation 16 callers against k = 3 would meet ~13 429s per round.
        assert!(
            rejected * 4 < reqs.len(),
            "{kind}: {rejected} of {} requests were rejected",
            reqs.len()
        );
        // Once converged (the second half), in-flight stays within one probe of k and
        // does not collapse.
        let late = &reqs[reqs.len() / 2..];
        let max = late.iter().map(|r| r.in_flight).max().unwrap();
        assert!(max <= K + 1, "{kind}: {max} in flight after convergence");
        let mean = late.iter().map(|r| r.in_flight).sum::<usize>() as f64 / late.len() as f64;
        assert!(
            mean >= 1.8,
            "{kind}: mean in flight {mean:.2} collapsed below k"
        );
        // Throttling was announced with its reason.
        let first = notices.first().expect("a throttle notice");
        assert!(first.active, "{first:?}");
        assert_eq!(first.reason, "429 rate limited");
        assert_eq!(first.endpoint, "127.0.0.1");
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_headers_pace_requests_before_a_429() {
    for kind in KINDS {
        let server = FakeLlm::with_responder(move |r| {
            let reply = ok(kind, 0);
            if r.index > 0 {
                return reply;
            }
            match kind {
                ProviderKind::Openai => reply
                    .header("x-ratelimit-remaining-requests", "0")
                    .header("x-ratelimit-reset-requests", "2s"),
                _ => {
                    let reset = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
                    reply
                        .header("anthropic-ratelimit-requests-remaining", "0")
                        .header("anthropic-ratelimit-requests-reset", &reset)
                }
            }
        })
        .await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let notices = Mutex::new(Vec::new());
        let sink = |e: StreamEvent| {
            if let StreamEvent::Throttle(t) = e {
                notices.lock().unwrap().push(t);
            }
        };
        for _ in 0..2 {
            provider
                .chat(request("m", &[], ToolChoice::Auto), &sink)
                .await
                .unwrap();
        }
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2, "{kind}: no 429, no retry");
        let gap = reqs[1].at - reqs[0].at;
        assert!(
            gap >= Duration::from_millis(1500),
            "{kind}: the second request waited only {gap:?}"
        );
        let n = notices.lock().unwrap();
        assert!(
            n.iter()
                .any(|t| t.active && t.reason.contains("rate-limit headers")),
            "{kind}: {n:?}"
        );
    }
}

fn pool_settings(
    kind: ProviderKind,
    a: &FakeLlm,
    b_url: String,
    weights: (u32, u32),
) -> baton::llm::ProviderSettings {
    let mut s = a.settings(kind);
    s.api_key = Secret::new("sk-main-NOT-FOR-POOLS");
    s.pool = vec![
        EndpointSettings {
            base_url: a.base_url(kind),
            api_key: Secret::new("sk-key-A"),
            weight: weights.0,
            max_concurrent: Some(4),
        },
        EndpointSettings {
            base_url: b_url,
            api_key: Secret::new("sk-key-B"),
            weight: weights.1,
            max_concurrent: Some(4),
        },
    ];
    s
}

#[tokio::test(start_paused = true)]
async fn a_pool_spreads_by_weight_and_each_key_goes_only_to_its_endpoint() {
    for kind in KINDS {
        let a = FakeLlm::with_responder(move |_| ok(kind, 50)).await;
        let b = FakeLlm::with_responder(move |_| ok(kind, 50)).await;
        let settings = pool_settings(kind, &a, b.base_url(kind), (3, 1));
        let provider = build_provider(&settings).unwrap();
        load(provider, 4, 20).await;
        let (ra, rb) = (a.requests(), b.requests());
        assert_eq!(ra.len() + rb.len(), 80, "{kind}");
        assert!(ra.iter().all(|r| key_of(r) == "sk-key-A"), "{kind}");
        assert!(rb.iter().all(|r| key_of(r) == "sk-key-B"), "{kind}");
        // 3:1, with room on both: A takes clearly more, B still gets some.
        assert!(
            ra.len() > rb.len() && !rb.is_empty(),
            "{kind}: {} vs {}",
            ra.len(),
            rb.len()
        );
        // Per-endpoint concurrency holds.
        assert!(a.max_in_flight() <= 4 && b.max_in_flight() <= 4, "{kind}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_pool_fails_over_when_an_endpoint_is_down_or_throttled() {
    for kind in KINDS {
        // Down: nothing listens at A's address any more.
        let dead = FakeLlm::start([]).await;
        let dead_url = dead.base_url(kind);
        drop(dead);
        let b = FakeLlm::with_responder(move |_| ok(kind, 10)).await;
        let mut settings = pool_settings(kind, &b, dead_url.clone(), (1, 1));
        settings.pool.swap(0, 1);
        settings.pool[0].base_url = dead_url;
        settings.pool[0].api_key = Secret::new("sk-key-A");
        settings.pool[1].api_key = Secret::new("sk-key-B");
        let provider = build_provider(&settings).unwrap();
        load(provider, 2, 10).await;
        let rb = b.requests();
        assert_eq!(
            rb.len(),
            20,
            "{kind}: every call landed on the live endpoint"
        );
        assert!(rb.iter().all(|r| key_of(r) == "sk-key-B"), "{kind}");

        // Throttled: A answers 429 to everything; B takes the work without a wait.
        let a = FakeLlm::with_responder(move |_| too_many(kind).header("retry-after", "30")).await;
        let b = FakeLlm::with_responder(move |_| ok(kind, 10)).await;
        let settings = pool_settings(kind, &a, b.base_url(kind), (1, 1));
        let provider = build_provider(&settings).unwrap();
        let started = tokio::time::Instant::now();
        load(provider, 2, 10).await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{kind}: a retry-after of 30 s on A held the calls for {:?}",
            started.elapsed()
        );
        assert_eq!(b.requests().len(), 20, "{kind}");
        assert!(
            a.requests().len() <= 2,
            "{kind}: A was hammered: {}",
            a.requests().len()
        );
        assert!(
            a.requests().iter().all(|r| key_of(r) == "sk-key-A"),
            "{kind}"
        );
        assert!(
            b.requests().iter().all(|r| key_of(r) == "sk-key-B"),
            "{kind}"
        );
    }
}
