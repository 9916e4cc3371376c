//! `alerting.yml` in Alertmanager's configuration format, plus syncwatch's extensions
//! (`ticket_configs`, `console_configs`, `eml_configs`). Unknown fields are refused, and every
//! problem is reported with its file and line.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::time_interval::TimeInterval;
use crate::config::loader::{Loader, Mode};
use crate::config::{Env, Problem, Problems};
use crate::domain::matcher::Matcher;
use crate::gotemplate::Templates;
use crate::notify::receivers::{RawGlobal, RawReceiver, Receiver};

pub use crate::domain::secret::Secret;

/// The validated routing configuration.
#[derive(Debug, Clone)]
pub struct AlertingConfig {
    pub route: Route,
    pub receivers: Vec<Receiver>,
    pub inhibit_rules: Vec<super::inhibit::InhibitRule>,
    pub resolve_timeout: Duration,
    /// Named `time_intervals`, referred to by routes.
    pub time_intervals: HashMap<String, Vec<TimeInterval>>,
    /// The notification templates (`templates:` over the defaults).
    pub templates: Arc<Templates>,
}

impl AlertingConfig {
    /// Whether the route `id` sends nothing at `now_ms`: inside one of its
    /// `mute_time_intervals`, or outside all of its `active_time_intervals`.
    pub fn route_muted(&self, id: &str, now_ms: i64) -> bool {
        !self.route_muted_by(id, now_ms).is_empty()
    }

    /// The names of the time intervals that mute route `id` at `now_ms`: the mute intervals in
    /// force, or (outside all of them) the route's active intervals.
    pub fn route_muted_by(&self, id: &str, now_ms: i64) -> Vec<String> {
        fn find<'a>(r: &'a Route, id: &str) -> Option<&'a Route> {
            if r.id == id {
                return Some(r);
            }
            r.routes.iter().find_map(|c| find(c, id))
        }
        let Some(route) = find(&self.route, id) else {
            return vec![];
        };
        if route.mute_time_intervals.is_empty() && route.active_time_intervals.is_empty() {
            return vec![];
        }
        let Some(now) = chrono::DateTime::from_timestamp_millis(now_ms) else {
            return vec![];
        };
        let in_force = |n: &String| {
            self.time_intervals
                .get(n)
                .is_some_and(|i| super::time_interval::any_contains(i, now))
        };
        let muting: Vec<String> = route
            .mute_time_intervals
            .iter()
            .filter(|n| in_force(n))
            .cloned()
            .collect();
        if !muting.is_empty() || route.active_time_intervals.iter().any(in_force) {
            return muting;
        }
        route.active_time_intervals.clone()
    }
}

/// What to group by.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupBy {
    /// `'...'`: every label, i.e. one group per alert.
    All,
    Labels(Vec<String>),
}

/// A node of the route tree, with inherited values already applied.
#[derive(Debug, Clone)]
pub struct Route {
    /// Position in the tree (`0`, `0.1`, …), part of every group's key.
    pub id: String,
    pub receiver: String,
    pub group_by: GroupBy,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub matchers: Vec<Matcher>,
    pub continue_: bool,
    /// Names of `time_intervals` in which this route sends nothing (not inherited).
    pub mute_time_intervals: Vec<String>,
    /// Names of `time_intervals` outside which this route sends nothing (not inherited).
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    global: RawGlobal,
    route: Option<RawRoute>,
    #[serde(default)]
    receivers: Vec<RawReceiver>,
    #[serde(default)]
    inhibit_rules: Vec<RawInhibit>,
    #[serde(default)]
    templates: Vec<String>,
    #[serde(default)]
    time_intervals: Vec<RawNamedInterval>,
    /// The older name of `time_intervals`.
    #[serde(default)]
    mute_time_intervals: Vec<RawNamedInterval>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamedInterval {
    name: String,
    #[serde(default)]
    time_intervals: Vec<RawInterval>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawInterval {
    #[serde(default)]
    times: Vec<RawTimeRange>,
    #[serde(default)]
    weekdays: Vec<String>,
    #[serde(default)]
    days_of_month: Vec<String>,
    #[serde(default)]
    months: Vec<String>,
    #[serde(default)]
    years: Vec<String>,
    location: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeRange {
    start_time: String,
    end_time: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawInhibit {
    #[serde(default)]
    source_matchers: Vec<String>,
    #[serde(default)]
    target_matchers: Vec<String>,
    /// Alertmanager's older forms: label → value, and label → regex.
    #[serde(default)]
    source_match: BTreeMap<String, String>,
    #[serde(default)]
    source_match_re: BTreeMap<String, String>,
    #[serde(default)]
    target_match: BTreeMap<String, String>,
    #[serde(default)]
    target_match_re: BTreeMap<String, String>,
    #[serde(default)]
    equal: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    receiver: Option<String>,
    group_by: Option<Vec<String>>,
    group_wait: Option<String>,
    group_interval: Option<String>,
    repeat_interval: Option<String>,
    #[serde(default)]
    matchers: Vec<String>,
    /// Alertmanager's older forms: label → value, and label → regex.
    #[serde(rename = "match", default)]
    match_: BTreeMap<String, String>,
    #[serde(default)]
    match_re: BTreeMap<String, String>,
    #[serde(rename = "continue", default)]
    continue_: bool,
    #[serde(default)]
    mute_time_intervals: Vec<String>,
    #[serde(default)]
    active_time_intervals: Vec<String>,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

/// Reads and validates `alerting.yml` to run it.
pub fn load(path: &Path, env: Env<'_>) -> Result<AlertingConfig, Problems> {
    load_with(path, env, Mode::Serve).map(|(c, _)| c)
}

/// Reads and validates `alerting.yml`; also returns the warnings (in [`Mode::Check`], the files
/// it names that are missing here).
pub fn load_with(
    path: &Path,
    env: Env<'_>,
    mode: Mode,
) -> Result<(AlertingConfig, Vec<Problem>), Problems> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(path, None, format!("cannot read routing config: {e}")))?;
    parse_with(path, &text, env, mode)
}

pub fn parse(path: &Path, text: &str, env: Env<'_>) -> Result<AlertingConfig, Problems> {
    parse_with(path, text, env, Mode::Serve).map(|(c, _)| c)
}

pub fn parse_with(
    path: &Path,
    text: &str,
    env: Env<'_>,
    mode: Mode,
) -> Result<(AlertingConfig, Vec<Problem>), Problems> {
    let yaml_problem = |e: serde_norway::Error| Problem::from_yaml(path, text, &e, 0);
    let raw: RawFile = if text.contains("<<:") {
        // YAML merge keys (`<<: *defaults`), which Alertmanager's YAML reader applies.
        let mut doc: serde_norway::Value = serde_norway::from_str(text).map_err(yaml_problem)?;
        doc.apply_merge().map_err(yaml_problem)?;
        serde_norway::from_value(doc).map_err(yaml_problem)?
    } else {
        serde_norway::from_str(text).map_err(yaml_problem)?
    };
    let mut v = V(Loader::new(path, text, env, mode));
    let cfg = v.config(raw);
    let V(l) = v;
    if l.problems.is_empty() {
        cfg.map(|c| (c, l.warnings))
            .ok_or_else(|| Problems(vec![Problem::new(path, None, "invalid routing config")]))
    } else {
        Err(Problems(l.problems))
    }
}

/// alerting.yml's own parts (routes, inhibit rules, time intervals) over the shared [`Loader`].
struct V<'a>(Loader<'a>);

impl<'a> std::ops::Deref for V<'a> {
    type Target = Loader<'a>;
    fn deref(&self) -> &Loader<'a> {
        &self.0
    }
}

impl std::ops::DerefMut for V<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl V<'_> {
    /// Matchers from Alertmanager's older `<key>: {label: value}` and `<key>_re: {label: regex}`
    /// maps (`match`, `source_match`, `target_match`): `label="value"` and `label=~"regex"`,
    /// the regex anchored, as Alertmanager 0.25 reads them. `what` names the route or rule.
    fn legacy_matchers(
        &mut self,
        what: &str,
        key: &str,
        equal: &BTreeMap<String, String>,
        regex: &BTreeMap<String, String>,
    ) -> Vec<Matcher> {
        let mut out = Vec::new();
        for (map, op, key) in [
            (equal, "=", key.to_string()),
            (regex, "=~", format!("{key}_re")),
        ] {
            for (name, value) in map {
                match Matcher::new(name, op, value.clone(), &format!("{name}: {value}")) {
                    Ok(m) => out.push(m),
                    Err(e) => self.p(&format!("{name}:"), format!("{what}: {key}: {e}")),
                }
            }
        }
        out
    }

