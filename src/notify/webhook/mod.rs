//! Webhooks: Alertmanager's v4 JSON payload, field for field, POSTed to the configured URL, with
//! an `X-Syncwatch-Signature: sha256=<hex HMAC-SHA256 of the body>` header when a secret is set.

pub mod config;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::{FailureReason, Notification, Notifier, NotifyError};
use crate::domain::clock::rfc3339_go;
use crate::domain::{Alert, Annotations, Labels};
use crate::providers::classify::parse_retry_after;
use config::WebhookConfig;

/// Go's zero time, which Alertmanager sends as `endsAt` of firing alerts.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub version: &'static str,
    pub group_key: String,
    pub truncated_alerts: usize,
    pub status: &'static str,
    pub receiver: String,
    pub group_labels: Labels,
    pub common_labels: Labels,
    pub common_annotations: Annotations,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<PayloadAlert>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadAlert {
    pub status: &'static str,
    pub labels: Labels,
    pub annotations: Annotations,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: String,
}

fn common<'a>(maps: impl Iterator<Item = Vec<(&'a str, &'a str)>>) -> Vec<(String, String)> {
    let mut maps = maps.peekable();
    let Some(first) = maps.next() else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = first
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for m in maps {
        out.retain(|(k, v)| m.iter().any(|(mk, mv)| mk == k && mv == v));
    }
    out
}

/// The most alerts a payload lists when `max_alerts` is 0 (about 4 MB of JSON).
pub const MAX_PAYLOAD_ALERTS: usize = 10_000;

/// The v4 payload of a notification; `max_alerts` 0 keeps every alert.
pub fn payload(n: &Notification, max_alerts: usize) -> Payload {
    let alerts: Vec<&Alert> = n.alerts.iter().map(AsRef::as_ref).collect();
    let kept = if max_alerts > 0 {
        alerts.len().min(max_alerts)
    } else {
        alerts.len()
    };
    let common_labels: Labels = common(alerts.iter().map(|a| a.labels.iter().collect()))
        .into_iter()
        .collect();
    let common_annotations: Annotations =
        common(alerts.iter().map(|a| a.annotations.iter().collect()))
            .into_iter()
            .collect();
    Payload {
        version: "4",
        group_key: n.group_key.clone(),
        truncated_alerts: alerts.len() - kept + n.omitted.total(),
        status: n.status(),
        receiver: n.receiver.clone(),
        group_labels: n.group_labels.clone(),
        common_labels,
        common_annotations,
        external_url: n.public_url.clone(),
        alerts: alerts
            .into_iter()
            .take(kept)
            .map(|a| PayloadAlert {
                status: a.status_str(),
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: rfc3339_go(a.starts_at_ms),
                ends_at: a
                    .ends_at_ms
                    .map_or_else(|| ZERO_TIME.to_string(), rfc3339_go),
                generator_url: a.generator_url.clone(),
                fingerprint: a.fingerprint().to_string(),
            })
            .collect(),
    }
}

/// `sha256=<hex>` HMAC of a body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub struct WebhookNotifier {
    config: WebhookConfig,
    client: reqwest::Client,
}

