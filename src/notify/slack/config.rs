//! A Slack integration's configuration (`slack_configs`), as Alertmanager names its fields:
//! where it posts (incoming webhook, or bot token to `app_url`), the channel, Alertmanager's
//! templated message when any of its fields is set, and `http_config`.

use std::sync::Arc;

use serde::Deserialize;

use crate::config::loader::{HttpConfig, Loader, RawHttpConfig, is_http_url};
use crate::domain::secret::Secret;
use crate::gotemplate::Templates;
use crate::notify::receivers::RawGlobal;

#[derive(Debug, Clone)]
pub enum SlackTarget {
    /// Bot token: `chat.postMessage` at `app_url`.
    App { token: Secret, app_url: String },
    /// Incoming webhook.
    Webhook { url: Secret },
}

#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub target: SlackTarget,
    pub channel: Option<String>,
    pub send_resolved: bool,
    /// Alertmanager's templated message (an attachment), when the file sets any of its
    /// fields; otherwise syncwatch's Block Kit message is sent.
    pub message: Option<Arc<SlackMessage>>,
    /// The templates the message's fields are rendered with.
    pub templates: Arc<Templates>,
    /// Its `http_config` (an `authorization` of type Bearer with an `api_url` is read as a bot
    /// token for that Web API URL, which is how Alertmanager 0.25 posts with a token).
    pub http: HttpConfig,
}

/// The fields of Alertmanager's Slack message, each a template; the ones a file leaves out
/// hold Alertmanager's defaults (`{{ template "slack.default.title" . }}`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    pub username: String,
    pub color: String,
    pub title: String,
    pub title_link: String,
    pub pretext: String,
    pub text: String,
    pub fallback: String,
    pub callback_id: String,
    pub footer: String,
    pub icon_emoji: String,
    pub icon_url: String,
    pub image_url: String,
    pub thumb_url: String,
    pub fields: Vec<SlackField>,
    pub actions: Vec<SlackAction>,
    pub short_fields: bool,
    /// Default `["fallback", "pretext", "text"]`.
    pub mrkdwn_in: Vec<String>,
    pub link_names: bool,
}

/// An attachment field (`fields:`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    pub title: String,
    pub value: String,
    pub short: Option<bool>,
}

/// An attachment button (`actions:`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAction {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub style: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
    pub confirm: Option<SlackConfirm>,
}

