//! `syncwatch slo generate`: the Prometheus rule file equivalent to the SLOs syncwatch
//! evaluates, for teams that also run Prometheus. It follows Sloth's generated rules (names
//! `slo:sli_error:ratio_rate<window>`, labels `sloth_id`, `sloth_service`, `sloth_slo`,
//! `sloth_window`), so dashboards made for Sloth read it, with two differences: the 30-day
//! ratio is the ratio of the 30-day sums (Sloth averages the 5-minute ratios), and each alert
//! carries `slo` and `burn_tier`.
//!
//! The alerts are the multiwindow, multi-burn-rate ones of the SRE workbook for a 30-day
//! period: page at 14.4x over 1 h and 5 m, or 6x over 6 h and 30 m; ticket at 3x over 1 d and
//! 2 h, or 1x over 3 d and 6 h; and a no-data alert when the SLI has had no value for an hour.

use std::collections::BTreeMap;

use serde::Serialize;

use std::path::PathBuf;

use super::budget::allowed_bad;
use super::spec::{Sli, Slo};
use crate::alerting::inhibit::InhibitRule;
use crate::config::Problems;
use crate::domain::matcher::Matcher;
use crate::rules::file::{RuleGroup, parse_rule_file};

/// A burn-rate alert tier: its name, its two (long, short) window pairs and their factor.
pub struct BurnTier {
    pub name: &'static str,
    pub pairs: [(f64, &'static str, &'static str); 2],
}

/// The SRE workbook's table for a 30-day period (chapter "Alerting on SLOs", table 5-8).
pub const BURN_TIERS: [BurnTier; 2] = [
    BurnTier {
        name: "page",
        pairs: [(14.4, "1h", "5m"), (6.0, "6h", "30m")],
    },
    BurnTier {
        name: "ticket",
        pairs: [(3.0, "1d", "2h"), (1.0, "3d", "6h")],
    },
];

#[derive(Serialize)]
struct File {
    groups: Vec<Group>,
}

#[derive(Serialize)]
struct Group {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<&'static str>,
    rules: Vec<Rule>,
}

/// How often syncwatch evaluates an SLO's alerts: its gauges change once a minute, so more
/// often only costs (10,000 groups are 80,000 burn-rate series).
const IN_APP_INTERVAL: &str = "20s";

#[derive(Serialize)]
struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<String>,
    expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

impl Rule {
    fn record(name: &str, expr: String, labels: BTreeMap<String, String>) -> Self {
        Rule {
            record: Some(name.to_string()),
            alert: None,
            expr,
            for_: None,
            labels,
            annotations: BTreeMap::new(),
        }
    }
}

/// The SLI's error ratio over `window`, as PromQL.
fn error_ratio(slo: &Slo, window: &str) -> String {
    let q = slo.sli.queries(window);
    match &slo.sli {
        // A group without bad events has no error series: it counts 0, not "no value".
        Sli::Events { .. } => format!(
            "(({}) or (({}) * 0))\n/\n({})",
            q[0].trim(),
            q[1].trim(),
            q[1].trim()
        ),
        Sli::Raw { .. } => q[0].trim().to_string(),
        Sli::Timeslices { .. } => {
            let by = if slo.by.is_empty() {
                String::new()
            } else {
                format!(" by ({})", slo.by.join(", "))
            };
            format!("avg_over_time((max{by} ({}))[{window}:1m])", q[0].trim())
        }
    }
}

/// Where burn-rate alerts read the error ratio of a window.
#[derive(Clone, Copy)]
enum Burns {
    /// A Prometheus running the recording rules of [`rule_file`].
    Recorded,
    /// syncwatch's own `syncwatch_slo_burn_rate` gauges (burn rate = error ratio / budget).
    Gauges,
}

