//! Ticket webhooks (`[[tickets.webhooks]]`): each ticket event a webhook wants is POSTed to its
//! URL, signed as the Standard Webhooks specification says (<https://www.standardwebhooks.com>):
//! `webhook-id` (the event's id, the same on every retry, so a receiver drops duplicates),
//! `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature` (`v1,<base64
//! HMAC-SHA256 of "id.timestamp.body">`, one per configured secret, space-separated, so a
//! secret can be rotated without a receiver failing a delivery). Signing is the `standardwebhooks`
//! crate's, the specification's own reference library.
//!
//! Deliveries go through the outbox as [`crate::store::OutboxKind::TicketEvent`] rows, one
//! stream per webhook and ticket: at least once, in order per ticket, retried with the outbox's
//! backoff, each attempt logged.

use serde::{Deserialize, Serialize};

use super::{FailureReason, NotifyError};
use crate::config::TicketWebhookSettings;

/// One event on its way to one webhook, as an outbox row carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketWebhookMessage {
    /// The `webhook-id`: the event's id.
    pub id: String,
    /// When the event happened (Unix ms), for the delivery latency.
    pub at_ms: i64,
    /// The JSON body, exactly as signed and sent.
    pub body: String,
}

/// The outbox's receiver name of ticket webhook rows (their integration is the webhook's name,
/// their group the ticket).
pub const RECEIVER: &str = "tickets.webhooks";

/// A configured ticket webhook, ready to sign and send.
pub struct TicketWebhook {
    settings: TicketWebhookSettings,
    signers: Vec<standardwebhooks::Webhook>,
    client: reqwest::Client,
}

impl TicketWebhook {
    /// Fails on a secret that is not `whsec_` and base64 (the config check refuses those first).
    pub fn new(settings: TicketWebhookSettings) -> Result<Self, String> {
        let signers = settings
            .secrets
            .iter()
            .map(|s| standardwebhooks::Webhook::new(s.expose()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("tickets.webhooks {}: secret: {e}", settings.name))?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("tickets.webhooks {}: {e}", settings.name))?;
        Ok(Self {
            settings,
            signers,
            client,
        })
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Whether events of `kind` go to this webhook.
    pub fn wants(&self, kind: &str) -> bool {
        self.settings.events.is_empty() || self.settings.events.iter().any(|e| e == kind)
    }

    /// The `webhook-signature` of `body` sent as message `id` at `timestamp` (Unix seconds):
    /// one `v1,…` per secret.
    pub fn signature(&self, id: &str, timestamp: i64, body: &str) -> Result<String, NotifyError> {
        let signatures = self
            .signers
            .iter()
            .map(|w| w.sign(id, timestamp, body.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                NotifyError::new(FailureReason::ClientError, format!("cannot sign: {e}"))
            })?;
        Ok(signatures.join(" "))
    }

    /// One attempt: signs `m` now and POSTs it.
    pub async fn deliver(&self, m: &TicketWebhookMessage) -> Result<(), NotifyError> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = self.signature(&m.id, timestamp, &m.body)?;
        let sent = self
            .client
            .post(self.settings.url.expose())
            .header("content-type", "application/json")
            .header("webhook-id", &m.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(m.body.clone())
            .send()
            .await;
        super::webhook::answer("the webhook", sent).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Secret;

    fn webhook(secrets: &[&str], events: &[&str]) -> TicketWebhook {
        TicketWebhook::new(TicketWebhookSettings {
            name: "desk".into(),
            url: Secret::new("http://127.0.0.1:1/hook"),
            secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
            events: events.iter().map(|s| s.to_string()).collect(),
            timeout: std::time::Duration::from_secs(1),
        })
        .unwrap()
    }

    #[test]
    fn every_secret_signs_as_the_specification_says() {
        // The specification's own example: secret, id, timestamp, body and signature.
        let w = webhook(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], &[]);
        assert_eq!(
            w.signature(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            )
            .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let rotating = webhook(
            &[
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            ],
            &[],
        );
        let sig = rotating.signature("m", 1, "{}").unwrap();
        assert_eq!(sig.split(' ').count(), 2, "{sig}");
        assert!(sig.split(' ').all(|s| s.starts_with("v1,")));
    }

    #[test]
    fn a_webhook_takes_the_events_it_names_or_all() {
        let all = webhook(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], &[]);
        assert!(all.wants("created") && all.wants("sla_breached"));
        let some = webhook(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            &["created", "resolved"],
        );
        assert!(some.wants("resolved") && !some.wants("commented"));
    }
}
