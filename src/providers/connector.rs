//! The HTTP side of syncs: one [`ProviderClient`] per provider, shared by its connections,
//! holds what they share — the HTTP client, credentials (and the OAuth2 token), the token-bucket
//! rate limit, the Retry-After "not before" time and the circuit breaker — and fetches pages with
//! the one resilience mechanism every provider gets: bounded retries with capped, jittered
//! exponential backoff that never calls before a Retry-After expires.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota};
use serde_json::Value;

use super::auth::Authenticator;
use super::breaker::{CircuitBreaker, CircuitState};
use super::classify::{FetchError, classify_status, parse_retry_after};
use super::pagination::Position;
use super::profile::{Profile, Stream};
use crate::domain::{Clock, ErrorClass};
use crate::telemetry::Metrics;

/// A provider's "not before" time, shared by all its connections: set the moment a 429/503
/// with Retry-After arrives, checked before every request.
#[derive(Debug, Default)]
pub struct Throttle(AtomicI64);

impl Throttle {
    pub fn not_before_ms(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }

    pub fn defer_until(&self, ms: i64) {
        self.0.fetch_max(ms, Ordering::AcqRel);
    }
}

/// One page as the API answered it.
#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<Value>,
    pub body: Value,
    pub link: Option<String>,
}

pub struct ProviderClient {
    pub name: String,
    pub base_url: String,
    pub profile: Arc<Profile>,
    client: reqwest::Client,
    auth: Authenticator,
    pub throttle: Throttle,
    limiter: DefaultDirectRateLimiter,
    breaker: Mutex<CircuitBreaker>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

/// The token bucket of a rate limit: `rps` requests a second, `burst` at once.
fn quota(rps: f64, burst: u32) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs_f64(1.0 / rps.max(0.001));
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl ProviderClient {
    pub fn new(
        name: &str,
        base_url: &str,
        profile: Arc<Profile>,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(profile.timeout)
            // Drop idle connections well before common server keep-alive limits (60–75 s), so
            // a reused connection is not closed under a request.
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let rl = &profile.rate_limit;
        metrics.circuit_state(name, CircuitState::Closed.gauge());
        Ok(Self {
            name: name.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            auth: Authenticator::new(&profile.auth, base_url),
            limiter: governor::RateLimiter::direct(quota(rl.requests_per_second, rl.burst)),
            breaker: Mutex::new(CircuitBreaker::new(profile.breaker.clone())),
            throttle: Throttle::default(),
            profile,
            client,
            metrics,
            clock,
        })
    }

    pub fn circuit(&self) -> CircuitState {
        self.breaker().state()
    }

    /// Until when no sync should start: a Retry-After that runs, or an open circuit before
    /// its probe is due.
    pub fn blocked_until(&self, now_ms: i64) -> Option<i64> {
        let throttle = Some(self.throttle.not_before_ms()).filter(|t| *t > now_ms);
        let b = self.breaker();
        let circuit = (b.state() == CircuitState::Open)
            .then(|| b.reopens_at_ms())
            .filter(|t| *t > now_ms);
        throttle.max(circuit)
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Updates the breaker and its gauge.
    fn with_breaker<T>(&self, f: impl FnOnce(&mut CircuitBreaker) -> T) -> T {
        let mut b = self.breaker();
        let before = b.state();
        let out = f(&mut b);
        let after = b.state();
        drop(b);
        if before != after {
            self.metrics.circuit_state(&self.name, after.gauge());
            tracing::warn!(provider = %self.name, circuit = after.as_str(), "provider circuit changed");
        }
        out
    }

    /// One page, retried as the profile says. A `deferred` error sent no request (Retry-After
    /// or open circuit): the sync is rescheduled rather than failed.
    pub async fn fetch(
        &self,
        connection: &str,
        stream: &Stream,
        position: &Position,
        since: Option<&str>,
    ) -> Result<Page, FetchError> {
        let retry = &self.profile.retry;
        let started = Instant::now();
        let mut attempts = 0u32;
        let mut refreshed = false;
        // This page's last failed request: when the circuit opens on it, the sync failed of it.
        let mut last_err: Option<FetchError> = None;
        loop {
            let now = self.clock.now_ms();
            let not_before = self.throttle.not_before_ms();
            if now < not_before {
                let wait = Duration::from_millis((not_before - now) as u64);
                if wait > retry.backoff.max || started.elapsed() + wait > retry.max_elapsed {
                    return Err(deferred(
                        ErrorClass::RateLimited,
                        "waiting for the provider's Retry-After".into(),
                        wait,
                    ));
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            if let Err(until) = self.with_breaker(|b| b.allow(now)) {
                if let Some(e) = last_err {
                    return Err(FetchError {
                        reason: format!("{}; the circuit is open now", e.reason),
                        ..e
                    });
                }
                return Err(deferred(
                    ErrorClass::Server,
                    "circuit open after repeated failures: waiting before a probe".into(),
                    Duration::from_millis((until - now).max(0) as u64),
                ));
            }
            self.limiter.until_ready().await;
            attempts += 1;
            let err = match self.send(connection, stream, position, since).await {
                Ok(page) => {
                    self.with_breaker(CircuitBreaker::success);
                    return Ok(page);
                }
                Err(e) => e,
            };
            let now = self.clock.now_ms();
            if err.status == Some(401) && self.auth.refreshable() && !refreshed {
                // The token expired or was revoked early: one new token, one more try.
                refreshed = true;
                self.auth.invalidate().await;
                self.with_breaker(CircuitBreaker::neutral);
                continue;
            }
            match err.class {
                ErrorClass::Server | ErrorClass::Timeout | ErrorClass::Network => {
                    self.with_breaker(|b| b.failure(now))
                }
                _ => self.with_breaker(CircuitBreaker::neutral),
            }
            let retryable = matches!(
                err.class,
                ErrorClass::Server
                    | ErrorClass::Timeout
                    | ErrorClass::Network
                    | ErrorClass::RateLimited
            );
            if !retryable || !retry.backoff.may_retry(attempts) {
                return Err(err);
            }
            let delay = retry
                .backoff
                .next_delay(attempts, rand::random::<f64>(), err.retry_after);
            if delay > retry.backoff.max || started.elapsed() + delay > retry.max_elapsed {
                return Err(err);
            }
            last_err = Some(err.clone());
            tracing::debug!(provider = %self.name, connection, attempt = attempts, error = %err, retry_in_ms = delay.as_millis() as u64, "request failed, retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// One request.
    async fn send(
        &self,
        connection: &str,
        stream: &Stream,
        position: &Position,
        since: Option<&str>,
    ) -> Result<Page, FetchError> {
        let mut req = match position {
            // A Link target may be relative to the request.
            Position::Url(link) => {
                let url = url::Url::parse(&format!("{}/", self.base_url))
                    .and_then(|base| base.join(link))
                    .map_err(|e| FetchError {
                        class: ErrorClass::Schema,
                        reason: format!("the Link header's next URL {link:?} is invalid: {e}"),
                        status: None,
                        retry_after: None,
                        deferred: false,
                    })?;
                self.client.get(url)
            }
            Position::Query(q) => {
                let url = format!(
                    "{}{}",
                    self.base_url,
                    stream.path.replace("{connection}", connection)
                );
                let mut req = self.client.get(url).query(&stream.params).query(q);
                if let (Some(inc), Some(since)) = (&stream.incremental, since) {
                    req = req.query(&[(inc.param.as_str(), since)]);
                }
                req
            }
        };
        req = self
            .auth
            .apply(&self.client, req, self.clock.now_ms())
            .await?;
        let started = Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .provider_request(&self.name, None, started.elapsed());
                return Err(transport_error(&e));
            }
        };
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after =
            header("retry-after").and_then(|v| parse_retry_after(&v, self.clock.now_ms()));
        let link = header("link");
        let body = resp.bytes().await;
        self.metrics
            .provider_request(&self.name, Some(status), started.elapsed());
        let body = body.map_err(|e| transport_error(&e))?;
        if !(200..300).contains(&status) {
            if let Some(ra) = retry_after {
                self.throttle
                    .defer_until(self.clock.now_ms() + ra.as_millis() as i64);
            }
            let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
            return Err(classify_status(status, &text, retry_after));
        }
        let json: Value = serde_json::from_slice(&body).map_err(|e| FetchError {
            class: ErrorClass::Schema,
            reason: format!("response is not JSON: {e}"),
            status: Some(status),
            retry_after: None,
            deferred: false,
        })?;
        let records = json
            .pointer(&stream.records)
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| FetchError {
                class: ErrorClass::Schema,
                reason: format!("no record array at {:?}", stream.records),
                status: Some(status),
                retry_after: None,
                deferred: false,
            })?;
        Ok(Page {
            records,
            body: json,
            link,
        })
    }
}

fn deferred(class: ErrorClass, reason: String, wait: Duration) -> FetchError {
    FetchError {
        class,
        reason,
        status: None,
        retry_after: Some(wait),
        deferred: true,
    }
}

fn transport_error(e: &reqwest::Error) -> FetchError {
    let (class, what) = if e.is_timeout() {
        (ErrorClass::Timeout, "request timed out")
    } else if e.is_connect() {
        (ErrorClass::Network, "connection failed")
    } else if e.is_body() || e.is_decode() {
        (ErrorClass::Network, "response body interrupted")
    } else {
        (ErrorClass::Network, "request failed")
    };
    // The cause chain says why (refused, reset, DNS); the URL is left out, it may carry secrets.
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let reason = match causes.last() {
        Some(root) => format!("{what}: {root}"),
        None => what.to_string(),
    };
    FetchError {
        class,
        reason,
        status: None,
        retry_after: None,
        deferred: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_follow_the_profile() {
        let q = quota(20.0, 5);
        assert_eq!(q.replenish_interval(), Duration::from_millis(50));
        assert_eq!(q.burst_size().get(), 5);
        let slow = quota(0.5, 1);
        assert_eq!(slow.replenish_interval(), Duration::from_secs(2));
    }
}