    fn config(&mut self, raw: RawFile) -> Option<AlertingConfig> {
        match crate::notify::templates::load(&self.base, &raw.templates) {
            Ok(set) => self.templates = Arc::new(set),
            Err(problems) => self.problems.extend(
                problems
                    .into_iter()
                    .map(|p| Problem::new(&p.file, p.line, p.message)),
            ),
        }
        let resolve_timeout = self.dur(
            "resolve_timeout",
            raw.global.resolve_timeout.as_deref(),
            Duration::from_secs(300),
        );
        let names: Vec<String> = raw.receivers.iter().map(|r| r.name.clone()).collect();
        let mut seen = HashSet::new();
        for n in &names {
            if !seen.insert(n.clone()) {
                self.p(
                    &format!("name: {n}"),
                    format!("receivers: duplicate receiver name {n:?}"),
                );
            }
        }
        let receivers: Vec<Receiver> = raw
            .receivers
            .iter()
            .enumerate()
            .map(|(i, r)| crate::notify::receivers::parse(&mut self.0, i, r, &raw.global, &names))
            .collect();
        let time_intervals = self.time_intervals(&raw);
        let Some(root) = raw.route else {
            let path = self.path;
            self.problems.push(Problem::new(
                path,
                None,
                "route: a top-level route is required",
            ));
            return None;
        };
        if root.receiver.is_none() {
            self.p(
                "route:",
                "route: the top-level route needs a receiver".into(),
            );
        }
        if !root.matchers.is_empty() {
            self.p(
                "matchers:",
                "route: the top-level route must not have matchers".into(),
            );
        }
        let parent = Route {
            id: String::new(),
            receiver: String::new(),
            group_by: GroupBy::Labels(vec![]),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(300),
            repeat_interval: Duration::from_secs(4 * 3600),
            matchers: vec![],
            continue_: false,
            mute_time_intervals: vec![],
            active_time_intervals: vec![],
            routes: vec![],
        };
        if !root.mute_time_intervals.is_empty() || !root.active_time_intervals.is_empty() {
            self.p(
                "time_intervals:",
                "route: the top-level route cannot have mute_time_intervals or active_time_intervals"
                    .into(),
            );
        }
        let route = self.route(&root, &parent, "0".into(), &names, &time_intervals);
        let mut inhibit_rules = Vec::new();
        for (i, r) in raw.inhibit_rules.iter().enumerate() {
            self.enter(format!("inhibit_rules.{i}"));
            let mut parse = |list: &[String], key: &str| -> Vec<Matcher> {
                let mut out = Vec::new();
                for m in list {
                    match Matcher::parse(m) {
                        Ok(m) => out.push(m),
                        Err(e) => self.p(m, format!("inhibit_rules[{i}].{key}: {e}")),
                    }
                }
                out
            };
            let mut source = parse(&r.source_matchers, "source_matchers");
            let mut target = parse(&r.target_matchers, "target_matchers");
            // As Alertmanager 0.25 reads them: the older maps add to the matchers, and a side
            // without any matches every alert.
            let what = format!("inhibit_rules[{i}]");
            source.extend(self.legacy_matchers(
                &what,
                "source_match",
                &r.source_match,
                &r.source_match_re,
            ));
            target.extend(self.legacy_matchers(
                &what,
                "target_match",
                &r.target_match,
                &r.target_match_re,
            ));
            inhibit_rules.push(super::inhibit::InhibitRule {
                source,
                target,
                equal: r.equal.clone(),
            });
            self.leave();
        }
        Some(AlertingConfig {
            route,
            receivers,
            inhibit_rules,
            resolve_timeout,
            time_intervals,
            templates: self.templates.clone(),
        })
    }

