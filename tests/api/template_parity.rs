//! The template engine against Go's own: each case is rendered by `amtool template render`
//! (Alertmanager 0.25, Debian's `prometheus-alertmanager`) and by `syncwatch::gotemplate` with
//! the same data and template files; the texts must be equal, and where Go fails, syncwatch
//! must fail too.

use std::path::Path;
use std::process::Command;

use syncwatch::gotemplate::{Templates, data::Data};

use super::helpers::skip_or_fail;

const DATA: &str = r#"{"receiver":"team-db","status":"firing","externalURL":"http://am.example:9093",
  "groupLabels":{"alertname":"DiskFull","zone":"eu-1"},
  "commonLabels":{"alertname":"DiskFull","severity":"critical","zone":"eu-1"},
  "commonAnnotations":{"summary":"Disk <full> & \"nearly\" gone"},
  "alerts":[
    {"status":"firing","labels":{"alertname":"DiskFull","severity":"critical","zone":"eu-1","instance":"db-1:9100"},
     "annotations":{"summary":"Disk <full> & \"nearly\" gone","description":"97.5% used\non /var"},
     "startsAt":"2023-11-14T22:13:20.123456789Z","endsAt":"0001-01-01T00:00:00Z",
     "generatorURL":"http://prom:9090/graph?g0.expr=up","fingerprint":"a1b2c3"},
    {"status":"resolved","labels":{"alertname":"DiskFull","severity":"critical","zone":"eu-1","instance":"db-2:9100"},
     "annotations":{"summary":"Disk <full> & \"nearly\" gone"},
     "startsAt":"2023-11-14T21:00:00Z","endsAt":"2023-11-14T22:10:05.5Z",
     "generatorURL":"","fingerprint":"d4e5f6"}]}"#;

const FILE: &str = r#"{{ define "extra.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }}{{ end }}
{{ define "extra.list" }}{{ range . }}
- {{ .Labels.instance }} {{ .Annotations.summary }}{{ end }}{{ end }}
{{ define "extra.empty" }}   {{ end }}"#;

