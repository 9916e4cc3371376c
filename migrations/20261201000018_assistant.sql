-- The runbook assistant (src/runbooks/assistant.rs). Every answer it gives, so feedback can
-- find it and escalate it once: `outcome` is NULL until it is resolved or escalated, and
-- `ticket_id` names the L1 ticket an escalation opened.
CREATE TABLE assistant_answers (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    question TEXT NOT NULL,
    reporter TEXT,
    provider TEXT,
    connection TEXT,
    confidence DOUBLE PRECISION NOT NULL,
    answer TEXT NOT NULL,
    outcome TEXT,
    outcome_at BIGINT,
    ticket_id TEXT
);

-- Embedding vectors by model and the SHA-256 of the text embedded (little-endian f32s), so a
-- runbook is embedded again only when its text or the model changes.
CREATE TABLE embeddings (
    model TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    vector BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (model, content_sha256)
);
