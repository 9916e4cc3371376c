//! Slack, through slack-morphism: with a bot token, `chat.postMessage` (Block Kit) at `app_url`;
//! with an incoming webhook URL, a POST of the same content.

pub mod config;

use async_trait::async_trait;
use slack_morphism::errors::*;
use slack_morphism::prelude::*;

use super::render::{escape_mrkdwn, mrkdwn_sections, title, truncate};
use std::sync::Arc;
use std::time::Duration;

use super::templates::Renderer;
use super::{FailureReason, Notification, Notifier, NotifyError};
use crate::store::Store;
use config::{SlackConfig, SlackMessage, SlackTarget};

type Connector = SlackClientHyperConnector<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
>;

pub struct SlackNotifier {
    client: SlackClient<Connector>,
    config: SlackConfig,
    /// Where the message of each group is remembered (bot tokens only): `(store, receiver,
    /// integration key)`.
    refs: Option<(Store, String, String)>,
    pacing: Pacing,
    /// The `http_config` client, for Alertmanager's message and for a Block Kit message that
    /// needs what slack-morphism's client cannot do; built once (an error waits for a send).
    http: Result<reqwest::Client, String>,
}

/// Posts per channel, shared by every Slack integration. Slack takes about one message a second
/// per channel and allows short bursts (its rate-limit documentation), so each channel has a
/// token bucket of [`CHANNEL_BURST`] messages refilled at one a second (GCRA, `governor`): a
/// message that follows another at once goes at once; a storm settles to one a second. A 429
/// `Retry-After` is still honoured by the outbox.
pub type Pacing = Arc<governor::DefaultKeyedRateLimiter<String>>;

/// Messages a channel takes at once before the one-a-second pace applies.
pub const CHANNEL_BURST: u32 = 3;

