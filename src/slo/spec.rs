//! SLO definitions (`slos/*.yml`), loaded and validated; every problem is reported as
//! `file:line: message` and a file with problems is not loaded.
//!
//! The format is Sloth's `prometheus/v1` specification as it is (<https://sloth.dev>,
//! `pkg/prometheus/api/v1`): `version`, `service`, `labels`, and `slos[]` with `name`,
//! `objective` (a percentage), `description`, `labels`, `sli` (`events` with `error_query` and
//! `total_query`, or `raw` with `error_ratio_query`, each using `{{.window}}`) and `alerting`
//! (`name`, `labels`, `annotations`, `page_alert`, `ticket_alert`, each with `disable`, `labels`,
//! `annotations`). So an existing Sloth file loads unchanged. syncwatch adds:
//! - `by: [provider]` (on an SLO, or on the file for all of its SLOs): one SLO per value of
//!   those labels, e.g. per provider, or per dealer connection with `[provider, connection]`;
//! - `sli.timeslices.bad_query`: each minute, each group the query returns a series for is one
//!   event, bad when any of its values is not 0 (write the condition with `bool`, e.g.
//!   `x > bool 60`): OpenSLO's `Timeslices` budgeting method, for "share of minutes fresh";
//! - `min_events` on an SLO: below this many events in a window its status is `no_data`
//!   (default: enough events for one bad one to fit in the budget, ⌈1 / (1 − objective)⌉).
//!
//! Refused, with the line: another `version`, a Sloth SLI plugin, an objective outside
//! (0, 100) (100 % leaves no error budget), a query that does not parse or that syncwatch's
//! evaluator does not support, an events or raw query without `{{.window}}` (as Sloth refuses
//! it), two SLOs with one id, and unknown fields.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use promql_parser::parser::Expr;
use serde::Deserialize;

use crate::config::yaml_index::YamlIndex;
use crate::config::{Problem, Problems, find_line};
use crate::rules::eval::check_supported;

/// The Sloth specification version syncwatch reads.
pub const VERSION: &str = "prometheus/v1";

/// A validated SLO.
#[derive(Debug, Clone)]
pub struct Slo {
    /// `{service}-{name}`, as Sloth's `sloth_id`; unique across the files.
    pub id: String,
    pub service: String,
    pub name: String,
    /// The objective as a ratio in (0, 1), e.g. 0.999.
    pub objective: f64,
    pub description: String,
    /// The file's labels, overridden by the SLO's.
    pub labels: BTreeMap<String, String>,
    /// The labels that split it into one SLO per value (empty: one SLO).
    pub by: Vec<String>,
    pub sli: Sli,
    /// Fewer events than this in a window: status `no_data`.
    pub min_events: f64,
    pub alerting: Alerting,
    pub file: PathBuf,
    pub line: usize,
}

/// How good and bad events are counted.
#[derive(Debug, Clone)]
pub enum Sli {
    /// Sloth's `events`: the bad and the total events over `{{.window}}`.
    Events {
        error_query: String,
        total_query: String,
    },
    /// Sloth's `raw`: the ratio of bad events over `{{.window}}`, each minute weighing one.
    Raw { error_ratio_query: String },
    /// Each minute each group `bad_query` returns is one event, bad when a value is not 0.
    Timeslices { bad_query: String },
}

impl Sli {
    /// The queries, with `{{.window}}` (and Sloth's `{{ .window }}` spellings) replaced.
    pub fn queries(&self, window: &str) -> Vec<String> {
        let fill = |q: &str| render_window(q, window);
        match self {
            Sli::Events {
                error_query,
                total_query,
            } => vec![fill(error_query), fill(total_query)],
            Sli::Raw { error_ratio_query } => vec![fill(error_ratio_query)],
            Sli::Timeslices { bad_query } => vec![fill(bad_query)],
        }
    }
}

/// Sloth's `alerting` block.
#[derive(Debug, Clone, Default)]
pub struct Alerting {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub page: AlertSpec,
    pub ticket: AlertSpec,
}

