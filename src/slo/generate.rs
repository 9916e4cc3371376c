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

use super::budget::allowed_bad;
use super::spec::{Sli, Slo};

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
    rules: Vec<Rule>,
}

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
            // The windows recorded: those of the gauges, every window an alert reads and the
            // period.
            rules: super::gauges::WINDOWS
                .iter()
                .map(|(w, ..)| {
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
                    "(\n  max without (sloth_window) ({} > ({factor} * {allowed}))\n  and\n  max without (sloth_window) ({} > ({factor} * {allowed}))\n)",
                    sel(short),
                    sel(long)
                )
            };
            let mut labels = slo.alerting.labels.clone();
            labels.extend(spec.labels.clone());
            labels.insert("slo".into(), slo.id.clone());
            labels.insert("burn_tier".into(), tier.name.into());
            labels.insert("sloth_severity".into(), tier.name.into());
            let mut annotations = slo.alerting.annotations.clone();
            annotations.extend(spec.annotations.clone());
            annotations.entry("summary".into()).or_insert_with(|| {
                format!("{} burns its error budget ({} tier)", slo.id, tier.name)
            });
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
        alerts.push(Rule {
            record: None,
            alert: Some(format!("{}NoData", slo.alerting.name)),
            expr: format!("absent({})", sel("1h")),
            for_: Some("1h".into()),
            labels,
            annotations: [(
                "summary".to_string(),
                format!(
                    "{} has had no SLI for an hour: its events are not counted",
                    slo.id
                ),
            )]
            .into(),
        });
        groups.push(Group {
            name: format!("slo-alerts-{}", slo.id),
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
}
