//! Pipeline stages. Record batches flow from a provider through a chain of `StageActor`s
//! (validate → transform → store → export), each on a bounded queue: a slow stage fills its
//! queue, and senders wait in `send().await`, so backpressure reaches the provider's fetch loop.
//! A sender waits for room in the next stage's queue, not for the stage to finish, so stages
//! work on consecutive batches at the same time; a batch's [`Completion`] tells its sender when
//! the whole pipeline is through with it.
//!
//! - [`queue`]: what waits at a stage's input, for queue depth and iterator age.
//! - [`stage`]: the pure stage functions.
//! - [`actor`]: `StageActor` and the per-second queue reporter.

pub mod actor;
pub mod events;
pub mod export;
pub mod queue;
pub mod replay;
pub mod schema;
pub mod stage;
pub mod transform;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use serde_json::Value;
use tokio::sync::oneshot;

pub use actor::{StageActor, build_pipeline, spawn_queue_reporter};
pub use queue::{StageLink, StageQueue};

/// Records fetched from one provider stream for one connection.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct RecordBatch {
    pub provider: String,
    pub connection: String,
    pub stream: String,
    pub records: Vec<Value>,
    /// When the batch replays dead letters: their ids, one per record (empty otherwise).
    pub dlq_ids: Vec<String>,
    /// Set by [`StageLink::send`]: identifies the batch in the receiving stage's queue.
    pub ticket: u64,
    /// Held while any stage still has (part of) the batch: the sender learns from it when
    /// the pipeline is through with the batch.
    pub done: Option<Completion>,
}

/// Travels with a batch and its parts through the stages. When the last copy is dropped, the
/// sender's [`Finished`] learns whether the pipeline settled the batch (every record through
/// the last stage or in the DLQ) or abandoned it (a stage stopped with it, at shutdown say).
#[derive(Debug, Clone)]
pub struct Completion(Arc<CompletionInner>);

#[derive(Debug)]
struct CompletionInner {
    settled: AtomicBool,
    /// Some of its records were lost (a counted drop): the batch is not settled, whatever
    /// happens to the rest.
    spoiled: AtomicBool,
    tx: Mutex<Option<oneshot::Sender<bool>>>,
}

impl Drop for CompletionInner {
    fn drop(&mut self) {
        let tx = self.tx.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tx) = tx {
            let settled = self.settled.load(Ordering::Acquire);
            let _ = tx.send(settled && !self.spoiled.load(Ordering::Acquire));
        }
    }
}

impl Completion {
    /// The pipeline is through with this batch (or this part of it).
    pub fn settle(&self) {
        self.0.settled.store(true, Ordering::Release);
    }

    /// Some of the batch's records were lost: its sender must not treat it as done.
    pub fn spoil(&self) {
        self.0.spoiled.store(true, Ordering::Release);
    }
}

/// Resolves when the pipeline is through with a batch.
pub struct Finished(oneshot::Receiver<bool>);

impl Finished {
    /// Whether the batch was settled (false: a stage dropped it unfinished).
    pub async fn wait(self) -> bool {
        self.0.await.unwrap_or(false)
    }
}

/// A completion token for a batch, and what its sender waits on.
pub fn completion() -> (Completion, Finished) {
    let (tx, rx) = oneshot::channel();
    let inner = CompletionInner {
        settled: AtomicBool::new(false),
        spoiled: AtomicBool::new(false),
        tx: Mutex::new(Some(tx)),
    };
    (Completion(Arc::new(inner)), Finished(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_batch_is_finished_when_its_last_copy_goes_and_settled_only_if_marked() {
        let (done, finished) = completion();
        let copy = done.clone();
        copy.settle();
        drop(copy);
        drop(done);
        assert!(finished.wait().await);

        let (done, finished) = completion();
        drop(done);
        assert!(!finished.wait().await, "dropped unsettled");

        let (done, finished) = completion();
        let part = done.clone();
        part.spoil();
        drop(part);
        done.settle();
        drop(done);
        assert!(!finished.wait().await, "part of it was lost");
    }
}
