-- Escalation through the tiers and per-priority targets (ticket_configs' `escalations`,
-- `ack_within`, `resolve_within`), kept with each ticket as the policy in force when it opened.
-- `open_since`: when the ticket last became open (created, reopened, handed back); escalation
-- counts from it and acknowledging stops it. `escalation_level`: how many steps were taken
-- since. A target's breach is recorded once, at `*_breached_at`. `highest_tier`: the highest
-- tier the ticket reached (stats: escalations to L2 and L3, resolved without reaching L3).
ALTER TABLE tickets ADD COLUMN escalation_policy TEXT;
ALTER TABLE tickets ADD COLUMN escalation_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN open_since BIGINT;
ALTER TABLE tickets ADD COLUMN ack_breached_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolve_breached_at BIGINT;
ALTER TABLE tickets ADD COLUMN highest_tier TEXT NOT NULL DEFAULT 'L1';
UPDATE tickets SET open_since = created_at, highest_tier = tier;
CREATE INDEX tickets_by_status ON tickets (status, tier);
