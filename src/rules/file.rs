//! Prometheus rule files (`groups:` of alerting and recording rules), loaded and validated.
//! Every problem is reported as `file:line: message`, and a file with problems is not loaded.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use promql_parser::parser::Expr;
use serde::Deserialize;

use super::eval::{check_supported, max_window};
use super::template::Template;
use crate::config::yaml_index::YamlIndex;
use crate::config::{Problem, Problems, find_line};
use crate::domain::duration::parse_duration;

/// A validated rule group.
#[derive(Debug, Clone)]
pub struct RuleGroup {
    pub name: String,
    pub file: PathBuf,
    /// `None`: evaluate on the global interval.
    pub interval: Option<Duration>,
    /// Most alerts (or series) a rule may produce; 0 is no limit.
    pub limit: usize,
    pub rules: Vec<Rule>,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The alert name or the recorded metric name.
    pub name: String,
    pub kind: RuleKind,
    pub expr: Expr,
    pub expr_text: String,
    pub labels: Vec<(String, Template)>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    Alerting {
        for_: Duration,
        keep_firing_for: Duration,
        annotations: Vec<(String, Template)>,
    },
    Recording,
}

/// What the series store must keep for these groups: each metric a rule reads, for the longest
/// window any rule reads it over (at least `min_ms`).
pub fn retention_plan(groups: &[RuleGroup], min_ms: i64) -> super::series::RetentionPlan {
    retention_plan_of(
        groups.iter().flat_map(|g| &g.rules).map(|r| &r.expr),
        min_ms,
    )
}

/// What the series store must keep for these expressions (see [`retention_plan`]).
pub fn retention_plan_of<'a>(
    exprs: impl IntoIterator<Item = &'a Expr>,
    min_ms: i64,
) -> super::series::RetentionPlan {
    let mut plan = super::series::RetentionPlan {
        min_ms: min_ms.max(super::eval::LOOKBACK_MS),
        ..Default::default()
    };
    for expr in exprs {
        for (name, window) in super::eval::selector_windows(expr) {
            match name {
                Some(n) => {
                    let w = plan.windows.entry(n).or_default();
                    *w = (*w).max(window);
                }
                None => plan.keep_all = true,
            }
        }
    }
    plan
}

impl RuleGroup {
    /// The longest window any rule of the group reads.
    pub fn max_window(&self) -> Duration {
        self.rules
            .iter()
            .map(|r| max_window(&r.expr))
            .max()
            .unwrap_or_default()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    interval: Option<String>,
    #[serde(default)]
    /// Prometheus reads any integer; 0 and below mean no limit.
    limit: i64,
    #[serde(default)]
    query_offset: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Prometheus' label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_metric_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Expands the configured globs into files, sorted, without duplicates.
pub fn expand_globs(patterns: &[String]) -> Result<Vec<PathBuf>, Problems> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in patterns {
        match glob::glob(p) {
            Ok(paths) => {
                for path in paths {
                    match path {
                        Ok(path) if !files.contains(&path) => files.push(path),
                        Ok(_) => {}
                        Err(e) => {
                            problems.push(Problem::new(e.path(), None, e.error().to_string()))
                        }
                    }
                }
            }
            Err(e) => problems.push(Problem::new(
                Path::new(p),
                None,
                format!("bad glob pattern: {e}"),
            )),
        }
    }
    files.sort();
    Problems::or_ok(problems, files)
}

/// Loads every rule file the globs match. All problems of all files are reported.
pub fn load_rule_files(patterns: &[String]) -> Result<Vec<RuleGroup>, Problems> {
    load_matching(patterns, "rule file", parse_rule_file)
}

/// Parses every file the globs match with `parse` (`what` names a file that cannot be read) and
/// gathers what they hold; all problems of all files are reported.
pub fn load_matching<T>(
    patterns: &[String],
    what: &str,
    parse: impl Fn(&Path, &str) -> Result<Vec<T>, Problems>,
) -> Result<Vec<T>, Problems> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for f in expand_globs(patterns)? {
        match std::fs::read_to_string(&f) {
            Ok(text) => match parse(&f, &text) {
                Ok(items) => found.extend(items),
                Err(p) => problems.extend(p.0),
            },
            Err(e) => problems.push(Problem::new(&f, None, format!("cannot read {what}: {e}"))),
        }
    }
    Problems::or_ok(problems, found)
}