    /// Parses every value of a list field, reporting the bad ones at their line.
    fn each<T>(
        &mut self,
        ctx: &str,
        key: &str,
        values: &[String],
        parse: fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for v in values {
            match parse(v) {
                Ok(x) => out.push(x),
                Err(e) => self.p(v, format!("{ctx}.{key}: {e}")),
            }
        }
        out
    }

    fn time_intervals(&mut self, raw: &RawFile) -> HashMap<String, Vec<TimeInterval>> {
        use super::time_interval as ti;
        let mut out = HashMap::new();
        let paths = (0..raw.time_intervals.len())
            .map(|k| format!("time_intervals.{k}"))
            .chain((0..raw.mute_time_intervals.len()).map(|k| format!("mute_time_intervals.{k}")));
        for (named, path) in raw
            .time_intervals
            .iter()
            .chain(&raw.mute_time_intervals)
            .zip(paths)
        {
            self.enter(path);
            let name = &named.name;
            let needle = format!("name: {name}");
            let mut list = Vec::new();
            for (i, r) in named.time_intervals.iter().enumerate() {
                let ctx = format!("time_intervals[{name}][{i}]");
                let mut t = TimeInterval::default();
                for tr in &r.times {
                    match (
                        ti::parse_clock(&tr.start_time),
                        ti::parse_clock(&tr.end_time),
                    ) {
                        (Ok(s), Ok(e)) if s < e => t.times.push((s, e)),
                        (Ok(_), Ok(_)) => self.p(
                            &tr.start_time,
                            format!(
                                "{ctx}.times: start_time {} is not before end_time {}",
                                tr.start_time, tr.end_time
                            ),
                        ),
                        (Err(e), _) | (_, Err(e)) => {
                            self.p(&tr.start_time, format!("{ctx}.times: {e}"))
                        }
                    }
                }
                t.weekdays = self.each(&ctx, "weekdays", &r.weekdays, ti::parse_weekdays);
                t.days_of_month = self.each(
                    &ctx,
                    "days_of_month",
                    &r.days_of_month,
                    ti::parse_days_of_month,
                );
                t.months = self.each(&ctx, "months", &r.months, ti::parse_months);
                t.years = self.each(&ctx, "years", &r.years, ti::parse_years);
                match r.location.as_deref() {
                    None | Some("UTC") => {}
                    Some("Local") => t.local = true,
                    Some(other) => self.p(
                        "location:",
                        format!("{ctx}.location: {other:?} is not supported (use UTC or Local)"),
                    ),
                }
                list.push(t);
            }
            if out.insert(name.clone(), list).is_some() {
                self.p(&needle, format!("time_intervals: duplicate name {name:?}"));
            }
            self.leave();
        }
        out
    }

    fn route(
        &mut self,
        raw: &RawRoute,
        parent: &Route,
        id: String,
        receivers: &[String],
        intervals: &HashMap<String, Vec<TimeInterval>>,
    ) -> Route {
        // The route's node: `0` is `route`, `0.2.1` is `route.routes.2.routes.1`.
        let path = id
            .split('.')
            .skip(1)
            .fold("route".to_string(), |p, i| format!("{p}.routes.{i}"));
        self.enter(path);
        for n in raw
            .mute_time_intervals
            .iter()
            .chain(&raw.active_time_intervals)
        {
            if !intervals.contains_key(n) {
                self.p(
                    n,
                    format!("route {id}: time interval {n:?} is not defined under time_intervals"),
                );
            }
        }
        let receiver = raw
            .receiver
            .clone()
            .unwrap_or_else(|| parent.receiver.clone());
        if raw.receiver.is_some() && !receivers.contains(&receiver) {
            self.p(
                &format!("receiver: {receiver}"),
                format!("route {id}: receiver {receiver:?} is not defined under receivers"),
            );
        }
        let group_by = match &raw.group_by {
            None => parent.group_by.clone(),
            Some(l) if l.iter().any(|x| x == "...") => {
                if l.len() > 1 {
                    self.p(
                        "group_by:",
                        format!("route {id}: group_by '...' must be the only entry"),
                    );
                }
                GroupBy::All
            }
            Some(l) => GroupBy::Labels(l.clone()),
        };
        let mut matchers = Vec::new();
        for m in &raw.matchers {
            match Matcher::parse(m) {
                Ok(m) => matchers.push(m),
                Err(e) => self.p(m, format!("route {id}: matchers: {e}")),
            }
        }
        matchers.extend(self.legacy_matchers(
            &format!("route {id}"),
            "match",
            &raw.match_,
            &raw.match_re,
        ));
        let mut route = Route {
            id: id.clone(),
            receiver,
            group_by,
            group_wait: self.dur("group_wait", raw.group_wait.as_deref(), parent.group_wait),
            group_interval: self.dur(
                "group_interval",
                raw.group_interval.as_deref(),
                parent.group_interval,
            ),
            repeat_interval: self.dur(
                "repeat_interval",
                raw.repeat_interval.as_deref(),
                parent.repeat_interval,
            ),
            matchers,
            continue_: raw.continue_,
            mute_time_intervals: raw.mute_time_intervals.clone(),
            active_time_intervals: raw.active_time_intervals.clone(),
            routes: vec![],
        };
        if route.group_interval.is_zero() {
            self.p(
                "group_interval:",
                format!("route {id}: group_interval must be greater than 0"),
            );
        }
        route.routes = raw
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| self.route(r, &route, format!("{id}.{i}"), receivers, intervals))
            .collect();
        self.leave();
        route
    }
}

