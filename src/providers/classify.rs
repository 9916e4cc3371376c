//! Turning provider failures into an `error_class` and a provider-specific reason. Pure.

use std::time::Duration;

use crate::domain::ErrorClass;

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{class}: {reason}")]
pub struct FetchError {
    pub class: ErrorClass,
    /// Provider-specific detail (kept in `sync_runs`, never in metric labels).
    pub reason: String,
    pub status: Option<u16>,
    /// What a 429 or 503 asked for.
    pub retry_after: Option<Duration>,
    /// No request was sent: the provider's Retry-After had not expired yet.
    pub deferred: bool,
}

/// Classifies a non-success HTTP answer.
pub fn classify_status(status: u16, body: &str, retry_after: Option<Duration>) -> FetchError {
    let lower = body.to_ascii_lowercase();
    let (class, reason) = match status {
        403 if lower.contains("subscription_pending") || lower.contains("pending activation") => (
            ErrorClass::Config,
            "subscription pending: the dealer's API subscription is not active yet".to_string(),
        ),
        403 if lower.contains("invite_pending") || lower.contains("not accepted the") => (
            ErrorClass::Config,
            "invite pending: the dealer has not accepted the integration invite yet (can take 24 h)"
                .to_string(),
        ),
        401 if lower.contains("token_expired") => (
            ErrorClass::Auth,
            "access token expired and a new one was refused or expired too".to_string(),
        ),
        401 => (ErrorClass::Auth, "credentials rejected (401)".to_string()),
        403 => (ErrorClass::Auth, "access forbidden (403)".to_string()),
        429 => (ErrorClass::RateLimited, "rate limited (429)".to_string()),
        s => (ErrorClass::from_status(s), format!("HTTP {s}")),
    };
    FetchError {
        class,
        reason,
        status: Some(status),
        retry_after,
        deferred: false,
    }
}

/// Parses a Retry-After value: delay seconds or an HTTP date (relative to `now_ms`).
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v)
        .ok()?
        .timestamp_millis();
    Some(Duration::from_millis((at - now_ms).max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies_tell_causes_apart() {
        assert_eq!(classify_status(401, "", None).class, ErrorClass::Auth);
        let pending = classify_status(403, r#"{"error":"subscription_pending"}"#, None);
        assert_eq!(pending.class, ErrorClass::Config);
        assert!(pending.reason.contains("subscription pending"));
        assert_eq!(classify_status(403, "nope", None).class, ErrorClass::Auth);
        let invite = classify_status(403, r#"{"error":"invite_pending"}"#, None);
        assert_eq!(invite.class, ErrorClass::Config);
        assert!(
            invite.reason.starts_with("invite pending"),
            "{}",
            invite.reason
        );
        assert!(
            classify_status(401, r#"{"error":"token_expired"}"#, None)
                .reason
                .contains("expired")
        );
        assert_eq!(
            classify_status(429, "", Some(Duration::from_secs(3))).retry_after,
            Some(Duration::from_secs(3))
        );
        assert_eq!(classify_status(503, "", None).class, ErrorClass::Server);
        assert_eq!(classify_status(404, "", None).class, ErrorClass::Client);
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("5", 0), Some(Duration::from_secs(5)));
        let now = chrono::DateTime::parse_from_rfc2822("Sat, 21 Nov 2026 10:00:00 GMT")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            parse_retry_after("Sat, 21 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