/// Parses and validates one rule file's text.
pub fn parse_rule_file(file: &Path, text: &str) -> Result<Vec<RuleGroup>, Problems> {
    let raw: RawFile =
        serde_norway::from_str(text).map_err(|e| Problem::from_yaml(file, text, &e, 0))?;
    let mut problems = Vec::new();
    let mut groups = Vec::new();
    let mut group_names = HashSet::new();
    let index = YamlIndex::new(text);
    let mut cursor = 1;
    for (gi, g) in raw.groups.into_iter().enumerate() {
        let group_line = index
            .line(&format!("groups.{gi}"))
            .or_else(|| find_line(text, &format!("name: {}", g.name), cursor))
            .unwrap_or(cursor);
        cursor = group_line;
        let mut p = |line: usize, msg: String| problems.push(Problem::new(file, Some(line), msg));
        if g.name.is_empty() {
            p(group_line, "group name must not be empty".into());
        }
        if !group_names.insert(g.name.clone()) {
            p(
                group_line,
                format!("group {:?}: name repeated in the same file", g.name),
            );
        }
        if g.query_offset.is_some() {
            p(
                group_line,
                format!("group {:?}: query_offset is not supported", g.name),
            );
        }
        if !g.labels.is_empty() {
            p(
                group_line,
                format!("group {:?}: group labels are not supported", g.name),
            );
        }
        let interval = match g.interval.as_deref().map(parse_duration) {
            // As in Prometheus, 0 means the default interval.
            Some(Ok(d)) if d.is_zero() => None,
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                p(group_line, format!("group {:?}: interval: {e}", g.name));
                None
            }
            None => None,
        };
        let mut rules = Vec::new();
        for (ri, r) in g.rules.into_iter().enumerate() {
            let (needle, name) = match (&r.alert, &r.record) {
                (Some(a), None) => (format!("alert: {a}"), a.clone()),
                (None, Some(rec)) => (format!("record: {rec}"), rec.clone()),
                _ => (String::from("expr:"), String::new()),
            };
            let line = index
                .line(&format!("groups.{gi}.rules.{ri}"))
                .or_else(|| find_line(text, &needle, cursor))
                .unwrap_or(cursor);
            cursor = line;
            match rule(&r, name, line) {
                Ok(rule) => rules.push(rule),
                Err(msgs) => {
                    for (field, m) in msgs {
                        let at = index
                            .line(&format!("groups.{gi}.rules.{ri}.{field}"))
                            .filter(|_| !field.is_empty())
                            .unwrap_or(line);
                        p(at, format!("group {:?}, {}", g.name, m));
                    }
                }
            }
        }
        groups.push(RuleGroup {
            name: g.name,
            file: file.to_path_buf(),
            interval,
            limit: usize::try_from(g.limit).unwrap_or(0),
            rules,
        });
    }
    Problems::or_ok(problems, groups)
}

/// A rule's problems: each with the field it is about (`expr`, `annotations.summary`; empty for
/// the rule itself), so that it can be placed at that field's line.
type RuleErrors = Vec<(String, String)>;

