//! `StageActor`: runs one stage function over each batch, one batch at a time, on a bounded
//! mailbox; failed records go to the DLQ; the rest go to the next stage with `send().await`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::RecordBatch;
use super::export::{Exporter, json_lines, object_key};
use super::queue::{StageLink, StageQueue};
use super::stage::{to_stored, validate};
use super::transform::Transform;
use crate::config::{PipelineSettings, StageKind};
use crate::domain::{Clock, ErrorClass};
use crate::store::{DeadLetter, Store};
use crate::telemetry::Metrics;

/// How often an idle stage shows it is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);

pub struct StageActor {
    pipeline: String,
    kind: StageKind,
    /// Batches the mailbox holds before senders wait.
    mailbox: usize,
    queue: Arc<StageQueue>,
    next: Option<StageLink>,
    /// The field mapping of a `transform` stage (empty for the others).
    transform: Arc<Transform>,
    /// Where an `export` stage writes.
    exporter: Option<Arc<Exporter>>,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

impl Actor for StageActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
        // The heartbeat while idle. A batch in progress holds the actor (atomic responses), so
        // a stage stuck on one stops beating.
        ctx.run_interval(HEARTBEAT, |act, _| {
            act.metrics
                .stage_heartbeat(&act.pipeline, act.kind.as_str(), act.clock.now_ms());
        });
    }
}

