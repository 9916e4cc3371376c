//! Notifications: what a flushed group becomes and the [`Notifier`] trait every integration
//! implements; delivery, with its retries, goes through the [`outbox`].
//!
//! - [`render`]: text, mrkdwn and HTML renderings of a notification.
//! - [`slack`]: Slack (bot token `chat.postMessage`, or incoming webhook).
//! - [`email`]: SMTP with lettre.
//! - [`webhook`]: Alertmanager's v4 webhook payload, optionally HMAC-signed.
//! - [`local`]: the console and `.eml` files (the demo's receivers).
//! - [`outbox`]: the durable outbox every notification goes through.

pub mod email;
pub mod local;
pub mod outbox;
pub mod render;
pub mod slack;
pub mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::{Alert, Fingerprint, Labels};

/// One message to send: a group's alerts at flush time, with their ticket ids.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    pub receiver: String,
    /// Identifies the alert group (route and group labels), as Alertmanager's `groupKey`.
    #[serde(default)]
    pub group_key: String,
    pub group_labels: Labels,
    pub alerts: Vec<Alert>,
    /// Ticket id per alert, when a ticket config of the same receiver ticketed it.
    pub tickets: BTreeMap<Fingerprint, String>,
    /// Base of links (runbooks, tickets).
    pub public_url: String,
}

impl Notification {
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| !a.is_resolved())
    }

    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.is_resolved())
    }

    /// `firing` while any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.firing().next().is_some() {
            "firing"
        } else {
            "resolved"
        }
    }

    pub fn ticket_url(&self, alert: &Alert) -> Option<String> {
        self.tickets
            .get(&alert.fingerprint())
            .map(|id| format!("{}/api/v1/tickets/{id}", self.public_url))
    }

    /// A page that silences this alert (its labels as matchers, prefilled).
    pub fn silence_url(&self, alert: &Alert) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in alert.labels.iter() {
            let v = v.replace('\\', "\\\\").replace('"', "\\\"");
            q.append_pair("matcher", &format!("{k}=\"{v}\""));
        }
        format!("{}/silences/new?{}", self.public_url, q.finish())
    }

    /// The earliest transition time among the alerts (for latency).
    pub fn transition_ms(&self) -> i64 {
        self.alerts
            .iter()
            .map(|a| a.ends_at_ms.unwrap_or(a.starts_at_ms))
            .max()
            .unwrap_or_default()
    }
}

/// Why a delivery attempt failed: the fixed set used as the `reason` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    ClientError,
    ServerError,
    AuthError,
    RateLimited,
    Timeout,
    Network,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::ClientError => "clientError",
            FailureReason::ServerError => "serverError",
            FailureReason::AuthError => "authError",
            FailureReason::RateLimited => "rateLimited",
            FailureReason::Timeout => "timeout",
            FailureReason::Network => "network",
        }
    }

    /// Whether trying again can help.
    pub fn retryable(self) -> bool {
        !matches!(self, FailureReason::ClientError | FailureReason::AuthError)
    }
}

/// A failed delivery attempt. The message never contains secrets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} ({})", message, reason.as_str())]
pub struct NotifyError {
    pub reason: FailureReason,
    pub message: String,
    /// How long the receiver asked us to wait.
    pub retry_after: Option<Duration>,
}

impl NotifyError {
    pub fn new(reason: FailureReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// An integration that can deliver notifications.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// The `integration` metric label: `slack`, `email`, `console`, `eml`.
    fn integration(&self) -> &'static str;
    /// Whether notifications with only resolved alerts go out.
    fn send_resolved(&self) -> bool;
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_round_trip_through_json_with_their_tickets() {
        let alert = Alert {
            labels: [("alertname", "A")].into_iter().collect(),
            annotations: BTreeMap::new(),
            starts_at_ms: 5,
            ends_at_ms: Some(9),
            value: Some(1.5),
            generator_url: String::new(),
        };
        let n = Notification {
            receiver: "r".into(),
            group_key: "{}:{}".into(),
            group_labels: Labels::new(),
            tickets: BTreeMap::from([(alert.fingerprint(), "t-1".to_string())]),
            alerts: vec![alert],
            public_url: "http://x".into(),
        };
        let back: Notification = serde_json::from_str(&serde_json::to_string(&n).unwrap()).unwrap();
        assert_eq!(back.alerts, n.alerts);
        assert_eq!(
            back.ticket_url(&back.alerts[0]).as_deref(),
            Some("http://x/api/v1/tickets/t-1")
        );
        assert_eq!(back.status(), "resolved");
        assert!(!FailureReason::AuthError.retryable() && FailureReason::Timeout.retryable());
    }
}
