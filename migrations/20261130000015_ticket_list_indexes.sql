-- A support desk filters tickets by connection, provider or alert, newest first: with a
-- million tickets, each filter has its own index in that order, so a page reads its 50 rows
-- instead of walking the whole newest-first index.
CREATE INDEX tickets_by_connection ON tickets (connection, created_at, id);
CREATE INDEX tickets_by_provider ON tickets (provider, created_at, id);
CREATE INDEX tickets_by_alertname ON tickets (alertname, created_at, id);