impl SlackAction {
    /// The templated fields, by their YAML and JSON name.
    pub fn texts(&self) -> [(&'static str, &String); 6] {
        [
            ("type", &self.kind),
            ("text", &self.text),
            ("url", &self.url),
            ("style", &self.style),
            ("name", &self.name),
            ("value", &self.value),
        ]
    }
}

impl SlackConfirm {
    /// The templated fields, by their YAML and JSON name.
    pub fn texts(&self) -> [(&'static str, &String); 4] {
        [
            ("title", &self.title),
            ("text", &self.text),
            ("ok_text", &self.ok_text),
            ("dismiss_text", &self.dismiss_text),
        ]
    }
}

/// A button's confirmation dialog.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfirm {
    pub text: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub ok_text: String,
    #[serde(default)]
    pub dismiss_text: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
/// `slack_configs[]` as written.
pub struct RawSlack {
    pub send_resolved: Option<bool>,
    pub api_url: Option<String>,
    pub api_url_file: Option<String>,
    pub app_token: Option<String>,
    pub app_token_file: Option<String>,
    pub app_url: Option<String>,
    pub channel: Option<String>,
    pub username: Option<String>,
    pub color: Option<String>,
    pub title: Option<String>,
    pub title_link: Option<String>,
    pub pretext: Option<String>,
    pub text: Option<String>,
    pub fallback: Option<String>,
    pub callback_id: Option<String>,
    pub footer: Option<String>,
    pub icon_emoji: Option<String>,
    pub icon_url: Option<String>,
    pub image_url: Option<String>,
    pub thumb_url: Option<String>,
    pub fields: Option<Vec<SlackField>>,
    pub actions: Option<Vec<SlackAction>>,
    pub short_fields: Option<bool>,
    pub mrkdwn_in: Option<Vec<String>>,
    pub link_names: Option<bool>,
    pub http_config: Option<RawHttpConfig>,
}

pub const DEFAULT_SLACK_APP_URL: &str = "https://slack.com/api/chat.postMessage";

/// Validates one `slack_configs` entry; `None` when it cannot be sent (the problem is reported).
pub fn parse(
    l: &mut Loader<'_>,
    s: &RawSlack,
    g: &RawGlobal,
    ctx: &dyn Fn(&str) -> String,
) -> Option<SlackConfig> {
    let webhook = match (&s.api_url, &s.api_url_file) {
        (Some(u), _) => Some(Secret::new(l.s("api_url", u))),
        (None, Some(f)) => l.secret_file("api_url_file", f),
        _ => None,
    };
    let token = match (&s.app_token, &s.app_token_file, &g.slack_app_token) {
        (Some(t), _, _) => Some(Secret::new(l.s("app_token", t))),
        (None, Some(f), _) => l.secret_file("app_token_file", f),
        (None, None, Some(t)) => Some(Secret::new(l.s("slack_app_token", t))),
        _ => None,
    };
    let webhook = webhook.or_else(|| {
        g.slack_api_url
            .as_ref()
            .map(|u| Secret::new(l.s("slack_api_url", u)))
    });
    let mut http = l.http_config(
        s.http_config.as_ref(),
        g.http_config.as_ref(),
        &ctx("slack_configs"),
    );
    // Alertmanager 0.25's way to post with a bot token: `api_url` the Web API method,
    // the token in `http_config.authorization`.
    let mut token = token;
    let mut bearer_api = None;
    if token.is_none()
        && let Some(url) = &webhook
        && http
            .authorization
            .as_ref()
            .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        && let Some((_, creds)) = http.authorization.take()
    {
        token = Some(creds);
        bearer_api = Some(url.expose().to_string());
    }
    let target = match (token, webhook) {
        (Some(token), _) => {
            let app_url = bearer_api
                .or_else(|| s.app_url.clone())
                .or_else(|| g.slack_app_url.clone())
                .unwrap_or_else(|| DEFAULT_SLACK_APP_URL.to_string());
            let app_url = l.s("app_url", &app_url);
            if !is_http_url(&app_url) {
                l.p(
                    "app_url:",
                    format!("{}: must be an http(s) URL", ctx("slack_configs.app_url")),
                );
            }
            if s.channel.is_none() {
                l.p(
                    "slack_configs:",
                    format!(
                        "{}: channel is required with an app token",
                        ctx("slack_configs")
                    ),
                );
            }
            SlackTarget::App { token, app_url }
        }
        (None, Some(url)) => {
            if !is_http_url(url.expose()) {
                l.p(
                    "api_url:",
                    format!(
                        "{}: must be an http(s) URL with a host",
                        ctx("slack_configs.api_url")
                    ),
                );
            }
            SlackTarget::Webhook { url }
        }
        (None, None) => {
            // A named file that could not be read is reported already.
            if s.api_url_file.is_none() && s.app_token_file.is_none() {
                l.p(
                        "slack_configs:",
                        format!("{}: one of api_url, api_url_file, app_token or app_token_file (or a global slack_api_url / slack_app_token) is required", ctx("slack_configs")),
                    );
            }
            return None;
        }
    };
    let channel = s
        .channel
        .as_deref()
        .map(|c| l.template("channel", &ctx("slack_configs"), c));
    let message = message(l, s, &ctx("slack_configs"));
    Some(SlackConfig {
        target,
        channel,
        send_resolved: s.send_resolved.unwrap_or(true),
        message: message.map(Arc::new),
        templates: l.templates.clone(),
        http,
    })
}

/// Alertmanager's message fields of a Slack config, when it sets any of them, with
/// Alertmanager's defaults for the rest; each template checked.
fn message(l: &mut Loader<'_>, s: &RawSlack, ctx: &str) -> Option<SlackMessage> {
    let texts = [
        (
            "username",
            &s.username,
            r#"{{ template "slack.default.username" . }}"#,
        ),
        (
            "color",
            &s.color,
            r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#,
        ),
        (
            "title",
            &s.title,
            r#"{{ template "slack.default.title" . }}"#,
        ),
        (
            "title_link",
            &s.title_link,
            r#"{{ template "slack.default.titlelink" . }}"#,
        ),
        (
            "pretext",
            &s.pretext,
            r#"{{ template "slack.default.pretext" . }}"#,
        ),
        ("text", &s.text, r#"{{ template "slack.default.text" . }}"#),
        (
            "fallback",
            &s.fallback,
            r#"{{ template "slack.default.fallback" . }}"#,
        ),
        (
            "callback_id",
            &s.callback_id,
            r#"{{ template "slack.default.callbackid" . }}"#,
        ),
        (
            "footer",
            &s.footer,
            r#"{{ template "slack.default.footer" . }}"#,
        ),
        (
            "icon_emoji",
            &s.icon_emoji,
            r#"{{ template "slack.default.iconemoji" . }}"#,
        ),
        (
            "icon_url",
            &s.icon_url,
            r#"{{ template "slack.default.iconurl" . }}"#,
        ),
        ("image_url", &s.image_url, ""),
        ("thumb_url", &s.thumb_url, ""),
    ];
    let any = texts.iter().any(|(_, v, _)| v.is_some())
        || s.fields.is_some()
        || s.actions.is_some()
        || s.short_fields.is_some()
        || s.mrkdwn_in.is_some()
        || s.link_names.is_some();
    if !any {
        return None;
    }
    let mut out: Vec<String> = Vec::with_capacity(texts.len());
    for (key, v, default) in texts {
        out.push(match v {
            Some(t) => l.template(key, ctx, t),
            None => default.to_string(),
        });
    }
    let fields = s.fields.clone().unwrap_or_default();
    for f in &fields {
        l.template("title", &format!("{ctx}.fields"), &f.title);
        l.template("value", &format!("{ctx}.fields"), &f.value);
    }
    let actions = s.actions.clone().unwrap_or_default();
    for a in &actions {
        let actx = format!("{ctx}.actions");
        for (k, t) in a.texts() {
            l.template(k, &actx, t);
        }
        for (k, t) in a.confirm.iter().flat_map(SlackConfirm::texts) {
            l.template(k, &format!("{actx}.confirm"), t);
        }
    }
    let mut it = out.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Some(SlackMessage {
        username: next(),
        color: next(),
        title: next(),
        title_link: next(),
        pretext: next(),
        text: next(),
        fallback: next(),
        callback_id: next(),
        footer: next(),
        icon_emoji: next(),
        icon_url: next(),
        image_url: next(),
        thumb_url: next(),
        fields,
        actions,
        short_fields: s.short_fields.unwrap_or(false),
        mrkdwn_in: s
            .mrkdwn_in
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| vec!["fallback".into(), "pretext".into(), "text".into()]),
        link_names: s.link_names.unwrap_or(false),
    })
}
