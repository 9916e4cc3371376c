//! Inhibition, as Alertmanager does it: an alert matching a rule's target matchers is not
//! notified while an alert matching its source matchers fires with the same values of the
//! `equal` labels. When the target alert itself matches the source matchers too, only sources
//! that do not match the target matchers count, so two such alerts never inhibit each other.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::domain::matcher::{Matcher, all_match};
use crate::domain::{Alert, Fingerprint};

#[derive(Debug, Clone)]
pub struct InhibitRule {
    pub source: Vec<Matcher>,
    pub target: Vec<Matcher>,
    pub equal: Vec<String>,
}

/// The firing alerts that can inhibit, per rule, indexed by the values of the rule's `equal`
/// labels: finding what inhibits an alert looks at the sources with its values, not at every
/// firing alert (a million-alert group with inhibit rules costs one pass, not a million).
pub struct Sources<'r> {
    rules: &'r [InhibitRule],
    /// Per rule: hash of the `equal` values → the firing alerts matching its source matchers.
    per_rule: Vec<HashMap<u64, Vec<Arc<Alert>>>>,
}

impl<'r> Sources<'r> {
    /// Indexes the firing alerts among `alerts` (resolved ones, and repeats of a fingerprint,
    /// are left out).
    pub fn new<'a>(
        alerts: impl IntoIterator<Item = &'a Arc<Alert>>,
        rules: &'r [InhibitRule],
    ) -> Self {
        let mut per_rule = vec![HashMap::<u64, Vec<Arc<Alert>>>::new(); rules.len()];
        if !rules.is_empty() {
            let mut seen = HashSet::new();
            for a in alerts {
                if a.is_resolved() || !seen.insert(a.fingerprint()) {
                    continue;
                }
                for (rule, index) in rules.iter().zip(&mut per_rule) {
                    if all_match(&rule.source, &a.labels) {
                        index
                            .entry(equal_hash(rule, a))
                            .or_default()
                            .push(Arc::clone(a));
                    }
                }
            }
        }
        Self { rules, per_rule }
    }

    /// The firing alerts that inhibit `target`.
    pub fn inhibiting(&self, target: &Alert) -> Vec<Fingerprint> {
        let mut out = Vec::new();
        let target_fp = target.fingerprint();
        for (rule, index) in self.rules.iter().zip(&self.per_rule) {
            if !all_match(&rule.target, &target.labels) {
                continue;
            }
            let Some(sources) = index.get(&equal_hash(rule, target)) else {
                continue;
            };
            let two_sided = all_match(&rule.source, &target.labels);
            for source in sources {
                let fp = source.fingerprint();
                if fp == target_fp
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
}

/// A hash of `alert`'s values of the rule's `equal` labels (absent counts as empty, as in
/// Alertmanager); candidates are compared value by value after.
fn equal_hash(rule: &InhibitRule, alert: &Alert) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for l in &rule.equal {
        alert.labels.value(l).hash(&mut h);
    }
    h.finish()
}

/// The firing alerts among `firing` that inhibit `target` (one look; [`Sources`] for many).
pub fn inhibited_by(
    target: &Alert,
    firing: &[Arc<Alert>],
    rules: &[InhibitRule],
) -> Vec<Fingerprint> {
    Sources::new(firing, rules).inhibiting(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str, severity: &str, provider: &str) -> Arc<Alert> {
        Arc::new(Alert {
            labels: [
                ("alertname", name),
                ("severity", severity),
                ("provider", provider),
            ]
            .into_iter()
            .collect(),
            annotations: Default::default(),
            starts_at_ms: 0,
            ends_at_ms: None,
            value: None,
            generator_url: String::new(),
        })
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
        let firing = [
            critical.clone(),
            warning_same.clone(),
            warning_other.clone(),
        ];
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
        Arc::make_mut(&mut critical).ends_at_ms = Some(1);
        let warning = alert("B", "warning", "cdk");
        assert!(inhibited_by(&warning, &[critical.clone(), warning.clone()], &rules).is_empty());
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
        assert!(inhibited_by(&a, &[a.clone(), b.clone()], &rules).is_empty());
        assert!(inhibited_by(&b, &[a.clone(), b.clone()], &rules).is_empty());
    }

    #[test]
    fn sources_are_found_by_their_equal_values_among_many() {
        let rules = [
            rule(
                r#"severity="critical""#,
                r#"severity="warning""#,
                &["provider"],
            ),
            rule(
                r#"alertname="Outage""#,
                r#"alertname!="Outage""#,
                &["region"],
            ),
        ];
        // A thousand providers each with a critical alert, and an outage with no region.
        let mut firing: Vec<Arc<Alert>> = (0..1000)
            .map(|i| alert("Down", "critical", &format!("p{i}")))
            .collect();
        let outage = alert("Outage", "info", "none");
        firing.push(outage.clone());
        let sources = Sources::new(&firing, &rules);
        let w = alert("Slow", "warning", "p517");
        let got = sources.inhibiting(&w);
        // p517's critical alert (equal provider) and the outage (neither has a region: equal).
        assert_eq!(got, vec![firing[517].fingerprint(), outage.fingerprint()]);
        assert_eq!(
            sources.inhibiting(&alert("Slow", "warning", "elsewhere")),
            vec![outage.fingerprint()]
        );
        // The same alert given twice (two groups hold it) is one source.
        let twice = Sources::new(&[firing[3].clone(), firing[3].clone()], &rules);
        assert_eq!(twice.inhibiting(&alert("S", "warning", "p3")).len(), 1);
    }
}