/// The burn-rate alerts of an SLO (page and ticket tiers not disabled) and its no-data alert.
fn alert_rules(slo: &Slo, burns: Burns) -> Vec<Rule> {
    let allowed = allowed_bad(slo.objective);
    let over = |window: &str, factor: f64| match burns {
        Burns::Recorded => format!(
            "max without (sloth_window) (slo:sli_error:ratio_rate{window}{{sloth_id=\"{}\"}} > ({factor} * {allowed}))",
            slo.id
        ),
        Burns::Gauges => format!(
            "max without (window) ({}{{slo=\"{}\",window=\"{window}\"}} > {factor})",
            crate::telemetry::names::SLO_BURN_RATE,
            slo.id
        ),
    };
    let mut alerts = Vec::new();
    for tier in &BURN_TIERS {
        let spec = if tier.name == "page" {
            &slo.alerting.page
        } else {
            &slo.alerting.ticket
        };
        if spec.disable {
            continue;
        }
        let cond = |(factor, long, short): (f64, &str, &str)| {
            format!(
                "(\n  {}\n  and\n  {}\n)",
                over(short, factor),
                over(long, factor)
            )
        };
        let mut labels = slo.alerting.labels.clone();
        labels.extend(spec.labels.clone());
        labels.insert("slo".into(), slo.id.clone());
        labels.insert("burn_tier".into(), tier.name.into());
        labels.insert("sloth_severity".into(), tier.name.into());
        let mut annotations = slo.alerting.annotations.clone();
        annotations.extend(spec.annotations.clone());
        annotations
            .entry("summary".into())
            .or_insert_with(|| format!("{} burns its error budget ({} tier)", slo.id, tier.name));
        alerts.push(Rule {
            record: None,
            alert: Some(slo.alerting.name.clone()),
            expr: format!("{}\nor\n{}", cond(tier.pairs[0]), cond(tier.pairs[1])),
            for_: None,
            labels,
            annotations,
        });
    }
    let mut labels = slo.alerting.labels.clone();
    labels.insert("slo".into(), slo.id.clone());
    labels.insert("burn_tier".into(), "no_data".into());
    labels
        .entry("severity".into())
        .or_insert_with(|| "warning".into());
    let (expr, summary) = match burns {
        Burns::Recorded => (
            format!(
                "absent(slo:sli_error:ratio_rate1h{{sloth_id=\"{}\"}})",
                slo.id
            ),
            format!(
                "{} has had no SLI for an hour: its events are not counted",
                slo.id
            ),
        ),
        // No event counted over the last hour (a counter that never moved, or none at all).
        Burns::Gauges => (
            format!(
                "(sum(increase({}{{slo=\"{}\"}}[1h])) or vector(0)) == 0",
                crate::telemetry::names::SLO_EVENTS_TOTAL,
                slo.id
            ),
            format!(
                "{} has counted no event for an hour: its SLI has no data",
                slo.id
            ),
        ),
    };
    alerts.push(Rule {
        record: None,
        alert: Some(format!("{}NoData", slo.alerting.name)),
        expr,
        for_: Some("1h".into()),
        labels,
        annotations: [("summary".to_string(), summary)].into(),
    });
    alerts
}

/// The burn-rate and no-data alerts syncwatch evaluates itself for one SLO, as a rule file:
/// over its `syncwatch_slo_burn_rate` gauges, the rules of [`rule_file`]'s `slo-alerts-*`
/// group, with the same names, labels and tiers.
pub fn in_app_rule_file(slo: &Slo) -> String {
    let file = File {
        groups: vec![Group {
            name: format!("slo-alerts-{}", slo.id),
            interval: Some(IN_APP_INTERVAL),
            rules: alert_rules(slo, Burns::Gauges),
        }],
    };
    serde_norway::to_string(&file).unwrap_or_default()
}

/// The rule groups of [`in_app_rule_file`] for every SLO. Errors (an annotation template that
/// does not parse) name the SLO's file and line.
pub fn in_app_groups(slos: &[Slo]) -> Result<Vec<RuleGroup>, Problems> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for slo in slos {
        let origin = PathBuf::from(format!(
            "{}:{} (alerts of SLO {})",
            slo.file.display(),
            slo.line,
            slo.id
        ));
        match parse_rule_file(&origin, &in_app_rule_file(slo)) {
            Ok(groups) => out.extend(groups),
            Err(p) => problems.extend(p.0),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Problems(problems))
    }
}

