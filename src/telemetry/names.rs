//! Metric names (DESIGN §8), their types and help texts. Call sites use these constants only.

pub const SYNC_RUNS_TOTAL: &str = "syncwatch_sync_runs_total";
pub const SYNC_FAILURES_TOTAL: &str = "syncwatch_sync_failures_total";
pub const SYNC_DURATION_SECONDS: &str = "syncwatch_sync_duration_seconds";
pub const SYNC_RECORDS_TOTAL: &str = "syncwatch_sync_records_total";
pub const SYNC_LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
    "syncwatch_sync_last_success_timestamp_seconds";
pub const SYNC_SCHEDULE_SECONDS: &str = "syncwatch_sync_schedule_seconds";
pub const SYNC_IN_PROGRESS_SECONDS: &str = "syncwatch_sync_in_progress_seconds";
pub const PROVIDER_REQUESTS_TOTAL: &str = "syncwatch_provider_requests_total";
pub const PROVIDER_REQUEST_DURATION_SECONDS: &str = "syncwatch_provider_request_duration_seconds";
pub const PROVIDER_CIRCUIT_STATE: &str = "syncwatch_provider_circuit_state";
pub const SYNC_SCHEDULE_LAG_SECONDS: &str = "syncwatch_sync_schedule_lag_seconds";
pub const STAGE_RECORDS_RECEIVED_TOTAL: &str = "syncwatch_stage_records_received_total";
pub const STAGE_RECORDS_SENT_TOTAL: &str = "syncwatch_stage_records_sent_total";
pub const STAGE_ERRORS_TOTAL: &str = "syncwatch_stage_errors_total";
pub const STAGE_DURATION_SECONDS: &str = "syncwatch_stage_duration_seconds";
pub const STAGE_QUEUE_RECORDS: &str = "syncwatch_stage_queue_records";
pub const STAGE_QUEUE_CAPACITY_RECORDS: &str = "syncwatch_stage_queue_capacity_records";
pub const STAGE_ITERATOR_AGE_SECONDS: &str = "syncwatch_stage_iterator_age_seconds";
pub const STAGE_RECORDS_DROPPED_TOTAL: &str = "syncwatch_stage_records_dropped_total";
pub const STAGE_LAST_PROCESSED_TIMESTAMP_SECONDS: &str =
    "syncwatch_stage_last_processed_timestamp_seconds";
pub const DLQ_RECORDS: &str = "syncwatch_dlq_records";
pub const SCHEMA_DRIFT_TOTAL: &str = "syncwatch_schema_drift_total";
pub const ALERTS: &str = "syncwatch_alerts";
pub const RULE_EVALUATION_DURATION_SECONDS: &str = "syncwatch_rule_evaluation_duration_seconds";
pub const RULE_EVALUATION_FAILURES_TOTAL: &str = "syncwatch_rule_evaluation_failures_total";
pub const RULES_LAST_RELOAD_SUCCESSFUL: &str = "syncwatch_rules_last_reload_successful";
pub const ALERTING_LAST_RELOAD_SUCCESSFUL: &str = "syncwatch_alerting_last_reload_successful";
pub const SERIES: &str = "syncwatch_series";
pub const SERIES_MEMORY_BYTES: &str = "syncwatch_series_memory_bytes";
pub const SERIES_DROPPED_TOTAL: &str = "syncwatch_series_dropped_total";
pub const NOTIFICATIONS_TOTAL: &str = "syncwatch_notifications_total";
pub const NOTIFICATIONS_FAILED_TOTAL: &str = "syncwatch_notifications_failed_total";
pub const NOTIFICATION_LATENCY_SECONDS: &str = "syncwatch_notification_latency_seconds";
pub const TICKETS_CREATED_TOTAL: &str = "syncwatch_tickets_created_total";
pub const TICKETS: &str = "syncwatch_tickets";
pub const TICKET_TIME_TO_ACKNOWLEDGE_SECONDS: &str = "syncwatch_ticket_time_to_acknowledge_seconds";
pub const TICKET_TIME_TO_RESOLVE_SECONDS: &str = "syncwatch_ticket_time_to_resolve_seconds";
pub const TICKET_ESCALATIONS_TOTAL: &str = "syncwatch_ticket_escalations_total";
pub const TICKET_SLA_BREACHES_TOTAL: &str = "syncwatch_ticket_sla_breaches_total";
pub const SLO_OBJECTIVE_RATIO: &str = "syncwatch_slo_objective_ratio";
pub const SLO_SLI_RATIO: &str = "syncwatch_slo_sli_ratio";
pub const SLO_ERROR_BUDGET_REMAINING_RATIO: &str = "syncwatch_slo_error_budget_remaining_ratio";
pub const SLO_BURN_RATE: &str = "syncwatch_slo_burn_rate";
pub const SLO_EVENTS_TOTAL: &str = "syncwatch_slo_events_total";
pub const SLO_MONTH_OBJECTIVE_MET: &str = "syncwatch_slo_month_objective_met";
pub const STORE_WRITES_WAITING: &str = "syncwatch_store_writes_waiting";
pub const RUNBOOK_LOOKUPS_TOTAL: &str = "syncwatch_runbook_lookups_total";
pub const ASSISTANT_ANSWERS_TOTAL: &str = "syncwatch_assistant_answers_total";

