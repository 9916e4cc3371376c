//! The HTTP side of a sync: one [`PageFetcher`] walks the pages of one stream for one
//! connection, recording request metrics and classifying failures.

use std::time::Instant;

use serde_json::Value;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::classify::{FetchError, classify_status, parse_retry_after};
use super::profile::{Auth, Profile, Stream};
use crate::domain::{Clock, ErrorClass};
use crate::telemetry::Metrics;

/// Builds the HTTP client of a provider.
pub fn client(profile: &Profile) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(profile.timeout)
        // Drop idle connections well before common server keep-alive limits (60–75 s), so a
        // reused connection is not closed under a request.
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")))
        .build()
}

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

/// Walks the pages of one stream.
pub struct PageFetcher<'a> {
    pub client: &'a reqwest::Client,
    pub provider: &'a str,
    pub base_url: &'a str,
    pub connection: &'a str,
    pub profile: &'a Profile,
    pub stream: &'a Stream,
    pub metrics: &'a Metrics,
    pub clock: &'a dyn Clock,
    pub throttle: Arc<Throttle>,
    next: Option<u64>,
    pages: usize,
}

impl<'a> PageFetcher<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: &'a reqwest::Client,
        provider: &'a str,
        base_url: &'a str,
        connection: &'a str,
        profile: &'a Profile,
        stream: &'a Stream,
        metrics: &'a Metrics,
        clock: &'a dyn Clock,
        throttle: Arc<Throttle>,
    ) -> Self {
        Self {
            client,
            provider,
            base_url,
            connection,
            profile,
            stream,
            metrics,
            clock,
            throttle,
            next: Some(1),
            pages: 0,
        }
    }

    /// The next page's records, `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Value>>, FetchError> {
        let Some(page) = self.next else {
            return Ok(None);
        };
        let p = &self.profile.pagination;
        if self.pages >= p.max_pages {
            return Err(FetchError {
                class: ErrorClass::Config,
                reason: format!(
                    "more than {} pages: raise pagination.max_pages",
                    p.max_pages
                ),
                status: None,
                retry_after: None,
                deferred: false,
            });
        }
        let now = self.clock.now_ms();
        let not_before = self.throttle.not_before_ms();
        if now < not_before {
            return Err(FetchError {
                class: ErrorClass::RateLimited,
                reason: "waiting for the provider's Retry-After".into(),
                status: None,
                retry_after: Some(Duration::from_millis((not_before - now) as u64)),
                deferred: true,
            });
        }
        let url = format!(
            "{}{}",
            self.base_url,
            self.stream.path.replace("{connection}", self.connection)
        );
        let mut req = self.client.get(&url).query(&[
            (p.page_param.as_str(), page.to_string()),
            (p.size_param.as_str(), p.page_size.to_string()),
        ]);
        req = match &self.profile.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t.expose()),
            Auth::ApiKey { header, value } => req.header(header.as_str(), value.expose()),
        };
        let started = Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .provider_request(self.provider, None, started.elapsed());
                return Err(transport_error(&e));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.clock.now_ms()));
        let body = resp.bytes().await;
        self.metrics
            .provider_request(self.provider, Some(status), started.elapsed());
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
            .pointer(&self.stream.records)
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| FetchError {
                class: ErrorClass::Schema,
                reason: format!("no record array at {}", self.stream.records),
                status: Some(status),
                retry_after: None,
                deferred: false,
            })?;
        self.pages += 1;
        self.next = json
            .pointer(&p.next_page)
            .and_then(Value::as_u64)
            .filter(|n| *n > page);
        Ok(Some(records))
    }

    pub fn pages(&self) -> usize {
        self.pages
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
