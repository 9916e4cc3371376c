-- Comments on tickets, and the answers of POSTs sent with an Idempotency-Key (so a retried
-- request gets the same answer and does nothing twice).
CREATE TABLE ticket_comments (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    visibility TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX ticket_comments_by_ticket ON ticket_comments (ticket_id, at);

CREATE TABLE idempotency_keys (
    idempotency_key TEXT NOT NULL,
    -- Who sent it and where: one client's key never answers another's request.
    scope TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    status BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (idempotency_key, scope)
);
