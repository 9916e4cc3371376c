//! A receiver: its integrations' configurations, read from `alerting.yml` by each integration's
//! own `config` module, and the notifiers built from them ([`build_receivers`]), which the
//! dispatcher and the outbox share.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use super::email::EmailNotifier;
use super::email::config::{EmailConfig, RawEmail};
use super::local::config::{ConsoleConfig, EmlConfig, RawConsole, RawEml};
use super::local::{ConsoleNotifier, EmlNotifier};
use super::msteams::TeamsNotifier;
use super::msteams::config::{RawTeams, TeamsCard, TeamsConfig};
use super::outbox::{row_for, skip_resolved};
use super::pagerduty::PagerDutyNotifier;
use super::pagerduty::config::{PagerDutyConfig, RawPagerDuty};
use super::slack::SlackNotifier;
use super::slack::config::{RawSlack, SlackConfig};
use super::webhook::WebhookNotifier;
use super::webhook::config::{RawWebhook, WebhookConfig};
use super::{Notification, Notifier};
use crate::config::loader::{Loader, RawHttpConfig, RawTlsConfig};
use crate::domain::ticket::TicketPolicy;
use crate::store::Store;
use crate::tickets::config::RawTicket;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
/// `global:` as written: `resolve_timeout` and the integrations' defaults.
pub struct RawGlobal {
    pub resolve_timeout: Option<String>,
    pub smtp_smarthost: Option<String>,
    pub smtp_from: Option<String>,
    pub smtp_hello: Option<String>,
    pub smtp_auth_username: Option<String>,
    pub smtp_auth_password: Option<String>,
    pub smtp_auth_password_file: Option<String>,
    pub smtp_require_tls: Option<bool>,
    pub smtp_force_implicit_tls: Option<bool>,
    pub smtp_tls_config: Option<RawTlsConfig>,
    pub slack_api_url: Option<String>,
    pub slack_app_token: Option<String>,
    pub slack_app_url: Option<String>,
    /// The default `http_config` of every receiver that sets none.
    pub http_config: Option<RawHttpConfig>,
}

/// `receivers[]` as written. Unknown keys are kept in `others` and refused by name.
#[derive(Debug, Deserialize)]
pub struct RawReceiver {
    pub name: String,
    #[serde(default)]
    pub slack_configs: Vec<RawSlack>,
    #[serde(default)]
    pub email_configs: Vec<RawEmail>,
    #[serde(default)]
    pub ticket_configs: Vec<RawTicket>,
    #[serde(default)]
    pub console_configs: Vec<RawConsole>,
    #[serde(default)]
    pub eml_configs: Vec<RawEml>,
    #[serde(default)]
    pub webhook_configs: Vec<RawWebhook>,
    #[serde(default)]
    pub pagerduty_configs: Vec<RawPagerDuty>,
    #[serde(default)]
    pub msteams_configs: Vec<RawTeams>,
    #[serde(default)]
    pub msteamsv2_configs: Vec<RawTeams>,
    /// Alertmanager's receiver types syncwatch does not deliver to: named, so that `check`
    /// refuses them by name rather than as unknown fields.
    #[serde(flatten)]
    pub others: std::collections::BTreeMap<String, serde_norway::Value>,
}

/// Alertmanager's receiver types syncwatch does not deliver to, with the service each names.
pub const UNDELIVERED: &[(&str, &str)] = &[
    ("opsgenie_configs", "Opsgenie"),
    ("victorops_configs", "VictorOps"),
    ("pushover_configs", "Pushover"),
    ("sns_configs", "Amazon SNS"),
    ("telegram_configs", "Telegram"),
    ("discord_configs", "Discord"),
    ("webex_configs", "Webex"),
    ("wechat_configs", "WeChat"),
    ("jira_configs", "Jira"),
    ("rocketchat_configs", "Rocket.Chat"),
];

/// The integrations syncwatch delivers to, as `alerting.yml` names them.
pub const DELIVERED: &str = "slack_configs, email_configs, webhook_configs, pagerduty_configs, msteams_configs, msteamsv2_configs, ticket_configs, console_configs, eml_configs";

#[derive(Debug, Clone)]
pub struct Receiver {
    pub name: String,
    pub slack: Vec<SlackConfig>,
    pub email: Vec<EmailConfig>,
    pub tickets: Vec<TicketPolicy>,
    pub console: Vec<ConsoleConfig>,
    pub eml: Vec<EmlConfig>,
    pub webhook: Vec<WebhookConfig>,
    pub pagerduty: Vec<PagerDutyConfig>,
    /// `msteams_configs` then `msteamsv2_configs`.
    pub teams: Vec<TeamsConfig>,
}