/// Templates covering Go's syntax, printing and Alertmanager's data and functions.
const CASES: &[&str] = &[
    "{{ .Receiver }} {{ .Status }} {{ .ExternalURL }}",
    "{{ .GroupLabels }} {{ .CommonLabels }} {{ .CommonAnnotations }}",
    "{{ .Alerts }}",
    "{{ .Alerts.Firing }}|{{ .Alerts.Resolved | len }}",
    "{{ template \"extra.title\" . }}",
    "{{ template \"extra.list\" .Alerts.Firing }}",
    "<{{ template \"extra.empty\" . }}>",
    "{{ range .Alerts }}{{ .Status }} {{ .StartsAt }} {{ .EndsAt }}\n{{ end }}",
    "{{ range $i, $a := .Alerts }}{{ $i }}:{{ $a.Fingerprint }}{{ $a.GeneratorURL }};{{ end }}",
    "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }},{{ end }}",
    "{{ .CommonLabels.SortedPairs }} {{ .CommonLabels.Names }} {{ .CommonLabels.Values }}",
    "{{ .CommonLabels.Remove .GroupLabels.Names }}",
    "{{ (.CommonLabels.Remove (stringSlice \"zone\")).SortedPairs.Names | join \"+\" }}",
    "{{ range $k, $v := .CommonLabels }}{{ $k }}{{ $v }}{{ end }}",
    "{{ range .GroupLabels }}{{ . }}{{ else }}none{{ end }}",
    "{{ range (index .Alerts 0).Labels.Remove (stringSlice \"x\") }}{{ . }}{{ end }}",
    "{{ with .CommonAnnotations.summary }}{{ . }}{{ else }}-{{ end }}",
    "{{ with .CommonAnnotations.nope }}{{ . }}{{ else }}-{{ end }}",
    "{{ if .Alerts.Resolved }}some resolved{{ end }}{{ if not .CommonAnnotations.x }} no x{{ end }}",
    "{{ if gt (len .Alerts.Firing) 0 }}firing{{ else if .Alerts.Resolved }}resolved{{ else }}none{{ end }}",
    "{{ $first := index .Alerts 0 }}{{ $first.Labels.instance }} {{ $first.Annotations.description }}",
    "{{ $n := 0 }}{{ range .Alerts }}{{ $n = len .Labels }}{{ end }}{{ $n }}",
    "{{ range .Alerts }}{{ if eq .Status \"resolved\" }}{{ break }}{{ end }}{{ .Fingerprint }}{{ end }}",
    "{{ range .Alerts }}{{ if eq .Status \"firing\" }}{{ continue }}{{ end }}{{ .Fingerprint }}{{ end }}",
    "{{ (index .Alerts 0).StartsAt.Format \"2006-01-02T15:04:05.000Z07:00\" }} {{ (index .Alerts 1).EndsAt.Format \"Jan _2 3:04:05.999PM MST\" }}",
    "{{ (index .Alerts 0).StartsAt.Unix }} {{ (index .Alerts 0).StartsAt.UTC }}",
    "{{ (index .Alerts 1).EndsAt.Format \"Monday January 2 2006 15h04 .000000 ,999 -07 Z0700\" }}",
    "{{ (index .Alerts 0).StartsAt.Format \"06 01 02 03 04 05 pm __2 002 Mon Jan\" }}",
    "a  {{- .Receiver -}}  b {{- /* c */ -}} d\n  {{- \"e\" }}\n",
    "{{/* a comment */}}x{{- /* another */}} y",
    "{{ printf \"%s|%v|%q|%x|%X|%10s|%-10s|\" .Receiver .Status .Receiver .Receiver .Receiver .Status .Status }}",
    "{{ printf \"%d|%5d|%-5d|%05d|%+d|%x|%o|%b|%c|%U\" 42 42 42 -42 42 255 8 5 65 65 }}",
    "{{ printf \"%f|%.2f|%8.3f|%-8.1f|%e|%.3e|%g|%.3g|%G\" 3.14159 3.14159 3.14159 3.14159 1234.5678 1234.5678 0.000012345 1234.5678 1e21 }}",
    "{{ printf \"%v %v %v %v %v %v\" 1e6 1e5 123456.7 0.0001 0.00001 1e21 }}",
    "{{ printf \"%v %v %v\" 100.0 2.5e-3 -0.5 }}",
    "{{ printf \"%d %s\" \"x\" 3 }}|{{ printf \"%s %s\" \"a\" }}|{{ printf \"%s\" \"a\" \"b\" }}|{{ printf \"%z\" 1 }}",
    "{{ printf \"%v|%s|%d\" .CommonLabels .GroupLabels.Names (len .Alerts) }}",
    "{{ printf \"%[2]s-%[1]s\" \"a\" \"b\" }} {{ printf \"%*d|%.*f\" 5 1 2 3.14159 }}",
    "{{ printf \"%t %v %5t\" true false true }} {{ printf \"%%\" }} {{ printf \"%.1f%%\" 99.95 }}",
    "{{ printf \"%.0f %.0f %.0f %.1f %.2f\" 0.5 1.5 2.5 0.05 1.005 }}",
    "{{ printf \"%6.2f|%06.2f|%+.1e|% d\" -1.5 1.5 12345.678 5 }}",
    "{{ print 1 2 \"a\" \"b\" 3 true nil }}|{{ println 1 \"a\" }}|",
    "{{ 1 }} {{ 1.0 }} {{ 1.5 }} {{ 1e3 }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }} {{ 'x' }} {{ -3 }} {{ +4 }}",
    "{{ \"a\\tb\\n\\\"c\\\"\\\\\" }} {{ `raw\\n` }} {{ \"\\x41\\u00e9\\101\" }}",
    "{{ true }} {{ false }} {{ and 1 \"\" 3 }} {{ and 1 2 }} {{ or \"\" 0 }} {{ or \"\" \"x\" }} {{ not .Alerts }}",
    "{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}",
    "{{ eq 1 1.0 }}",
    "{{ lt true false }}",
    "{{ len .Receiver }} {{ len .Alerts }} {{ len .CommonLabels }} {{ index .CommonLabels \"zone\" }} {{ index .CommonLabels \"nope\" }}|",
    "{{ index .Alerts 5 }}",
    "{{ slice .Receiver 1 3 }} {{ slice .Receiver 2 }} {{ len (slice .Alerts 1) }}",
    "{{ html \"<a href='x'>&\\\"é\" }} {{ js \"it's <b> & \\\"q\\\" = \\\\\" }} {{ urlquery \"a b&c=d/é\" }}",
    "{{ html 1 2 }} {{ urlquery \"x\" 3 }}",
    "{{ toUpper \"abc é\" }} {{ toLower \"ABC É\" }} {{ title \"hello wORLD-foo_bar o'neil 3am\" }}",
    "{{ join \", \" .CommonLabels.Values }} {{ join \"\" (stringSlice) }}|{{ stringSlice \"a\" \"b\" }}",
    "{{ match \"^disk\" \"diskfull\" }} {{ match \"(?i)DISK\" .GroupLabels.alertname }} {{ reReplaceAll \"(\\\\w+):(\\\\d+)\" \"$2 on ${1}\" \"db-1:9100\" }}",
    "{{ reReplaceAll \":[0-9]+$\" \"\" (index .Alerts 0).Labels.instance }} {{ safeHtml \"<b>x</b>\" }}",
    "{{ .Receiver | printf \"%s!\" | toUpper }} {{ \"x\" | printf \"%s-%s\" \"y\" }}",
    "{{ define \"local\" }}L{{ . }}{{ end }}{{ template \"local\" .Status }}",
    "{{ block \"blk\" .GroupLabels }}{{ .zone }}{{ end }}",
    "{{ $x := \"outer\" }}{{ with .Receiver }}{{ $x := \"inner\" }}{{ $x }}{{ end }} {{ $x }}",
    "{{ $ := 1 }}",
    "{{ range $i, $e := .Alerts }}{{ $ | len }}{{ $.Receiver }}{{ end }}",
    "{{ .Receiver.Foo }}",
    "{{ .Nope }}",
    "{{ template \"nope\" }}",
    "{{ nope }}",
    "{{ if }}{{ end }}",
    "{{ .Receiver 1 }}",
    "{{ \"unclosed }}",
    "{{ toUpper 1 }}",
    "{{ (index .Alerts 0).Labels.instance | reReplaceAll \"(.*):.*\" \"$1\" }}",
    "{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ .Name }} {{ end }}\n{{ end }}",
    "{{ with index .Alerts 0 }}{{ .Annotations.SortedPairs }}{{ end }}",
    "{{- range .Alerts.Firing }}\n*Alert:* {{ .Annotations.summary }} - `{{ .Labels.severity }}`\n*Details:*\n{{ range .Labels.SortedPairs }} • *{{ .Name }}:* `{{ .Value }}`\n{{ end }}{{ end }}",
];