/// The inhibition between tiers, as an Alertmanager `inhibit_rules` entry would say it: a
/// firing page-tier alert holds back the ticket-tier alert of the same SLO and group (`equal`:
/// `slo` and every label an SLO is split `by`). `None` without SLOs.
pub fn tier_inhibition(slos: &[Slo]) -> Option<InhibitRule> {
    if slos.is_empty() {
        return None;
    }
    let mut equal = vec!["slo".to_string()];
    for label in slos.iter().flat_map(|s| &s.by) {
        if !equal.contains(label) {
            equal.push(label.clone());
        }
    }
    let tier = |name: &str| Matcher::parse(&format!("burn_tier=\"{name}\"")).ok();
    Some(InhibitRule {
        source: vec![tier("page")?],
        target: vec![tier("ticket")?],
        equal,
    })
}

/// The rule file of `slos`, as YAML.
pub fn rule_file(slos: &[Slo]) -> String {
    let mut groups = Vec::new();
    for slo in slos {
        let sloth = |window: Option<&str>| {
            let mut l = slo.labels.clone();
            l.insert("sloth_id".into(), slo.id.clone());
            l.insert("sloth_service".into(), slo.service.clone());
            l.insert("sloth_slo".into(), slo.name.clone());
            if let Some(w) = window {
                l.insert("sloth_window".into(), w.into());
            }
            l
        };
        let allowed = allowed_bad(slo.objective);
        let sel = |w: &str| format!("slo:sli_error:ratio_rate{w}{{sloth_id=\"{}\"}}", slo.id);
        groups.push(Group {
            name: format!("slo-sli-recordings-{}", slo.id),
            interval: None,
            // The windows recorded: those of the gauges, every window an alert reads and the
            // period.
            rules: super::gauges::WINDOWS
                .iter()
                .map(|w| {
                    Rule::record(
                        &format!("slo:sli_error:ratio_rate{w}"),
                        error_ratio(slo, w),
                        sloth(Some(w)),
                    )
                })
                .collect(),
        });
        groups.push(Group {
            name: format!("slo-meta-recordings-{}", slo.id),
            interval: None,
            rules: vec![
                Rule::record(
                    "slo:objective:ratio",
                    format!("vector({})", slo.objective),
                    sloth(None),
                ),
                Rule::record(
                    "slo:error_budget:ratio",
                    format!("vector({allowed})"),
                    sloth(None),
                ),
                Rule::record("slo:time_period:days", "vector(30)".into(), sloth(None)),
                Rule::record(
                    "slo:current_burn_rate:ratio",
                    format!("max without (sloth_window) ({}) / {allowed}", sel("5m")),
                    sloth(None),
                ),
                Rule::record(
                    "slo:period_burn_rate:ratio",
                    format!("max without (sloth_window) ({}) / {allowed}", sel("30d")),
                    sloth(None),
                ),
                Rule::record(
                    "slo:period_error_budget_remaining:ratio",
                    format!("1 - slo:period_burn_rate:ratio{{sloth_id=\"{}\"}}", slo.id),
                    sloth(None),
                ),
            ],
        });
        let alerts = alert_rules(slo, Burns::Recorded);
        groups.push(Group {
            name: format!("slo-alerts-{}", slo.id),
            interval: None,
            rules: alerts,
        });
    }
    let header = "# The Prometheus rules equivalent to syncwatch's SLOs (`syncwatch slo generate`).\n\
                  # Recording rules per SLI window, metadata, and multiwindow, multi-burn-rate alerts\n\
                  # for a 30-day period (SRE workbook). Regenerate after changing the SLO files.\n";
    format!(
        "{header}{}",
        serde_norway::to_string(&File { groups }).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_slo_gets_its_recordings_and_alerts() {
        let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/slos/syncwatch.yml"));
        let slos =
            super::super::spec::parse_slo_file(path, &std::fs::read_to_string(path).unwrap())
                .unwrap();
        let text = rule_file(&slos);
        for slo in &slos {
            assert!(text.contains(&format!("name: slo-alerts-{}", slo.id)));
        }
        assert!(text.contains("slo:sli_error:ratio_rate30d"));
        assert!(text.contains("burn_tier: page"));
        assert!(text.contains("> (14.4 * 0.001)"));
        assert!(text.contains("alert: SyncSuccessBudgetBurnNoData"));
    }

    const SLO: &str = r#"version: prometheus/v1
service: s
slos:
  - name: x
    objective: 99.9
    by: [provider]
    sli:
      events:
        error_query: sum by (provider) (rate(e[{{.window}}]))
        total_query: sum by (provider) (rate(t[{{.window}}]))
    alerting:
      name: XBurn
      annotations:
        summary: "{{ $labels.provider }} burns"
      page_alert:
        labels: {severity: critical}
"#;

    /// A promtool-format test of the in-app rules: `cases` are `alert_rule_test` entries.
    fn rules_test(series: &str, cases: &str) -> Vec<String> {
        let slos = super::super::spec::parse_slo_file(std::path::Path::new("s.yml"), SLO).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yml"), in_app_rule_file(&slos[0])).unwrap();
        let test = dir.path().join("test.yml");
        std::fs::write(
            &test,
            format!(
                "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    alert_rule_test:\n{cases}"
            ),
        )
        .unwrap();
        crate::rules::unittest::run_test_file(&test).unwrap()
    }

    fn burn(window: &str, values: &str) -> String {
        format!(
            "      - series: 'syncwatch_slo_burn_rate{{slo=\"s-x\",window=\"{window}\",provider=\"cdk\"}}'\n        values: '{values}'\n"
        )
    }

    #[test]
    fn the_in_app_tiers_fire_on_both_windows_of_a_pair_only() {
        let series = [
            burn("5m", "20x20"),
            burn("1h", "20x20"),
            burn("30m", "0x20"),
            burn("6h", "7x20"),
            burn("2h", "4x10 0x10"),
            burn("1d", "4x20"),
            burn("3d", "0x20"),
        ]
        .concat();
        let page = r#"      - eval_time: 5m
        alertname: XBurn
        exp_alerts:
          - exp_labels: {slo: s-x, provider: cdk, burn_tier: page, sloth_severity: page, severity: critical}
            exp_annotations: {summary: cdk burns}
          - exp_labels: {slo: s-x, provider: cdk, burn_tier: ticket, sloth_severity: ticket}
            exp_annotations: {summary: cdk burns}
      - eval_time: 15m
        alertname: XBurn
        exp_alerts:
          - exp_labels: {slo: s-x, provider: cdk, burn_tier: page, sloth_severity: page, severity: critical}
            exp_annotations: {summary: cdk burns}
"#;
        assert_eq!(rules_test(&series, page), Vec::<String>::new());
        // The test can fail: a page that the 6h/30m pair alone would not give.
        let only_6h = [burn("6h", "7x20"), burn("30m", "0x20")].concat();
        let wrong = r#"      - eval_time: 5m
        alertname: XBurn
        exp_alerts:
          - exp_labels: {slo: s-x, provider: cdk, burn_tier: page, sloth_severity: page, severity: critical}
            exp_annotations: {summary: cdk burns}
"#;
        assert_eq!(rules_test(&only_6h, wrong).len(), 1);
    }

    #[test]
    fn the_in_app_no_data_alert_waits_an_hour_without_events() {
        let events = |values: &str| {
            format!(
                "      - series: 'syncwatch_slo_events_total{{slo=\"s-x\",outcome=\"good\"}}'\n        values: '{values}'\n"
            )
        };
        let fires = r#"      - eval_time: 50m
        alertname: XBurnNoData
        exp_alerts: []
      - eval_time: 70m
        alertname: XBurnNoData
        exp_alerts:
          - exp_labels: {slo: s-x, burn_tier: no_data, severity: warning}
            exp_annotations: {summary: "s-x has counted no event for an hour: its SLI has no data"}
"#;
        assert_eq!(rules_test(&events("5x80"), fires), Vec::<String>::new());
        // Counting events: nothing fires.
        let quiet = r#"      - eval_time: 70m
        alertname: XBurnNoData
        exp_alerts: []
"#;
        assert_eq!(rules_test(&events("5+1x80"), quiet), Vec::<String>::new());
        assert_eq!(rules_test(&events("5+1x80"), fires).len(), 1);
    }
}
