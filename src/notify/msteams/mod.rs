//! Microsoft Teams, as Alertmanager sends to it: a MessageCard to a connector webhook
//! (`msteams_configs`: title, summary, text, red while firing and green once resolved) or an
//! Adaptive Card to a workflow webhook (`msteamsv2_configs`: a heading and the text).
//!
//! A card stays within Teams' 28 KB message limit: the text is cut to fit, ending in `…`.

pub mod config;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::templates::Renderer;
use super::{FailureReason, Notification, Notifier, NotifyError};
use config::{TeamsCard, TeamsConfig};

/// Teams' largest message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 28_000;

/// The card for a notification, rendered from the config's templates.
pub fn card(c: &TeamsConfig, n: &Notification) -> Result<Value, crate::gotemplate::Error> {
    let r = Renderer::new(&c.templates, n);
    let firing = n.status() == "firing";
    let title = r.render("title", &c.title)?;
    let text = r.render("text", &c.text)?;
    let build = |text: &str| -> Result<Value, crate::gotemplate::Error> {
        Ok(match c.card {
            TeamsCard::MessageCard => json!({
                "@context": "http://schema.org/extensions",
                "type": "MessageCard",
                "title": title,
                "summary": r.render("summary", &c.summary)?,
                "text": text,
                "themeColor": if firing { "8C1A1A" } else { "2DC72D" },
            }),
            TeamsCard::AdaptiveCard => json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.2",
                        "body": [
                            {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
                             "wrap": true, "style": "heading",
                             "color": if firing { "Attention" } else { "Good" }},
                            {"type": "TextBlock", "text": text, "wrap": true},
                        ],
                        "msteams": {"width": "full"},
                    },
                }],
            }),
        })
    };
    let full = build(&text)?;
    let size = serde_json::to_vec(&full).map_or(0, |b| b.len());
    if size <= MAX_MESSAGE_BYTES {
        return Ok(full);
    }
    // The text may take what the rest of the card leaves, counted as JSON writes it.
    let escaped = |s: &str| serde_json::to_string(s).map_or(s.len(), |j| j.len() - 2);
    let budget = MAX_MESSAGE_BYTES.saturating_sub(size - escaped(&text) + escaped("…"));
    let mut used = 0;
    let mut cut = String::new();
    for ch in text.chars() {
        let mut buf = [0u8; 4];
        used += escaped(ch.encode_utf8(&mut buf));
        if used > budget {
            break;
        }
        cut.push(ch);
    }
    cut.push('…');
    build(&cut)
}

pub struct TeamsNotifier {
    config: TeamsConfig,
    client: reqwest::Client,
}

impl TeamsNotifier {
    pub fn new(config: TeamsConfig) -> Result<Self, NotifyError> {
        let client = config
            .http
            .client(std::time::Duration::from_secs(30))
            .map_err(|e| {
                NotifyError::new(FailureReason::ClientError, format!("Teams client: {e}"))
            })?;
        Ok(Self { config, client })
    }
}

#[async_trait]
impl Notifier for TeamsNotifier {
    fn integration(&self) -> &'static str {
        match self.config.card {
            TeamsCard::MessageCard => "msteams",
            TeamsCard::AdaptiveCard => "msteamsv2",
        }
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    fn max_listed(&self) -> usize {
        100
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let body = card(&self.config, n)
            .map_err(|e| NotifyError::new(FailureReason::ClientError, e.to_string()))?;
        let req = self
            .config
            .http
            .authorize(self.client.post(self.config.webhook_url.expose()));
        super::webhook::answer("Teams", req.json(&body).send().await).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::loader::HttpConfig;
    use crate::domain::secret::Secret;
    use std::sync::Arc;

    fn notification(n: usize, resolved: bool) -> Notification {
        let alerts = (0..n)
            .map(|i| {
                Arc::new(crate::domain::Alert {
                    labels: [
                        ("alertname", "Lag"),
                        ("connection", &format!("dealer-{i:05}")),
                    ]
                    .into_iter()
                    .collect(),
                    annotations: Default::default(),
                    starts_at_ms: 0,
                    ends_at_ms: resolved.then_some(1),
                    value: None,
                    generator_url: String::new(),
                })
            })
            .collect();
        Notification {
            receiver: "support".into(),
            group_key: "g".into(),
            group_labels: [("alertname", "Lag")].into_iter().collect(),
            alerts,
            tickets: Default::default(),
            public_url: "http://sw".into(),
            omitted: Default::default(),
        }
    }

    fn config(card: TeamsCard) -> TeamsConfig {
        TeamsConfig {
            card,
            webhook_url: Secret::new("http://teams/x"),
            send_resolved: true,
            title: r#"{{ template "msteams.default.title" . }}"#.into(),
            summary: r#"{{ template "msteams.default.summary" . }}"#.into(),
            text: r#"{{ template "msteams.default.text" . }}"#.into(),
            http: HttpConfig::new(),
            templates: Arc::new(crate::notify::templates::defaults()),
        }
    }

    #[test]
    fn a_message_card_is_red_while_firing_and_green_once_resolved() {
        let c = config(TeamsCard::MessageCard);
        let m = card(&c, &notification(1, false)).unwrap();
        assert_eq!(m["type"], "MessageCard");
        assert_eq!(m["title"], "[FIRING:1] Lag (dealer-00000)");
        assert_eq!(m["summary"], m["title"]);
        assert_eq!(m["themeColor"], "8C1A1A");
        assert!(
            m["text"]
                .as_str()
                .unwrap()
                .starts_with("# Alerts Firing:\nLabels:\n - alertname = Lag")
        );
        let r = card(&c, &notification(1, true)).unwrap();
        assert_eq!(r["themeColor"], "2DC72D");
        assert!(
            r["text"]
                .as_str()
                .unwrap()
                .starts_with("# Alerts Resolved:")
        );
    }

    #[test]
    fn an_adaptive_card_has_a_heading_and_the_text() {
        let m = card(&config(TeamsCard::AdaptiveCard), &notification(2, false)).unwrap();
        let content = &m["attachments"][0]["content"];
        assert_eq!(
            m["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(content["body"][0]["text"], "[FIRING:2] Lag ");
        assert_eq!(content["body"][0]["color"], "Attention");
        assert!(
            content["body"][1]["text"]
                .as_str()
                .unwrap()
                .contains("dealer-00001")
        );
    }

    #[test]
    fn a_card_keeps_to_the_teams_size_limit() {
        for kind in [TeamsCard::MessageCard, TeamsCard::AdaptiveCard] {
            let m = card(&config(kind), &notification(2000, false)).unwrap();
            let size = serde_json::to_vec(&m).unwrap().len();
            assert!(size <= MAX_MESSAGE_BYTES, "{kind:?}: {size} bytes");
            assert!(
                size > MAX_MESSAGE_BYTES - 2000,
                "{kind:?}: cut to {size} bytes, more than needed"
            );
            let text = if kind == TeamsCard::MessageCard {
                m["text"].as_str().unwrap().to_string()
            } else {
                m["attachments"][0]["content"]["body"][1]["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            assert!(text.ends_with('…'));
        }
    }
}
