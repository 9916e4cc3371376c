//! What waits at a stage's input. A batch enters when a sender starts sending it (it may still
//! be waiting for mailbox room) and leaves when the stage starts on it. The oldest entry's age is
//! the stage's iterator age, which keeps growing while a stage is stuck.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;

use super::RecordBatch;
use crate::domain::Clock;

#[derive(Debug, Default)]
struct Entries {
    /// (ticket, entered at ms, records)
    waiting: VecDeque<(u64, i64, u64)>,
    next_ticket: u64,
}

#[derive(Debug)]
pub struct StageQueue {
    pub pipeline: String,
    pub stage: String,
    /// Records the stage's mailbox holds before senders wait.
    pub capacity_records: u64,
    entries: Mutex<Entries>,
}

impl StageQueue {
    pub fn new(pipeline: &str, stage: &str, capacity_records: u64) -> Self {
        Self {
            pipeline: pipeline.to_string(),
            stage: stage.to_string(),
            capacity_records,
            entries: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn enter(&self, records: u64, now_ms: i64) -> u64 {
        let mut e = self.lock();
        e.next_ticket += 1;
        let t = e.next_ticket;
        e.waiting.push_back((t, now_ms, records));
        t
    }

    pub fn leave(&self, ticket: u64) {
        self.lock().waiting.retain(|(t, _, _)| *t != ticket);
    }

    /// Records waiting, and the age of the oldest (zero when empty).
    pub fn depth(&self, now_ms: i64) -> (u64, Duration) {
        let e = self.lock();
        let records = e.waiting.iter().map(|(_, _, n)| n).sum();
        let oldest = e.waiting.iter().map(|(_, at, _)| *at).min();
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
    /// Sends a batch, waiting while the stage's mailbox is full.
    pub async fn send(&self, mut batch: RecordBatch) -> Result<(), MailboxError> {
        batch.ticket = self
            .queue
            .enter(batch.records.len() as u64, self.clock.now_ms());
        let ticket = batch.ticket;
        let result = self.addr.send(batch).await;
        if result.is_err() {
            self.queue.leave(ticket);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_is_that_of_the_oldest_waiting_batch() {
        let q = StageQueue::new("dms", "store", 100);
        assert_eq!(q.depth(1_000), (0, Duration::ZERO));
        let a = q.enter(10, 1_000);
        let _b = q.enter(5, 3_000);
        assert_eq!(q.depth(4_000), (15, Duration::from_secs(3)));
        q.leave(a);
        assert_eq!(q.depth(4_000), (5, Duration::from_secs(1)));
    }
}