fn rule(r: &RawRule, name: String, line: usize) -> Result<Rule, RuleErrors> {
    let what = match (&r.alert, &r.record) {
        (Some(a), None) => format!("alert {a:?}"),
        (None, Some(rec)) => format!("record {rec:?}"),
        (Some(_), Some(_)) => {
            return Err(vec![(
                String::new(),
                "rule: only one of 'alert' and 'record' may be set".into(),
            )]);
        }
        (None, None) => {
            return Err(vec![(
                String::new(),
                "rule: one of 'alert' or 'record' must be set".into(),
            )]);
        }
    };
    let mut errors = Vec::new();
    // Each message starts with the field it is about.
    let mut e = |m: String| {
        let field = m.split([':', ' ']).next().unwrap_or_default().to_string();
        errors.push((field, format!("{what}: {m}")));
    };
    if name.is_empty() {
        e("name must not be empty".into());
    }
    if r.record.is_some() && !valid_metric_name(&name) {
        e(format!("{name:?} is not a valid metric name"));
    }
    let expr = match super::eval::parse_promql(&r.expr) {
        Ok(expr) => {
            if let Err(m) = check_supported(&expr) {
                e(format!("expr: {m}"));
            }
            Some(expr)
        }
        Err(m) => {
            e(format!("expr: could not parse {:?}: {m}", r.expr.trim()));
            None
        }
    };
    let templates = |map: &BTreeMap<String, String>, kind: &str, e: &mut dyn FnMut(String)| {
        let mut out = Vec::new();
        for (k, v) in map {
            // A rule cannot set the metric name (Prometheus' rulefmt refuses it too).
            if !valid_label_name(k) || (kind == "labels" && k == "__name__") {
                e(format!("{kind}: {k:?} is not a valid name"));
            }
            // Prometheus expands the labels and annotations of alerting rules only; a
            // recording rule's labels are set as written.
            let parsed = if r.alert.is_some() {
                Template::parse(&name, v)
            } else {
                Ok(Template::literal(v))
            };
            match parsed {
                Ok(t) => out.push((k.clone(), t)),
                Err(m) => e(format!("{kind}.{k}: {m}")),
            }
        }
        out
    };
    let labels = templates(&r.labels, "labels", &mut e);
    let duration = |v: &Option<String>, key: &str, e: &mut dyn FnMut(String)| match v
        .as_deref()
        .map(parse_duration)
    {
        Some(Ok(d)) => d,
        Some(Err(m)) => {
            e(format!("{key}: {m}"));
            Duration::ZERO
        }
        None => Duration::ZERO,
    };
    let kind = if r.alert.is_some() {
        let for_ = duration(&r.for_, "for", &mut e);
        let keep_firing_for = duration(&r.keep_firing_for, "keep_firing_for", &mut e);
        let annotations = templates(&r.annotations, "annotations", &mut e);
        RuleKind::Alerting {
            for_,
            keep_firing_for,
            annotations,
        }
    } else {
        for (key, set) in [
            ("for", r.for_.is_some()),
            ("keep_firing_for", r.keep_firing_for.is_some()),
            ("annotations", !r.annotations.is_empty()),
        ] {
            if set {
                e(format!("{key} is only valid on alerting rules"));
            }
        }
        RuleKind::Recording
    };
    match (errors.is_empty(), expr) {
        (true, Some(expr)) => Ok(Rule {
            name,
            kind,
            expr,
            expr_text: r.expr.trim().to_string(),
            labels,
            line,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"groups:
  - name: syncs
    interval: 5s
    rules:
      - record: provider:sync_failures:rate5m
        expr: sum by (provider) (rate(syncwatch_sync_failures_total[5m]))
      - alert: ProviderAuthFailing
        expr: increase(syncwatch_sync_failures_total{error_class="auth"}[5m]) > 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.provider }} rejects our credentials"
"#;

    #[test]
    fn loads_groups_rules_and_durations() {
        let groups = parse_rule_file(Path::new("r.yml"), GOOD).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].interval, Some(Duration::from_secs(5)));
        assert_eq!(groups[0].rules.len(), 2);
        let alert = &groups[0].rules[1];
        assert_eq!(alert.line, 7);
        assert!(
            matches!(alert.kind, RuleKind::Alerting { for_, .. } if for_ == Duration::from_secs(60))
        );
        assert_eq!(groups[0].max_window(), Duration::from_secs(300));
    }

    /// Each problem is placed at the line of the field it is about.
    #[test]
    fn problems_name_file_line_and_rule() {
        let bad = GOOD.replace("for: 1m", "for: 1 minute").replace(
            "rate(syncwatch_sync_failures_total[5m]))",
            "rate(syncwatch_sync_failures_total[5m])",
        );
        let err = parse_rule_file(Path::new("rules/sync.yml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("rules/sync.yml:6: group \"syncs\", record \"provider:sync_failures:rate5m\": expr: could not parse"), "{err}");
        assert!(err.contains("rules/sync.yml:9: group \"syncs\", alert \"ProviderAuthFailing\": for: invalid duration"), "{err}");
    }

    #[test]
    fn a_repeated_rule_is_placed_at_its_own_line() {
        let text = "groups:
  - name: a
    rules:
      - alert: Same
        expr: up == 0
      - alert: Same
        expr: up ==
  - name: a2
    rules:
      - alert: Same
        expr: up == 0
        for: soon
";
        let err = parse_rule_file(Path::new("r.yml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("r.yml:7: group \"a\", alert \"Same\": expr"),
            "{err}"
        );
        assert!(
            err.contains("r.yml:12: group \"a2\", alert \"Same\": for"),
            "{err}"
        );
    }

    /// What promtool 2.42 accepts and refuses in a group.
    #[test]
    fn group_fields_are_read_as_prometheus_reads_them() {
        let text = "groups:
  - name: a
    interval: 0s
    limit: -1
    rules:
      - record: r
        expr: up
";
        let g = parse_rule_file(Path::new("r.yml"), text).unwrap().remove(0);
        assert_eq!(
            (g.interval, g.limit),
            (None, 0),
            "0s is the default; below 0, no limit"
        );
        let named = text.replace("expr: up", "expr: up\n        labels: {__name__: x}");
        let err = parse_rule_file(Path::new("r.yml"), &named)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("labels: \"__name__\" is not a valid name"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_promql_is_refused_at_load() {
        let bad = GOOD.replace(
            "increase(syncwatch_sync_failures_total{error_class=\"auth\"}[5m]) > 0",
            "mad_over_time(x[5m])",
        );
        let err = parse_rule_file(Path::new("r.yml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("r.yml:8:") && err.contains("function mad_over_time() is not supported"),
            "{err}"
        );
    }

    #[test]
    fn yaml_errors_and_unknown_fields_have_lines() {
        let err = parse_rule_file(
            Path::new("r.yml"),
            &GOOD.replace("    interval: 5s", "    intervl: 5s"),
        )
        .unwrap_err();
        assert_eq!(err.0[0].line, Some(3), "{err}");
        assert!(err.to_string().contains("unknown field `intervl`"), "{err}");
    }
}
