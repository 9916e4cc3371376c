-- The feed of every ticket event (GET /api/v1/ticket-events): `seq` numbers events in the order
-- their transactions commit. A transaction that records events takes its numbers from the one
-- row of `ticket_event_seq` after its other writes; the row's lock (held until commit) makes the
-- next writer wait, so once a reader has seen number N no event below N can still appear.
ALTER TABLE ticket_events ADD COLUMN seq BIGINT;
UPDATE ticket_events SET seq = numbered.n
    FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY at, id) AS n FROM ticket_events) AS numbered
    WHERE numbered.id = ticket_events.id;
CREATE UNIQUE INDEX ticket_events_by_seq ON ticket_events (seq);
CREATE TABLE ticket_event_seq (
    id BIGINT PRIMARY KEY,
    last BIGINT NOT NULL
);
INSERT INTO ticket_event_seq (id, last) SELECT 1, COALESCE(MAX(seq), 0) FROM ticket_events;
