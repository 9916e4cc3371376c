//! Faults and the decision of how the simulator answers a request: pure, given the time and a
//! random number.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What kind of failure a fault injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 401 Unauthorized.
    Auth,
    /// 429 with Retry-After.
    RateLimit,
    /// 503 Service Unavailable.
    ServerError,
    /// Answers after `latency`.
    Slow,
    /// Records that fail validation (no `id`, wrongly typed fields).
    Malformed,
    /// 403 with a body saying the dealer's subscription is still pending (CDK onboarding).
    PendingSubscription,
    /// 403 saying the dealer has not accepted the invite yet (XTime: up to 24 h after it).
    InvitePending,
    /// Records whose dates and numbers changed format (MyKaarma's drift): `updated_at` as
    /// `11/21/2026 10:00`, `amount` as a string.
    FormatDrift,
    /// Every OAuth2 token issued before the fault started is expired (Tekion's token expiry):
    /// requests with one get 401 until a new token is fetched.
    TokenExpiry,
}

impl FaultKind {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// An active or scheduled fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub id: u64,
    pub provider: String,
    pub kind: FaultKind,
    pub from_ms: i64,
    pub until_ms: i64,
    #[serde(skip)]
    pub retry_after: Duration,
    #[serde(skip)]
    pub latency: Duration,
    /// Share of requests (or records, for `malformed`) affected, in (0, 1].
    pub ratio: f64,
}

impl Fault {
    pub fn active(&self, now_ms: i64) -> bool {
        self.from_ms <= now_ms && now_ms < self.until_ms
    }
}

/// How to answer one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Normal,
    Status {
        status: u16,
        retry_after: Option<Duration>,
        body: &'static str,
    },
    Slow(Duration),
    Malformed {
        ratio: f64,
    },
    Drifted {
        ratio: f64,
    },
}

/// The answer for a request to `provider` at `now`, given a uniform random number in [0, 1).
/// The first active fault (in insertion order) whose ratio the random number falls under wins.
pub fn decide(faults: &[Fault], provider: &str, now_ms: i64, unit_random: f64) -> Answer {
    for f in faults
        .iter()
        .filter(|f| f.provider == provider && f.active(now_ms))
    {
        let per_record = matches!(f.kind, FaultKind::Malformed | FaultKind::FormatDrift);
        if !per_record && unit_random >= f.ratio {
            continue;
        }
        return match f.kind {
            FaultKind::Auth => Answer::Status {
                status: 401,
                retry_after: None,
                body: r#"{"error":"invalid_token","message":"The access token is invalid or expired"}"#,
            },
            FaultKind::RateLimit => Answer::Status {
                status: 429,
                retry_after: Some(f.retry_after),
                body: r#"{"error":"rate_limited","message":"Too many requests"}"#,
            },
            FaultKind::ServerError => Answer::Status {
                status: 503,
                retry_after: None,
                body: r#"{"error":"unavailable","message":"Upstream DMS unavailable"}"#,
            },
            FaultKind::PendingSubscription => Answer::Status {
                status: 403,
                retry_after: None,
                body: r#"{"error":"subscription_pending","message":"Dealer subscription is pending activation"}"#,
            },
            FaultKind::InvitePending => Answer::Status {
                status: 403,
                retry_after: None,
                body: r#"{"error":"invite_pending","message":"The dealer has not accepted the integration invite yet; activation can take up to 24 hours"}"#,
            },
            // Decided by the token check, not here.
            FaultKind::TokenExpiry => continue,
            FaultKind::Slow => Answer::Slow(f.latency),
            FaultKind::Malformed => Answer::Malformed { ratio: f.ratio },
            FaultKind::FormatDrift => Answer::Drifted { ratio: f.ratio },
        };
    }
    Answer::Normal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(kind: FaultKind, ratio: f64) -> Fault {
        Fault {
            id: 1,
            provider: "cdk".into(),
            kind,
            from_ms: 1_000,
            until_ms: 2_000,
            retry_after: Duration::from_secs(5),
            latency: Duration::from_secs(3),
            ratio,
        }
    }

    #[test]
    fn a_fault_applies_only_to_its_provider_and_window() {
        let faults = [fault(FaultKind::Auth, 1.0)];
        assert_eq!(decide(&faults, "tekion", 1_500, 0.0), Answer::Normal);
        assert_eq!(decide(&faults, "cdk", 999, 0.0), Answer::Normal);
        assert_eq!(decide(&faults, "cdk", 2_000, 0.0), Answer::Normal);
        assert!(matches!(
            decide(&faults, "cdk", 1_000, 0.0),
            Answer::Status { status: 401, .. }
        ));
    }

    #[test]
    fn rate_limit_carries_retry_after_and_ratio_samples_requests() {
        let faults = [fault(FaultKind::RateLimit, 0.25)];
        assert_eq!(
            decide(&faults, "cdk", 1_500, 0.1),
            Answer::Status {
                status: 429,
                retry_after: Some(Duration::from_secs(5)),
                body: r#"{"error":"rate_limited","message":"Too many requests"}"#
            }
        );
        assert_eq!(decide(&faults, "cdk", 1_500, 0.5), Answer::Normal);
    }

    #[test]
    fn kinds_parse_from_their_api_names() {
        assert_eq!(
            FaultKind::parse("pending_subscription"),
            Some(FaultKind::PendingSubscription)
        );
        assert_eq!(
            FaultKind::parse("server_error"),
            Some(FaultKind::ServerError)
        );
        assert_eq!(
            FaultKind::parse("invite_pending"),
            Some(FaultKind::InvitePending)
        );
        assert_eq!(
            FaultKind::parse("token_expiry"),
            Some(FaultKind::TokenExpiry)
        );
        assert_eq!(FaultKind::parse("boom"), None);
    }
}
