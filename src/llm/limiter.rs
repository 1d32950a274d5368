//! Adaptive concurrency of one provider endpoint: AIMD on the requests in flight, and pacing
//! from the server's rate-limit headers before a 429 happens.
//!
//! Owns: the limit (halved on a 429/529, grown by one per window of successes up to the
//! endpoint's `max_concurrent`), the request budget the headers announce
//! (`anthropic-ratelimit-*`, `x-ratelimit-*`: at most `remaining` more requests before the
//! reset, a pause when tokens run out), a pause after a `retry-after`, and the
//! [`ThrottleNotice`]s that say when Baton starts and stops holding requests back and why.
//! A pure state machine behind the endpoint's lock: `pool` waits for it and calls it.
//! Must not: sleep, do I/O, or see keys.

use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::protocol::ThrottleNotice;

/// The ceiling of an endpoint's limit when the config gives no `max_concurrent`.
pub const DEFAULT_MAX_CONCURRENT: u32 = 64;

/// What the server's rate-limit headers say (each `None` when absent or unreadable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests_remaining: Option<u64>,
    pub requests_reset: Option<Duration>,
    pub tokens_remaining: Option<u64>,
    pub tokens_reset: Option<Duration>,
}

impl RateHeaders {
    /// Reads both header families: Anthropic (`anthropic-ratelimit-requests-remaining`,
    /// `...-reset` as an RFC 3339 time; tokens: the smallest of `tokens`, `input-tokens`,
    /// `output-tokens`) and OpenAI-compatible (`x-ratelimit-remaining-requests`,
    /// `x-ratelimit-reset-requests` as `1s`, `6m0s`, `20ms`).
    pub fn parse(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let number = |name: &str| text(name).and_then(|v| v.trim().parse::<u64>().ok());
        let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let anthropic_reset = |name: &str| text(name).and_then(|v| until_rfc3339(v, now));
        let openai_reset = |name: &str| text(name).and_then(go_duration);
        let tokens = min(
            number("anthropic-ratelimit-tokens-remaining"),
            min(
                number("anthropic-ratelimit-input-tokens-remaining"),
                number("anthropic-ratelimit-output-tokens-remaining"),
            ),
        );
        Self {
            requests_remaining: number("anthropic-ratelimit-requests-remaining")
                .or_else(|| number("x-ratelimit-remaining-requests")),
            requests_reset: anthropic_reset("anthropic-ratelimit-requests-reset")
                .or_else(|| openai_reset("x-ratelimit-reset-requests")),
            tokens_remaining: tokens.or_else(|| number("x-ratelimit-remaining-tokens")),
            tokens_reset: anthropic_reset("anthropic-ratelimit-tokens-reset")
                .or_else(|| anthropic_reset("anthropic-ratelimit-input-tokens-reset"))
                .or_else(|| openai_reset("x-ratelimit-reset-tokens")),
        }
    }
}

/// Time from `now` to an RFC 3339 instant (zero when past).
fn until_rfc3339(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc3339(v.trim()).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// A Go-style duration (`1s`, `6m0s`, `1h2m3.5s`, `20ms`) as a checked [`Duration`].
pub fn go_duration(v: &str) -> Option<Duration> {
    let mut rest = v.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * scale;
    }
    if !total.is_finite() || total < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(total).unwrap_or(Duration::MAX))
}

/// A request in flight: the limiter's epoch when it started (decisions made after it
/// started are not made again for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    epoch: u64,
}

/// How a request ended, for the limit.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// 429 or 529 / overloaded: halve. `pause` is the server's `retry-after`.
    Overloaded {
        reason: String,
        pause: Option<Duration>,
    },
    /// Any other failure: no signal about load.
    Other,
}

/// The adaptive limit of one endpoint.
#[derive(Debug, Clone)]
pub struct Limiter {
    host: String,
    max: u32,
    limit: u32,
    in_flight: u32,
    epoch: u64,
    successes: u32,
    /// No new request before this instant (a `retry-after`, or a budget used up).
    paused_until: Option<Instant>,
    /// Requests the headers still allow before `budget_reset`.
    budget: Option<(u64, Instant)>,
    /// The demand when the current throttling episode began; it ends when the limit is back.
    episode: Option<u32>,
    /// The longest pause honoured.
    max_pause: Duration,
}

/// The longest pause a limiter ever takes, whatever the configuration says
/// (`retry.max_retry_after_ms` is any u64 from a config file): every pause is `now + pause`
/// on an `Instant`, which must stay far from overflow, and a wait of more than a day is
/// never what a person meant.
const PAUSE_CEILING: Duration = Duration::from_secs(24 * 60 * 60);

