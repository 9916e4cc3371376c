//! What waits at a stage. A batch enters when a sender starts sending it (it may still be
//! waiting for room), starts when the stage takes it up, and leaves when the stage is through
//! with it (passed on, stored, written, or in the DLQ). The oldest entry's age is the stage's
//! iterator age, which keeps growing while a stage is stuck, even on the one batch it holds;
//! the queue's records are those not started yet.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::Semaphore;

use super::RecordBatch;
use crate::domain::Clock;

#[derive(Debug)]
struct Entry {
    ticket: u64,
    entered_ms: i64,
    records: u64,
    started: bool,
}

#[derive(Debug, Default)]
struct Entries {
    waiting: VecDeque<Entry>,
    next_ticket: u64,
}

#[derive(Debug)]
pub struct StageQueue {
    pub pipeline: String,
    pub stage: String,
    /// Records the stage's queue holds before senders wait.
    pub capacity_records: u64,
    entries: Mutex<Entries>,
    /// Room for batches: a sender takes a slot before its batch enters the mailbox, and the
    /// stage gives it back when it starts on the batch.
    slots: Semaphore,
}

impl StageQueue {
    pub fn new(
        pipeline: &str,
        stage: &str,
        capacity_batches: usize,
        capacity_records: u64,
    ) -> Self {
        Self {
            pipeline: pipeline.to_string(),
            stage: stage.to_string(),
            capacity_records,
            entries: Mutex::default(),
            slots: Semaphore::new(capacity_batches.max(1)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn enter(&self, records: u64, now_ms: i64) -> u64 {
        let mut e = self.lock();
        e.next_ticket += 1;
        let t = e.next_ticket;
        e.waiting.push_back(Entry {
            ticket: t,
            entered_ms: now_ms,
            records,
            started: false,
        });
        t
    }

    /// The stage took the batch up: its slot in the queue is free again.
    pub fn start(&self, ticket: u64) {
        let mut e = self.lock();
        if let Some(entry) = e
            .waiting
            .iter_mut()
            .find(|x| x.ticket == ticket && !x.started)
        {
            entry.started = true;
            self.slots.add_permits(1);
        }
    }

    /// The stage is through with the batch (or it never got in).
    pub fn finish(&self, ticket: u64) {
        let mut e = self.lock();
        if let Some(i) = e.waiting.iter().position(|x| x.ticket == ticket)
            && let Some(entry) = e.waiting.remove(i)
            && !entry.started
        {
            self.slots.add_permits(1);
        }
    }

    /// Whether the stage holds nothing it is not through with.
    pub fn is_idle(&self) -> bool {
        self.lock().waiting.is_empty()
    }

    /// Records waiting to be started, and the age of the oldest batch the stage is not
    /// through with (zero when none).
    pub fn depth(&self, now_ms: i64) -> (u64, Duration) {
        let e = self.lock();
        let records = e
            .waiting
            .iter()
            .filter(|x| !x.started)
            .map(|x| x.records)
            .sum();
        let oldest = e.waiting.iter().map(|x| x.entered_ms).min();
        let age = oldest.map_or(Duration::ZERO, |at| {
            Duration::from_millis((now_ms - at).max(0) as u64)
        });
        (records, age)
    }
}

/// A sender's handle to a stage: its address and its queue.
#[derive(Clone)]
pub struct StageLink {
    pub addr: Recipient<RecordBatch>,
    pub queue: Arc<StageQueue>,
    pub clock: Arc<dyn Clock>,
}

impl StageLink {
    /// Sends a batch, waiting while the stage's queue is full (not until the stage is done
    /// with it: [`super::Completion`] tells that). The batch counts as waiting, for iterator
    /// age, from the moment its sender starts waiting.
    pub async fn send(&self, mut batch: RecordBatch) -> Result<(), MailboxError> {
        batch.ticket = self
            .queue
            .enter(batch.records.len() as u64, self.clock.now_ms());
        let ticket = batch.ticket;
        // Never closed; the slot goes back in `leave`.
        if let Ok(slot) = self.queue.slots.acquire().await {
            slot.forget();
        }
        // The slots bound what is in the mailbox, which holds at least as many.
        match self.addr.try_send(batch) {
            Ok(()) => Ok(()),
            Err(SendError::Full(batch)) => {
                self.addr.do_send(batch);
                Ok(())
            }
            Err(SendError::Closed(_)) => {
                self.queue.finish(ticket);
                Err(MailboxError::Closed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_is_that_of_the_oldest_waiting_batch() {
        let q = StageQueue::new("dms", "store", 4, 100);
        assert_eq!(q.depth(1_000), (0, Duration::ZERO));
        let a = q.enter(10, 1_000);
        let _b = q.enter(5, 3_000);
        assert_eq!(q.depth(4_000), (15, Duration::from_secs(3)));
        // Taken up but not through: no longer queued, still the oldest.
        q.start(a);
        assert_eq!(q.depth(4_000), (5, Duration::from_secs(3)));
        q.finish(a);
        assert_eq!(q.depth(4_000), (5, Duration::from_secs(1)));
    }
}
