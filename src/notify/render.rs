//! Renderings of a notification: a title, plain text, Slack mrkdwn and HTML. Values from labels
//! and annotations are escaped for each format.

use super::Notification;
use crate::domain::Alert;
use crate::domain::clock::rfc3339;
use crate::domain::duration::format_duration;
use crate::rules::template::format_value;

pub use crate::domain::truncate;

/// The longest email subject: RFC 5322 allows 998 characters a line, and a long subject of one
/// word (a huge label value) cannot be folded, so servers refuse it ("line too long").
pub const MAX_SUBJECT_CHARS: usize = 200;

/// The email subject: the [`title`], cut to [`MAX_SUBJECT_CHARS`].
pub fn subject(n: &Notification) -> String {
    truncate(&title(n), MAX_SUBJECT_CHARS)
}

/// `[FIRING:2] ProviderAuthFailing tekion` / `[RESOLVED] …`.
pub fn title(n: &Notification) -> String {
    let firing = n.firing_count();
    let head = if firing > 0 {
        format!("[FIRING:{firing}]")
    } else {
        "[RESOLVED]".to_string()
    };
    let mut labels: Vec<&str> = Vec::new();
    if let Some(a) = n.alerts.first() {
        labels.push(a.name());
    }
    for (k, v) in n.group_labels.iter() {
        if k != "alertname" {
            labels.push(v);
        }
    }
    format!("{head} {}", labels.join(" "))
}

/// The facts of one alert worth showing, in order: (name, value, is_link).
pub fn facts(n: &Notification, a: &Alert) -> Vec<(&'static str, String, bool)> {
    let mut out = vec![("Severity", a.severity().as_str().to_string(), false)];
    for (key, name) in [
        ("provider", "Provider"),
        ("connection", "Connection"),
        ("pipeline", "Pipeline"),
        ("stage", "Stage"),
    ] {
        if let Some(v) = a.labels.get(key) {
            out.push((name, v.to_string(), false));
        }
    }
    if let Some(v) = a.value.filter(|_| !a.is_resolved()) {
        out.push(("Value", format_value(v), false));
    }
    out.push(("Since", rfc3339(a.starts_at_ms), false));
    if let Some(end) = a.ends_at_ms {
        out.push(("Resolved", rfc3339(end), false));
        let lasted = std::time::Duration::from_millis((end - a.starts_at_ms).max(0) as u64);
        out.push(("Lasted", format_duration(lasted), false));
    }
    if let Some(url) = a.annotation("runbook_url") {
        out.push(("Runbook", url.to_string(), true));
    }
    if let Some(url) = n.ticket_url(a) {
        out.push(("Ticket", url, true));
    }
    if !a.is_resolved() {
        out.push(("Silence", n.silence_url(a), true));
    }
    out
}

fn summary(a: &Alert) -> String {
    a.annotation("summary")
        .or_else(|| a.annotation("description"))
        .unwrap_or_else(|| a.name())
        .to_string()
}

/// Plain text (console, email text part).
pub fn text(n: &Notification) -> String {
    let mut out = format!("{}\n", title(n));
    for a in &n.alerts {
        out.push_str(&format!(
            "\n{} {}: {}\n",
            a.status_str().to_uppercase(),
            a.name(),
            summary(a)
        ));
        if let Some(d) = a
            .annotation("description")
            .filter(|d| Some(*d) != a.annotation("summary"))
        {
            out.push_str(&format!("  {d}\n"));
        }
        for (k, v, _) in facts(n, a) {
            out.push_str(&format!("  {k}: {v}\n"));
        }
    }
    if let Some(more) = omitted_line(n) {
        out.push_str(&format!("\n{more}\n"));
    }
    out
}

/// Escapes text for Slack mrkdwn (`&`, `<`, `>` are control characters there).
pub fn escape_mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// One mrkdwn section per alert.
pub fn mrkdwn_sections(n: &Notification) -> Vec<String> {
    n.alerts
        .iter()
        .map(|a| {
            let icon = if a.is_resolved() {
                ":white_check_mark:"
            } else {
                ":rotating_light:"
            };
            let mut s = format!(
                "{icon} *{}*: {}",
                escape_mrkdwn(a.name()),
                escape_mrkdwn(&summary(a))
            );
            for (k, v, link) in facts(n, a) {
                if link {
                    s.push_str(&format!(
                        "\n*{k}:* <{}|{}>",
                        escape_mrkdwn(&v),
                        k.to_lowercase()
                    ));
                } else {
                    s.push_str(&format!("\n*{k}:* {}", escape_mrkdwn(&v)));
                }
            }
            s
        })
        .collect()
}

