//! PagerDuty, as Alertmanager 0.25 sends to it: an Events API v2 event (`routing_key`) or a v1
//! event (`service_key`) per notification of a group, `trigger` while any alert of the group
//! fires and `resolve` once all have resolved, deduplicated by the SHA-256 of the group key so
//! PagerDuty keeps one incident per group.
//!
//! An event stays within PagerDuty's 512 KB: the summary is cut at 1024 characters, and an
//! event still too large loses its custom details for a note saying so (Alertmanager's rule).

pub mod config;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::render::truncate;
use super::templates::Renderer;
use super::{FailureReason, Notification, Notifier, NotifyError};
use config::{PagerDutyConfig, PagerDutyKey};

/// PagerDuty's largest event, in bytes.
pub const MAX_EVENT_BYTES: usize = 512_000;
/// The most characters of a summary (v2) or description (v1).
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// Alertmanager's dedup key: the hex SHA-256 of the group key.
pub fn dedup_key(group_key: &str) -> String {
    hex::encode(Sha256::digest(group_key.as_bytes()))
}

/// The event for a notification, rendered from the config's templates; fails with the first
/// template that fails.
pub fn event(c: &PagerDutyConfig, n: &Notification) -> Result<Value, crate::gotemplate::Error> {
    let r = Renderer::new(&c.templates, n);
    let t = |name: &str, text: &str| r.render(name, text);
    let firing = n.status() == "firing";
    let mut details = Map::new();
    for (k, v) in &c.details {
        details.insert(k.clone(), Value::String(t(k, v)?));
    }
    let key = dedup_key(&n.group_key);
    let mut event = match &c.key {
        PagerDutyKey::Routing(routing) => {
            let mut payload = Map::new();
            payload.insert(
                "summary".into(),
                Value::String(truncate(
                    &t("description", &c.description)?,
                    MAX_SUMMARY_CHARS,
                )),
            );
            payload.insert("source".into(), Value::String(t("client", &c.client)?));
            payload.insert(
                "severity".into(),
                Value::String(t("severity", &c.severity)?),
            );
            for (k, v) in [
                ("class", &c.class),
                ("component", &c.component),
                ("group", &c.group),
            ] {
                let v = t(k, v)?;
                if !v.is_empty() {
                    payload.insert(k.into(), Value::String(v));
                }
            }
            if !details.is_empty() {
                payload.insert("custom_details".into(), Value::Object(details));
            }
            let mut e = Map::new();
            e.insert(
                "routing_key".into(),
                Value::String(t("routing_key", routing.expose())?),
            );
            e.insert("dedup_key".into(), Value::String(key));
            e.insert(
                "event_action".into(),
                json!(if firing { "trigger" } else { "resolve" }),
            );
            for (k, v) in [("client", &c.client), ("client_url", &c.client_url)] {
                let v = t(k, v)?;
                if !v.is_empty() {
                    e.insert(k.into(), Value::String(v));
                }
            }
            let mut images = Vec::new();
            for i in &c.images {
                let src = t("images.src", &i.src)?;
                if !src.is_empty() {
                    let mut o = Map::new();
                    o.insert("src".into(), Value::String(src));
                    for (k, v) in [("alt", &i.alt), ("href", &i.href)] {
                        let v = t(&format!("images.{k}"), v)?;
                        if !v.is_empty() {
                            o.insert(k.into(), Value::String(v));
                        }
                    }
                    images.push(Value::Object(o));
                }
            }
            if !images.is_empty() {
                e.insert("images".into(), Value::Array(images));
            }
            let mut links = Vec::new();
            for link in &c.links {
                let href = t("links.href", &link.href)?;
                if !href.is_empty() {
                    let mut o = Map::new();
                    o.insert("href".into(), Value::String(href));
                    let text = t("links.text", &link.text)?;
                    if !text.is_empty() {
                        o.insert("text".into(), Value::String(text));
                    }
                    links.push(Value::Object(o));
                }
            }
            if !links.is_empty() {
                e.insert("links".into(), Value::Array(links));
            }
            e.insert("payload".into(), Value::Object(payload));
            e
        }
        PagerDutyKey::Service(service) => {
            let mut e = Map::new();
            e.insert(
                "service_key".into(),
                Value::String(t("service_key", service.expose())?),
            );
            e.insert("incident_key".into(), Value::String(key));
            e.insert(
                "event_type".into(),
                json!(if firing { "trigger" } else { "resolve" }),
            );
            e.insert(
                "description".into(),
                Value::String(truncate(
                    &t("description", &c.description)?,
                    MAX_SUMMARY_CHARS,
                )),
            );
            if firing {
                for (k, v) in [("client", &c.client), ("client_url", &c.client_url)] {
                    let v = t(k, v)?;
                    if !v.is_empty() {
                        e.insert(k.into(), Value::String(v));
                    }
                }
            }
            e.insert("details".into(), Value::Object(details));
            e
        }
    };
    if serde_json::to_vec(&event).map_or(0, |b| b.len()) > MAX_EVENT_BYTES {
        let note = json!({"error": "Custom details have been removed because the original event exceeds the maximum size of 512KB"});
        if let Some(p) = event.get_mut("payload").and_then(Value::as_object_mut) {
            p.insert("custom_details".into(), note);
        } else {
            event.insert("details".into(), note);
        }
    }
    Ok(Value::Object(event))
}

