//! Notifications: what a flushed group becomes and the [`Notifier`] trait every integration
//! implements; delivery, with its retries, goes through the [`outbox`].
//!
//! Each integration is one folder holding its configuration (`config.rs`: the `alerting.yml`
//! fields, their validation), its rendering and its delivery, so adding one touches one place
//! (and one line of [`receivers::RawReceiver`]):
//! - [`slack`]: Slack (bot token `chat.postMessage`, or incoming webhook; Block Kit, or
//!   Alertmanager's templated attachment).
//! - [`email`]: SMTP with lettre.
//! - [`webhook`]: Alertmanager's v4 webhook payload, optionally HMAC-signed.
//! - [`local`]: the console and `.eml` files (the demo's receivers).
//!
//! Shared by them:
//! - [`receivers`]: a receiver's integrations, read and built into notifiers.
//! - [`templates`]: Alertmanager's notification templates and their data.
//! - [`http`]: the HTTP client of an `http_config`.
//! - [`render`]: text, mrkdwn and HTML renderings of a notification.
//! - [`outbox`]: the durable outbox every notification goes through.
//! - [`ticket_webhook`]: ticket events, signed as Standard Webhooks says.

pub mod email;
pub mod http;
pub mod local;
pub mod msteams;
pub mod outbox;
pub mod pagerduty;
pub mod receivers;
pub mod render;
pub mod slack;
pub mod templates;
pub mod ticket_webhook;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
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
    /// Shared with the group that flushed them: a flush copies no alert.
    pub alerts: Vec<Arc<Alert>>,
    /// Ticket id per alert, when a ticket config of the same receiver ticketed it.
    pub tickets: BTreeMap<Fingerprint, String>,
    /// Base of links (runbooks, tickets).
    pub public_url: String,
    /// Alerts of the group left out of `alerts` (see [`Notification::listing_at_most`]).
    #[serde(default, skip_serializing_if = "Omitted::is_none")]
    pub omitted: Omitted,
}

/// How many firing and resolved alerts a notification counts but does not list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Omitted {
    pub firing: usize,
    pub resolved: usize,
}

impl Omitted {
    pub fn is_none(&self) -> bool {
        self.total() == 0
    }

    pub fn total(&self) -> usize {
        self.firing + self.resolved
    }
}

impl Notification {
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .map(Arc::as_ref)
            .filter(|a| !a.is_resolved())
    }

    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .map(Arc::as_ref)
            .filter(|a| a.is_resolved())
    }

    /// Firing alerts in the group, listed or not.
    pub fn firing_count(&self) -> usize {
        self.firing().count() + self.omitted.firing
    }

    /// The notification an integration stores and sends: at most `max` firing and `max`
    /// resolved alerts listed (in the group's order), the rest only counted in `omitted`.
    /// A million-alert group so costs each outbox row and each message a bounded size (Slack
    /// shows under 50 alerts, an SMTP server refuses a message of hundreds of megabytes);
    /// `max` 0 lists every alert.
    pub fn listing_at_most(&self, max: usize) -> Notification {
        let (firing, resolved) = (self.firing().count(), self.resolved().count());
        if max == 0 || (firing <= max && resolved <= max) {
            return self.clone();
        }
        let mut listed = Notification {
            alerts: Vec::with_capacity(firing.min(max) + resolved.min(max)),
            omitted: Omitted {
                firing: self.omitted.firing + firing.saturating_sub(max),
                resolved: self.omitted.resolved + resolved.saturating_sub(max),
            },
            receiver: self.receiver.clone(),
            group_key: self.group_key.clone(),
            group_labels: self.group_labels.clone(),
            tickets: BTreeMap::new(),
            public_url: self.public_url.clone(),
        };
        let (mut f, mut r) = (0, 0);
        for a in &self.alerts {
            let n = if a.is_resolved() { &mut r } else { &mut f };
            if *n < max {
                *n += 1;
                listed.alerts.push(Arc::clone(a));
            }
        }
        for a in &listed.alerts {
            let fp = a.fingerprint();
            if let Some(id) = self.tickets.get(&fp) {
                listed.tickets.insert(fp, id.clone());
            }
        }
        listed
    }

    /// `firing` while any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.firing_count() > 0 {
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
            q.append_pair("matcher", &crate::domain::matcher::equality_text(k, v));
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

/// Alerts a message lists unless its integration says otherwise: an email of 1,000 alerts is
/// about 1 MB, under the 10–25 MB most SMTP servers accept.
pub const DEFAULT_MAX_LISTED: usize = 1_000;

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
    /// The most firing (and resolved) alerts one message lists; the rest are counted
    /// ([`Notification::listing_at_most`]). 0: all.
    fn max_listed(&self) -> usize {
        DEFAULT_MAX_LISTED
    }
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_round_trip_through_json_with_their_tickets() {
        let alert = Alert {
            labels: [("alertname", "A")].into_iter().collect(),
            annotations: Default::default(),
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
            alerts: vec![alert.into()],
            public_url: "http://x".into(),
            omitted: Default::default(),
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

    #[test]
    fn a_giant_group_lists_a_bounded_share_and_counts_the_rest() {
        let alert = |i: usize, resolved: bool| {
            Arc::new(Alert {
                labels: [("alertname", "A".to_string()), ("i", i.to_string())]
                    .into_iter()
                    .collect(),
                annotations: Default::default(),
                starts_at_ms: 0,
                ends_at_ms: resolved.then_some(1),
                value: None,
                generator_url: String::new(),
            })
        };
        let alerts: Vec<Arc<Alert>> = (0..10).map(|i| alert(i, i % 5 == 0)).collect();
        let n = Notification {
            receiver: "r".into(),
            group_key: "{}:{}".into(),
            group_labels: Labels::new(),
            tickets: alerts
                .iter()
                .map(|a| (a.fingerprint(), format!("t-{}", a.labels.value("i"))))
                .collect(),
            alerts,
            public_url: "http://x".into(),
            omitted: Default::default(),
        };
        // 8 firing and 2 resolved; at most 3 of each are listed, in the group's order.
        let listed = n.listing_at_most(3);
        let shown: Vec<&str> = listed.alerts.iter().map(|a| a.labels.value("i")).collect();
        assert_eq!(shown, ["0", "1", "2", "3", "5"]);
        assert_eq!(
            listed.omitted,
            Omitted {
                firing: 5,
                resolved: 0
            }
        );
        assert_eq!((listed.firing_count(), listed.status()), (8, "firing"));
        assert_eq!(listed.tickets.len(), 5, "only the listed alerts' tickets");
        // Listing again counts what was already left out; 0 and a big enough bound keep all.
        assert_eq!(
            listed.listing_at_most(1).omitted,
            Omitted {
                firing: 7,
                resolved: 1
            }
        );
        assert_eq!(n.listing_at_most(0).alerts.len(), 10);
        assert_eq!(n.listing_at_most(8).omitted, Omitted::default());
        // What is left out survives the outbox's JSON.
        let back: Notification =
            serde_json::from_str(&serde_json::to_string(&listed).unwrap()).unwrap();
        assert_eq!(back.omitted, listed.omitted);
        assert!(
            render::text(&back)
                .contains("… and 5 more alerts (5 firing, 0 resolved): http://x/api/v1/alerts")
        );
        assert!(render::title(&back).starts_with("[FIRING:8]"));
    }
}
