//! Evaluating a rule group at one instant: recording rules write series, alerting rules move
//! their alerts through inactive → pending → firing → resolved. Pure: no clock, no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::eval::{EvalError, Sample, Value, eval_with_step};
use super::file::{Rule, RuleGroup, RuleKind};
use super::series::SeriesStore;
use super::template::{QueryFn, TemplateData, TemplateEnv};
use crate::domain::{Alert, AlertState, Fingerprint, Labels};

/// An alert an alerting rule currently holds (pending or firing).
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlert {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub value: f64,
    /// When the expression stopped returning this alert while `keep_firing_for` holds it.
    pub keep_firing_since_ms: Option<i64>,
    /// Restored after a restart: until this time, an evaluation that does not return the alert
    /// leaves it as it is (the in-memory series are still refilling), instead of dropping or
    /// resolving it.
    pub hold_until_ms: Option<i64>,
}

impl ActiveAlert {
    /// The alert as routing sees it.
    pub fn to_alert(&self, resolved_at_ms: Option<i64>, generator_url: &str) -> Alert {
        Alert {
            labels: self.labels.clone(),
            annotations: self.annotations.iter().collect(),
            starts_at_ms: self.active_at_ms,
            ends_at_ms: resolved_at_ms,
            value: Some(self.value),
            generator_url: generator_url.to_string(),
        }
    }
}

/// What a group remembers between evaluations.
#[derive(Debug, Clone, Default)]
pub struct GroupState {
    /// Per rule (same order as the group's rules): its active alerts.
    pub alerts: Vec<HashMap<Fingerprint, ActiveAlert>>,
    /// Per rule: the series it wrote last time (recorded series, `ALERTS`, `ALERTS_FOR_STATE`),
    /// to mark the ones that vanished stale.
    written: Vec<HashSet<(String, Labels)>>,
    pub last_eval_ms: Option<i64>,
}

impl GroupState {
    pub fn new(group: &RuleGroup) -> Self {
        Self {
            alerts: vec![HashMap::new(); group.rules.len()],
            written: vec![HashSet::new(); group.rules.len()],
            last_eval_ms: None,
        }
    }
}

/// The result of evaluating a group once.
#[derive(Debug, Default)]
pub struct GroupOutcome {
    /// Alerts that started firing or resolved in this evaluation.
    pub transitions: Vec<Alert>,
    /// Rules that failed, with why.
    pub failures: Vec<(String, EvalError)>,
}

/// Everything an evaluation needs besides the store.
pub struct EvalContext<'a> {
    pub now_ms: i64,
    /// Step of subqueries that name none (the evaluation interval).
    pub step_ms: i64,
    pub template_env: &'a TemplateEnv,
    pub generator_url: &'a str,
    /// The runbook link for an alert whose rule gives no `runbook_url`.
    pub runbook_url: &'a dyn Fn(&Labels) -> Option<String>,
}

pub fn evaluate_group(
    group: &RuleGroup,
    state: &mut GroupState,
    store: &mut SeriesStore,
    ctx: &EvalContext<'_>,
) -> GroupOutcome {
    let mut out = GroupOutcome::default();
    for (i, rule) in group.rules.iter().enumerate() {
        let result = eval_with_step(&rule.expr, store, ctx.now_ms, ctx.step_ms)
            .and_then(Value::into_instant)
            .and_then(|v| {
                if group.limit > 0 && v.len() > group.limit {
                    Err(EvalError(format!(
                        "{} results exceed the group limit of {}",
                        v.len(),
                        group.limit
                    )))
                } else {
                    Ok(v)
                }
            });
        let samples = match result {
            Ok(s) => s,
            Err(e) => {
                out.failures.push((rule.name.clone(), e));
                continue;
            }
        };
        match &rule.kind {
            RuleKind::Recording => match record(rule, samples) {
                Ok(written) => replace_written(&mut state.written[i], written, store, ctx.now_ms),
                Err(e) => out.failures.push((rule.name.clone(), e)),
            },
            RuleKind::Alerting { .. } => {
                let reader: &SeriesStore = store;
                let query = |q: &str| template_query(q, reader, ctx);
                match step_alerting(rule, &mut state.alerts[i], samples, ctx, Some(&query)) {
                    Ok(t) => out.transitions.extend(t),
                    Err(e) => {
                        out.failures.push((rule.name.clone(), e));
                        continue;
                    }
                }
                let written = alerts_series(&state.alerts[i]);
                replace_written(&mut state.written[i], written, store, ctx.now_ms);
            }
        }
    }
    state.last_eval_ms = Some(ctx.now_ms);
    out
}

