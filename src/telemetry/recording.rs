//! Typed recording helpers: the actors call these, never the `metrics` macros directly, so names
//! and label sets stay as DESIGN §8 fixes them.

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, gauge, histogram, with_local_recorder};

use super::names::*;
use super::registry::MetricsRegistry;
use crate::domain::ticket::{Priority, Tier};
use crate::domain::{AlertState, ErrorClass, Severity};
use crate::pipeline::events::StageTotals;

/// What [`Metrics::slo_figures`] sets for one SLO group: the objective, and per window
/// (`5m` … `30d`) its attainment (`None` without events), burn rate and budget left.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloGaugeFigures {
    pub objective: f64,
    pub windows: Vec<(String, Option<f64>, f64, f64)>,
}

/// A cheap handle to the application's recorder.
#[derive(Debug, Clone)]
pub struct Metrics(Arc<MetricsRegistry>);

/// The outcome of an HTTP request to a provider, as the `code` label says it.
pub fn code_class(status: Option<u16>) -> &'static str {
    match status {
        None => "error",
        Some(429) => "429",
        Some(s) if (200..300).contains(&s) => "2xx",
        Some(s) if (500..600).contains(&s) => "5xx",
        Some(_) => "4xx",
    }
}

impl Metrics {
    pub fn new(registry: Arc<MetricsRegistry>) -> Self {
        Self(registry)
    }

    pub fn registry(&self) -> &Arc<MetricsRegistry> {
        &self.0
    }

