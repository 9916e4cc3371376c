//! `StageActor`: runs one stage function over each batch, one batch at a time, on a bounded
//! mailbox; failed records go to the DLQ; the rest go to the next stage with `send().await`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::RecordBatch;
use super::queue::{StageLink, StageQueue};
use super::stage::{to_stored, validate};
use crate::config::{PipelineSettings, StageKind};
use crate::domain::{Clock, ErrorClass};
use crate::store::{DeadLetter, Store};
use crate::telemetry::Metrics;

pub struct StageActor {
    pipeline: String,
    kind: StageKind,
    /// Batches the mailbox holds before senders wait.
    mailbox: usize,
    queue: Arc<StageQueue>,
    next: Option<StageLink>,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

impl Actor for StageActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
    }
}

struct Work {
    pipeline: String,
    kind: StageKind,
    next: Option<StageLink>,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

impl Work {
    async fn process(self, batch: RecordBatch) {
        let started = Instant::now();
        let stage = self.kind.as_str();
        let received = batch.records.len() as u64;
        let mut passed = Vec::with_capacity(batch.records.len());
        let mut dead = Vec::new();
        let letter = |record: &serde_json::Value, class: ErrorClass, error: String| DeadLetter {
            pipeline: self.pipeline.clone(),
            stage: stage.to_string(),
            provider: batch.provider.clone(),
            connection: batch.connection.clone(),
            stream: batch.stream.clone(),
            record: record.to_string(),
            error,
            error_class: class,
        };
        match self.kind {
            StageKind::Validate => {
                for r in batch.records {
                    match validate(&r) {
                        Ok(_) => passed.push(r),
                        Err(f) => dead.push(letter(&r, f.class, f.message)),
                    }
                }
            }
            StageKind::Store => {
                let mut rows = Vec::with_capacity(batch.records.len());
                for r in batch.records {
                    match to_stored(&batch.provider, &batch.connection, &batch.stream, &r) {
                        Ok(row) => {
                            rows.push(row);
                            passed.push(r);
                        }
                        Err(f) => dead.push(letter(&r, f.class, f.message)),
                    }
                }
                if let Err(e) = self.store.upsert_records(&rows, self.clock.now_ms()).await {
                    tracing::error!(pipeline = %self.pipeline, stage, error = %e, "store stage failed; batch sent to the DLQ");
                    for r in passed.drain(..) {
                        dead.push(letter(&r, ErrorClass::Server, format!("store failed: {e}")));
                    }
                }
            }
        }
        let mut errors: Vec<(ErrorClass, u64)> = Vec::new();
        for d in &dead {
            match errors.iter_mut().find(|(c, _)| *c == d.error_class) {
                Some((_, n)) => *n += 1,
                None => errors.push((d.error_class, 1)),
            }
        }
        if !dead.is_empty() {
            match self
                .store
                .insert_dead_letters(&dead, self.clock.now_ms())
                .await
            {
                Ok(()) => {
                    if let Ok(n) = self.store.count_dead_letters(&self.pipeline, stage).await {
                        self.metrics.dlq_records(&self.pipeline, stage, n as u64);
                    }
                }
                Err(e) => {
                    tracing::error!(pipeline = %self.pipeline, stage, error = %e, records = dead.len(), "cannot write dead letters")
                }
            }
        }
        self.metrics.stage_batch(
            &self.pipeline,
            stage,
            received,
            passed.len() as u64,
            &errors,
            started.elapsed(),
        );
        self.metrics
            .stage_heartbeat(&self.pipeline, stage, self.clock.now_ms());
        if let Some(next) = &self.next
            && !passed.is_empty()
        {
            let out = RecordBatch {
                records: passed,
                ticket: 0,
                ..batch
            };
            if let Err(e) = next.send(out).await {
                tracing::error!(pipeline = %self.pipeline, stage, error = %e, "next stage unavailable");
            }
        }
    }
}

impl Handler<RecordBatch> for StageActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, batch: RecordBatch, _: &mut Self::Context) -> Self::Result {
        self.queue.leave(batch.ticket);
        let work = Work {
            pipeline: self.pipeline.clone(),
            kind: self.kind,
            next: self.next.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock.clone(),
        };
        // Atomic: one batch at a time, so the mailbox bound is the stage's real queue.
        AtomicResponse::new(Box::pin(work.process(batch).into_actor(self)))
    }
}

/// Starts a pipeline's stages, last first; returns the link to its first stage and every
/// stage's queue. `max_batch_records` (the largest page a provider sends into it) turns the
/// mailbox bound into a capacity in records.
pub fn build_pipeline(
    settings: &PipelineSettings,
    max_batch_records: u64,
    store: &Store,
    metrics: &Metrics,
    clock: &Arc<dyn Clock>,
) -> (StageLink, Vec<Arc<StageQueue>>) {
    let mut next: Option<StageLink> = None;
    let mut queues = Vec::new();
    for kind in settings.stages.iter().rev() {
        let capacity = settings.queue_capacity_batches as u64 * max_batch_records;
        let queue = Arc::new(StageQueue::new(&settings.name, kind.as_str(), capacity));
        metrics.stage_capacity(&settings.name, kind.as_str(), capacity as f64);
        metrics.stage_queue(&settings.name, kind.as_str(), 0, Duration::ZERO);
        let addr = StageActor {
            pipeline: settings.name.clone(),
            kind: *kind,
            mailbox: settings.queue_capacity_batches,
            queue: queue.clone(),
            next: next.take(),
            store: store.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
        }
        .start();
        queues.push(queue.clone());
        next = Some(StageLink {
            addr: addr.recipient(),
            queue,
            clock: clock.clone(),
        });
    }
    queues.reverse();
    (
        next.expect("pipelines have at least one stage (validated)"),
        queues,
    )
}

/// Refreshes queue depth and iterator age of every stage once a second, from outside the stage
/// actors, so a stuck stage still reports its growing age.
pub fn spawn_queue_reporter(queues: Vec<Arc<StageQueue>>, metrics: Metrics, clock: Arc<dyn Clock>) {
    actix::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = clock.now_ms();
            for q in &queues {
                let (records, age) = q.depth(now);
                metrics.stage_queue(&q.pipeline, &q.stage, records, age);
            }
        }
    });
}