/// The HTML part of an email.
pub fn html(n: &Notification) -> String {
    let mut out = format!("<html><body><h2>{}</h2>", escape_html(&title(n)));
    for a in &n.alerts {
        out.push_str(&format!(
            "<h3>{} {}</h3><p>{}</p><table>",
            escape_html(&a.status_str().to_uppercase()),
            escape_html(a.name()),
            escape_html(&summary(a))
        ));
        for (k, v, link) in facts(n, a) {
            let value = if link {
                format!("<a href=\"{0}\">{0}</a>", escape_html(&v))
            } else {
                escape_html(&v)
            };
            out.push_str(&format!(
                "<tr><th align=\"left\">{k}</th><td>{value}</td></tr>"
            ));
        }
        out.push_str("</table>");
    }
    if let Some(more) = omitted_line(n) {
        out.push_str(&format!("<p>{}</p>", escape_html(&more)));
    }
    out.push_str("</body></html>");
    out
}

/// "… and 12 more alerts (7 firing, 5 resolved): <all alerts>", when the notification lists
/// only part of its group ([`Notification::listing_at_most`]).
pub fn omitted_line(n: &Notification) -> Option<String> {
    let o = n.omitted;
    (!o.is_none()).then(|| {
        format!(
            "… and {} more alerts ({} firing, {} resolved): {}/api/v1/alerts",
            o.total(),
            o.firing,
            o.resolved,
            n.public_url
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Labels;
    use std::collections::BTreeMap;

    fn n(resolved: bool) -> Notification {
        let alert = Alert {
            labels: [
                ("alertname", "ProviderAuthFailing"),
                ("provider", "<cdk>"),
                ("severity", "critical"),
            ]
            .into_iter()
            .collect(),
            annotations: [
                ("summary", "cdk & co rejects <credentials>"),
                ("runbook_url", "http://h/api/v1/runbooks/provider-auth"),
            ]
            .into_iter()
            .collect(),
            starts_at_ms: 0,
            ends_at_ms: resolved.then_some(90_000),
            value: Some(3.0),
            generator_url: String::new(),
        };
        let mut tickets = BTreeMap::new();
        tickets.insert(alert.fingerprint(), "t-1".to_string());
        Notification {
            receiver: "oncall".into(),
            group_key: "{}:{}".into(),
            group_labels: [("alertname", "ProviderAuthFailing"), ("provider", "<cdk>")]
                .into_iter()
                .collect::<Labels>(),
            alerts: vec![alert.into()],
            tickets,
            public_url: "http://h".into(),
            omitted: Default::default(),
        }
    }

    #[test]
    fn title_counts_firing_and_names_group() {
        assert_eq!(title(&n(false)), "[FIRING:1] ProviderAuthFailing <cdk>");
        assert_eq!(title(&n(true)), "[RESOLVED] ProviderAuthFailing <cdk>");
    }

    #[test]
    fn text_carries_runbook_ticket_and_duration() {
        let t = text(&n(true));
        assert!(
            t.contains("Runbook: http://h/api/v1/runbooks/provider-auth"),
            "{t}"
        );
        assert!(t.contains("Ticket: http://h/api/v1/tickets/t-1"), "{t}");
        assert!(t.contains("Lasted: 1m30s"), "{t}");
    }

    #[test]
    fn mrkdwn_and_html_escape_values() {
        let m = mrkdwn_sections(&n(false)).join("\n");
        assert!(
            m.contains("cdk &amp; co rejects &lt;credentials&gt;"),
            "{m}"
        );
        assert!(m.contains("*Provider:* &lt;cdk&gt;"), "{m}");
        let h = html(&n(false));
        assert!(
            h.contains("cdk &amp; co rejects &lt;credentials&gt;"),
            "{h}"
        );
        assert!(!h.contains("<cdk>"), "{h}");
    }
}