impl Limiter {
    /// A limiter for `host` (display only) allowing at most `max_concurrent` requests at once.
    /// Pauses are capped at `max_pause` (and at a day).
    pub fn new(host: &str, max_concurrent: u32, max_pause: Duration) -> Self {
        let max = max_concurrent.max(1);
        Self {
            host: host.to_string(),
            max,
            limit: max,
            in_flight: 0,
            epoch: 0,
            successes: 0,
            paused_until: None,
            budget: None,
            episode: None,
            max_pause: max_pause.min(PAUSE_CEILING),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// When a request may start no earlier than some instant, that instant.
    pub fn ready_at(&self, now: Instant) -> Option<Instant> {
        let paused = self.paused_until.filter(|t| *t > now);
        let budget = match self.budget {
            Some((0, reset)) if reset > now => Some(reset),
            _ => None,
        };
        paused.max(budget)
    }

    /// Whether a request may start now.
    pub fn can_start(&self, now: Instant) -> bool {
        self.in_flight < self.limit && self.ready_at(now).is_none()
    }

    /// Starts a request when one may start now.
    pub fn try_start(&mut self, now: Instant) -> Option<Ticket> {
        if !self.can_start(now) {
            return None;
        }
        self.in_flight += 1;
        if let Some((left, reset)) = &mut self.budget {
            if *reset <= now {
                self.budget = None;
            } else {
                *left = left.saturating_sub(1);
            }
        }
        Some(Ticket { epoch: self.epoch })
    }

    /// The rate-limit headers of a response: pace before the server says 429.
    pub fn observe(&mut self, h: &RateHeaders, now: Instant) -> Option<ThrottleNotice> {
        let mut notice = None;
        if let (Some(left), Some(reset)) = (h.requests_remaining, h.requests_reset) {
            let reset = now + reset.min(self.max_pause);
            self.budget = Some((left, reset));
            if left == 0 {
                notice = Some(self.notice(
                    true,
                    format!(
                        "the server allows no more requests for {} (rate-limit headers)",
                        human(reset - now)
                    ),
                ));
            }
        }
        if let (Some(0), Some(reset)) = (h.tokens_remaining, h.tokens_reset) {
            let pause = reset.min(self.max_pause);
            self.pause(now + pause);
            notice = Some(self.notice(
                true,
                format!(
                    "the token allowance is used up for {} (rate-limit headers)",
                    human(pause)
                ),
            ));
        }
        notice
    }

    /// A request ended. Returns a notice when throttling starts, changes or ends.
    pub fn finish(
        &mut self,
        ticket: Ticket,
        outcome: &Outcome,
        now: Instant,
    ) -> Option<ThrottleNotice> {
        let observed = self.in_flight;
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Success => {
                if ticket.epoch != self.epoch || self.limit >= self.max {
                    return self.episode_over(now);
                }
                self.successes += 1;
                // One window: as many successes as the limit allows at once.
                if self.successes >= self.limit {
                    self.successes = 0;
                    self.limit += 1;
                }
                self.episode_over(now)
            }
            Outcome::Overloaded { reason, pause } => {
                if let Some(p) = pause {
                    self.pause(now + (*p).min(self.max_pause));
                }
                if ticket.epoch != self.epoch {
                    // Halved already for requests started before that decision.
                    return None;
                }
                self.epoch += 1;
                self.successes = 0;
                self.episode.get_or_insert(observed.max(2));
                self.limit = (self.limit.min(observed) / 2).max(1);
                Some(self.notice(true, reason.clone()))
            }
            Outcome::Other => None,
        }
    }

    fn pause(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |t| t.max(until)));
    }

    /// The "no longer throttling" notice once the limit is back where the demand was.
    fn episode_over(&mut self, now: Instant) -> Option<ThrottleNotice> {
        let demand = self.episode?;
        if self.limit >= demand.min(self.max) && self.ready_at(now).is_none() {
            self.episode = None;
            return Some(self.notice(false, "the limit is back".into()));
        }
        None
    }

    fn notice(&self, active: bool, reason: String) -> ThrottleNotice {
        ThrottleNotice {
            endpoint: self.host.clone(),
            active,
            limit: self.limit,
            reason,
        }
    }
}

