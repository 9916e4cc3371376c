-- Ticket webhooks ([[tickets.webhooks]]) are delivered through the outbox. A row's `kind` says
-- what it carries: 'notification' (an alert group's state: the newest row of a stream replaces
-- the older ones) or 'ticket_event' (one event: every row of a stream is sent, oldest first).
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'notification';
-- How far each webhook has taken the feed of ticket events (`ticket_events.seq`).
CREATE TABLE ticket_webhook_cursors (
    webhook TEXT PRIMARY KEY,
    after_seq BIGINT NOT NULL
);
