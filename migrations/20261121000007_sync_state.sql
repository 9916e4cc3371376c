-- Incremental sync: the cursor of each stream of each connection, saved when the stream's pages
-- were all fetched, so the next sync (after a restart too) asks only for what changed since.
CREATE TABLE sync_state (
    provider TEXT NOT NULL,
    connection TEXT NOT NULL,
    stream TEXT NOT NULL,
    cursor TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (provider, connection, stream)
);
-- Each run's cursors before and after, as JSON objects of stream → cursor.
ALTER TABLE sync_runs ADD COLUMN cursor_before TEXT;
ALTER TABLE sync_runs ADD COLUMN cursor_after TEXT;
