//! A webhook integration's configuration (`webhook_configs`), as Alertmanager names its fields,
//! plus syncwatch's `secret` for an HMAC signature.

use std::time::Duration;

use serde::Deserialize;

use crate::config::loader::{HttpConfig, Loader, RawHttpConfig, is_http_url};
use crate::domain::secret::Secret;
use crate::notify::receivers::RawGlobal;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: Secret,
    pub send_resolved: bool,
    /// Most alerts in one payload; 0 is no limit (the rest are counted in `truncatedAlerts`).
    pub max_alerts: usize,
    /// Key of the `X-Syncwatch-Signature` HMAC (a syncwatch extension).
    pub secret: Option<Secret>,
    pub timeout: Duration,
    pub http: HttpConfig,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
/// `webhook_configs[]` as written.
pub struct RawWebhook {
    pub send_resolved: Option<bool>,
    pub url: Option<String>,
    pub url_file: Option<String>,
    #[serde(default)]
    pub max_alerts: usize,
    pub timeout: Option<String>,
    pub secret: Option<String>,
    pub secret_file: Option<String>,
    pub http_config: Option<RawHttpConfig>,
}

/// Validates one `webhook_configs` entry; `None` when it cannot be sent (the problem is
/// reported).
pub fn parse(
    l: &mut Loader<'_>,
    w: &RawWebhook,
    g: &RawGlobal,
    ctx: &dyn Fn(&str) -> String,
) -> Option<WebhookConfig> {
    let url = match (&w.url, &w.url_file) {
        (Some(u), None) => Some(Secret::new(l.s("url", u))),
        (None, Some(f)) => l.secret_file("url_file", f),
        _ => {
            l.p(
                "webhook_configs:",
                format!(
                    "{}: exactly one of url or url_file is required",
                    ctx("webhook_configs")
                ),
            );
            None
        }
    };
    let url = url?;
    if !is_http_url(url.expose()) {
        l.p(
            "url:",
            format!(
                "{}: url must be an http(s) URL with a host",
                ctx("webhook_configs")
            ),
        );
    }
    let secret = match (&w.secret, &w.secret_file) {
        (Some(s), None) => Some(Secret::new(l.s("secret", s))),
        (None, Some(f)) => l.secret_file("secret_file", f),
        (None, None) => None,
        _ => {
            l.p(
                "secret",
                format!(
                    "{}: give secret or secret_file, not both",
                    ctx("webhook_configs")
                ),
            );
            None
        }
    };
    Some(WebhookConfig {
        url,
        send_resolved: w.send_resolved.unwrap_or(true),
        max_alerts: w.max_alerts,
        secret,
        timeout: l.dur("timeout", w.timeout.as_deref(), Duration::from_secs(10)),
        http: l.http_config(
            w.http_config.as_ref(),
            g.http_config.as_ref(),
            &ctx("webhook_configs"),
        ),
    })
}
