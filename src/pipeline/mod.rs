//! Pipeline stages. Record batches flow from a provider through a chain of `StageActor`s
//! (validate → store), each on a bounded mailbox: a slow stage fills its mailbox, and senders
//! wait in `send().await`, so backpressure reaches the provider's fetch loop.
//!
//! - [`queue`]: what waits at a stage's input, for queue depth and iterator age.
//! - [`stage`]: the pure stage functions.
//! - [`actor`]: `StageActor` and the per-second queue reporter.

pub mod actor;
pub mod events;
pub mod export;
pub mod queue;
pub mod stage;
pub mod transform;

use actix::prelude::*;
use serde_json::Value;

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
}
