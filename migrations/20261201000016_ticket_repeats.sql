-- A ticket remembers when the two tickets of its dedup key before it were created, so the
-- figures of a window count repeats ("the same problem ticketed again") in one pass over the
-- window, without sorting it by key: a ticket repeats in [since, until) when its previous one
-- was created at or after `since`, and it is the first repeat of its key there when the one
-- before that was not.
ALTER TABLE tickets ADD COLUMN previous_created_at BIGINT;
ALTER TABLE tickets ADD COLUMN second_previous_created_at BIGINT;

-- The newest tickets of a key, for those two and for the last inactive ticket of a key.
DROP INDEX tickets_by_dedup_key;
CREATE INDEX tickets_by_key_newest ON tickets (dedup_key, created_at, id);

UPDATE tickets SET previous_created_at = (
    SELECT MAX(p.created_at) FROM tickets p
    WHERE p.dedup_key = tickets.dedup_key AND p.created_at < tickets.created_at
);
UPDATE tickets SET second_previous_created_at = (
    SELECT MAX(p.created_at) FROM tickets p
    WHERE p.dedup_key = tickets.dedup_key AND p.created_at < tickets.previous_created_at
)
WHERE previous_created_at IS NOT NULL;
