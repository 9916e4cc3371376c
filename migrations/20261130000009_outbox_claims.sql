-- A row is delivered by whoever claims it: `status` goes from 'pending' to 'sending' in one
-- guarded UPDATE, with the claimant and the time its claim lapses, so two pollers (or a stale
-- poll) never send a row twice. Every later change is guarded on that claim. A claim left by a
-- process that died lapses at `claimed_until` (a single node releases them at start).
-- 'superseded' marks a row whose group state a newer row of its stream delivered.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