/// The kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric with its kind and help text, for describing them to the exporter.
pub const ALL: &[(&str, Kind, &str)] = &[
    (
        SYNC_RUNS_TOTAL,
        Kind::Counter,
        "Sync runs finished, by provider and status.",
    ),
    (
        SYNC_FAILURES_TOTAL,
        Kind::Counter,
        "Failed sync runs, by provider and error class.",
    ),
    (
        SYNC_DURATION_SECONDS,
        Kind::Histogram,
        "Duration of sync runs.",
    ),
    (
        SYNC_RECORDS_TOTAL,
        Kind::Counter,
        "Records fetched from providers, by stream.",
    ),
    (
        SYNC_LAST_SUCCESS_TIMESTAMP_SECONDS,
        Kind::Gauge,
        "Unix time of the last successful sync of a connection.",
    ),
    (
        SYNC_SCHEDULE_SECONDS,
        Kind::Gauge,
        "How often a connection is scheduled to sync.",
    ),
    (
        SYNC_IN_PROGRESS_SECONDS,
        Kind::Gauge,
        "How long the running sync of a connection has been running (0 when idle).",
    ),
    (
        PROVIDER_REQUESTS_TOTAL,
        Kind::Counter,
        "HTTP requests to providers, by response code class.",
    ),
    (
        PROVIDER_REQUEST_DURATION_SECONDS,
        Kind::Histogram,
        "Duration of HTTP requests to providers.",
    ),
    (
        SYNC_SCHEDULE_LAG_SECONDS,
        Kind::Histogram,
        "How late a sync started after its slot (waiting for the concurrency limit included).",
    ),
    (
        PROVIDER_CIRCUIT_STATE,
        Kind::Gauge,
        "Circuit breaker of a provider: 0 closed, 1 half-open, 2 open.",
    ),
    (
        STAGE_RECORDS_RECEIVED_TOTAL,
        Kind::Counter,
        "Records received by a pipeline stage.",
    ),
    (
        STAGE_RECORDS_SENT_TOTAL,
        Kind::Counter,
        "Records a pipeline stage passed on.",
    ),
    (
        STAGE_ERRORS_TOTAL,
        Kind::Counter,
        "Records a pipeline stage failed, by error class.",
    ),
    (
        STAGE_DURATION_SECONDS,
        Kind::Histogram,
        "Time a pipeline stage spent on a batch.",
    ),
    (
        STAGE_QUEUE_RECORDS,
        Kind::Gauge,
        "Records waiting at a stage's input, not yet taken up.",
    ),
    (
        STAGE_QUEUE_CAPACITY_RECORDS,
        Kind::Gauge,
        "Records a stage's input can hold before senders wait.",
    ),
    (
        STAGE_ITERATOR_AGE_SECONDS,
        Kind::Gauge,
        "Age of the oldest record a stage has not got through yet, waiting or in progress (0 when none).",
    ),
    (
        STAGE_RECORDS_DROPPED_TOTAL,
        Kind::Counter,
        "Records a stage dropped without passing them on or to the DLQ, by reason; intentional=\"false\" means lost.",
    ),
    (
        STAGE_LAST_PROCESSED_TIMESTAMP_SECONDS,
        Kind::Gauge,
        "A stage's heartbeat: when it last processed a batch or, idle, showed it is alive (seconds since the epoch).",
    ),
    (
        SCHEMA_DRIFT_TOTAL,
        Kind::Counter,
        "Differences of records from their stream's JSON Schema, by change; breaking=\"true\" ones failed the record.",
    ),
    (
        DLQ_RECORDS,
        Kind::Gauge,
        "Records in the dead-letter queue, by the stage that failed them.",
    ),
    (ALERTS, Kind::Gauge, "Active alerts, by name and state."),
    (
        RULE_EVALUATION_DURATION_SECONDS,
        Kind::Histogram,
        "Duration of rule group evaluations.",
    ),
    (
        RULE_EVALUATION_FAILURES_TOTAL,
        Kind::Counter,
        "Rule evaluations that failed, by group.",
    ),
    (
        RULES_LAST_RELOAD_SUCCESSFUL,
        Kind::Gauge,
        "Whether the last reload of the rule files succeeded (1) or was refused (0).",
    ),
    (
        ALERTING_LAST_RELOAD_SUCCESSFUL,
        Kind::Gauge,
        "Whether the last reload of alerting.yml succeeded (1) or was refused (0).",
    ),
    (SERIES, Kind::Gauge, "Series the rules' store holds."),
    (
        SERIES_MEMORY_BYTES,
        Kind::Gauge,
        "Estimated memory of the rules' series store.",
    ),
    (
        SERIES_DROPPED_TOTAL,
        Kind::Counter,
        "New series refused because the store was full (rules.max_series).",
    ),
    (
        NOTIFICATIONS_TOTAL,
        Kind::Counter,
        "Notifications delivered, by integration.",
    ),
    (
        NOTIFICATIONS_FAILED_TOTAL,
        Kind::Counter,
        "Notification attempts that failed, by integration and reason.",
    ),
    (
        NOTIFICATION_LATENCY_SECONDS,
        Kind::Histogram,
        "Time from alert transition to delivered notification.",
    ),
    (
        TICKETS_CREATED_TOTAL,
        Kind::Counter,
        "Tickets opened, by severity.",
    ),
    (
        TICKETS,
        Kind::Gauge,
        "Tickets in the store, by status and tier.",
    ),
    (
        TICKET_TIME_TO_ACKNOWLEDGE_SECONDS,
        Kind::Histogram,
        "Time from a ticket's creation to its first acknowledgement (MTTA), by severity and tier.",
    ),
    (
        TICKET_TIME_TO_RESOLVE_SECONDS,
        Kind::Histogram,
        "Time from a ticket's creation to its resolution (MTTR), by severity and tier.",
    ),
    (
        TICKET_ESCALATIONS_TOTAL,
        Kind::Counter,
        "Tickets escalated by their policy (not acknowledged in time), by the tier they moved to.",
    ),
    (
        TICKET_SLA_BREACHES_TOTAL,
        Kind::Counter,
        "Tickets that missed a target (acknowledge or resolve within), by target and priority.",
    ),
    (
        SLO_OBJECTIVE_RATIO,
        Kind::Gauge,
        "An SLO's objective as a ratio, by SLO and its group's labels.",
    ),
    (
        SLO_SLI_RATIO,
        Kind::Gauge,
        "An SLO group's attainment (good / total events) over a window, from the SLI history; 1 without events.",
    ),
    (
        SLO_ERROR_BUDGET_REMAINING_RATIO,
        Kind::Gauge,
        "The share of an SLO group's error budget left over the window (negative once overspent).",
    ),
    (
        SLO_BURN_RATE,
        Kind::Gauge,
        "How fast an SLO group spends its error budget over a window: 1 spends it exactly; 0 without events.",
    ),
    (
        SLO_EVENTS_TOTAL,
        Kind::Counter,
        "Events counted into the SLI history, by SLO and outcome (good, bad).",
    ),
    (
        SLO_MONTH_OBJECTIVE_MET,
        Kind::Gauge,
        "Whether an SLO group met its objective in a calendar month of the SLO time zone (1 met, 0 missed; no series without enough events), by SLO, month (2026-11) and group labels, for the last 12 months.",
    ),
    (
        STORE_WRITES_WAITING,
        Kind::Gauge,
        "Alert group flushes whose ticket or outbox write waits for the store to answer, by write.",
    ),
    (
        RUNBOOK_LOOKUPS_TOTAL,
        Kind::Counter,
        "Runbook lookups, by how the best result matched.",
    ),
    (
        ASSISTANT_ANSWERS_TOTAL,
        Kind::Counter,
        "Assistant answers by outcome: resolved (the asker said it helped), escalated (an L1 ticket was opened), unknown (no feedback within a day).",
    ),
];

/// Histogram buckets, in seconds, of every histogram but the ticket ones.
pub const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Buckets of the ticket histograms: people's times, from a minute to a week.
pub const TICKET_BUCKETS: &[f64] = &[
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 604800.0,
];

/// The buckets of histogram `name`.
pub fn buckets(name: &str) -> &'static [f64] {
    match name {
        TICKET_TIME_TO_ACKNOWLEDGE_SECONDS | TICKET_TIME_TO_RESOLVE_SECONDS => TICKET_BUCKETS,
        _ => BUCKETS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        for (name, kind, help) in ALL {
            assert!(name.starts_with("syncwatch_"), "{name}");
            assert_eq!(*kind == Kind::Counter, name.ends_with("_total"), "{name}");
            assert!(!help.is_empty());
        }
    }
}