impl WebhookNotifier {
    pub fn new(config: WebhookConfig) -> Result<Self, NotifyError> {
        let client = config.http.client(config.timeout).map_err(|e| {
            NotifyError::new(FailureReason::ClientError, format!("webhook client: {e}"))
        })?;
        Ok(Self { config, client })
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn integration(&self) -> &'static str {
        "webhook"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    /// `max_alerts` when set. Otherwise Alertmanager sends every alert, however many; here a
    /// group past [`MAX_PAYLOAD_ALERTS`] is cut there and the rest counted in
    /// `truncatedAlerts`, as `max_alerts` does (a payload stays a few MB, which receivers
    /// behind a proxy's default body limit still take).
    fn max_listed(&self) -> usize {
        match self.config.max_alerts {
            0 => MAX_PAYLOAD_ALERTS,
            n => n,
        }
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(&payload(n, self.config.max_alerts)).map_err(|e| {
            NotifyError::new(
                FailureReason::ClientError,
                format!("cannot encode payload: {e}"),
            )
        })?;
        let mut req = self
            .config
            .http
            .authorize(self.client.post(self.config.url.expose()))
            .header("content-type", "application/json");
        if let Some(secret) = &self.config.secret {
            req = req.header("X-Syncwatch-Signature", signature(secret.expose(), &body));
        }
        answer("the webhook", req.body(body).send().await).map(|_| ())
    }
}

/// What an HTTP answer means for a delivery (`what` names the receiver in the message: "the
/// webhook", "PagerDuty"): 2xx delivered; 401/403 refused for good; 429, 408, 504, 5xx, a
/// timeout or no connection retried (with its `Retry-After`); any other status refused for
/// good. Errors never print the URL (it may carry a token).
pub(super) fn answer(
    what: &str,
    sent: reqwest::Result<reqwest::Response>,
) -> Result<reqwest::Response, NotifyError> {
    let resp = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Err(NotifyError::new(
                FailureReason::Timeout,
                format!("{what} timed out"),
            ));
        }
        Err(_) => {
            return Err(NotifyError::new(
                FailureReason::Network,
                format!("cannot reach {what}"),
            ));
        }
    };
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, chrono::Utc::now().timestamp_millis()));
    let reason = match status {
        401 | 403 => FailureReason::AuthError,
        429 => FailureReason::RateLimited,
        408 | 504 => FailureReason::Timeout,
        500..=599 => FailureReason::ServerError,
        _ => FailureReason::ClientError,
    };
    Err(NotifyError {
        reason,
        message: format!("{what} answered HTTP {status}"),
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn alert(provider: &str, resolved: bool) -> Alert {
        Alert {
            labels: [
                ("alertname", "ProviderAuthFailing"),
                ("provider", provider),
                ("severity", "critical"),
            ]
            .into_iter()
            .collect(),
            annotations: [("summary", format!("{provider} fails"))]
                .into_iter()
                .collect(),
            starts_at_ms: 1_795_000_000_000,
            ends_at_ms: resolved.then_some(1_795_000_060_000),
            value: Some(1.0),
            generator_url: "http://h/api/v1/alerts".into(),
        }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        Notification {
            receiver: "oncall".into(),
            group_key: "{0}:{alertname=\"ProviderAuthFailing\"}".into(),
            group_labels: [("alertname", "ProviderAuthFailing")].into_iter().collect(),
            alerts: alerts.into_iter().map(std::sync::Arc::new).collect(),
            tickets: BTreeMap::new(),
            public_url: "http://h".into(),
            omitted: Default::default(),
        }
    }

    #[test]
    fn payload_has_alertmanagers_v4_fields() {
        let p = serde_json::to_value(payload(
            &notification(vec![alert("cdk", false), alert("tekion", true)]),
            0,
        ))
        .unwrap();
        assert_eq!(p["version"], "4");
        assert_eq!(p["status"], "firing");
        assert_eq!(p["receiver"], "oncall");
        assert_eq!(p["groupKey"], "{0}:{alertname=\"ProviderAuthFailing\"}");
        assert_eq!(p["truncatedAlerts"], 0);
        assert_eq!(p["externalURL"], "http://h");
        assert_eq!(
            p["commonLabels"],
            serde_json::json!({"alertname": "ProviderAuthFailing", "severity": "critical"})
        );
        assert_eq!(p["commonAnnotations"], serde_json::json!({}));
        assert_eq!(p["alerts"][0]["status"], "firing");
        assert_eq!(p["alerts"][0]["endsAt"], ZERO_TIME);
        assert_eq!(p["alerts"][1]["status"], "resolved");
        assert_eq!(
            p["alerts"][1]["endsAt"], "2026-11-18T11:07:40Z",
            "as Go writes a time"
        );
        assert_eq!(p["alerts"][0]["generatorURL"], "http://h/api/v1/alerts");
        assert_eq!(p["alerts"][0]["fingerprint"].as_str().unwrap().len(), 16);
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 10, "{keys:?}");
    }

    #[test]
    fn max_alerts_truncates_and_counts() {
        let p = payload(
            &notification(vec![
                alert("a", false),
                alert("b", false),
                alert("c", false),
            ]),
            2,
        );
        assert_eq!((p.alerts.len(), p.truncated_alerts), (2, 1));
    }

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
