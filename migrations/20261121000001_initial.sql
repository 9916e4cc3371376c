-- Portable between SQLite and PostgreSQL: times are integer milliseconds, labels are JSON text.

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    dedup_key TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    priority TEXT NOT NULL,
    tier TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    labels TEXT NOT NULL,
    provider TEXT,
    connection TEXT,
    alertname TEXT NOT NULL,
    runbook_id TEXT,
    runbook_title TEXT,
    runbook_url TEXT,
    assignee TEXT,
    occurrences BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    updated_at BIGINT NOT NULL
);

-- At most one open or acknowledged ticket per problem, whatever the timing of writers.
CREATE UNIQUE INDEX tickets_one_active_per_dedup_key
    ON tickets (dedup_key) WHERE status IN ('open', 'acknowledged');
CREATE INDEX tickets_newest_first ON tickets (created_at, id);
CREATE INDEX tickets_by_dedup_key ON tickets (dedup_key, resolved_at);

CREATE TABLE ticket_events (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, at);

-- Which alert instances a ticket has counted, so a re-sent notification never counts twice.
CREATE TABLE ticket_occurrences (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    alert_key TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, alert_key)
);

CREATE TABLE sync_runs (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    connection TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    records BIGINT NOT NULL,
    pages BIGINT NOT NULL,
    error_class TEXT,
    reason TEXT
);
CREATE INDEX sync_runs_by_connection ON sync_runs (provider, connection, started_at);

CREATE TABLE records (
    provider TEXT NOT NULL,
    stream TEXT NOT NULL,
    record_id TEXT NOT NULL,
    connection TEXT NOT NULL,
    payload TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (provider, stream, record_id)
);

CREATE TABLE dlq (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    stage TEXT NOT NULL,
    provider TEXT NOT NULL,
    connection TEXT NOT NULL,
    stream TEXT NOT NULL,
    record TEXT NOT NULL,
    error TEXT NOT NULL,
    error_class TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX dlq_by_stage ON dlq (pipeline, stage, created_at);