/// Answers a template's `query "…"` at the evaluation time, as Prometheus'
/// `EngineQueryFunc`: a vector as it is, a scalar as one sample without labels.
fn template_query(q: &str, store: &SeriesStore, ctx: &EvalContext<'_>) -> TemplateQueryResult {
    let expr = super::eval::parse_promql(q)?;
    super::eval::check_supported(&expr)?;
    let samples = eval_with_step(&expr, store, ctx.now_ms, ctx.step_ms)
        .and_then(Value::into_instant)
        .map_err(|e| e.to_string())?;
    Ok(samples.into_iter().map(|s| (s.labels, s.value)).collect())
}

type TemplateQueryResult = Result<Vec<(Labels, f64)>, String>;

/// The series a recording rule writes.
/// `Err` when two series come out with the same labels, as Prometheus refuses them.
fn record(rule: &Rule, samples: Vec<Sample>) -> Result<Vec<(String, Labels, f64)>, EvalError> {
    let mut seen = HashSet::with_capacity(samples.len());
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let mut labels = s.labels;
        labels.remove("__name__");
        for (k, t) in &rule.labels {
            labels.insert(k.clone(), t.text());
        }
        if !seen.insert(labels.fingerprint()) {
            return Err(EvalError(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            ));
        }
        out.push((rule.name.clone(), labels, s.value));
    }
    Ok(out)
}

/// `ALERTS` (1 per pending or firing alert) and `ALERTS_FOR_STATE` (its active-since time).
fn alerts_series(alerts: &HashMap<Fingerprint, ActiveAlert>) -> Vec<(String, Labels, f64)> {
    let mut out = Vec::with_capacity(alerts.len() * 2);
    for a in alerts.values() {
        let mut l = a.labels.clone();
        out.push((
            "ALERTS_FOR_STATE".to_string(),
            l.clone(),
            a.active_at_ms as f64 / 1000.0,
        ));
        l.insert("alertstate", a.state.as_str());
        out.push(("ALERTS".to_string(), l, 1.0));
    }
    out
}

/// Writes this evaluation's series and marks those written last time but not now stale.
fn replace_written(
    last: &mut HashSet<(String, Labels)>,
    series: Vec<(String, Labels, f64)>,
    store: &mut SeriesStore,
    now: i64,
) {
    let mut written = HashSet::with_capacity(series.len());
    for (name, labels, value) in series {
        store.push(&name, &labels, now, value);
        written.insert((name, labels));
    }
    for (name, labels) in last.difference(&written) {
        store.mark_stale(name, labels, now);
    }
    *last = written;
}

