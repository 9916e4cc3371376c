-- Pending and firing alerts of alerting rules, restored at start: a firing alert stays firing
-- without a second page, a pending one keeps its `for:` progress.
CREATE TABLE alert_state (
    group_name TEXT NOT NULL,
    rule TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    state TEXT NOT NULL,
    active_at BIGINT NOT NULL,
    fired_at BIGINT,
    keep_firing_since BIGINT,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (group_name, rule, fingerprint)
);
