-- Every notification is written here before it is sent, and delivered from here: Slack, SMTP or
-- a webhook being down delays a notification, a restart does not lose it. Rows of one stream
-- (receiver, integration, group) are delivered in order.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    group_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
CREATE INDEX outbox_stream ON outbox (receiver, integration, group_key, created_at);