/// Validates the `index`-th receiver; `names` are every receiver's (escalations go to one of
/// them).
pub fn parse(
    l: &mut Loader<'_>,
    index: usize,
    r: &RawReceiver,
    g: &RawGlobal,
    names: &[String],
) -> Receiver {
    let name = r.name.clone();
    let ctx = |k: &str| format!("receivers[{name}].{k}");
    let base = format!("receivers.{index}");
    l.enter(base.clone());
    refuse_others(l, r, &ctx);
    let receiver = Receiver {
        slack: each(l, &base, "slack_configs", &r.slack_configs, |l, s| {
            super::slack::config::parse(l, s, g, &ctx)
        }),
        email: each(l, &base, "email_configs", &r.email_configs, |l, e| {
            super::email::config::parse(l, e, g, &ctx)
        }),
        tickets: each(l, &base, "ticket_configs", &r.ticket_configs, |l, t| {
            Some(crate::tickets::config::parse(l, t, &ctx, names))
        }),
        console: super::local::config::parse_console(&r.console_configs),
        eml: super::local::config::parse_eml(l, &r.eml_configs, g),
        webhook: each(l, &base, "webhook_configs", &r.webhook_configs, |l, w| {
            super::webhook::config::parse(l, w, g, &ctx)
        }),
        pagerduty: each(
            l,
            &base,
            "pagerduty_configs",
            &r.pagerduty_configs,
            |l, p| super::pagerduty::config::parse(l, p, g, &ctx),
        ),
        teams: {
            let mut teams = each(l, &base, "msteams_configs", &r.msteams_configs, |l, t| {
                super::msteams::config::parse(l, t, TeamsCard::MessageCard, g, &ctx)
            });
            teams.extend(each(
                l,
                &base,
                "msteamsv2_configs",
                &r.msteamsv2_configs,
                |l, t| super::msteams::config::parse(l, t, TeamsCard::AdaptiveCard, g, &ctx),
            ));
            teams
        },
        name,
    };
    l.leave();
    receiver
}

/// Validates each entry of an integration list, each within its own node for problem lines.
fn each<R, T>(
    l: &mut Loader<'_>,
    base: &str,
    key: &str,
    items: &[R],
    mut parse: impl FnMut(&mut Loader<'_>, &R) -> Option<T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len());
    for (j, item) in items.iter().enumerate() {
        l.enter(format!("{base}.{key}.{j}"));
        out.extend(parse(l, item));
        l.leave();
    }
    out
}

/// Refuses what a receiver holds besides the integrations syncwatch delivers to: by name for
/// Alertmanager's other receiver types, as an unknown field otherwise. Never accepted and then
/// silently dropped.
fn refuse_others(l: &mut Loader<'_>, r: &RawReceiver, ctx: &dyn Fn(&str) -> String) {
    for key in r.others.keys() {
        let message = match UNDELIVERED.iter().find(|(k, _)| k == key) {
            Some((_, service)) => format!(
                "{}: syncwatch does not deliver to {service}; it delivers {DELIVERED}",
                ctx(key)
            ),
            None => format!(
                "{}: unknown field; expected one of name, {DELIVERED}",
                ctx(key)
            ),
        };
        l.p(&format!("{key}:"), message);
    }
}

/// A receiver's integrations, built once from the config.
pub struct ReceiverIntegrations {
    /// Each notifier with its key (`slack/0`, `email/1`, …), which outbox rows refer to.
    pub notifiers: Vec<(String, Arc<dyn Notifier>)>,
    pub tickets: Vec<TicketPolicy>,
}

impl ReceiverIntegrations {
    pub fn notifier(&self, key: &str) -> Option<&Arc<dyn Notifier>> {
        self.notifiers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n)
    }

    /// The outbox rows that send `n` through each integration (in its stream `n.group_key`),
    /// each listing what that integration shows at most; none for an integration that sends
    /// no resolved-only notification when `n` is one.
    pub fn outbox_rows(&self, n: &Notification, now_ms: i64) -> Vec<crate::store::OutboxRow> {
        let mut rows = Vec::new();
        for (integration, notifier) in &self.notifiers {
            if skip_resolved(n, notifier.send_resolved()) {
                continue;
            }
            match row_for(
                &n.listing_at_most(notifier.max_listed()),
                integration,
                &n.group_key,
                now_ms,
            ) {
                Ok(row) => rows.push(row),
                Err(e) => tracing::error!(error = %e, "cannot serialise a notification"),
            }
        }
        rows
    }
}