impl AlertingConfig {
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

/// Labels that identify an aggregation group.
pub fn group_labels(group_by: &GroupBy, labels: &crate::domain::Labels) -> crate::domain::Labels {
    match group_by {
        GroupBy::All => labels.clone(),
        GroupBy::Labels(names) => labels.keep(names),
    }
}

/// Turns a map into sorted pairs (used in messages).
pub fn sorted(map: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::loader::{TlsMinVersion, check_ca_pem};
    use crate::domain::ticket::{EscalationStep, Priority, Tier};
    use crate::notify::email::config::SmtpSecurity;
    use crate::notify::slack::config::{DEFAULT_SLACK_APP_URL, SlackTarget};

    fn env(n: &str) -> Option<String> {
        (n == "SLACK_TOKEN").then(|| "xoxb-123".to_string())
    }

    const GOOD: &str = r#"global:
  smtp_smarthost: 'localhost:2525'
  smtp_from: 'syncwatch@example.com'
  smtp_require_tls: false
route:
  receiver: oncall
  group_by: [alertname, provider]
  group_wait: 0s
  routes:
    - matchers: ['severity="info"']
      receiver: quiet
      group_by: ['...']
receivers:
  - name: oncall
    slack_configs:
      - app_token: ${SLACK_TOKEN}
        channel: '#oncall'
    email_configs:
      - to: 'a@example.com, b@example.com'
    ticket_configs:
      - tier: L2
        reopen_within: 1h
  - name: quiet
    console_configs: [{}]
"#;

    #[test]
    fn alertmanager_message_fields_and_templates_load_and_bad_ones_are_named_at_their_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        std::fs::write(
            dir.path().join("t/slack.tmpl"),
            "{{ define \"my.title\" }}[{{ .Status }}] {{ .CommonLabels.alertname }}{{ end }}",
        )
        .unwrap();
        let text = r#"templates: ['t/*.tmpl']
route:
  receiver: team
receivers:
  - name: team
    slack_configs:
      - api_url: http://127.0.0.1:9/services/x
        channel: '#{{ .CommonLabels.team }}'
        title: '{{ template "my.title" . }}'
        text: "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}"
        fields:
          - title: Severity
            value: '{{ .CommonLabels.severity }}'
            short: true
        actions:
          - type: button
            text: Runbook
            url: '{{ .CommonAnnotations.runbook_url }}'
      - api_url: http://127.0.0.1:9/services/y
    email_configs:
      - to: a@example.com
        from: am@example.com
        smarthost: localhost:25
        html: '{{ template "email.default.subject" . }}'
        headers:
          Subject: 'Alert: {{ .GroupLabels.alertname }}'
"#;
        let path = dir.path().join("alerting.yml");
        let c = parse(&path, text, &env).unwrap();
        let team = c.receiver("team").unwrap();
        let m = team.slack[0]
            .message
            .as_ref()
            .expect("fields set: Alertmanager's message");
        assert_eq!(m.title, r#"{{ template "my.title" . }}"#);
        assert_eq!(m.username, r#"{{ template "slack.default.username" . }}"#);
        assert_eq!(m.mrkdwn_in, ["fallback", "pretext", "text"]);
        assert_eq!(m.fields[0].short, Some(true));
        assert!(
            team.slack[1].message.is_none(),
            "no field set: the Block Kit message"
        );
        assert!(c.templates.has("my.title"));
        assert_eq!(
            team.email[0].headers["Subject"],
            "Alert: {{ .GroupLabels.alertname }}"
        );

        let bad = text.replace(
            "{{ .CommonLabels.severity }}",
            "{{ .CommonLabels.severity | nosuch }}",
        );
        let e = parse(&path, &bad, &env).unwrap_err().to_string();
        let line = bad.lines().position(|l| l.contains("nosuch")).unwrap() + 1;
        assert!(e.contains(&format!("alerting.yml:{line}:")), "{e}");
        assert!(e.contains("function \"nosuch\" not defined"), "{e}");

        std::fs::write(dir.path().join("t/broken.tmpl"), "ok\n{{ if }}").unwrap();
        let e = parse(&path, text, &env).unwrap_err().to_string();
        assert!(e.contains("broken.tmpl:2:"), "{e}");
    }

    #[test]
    fn http_config_is_read_and_checked_as_prometheus_common_checks_it() {
        let base = "route:\n  receiver: team\nreceivers:\n  - name: team\n";
        let good = format!(
            "global:\n  http_config:\n    proxy_url: http://proxy:3128\n{base}    webhook_configs:\n      - url: http://h/1\n      - url: http://h/2\n        http_config:\n          basic_auth: {{username: u, password: p}}\n          follow_redirects: false\n    slack_configs:\n      - api_url: https://slack.example/api/chat.postMessage\n        channel: '#c'\n        http_config:\n          authorization: {{type: Bearer, credentials: xoxb-1}}\n"
        );
        let c = parse(Path::new("a.yml"), &good, &env).unwrap();
        let team = c.receiver("team").unwrap();
        assert_eq!(
            team.webhook[0].http.proxy_url.as_deref(),
            Some("http://proxy:3128"),
            "the global default"
        );
        let own = &team.webhook[1].http;
        assert!(
            own.proxy_url.is_none(),
            "a receiver's own http_config replaces the global one"
        );
        assert!(matches!(&own.basic_auth, Some((u, Some(p))) if u == "u" && p.expose() == "p"));
        assert!(!own.follow_redirects);
        assert!(
            matches!(&team.slack[0].target, SlackTarget::App { token, app_url } if token.expose() == "xoxb-1" && app_url == "https://slack.example/api/chat.postMessage"),
            "a Bearer authorization with api_url is a bot token for that Web API URL"
        );
        assert!(team.slack[0].http.authorization.is_none());

        for (http, why) in [
            (
                "authorization: {credentials: a}\n          basic_auth: {username: u}",
                "at most one of basic_auth, authorization",
            ),
            (
                "authorization: {type: Basic, credentials: a}",
                "use \"basic_auth\" instead",
            ),
            (
                "authorization: {credentials: a, credentials_file: /f}",
                "at most one of credentials and credentials_file",
            ),
            (
                "bearer_token: a\n          bearer_token_file: /f",
                "at most one of bearer_token and bearer_token_file",
            ),
            (
                "oauth2: {client_id: a, token_url: http://t}",
                "OAuth 2.0 client credentials are not supported",
            ),
            ("proxy_url: 'ftp://x'", "must be an http(s) URL"),
            ("tls_config: {server_name: 'not a name!'}", "server_name"),
            ("no_such_key: 1", "unknown field `no_such_key`"),
        ] {
            let text = format!(
                "{base}    webhook_configs:\n      - url: http://h/1\n        http_config:\n          {http}\n"
            );
            let e = parse(Path::new("a.yml"), &text, &env)
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{http}: {e}");
            assert!(e.contains("a.yml:"), "{e}");
        }
    }

    #[test]
    fn yaml_merge_keys_are_applied_as_alertmanager_applies_them() {
        let text = "route:\n  receiver: a\nreceivers:\n  - name: a\n    slack_configs:\n      - &slack\n        api_url: http://h/s\n        channel: '#a'\n  - name: b\n    slack_configs:\n      - <<: *slack\n        channel: '#b'\n        title: hi\n".to_string();
        let c = parse(Path::new("a.yml"), &text, &env).unwrap();
        let b = &c.receiver("b").unwrap().slack[0];
        assert_eq!(
            b.channel.as_deref(),
            Some("#b"),
            "the merged config's own key wins"
        );
        assert!(matches!(&b.target, SlackTarget::Webhook { url } if url.expose() == "http://h/s"));
        let bad = text.replace("title: hi", "titel: hi");
        let e = parse(Path::new("a.yml"), &bad, &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.yml:13:") && e.contains("unknown field `titel`"),
            "{e}"
        );
    }

    #[test]
    fn a_problem_is_placed_at_its_own_line_where_the_same_key_came_earlier() {
        let text = "route:
  receiver: a
  routes:
    - receiver: b
      group_wait: 1s
    - receiver: b
      group_wait: soon
receivers:
  - name: a
    webhook_configs:
      - url: http://ok.example/1
        timeout: 1s
      - url: http://ok.example/2
        timeout: 2s
  - name: b
    webhook_configs:
      - url: http://ok.example/3
      - url: not-a-url
        timeout: later
    slack_configs:
      - api_url: http://ok.example/s
        channel: '#a'
      - api_url: ftp://x
        channel: '#b'
inhibit_rules:
  - source_matchers: ['a=\"1\"']
  - source_matchers: ['a=\"1\"', 'b~1']
";
        let e = parse(Path::new("a.yml"), text, &env)
            .unwrap_err()
            .to_string();
        for want in [
            "a.yml:7: group_wait: invalid duration",
            "a.yml:18: receivers[b].webhook_configs: url must be an http(s) URL",
            "a.yml:19: timeout: invalid duration",
            "a.yml:23: receivers[b].slack_configs.api_url: must be an http(s) URL",
            "a.yml:27: inhibit_rules[1].source_matchers",
        ] {
            assert!(e.contains(want), "{want}\nin\n{e}");
        }
    }

    #[test]
    fn a_missing_secret_file_is_a_warning_for_check_and_an_error_for_serve() {
        let text = "route:\n  receiver: team\nreceivers:\n  - name: team\n    slack_configs:\n      - channel: '#x'\n        api_url_file: /nonexistent/slack_url\n";
        let path = Path::new("/tmp/alerting.yml");
        let (c, warnings) = parse_with(path, text, &env, Mode::Check).unwrap();
        assert_eq!(c.receivers.len(), 1);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, Some(7));
        assert!(
            warnings[0].message.starts_with("warning: api_url_file:"),
            "{}",
            warnings[0].message
        );
        let e = parse(path, text, &env).unwrap_err().to_string();
        assert!(
            e.contains("alerting.yml:7: api_url_file: cannot read /nonexistent/slack_url"),
            "{e}"
        );
        assert!(
            !e.contains("is required"),
            "the unread file is the one problem: {e}"
        );
    }

    #[test]
    fn parses_routes_receivers_and_inheritance() {
        let c = parse(Path::new("a.yml"), GOOD, &env).unwrap();
        assert_eq!(c.route.group_wait, Duration::ZERO);
        let child = &c.route.routes[0];
        assert_eq!(child.id, "0.0");
        assert_eq!(child.group_wait, Duration::ZERO, "inherited");
        assert_eq!(child.group_by, GroupBy::All);
        let oncall = c.receiver("oncall").unwrap();
        assert!(
            matches!(&oncall.slack[0].target, SlackTarget::App { token, app_url } if token.expose() == "xoxb-123" && app_url == DEFAULT_SLACK_APP_URL)
        );
        assert_eq!(oncall.email[0].to, vec!["a@example.com", "b@example.com"]);
        assert_eq!(oncall.email[0].smtp.security, SmtpSecurity::Plain);
        assert_eq!(oncall.tickets[0].tier, Tier::L2);
        assert_eq!(oncall.tickets[0].reopen_within, Duration::from_secs(3600));
    }

    #[test]
    fn escalations_and_targets_are_read_and_checked_with_their_lines() {
        let with = |steps: &str| {
            GOOD.replace(
                "        reopen_within: 1h\n",
                &format!("        reopen_within: 1h\n{steps}"),
            )
        };
        let good = with(
            "        escalations:\n          - {after: 30m, tier: L2, receiver: quiet}\n          - {after: 2h, tier: L3, receiver: oncall}\n        ack_within: {P1: 15m}\n        resolve_within: {P1: 4h, P3: 3d}\n",
        );
        let c = parse(Path::new("a.yml"), &good, &env).unwrap();
        let e = &c.receiver("oncall").unwrap().tickets[0].escalation;
        assert_eq!(
            e.steps,
            [
                EscalationStep {
                    after_ms: 1_800_000,
                    tier: Tier::L2,
                    receiver: "quiet".into()
                },
                EscalationStep {
                    after_ms: 7_200_000,
                    tier: Tier::L3,
                    receiver: "oncall".into()
                }
            ]
        );
        assert_eq!(e.ack_within(Priority::P1), Some(900_000));
        assert_eq!(e.ack_within(Priority::P2), None);
        assert_eq!(e.resolve_within(Priority::P3), Some(3 * 86_400_000));
        let bad = with(
            "        escalations:\n          - {after: 2h, tier: L2, receiver: nobody}\n          - {after: 1h, tier: L4, receiver: quiet}\n          - {after: 1h, tier: L3, receiver: quiet}\n        ack_within: {P9: 15m, P1: soon}\n",
        );
        let err = parse(Path::new("a.yml"), &bad, &env)
            .unwrap_err()
            .to_string();
        for want in [
            "a.yml:24: receivers[oncall].ticket_configs.escalations[0]: receiver \"nobody\" is not defined",
            "a.yml:25: receivers[oncall].ticket_configs.escalations[1]: tier \"L4\" must be one of L1, L2, L3",
            "a.yml:26: receivers[oncall].ticket_configs.escalations[2]: after 1h must be longer than the step before it",
            "receivers[oncall].ticket_configs.ack_within: \"P9\" must be one of P1, P2, P3, P4",
            "a.yml:27: receivers[oncall].ticket_configs.ack_within.P1: invalid duration",
        ] {
            assert!(err.contains(want), "{want}\nin\n{err}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = parse(Path::new("a.yml"), GOOD, &env).unwrap();
        assert!(!format!("{c:?}").contains("xoxb-123"));
    }

    #[test]
    fn problems_name_the_line() {
        let bad = GOOD
            .replace("receiver: quiet", "receiver: nobody")
            .replace("tier: L2", "tier: L9");
        let err = parse(Path::new("a.yml"), &bad, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.yml:11: route 0.0: receiver \"nobody\" is not defined"),
            "{err}"
        );
        assert!(
            err.contains("a.yml:21: receivers[oncall].ticket_configs: tier \"L9\""),
            "{err}"
        );
        let err = parse(
            Path::new("a.yml"),
            &GOOD.replace("group_wait: 0s", "group_wait: soon"),
            &env,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("a.yml:8: group_wait: invalid duration"),
            "{err}"
        );
        let err = parse(
            Path::new("a.yml"),
            &GOOD.replace("  smtp_from", "  smtp_frm"),
            &env,
        )
        .unwrap_err();
        assert_eq!(err.0[0].line, Some(3), "{err}");
    }

    fn email_security(global: &str, receiver: &str) -> SmtpSecurity {
        let text = format!(
            "global:\n  smtp_from: a@example.com\n{global}route:\n  receiver: r\nreceivers:\n  - name: r\n    email_configs:\n      - to: b@example.com\n{receiver}"
        );
        let c = parse(Path::new("a.yml"), &text, &env).unwrap();
        c.receiver("r").unwrap().email[0].smtp.security
    }

    #[test]
    fn smtp_security_follows_alertmanager() {
        use SmtpSecurity::*;
        let host = |h: &str| format!("        smarthost: '{h}'\n");
        let cases = [
            ("", host("mail:465"), ImplicitTls),
            ("", host("mail:587"), StartTls),
            ("", host("mail:25"), StartTls),
            ("  smtp_require_tls: false\n", host("mail:25"), Plain),
            ("", host("mail:25") + "        require_tls: false\n", Plain),
            (
                "  smtp_require_tls: false\n",
                host("mail:25") + "        require_tls: true\n",
                StartTls,
            ),
            (
                "",
                host("mail:2465") + "        force_implicit_tls: true\n",
                ImplicitTls,
            ),
            (
                "  smtp_force_implicit_tls: true\n",
                host("mail:2465"),
                ImplicitTls,
            ),
            (
                "",
                host("mail:465") + "        force_implicit_tls: false\n",
                StartTls,
            ),
        ];
        for (global, receiver, want) in cases {
            assert_eq!(
                email_security(global, &receiver),
                want,
                "{global}{receiver}"
            );
        }
    }

    #[test]
    fn email_tls_config_reads_its_files_and_names_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let ca = "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIUB0ZTCz0aXF1GlAKz6bwzXEJRHCUwCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----\n";
        std::fs::write(dir.path().join("ca.pem"), format!("junk\n{ca}")).unwrap();
        std::fs::write(dir.path().join("pw"), "hunter2\n").unwrap();
        let file = dir.path().join("a.yml");
        let text = |tls: &str| {
            format!(
                "route:\n  receiver: r\nreceivers:\n  - name: r\n    email_configs:\n      - to: b@example.com\n        from: a@example.com\n        smarthost: mail:587\n        auth_username: a\n        auth_password_file: pw\n        tls_config:\n{tls}"
            )
        };
        let err = parse(&file, &text("          ca_file: ca.pem\n          min_version: TLS11\n          cert_file: c.pem\n"), &env)
            .unwrap_err()
            .to_string();
        // The certificate above is truncated: not a valid certificate.
        assert!(
            err.contains("a.yml:12: tls_config.ca_file: \"ca.pem\" holds an invalid certificate"),
            "{err}"
        );
        assert!(
            err.contains("a.yml:13: tls_config.min_version: \"TLS11\""),
            "{err}"
        );
        assert!(
            err.contains("a.yml:11: tls_config: cert_file and key_file go together"),
            "{err}"
        );
        let err = parse(&file, &text("          ca_file: missing.pem\n"), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.yml:12: ca_file: cannot read"), "{err}");

        // The global smtp_tls_config applies to a receiver without its own.
        let global = "global:\n  smtp_tls_config:\n    server_name: global.example.com\n"
            .to_string()
            + &text("          server_name: mail.example.com\n").replace(
                "        tls_config:\n          server_name: mail.example.com\n",
                "",
            );
        let c = parse(&file, &global, &env).unwrap();
        let smtp = &c.receiver("r").unwrap().email[0].smtp;
        assert_eq!(smtp.tls.server_name.as_deref(), Some("global.example.com"));
        let c = parse(&file, &text("          server_name: mail.example.com\n          insecure_skip_verify: true\n          min_version: TLS13\n"), &env).unwrap();
        let smtp = &c.receiver("r").unwrap().email[0].smtp;
        assert_eq!(smtp.password.as_ref().unwrap().expose(), "hunter2");
        assert_eq!(smtp.tls.server_name.as_deref(), Some("mail.example.com"));
        assert!(smtp.tls.insecure_skip_verify);
        assert_eq!(smtp.tls.min_version, Some(TlsMinVersion::Tls13));
        assert_eq!(
            check_ca_pem("no pem here").unwrap_err(),
            "holds no PEM certificate"
        );
    }

    #[test]
    fn time_intervals_mute_and_activate_routes() {
        let text = GOOD.replace(
            "      group_by: ['...']\n",
            "      group_by: ['...']\n      mute_time_intervals: [weekends]\n    - matchers: ['severity=\"page\"']\n      active_time_intervals: [business-hours]\n",
        ) + r#"time_intervals:
  - name: weekends
    time_intervals:
      - weekdays: ['saturday', 'sunday']
  - name: business-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '17:00'}]
"#;
        let c = parse(Path::new("a.yml"), &text, &env).unwrap();
        let ms = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        // 2026-11-21 is a Saturday, 2026-11-23 a Monday.
        assert!(c.route_muted("0.0", ms("2026-11-21T12:00:00Z")));
        assert!(!c.route_muted("0.0", ms("2026-11-23T12:00:00Z")));
        assert!(!c.route_muted("0.1", ms("2026-11-23T12:00:00Z")));
        assert!(c.route_muted("0.1", ms("2026-11-23T18:00:00Z")));
        assert!(c.route_muted("0.1", ms("2026-11-21T12:00:00Z")));
        assert_eq!(
            c.route_muted_by("0.1", ms("2026-11-23T18:00:00Z")),
            vec!["business-hours".to_string()]
        );
        assert_eq!(
            c.route_muted_by("0.0", ms("2026-11-21T12:00:00Z")),
            vec!["weekends".to_string()]
        );
        // Neither is inherited; the root has none.
        assert!(!c.route_muted("0", ms("2026-11-21T12:00:00Z")));

        let undefined = text.replace(
            "active_time_intervals: [business-hours]",
            "active_time_intervals: [office]",
        );
        let err = parse(Path::new("a.yml"), &undefined, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "a.yml:15: route 0.1: time interval \"office\" is not defined under time_intervals"
            ),
            "{err}"
        );
        let bad = text.replace("'09:00'", "'9am'");
        let err = parse(Path::new("a.yml"), &bad, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("time_intervals[business-hours][0].times: \"9am\" is not HH:MM"),
            "{err}"
        );
        assert!(err.contains("a.yml:35:"), "{err}");
        let bad = text.replace("'sunday'", "'sundy'");
        let err = parse(Path::new("a.yml"), &bad, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "a.yml:31: time_intervals[weekends][0].weekdays: \"sundy\" is not a weekday"
            ),
            "{err}"
        );
        let root = text.replace(
            "  group_wait: 0s\n",
            "  group_wait: 0s\n  mute_time_intervals: [weekends]\n",
        );
        let err = parse(Path::new("a.yml"), &root, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("top-level route cannot have mute_time_intervals"),
            "{err}"
        );
    }

    #[test]
    fn inhibit_rules_parse_and_bad_matchers_name_their_line() {
        let text = format!(
            "{GOOD}inhibit_rules:\n  - source_matchers: ['severity=\"critical\"']\n    target_matchers: ['severity=\"warning\"']\n    equal: [provider]\n"
        );
        let c = parse(Path::new("a.yml"), &text, &env).unwrap();
        assert_eq!(c.inhibit_rules.len(), 1);
        assert_eq!(c.inhibit_rules[0].equal, vec!["provider".to_string()]);
        let bad = text.replace("severity=\"warning\"", "severity=~\"(\"");
        let err = parse(Path::new("a.yml"), &bad, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.yml:27: inhibit_rules[0].target_matchers: invalid matcher"),
            "{err}"
        );
    }
    /// Alertmanager 0.25's older forms: `match`/`match_re` on routes, `source_match(_re)` and
    /// `target_match(_re)`, and inhibit rules with matchers on one side only.
    #[test]
    fn the_older_match_forms_read_as_alertmanager_reads_them() {
        use crate::domain::Labels;
        let text = GOOD.replace(
            "    - matchers: ['severity=\"info\"']\n",
            "    - match: {severity: info}\n      match_re: {provider: 'cdk|tek.*'}\n",
        ) + "inhibit_rules:\n  - source_match: {severity: critical}\n    target_match_re: {severity: 'warning|info'}\n    equal: [provider]\n  - target_match: {alertname: Noisy}\n";
        let c = parse(Path::new("a.yml"), &text, &env).unwrap();
        let labels = |pairs: &[(&str, &str)]| -> Labels { pairs.iter().copied().collect() };
        let child = &c.route.routes[0];
        let matches = |l: &Labels| crate::domain::matcher::all_match(&child.matchers, l);
        assert!(matches(&labels(&[
            ("severity", "info"),
            ("provider", "tekion")
        ])));
        // Anchored at both ends, as Alertmanager anchors it.
        assert!(!matches(&labels(&[
            ("severity", "info"),
            ("provider", "xcdk")
        ])));
        assert!(!matches(&labels(&[
            ("severity", "warning"),
            ("provider", "cdk")
        ])));
        let [first, second] = &c.inhibit_rules[..] else {
            panic!("{:?}", c.inhibit_rules)
        };
        assert!(crate::domain::matcher::all_match(
            &first.source,
            &labels(&[("severity", "critical")])
        ));
        assert!(crate::domain::matcher::all_match(
            &first.target,
            &labels(&[("severity", "info")])
        ));
        assert!(!crate::domain::matcher::all_match(
            &first.target,
            &labels(&[("severity", "infos")])
        ));
        // Only target matchers: every alert is a source.
        assert!(second.source.is_empty());
        assert_eq!(second.target.len(), 1);
        // A bad regex or label name in the older forms names its line and key.
        let bad = text.replace("'cdk|tek.*'", "'cdk|('");
        let err = parse(Path::new("a.yml"), &bad, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("route 0.0: match_re: invalid matcher"),
            "{err}"
        );
        assert!(err.contains("a.yml:11:"), "{err}");
        let bad = text.replace("{alertname: Noisy}", "{1bad: Noisy}");
        let err = parse(Path::new("a.yml"), &bad, &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("inhibit_rules[1]: target_match: invalid matcher"),
            "{err}"
        );
    }
}

