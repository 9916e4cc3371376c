//! A PagerDuty integration's configuration (`pagerduty_configs`), as Alertmanager 0.25 names,
//! defaults and checks its fields: `routing_key` (Events API v2) or `service_key` (v1), each
//! also from a file; `url`; the templated `client`, `client_url`, `description`, `severity`,
//! `class`, `component`, `group`, `details`, `images` and `links`; `http_config`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::config::loader::{HttpConfig, Loader, RawHttpConfig, is_http_url};
use crate::domain::secret::Secret;
use crate::gotemplate::Templates;
use crate::notify::receivers::RawGlobal;

/// Events API v2.
pub const EVENTS_V2_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Events API v1 (integration keys of the older "generic" services).
pub const EVENTS_V1_URL: &str = "https://events.pagerduty.com/generic/2010-04-15/create_event.json";

/// Which Events API the key belongs to.
#[derive(Debug, Clone)]
pub enum PagerDutyKey {
    /// `routing_key`: Events API v2.
    Routing(Secret),
    /// `service_key`: Events API v1.
    Service(Secret),
}

/// A validated `pagerduty_configs` entry; text fields are templates.
#[derive(Debug, Clone)]
pub struct PagerDutyConfig {
    pub key: PagerDutyKey,
    pub url: String,
    pub send_resolved: bool,
    pub client: String,
    pub client_url: String,
    pub description: String,
    pub severity: String,
    pub class: String,
    pub component: String,
    pub group: String,
    /// Alertmanager's four defaults (`firing`, `resolved`, `num_firing`, `num_resolved`) plus
    /// the file's, the file's winning.
    pub details: BTreeMap<String, String>,
    pub images: Vec<PagerDutyImage>,
    pub links: Vec<PagerDutyLink>,
    pub http: HttpConfig,
    pub templates: Arc<Templates>,
}

/// An image of the event (`src` required to be sent).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyImage {
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub alt: String,
    #[serde(default)]
    pub href: String,
}

/// A link of the event (`href` required to be sent).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyLink {
    #[serde(default)]
    pub href: String,
    #[serde(default)]
    pub text: String,
}

/// `pagerduty_configs[]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPagerDuty {
    pub send_resolved: Option<bool>,
    pub routing_key: Option<String>,
    pub routing_key_file: Option<String>,
    pub service_key: Option<String>,
    pub service_key_file: Option<String>,
    pub url: Option<String>,
    pub client: Option<String>,
    pub client_url: Option<String>,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub class: Option<String>,
    pub component: Option<String>,
    pub group: Option<String>,
    pub details: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub images: Vec<PagerDutyImage>,
    #[serde(default)]
    pub links: Vec<PagerDutyLink>,
    pub http_config: Option<RawHttpConfig>,
}

/// Alertmanager's default `details`.
pub fn default_details() -> BTreeMap<String, String> {
    [
        (
            "firing",
            r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#,
        ),
        (
            "resolved",
            r#"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#,
        ),
        ("num_firing", "{{ .Alerts.Firing | len }}"),
        ("num_resolved", "{{ .Alerts.Resolved | len }}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Validates one `pagerduty_configs` entry; `None` when it cannot be sent (the problem is
/// reported).
pub fn parse(
    l: &mut Loader<'_>,
    p: &RawPagerDuty,
    g: &RawGlobal,
    ctx: &dyn Fn(&str) -> String,
) -> Option<PagerDutyConfig> {
    let ctx = ctx("pagerduty_configs");
    let one = |l: &mut Loader<'_>, key: &str, v: &Option<String>, f: &Option<String>| match (v, f) {
        (Some(_), Some(_)) => {
            l.p(
                &format!("{key}_file:"),
                format!("{ctx}: at most one of {key} & {key}_file must be configured"),
            );
            None
        }
        (Some(v), None) => Some(Secret::new(l.s(key, v))),
        (None, Some(f)) => l.secret_file(&format!("{key}_file"), f),
        (None, None) => None,
    };
    let routing = one(l, "routing_key", &p.routing_key, &p.routing_key_file);
    let service = one(l, "service_key", &p.service_key, &p.service_key_file);
    let key = match (routing, service) {
        (Some(r), _) => PagerDutyKey::Routing(r),
        (None, Some(s)) => PagerDutyKey::Service(s),
        (None, None) => {
            // A named file that could not be read is reported already.
            if p.routing_key_file.is_none() && p.service_key_file.is_none() {
                l.p(
                    "pagerduty_configs:",
                    format!("{ctx}: missing service or routing key in PagerDuty config"),
                );
            }
            return None;
        }
    };
    let default_url = match key {
        PagerDutyKey::Routing(_) => EVENTS_V2_URL,
        PagerDutyKey::Service(_) => EVENTS_V1_URL,
    };
    let url = l.s("url", p.url.as_deref().unwrap_or(default_url));
    if !is_http_url(&url) {
        l.p(
            "url:",
            format!("{ctx}.url: must be an http(s) URL with a host"),
        );
    }
    let client = l.template_or(
        "client",
        &ctx,
        p.client.as_ref(),
        r#"{{ template "pagerduty.default.client" . }}"#,
    );
    let client_url = l.template_or(
        "client_url",
        &ctx,
        p.client_url.as_ref(),
        r#"{{ template "pagerduty.default.clientURL" . }}"#,
    );
    let description = l.template_or(
        "description",
        &ctx,
        p.description.as_ref(),
        r#"{{ template "pagerduty.default.description" .}}"#,
    );
    let severity = l.template_or("severity", &ctx, p.severity.as_ref(), "error");
    let class = l.template_or("class", &ctx, p.class.as_ref(), "");
    let component = l.template_or("component", &ctx, p.component.as_ref(), "");
    let group = l.template_or("group", &ctx, p.group.as_ref(), "");
    let mut details = default_details();
    for (k, v) in p.details.iter().flatten() {
        details.insert(k.clone(), l.template(k, &format!("{ctx}.details"), v));
    }
    for i in &p.images {
        for (k, t) in [("src", &i.src), ("alt", &i.alt), ("href", &i.href)] {
            l.template(k, &format!("{ctx}.images"), t);
        }
    }
    for link in &p.links {
        for (k, t) in [("href", &link.href), ("text", &link.text)] {
            l.template(k, &format!("{ctx}.links"), t);
        }
    }
    let http = l.http_config(p.http_config.as_ref(), g.http_config.as_ref(), &ctx);
    Some(PagerDutyConfig {
        key,
        url,
        send_resolved: p.send_resolved.unwrap_or(true),
        client,
        client_url,
        description,
        severity,
        class,
        component,
        group,
        details,
        images: p.images.clone(),
        links: p.links.clone(),
        http,
        templates: l.templates.clone(),
    })
}