/// Sloth's `page_alert` / `ticket_alert`.
#[derive(Debug, Clone, Default)]
pub struct AlertSpec {
    pub disable: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: String,
    service: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    by: Vec<String>,
    #[serde(default)]
    slos: Vec<RawSlo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    name: String,
    objective: f64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    by: Option<Vec<String>>,
    min_events: Option<f64>,
    sli: RawSli,
    #[serde(default)]
    alerting: RawAlerting,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSli {
    events: Option<RawEvents>,
    raw: Option<RawRaw>,
    timeslices: Option<RawTimeslices>,
    plugin: Option<serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    error_query: String,
    total_query: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRaw {
    error_ratio_query: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeslices {
    bad_query: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerting {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    page_alert: RawAlert,
    #[serde(default)]
    ticket_alert: RawAlert,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    #[serde(default)]
    disable: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// `query` with Go template's `{{.window}}` (any spacing) replaced by `window`.
pub fn render_window(query: &str, window: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 2..start + len].trim();
        out.push_str(&rest[..start]);
        if inner == ".window" {
            out.push_str(window);
        } else {
            out.push_str(&rest[start..start + len + 2]);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn has_window(query: &str) -> bool {
    render_window(query, "\u{0}") != query
}

/// Loads every SLO file the globs match; all problems of all files are reported, and ids must
/// be unique across the files.
pub fn load_slo_files(patterns: &[String]) -> Result<Vec<Slo>, Problems> {
    let slos = crate::rules::file::load_matching(patterns, "SLO file", parse_slo_file)?;
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    for s in &slos {
        if let Some((file, line)) = seen.get(&s.id) {
            problems.push(Problem::new(
                &s.file,
                Some(s.line),
                format!(
                    "SLO {:?}: the id is already defined at {}:{line}",
                    s.id,
                    file.display()
                ),
            ));
        } else {
            seen.insert(s.id.clone(), (s.file.clone(), s.line));
        }
    }
    Problems::or_ok(problems, slos)
}

/// Parses and validates one SLO file's text.
pub fn parse_slo_file(file: &Path, text: &str) -> Result<Vec<Slo>, Problems> {
    let raw: RawFile =
        serde_norway::from_str(text).map_err(|e| Problem::from_yaml(file, text, &e, 0))?;
    let mut problems = Vec::new();
    let index = YamlIndex::new(text);
    let top = |key: &str| {
        index
            .line(key.trim_end_matches(':'))
            .or_else(|| find_line(text, key, 1))
            .unwrap_or(1)
    };
    if raw.version != VERSION {
        problems.push(Problem::new(
            file,
            Some(top("version:")),
            format!("version {:?}: expected {VERSION:?}", raw.version),
        ));
    }
    if !valid_name(&raw.service) {
        problems.push(Problem::new(
            file,
            Some(top("service:")),
            format!(
                "service {:?}: expected letters, digits, '-', '_' or '.'",
                raw.service
            ),
        ));
    }
    for (k, line) in label_problems(&raw.labels) {
        problems.push(Problem::new(file, Some(top("labels:") + line), k));
    }
    for l in &raw.by {
        if !crate::rules::file::valid_label_name(l) {
            problems.push(Problem::new(
                file,
                Some(top("by:")),
                format!("by: {l:?} is not a valid label name"),
            ));
        }
    }
    let mut names = HashSet::new();
    let mut slos = Vec::new();
    let mut cursor = 1;
    for (si, s) in raw.slos.into_iter().enumerate() {
        let line = index
            .line(&format!("slos.{si}"))
            .or_else(|| find_line(text, &format!("name: {}", s.name), cursor))
            .or_else(|| find_line(text, &format!("name: \"{}\"", s.name), cursor))
            .or_else(|| find_line(text, "name:", cursor))
            .unwrap_or(cursor);
        cursor = line + 1;
        let mut p = |msg: String| {
            problems.push(Problem::new(
                file,
                Some(line),
                format!("SLO {:?}: {msg}", s.name),
            ))
        };
        if !valid_name(&s.name) {
            p("name: expected letters, digits, '-', '_' or '.'".into());
        }
        if !names.insert(s.name.clone()) {
            p("name repeated in the same file".into());
        }
        if !(s.objective > 0.0 && s.objective < 100.0) {
            p(if s.objective == 100.0 {
                "objective 100: a 100 % objective leaves no error budget; use at most 99.999".into()
            } else {
                format!(
                    "objective {}: expected a percentage above 0 and below 100",
                    s.objective
                )
            });
        }
        // A percentage as a ratio, to 12 decimals: 99.9 is 0.999, not 0.9990000000000001.
        let objective = (s.objective / 100.0 * 1e12).round() / 1e12;
        let by = s.by.unwrap_or_else(|| raw.by.clone());
        for l in &by {
            if !crate::rules::file::valid_label_name(l) {
                p(format!("by: {l:?} is not a valid label name"));
            } else if matches!(l.as_str(), "slo" | "window") {
                p(format!(
                    "by: {l:?} is a label of the SLO metrics; group by another"
                ));
            }
        }
        if let Some(m) = s.min_events
            && !(m.is_finite() && m >= 0.0)
        {
            p(format!(
                "min_events {m}: expected a number of events, 0 or more"
            ));
        }
        let sli = match (s.sli.events, s.sli.raw, s.sli.timeslices, s.sli.plugin) {
            (_, _, _, Some(_)) => {
                p(
                    "sli.plugin: Sloth's SLI plugins are not supported; write the events queries"
                        .into(),
                );
                None
            }
            (Some(e), None, None, None) => Some(Sli::Events {
                error_query: e.error_query,
                total_query: e.total_query,
            }),
            (None, Some(r), None, None) => Some(Sli::Raw {
                error_ratio_query: r.error_ratio_query,
            }),
            (None, None, Some(t), None) => Some(Sli::Timeslices {
                bad_query: t.bad_query,
            }),
            _ => {
                p("sli: expected exactly one of events, raw or timeslices".into());
                None
            }
        };
        if let Some(sli) = &sli {
            let (names, windowed): (&[&str], bool) = match sli {
                Sli::Events { .. } => (&["sli.events.error_query", "sli.events.total_query"], true),
                Sli::Raw { .. } => (&["sli.raw.error_ratio_query"], true),
                Sli::Timeslices { .. } => (&["sli.timeslices.bad_query"], false),
            };
            let raw_queries = sli.queries("{{.window}}");
            for ((field, query), filled) in names.iter().zip(&raw_queries).zip(sli.queries("5m")) {
                if windowed && !has_window(query) {
                    p(format!("{field}: must use {{{{.window}}}} for its range"));
                }
                match crate::rules::eval::parse_promql(&filled) {
                    Ok(expr) => {
                        if let Err(m) = check_supported(&expr) {
                            p(format!("{field}: {m}"));
                        }
                        if let Some(m) = drops_grouping(&expr, &by) {
                            p(format!("{field}: {m}"));
                        }
                        if !windowed && filters_without_bool(&expr) {
                            p(format!(
                                "{field}: a comparison without `bool` returns only the bad minutes, so the good ones would not count; write e.g. `x > bool 60`"
                            ));
                        }
                    }
                    Err(m) => p(format!("{field}: could not parse {:?}: {m}", filled.trim())),
                }
            }
        }
        let mut labels = raw.labels.clone();
        labels.extend(s.labels.clone());
        for (m, _) in label_problems(&s.labels)
            .into_iter()
            .chain(label_problems(&s.alerting.labels))
            .chain(label_problems(&s.alerting.page_alert.labels))
            .chain(label_problems(&s.alerting.ticket_alert.labels))
        {
            p(m);
        }
        if s.alerting.name.is_empty() {
            p("alerting.name: required (the name of the SLO's burn-rate alerts)".into());
        } else if !crate::rules::file::valid_label_name(&s.alerting.name) {
            p(format!(
                "alerting.name {:?}: expected an alert name (letters, digits, '_')",
                s.alerting.name
            ));
        }
        let default_min = (1.0 / (1.0 - objective) - 1e-6).ceil();
        let alert = |a: RawAlert| AlertSpec {
            disable: a.disable,
            labels: a.labels,
            annotations: a.annotations,
        };
        if let Some(sli) = sli {
            slos.push(Slo {
                id: format!("{}-{}", raw.service, s.name),
                service: raw.service.clone(),
                name: s.name,
                objective,
                description: s.description,
                labels,
                by,
                sli,
                min_events: s.min_events.unwrap_or(default_min),
                alerting: Alerting {
                    name: s.alerting.name,
                    labels: s.alerting.labels,
                    annotations: s.alerting.annotations,
                    page: alert(s.alerting.page_alert),
                    ticket: alert(s.alerting.ticket_alert),
                },
                file: file.to_path_buf(),
                line,
            });
        }
    }
    Problems::or_ok(problems, slos)
}

/// Sloth's names: letters, digits, `-`, `_`, `.`.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Invalid label names of a map, with their index in it.
fn label_problems(labels: &BTreeMap<String, String>) -> Vec<(String, usize)> {
    labels
        .keys()
        .enumerate()
        .filter(|(_, k)| !crate::rules::file::valid_label_name(k))
        .map(|(i, k)| (format!("labels: {k:?} is not a valid label name"), i + 1))
        .collect()
}

/// Whether the query's outermost operation is a comparison that filters (no `bool`).
fn filters_without_bool(expr: &Expr) -> bool {
    match expr {
        Expr::Paren(p) => filters_without_bool(&p.expr),
        Expr::Binary(b) => {
            b.op.is_comparison_operator() && !b.modifier.as_ref().is_some_and(|m| m.return_bool)
        }
        _ => false,
    }
}

/// When the query's outermost aggregation removes a label of `by`, what to say: every result
/// would fall in one group.
fn drops_grouping(expr: &Expr, by: &[String]) -> Option<String> {
    use promql_parser::parser::LabelModifier;
    let Expr::Aggregate(agg) = expr else {
        return match expr {
            Expr::Paren(p) => drops_grouping(&p.expr, by),
            _ => None,
        };
    };
    let dropped: Vec<&String> = by
        .iter()
        .filter(|l| match &agg.modifier {
            None => true,
            Some(LabelModifier::Include(keep)) => !keep.labels.iter().any(|k| k == *l),
            Some(LabelModifier::Exclude(drop)) => drop.labels.iter().any(|k| k == *l),
        })
        .collect();
    (!dropped.is_empty()).then(|| {
        format!(
            "its aggregation removes {dropped:?}, which `by` splits the SLO on; keep them, e.g. `sum by ({}) (…)`",
            by.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOTH: &str = r##"version: "prometheus/v1"
service: "myservice"
labels:
  owner: "myteam"
slos:
  # We allow failing (5xx and 429) 1 request every 1000 requests (99.9%).
  - name: "requests-availability"
    objective: 99.9
    description: "Common SLO based on availability for HTTP request responses."
    labels:
      category: availability
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
    alerting:
      name: "MyServiceHighErrorRate"
      labels:
        category: "availability"
      annotations:
        summary: "High error rate on 'myservice' requests responses"
      page_alert:
        labels:
          severity: "pageteam"
          routing_key: "myteam"
      ticket_alert:
        labels:
          severity: "slack"
          slack_channel: "#alerts-myteam"
"##;

    fn problems(text: &str) -> Vec<String> {
        match parse_slo_file(Path::new("slos/x.yml"), text) {
            Ok(_) => vec![],
            Err(p) => p.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn slothss_getting_started_file_loads_as_it_is() {
        let slos = parse_slo_file(Path::new("slos/x.yml"), SLOTH).unwrap();
        assert_eq!(slos.len(), 1);
        let s = &slos[0];
        assert_eq!(s.id, "myservice-requests-availability");
        assert_eq!(s.objective, 0.999);
        assert_eq!(s.min_events, 1000.0, "⌈1 / 0.001⌉");
        assert_eq!(s.labels["owner"], "myteam");
        assert_eq!(s.labels["category"], "availability");
        assert_eq!(s.alerting.page.labels["severity"], "pageteam");
        assert_eq!(s.line, 7);
        let Sli::Events { error_query, .. } = &s.sli else {
            panic!("events");
        };
        assert!(error_query.contains("[{{.window}}]"));
        assert!(s.sli.queries("1h")[1].ends_with("[1h]))"));
    }

    #[test]
    fn the_shipped_slos_load() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/slos/syncwatch.yml"));
        let slos = parse_slo_file(path, &std::fs::read_to_string(path).unwrap()).unwrap();
        let ids: Vec<(&str, &[String])> = slos.iter().map(|s| (s.id.as_str(), &s.by[..])).collect();
        assert_eq!(
            ids,
            [
                ("syncwatch-sync-success", &["provider".to_string()][..]),
                (
                    "syncwatch-data-freshness",
                    &["provider".into(), "connection".into()]
                ),
                ("syncwatch-pipeline-delivery", &["pipeline".into()]),
                ("syncwatch-pipeline-latency", &["pipeline".into()]),
                ("syncwatch-notification-delivery", &["integration".into()]),
            ]
        );
        assert!(matches!(slos[1].sli, Sli::Timeslices { .. }));
    }

    #[test]
    fn windows_are_filled_whatever_the_spacing() {
        assert_eq!(render_window("rate(x[{{ .window }}])", "5m"), "rate(x[5m])");
        assert_eq!(render_window("rate(x[{{.window}}])", "1h"), "rate(x[1h])");
        assert_eq!(render_window("{{.other}}", "1h"), "{{.other}}");
    }

    #[test]
    fn bad_definitions_are_named_with_their_line() {
        let hundred = SLOTH.replace("objective: 99.9", "objective: 100");
        assert_eq!(
            problems(&hundred),
            [
                "slos/x.yml:7: SLO \"requests-availability\": objective 100: a 100 % objective leaves no error budget; use at most 99.999"
            ]
        );
        let no_window = SLOTH.replace(
            "code=~\"(5..|429)\"}[{{.window}}]",
            "code=~\"(5..|429)\"}[5m]",
        );
        assert_eq!(
            problems(&no_window),
            [
                "slos/x.yml:7: SLO \"requests-availability\": sli.events.error_query: must use {{.window}} for its range"
            ]
        );
        let bad_query = SLOTH.replace(
            "(5..|429)\"}[{{.window}}]))",
            "(5..|429)\"}[{{.window}}])))",
        );
        let p = problems(&bad_query);
        assert!(
            p[0].contains("sli.events.error_query: could not parse"),
            "{p:?}"
        );
        let version = SLOTH.replace("prometheus/v1", "prometheus/v2");
        assert_eq!(
            problems(&version),
            ["slos/x.yml:1: version \"prometheus/v2\": expected \"prometheus/v1\""]
        );
        let unknown = SLOTH.replace(
            "    objective: 99.9",
            "    objective: 99.9\n    objectiv: 99",
        );
        assert!(
            problems(&unknown)[0].starts_with("slos/x.yml:9: "),
            "{:?}",
            problems(&unknown)
        );
        let no_name = SLOTH.replace("      name: \"MyServiceHighErrorRate\"\n", "");
        assert!(problems(&no_name)[0].contains("alerting.name: required"));
    }

    #[test]
    fn a_grouping_the_query_aggregates_away_is_refused() {
        let by = SLOTH.replace(
            "    objective: 99.9\n",
            "    objective: 99.9\n    by: [job]\n",
        );
        let p = problems(&by);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("its aggregation removes [\"job\"]"), "{p:?}");
        let kept = by.replace("sum(rate(", "sum by (job) (rate(");
        assert_eq!(problems(&kept), Vec::<String>::new());
        let slos = parse_slo_file(Path::new("x.yml"), &kept).unwrap();
        assert_eq!(slos[0].by, ["job"]);
    }

    #[test]
    fn timeslices_need_no_window_and_one_sli_kind_is_required() {
        let t = SLOTH.replace(
            "      events:\n",
            "      timeslices:\n        bad_query: up == 0\n      eventz:\n",
        );
        assert!(
            problems(&t)[0].contains("unknown field `eventz`"),
            "{:?}",
            problems(&t)
        );
        let only = r#"version: prometheus/v1
service: syncs
slos:
  - name: fresh
    objective: 99
    by: [connection]
    sli:
      timeslices:
        bad_query: time() - last_success_seconds > bool 600
    alerting:
      name: Stale
"#;
        let slos = parse_slo_file(Path::new("x.yml"), only).unwrap();
        assert!(matches!(slos[0].sli, Sli::Timeslices { .. }));
        let filtering = only.replace("> bool 600", "> 600");
        assert!(
            problems(&filtering)[0].contains("a comparison without `bool`"),
            "{:?}",
            problems(&filtering)
        );
        let none = only.replace(
            "      timeslices:\n        bad_query: time() - last_success_seconds > bool 600\n",
            "      {}\n",
        );
        assert!(
            problems(&none)[0].contains("expected exactly one of events, raw or timeslices"),
            "{:?}",
            problems(&none)
        );
    }
}