/// Keys whose values are secrets wherever they appear in `alerting.yml`: Alertmanager's
/// `Secret` and `SecretURL` fields (`api_url` and webhook `url` included, since a webhook's path
/// or query is often its credential) and the HTTP client's credentials.
const SECRET_KEYS: &[&str] = &[
    "api_url",
    "url",
    "webhook_url",
    "slack_api_url",
    "app_token",
    "slack_app_token",
    "auth_password",
    "smtp_auth_password",
    "auth_secret",
    "smtp_auth_secret",
    "secret",
    "routing_key",
    "service_key",
    "password",
    "credentials",
    "bearer_token",
    "client_secret",
    "api_key",
    "token",
];

/// `alerting.yml` as `GET /api/v2/status` shows it (Alertmanager's `config.original`): the
/// YAML re-serialised with every secret value as `<secret>`, and any other URL's password and
/// credential-looking query values masked. Text that does not parse is not shown at all.
pub fn redacted_yaml(text: &str) -> String {
    fn walk(v: &mut serde_norway::Value, secret: bool) {
        use serde_norway::Value;
        match v {
            Value::Mapping(m) => {
                for (k, child) in m.iter_mut() {
                    let is_secret = k.as_str().is_some_and(|k| SECRET_KEYS.contains(&k));
                    walk(child, is_secret);
                }
            }
            Value::Sequence(items) => items.iter_mut().for_each(|c| walk(c, secret)),
            Value::Tagged(t) => walk(&mut t.value, secret),
            Value::String(_) | Value::Number(_) | Value::Bool(_) if secret => {
                *v = Value::String(crate::domain::secret::REDACTED.into());
            }
            Value::String(s) if s.contains("://") => {
                *s = crate::domain::secret::redact_url(s);
            }
            _ => {}
        }
    }
    match serde_norway::from_str::<serde_norway::Value>(text) {
        Ok(mut v) => {
            walk(&mut v, false);
            serde_norway::to_string(&v).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn every_secret_of_alerting_yml_is_masked_and_the_rest_kept() {
        let text = r#"
global:
  slack_api_url: https://hooks.slack.com/services/T0/B0/PLANTED1
  smtp_auth_password: PLANTED2
  smtp_smarthost: smtp.example.com:587
route: {receiver: team, group_by: [alertname]}
receivers:
  - name: team
    slack_configs:
      - app_token: xoxb-PLANTED3
        app_url: https://slack.example.com/api/chat.postMessage?token=PLANTED4
        channel: '#ops'
    webhook_configs:
      - url: https://hooks.example.com/x/PLANTED5
        secret: PLANTED6
        http_config:
          authorization: {credentials: PLANTED7}
          proxy_url: http://user:PLANTED8@proxy:3128
"#;
        let shown = redacted_yaml(text);
        for i in 1..=8 {
            assert!(
                !shown.contains(&format!("PLANTED{i}")),
                "PLANTED{i} shown:\n{shown}"
            );
        }
        assert!(shown.contains("channel: '#ops'"), "{shown}");
        assert!(shown.contains("smtp.example.com:587"));
        assert!(shown.contains("app_token: <secret>"), "{shown}");
        assert_eq!(redacted_yaml("route: ["), "");
    }
}
