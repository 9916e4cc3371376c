//! Microsoft Teams integrations' configuration, with Alertmanager's field names:
//! `msteams_configs` (an Office 365 connector webhook, MessageCard; Alertmanager 0.26) and
//! `msteamsv2_configs` (a Power Automate workflow webhook, Adaptive Card; Alertmanager 0.28):
//! `webhook_url` or `webhook_url_file`, the templated `title`, `summary` (v1) and `text`,
//! `http_config`.

use std::sync::Arc;

use serde::Deserialize;

use crate::config::loader::{HttpConfig, Loader, RawHttpConfig, is_http_url};
use crate::domain::secret::Secret;
use crate::gotemplate::Templates;
use crate::notify::receivers::RawGlobal;

/// Which card the webhook takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamsCard {
    /// `msteams_configs`: a connector's MessageCard.
    MessageCard,
    /// `msteamsv2_configs`: a workflow's Adaptive Card.
    AdaptiveCard,
}

/// A validated Teams integration; text fields are templates.
#[derive(Debug, Clone)]
pub struct TeamsConfig {
    pub card: TeamsCard,
    pub webhook_url: Secret,
    pub send_resolved: bool,
    pub title: String,
    pub summary: String,
    pub text: String,
    pub http: HttpConfig,
    pub templates: Arc<Templates>,
}

/// `msteams_configs[]` and `msteamsv2_configs[]` as written (`summary` is the first's only).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTeams {
    pub send_resolved: Option<bool>,
    pub webhook_url: Option<String>,
    pub webhook_url_file: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub http_config: Option<RawHttpConfig>,
}

/// Validates one entry of `msteams_configs` (`card` MessageCard) or `msteamsv2_configs`.
pub fn parse(
    l: &mut Loader<'_>,
    t: &RawTeams,
    card: TeamsCard,
    g: &RawGlobal,
    ctx: &dyn Fn(&str) -> String,
) -> Option<TeamsConfig> {
    let ctx = ctx(match card {
        TeamsCard::MessageCard => "msteams_configs",
        TeamsCard::AdaptiveCard => "msteamsv2_configs",
    });
    if card == TeamsCard::AdaptiveCard && t.summary.is_some() {
        l.p(
            "summary:",
            format!("{ctx}: summary is a field of msteams_configs (MessageCard) only"),
        );
    }
    let url = match (&t.webhook_url, &t.webhook_url_file) {
        (Some(_), Some(_)) => {
            l.p(
                "webhook_url_file:",
                format!("{ctx}: at most one of webhook_url & webhook_url_file must be configured"),
            );
            return None;
        }
        (Some(u), None) => Secret::new(l.s("webhook_url", u)),
        (None, Some(f)) => l.secret_file("webhook_url_file", f)?,
        (None, None) => {
            let section = match card {
                TeamsCard::MessageCard => "msteams_configs:",
                TeamsCard::AdaptiveCard => "msteamsv2_configs:",
            };
            l.p(
                section,
                format!("{ctx}: one of webhook_url or webhook_url_file must be configured"),
            );
            return None;
        }
    };
    if !is_http_url(url.expose()) {
        l.p(
            "webhook_url:",
            format!("{ctx}.webhook_url: must be an http(s) URL with a host"),
        );
    }
    let title = l.template_or(
        "title",
        &ctx,
        t.title.as_ref(),
        r#"{{ template "msteams.default.title" . }}"#,
    );
    let summary = l.template_or(
        "summary",
        &ctx,
        t.summary.as_ref(),
        r#"{{ template "msteams.default.summary" . }}"#,
    );
    let body = l.template_or(
        "text",
        &ctx,
        t.text.as_ref(),
        r#"{{ template "msteams.default.text" . }}"#,
    );
    let http = l.http_config(t.http_config.as_ref(), g.http_config.as_ref(), &ctx);
    Some(TeamsConfig {
        card,
        webhook_url: url,
        send_resolved: t.send_resolved.unwrap_or(true),
        title,
        summary,
        text: body,
        http,
        templates: l.templates.clone(),
    })
}