/// Builds every receiver's notifiers.
/// `store` keeps Slack message refs (so resolutions update messages in place).
pub fn build_receivers(
    receivers: &[Receiver],
    store: Option<&Store>,
) -> Result<HashMap<String, Arc<ReceiverIntegrations>>, String> {
    let mut out = HashMap::new();
    let pacing = super::slack::pacing();
    for r in receivers {
        let mut notifiers: Vec<(String, Arc<dyn Notifier>)> = Vec::new();
        for (i, s) in r.slack.iter().enumerate() {
            let key = format!("slack/{i}");
            let refs = store.map(|st| (st.clone(), r.name.clone(), key.clone()));
            notifiers.push((
                key,
                Arc::new(SlackNotifier::new(s.clone(), refs, pacing.clone())),
            ));
        }
        for (i, e) in r.email.iter().enumerate() {
            let n = EmailNotifier::new(e.clone())
                .map_err(|err| format!("receiver {}: {err}", r.name))?;
            notifiers.push((format!("email/{i}"), Arc::new(n)));
        }
        for (i, c) in r.console.iter().enumerate() {
            notifiers.push((format!("console/{i}"), Arc::new(ConsoleNotifier(c.clone()))));
        }
        for (i, w) in r.webhook.iter().enumerate() {
            let n = WebhookNotifier::new(w.clone())
                .map_err(|err| format!("receiver {}: {err}", r.name))?;
            notifiers.push((format!("webhook/{i}"), Arc::new(n)));
        }
        for (i, p) in r.pagerduty.iter().enumerate() {
            let n = PagerDutyNotifier::new(p.clone())
                .map_err(|err| format!("receiver {}: {err}", r.name))?;
            notifiers.push((format!("pagerduty/{i}"), Arc::new(n)));
        }
        for (i, t) in r.teams.iter().enumerate() {
            let n = TeamsNotifier::new(t.clone())
                .map_err(|err| format!("receiver {}: {err}", r.name))?;
            notifiers.push((format!("{}/{i}", n.integration()), Arc::new(n)));
        }
        for (i, e) in r.eml.iter().enumerate() {
            notifiers.push((format!("eml/{i}"), Arc::new(EmlNotifier::new(e.clone()))));
        }
        out.insert(
            r.name.clone(),
            Arc::new(ReceiverIntegrations {
                notifiers,
                tickets: r.tickets.clone(),
            }),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::alerting::config::parse;

    fn check(integrations: &str) -> Result<crate::alerting::AlertingConfig, String> {
        let text = format!("route:\n  receiver: team\nreceivers:\n  - name: team\n{integrations}");
        parse(Path::new("a.yml"), &text, &|_| None).map_err(|e| e.to_string())
    }

    #[test]
    fn pagerduty_and_teams_configs_are_read_with_alertmanagers_defaults_and_rules() {
        let c = check("    pagerduty_configs:\n      - routing_key: abc\n        details: {note: '{{ .Status }}'}\n      - service_key: def\n    msteams_configs:\n      - webhook_url: https://outlook.example/webhook\n    msteamsv2_configs:\n      - webhook_url: https://flow.example/x\n        title: hi\n").unwrap();
        let team = c.receiver("team").unwrap();
        let pd = &team.pagerduty[0];
        assert_eq!(pd.url, crate::notify::pagerduty::config::EVENTS_V2_URL);
        assert_eq!(pd.severity, "error");
        assert_eq!(
            pd.details.len(),
            5,
            "Alertmanager's four default details and the file's"
        );
        assert_eq!(
            team.pagerduty[1].url,
            crate::notify::pagerduty::config::EVENTS_V1_URL
        );
        assert_eq!(team.teams.len(), 2);
        assert_eq!(team.teams[1].title, "hi");

        for (yaml, why, line) in [
            (
                "    pagerduty_configs:\n      - severity: critical\n",
                "missing service or routing key",
                6,
            ),
            (
                "    pagerduty_configs:\n      - routing_key: a\n        routing_key_file: /f\n",
                "at most one of routing_key & routing_key_file",
                7,
            ),
            (
                "    pagerduty_configs:\n      - routing_key: a\n        description: '{{ nosuch }}'\n",
                "function \"nosuch\" not defined",
                7,
            ),
            (
                "    msteams_configs:\n      - title: x\n",
                "one of webhook_url or webhook_url_file",
                6,
            ),
            (
                "    msteamsv2_configs:\n      - webhook_url: http://x/y\n        summary: s\n",
                "summary is a field of msteams_configs",
                7,
            ),
            (
                "    victorops_configs:\n      - api_key: k\n",
                "syncwatch does not deliver to VictorOps",
                5,
            ),
        ] {
            let e = check(yaml).unwrap_err();
            assert!(e.contains(why), "{yaml}: {e}");
            assert!(e.contains(&format!("a.yml:{line}:")), "{yaml}: {e}");
        }
    }
}
