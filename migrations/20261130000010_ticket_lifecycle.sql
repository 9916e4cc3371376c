-- The ticket lifecycle worked by people: who resolved a ticket and how, a version that every
-- change increments (the ticket's strong ETag), and who made each recorded change.
ALTER TABLE tickets ADD COLUMN resolution TEXT;
ALTER TABLE tickets ADD COLUMN resolved_by TEXT;
ALTER TABLE tickets ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE ticket_events ADD COLUMN actor TEXT NOT NULL DEFAULT 'syncwatch';
ALTER TABLE ticket_events ADD COLUMN from_value TEXT;
ALTER TABLE ticket_events ADD COLUMN to_value TEXT;