pub struct PagerDutyNotifier {
    config: PagerDutyConfig,
    client: reqwest::Client,
}

impl PagerDutyNotifier {
    pub fn new(config: PagerDutyConfig) -> Result<Self, NotifyError> {
        let client = config
            .http
            .client(std::time::Duration::from_secs(30))
            .map_err(|e| {
                NotifyError::new(FailureReason::ClientError, format!("PagerDuty client: {e}"))
            })?;
        Ok(Self { config, client })
    }
}

#[async_trait]
impl Notifier for PagerDutyNotifier {
    fn integration(&self) -> &'static str {
        "pagerduty"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    /// The custom details list every alert Alertmanager would list; a group too large for an
    /// event keeps its counts and loses the list (see [`MAX_EVENT_BYTES`]).
    fn max_listed(&self) -> usize {
        1000
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let event = event(&self.config, n)
            .map_err(|e| NotifyError::new(FailureReason::ClientError, e.to_string()))?;
        let req = self
            .config
            .http
            .authorize(self.client.post(&self.config.url));
        super::webhook::answer("PagerDuty", req.json(&event).send().await).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::loader::HttpConfig;
    use crate::domain::secret::Secret;
    use std::sync::Arc;

    fn notification(resolved: bool) -> Notification {
        let alert = crate::domain::Alert {
            labels: [("alertname", "DiskFull"), ("instance", "db-1")]
                .into_iter()
                .collect(),
            annotations: [("summary", "full")].into_iter().collect(),
            starts_at_ms: 1_700_000_000_000,
            ends_at_ms: resolved.then_some(1_700_000_600_000),
            value: None,
            generator_url: "http://prom/g".into(),
        };
        Notification {
            receiver: "team".into(),
            group_key: "{}:{alertname=\"DiskFull\"}".into(),
            group_labels: [("alertname", "DiskFull")].into_iter().collect(),
            alerts: vec![Arc::new(alert)],
            tickets: Default::default(),
            public_url: "http://sw".into(),
            omitted: Default::default(),
        }
    }

    fn config(key: PagerDutyKey) -> PagerDutyConfig {
        PagerDutyConfig {
            key,
            url: config::EVENTS_V2_URL.into(),
            send_resolved: true,
            client: r#"{{ template "pagerduty.default.client" . }}"#.into(),
            client_url: r#"{{ template "pagerduty.default.clientURL" . }}"#.into(),
            description: r#"{{ template "pagerduty.default.description" .}}"#.into(),
            severity: "{{ if .CommonLabels.severity }}{{ .CommonLabels.severity }}{{ else }}critical{{ end }}".into(),
            class: "".into(),
            component: "db".into(),
            group: "".into(),
            details: config::default_details(),
            images: vec![],
            links: vec![config::PagerDutyLink {
                href: "{{ .ExternalURL }}/runbooks/disk".into(),
                text: "Runbook".into(),
            }],
            http: HttpConfig::new(),
            templates: Arc::new(crate::notify::templates::defaults()),
        }
    }

    #[test]
    fn a_firing_group_triggers_and_a_resolved_one_resolves_the_same_incident() {
        let c = config(PagerDutyKey::Routing(Secret::new("R0UT1NG")));
        let e = event(&c, &notification(false)).unwrap();
        assert_eq!(e["routing_key"], "R0UT1NG");
        assert_eq!(e["event_action"], "trigger");
        assert_eq!(e["client"], "Alertmanager");
        assert_eq!(e["client_url"], "http://sw/#/alerts?receiver=team");
        assert_eq!(e["payload"]["summary"], "[FIRING:1] DiskFull (db-1)");
        assert_eq!(e["payload"]["source"], "Alertmanager");
        assert_eq!(e["payload"]["severity"], "critical");
        assert_eq!(e["payload"]["component"], "db");
        assert!(
            e["payload"].get("class").is_none(),
            "empty fields are left out"
        );
        assert_eq!(e["payload"]["custom_details"]["num_firing"], "1");
        assert_eq!(
            e["payload"]["custom_details"]["firing"],
            "Labels:\n - alertname = DiskFull\n - instance = db-1\nAnnotations:\n - summary = full\nSource: http://prom/g\n"
        );
        assert_eq!(
            e["links"],
            json!([{"href": "http://sw/runbooks/disk", "text": "Runbook"}])
        );
        let resolved = event(&c, &notification(true)).unwrap();
        assert_eq!(resolved["event_action"], "resolve");
        assert_eq!(
            resolved["dedup_key"], e["dedup_key"],
            "one incident per group"
        );
        // sha256 of `{}:{alertname="DiskFull"}` (Python's hashlib).
        assert_eq!(
            e["dedup_key"],
            "17c4e445d234645c9e547ff6d32a864af0ebdadcd1902771c24c8d366637ff41"
        );
    }

    #[test]
    fn a_service_key_sends_an_events_v1_event() {
        let c = config(PagerDutyKey::Service(Secret::new("SVC")));
        let e = event(&c, &notification(false)).unwrap();
        assert_eq!(e["service_key"], "SVC");
        assert_eq!(e["event_type"], "trigger");
        assert_eq!(e["description"], "[FIRING:1] DiskFull (db-1)");
        assert_eq!(e["incident_key"], dedup_key(&notification(false).group_key));
        let r = event(&c, &notification(true)).unwrap();
        assert_eq!(r["event_type"], "resolve");
        assert!(
            r.get("client").is_none(),
            "v1 resolve events carry no client"
        );
    }

    #[test]
    fn an_event_keeps_to_pagerdutys_size_limit() {
        let mut c = config(PagerDutyKey::Routing(Secret::new("R")));
        c.details.insert("huge".into(), "y".repeat(600_000));
        let e = event(&c, &notification(false)).unwrap();
        assert!(serde_json::to_vec(&e).unwrap().len() <= MAX_EVENT_BYTES);
        assert!(
            e["payload"]["custom_details"]["error"]
                .as_str()
                .unwrap()
                .starts_with("Custom details have been removed")
        );
        c.description = "z".repeat(5000);
        let e = event(&c, &notification(false)).unwrap();
        assert_eq!(
            e["payload"]["summary"].as_str().unwrap().chars().count(),
            MAX_SUMMARY_CHARS
        );
    }
}
