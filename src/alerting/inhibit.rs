//! Inhibition, as Alertmanager does it: an alert matching a rule's target matchers is not
//! notified while an alert matching its source matchers fires with the same values of the
//! `equal` labels. When the target alert itself matches the source matchers too, only sources
//! that do not match the target matchers count, so two such alerts never inhibit each other.

use crate::domain::matcher::{Matcher, all_match};
use crate::domain::{Alert, Fingerprint};

#[derive(Debug, Clone)]
pub struct InhibitRule {
    pub source: Vec<Matcher>,
    pub target: Vec<Matcher>,
    pub equal: Vec<String>,
}

/// The firing alerts that inhibit `target`.
pub fn inhibited_by(target: &Alert, firing: &[&Alert], rules: &[InhibitRule]) -> Vec<Fingerprint> {
    let mut out = Vec::new();
    let target_fp = target.fingerprint();
    for rule in rules {
        if !all_match(&rule.target, &target.labels) {
            continue;
        }
        let two_sided = all_match(&rule.source, &target.labels);
        for source in firing {
            let fp = source.fingerprint();
            if fp == target_fp
                || source.is_resolved()
                || !all_match(&rule.source, &source.labels)
                || (two_sided && all_match(&rule.target, &source.labels))
                || !rule
                    .equal
                    .iter()
                    .all(|l| source.labels.value(l) == target.labels.value(l))
            {
                continue;
            }
            if !out.contains(&fp) {
                out.push(fp);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn alert(name: &str, severity: &str, provider: &str) -> Alert {
        Alert {
            labels: [
                ("alertname", name),
                ("severity", severity),
                ("provider", provider),
            ]
            .into_iter()
            .collect(),
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms: None,
            value: None,
            generator_url: String::new(),
        }
    }

    fn rule(source: &str, target: &str, equal: &[&str]) -> InhibitRule {
        InhibitRule {
            source: vec![Matcher::parse(source).unwrap()],
            target: vec![Matcher::parse(target).unwrap()],
            equal: equal.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_critical_alert_inhibits_warnings_of_the_same_provider() {
        let rules = [rule(
            r#"severity="critical""#,
            r#"severity="warning""#,
            &["provider"],
        )];
        let critical = alert("ProviderAuthFailing", "critical", "cdk");
        let warning_same = alert("ConnectionStale", "warning", "cdk");
        let warning_other = alert("ConnectionStale", "warning", "xtime");
        let firing = [&critical, &warning_same, &warning_other];
        assert_eq!(
            inhibited_by(&warning_same, &firing, &rules),
            vec![critical.fingerprint()]
        );
        assert!(
            inhibited_by(&warning_other, &firing, &rules).is_empty(),
            "equal labels differ"
        );
        assert!(
            inhibited_by(&critical, &firing, &rules).is_empty(),
            "not a target"
        );
    }

    #[test]
    fn a_resolved_source_inhibits_nothing() {
        let rules = [rule(r#"severity="critical""#, r#"severity="warning""#, &[])];
        let mut critical = alert("A", "critical", "cdk");
        critical.ends_at_ms = Some(1);
        let warning = alert("B", "warning", "cdk");
        assert!(inhibited_by(&warning, &[&critical, &warning], &rules).is_empty());
    }

    #[test]
    fn alerts_matching_both_sides_do_not_inhibit_each_other() {
        let rules = [rule(
            r#"alertname=~"A|B""#,
            r#"alertname=~"A|B""#,
            &["provider"],
        )];
        let a = alert("A", "warning", "cdk");
        let b = alert("B", "warning", "cdk");
        assert!(inhibited_by(&a, &[&a, &b], &rules).is_empty());
        assert!(inhibited_by(&b, &[&a, &b], &rules).is_empty());
    }
}
