//! Slack, through slack-morphism: with a bot token, `chat.postMessage` (Block Kit) at `app_url`;
//! with an incoming webhook URL, a POST of the same content.

use async_trait::async_trait;
use slack_morphism::errors::*;
use slack_morphism::prelude::*;

use super::render::{escape_mrkdwn, mrkdwn_sections, title};
use super::{FailureReason, Notification, Notifier, NotifyError};
use crate::alerting::config::{SlackConfig, SlackTarget};

type Connector = SlackClientHyperConnector<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
>;

pub struct SlackNotifier {
    client: SlackClient<Connector>,
    config: SlackConfig,
}

/// The Web API base for an `app_url` (`…/api/chat.postMessage` → `…/api`).
pub fn api_base(app_url: &str) -> String {
    let trimmed = app_url.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((base, method)) if method.contains('.') => base.to_string(),
        _ => trimmed.to_string(),
    }
}

impl SlackNotifier {
    pub fn new(config: SlackConfig) -> Self {
        // Both schemes: https in production, plain http for a local relay or a test server.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let mut connector = SlackClientHyperConnector::with_connector(https);
        if let SlackTarget::App { app_url, .. } = &config.target {
            connector = connector.with_slack_api_url(&api_base(app_url));
        }
        Self {
            client: SlackClient::new(connector),
            config,
        }
    }

    fn content(n: &Notification) -> SlackMessageContent {
        let mut blocks: Vec<SlackBlock> =
            vec![SlackHeaderBlock::new(pt!(truncate(&title(n), 150))).into()];
        for s in mrkdwn_sections(n) {
            blocks.push(
                SlackSectionBlock::new()
                    .with_text(md!(truncate(&s, 3000)))
                    .into(),
            );
        }
        blocks.push(
            SlackContextBlock::new(vec![md!(format!(
                "receiver {} · syncwatch",
                escape_mrkdwn(&n.receiver)
            ))])
            .into(),
        );
        SlackMessageContent::new()
            .with_text(title(n))
            .with_blocks(blocks)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// Maps a Slack client error to a failure reason. Messages carry no token or URL.
pub fn classify(e: &SlackClientError) -> NotifyError {
    match e {
        SlackClientError::RateLimitError(r) => NotifyError {
            reason: FailureReason::RateLimited,
            message: "Slack rate limit".into(),
            retry_after: r.retry_after,
        },
        SlackClientError::ApiError(api) => {
            let reason = match api.code.as_str() {
                "not_authed"
                | "invalid_auth"
                | "token_revoked"
                | "token_expired"
                | "account_inactive"
                | "missing_scope"
                | "not_allowed_token_type" => FailureReason::AuthError,
                "ratelimited" => FailureReason::RateLimited,
                "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                    FailureReason::ServerError
                }
                _ => FailureReason::ClientError,
            };
            NotifyError::new(reason, format!("Slack API error {}", api.code))
        }
        SlackClientError::HttpError(h) => {
            let code = h.status_code.as_u16();
            let reason = match code {
                401 | 403 => FailureReason::AuthError,
                429 => FailureReason::RateLimited,
                408 | 504 => FailureReason::Timeout,
                500..=599 => FailureReason::ServerError,
                _ => FailureReason::ClientError,
            };
            NotifyError::new(reason, format!("Slack answered HTTP {code}"))
        }
        SlackClientError::HttpProtocolError(_)
        | SlackClientError::EndOfStream(_)
        | SlackClientError::SystemError(_) => {
            NotifyError::new(FailureReason::Network, "cannot reach Slack")
        }
        // Slack answered but not in the documented shape: the message was most likely posted,
        // so retrying would page twice. Reported, not retried.
        SlackClientError::ProtocolError(_) | SlackClientError::SocketModeProtocolError(_) => {
            NotifyError::new(
                FailureReason::ClientError,
                "Slack's answer could not be read",
            )
        }
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    fn integration(&self) -> &'static str {
        "slack"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let content = Self::content(n);
        let result = match &self.config.target {
            SlackTarget::App { token, .. } => {
                let token = SlackApiToken::new(token.expose().to_string().into());
                let session = self.client.open_session(&token);
                let channel = self.config.channel.clone().unwrap_or_default();
                let req = SlackApiChatPostMessageRequest::new(channel.into(), content);
                session.chat_post_message(&req).await.map(|_| ())
            }
            SlackTarget::Webhook { url } => {
                let url: url::Url = url.expose().parse().map_err(|_| {
                    NotifyError::new(FailureReason::ClientError, "invalid Slack webhook URL")
                })?;
                let req = SlackApiPostWebhookMessageRequest::new(content);
                self.client
                    .post_webhook_message(&url, &req)
                    .await
                    .map(|_| ())
            }
        };
        result.map_err(|e| classify(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_strips_the_method() {
        assert_eq!(
            api_base("https://slack.com/api/chat.postMessage"),
            "https://slack.com/api"
        );
        assert_eq!(
            api_base("http://127.0.0.1:9/api/"),
            "http://127.0.0.1:9/api"
        );
    }

    #[test]
    fn errors_map_to_reasons() {
        let api =
            |code: &str| SlackClientError::ApiError(SlackClientApiError::new(code.to_string()));
        assert_eq!(
            classify(&api("invalid_auth")).reason,
            FailureReason::AuthError
        );
        assert_eq!(
            classify(&api("channel_not_found")).reason,
            FailureReason::ClientError
        );
        assert_eq!(
            classify(&api("internal_error")).reason,
            FailureReason::ServerError
        );
    }
}