fn human(d: Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overloaded() -> Outcome {
        Outcome::Overloaded {
            reason: "429 rate limited".into(),
            pause: None,
        }
    }

    /// `retry.max_retry_after_ms = u64::MAX` in a config and a server asking for the longest
    /// wait: the pause is capped at a day.
    #[test]
    fn a_huge_configured_pause_is_capped_not_an_overflow() {
        let now = Instant::now();
        let mut l = Limiter::new("h", 4, Duration::from_millis(u64::MAX));
        let t = l.try_start(now).unwrap();
        let asked = Outcome::Overloaded {
            reason: "429 rate limited".into(),
            pause: Some(Duration::MAX),
        };
        l.finish(t, &asked, now);
        let ready = l.ready_at(now).unwrap();
        assert!(ready <= now + PAUSE_CEILING);
    }

    #[test]
    fn halves_once_per_decision_and_grows_by_one_per_window() {
        let now = Instant::now();
        let mut l = Limiter::new("h", 16, Duration::from_secs(60));
        let tickets: Vec<Ticket> = (0..8).map(|_| l.try_start(now).unwrap()).collect();
        let first = l.finish(tickets[0], &overloaded(), now).unwrap();
        assert!(first.active);
        assert_eq!(l.limit(), 4, "min(16, 8 in flight) / 2");
        // The others started before that decision: no second halving.
        assert!(l.finish(tickets[1], &overloaded(), now).is_none());
        assert_eq!(l.limit(), 4);
        for t in &tickets[2..] {
            l.finish(*t, &Outcome::Success, now);
        }
        assert_eq!(
            l.limit(),
            4,
            "successes of old requests do not grow the limit"
        );
        for _ in 0..4 {
            let t = l.try_start(now).unwrap();
            l.finish(t, &Outcome::Success, now);
        }
        assert_eq!(l.limit(), 5);
        // Back at the demand of 8: the episode ends with a notice.
        let mut ended = None;
        for _ in 0..40 {
            let t = l.try_start(now).unwrap();
            if let Some(n) = l.finish(t, &Outcome::Success, now) {
                ended = Some(n);
                break;
            }
        }
        let ended = ended.unwrap();
        assert!(!ended.active);
        assert_eq!(ended.limit, 8);
    }

    #[test]
    fn never_below_one_and_never_above_the_ceiling() {
        let now = Instant::now();
        let mut l = Limiter::new("h", 2, Duration::from_secs(60));
        for _ in 0..5 {
            let t = l.try_start(now).unwrap();
            l.finish(t, &overloaded(), now);
        }
        assert_eq!(l.limit(), 1);
        for _ in 0..20 {
            let t = l.try_start(now).unwrap();
            l.finish(t, &Outcome::Success, now);
        }
        assert_eq!(l.limit(), 2);
        let _a = l.try_start(now).unwrap();
        let _b = l.try_start(now).unwrap();
        assert!(l.try_start(now).is_none());
    }

    #[test]
    fn headers_pace_before_a_429() {
        let now = Instant::now();
        let mut l = Limiter::new("h", 8, Duration::from_secs(60));
        let h = RateHeaders {
            requests_remaining: Some(1),
            requests_reset: Some(Duration::from_secs(2)),
            ..RateHeaders::default()
        };
        assert!(l.observe(&h, now).is_none());
        assert!(l.try_start(now).is_some());
        assert!(l.try_start(now).is_none(), "the budget is used up");
        assert_eq!(l.ready_at(now), Some(now + Duration::from_secs(2)));
        assert!(l.try_start(now + Duration::from_secs(2)).is_some());
        let empty = RateHeaders {
            tokens_remaining: Some(0),
            tokens_reset: Some(Duration::from_secs(600)),
            ..RateHeaders::default()
        };
        let n = l.observe(&empty, now).unwrap();
        assert!(n.active && n.reason.contains("token"), "{n:?}");
        assert_eq!(
            l.ready_at(now),
            Some(now + Duration::from_secs(60)),
            "capped"
        );
    }

    #[test]
    fn header_values_parse_in_both_families() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
        h.insert("x-ratelimit-reset-requests", "1m30.5s".parse().unwrap());
        h.insert("x-ratelimit-remaining-tokens", "garbage".parse().unwrap());
        let now = chrono::Utc::now();
        let r = RateHeaders::parse(&h, now);
        assert_eq!(r.requests_remaining, Some(0));
        assert_eq!(r.requests_reset, Some(Duration::from_millis(90_500)));
        assert_eq!(r.tokens_remaining, None);
        let mut a = HeaderMap::new();
        let reset = (now + chrono::Duration::seconds(5)).to_rfc3339();
        a.insert(
            "anthropic-ratelimit-requests-remaining",
            "3".parse().unwrap(),
        );
        a.insert("anthropic-ratelimit-requests-reset", reset.parse().unwrap());
        a.insert(
            "anthropic-ratelimit-input-tokens-remaining",
            "10".parse().unwrap(),
        );
        a.insert(
            "anthropic-ratelimit-tokens-remaining",
            "20".parse().unwrap(),
        );
        let r = RateHeaders::parse(&a, now);
        assert_eq!(r.requests_remaining, Some(3));
        assert!(r.requests_reset.unwrap() <= Duration::from_secs(5));
        assert_eq!(r.tokens_remaining, Some(10));
        for bad in ["", "5", "1x", "-1s", "1e400s"] {
            let d = go_duration(bad);
            assert!(d.is_none() || d == Some(Duration::MAX), "{bad}: {d:?}");
        }
        assert_eq!(go_duration("20ms"), Some(Duration::from_millis(20)));
    }
}