/// Moves one alerting rule's alerts forward given the expression's result at `ctx.now_ms`;
/// `query` answers the templates' `query "…"`. Returns the alerts that started firing or
/// resolved. `Err` (and no alert changed) when two elements have the same labels once the
/// rule's labels are applied, as Prometheus refuses them.
pub fn step_alerting(
    rule: &Rule,
    alerts: &mut HashMap<Fingerprint, ActiveAlert>,
    samples: Vec<Sample>,
    ctx: &EvalContext<'_>,
    query: Option<QueryFn<'_>>,
) -> Result<Vec<Alert>, EvalError> {
    let RuleKind::Alerting {
        for_,
        keep_firing_for,
        annotations,
    } = &rule.kind
    else {
        return Ok(Vec::new());
    };
    let now = ctx.now_ms;
    let mut seen = HashSet::new();
    let mut transitions = Vec::new();
    // Annotations reading other series may change while this one's value does not.
    let live = annotations.iter().any(|(_, t)| t.uses_query());
    // Every element's labels first: two that come out the same fail the rule before any alert
    // changes, as in Prometheus.
    let mut labeled = Vec::with_capacity(samples.len());
    for s in samples {
        // Templates see the labels as the expression gave them, `__name__` included.
        let series = s.labels;
        let mut labels = series.clone();
        labels.remove("__name__");
        let data = TemplateData::new(&series, s.value, ctx.template_env);
        for (k, t) in &rule.labels {
            labels.insert(k.clone(), t.render_for(&data, query));
        }
        labels.insert("alertname", rule.name.clone());
        let fp = labels.fingerprint();
        if !seen.insert(fp) {
            return Err(EvalError(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            ));
        }
        labeled.push((series, labels, fp, s.value));
    }
    for (series, labels, fp, value) in labeled {
        // Annotations depend only on the series and the value: an alert whose value did not
        // change keeps the ones rendered before (thousands of pending alerts re-evaluated each
        // second would otherwise render them all again), except when it starts firing, so what
        // is sent is rendered then (runbooks may have changed meanwhile).
        let for_ms = for_.as_millis() as i64;
        let unchanged = !live
            && alerts.get(&fp).is_some_and(|a| {
                a.value.to_bits() == value.to_bits()
                    && !(a.state == AlertState::Pending && now - a.active_at_ms >= for_ms)
            });
        if !unchanged {
            let data = TemplateData::new(&series, value, ctx.template_env);
            let mut ann: BTreeMap<String, String> = annotations
                .iter()
                .map(|(k, t)| (k.clone(), t.render_for(&data, query)))
                .collect();
            if !ann.contains_key("runbook_url")
                && let Some(url) = (ctx.runbook_url)(&labels)
            {
                ann.insert("runbook_url".into(), url);
            }
            match alerts.get_mut(&fp) {
                Some(a) => a.annotations = ann,
                None => {
                    alerts.insert(
                        fp,
                        ActiveAlert {
                            labels,
                            annotations: ann,
                            state: AlertState::Pending,
                            active_at_ms: now,
                            fired_at_ms: None,
                            value,
                            keep_firing_since_ms: None,
                            hold_until_ms: None,
                        },
                    );
                }
            }
        }
        let Some(alert) = alerts.get_mut(&fp) else {
            continue;
        };
        alert.value = value;
        alert.keep_firing_since_ms = None;
        alert.hold_until_ms = None;
        if alert.state == AlertState::Pending && now - alert.active_at_ms >= for_ms {
            alert.state = AlertState::Firing;
            alert.fired_at_ms = Some(now);
            transitions.push(alert.to_alert(None, ctx.generator_url));
        }
    }
    let keep_ms = keep_firing_for.as_millis() as i64;
    alerts.retain(|fp, a| {
        if seen.contains(fp) || a.hold_until_ms.is_some_and(|until| now < until) {
            return true;
        }
        if a.state == AlertState::Firing && keep_ms > 0 {
            let since = *a.keep_firing_since_ms.get_or_insert(now);
            if now - since < keep_ms {
                return true;
            }
        }
        if a.state == AlertState::Firing {
            transitions.push(a.to_alert(Some(now), ctx.generator_url));
        }
        false
    });
    Ok(transitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::eval::eval;
    use crate::rules::file::parse_rule_file;
    use std::path::Path;

    fn group(for_: &str, keep: &str) -> RuleGroup {
        let text = format!(
            r#"groups:
  - name: g
    rules:
      - alert: AuthFailing
        expr: failures > 0
        for: {for_}
        keep_firing_for: {keep}
        labels:
          severity: critical
        annotations:
          summary: "{{{{ $labels.provider }}}} failing ({{{{ $value }}}})"
      - record: failures:doubled
        expr: failures * 2
"#
        );
        parse_rule_file(Path::new("g.yml"), &text)
            .unwrap()
            .remove(0)
    }

    fn runbook(labels: &Labels) -> Option<String> {
        (labels.value("alertname") == "AuthFailing").then(|| "http://x/runbooks/auth".to_string())
    }

    fn run(g: &RuleGroup, st: &mut GroupState, store: &mut SeriesStore, now: i64) -> GroupOutcome {
        let env = TemplateEnv::default();
        let ctx = EvalContext {
            now_ms: now,
            step_ms: 60_000,
            template_env: &env,
            generator_url: "",
            runbook_url: &runbook,
        };
        evaluate_group(g, st, store, &ctx)
    }

    fn provider(p: &str) -> Labels {
        [("provider", p)].into_iter().collect()
    }

    #[test]
    fn pending_then_firing_after_for_then_resolved() {
        let g = group("10s", "0s");
        let mut st = GroupState::new(&g);
        let mut store = SeriesStore::new(3_600_000, 1_000);
        store.push("failures", &provider("cdk"), 0, 1.0);
        assert!(run(&g, &mut st, &mut store, 0).transitions.is_empty());
        assert_eq!(
            st.alerts[0].values().next().unwrap().state,
            AlertState::Pending
        );
        let summary =
            |st: &GroupState| st.alerts[0].values().next().unwrap().annotations["summary"].clone();
        assert_eq!(summary(&st), "cdk failing (1)");
        store.push("failures", &provider("cdk"), 9_000, 2.0);
        assert!(run(&g, &mut st, &mut store, 9_999).transitions.is_empty());
        assert_eq!(summary(&st), "cdk failing (2)", "a new value renders again");
        let fired = run(&g, &mut st, &mut store, 10_000).transitions;
        assert_eq!(fired.len(), 1);
        let a = &fired[0];
        assert_eq!(
            a.labels.to_string(),
            r#"{alertname="AuthFailing", provider="cdk", severity="critical"}"#
        );
        assert_eq!(a.annotation("summary"), Some("cdk failing (2)"));
        assert_eq!(a.annotation("runbook_url"), Some("http://x/runbooks/auth"));
        assert_eq!(a.starts_at_ms, 0);
        assert!(!a.is_resolved());
        // Still true: no second transition.
        assert!(run(&g, &mut st, &mut store, 11_000).transitions.is_empty());
        store.push("failures", &provider("cdk"), 12_000, 0.0);
        let resolved = run(&g, &mut st, &mut store, 12_000).transitions;
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].ends_at_ms, Some(12_000));
        assert!(st.alerts[0].is_empty());
    }

    #[test]
    fn a_pending_alert_that_clears_never_fires() {
        let g = group("10s", "0s");
        let mut st = GroupState::new(&g);
        let mut store = SeriesStore::new(3_600_000, 1_000);
        store.push("failures", &provider("cdk"), 0, 1.0);
        run(&g, &mut st, &mut store, 0);
        store.push("failures", &provider("cdk"), 5_000, 0.0);
        assert!(run(&g, &mut st, &mut store, 5_000).transitions.is_empty());
        assert!(run(&g, &mut st, &mut store, 20_000).transitions.is_empty());
    }

    #[test]
    fn keep_firing_for_holds_a_resolved_condition() {
        let g = group("0s", "30s");
        let mut st = GroupState::new(&g);
        let mut store = SeriesStore::new(3_600_000, 1_000);
        store.push("failures", &provider("cdk"), 0, 1.0);
        assert_eq!(
            run(&g, &mut st, &mut store, 0).transitions.len(),
            1,
            "for: 0s fires at once"
        );
        store.push("failures", &provider("cdk"), 1_000, 0.0);
        assert!(run(&g, &mut st, &mut store, 1_000).transitions.is_empty());
        assert!(run(&g, &mut st, &mut store, 30_999).transitions.is_empty());
        assert_eq!(run(&g, &mut st, &mut store, 31_000).transitions.len(), 1);
    }

    /// Prometheus fails a rule whose series collide once its labels are applied, instead of
    /// merging them; the alerts it held stay as they were.
    #[test]
    fn series_that_collide_after_the_rule_labels_fail_the_rule() {
        let text = r#"groups:
  - name: g
    rules:
      - alert: Collide
        expr: y > 0
        labels:
          inst: same
      - record: r
        expr: y
        labels:
          inst: same
"#;
        let g = parse_rule_file(Path::new("g.yml"), text).unwrap().remove(0);
        let mut st = GroupState::new(&g);
        let mut store = SeriesStore::new(3_600_000, 1_000);
        store.push("y", &[("inst", "a")].into_iter().collect(), 0, 1.0);
        let out = run(&g, &mut st, &mut store, 0);
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        assert_eq!(st.alerts[0].len(), 1);
        store.push("y", &[("inst", "b")].into_iter().collect(), 1_000, 1.0);
        let out = run(&g, &mut st, &mut store, 1_000);
        let failures: Vec<String> = out
            .failures
            .iter()
            .map(|(rule, e)| format!("{rule}: {e}"))
            .collect();
        assert_eq!(
            failures,
            [
                "Collide: vector contains metrics with the same labelset after applying alert labels",
                "r: vector contains metrics with the same labelset after applying rule labels"
            ]
        );
        assert_eq!(st.alerts[0].len(), 1, "the held alert is kept");
    }

    #[test]
    fn recording_rules_write_series_and_mark_vanished_ones_stale() {
        let g = group("0s", "0s");
        let mut st = GroupState::new(&g);
        let mut store = SeriesStore::new(3_600_000, 1_000);
        store.push("failures", &provider("cdk"), 0, 3.0);
        run(&g, &mut st, &mut store, 0);
        let expr = promql_parser::parser::parse("failures:doubled").unwrap();
        let Value::Vector(v) = eval(&expr, &store, 0).unwrap() else {
            panic!()
        };
        assert_eq!(v[0].value, 6.0);
        store.mark_stale("failures", &provider("cdk"), 1_000);
        run(&g, &mut st, &mut store, 1_000);
        let Value::Vector(v) = eval(&expr, &store, 1_000).unwrap() else {
            panic!()
        };
        assert!(v.is_empty());
    }

    #[test]
    fn alerts_and_alerts_for_state_series_follow_the_alert() {
        let g = group("10s", "0s");
        let mut st = GroupState::new(&g);
        let mut store = SeriesStore::new(3_600_000, 1_000);
        store.push("failures", &provider("cdk"), 0, 1.0);
        run(&g, &mut st, &mut store, 0);
        let q = |s: &SeriesStore, expr: &str, t: i64| {
            let Value::Vector(v) =
                eval(&promql_parser::parser::parse(expr).unwrap(), s, t).unwrap()
            else {
                panic!()
            };
            v
        };
        let pending = q(
            &store,
            r#"ALERTS{alertname="AuthFailing", alertstate="pending"}"#,
            0,
        );
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].labels.value("provider"), "cdk");
        assert_eq!(q(&store, "ALERTS_FOR_STATE", 0)[0].value, 0.0);
        run(&g, &mut st, &mut store, 10_000);
        assert!(
            q(&store, r#"ALERTS{alertstate="pending"}"#, 10_000).is_empty(),
            "pending went stale"
        );
        assert_eq!(q(&store, r#"ALERTS{alertstate="firing"}"#, 10_000).len(), 1);
        store.push("failures", &provider("cdk"), 11_000, 0.0);
        run(&g, &mut st, &mut store, 11_000);
        assert!(
            q(&store, "ALERTS", 11_000).is_empty(),
            "resolved alerts leave ALERTS"
        );
    }

    #[test]
    fn a_held_alert_survives_missing_data_until_its_hold_ends() {
        let g = group("10s", "0s");
        let mut st = GroupState::new(&g);
        let mut store = SeriesStore::new(3_600_000, 1_000);
        store.push("failures", &provider("cdk"), 0, 1.0);
        run(&g, &mut st, &mut store, 0);
        let fp = *st.alerts[0].keys().next().unwrap();
        st.alerts[0].get_mut(&fp).unwrap().hold_until_ms = Some(5_000);
        store.push("failures", &provider("cdk"), 1_000, 0.0);
        run(&g, &mut st, &mut store, 1_000);
        assert_eq!(st.alerts[0][&fp].active_at_ms, 0, "held through the gap");
        run(&g, &mut st, &mut store, 5_000);
        assert!(st.alerts[0].is_empty(), "dropped once the hold ended");
    }
}
