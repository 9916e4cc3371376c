//! An email integration's configuration (`email_configs`, with the `global` SMTP defaults), as
//! Alertmanager names and decides its fields.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::config::loader::{Loader, RawTlsConfig, TlsSettings};
use crate::domain::secret::Secret;
use crate::gotemplate::Templates;
use crate::notify::receivers::RawGlobal;

/// How the SMTP connection is secured, as Alertmanager decides it: port 465 (or
/// `force_implicit_tls`) is TLS from the first byte; otherwise `require_tls` (default true)
/// demands STARTTLS and refuses a server that does not offer it; `require_tls: false` is plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    ImplicitTls,
    StartTls,
    Plain,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub security: SmtpSecurity,
    pub tls: TlsSettings,
    pub hello: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub to: Vec<String>,
    pub from: String,
    pub smtp: SmtpSettings,
    pub send_resolved: bool,
    /// Templated message parts; `None` keeps syncwatch's own (Alertmanager's defaults for the
    /// subject: `{{ template "email.default.subject" . }}`).
    pub html: Option<String>,
    pub text: Option<String>,
    /// Extra headers, each value a template; `Subject` replaces the subject.
    pub headers: BTreeMap<String, String>,
    pub templates: Arc<Templates>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
/// `email_configs[]` as written.
pub struct RawEmail {
    pub send_resolved: Option<bool>,
    pub to: String,
    pub from: Option<String>,
    pub smarthost: Option<String>,
    pub hello: Option<String>,
    pub auth_username: Option<String>,
    pub auth_password: Option<String>,
    pub auth_password_file: Option<String>,
    pub require_tls: Option<bool>,
    pub force_implicit_tls: Option<bool>,
    pub tls_config: Option<RawTlsConfig>,
    pub html: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Validates one `email_configs` entry; `None` when it cannot be sent (the problem is reported).
pub fn parse(
    l: &mut Loader<'_>,
    e: &RawEmail,
    g: &RawGlobal,
    ctx: &dyn Fn(&str) -> String,
) -> Option<EmailConfig> {
    let smarthost = e.smarthost.clone().or_else(|| g.smtp_smarthost.clone());
    let from = e.from.clone().or_else(|| g.smtp_from.clone());
    let (Some(smarthost), Some(from)) = (smarthost, from) else {
        l.p(
            "email_configs:",
            format!(
                "{}: smarthost and from are required (or global smtp_smarthost / smtp_from)",
                ctx("email_configs")
            ),
        );
        return None;
    };
    let smarthost = l.s("smarthost", &smarthost);
    let Some((host, port)) = smarthost
        .rsplit_once(':')
        .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_string(), p)))
    else {
        l.p(
            "smarthost",
            format!(
                "{}: smarthost {smarthost:?} must be host:port",
                ctx("email_configs")
            ),
        );
        return None;
    };
    let password = match (&e.auth_password, &e.auth_password_file) {
        (Some(p), None) => Some(Secret::new(l.s("auth_password", p))),
        (None, Some(f)) => l.secret_file("auth_password_file", f),
        (Some(_), Some(_)) => {
            l.p(
                "auth_password",
                format!(
                    "{}: give auth_password or auth_password_file, not both",
                    ctx("email_configs")
                ),
            );
            None
        }
        (None, None) => match (&g.smtp_auth_password, &g.smtp_auth_password_file) {
            (Some(p), _) => Some(Secret::new(l.s("smtp_auth_password", p))),
            (None, Some(f)) => l.secret_file("smtp_auth_password_file", f),
            (None, None) => None,
        },
    };
    let security = if e
        .force_implicit_tls
        .or(g.smtp_force_implicit_tls)
        .unwrap_or(port == 465)
    {
        SmtpSecurity::ImplicitTls
    } else if e.require_tls.or(g.smtp_require_tls).unwrap_or(true) {
        SmtpSecurity::StartTls
    } else {
        SmtpSecurity::Plain
    };
    let tls = match e.tls_config.as_ref().or(g.smtp_tls_config.as_ref()) {
        Some(t) => l.tls(t),
        None => TlsSettings::default(),
    };
    Some(EmailConfig {
        to: split_addresses(&l.s("to", &e.to)),
        from: l.s("from", &from),
        smtp: SmtpSettings {
            host,
            port,
            username: e
                .auth_username
                .clone()
                .or_else(|| g.smtp_auth_username.clone()),
            password,
            security,
            tls,
            hello: e.hello.clone().or_else(|| g.smtp_hello.clone()),
        },
        send_resolved: e.send_resolved.unwrap_or(true),
        html: e
            .html
            .as_deref()
            .map(|t| l.template("html", &ctx("email_configs"), t)),
        text: e
            .text
            .as_deref()
            .map(|t| l.template("text", &ctx("email_configs"), t)),
        headers: e
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), l.template(k, &ctx("email_configs.headers"), v)))
            .collect(),
        templates: l.templates.clone(),
    })
}

/// A comma-separated address list.
pub fn split_addresses(s: &str) -> Vec<String> {
    s.split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}