/// A fresh set of channel buckets.
pub fn pacing() -> Pacing {
    let one = std::num::NonZeroU32::MIN;
    let burst = std::num::NonZeroU32::new(CHANNEL_BURST).unwrap_or(one);
    Arc::new(governor::RateLimiter::keyed(
        governor::Quota::per_second(one).allow_burst(burst),
    ))
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
    pub fn new(config: SlackConfig, refs: Option<(Store, String, String)>, pacing: Pacing) -> Self {
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
        let http = config.http.client(Duration::from_secs(30));
        Self {
            client: SlackClient::new(connector),
            config,
            refs,
            pacing,
            http,
        }
    }

    /// Waits until the channel's bucket has a message, and takes it.
    async fn pace(&self, channel: &str) {
        self.pacing.until_key_ready(&channel.to_string()).await;
    }

    /// Bot token: a firing notification posts a message and remembers it; a resolution edits
    /// that message and replies in its thread with how long the problem lasted.
    async fn notify_app(&self, token: &str, n: &Notification) -> Result<(), SlackClientError> {
        let token = SlackApiToken::new(token.to_string().into());
        let session = self.client.open_session(&token);
        let channel = self.config.channel.clone().unwrap_or_default();
        let content = Self::content(n);
        let original = match (&self.refs, n.status()) {
            (Some((store, receiver, integration)), "resolved") => {
                store.slack_message(receiver, integration, &n.group_key).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the Slack message of the group; posting a new one");
                    None
                })
            }
            _ => None,
        };
        if let Some((msg_channel, ts)) = original {
            self.pace(&msg_channel).await;
            let update = SlackApiChatUpdateRequest::new(
                msg_channel.clone().into(),
                content.clone(),
                ts.clone().into(),
            );
            match session.chat_update(&update).await {
                Ok(_) => {
                    let reply = SlackMessageContent::new().with_text(resolved_reply(n));
                    let req = SlackApiChatPostMessageRequest::new(msg_channel.into(), reply)
                        .with_thread_ts(ts.into());
                    return session.chat_post_message(&req).await.map(|_| ());
                }
                // The message is gone or too old to edit: post the resolution as a new message.
                Err(SlackClientError::ApiError(e))
                    if matches!(
                        e.code.as_str(),
                        "message_not_found" | "cant_update_message" | "edit_window_closed"
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        self.pace(&channel).await;
        let req = SlackApiChatPostMessageRequest::new(channel.into(), content);
        let resp = session.chat_post_message(&req).await?;
        if let Some((store, receiver, integration)) = &self.refs
            && n.status() == "firing"
            && let Err(e) = store
                .save_slack_message(
                    receiver,
                    integration,
                    &n.group_key,
                    resp.channel.as_ref(),
                    resp.ts.as_ref(),
                    chrono::Utc::now().timestamp_millis(),
                )
                .await
        {
            tracing::warn!(error = %e, "cannot remember the Slack message; its resolution will be a new message");
        }
        Ok(())
    }

    fn content(n: &Notification) -> SlackMessageContent {
        let sections = mrkdwn_sections(n);
        // Header, sections, context: one section fewer when the rest is summarised.
        let room = MAX_BLOCKS - 2;
        let shown = if sections.len() > room || !n.omitted.is_none() {
            sections.len().min(room - 1)
        } else {
            sections.len()
        };
        let mut blocks: Vec<SlackBlock> =
            vec![SlackHeaderBlock::new(pt!(truncate(&title(n), MAX_HEADER_CHARS))).into()];
        for s in &sections[..shown] {
            blocks.push(
                SlackSectionBlock::new()
                    .with_text(md!(truncate(s, MAX_SECTION_CHARS)))
                    .into(),
            );
        }
        let more = sections.len() - shown + n.omitted.total();
        if more > 0 {
            blocks.push(
                SlackSectionBlock::new()
                    .with_text(md!(format!(
                        "… and {more} more: <{}/api/v1/alerts|all alerts>",
                        n.public_url
                    )))
                    .into(),
            );
        }
        blocks.push(
            SlackContextBlock::new(vec![md!(truncate(
                &format!("receiver {} · syncwatch", escape_mrkdwn(&n.receiver)),
                MAX_SECTION_CHARS
            ))])
            .into(),
        );
        SlackMessageContent::new()
            .with_text(truncate(&title(n), MAX_SECTION_CHARS))
            .with_blocks(blocks)
    }
}

impl SlackNotifier {
    /// Alertmanager's message: the templated attachment, posted to the webhook URL, or with the
    /// bot token to `app_url` (as Alertmanager posts with `app_token`).
    async fn notify_templated(
        &self,
        message: &SlackMessage,
        n: &Notification,
    ) -> Result<(), NotifyError> {
        let renderer = Renderer::new(&self.config.templates, n);
        let payload = alertmanager_payload(message, self.config.channel.as_deref(), &renderer)
            .map_err(|e| NotifyError::new(FailureReason::ClientError, e.to_string()))?;
        self.post_json(&payload).await
    }

    /// Posts a message through the `http_config` client: to the webhook URL, or with the bot
    /// token to `app_url`, where Slack's `"ok": false` answer is a failure like any other.
    async fn post_json(&self, payload: &serde_json::Value) -> Result<(), NotifyError> {
        let channel = payload["channel"].as_str().unwrap_or_default().to_string();
        self.pace(&channel).await;
        let client = self.http.as_ref().map_err(|e| {
            NotifyError::new(FailureReason::ClientError, format!("Slack client: {e}"))
        })?;
        let (req, web_api) = match &self.config.target {
            SlackTarget::Webhook { url } => (client.post(url.expose()), false),
            SlackTarget::App { token, app_url } => {
                (client.post(app_url).bearer_auth(token.expose()), true)
            }
        };
        let req = self.config.http.authorize(req).json(payload);
        let resp = super::webhook::answer("Slack", req.send().await)?;
        if web_api {
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            if body["ok"] == serde_json::Value::Bool(false) {
                let code = body["error"].as_str().unwrap_or("unknown_error");
                return Err(NotifyError::new(
                    api_error_reason(code),
                    format!("Slack API error {code}"),
                ));
            }
        }
        Ok(())
    }
}

/// The most characters of an attachment title (Alertmanager's `maxTitleLenRunes`) and of its
/// text, pretext and fallback (Slack cuts a message's text at 40,000).
pub const MAX_TITLE_CHARS: usize = 1024;
pub const MAX_TEXT_CHARS: usize = 40_000;

/// Alertmanager's Slack request for a notification: `channel`, `username`, `icon_emoji`,
/// `icon_url`, `link_names` and one attachment, every text field rendered from its template.
/// Fails with the first template that fails, as Alertmanager does.
pub fn alertmanager_payload(
    m: &SlackMessage,
    channel: Option<&str>,
    r: &Renderer<'_>,
) -> Result<serde_json::Value, crate::gotemplate::Error> {
    use serde_json::{Map, Value, json};
    let t = |name: &str, text: &str| r.render(name, text);
    let mut att = Map::new();
    let mut put = |k: &str, v: String, always: bool| {
        if always || !v.is_empty() {
            att.insert(k.into(), Value::String(v));
        }
    };
    put(
        "title",
        truncate(&t("title", &m.title)?, MAX_TITLE_CHARS),
        false,
    );
    put("title_link", t("title_link", &m.title_link)?, false);
    put(
        "pretext",
        truncate(&t("pretext", &m.pretext)?, MAX_TEXT_CHARS),
        false,
    );
    put("text", truncate(&t("text", &m.text)?, MAX_TEXT_CHARS), true);
    put(
        "fallback",
        truncate(&t("fallback", &m.fallback)?, MAX_TEXT_CHARS),
        true,
    );
    put("callback_id", t("callback_id", &m.callback_id)?, true);
    put("image_url", t("image_url", &m.image_url)?, false);
    put("thumb_url", t("thumb_url", &m.thumb_url)?, false);
    put("footer", t("footer", &m.footer)?, true);
    put("color", t("color", &m.color)?, false);
    if !m.fields.is_empty() {
        let mut fields = Vec::new();
        for f in &m.fields {
            fields.push(json!({
                "title": t("fields.title", &f.title)?,
                "value": t("fields.value", &f.value)?,
                "short": f.short.unwrap_or(m.short_fields),
            }));
        }
        att.insert("fields".into(), Value::Array(fields));
    }
    if !m.actions.is_empty() {
        let mut actions = Vec::new();
        for a in &m.actions {
            let mut o = Map::new();
            for (k, v) in a.texts() {
                let v = t(&format!("actions.{k}"), v)?;
                if !v.is_empty() {
                    o.insert(k.into(), Value::String(v));
                }
            }
            if let Some(c) = &a.confirm {
                let mut co = Map::new();
                for (k, v) in c.texts() {
                    let v = t(&format!("actions.confirm.{k}"), v)?;
                    if !v.is_empty() || k == "text" {
                        co.insert(k.into(), Value::String(v));
                    }
                }
                o.insert("confirm".into(), Value::Object(co));
            }
            actions.push(Value::Object(o));
        }
        att.insert("actions".into(), Value::Array(actions));
    }
    att.insert("mrkdwn_in".into(), json!(m.mrkdwn_in));
    let mut req = Map::new();
    for (k, v) in [
        ("channel", t("channel", channel.unwrap_or_default())?),
        ("username", t("username", &m.username)?),
        ("icon_emoji", t("icon_emoji", &m.icon_emoji)?),
        ("icon_url", t("icon_url", &m.icon_url)?),
    ] {
        if !v.is_empty() {
            req.insert(k.into(), Value::String(v));
        }
    }
    if m.link_names {
        req.insert("link_names".into(), Value::Bool(true));
    }
    req.insert("attachments".into(), json!([Value::Object(att)]));
    Ok(Value::Object(req))
}

/// Slack's documented Block Kit limits: 50 blocks a message, 150 characters of header text,
/// 3,000 of section (and context) text. A message past them is refused (`invalid_blocks`), so
/// what does not fit is summarised, never sent whole.
pub const MAX_BLOCKS: usize = 50;
pub const MAX_HEADER_CHARS: usize = 150;
pub const MAX_SECTION_CHARS: usize = 3_000;

/// The thread reply of a resolution: which alerts resolved and after how long.
pub fn resolved_reply(n: &Notification) -> String {
    let start = n
        .alerts
        .iter()
        .map(|a| a.starts_at_ms)
        .min()
        .unwrap_or_default();
    let end = n
        .alerts
        .iter()
        .filter_map(|a| a.ends_at_ms)
        .max()
        .unwrap_or(start);
    let lasted = crate::domain::format_duration(Duration::from_millis((end - start).max(0) as u64));
    format!(":white_check_mark: Resolved after {lasted}.")
}

/// What a Slack Web API error code means for the delivery.
pub fn api_error_reason(code: &str) -> FailureReason {
    match code {
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
        SlackClientError::ApiError(api) => NotifyError::new(
            api_error_reason(&api.code),
            format!("Slack API error {}", api.code),
        ),
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

    /// A message shows under [`MAX_BLOCKS`] alerts; the rest are counted.
    fn max_listed(&self) -> usize {
        MAX_BLOCKS
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if let Some(message) = &self.config.message {
            return self.notify_templated(message, n).await;
        }
        if !self.config.http.is_default() {
            // slack-morphism's client takes no proxy, TLS or extra authentication: the Block
            // Kit message goes through the `http_config` client instead (a resolution is then
            // a new message, not an edit of the firing one).
            let mut payload = serde_json::to_value(Self::content(n)).map_err(|e| {
                NotifyError::new(
                    FailureReason::ClientError,
                    format!("cannot encode message: {e}"),
                )
            })?;
            if let (SlackTarget::App { .. }, Some(channel)) =
                (&self.config.target, &self.config.channel)
            {
                payload["channel"] = serde_json::Value::String(channel.clone());
            }
            return self.post_json(&payload).await;
        }
        let content = Self::content(n);
        let result = match &self.config.target {
            SlackTarget::App { token, .. } => self.notify_app(token.expose(), n).await,
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
    fn a_channel_takes_a_short_burst_then_one_a_second() {
        let p = pacing();
        let ch = "#oncall".to_string();
        for i in 0..CHANNEL_BURST {
            assert!(p.check_key(&ch).is_ok(), "message {i} of the burst");
        }
        let Err(not_until) = p.check_key(&ch) else {
            panic!("a message beyond the burst goes at once")
        };
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Other channels have their own bucket.
        assert!(p.check_key(&"#other".to_string()).is_ok());
    }

    fn group_of(n: usize, label: &str) -> Notification {
        let alerts = (0..n)
            .map(|i| crate::domain::Alert {
                labels: [
                    ("alertname", "DealerFeedDown"),
                    ("provider", label),
                    ("connection", &format!("dealer-{i}")),
                ]
                .into_iter()
                .collect(),
                annotations: Default::default(),
                starts_at_ms: 0,
                ends_at_ms: None,
                value: None,
                generator_url: String::new(),
            })
            .map(std::sync::Arc::new)
            .collect();
        Notification {
            receiver: "oncall".into(),
            group_key: "g".into(),
            group_labels: [("provider", label)].into_iter().collect(),
            alerts,
            tickets: Default::default(),
            public_url: "http://sw".into(),
            omitted: Default::default(),
        }
    }

    fn blocks(n: &Notification) -> Vec<serde_json::Value> {
        let v = serde_json::to_value(SlackNotifier::content(n)).unwrap();
        v["blocks"].as_array().unwrap().clone()
    }

    #[test]
    fn a_message_keeps_to_slacks_block_limits_and_summarises_the_rest() {
        assert_eq!(
            blocks(&group_of(48, "cdk")).len(),
            50,
            "48 alerts fit exactly"
        );
        let b = blocks(&group_of(49, "cdk"));
        assert_eq!(b.len(), MAX_BLOCKS);
        assert_eq!(
            b[48]["text"]["text"],
            "… and 2 more: <http://sw/api/v1/alerts|all alerts>"
        );
        let huge = "z".repeat(100_000);
        let content = serde_json::to_value(SlackNotifier::content(&group_of(1, &huge))).unwrap();
        let chars = |v: &serde_json::Value| v.as_str().unwrap().chars().count();
        assert!(chars(&content["blocks"][0]["text"]["text"]) <= MAX_HEADER_CHARS);
        assert!(chars(&content["blocks"][1]["text"]["text"]) <= MAX_SECTION_CHARS);
        assert!(chars(&content["text"]) <= MAX_SECTION_CHARS);
    }

    #[test]
    fn alertmanagers_message_renders_every_field_from_its_template() {
        use config::{SlackAction, SlackField, SlackMessage};
        let mut n = group_of(2, "cdk");
        n.public_url = "http://sw".into();
        let m = SlackMessage {
            username: r#"{{ template "slack.default.username" . }}"#.into(),
            color: r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#.into(),
            title: r#"{{ template "slack.default.title" . }}"#.into(),
            title_link: "".into(),
            pretext: "".into(),
            text: "{{ range .Alerts }}{{ .Labels.connection }} {{ end }}".into(),
            fallback: "{{ .Status }}".into(),
            callback_id: "".into(),
            footer: "".into(),
            icon_emoji: ":fire:".into(),
            icon_url: "".into(),
            image_url: "".into(),
            thumb_url: "".into(),
            fields: vec![SlackField {
                title: "Provider".into(),
                value: "{{ .GroupLabels.provider }}".into(),
                short: None,
            }],
            actions: vec![SlackAction {
                kind: "button".into(),
                text: "Open".into(),
                url: "{{ .ExternalURL }}/x".into(),
                style: "".into(),
                name: "".into(),
                value: "".into(),
                confirm: None,
            }],
            short_fields: true,
            mrkdwn_in: vec!["text".into()],
            link_names: true,
        };
        let set = crate::notify::templates::defaults();
        let p = alertmanager_payload(
            &m,
            Some("#{{ .GroupLabels.provider }}"),
            &Renderer::new(&set, &n),
        )
        .unwrap();
        assert_eq!(
            p,
            serde_json::json!({
                "channel": "#cdk",
                "username": "Alertmanager",
                "icon_emoji": ":fire:",
                "link_names": true,
                "attachments": [{
                    "title": "[FIRING:2] cdk (DealerFeedDown)",
                    "text": "dealer-0 dealer-1 ",
                    "fallback": "firing",
                    "callback_id": "",
                    "footer": "",
                    "color": "danger",
                    "fields": [{"title": "Provider", "value": "cdk", "short": true}],
                    "actions": [{"type": "button", "text": "Open", "url": "http://sw/x"}],
                    "mrkdwn_in": ["text"],
                }]
            })
        );
        let broken = SlackMessage {
            text: "{{ .Alerts.Nope }}".into(),
            ..m
        };
        let e = alertmanager_payload(&broken, None, &Renderer::new(&set, &n)).unwrap_err();
        assert!(e.to_string().contains("can't evaluate field Nope"), "{e}");
    }

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
