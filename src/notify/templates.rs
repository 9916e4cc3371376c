//! Notification templates as Alertmanager has them: the `templates:` files of `alerting.yml`
//! (globs, relative to the file) loaded over syncwatch's definitions of Alertmanager's default
//! names (`__subject`, `slack.default.title`, `email.default.subject`, …), and the data a
//! template sees (`.Receiver`, `.Status`, `.Alerts`, `.GroupLabels`, `.CommonLabels`,
//! `.CommonAnnotations`, `.ExternalURL`, `.GroupKey`), the same as the webhook payload.
//!
//! The default names render what Alertmanager 0.25's render (checked against its
//! `default.tmpl` by `tests/api/template_parity.rs`), except `email.default.html`, which is
//! syncwatch's own short HTML message (Alertmanager's is a long styled layout of its own); an
//! email config that sets no `html` gets syncwatch's message with its runbook, ticket and
//! silence links.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::BTreeMap;

use crate::gotemplate::data::{AlertData, Data};
use crate::gotemplate::time::Time;
use crate::gotemplate::{Error, Templates, Value};

use super::Notification;

/// syncwatch's definitions of Alertmanager's default template names.
pub const DEFAULTS: &str = r#"
{{- define "__alertmanager" }}Alertmanager{{ end }}
{{- define "__alertmanagerURL" }}{{ .ExternalURL }}/#/alerts?receiver={{ urlquery .Receiver }}{{ end }}
{{- define "__subject" -}}
[{{ toUpper .Status }}{{ if eq .Status "firing" }}:{{ len .Alerts.Firing }}{{ end }}]
{{- " " }}{{ join " " .GroupLabels.SortedPairs.Values }}
{{- " " }}{{ if gt (len .CommonLabels) (len .GroupLabels) -}}
({{ join " " (.CommonLabels.Remove .GroupLabels.Names).Values }})
{{- end }}
{{- end }}
{{- define "__description" }}{{ end }}
{{- define "__text_alert_list" }}{{ range . }}Labels:
{{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Annotations:
{{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Source: {{ .GeneratorURL }}
{{ end }}{{ end }}
{{- define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
{{- define "slack.default.username" }}{{ template "__alertmanager" . }}{{ end }}
{{- define "slack.default.fallback" }}{{ template "slack.default.title" . }} | {{ template "slack.default.titlelink" . }}{{ end }}
{{- define "slack.default.callbackid" }}{{ end }}
{{- define "slack.default.pretext" }}{{ end }}
{{- define "slack.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{- define "slack.default.iconemoji" }}{{ end }}
{{- define "slack.default.iconurl" }}{{ end }}
{{- define "slack.default.text" }}{{ end }}
{{- define "slack.default.footer" }}{{ end }}
{{- define "pagerduty.default.description" }}{{ template "__subject" . }}{{ end }}
{{- define "pagerduty.default.client" }}{{ template "__alertmanager" . }}{{ end }}
{{- define "pagerduty.default.clientURL" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{- define "pagerduty.default.instances" }}{{ template "__text_alert_list" . }}{{ end }}
{{- define "email.default.subject" }}{{ template "__subject" . }}{{ end }}
{{- define "email.default.html" -}}
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ template "__subject" . }}</title></head>
<body style="font-family: sans-serif">
<h2 style="color: {{ if eq .Status "firing" }}#b00020{{ else }}#1b7e3c{{ end }}">{{ template "__subject" . }}</h2>
{{- if .Alerts.Firing }}
<h3>{{ len .Alerts.Firing }} firing</h3>
{{ template "__html_alert_list" .Alerts.Firing }}
{{- end }}
{{- if .Alerts.Resolved }}
<h3>{{ len .Alerts.Resolved }} resolved</h3>
{{ template "__html_alert_list" .Alerts.Resolved }}
{{- end }}
<p><a href="{{ template "__alertmanagerURL" . }}">View in {{ template "__alertmanager" . }}</a></p>
</body></html>
{{- end }}
{{- define "__html_alert_list" -}}
<ul>
{{- range . }}
<li><b>{{ .Labels.alertname }}</b>{{ with .Annotations.summary }}: {{ . }}{{ end }}
<br>{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}
{{- with .Annotations.description }}<br>{{ . }}{{ end }}
{{- if .GeneratorURL }}<br><a href="{{ .GeneratorURL }}">Source</a>{{ end }}</li>
{{- end }}
</ul>
{{- end }}
{{- define "msteams.default.summary" }}{{ template "__subject" . }}{{ end }}
{{- define "msteams.default.title" }}{{ template "__subject" . }}{{ end }}
{{- define "msteams.default.text" }}
{{- if .Alerts.Firing }}# Alerts Firing:
{{ template "__text_alert_list" .Alerts.Firing }}{{ end }}
{{- if .Alerts.Resolved }}# Alerts Resolved:
{{ template "__text_alert_list" .Alerts.Resolved }}{{ end }}
{{- end }}
"#;

/// One problem in a template file: the file, the line (when known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// The default set: Alertmanager's functions and syncwatch's definitions of its default names.
/// Parsed once per process; each caller gets a cheap copy (the parsed bodies are shared).
pub fn defaults() -> Templates {
    static DEFAULT_SET: std::sync::OnceLock<Templates> = std::sync::OnceLock::new();
    DEFAULT_SET
        .get_or_init(|| {
            let mut set = Templates::alertmanager();
            // The defaults are a constant checked by the tests below; a failure here is a bug.
            if let Err(e) = set.add("default.tmpl", DEFAULTS) {
                tracing::error!(error = %e, "the built-in notification templates do not parse");
            }
            set
        })
        .clone()
}

/// Loads `globs` (relative to `base`, in order; files of one glob in name order) over the
/// defaults, as Alertmanager's `template.FromGlobs` does. A glob matching nothing is not an
/// error (Alertmanager's neither); a file that cannot be read or parsed is.
pub fn load(base: &Path, globs: &[String]) -> Result<Templates, Vec<TemplateProblem>> {
    let mut set = defaults();
    let mut problems = Vec::new();
    for g in globs {
        let pattern = base.join(g);
        let paths = match glob::glob(&pattern.to_string_lossy()) {
            Ok(paths) => paths,
            Err(e) => {
                problems.push(TemplateProblem {
                    file: pattern.clone(),
                    line: None,
                    message: format!("templates: {g:?} is not a valid glob: {e}"),
                });
                continue;
            }
        };
        let mut files: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let text = match std::fs::read_to_string(&f) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(TemplateProblem {
                        file: f.clone(),
                        line: None,
                        message: format!("cannot read template file: {e}"),
                    });
                    continue;
                }
            };
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Err(e) = set.add(&name, &text) {
                problems.push(TemplateProblem {
                    file: f.clone(),
                    line: Some(e.line),
                    message: e.message,
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(problems)
    }
}

/// The data of a notification, as Alertmanager gives it to templates (and sends it to
/// webhooks): every listed alert, common labels and annotations, the external URL.
pub fn data(n: &Notification) -> Data {
    let p = super::webhook::payload(n, 0);
    let map = |pairs: &mut dyn Iterator<Item = (&str, &str)>| -> BTreeMap<String, String> {
        pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let time =
        |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    Data {
        receiver: p.receiver,
        status: p.status.to_string(),
        // The payload lists every alert of `n` (no limit), in the same order.
        alerts: n
            .alerts
            .iter()
            .zip(&p.alerts)
            .map(|(a, pa)| AlertData {
                status: pa.status.to_string(),
                labels: map(&mut a.labels.iter()),
                annotations: map(&mut a.annotations.iter()),
                starts_at: time(a.starts_at_ms),
                ends_at: a.ends_at_ms.map_or_else(|| Time::zero().ts, time),
                generator_url: a.generator_url.clone(),
                fingerprint: pa.fingerprint.clone(),
            })
            .collect(),
        group_labels: map(&mut p.group_labels.iter()),
        common_labels: map(&mut p.common_labels.iter()),
        common_annotations: map(&mut p.common_annotations.iter()),
        external_url: p.external_url,
        group_key: p.group_key,
    }
}

/// A set with the data of one notification, rendering config fields.
pub struct Renderer<'a> {
    pub set: &'a Templates,
    pub data: Value,
}

impl<'a> Renderer<'a> {
    pub fn new(set: &'a Templates, n: &Notification) -> Self {
        Self {
            set,
            data: data(n).value(),
        }
    }

    /// Renders one config field (`name` says which, in errors).
    pub fn render(&self, name: &str, text: &str) -> Result<String, Error> {
        self.set.render(name, text, &self.data)
    }

    /// Renders a field whose output is HTML (an email's `html`), escaped as Go's
    /// `html/template` escapes it.
    pub fn render_html(&self, name: &str, text: &str) -> Result<String, Error> {
        self.set.render_html(name, text, &self.data)
    }
}

/// A shared template set.
pub type SharedTemplates = Arc<Templates>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_names_parse_and_are_all_defined() {
        let set = defaults();
        for name in [
            "__subject",
            "__text_alert_list",
            "slack.default.title",
            "slack.default.fallback",
            "email.default.subject",
            "pagerduty.default.instances",
            "msteams.default.text",
        ] {
            assert!(set.has(name), "{name}");
        }
        assert!(
            crate::gotemplate::Templates::alertmanager()
                .check("d", DEFAULTS)
                .is_ok()
        );
    }

    #[test]
    fn the_default_email_html_lists_the_alerts_escaped() {
        let n = crate::notify::Notification {
            receiver: "team".into(),
            group_key: "g".into(),
            group_labels: [("alertname", "Disk")].into_iter().collect(),
            alerts: vec![std::sync::Arc::new(crate::domain::Alert {
                labels: [("alertname", "Disk"), ("host", "<db-1>")]
                    .into_iter()
                    .collect(),
                annotations: [("summary", "full & rising")].into_iter().collect(),
                starts_at_ms: 0,
                ends_at_ms: None,
                value: None,
                generator_url: "http://prom/g?x=1&y=2".into(),
            })],
            tickets: Default::default(),
            public_url: "http://sw".into(),
            omitted: Default::default(),
        };
        let set = defaults();
        let html = Renderer::new(&set, &n)
            .render_html("html", r#"{{ template "email.default.html" . }}"#)
            .unwrap();
        assert!(
            html.contains("<title>[FIRING:1] Disk (&lt;db-1&gt;)</title>"),
            "{html}"
        );
        assert!(html.contains("<b>Disk</b>: full &amp; rising"), "{html}");
        assert!(
            html.contains(r#"<a href="http://prom/g?x=1&amp;y=2">Source</a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="http://sw/#/alerts?receiver=team">"#),
            "{html}"
        );
    }

    #[test]
    fn a_template_file_that_does_not_parse_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.tmpl"), "{{ define \"x\" }}ok{{ end }}").unwrap();
        std::fs::write(
            dir.path().join("b.tmpl"),
            "\n\n{{ define \"y\" }}{{ nosuch }}{{ end }}",
        )
        .unwrap();
        let e = load(dir.path(), &["*.tmpl".into()]).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].file.ends_with("b.tmpl"));
        assert_eq!(e[0].line, Some(3));
        assert!(
            e[0].message.contains("\"nosuch\" not defined"),
            "{}",
            e[0].message
        );
        std::fs::remove_file(dir.path().join("b.tmpl")).unwrap();
        let set = load(dir.path(), &["*.tmpl".into(), "missing/*.tmpl".into()]).unwrap();
        assert!(set.has("x") && set.has("slack.default.title"));
    }
}
