-- A support desk filters tickets by connection, provider or alert, newest first: with a
-- million tickets, each filter has its own index in that order, so a page reads its 50 rows
-- instead of walking the whole newest-first index.
CREATE INDEX tickets_by_connection ON tickets (connection, created_at, id);
CREATE INDEX tickets_by_provider ON tickets (provider, created_at, id);
CREATE INDEX tickets_by_alertname ON tickets (alertname, created_at, id);
-- By status, newest first (a bound status gets this plan whatever the planner guesses), and by
-- resolution time (the close_after sweep).
CREATE INDEX tickets_by_status_newest ON tickets (status, created_at, id);
CREATE INDEX tickets_by_resolution ON tickets (status, resolved_at, id);
-- The active tickets with an escalation policy, oldest first: what the sweep reads every 15 s,
-- without walking the active tickets that have none.
CREATE INDEX tickets_to_sweep ON tickets (created_at, id)
    WHERE escalation_policy IS NOT NULL AND status IN ('open', 'acknowledged');