    /// Runs `f` with this application's recorder: whatever `metrics::gauge!` & co. record in
    /// it reaches this application's /metrics and rules (embedding, benchmarks).
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        with_local_recorder(&*self.0, f)
    }

    /// Creates a provider's series at zero, so `rate`/`increase` see the first failure.
    pub fn init_provider(&self, provider: &str) {
        let p = provider.to_string();
        self.record(|| {
            for status in ["success", "failure"] {
                counter!(SYNC_RUNS_TOTAL, "provider" => p.clone(), "status" => status).absolute(0);
            }
            for class in ErrorClass::ALL {
                counter!(SYNC_FAILURES_TOTAL, "provider" => p.clone(), "error_class" => class.as_str())
                    .absolute(0);
            }
        });
    }

    pub fn sync_finished(
        &self,
        provider: &str,
        connection: &str,
        stream_records: &[(String, u64)],
        duration: Duration,
        failure: Option<ErrorClass>,
        finished_at_ms: i64,
    ) {
        let p = provider.to_string();
        self.record(|| {
            let status = if failure.is_some() {
                "failure"
            } else {
                "success"
            };
            counter!(SYNC_RUNS_TOTAL, "provider" => p.clone(), "status" => status).increment(1);
            histogram!(SYNC_DURATION_SECONDS, "provider" => p.clone())
                .record(duration.as_secs_f64());
            for (stream, n) in stream_records {
                counter!(SYNC_RECORDS_TOTAL, "provider" => p.clone(), "stream" => stream.clone())
                    .increment(*n);
            }
            match failure {
                Some(class) => counter!(
                    SYNC_FAILURES_TOTAL, "provider" => p.clone(), "error_class" => class.as_str()
                )
                .increment(1),
                None => gauge!(
                    SYNC_LAST_SUCCESS_TIMESTAMP_SECONDS,
                    "provider" => p.clone(), "connection" => connection.to_string()
                )
                .set(finished_at_ms as f64 / 1000.0),
            }
        });
    }

    pub fn connection_schedule(&self, provider: &str, connection: &str, schedule: Duration) {
        let (p, c) = (provider.to_string(), connection.to_string());
        self.record(|| {
            gauge!(SYNC_SCHEDULE_SECONDS, "provider" => p, "connection" => c)
                .set(schedule.as_secs_f64())
        });
    }

    pub fn sync_in_progress(&self, provider: &str, connection: &str, running_for: Duration) {
        let (p, c) = (provider.to_string(), connection.to_string());
        self.record(|| {
            gauge!(SYNC_IN_PROGRESS_SECONDS, "provider" => p, "connection" => c)
                .set(running_for.as_secs_f64())
        });
    }

    pub fn provider_request(&self, provider: &str, status: Option<u16>, duration: Duration) {
        let p = provider.to_string();
        self.record(|| {
            counter!(PROVIDER_REQUESTS_TOTAL, "provider" => p.clone(), "code" => code_class(status))
                .increment(1);
            histogram!(PROVIDER_REQUEST_DURATION_SECONDS, "provider" => p)
                .record(duration.as_secs_f64());
        });
    }

    pub fn schedule_lag(&self, provider: &str, lag: Duration) {
        let p = provider.to_string();
        self.record(|| {
            histogram!(SYNC_SCHEDULE_LAG_SECONDS, "provider" => p).record(lag.as_secs_f64())
        });
    }

    /// `syncwatch_provider_circuit_state`: 0 closed, 1 half-open, 2 open.
    pub fn circuit_state(&self, provider: &str, value: f64) {
        let p = provider.to_string();
        self.record(|| gauge!(PROVIDER_CIRCUIT_STATE, "provider" => p).set(value));
    }

    pub fn stage_capacity(&self, pipeline: &str, stage: &str, records: f64) {
        let (p, s) = (pipeline.to_string(), stage.to_string());
        self.record(|| {
            gauge!(STAGE_QUEUE_CAPACITY_RECORDS, "pipeline" => p.clone(), "stage" => s.clone()).set(records);
            counter!(STAGE_RECORDS_RECEIVED_TOTAL, "pipeline" => p.clone(), "stage" => s.clone()).absolute(0);
            counter!(STAGE_RECORDS_SENT_TOTAL, "pipeline" => p.clone(), "stage" => s.clone()).absolute(0);
            for class in ErrorClass::ALL {
                counter!(STAGE_ERRORS_TOTAL, "pipeline" => p.clone(), "stage" => s.clone(), "error_class" => class.as_str())
                    .absolute(0);
            }
            counter!(STAGE_RECORDS_DROPPED_TOTAL, "pipeline" => p.clone(), "stage" => s.clone(), "reason" => "dlq_write_failed", "intentional" => "false")
                .absolute(0);
        });
    }

    /// Schema drift the validate stage found in a batch: (change, breaking) → occurrences.
    pub fn schema_drift(
        &self,
        pipeline: &str,
        provider: &str,
        stream: &str,
        drift: &std::collections::BTreeMap<(&'static str, bool), u64>,
    ) {
        for ((change, breaking), n) in drift {
            let (p, pr, st) = (
                pipeline.to_string(),
                provider.to_string(),
                stream.to_string(),
            );
            let (change, breaking) = (*change, if *breaking { "true" } else { "false" });
            self.record(|| {
                counter!(SCHEMA_DRIFT_TOTAL, "pipeline" => p, "provider" => pr, "stream" => st, "change" => change, "breaking" => breaking)
                    .increment(*n)
            });
        }
    }

    /// Records a stage let go of without passing them on or to the DLQ, and why.
    pub fn stage_dropped(
        &self,
        pipeline: &str,
        stage: &str,
        reason: &'static str,
        intentional: bool,
        records: u64,
    ) {
        let (p, s) = (pipeline.to_string(), stage.to_string());
        let intentional = if intentional { "true" } else { "false" };
        self.record(|| {
            counter!(STAGE_RECORDS_DROPPED_TOTAL, "pipeline" => p, "stage" => s, "reason" => reason, "intentional" => intentional)
                .increment(records)
        });
    }

    pub fn stage_queue(&self, pipeline: &str, stage: &str, records: u64, oldest_age: Duration) {
        let (p, s) = (pipeline.to_string(), stage.to_string());
        self.record(|| {
            gauge!(STAGE_QUEUE_RECORDS, "pipeline" => p.clone(), "stage" => s.clone())
                .set(records as f64);
            gauge!(STAGE_ITERATOR_AGE_SECONDS, "pipeline" => p, "stage" => s)
                .set(oldest_age.as_secs_f64());
        });
    }

    pub fn stage_batch(
        &self,
        pipeline: &str,
        stage: &str,
        received: u64,
        sent: u64,
        errors: &[(ErrorClass, u64)],
        duration: Duration,
    ) {
        let (p, s) = (pipeline.to_string(), stage.to_string());
        self.record(|| {
            counter!(STAGE_RECORDS_RECEIVED_TOTAL, "pipeline" => p.clone(), "stage" => s.clone()).increment(received);
            counter!(STAGE_RECORDS_SENT_TOTAL, "pipeline" => p.clone(), "stage" => s.clone()).increment(sent);
            for (class, n) in errors {
                counter!(STAGE_ERRORS_TOTAL, "pipeline" => p.clone(), "stage" => s.clone(), "error_class" => class.as_str())
                    .increment(*n);
            }
            histogram!(STAGE_DURATION_SECONDS, "pipeline" => p, "stage" => s).record(duration.as_secs_f64());
        });
    }

    /// A stage's heartbeat: the time it last processed something.
    pub fn stage_heartbeat(&self, pipeline: &str, stage: &str, at_ms: i64) {
        let (p, s) = (pipeline.to_string(), stage.to_string());
        self.record(|| {
            gauge!(STAGE_LAST_PROCESSED_TIMESTAMP_SECONDS, "pipeline" => p, "stage" => s)
                .set(at_ms as f64 / 1000.0)
        });
    }

    /// What a stage outside syncwatch reported in one request. `first`: its first report, so
    /// its counters start at zero (and `rate` sees the first records).
    pub fn external_stage(&self, t: &StageTotals, first: bool, heartbeat_ms: i64) {
        let (p, s) = (t.pipeline.clone(), t.stage.clone());
        self.record(|| {
            let received = counter!(STAGE_RECORDS_RECEIVED_TOTAL, "pipeline" => p.clone(), "stage" => s.clone());
            let sent = counter!(STAGE_RECORDS_SENT_TOTAL, "pipeline" => p.clone(), "stage" => s.clone());
            if first {
                for class in ErrorClass::ALL {
                    counter!(STAGE_ERRORS_TOTAL, "pipeline" => p.clone(), "stage" => s.clone(), "error_class" => class.as_str())
                        .absolute(0);
                }
            }
            received.increment(t.records_in);
            sent.increment(t.records_out);
            for (class, n) in &t.failed {
                counter!(STAGE_ERRORS_TOTAL, "pipeline" => p.clone(), "stage" => s.clone(), "error_class" => class.as_str())
                    .increment(*n);
            }
            if !t.durations.is_empty() {
                let h = histogram!(STAGE_DURATION_SECONDS, "pipeline" => p.clone(), "stage" => s.clone());
                for d in &t.durations {
                    h.record(*d);
                }
            }
            if let Some(age) = t.iterator_age_seconds {
                gauge!(STAGE_ITERATOR_AGE_SECONDS, "pipeline" => p.clone(), "stage" => s.clone()).set(age);
            }
            if let Some(q) = t.queue_records {
                gauge!(STAGE_QUEUE_RECORDS, "pipeline" => p.clone(), "stage" => s.clone()).set(q as f64);
            }
            if let Some(c) = t.queue_capacity_records {
                gauge!(STAGE_QUEUE_CAPACITY_RECORDS, "pipeline" => p.clone(), "stage" => s.clone()).set(c as f64);
            }
            gauge!(STAGE_LAST_PROCESSED_TIMESTAMP_SECONDS, "pipeline" => p, "stage" => s)
                .set(heartbeat_ms as f64 / 1000.0);
        });
    }

    pub fn dlq_records(&self, pipeline: &str, stage: &str, records: u64) {
        let (p, s) = (pipeline.to_string(), stage.to_string());
        self.record(|| gauge!(DLQ_RECORDS, "pipeline" => p, "stage" => s).set(records as f64));
    }

    pub fn alerts(&self, alertname: &str, state: AlertState, count: usize) {
        let a = alertname.to_string();
        self.record(|| {
            gauge!(ALERTS, "alertname" => a, "state" => state.as_str()).set(count as f64)
        });
    }

    pub fn rule_group_evaluated(&self, group: &str, duration: Duration, failures: u64) {
        let g = group.to_string();
        self.record(|| {
            histogram!(RULE_EVALUATION_DURATION_SECONDS, "group" => g.clone())
                .record(duration.as_secs_f64());
            counter!(RULE_EVALUATION_FAILURES_TOTAL, "group" => g).increment(failures);
        });
    }

    pub fn rules_reloaded(&self, ok: bool) {
        self.record(|| gauge!(RULES_LAST_RELOAD_SUCCESSFUL).set(if ok { 1.0 } else { 0.0 }));
    }

    pub fn alerting_reloaded(&self, ok: bool) {
        self.record(|| gauge!(ALERTING_LAST_RELOAD_SUCCESSFUL).set(if ok { 1.0 } else { 0.0 }));
    }

    pub fn series_store(&self, series: usize, bytes: usize, dropped: u64) {
        self.record(|| {
            gauge!(SERIES).set(series as f64);
            gauge!(SERIES_MEMORY_BYTES).set(bytes as f64);
            counter!(SERIES_DROPPED_TOTAL).absolute(dropped);
        });
    }

    pub fn notification(&self, integration: &str, latency: Option<Duration>) {
        let i = integration.to_string();
        self.record(|| {
            counter!(NOTIFICATIONS_TOTAL, "integration" => i.clone()).increment(1);
            if let Some(l) = latency {
                histogram!(NOTIFICATION_LATENCY_SECONDS, "integration" => i)
                    .record(l.as_secs_f64());
            }
        });
    }

    pub fn notification_failed(&self, integration: &str, reason: &'static str) {
        let i = integration.to_string();
        self.record(|| {
            counter!(NOTIFICATIONS_FAILED_TOTAL, "integration" => i, "reason" => reason)
                .increment(1)
        });
    }

    pub fn ticket_created(&self, severity: Severity) {
        self.record(|| {
            counter!(TICKETS_CREATED_TOTAL, "severity" => severity.as_str()).increment(1)
        });
    }

    /// A ticket's first acknowledgement, `after` its creation.
    pub fn ticket_acknowledged(&self, severity: Severity, tier: Tier, after: Duration) {
        self.record(|| {
            histogram!(TICKET_TIME_TO_ACKNOWLEDGE_SECONDS, "severity" => severity.as_str(), "tier" => tier.as_str())
                .record(after.as_secs_f64())
        });
    }

    /// A ticket's resolution, `after` its creation.
    pub fn ticket_resolved(&self, severity: Severity, tier: Tier, after: Duration) {
        self.record(|| {
            histogram!(TICKET_TIME_TO_RESOLVE_SECONDS, "severity" => severity.as_str(), "tier" => tier.as_str())
                .record(after.as_secs_f64())
        });
    }

    /// The tickets in the store now: (status, tier, count).
    pub fn tickets(&self, counts: &[(String, String, i64)]) {
        self.record(|| {
            for (status, tier, n) in counts {
                gauge!(TICKETS, "status" => status.clone(), "tier" => tier.clone()).set(*n as f64);
            }
        });
    }

    /// An SLO group's figures: its objective, and per window its attainment (when it had
    /// events), burn rate and budget left. `labels` are the group's (the SLO's `by`).
    pub fn slo_figures(&self, slo: &str, labels: &[(String, String)], figures: &SloGaugeFigures) {
        let with = |extra: &[(&str, &str)]| -> Vec<metrics::Label> {
            std::iter::once(metrics::Label::new("slo", slo.to_string()))
                .chain(
                    extra
                        .iter()
                        .map(|(k, v)| metrics::Label::new(k.to_string(), v.to_string())),
                )
                .chain(
                    labels
                        .iter()
                        .map(|(k, v)| metrics::Label::new(k.clone(), v.clone())),
                )
                .collect()
        };
        self.record(|| {
            gauge!(SLO_OBJECTIVE_RATIO, with(&[])).set(figures.objective);
            for (window, sli, burn, remaining) in &figures.windows {
                let labels = with(&[("window", window)]);
                // Without events nothing failed: 1, never NaN, and never a stale value.
                gauge!(SLO_SLI_RATIO, labels.clone()).set(sli.unwrap_or(1.0));
                gauge!(SLO_BURN_RATE, labels.clone()).set(*burn);
                gauge!(SLO_ERROR_BUDGET_REMAINING_RATIO, labels).set(*remaining);
            }
        });
    }

    /// Whether an SLO group met its objective in each of `months` (`(month, met)`; `None`: too
    /// few events, no value set).
    pub fn slo_months(
        &self,
        slo: &str,
        labels: &[(String, String)],
        months: &[(String, Option<bool>)],
    ) {
        self.record(|| {
            for (month, met) in months {
                let Some(met) = met else { continue };
                let labels: Vec<metrics::Label> = [
                    metrics::Label::new("slo", slo.to_string()),
                    metrics::Label::new("month", month.clone()),
                ]
                .into_iter()
                .chain(
                    labels
                        .iter()
                        .map(|(k, v)| metrics::Label::new(k.clone(), v.clone())),
                )
                .collect();
                gauge!(SLO_MONTH_OBJECTIVE_MET, labels).set(if *met { 1.0 } else { 0.0 });
            }
        });
    }

    /// Events of an SLO counted into the history.
    pub fn slo_events(&self, slo: &str, good: u64, bad: u64) {
        let slo = slo.to_string();
        self.record(|| {
            counter!(SLO_EVENTS_TOTAL, "slo" => slo.clone(), "outcome" => "good").increment(good);
            counter!(SLO_EVENTS_TOTAL, "slo" => slo, "outcome" => "bad").increment(bad);
        });
    }

    /// The ticket counters of every escalation tier and every target and priority, at 0: a
    /// dashboard shows "none yet" instead of "no data", and `increase()` sees the first one.
    pub fn ticket_counters_at_zero(&self) {
        self.record(|| {
            for tier in [Tier::L2, Tier::L3] {
                counter!(TICKET_ESCALATIONS_TOTAL, "tier" => tier.as_str()).increment(0);
            }
            for outcome in ["resolved", "escalated", "unknown"] {
                counter!(ASSISTANT_ANSWERS_TOTAL, "outcome" => outcome).increment(0);
            }
            for target in ["acknowledge", "resolve"] {
                for priority in [Priority::P1, Priority::P2, Priority::P3, Priority::P4] {
                    counter!(TICKET_SLA_BREACHES_TOTAL, "target" => target, "priority" => priority.as_str())
                        .increment(0);
                }
            }
        });
    }

    pub fn ticket_escalated(&self, tier: Tier) {
        self.record(|| counter!(TICKET_ESCALATIONS_TOTAL, "tier" => tier.as_str()).increment(1));
    }

    /// A ticket missed `target` (`acknowledge`, `resolve`) at its `priority`.
    pub fn ticket_sla_breached(&self, target: &str, priority: Priority) {
        let target = target.to_string();
        self.record(|| {
            counter!(TICKET_SLA_BREACHES_TOTAL, "target" => target, "priority" => priority.as_str())
                .increment(1)
        });
    }

    /// Flushes waiting for the store to take their `write` (`ticket`, `outbox`).
    pub fn store_writes_waiting(&self, write: &'static str, flushes: usize) {
        self.record(|| gauge!(STORE_WRITES_WAITING, "write" => write).set(flushes as f64));
    }

    pub fn runbook_lookup(&self, match_reason: &'static str) {
        self.record(|| {
            counter!(RUNBOOK_LOOKUPS_TOTAL, "match_reason" => match_reason).increment(1)
        });
    }

    /// `n` assistant answers reached `outcome` (`resolved`, `escalated`, `unknown`: the names
    /// of `runbooks::assistant::Outcome`).
    pub fn assistant_answers(&self, outcome: &'static str, n: u64) {
        self.record(|| counter!(ASSISTANT_ANSWERS_TOTAL, "outcome" => outcome).increment(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_classes_are_bounded() {
        assert_eq!(code_class(Some(200)), "2xx");
        assert_eq!(code_class(Some(429)), "429");
        assert_eq!(code_class(Some(404)), "4xx");
        assert_eq!(code_class(Some(503)), "5xx");
        assert_eq!(code_class(None), "error");
    }

    #[test]
    fn a_failed_sync_counts_its_class_and_keeps_last_success() {
        let m = Metrics::new(Arc::new(MetricsRegistry::new()));
        m.init_provider("cdk");
        m.sync_finished(
            "cdk",
            "d1",
            &[],
            Duration::from_millis(5),
            Some(ErrorClass::Auth),
            1_000,
        );
        let text = m.registry().render();
        assert!(
            text.contains(r#"syncwatch_sync_failures_total{provider="cdk",error_class="auth"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"syncwatch_sync_failures_total{provider="cdk",error_class="server"} 0"#
            ),
            "{text}"
        );
        assert!(
            !text.contains("syncwatch_sync_last_success_timestamp_seconds{"),
            "{text}"
        );
        m.sync_finished(
            "cdk",
            "d1",
            &[("orders".into(), 4)],
            Duration::from_millis(5),
            None,
            2_000,
        );
        let text = m.registry().render();
        assert!(
            text.contains(
                r#"syncwatch_sync_last_success_timestamp_seconds{provider="cdk",connection="d1"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"syncwatch_sync_records_total{provider="cdk",stream="orders"} 4"#),
            "{text}"
        );
    }
}