struct Work {
    pipeline: String,
    kind: StageKind,
    next: Option<StageLink>,
    transform: Arc<Transform>,
    exporter: Option<Arc<Exporter>>,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

impl Work {
    async fn process(self, batch: RecordBatch) {
        let started = Instant::now();
        let stage = self.kind.as_str();
        let received = batch.records.len() as u64;
        let replay = !batch.dlq_ids.is_empty();
        let mut ids = batch.dlq_ids.into_iter();
        // Each record with the id of its dead letter when the batch is a replay.
        let mut passed: Vec<(serde_json::Value, Option<String>)> =
            Vec::with_capacity(batch.records.len());
        let mut failed: Vec<(serde_json::Value, Option<String>, ErrorClass, String)> = Vec::new();
        match self.kind {
            StageKind::Validate => {
                for r in batch.records {
                    let id = ids.next();
                    match validate(&r) {
                        Ok(_) => passed.push((r, id)),
                        Err(f) => failed.push((r, id, f.class, f.message)),
                    }
                }
            }
            StageKind::Transform => {
                for r in batch.records {
                    let id = ids.next();
                    // The original goes to the DLQ when a step fails, not a half-changed copy.
                    match self.transform.apply(&batch.stream, r.clone()) {
                        Ok(out) => passed.push((out, id)),
                        Err(f) => failed.push((r, id, f.class, f.message)),
                    }
                }
            }
            StageKind::Export => {
                let key = object_key(
                    &batch.provider,
                    &batch.stream,
                    self.clock.now_ms(),
                    &crate::store::new_id(),
                );
                let written = match &self.exporter {
                    Some(e) => e.put(&key, json_lines(&batch.records)).await,
                    None => Err("no export directory configured".into()),
                };
                match written {
                    Ok(()) => {
                        for r in batch.records {
                            passed.push((r, ids.next()));
                        }
                    }
                    Err(e) => {
                        tracing::error!(pipeline = %self.pipeline, stage, error = %e, "export failed; batch sent to the DLQ");
                        for r in batch.records {
                            let id = ids.next();
                            failed.push((r, id, ErrorClass::Server, format!("export failed: {e}")));
                        }
                    }
                }
            }
            StageKind::Store => {
                let mut rows = Vec::with_capacity(batch.records.len());
                for r in batch.records {
                    let id = ids.next();
                    match to_stored(&batch.provider, &batch.connection, &batch.stream, &r) {
                        Ok(row) => {
                            rows.push(row);
                            passed.push((r, id));
                        }
                        Err(f) => failed.push((r, id, f.class, f.message)),
                    }
                }
                if let Err(e) = self.store.upsert_records(&rows, self.clock.now_ms()).await {
                    tracing::error!(pipeline = %self.pipeline, stage, error = %e, "store stage failed; batch sent to the DLQ");
                    for (r, id) in passed.drain(..) {
                        failed.push((r, id, ErrorClass::Server, format!("store failed: {e}")));
                    }
                }
            }
        }
        let mut errors: Vec<(ErrorClass, u64)> = Vec::new();
        for (_, _, class, _) in &failed {
            match errors.iter_mut().find(|(c, _)| c == class) {
                Some((_, n)) => *n += 1,
                None => errors.push((*class, 1)),
            }
        }
        let mut new_letters = Vec::new();
        let mut failed_again = Vec::new();
        for (record, id, class, error) in failed {
            match id {
                Some(id) => failed_again.push((id, class, error)),
                None => new_letters.push(DeadLetter {
                    pipeline: self.pipeline.clone(),
                    stage: stage.to_string(),
                    provider: batch.provider.clone(),
                    connection: batch.connection.clone(),
                    stream: batch.stream.clone(),
                    record: record.to_string(),
                    error,
                    error_class: class,
                }),
            }
        }
        let now = self.clock.now_ms();
        let mut dlq_changed = false;
        if !new_letters.is_empty() {
            dlq_changed = true;
            if let Err(e) = self.store.insert_dead_letters(&new_letters, now).await {
                tracing::error!(pipeline = %self.pipeline, stage, error = %e, records = new_letters.len(), "cannot write dead letters; records dropped");
                self.metrics.stage_dropped(
                    &self.pipeline,
                    stage,
                    "dlq_write_failed",
                    false,
                    new_letters.len() as u64,
                );
            }
        }
        if !failed_again.is_empty() {
            dlq_changed = true;
            if let Err(e) = self.store.retry_failed_dead_letters(&failed_again).await {
                tracing::error!(pipeline = %self.pipeline, stage, error = %e, "cannot update replayed dead letters");
            }
        }
        if replay {
            // Replayed records that passed leave the DLQ; later stages send them back if they
            // fail there.
            let done: Vec<String> = passed.iter().filter_map(|(_, id)| id.clone()).collect();
            if !done.is_empty() {
                dlq_changed = true;
                if let Err(e) = self.store.delete_dead_letters(&done).await {
                    tracing::error!(pipeline = %self.pipeline, stage, error = %e, "cannot remove replayed dead letters");
                }
            }
        }
        if dlq_changed && let Ok(n) = self.store.count_dead_letters(&self.pipeline, stage).await {
            self.metrics.dlq_records(&self.pipeline, stage, n as u64);
        }
        self.metrics.stage_batch(
            &self.pipeline,
            stage,
            received,
            passed.len() as u64,
            &errors,
            started.elapsed(),
        );
        self.metrics.stage_heartbeat(&self.pipeline, stage, now);
        if let Some(next) = &self.next
            && !passed.is_empty()
        {
            let out = RecordBatch {
                records: passed.into_iter().map(|(r, _)| r).collect(),
                dlq_ids: Vec::new(),
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
            transform: self.transform.clone(),
            exporter: self.exporter.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock.clone(),
        };
        // Atomic: one batch at a time, so the mailbox bound is the stage's real queue.
        AtomicResponse::new(Box::pin(work.process(batch).into_actor(self)))
    }
}

/// Starts a pipeline's stages, last first; returns a link to each stage, in pipeline order
/// (the first is where records enter; a replay enters at the stage that failed them).
/// `max_batch_records` (the largest page a provider sends into it) turns the mailbox bound into
/// a capacity in records.
pub fn build_pipeline(
    settings: &PipelineSettings,
    max_batch_records: u64,
    transform: Option<Arc<Transform>>,
    store: &Store,
    metrics: &Metrics,
    clock: &Arc<dyn Clock>,
) -> Result<Vec<(StageKind, StageLink)>, String> {
    let exporter = match &settings.export_dir {
        Some(dir) => Some(Arc::new(Exporter::to_dir(dir)?)),
        None => None,
    };
    let mut next: Option<StageLink> = None;
    let mut links = Vec::new();
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
            transform: transform.clone().unwrap_or_default(),
            exporter: exporter.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
        }
        .start();
        let link = StageLink {
            addr: addr.recipient(),
            queue,
            clock: clock.clone(),
        };
        links.push((*kind, link.clone()));
        next = Some(link);
    }
    links.reverse();
    Ok(links)
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