fn amtool(dir: &Path, text: &str) -> Result<String, String> {
    let out = Command::new("amtool")
        .arg("template")
        .arg("render")
        .arg(format!("--template.glob={}", dir.join("*.tmpl").display()))
        .arg(format!(
            "--template.data={}",
            dir.join("data.json").display()
        ))
        .arg(format!("--template.text={text}"))
        .output()
        .expect("amtool runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn templates_render_what_alertmanager_renders() {
    if Command::new("amtool").arg("--version").output().is_err() {
        return skip_or_fail("amtool (Debian's prometheus-alertmanager) is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.json"), DATA).unwrap();
    std::fs::write(dir.path().join("extra.tmpl"), FILE).unwrap();
    let mut set = Templates::alertmanager();
    set.add("extra.tmpl", FILE).unwrap();
    let data: Data = serde_json::from_str(DATA).unwrap();
    let data = data.value();
    let mut differences = Vec::new();
    for text in CASES {
        let go = amtool(dir.path(), text);
        let ours = set.render("", text, &data).map_err(|e| e.to_string());
        match (&go, &ours) {
            (Ok(g), Ok(o)) if g == o => {}
            (Err(_), Err(_)) => {}
            _ => differences.push(format!("{text:?}\n  go:   {go:?}\n  ours: {ours:?}")),
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        CASES.len(),
        differences.join("\n")
    );
}

const RESOLVED: &str = r#"{"receiver":"team x/y","status":"resolved","externalURL":"http://am","groupLabels":{"alertname":"Disk"},
  "commonLabels":{"alertname":"Disk"},"commonAnnotations":{},
  "alerts":[{"status":"resolved","labels":{"alertname":"Disk","b":"2"},"annotations":{"s":"x"},
   "startsAt":"2023-11-14T22:13:20Z","endsAt":"2023-11-14T22:20:00Z","generatorURL":"http://g","fingerprint":"abc"}]}"#;

/// Alertmanager 0.25's own default templates, from Debian's package.
const AM_DEFAULTS: &str = "/usr/share/prometheus/alertmanager/default.tmpl";

#[test]
fn the_default_template_names_render_what_alertmanager_renders() {
    if !Path::new(AM_DEFAULTS).exists() {
        return skip_or_fail(
            "Alertmanager's default.tmpl (Debian's prometheus-alertmanager) is not installed",
        );
    }
    let names = [
        "__subject",
        "__alertmanagerURL",
        "slack.default.title",
        "slack.default.username",
        "slack.default.fallback",
        "slack.default.titlelink",
        "slack.default.text",
        "slack.default.pretext",
        "slack.default.footer",
        "slack.default.iconemoji",
        "slack.default.iconurl",
        "slack.default.callbackid",
        "pagerduty.default.description",
        "pagerduty.default.client",
        "pagerduty.default.clientURL",
    ];
    let set = syncwatch::notify::templates::defaults();
    let mut differences = Vec::new();
    for json in [DATA, RESOLVED] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(AM_DEFAULTS, dir.path().join("default.tmpl")).unwrap();
        std::fs::write(dir.path().join("data.json"), json).unwrap();
        let data: Data = serde_json::from_str(json).unwrap();
        let data = data.value();
        let mut texts: Vec<String> = names
            .iter()
            .map(|n| format!("{{{{ template \"{n}\" . }}}}"))
            .collect();
        texts.push("{{ template \"pagerduty.default.instances\" .Alerts }}".into());
        texts.push("{{ template \"__text_alert_list\" .Alerts.Firing }}".into());
        for text in &texts {
            let go = amtool(dir.path(), text);
            let ours = set.render("", text, &data).map_err(|e| e.to_string());
            if go.as_ref().ok() != ours.as_ref().ok() {
                differences.push(format!("{text}\n  go:   {go:?}\n  ours: {ours:?}"));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
