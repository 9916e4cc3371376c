//! Email over SMTP with lettre: STARTTLS required by default (as Alertmanager), plain for local
//! relays when `smtp_require_tls: false`; multipart text + HTML.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render::{html, text, title};
use super::{FailureReason, Notification, Notifier, NotifyError};
use crate::alerting::config::EmailConfig;

pub struct EmailNotifier {
    config: EmailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

/// Builds the message (shared with the `.eml` writer).
pub fn build_message(from: &str, to: &[String], n: &Notification) -> Result<Message, NotifyError> {
    let bad = |what: &str, v: &str| {
        NotifyError::new(
            FailureReason::ClientError,
            format!("invalid {what} address {v:?}"),
        )
    };
    let mut b = Message::builder()
        .from(from.parse::<Mailbox>().map_err(|_| bad("from", from))?)
        .subject(title(n));
    for addr in to {
        b = b.to(addr.parse::<Mailbox>().map_err(|_| bad("to", addr))?);
    }
    b.multipart(MultiPart::alternative_plain_html(text(n), html(n)))
        .map_err(|e| {
            NotifyError::new(
                FailureReason::ClientError,
                format!("cannot build email: {e}"),
            )
        })
}

impl EmailNotifier {
    pub fn new(config: EmailConfig) -> Result<Self, NotifyError> {
        let smtp = &config.smtp;
        let mut builder = if smtp.require_tls {
            if smtp.port == 465 {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
            } else {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            }
            .map_err(|e| {
                NotifyError::new(FailureReason::ClientError, format!("SMTP TLS setup: {e}"))
            })?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        };
        builder = builder
            .port(smtp.port)
            .timeout(Some(Duration::from_secs(15)));
        if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
        }
        if let Some(hello) = &smtp.hello {
            builder = builder.hello_name(lettre::transport::smtp::extension::ClientId::Domain(
                hello.clone(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            config,
        })
    }
}

fn classify(e: &lettre::transport::smtp::Error) -> NotifyError {
    let reason = if e.is_timeout() {
        FailureReason::Timeout
    } else if e.is_permanent() {
        match e.status().map(|c| c.to_string()) {
            Some(code) if code.starts_with("53") => FailureReason::AuthError,
            _ => FailureReason::ClientError,
        }
    } else if e.is_transient() {
        FailureReason::ServerError
    } else {
        FailureReason::Network
    };
    // lettre's Display does not include credentials.
    NotifyError::new(reason, format!("SMTP: {e}"))
}

#[async_trait]
impl Notifier for EmailNotifier {
    fn integration(&self) -> &'static str {
        "email"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let msg = build_message(&self.config.from, &self.config.to, n)?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }
}
