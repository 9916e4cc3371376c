//! Notifications: what a flushed group becomes, the [`Notifier`] trait every integration
//! implements, and [`deliver`], the one retry loop they all share.
//!
//! - [`render`]: text, mrkdwn and HTML renderings of a notification.
//! - [`slack`]: Slack (bot token `chat.postMessage`, or incoming webhook).
//! - [`email`]: SMTP with lettre.
//! - [`local`]: the console and `.eml` files (the demo's receivers).

pub mod email;
pub mod local;
pub mod render;
pub mod slack;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::backoff::Backoff;
use crate::domain::{Alert, Fingerprint, Labels};
use crate::telemetry::Metrics;

/// One message to send: a group's alerts at flush time, with their ticket ids.
#[derive(Debug, Clone)]
pub struct Notification {
    pub receiver: String,
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

/// The retry policy of notifications.
pub const NOTIFY_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(30),
    max_attempts: 8,
};

/// Delivers with retries and backoff (honouring Retry-After); records metrics.
pub async fn deliver(
    notifier: &dyn Notifier,
    n: &Notification,
    policy: Backoff,
    metrics: &Metrics,
    now_ms: impl Fn() -> i64,
) -> Result<(), NotifyError> {
    if n.status() == "resolved" && !notifier.send_resolved() {
        return Ok(());
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match notifier.notify(n).await {
            Ok(()) => {
                let latency = Duration::from_millis((now_ms() - n.transition_ms()).max(0) as u64);
                metrics.notification(notifier.integration(), Some(latency));
                return Ok(());
            }
            Err(e) => {
                metrics.notification_failed(notifier.integration(), e.reason.as_str());
                if !e.reason.retryable() || !policy.may_retry(attempt) {
                    tracing::error!(integration = notifier.integration(), receiver = %n.receiver, attempts = attempt, error = %e, "notification failed");
                    return Err(e);
                }
                let delay = policy.next_delay(attempt, rand::random::<f64>(), e.retry_after);
                tracing::warn!(integration = notifier.integration(), receiver = %n.receiver, attempt, error = %e, delay_ms = delay.as_millis() as u64, "notification failed, retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Flaky {
        calls: AtomicU32,
        fail_first: u32,
        reason: FailureReason,
    }

    #[async_trait]
    impl Notifier for Flaky {
        fn integration(&self) -> &'static str {
            "test"
        }
        fn send_resolved(&self) -> bool {
            false
        }
        async fn notify(&self, _: &Notification) -> Result<(), NotifyError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if n < self.fail_first {
                Err(NotifyError::new(self.reason, "nope"))
            } else {
                Ok(())
            }
        }
    }

    fn notification(resolved: bool) -> Notification {
        Notification {
            receiver: "r".into(),
            group_labels: Labels::new(),
            alerts: vec![Alert {
                labels: Labels::new(),
                annotations: BTreeMap::new(),
                starts_at_ms: 0,
                ends_at_ms: resolved.then_some(1),
                value: None,
                generator_url: String::new(),
            }],
            tickets: BTreeMap::new(),
            public_url: String::new(),
        }
    }

    const FAST: Backoff = Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(2),
        max_attempts: 3,
    };

    fn metrics() -> Metrics {
        Metrics::new(Arc::new(crate::telemetry::MetricsRegistry::new()))
    }

    #[tokio::test]
    async fn retryable_failures_are_retried_until_success() {
        let f = Flaky {
            calls: AtomicU32::new(0),
            fail_first: 2,
            reason: FailureReason::ServerError,
        };
        let m = metrics();
        deliver(&f, &notification(false), FAST, &m, || 0)
            .await
            .unwrap();
        assert_eq!(f.calls.load(Ordering::SeqCst), 3);
        let text = m.registry().render();
        assert!(
            text.contains(
                r#"syncwatch_notifications_failed_total{integration="test",reason="serverError"} 2"#
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn permanent_failures_stop_at_once_and_attempts_are_bounded() {
        let f = Flaky {
            calls: AtomicU32::new(0),
            fail_first: 99,
            reason: FailureReason::AuthError,
        };
        assert!(
            deliver(&f, &notification(false), FAST, &metrics(), || 0)
                .await
                .is_err()
        );
        assert_eq!(f.calls.load(Ordering::SeqCst), 1);
        let f = Flaky {
            calls: AtomicU32::new(0),
            fail_first: 99,
            reason: FailureReason::Timeout,
        };
        assert!(
            deliver(&f, &notification(false), FAST, &metrics(), || 0)
                .await
                .is_err()
        );
        assert_eq!(f.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn resolved_only_notifications_respect_send_resolved() {
        let f = Flaky {
            calls: AtomicU32::new(0),
            fail_first: 0,
            reason: FailureReason::Timeout,
        };
        deliver(&f, &notification(true), FAST, &metrics(), || 0)
            .await
            .unwrap();
        assert_eq!(f.calls.load(Ordering::SeqCst), 0);
    }
}
