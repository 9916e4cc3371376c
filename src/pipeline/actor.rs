//! `StageActor`: runs one stage function over each batch, one batch at a time, behind a bounded
//! queue; failed records go to the DLQ; the rest go to the next stage with `send().await`, which
//! waits for room in that stage's queue. Stage functions over larger batches run on the
//! blocking pool, so the stages of a pipeline work at the same time on consecutive batches.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::export::{Exporter, append_json_lines, object_key};
use super::queue::{StageLink, StageQueue};
use super::schema::Schemas;
use super::stage::{record_id, to_stored, validate};
use super::transform::Transform;
use super::{Completion, RecordBatch};
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
    /// The JSON Schemas of a `validate` stage (empty for the others).
    schemas: Arc<Schemas>,
    drift_seen: Arc<Mutex<BTreeSet<DriftSeen>>>,
    /// Where an `export` stage writes.
    exporter: Option<Arc<Exporter>>,
    /// What an `export` stage holds until it writes an object.
    buffer: ExportBuffer,
    /// The `store` stage's writer.
    writer: Option<tokio::sync::mpsc::Sender<StoreWrite>>,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

/// Batches waiting to be written together (Firehose's buffering hints): written once they hold
/// `max_records`, or when the oldest has waited `max_wait`. Their completions are held until
/// then, so a provider's cursor only moves past records that are written.
struct ExportBuffer {
    batches: Vec<RecordBatch>,
    records: usize,
    since: Option<Instant>,
    max_records: usize,
    max_wait: Duration,
}

impl ExportBuffer {
    fn take(&mut self) -> Vec<RecordBatch> {
        self.records = 0;
        self.since = None;
        std::mem::take(&mut self.batches)
    }

    fn due(&self) -> bool {
        self.records >= self.max_records || self.since.is_some_and(|t| t.elapsed() >= self.max_wait)
    }
}

impl StageActor {
    fn work(&self) -> Work {
        Work {
            pipeline: self.pipeline.clone(),
            kind: self.kind,
            next: self.next.clone(),
            writer: self.writer.clone(),
            queue: self.queue.clone(),
            transform: self.transform.clone(),
            schemas: self.schemas.clone(),
            drift_seen: self.drift_seen.clone(),
            exporter: self.exporter.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl Actor for StageActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox);
        if self.kind == StageKind::Store {
            // The writer ends when the stage does (it holds no sender itself). It has a thread
            // of its own: its round trips to the database do not queue behind the other
            // stages' work on this one.
            let (tx, rx) = tokio::sync::mpsc::channel(self.mailbox.clamp(1, STORE_WRITES_AHEAD));
            let thread = Arbiter::new();
            thread.spawn(self.work().write_loop(rx));
            self.writer = Some(tx);
        }
        // The heartbeat while idle; a stage stuck on a batch stops beating.
        ctx.run_interval(HEARTBEAT, |act, _| {
            // Only while idle: a stage that holds a batch beats when it gets through one.
            if act.queue.is_idle() {
                act.metrics
                    .stage_heartbeat(&act.pipeline, act.kind.as_str(), act.clock.now_ms());
            }
        });
        if self.kind == StageKind::Export {
            // Writes what has waited long enough; `wait` holds other batches meanwhile.
            let tick = (self.buffer.max_wait / 4).clamp(Duration::from_millis(10), HEARTBEAT);
            ctx.run_interval(tick, |act, ctx| {
                if act.buffer.due() {
                    let batches = act.buffer.take();
                    ctx.wait(act.work().export(batches).into_actor(act));
                }
            });
        }
    }
}

#[derive(Clone)]
struct Work {
    pipeline: String,
    kind: StageKind,
    next: Option<StageLink>,
    /// The `store` stage's writer (see [`StoreWrite`]).
    writer: Option<tokio::sync::mpsc::Sender<StoreWrite>>,
    queue: Arc<StageQueue>,
    transform: Arc<Transform>,
    schemas: Arc<Schemas>,
    /// Drift logged already: (provider, stream, change, field).
    drift_seen: Arc<Mutex<BTreeSet<DriftSeen>>>,
    exporter: Option<Arc<Exporter>>,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

type DriftSeen = (String, String, &'static str, String);
/// Distinct drifts logged per stage, at most (the counter counts them all).
const DRIFT_LOGGED: usize = 1_000;

type Passed = Vec<(serde_json::Value, Option<String>)>;

/// A batch the `store` stage prepared, for its writer.
struct StoreWrite {
    batch: RecordBatch,
    replay: bool,
    received: u64,
    passed: Passed,
    failed: Failed,
    rows: Vec<crate::store::StoredRecord>,
    started: Instant,
}

/// Batches smaller than this run their stage function on the stage's own thread.
const INLINE_RECORDS: u64 = 32;

/// Batches prepared ahead of the `store` stage's writer, at most (and no more than the stage's
/// queue holds).
const STORE_WRITES_AHEAD: usize = 8;
/// Rows the writer gathers from waiting batches into one write.
const STORE_ROWS_PER_WRITE: usize = 1_000;
/// Objects to write: (provider, stream), body, and the outcome once written.
type Objects = Vec<((String, String), Vec<u8>, Option<Result<(), String>>)>;

/// What a validate, transform or store stage decides about a batch.
struct Decided {
    /// Each record with its dead letter id when the batch is a replay.
    passed: Passed,
    failed: Failed,
    /// The `store` stage's rows.
    rows: Vec<crate::store::StoredRecord>,
    /// Schema drift found by a `validate` stage: (change, breaking) → occurrences, and the
    /// fields, once each.
    drift: BTreeMap<(&'static str, bool), u64>,
    drift_fields: BTreeSet<(&'static str, String, bool)>,
}

/// The stage function over a batch.
fn decide(
    kind: StageKind,
    functions: &(Arc<Transform>, Arc<Schemas>),
    (provider, connection, stream): (&str, &str, &str),
    records: Vec<serde_json::Value>,
    ids: Vec<String>,
) -> Decided {
    let (transform, schemas) = functions;
    let schema = schemas.get(provider, stream);
    let mut ids = ids.into_iter();
    let mut d = Decided {
        passed: Vec::with_capacity(records.len()),
        failed: Vec::new(),
        rows: Vec::new(),
        drift: BTreeMap::new(),
        drift_fields: BTreeSet::new(),
    };
    for r in records {
        let id = ids.next();
        let failure = match kind {
            StageKind::Validate => match schema {
                // The stream's schema decides; the store still needs an id.
                Some(schema) => {
                    let checked = schema.check(&r);
                    for drift in checked.drift {
                        *d.drift
                            .entry((drift.change.as_str(), drift.breaking))
                            .or_default() += 1;
                        if d.drift_fields.len() < 20 {
                            d.drift_fields.insert((
                                drift.change.as_str(),
                                drift.field,
                                drift.breaking,
                            ));
                        }
                    }
                    checked.failure.or_else(|| record_id(&r).err())
                }
                None => validate(&r).err(),
            },
            // The original goes to the DLQ when a step fails, not a half-changed copy.
            StageKind::Transform => match transform.apply(stream, r.clone()) {
                Ok(out) => {
                    d.passed.push((out, id));
                    continue;
                }
                Err(f) => Some(f),
            },
            StageKind::Store => match to_stored(provider, connection, stream, &r) {
                Ok(row) => {
                    d.rows.push(row);
                    None
                }
                Err(f) => Some(f),
            },
            StageKind::Export => None,
        };
        match failure {
            None => d.passed.push((r, id)),
            Some(f) => d.failed.push((r, id, f.class, f.message)),
        }
    }
    d
}

type Failed = Vec<(serde_json::Value, Option<String>, ErrorClass, String)>;

impl Work {
    async fn process(self, batch: RecordBatch) {
        if self.kind == StageKind::Export {
            return self.export(vec![batch]).await;
        }
        let started = Instant::now();
        let mut batch = batch;
        let records = std::mem::take(&mut batch.records);
        let ids = std::mem::take(&mut batch.dlq_ids);
        let replay = !ids.is_empty();
        let received = records.len() as u64;
        // The stage function is CPU work: over a larger batch it runs on the blocking pool, so
        // that stages (and the HTTP server and rules on this thread) work at the same time.
        let kind = self.kind;
        let functions = (self.transform.clone(), self.schemas.clone());
        let (provider, connection, stream) = (
            batch.provider.clone(),
            batch.connection.clone(),
            batch.stream.clone(),
        );
        let run = move || {
            decide(
                kind,
                &functions,
                (&provider, &connection, &stream),
                records,
                ids,
            )
        };
        // A few records (an incremental sync's) cost less here than a hand-off to another
        // thread, and keep the blocking pool, with its per-thread allocator heaps, small.
        let decided = if received < INLINE_RECORDS {
            Ok(run())
        } else {
            tokio::task::spawn_blocking(run).await
        };
        let Decided {
            passed,
            failed,
            rows,
            drift,
            drift_fields,
        } = match decided {
            Ok(d) => d,
            Err(e) => {
                // A panic in a stage function: the batch is lost, and counted.
                tracing::error!(pipeline = %self.pipeline, stage = kind.as_str(), error = %e, "stage function failed; batch dropped");
                self.lost(
                    "stage_panicked",
                    received,
                    &[batch.ticket],
                    batch.done.as_ref(),
                );
                return;
            }
        };
        if !drift.is_empty() {
            self.metrics
                .schema_drift(&self.pipeline, &batch.provider, &batch.stream, &drift);
            // Each drift is logged the first time it is seen; the counter counts every one.
            let mut seen = self.drift_seen.lock().unwrap_or_else(|e| e.into_inner());
            for (change, field, breaking) in drift_fields {
                let key = (batch.provider.clone(), batch.stream.clone(), change, field);
                if seen.len() < DRIFT_LOGGED && !seen.contains(&key) {
                    tracing::warn!(pipeline = %self.pipeline, provider = %batch.provider, stream = %batch.stream, change, field = %key.3, breaking, "schema drift");
                    seen.insert(key);
                }
            }
        }
        if let Some(writer) = &self.writer {
            let write = StoreWrite {
                batch,
                replay,
                received,
                passed,
                failed,
                rows,
                started,
            };
            // Waits while the writer has its fill: a stuck database stops the stage here.
            if let Err(e) = writer.send(write).await {
                tracing::error!(pipeline = %self.pipeline, stage = "store", "store writer stopped; batch dropped");
                let b = &e.0.batch;
                self.lost("writer_stopped", received, &[b.ticket], b.done.as_ref());
            }
            return;
        }
        self.settle(batch, replay, received, passed, failed, started.elapsed())
            .await;
    }

    /// Batches the stage lost: counted as dropped unintentionally, out of its queue, and their
    /// senders told not to count them as done.
    fn lost(&self, reason: &'static str, records: u64, tickets: &[u64], done: Option<&Completion>) {
        let stage = self.kind.as_str();
        self.metrics
            .stage_dropped(&self.pipeline, stage, reason, false, records);
        for t in tickets {
            self.queue.finish(*t);
        }
        if let Some(done) = done {
            done.spoil();
        }
    }

    /// The `store` stage's writer: writes batches in the order the stage prepared them, while
    /// the stage prepares the next (rows serialised on the blocking pool), then settles them.
    async fn write_loop(self, mut rx: tokio::sync::mpsc::Receiver<StoreWrite>) {
        while let Some(first) = rx.recv().await {
            // What has queued up meanwhile is written with it, in one statement where it fits:
            // one round trip to the database for several batches.
            let mut writes = vec![first];
            let mut n = writes[0].rows.len();
            while n < STORE_ROWS_PER_WRITE {
                match rx.try_recv() {
                    Ok(w) => {
                        n += w.rows.len();
                        writes.push(w);
                    }
                    Err(_) => break,
                }
            }
            let rows: Vec<crate::store::StoredRecord> = writes
                .iter_mut()
                .flat_map(|w| std::mem::take(&mut w.rows))
                .collect();
            let written = self.store.upsert_records(&rows, self.clock.now_ms()).await;
            if let Err(e) = &written {
                tracing::error!(pipeline = %self.pipeline, stage = "store", error = %e, records = rows.len(), "store stage failed; records sent to the DLQ");
            }
            for w in writes {
                let StoreWrite {
                    batch,
                    replay,
                    received,
                    mut passed,
                    mut failed,
                    rows: _,
                    started,
                } = w;
                if let Err(e) = &written {
                    for (r, id) in passed.drain(..) {
                        failed.push((r, id, ErrorClass::Server, format!("store failed: {e}")));
                    }
                }
                self.settle(batch, replay, received, passed, failed, started.elapsed())
                    .await;
            }
        }
    }

    /// Writes the batches as one JSON Lines object per provider and stream, then settles each.
    async fn export(self, batches: Vec<RecordBatch>) {
        let started = Instant::now();
        let tickets: Vec<u64> = batches.iter().map(|b| b.ticket).collect();
        let records = batches.iter().map(|b| b.records.len() as u64).sum();
        // Serialising is CPU work, done on the blocking pool.
        let serialised = tokio::task::spawn_blocking(move || {
            let mut objects: Objects = Vec::new();
            for b in &batches {
                let key = (b.provider.clone(), b.stream.clone());
                let at = match objects.iter().position(|(k, _, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        objects.push((key, Vec::new(), None));
                        objects.len() - 1
                    }
                };
                append_json_lines(&mut objects[at].1, &b.records);
            }
            (batches, objects)
        })
        .await;
        let (batches, mut objects) = match serialised {
            Ok(s) => s,
            Err(e) => {
                // The batches (and their completions, unsettled) went with the panic.
                tracing::error!(pipeline = %self.pipeline, stage = "export", error = %e, "export failed; batches dropped");
                self.lost("stage_panicked", records, &tickets, None);
                return;
            }
        };
        for ((provider, stream), body, result) in &mut objects {
            let key = object_key(
                provider,
                stream,
                self.clock.now_ms(),
                &crate::store::new_id(),
            );
            let written = match &self.exporter {
                Some(e) => e.put(&key, std::mem::take(body)).await,
                None => Err("no export directory configured".into()),
            };
            if let Err(e) = &written {
                tracing::error!(pipeline = %self.pipeline, stage = "export", object = %key, error = %e, "export failed; records sent to the DLQ");
            }
            *result = Some(written);
        }
        let elapsed = started.elapsed();
        let n = batches.len().max(1) as u32;
        for mut batch in batches {
            let records = std::mem::take(&mut batch.records);
            let ids: Vec<Option<String>> = std::mem::take(&mut batch.dlq_ids)
                .into_iter()
                .map(Some)
                .chain(std::iter::repeat(None))
                .take(records.len())
                .collect();
            let replay = ids.first().is_some_and(Option::is_some);
            let received = records.len() as u64;
            let result = objects
                .iter()
                .find(|((p, s), _, _)| *p == batch.provider && *s == batch.stream)
                .and_then(|(_, _, r)| r.clone())
                .unwrap_or(Ok(()));
            let (mut passed, mut failed): (Passed, Failed) = (Vec::new(), Vec::new());
            for (r, id) in records.into_iter().zip(ids) {
                match &result {
                    Ok(()) => passed.push((r, id)),
                    Err(e) => {
                        failed.push((r, id, ErrorClass::Server, format!("export failed: {e}")))
                    }
                }
            }
            // The write's time, shared by the batches in it.
            self.settle(batch, replay, received, passed, failed, elapsed / n)
                .await;
        }
    }

    /// After a stage function: failed records to the DLQ (or back to it, for a replay),
    /// replayed records that passed out of it, metrics, and the rest on to the next stage.
    async fn settle(
        &self,
        batch: RecordBatch,
        replay: bool,
        received: u64,
        passed: Passed,
        failed: Failed,
        elapsed: Duration,
    ) {
        let stage = self.kind.as_str();
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
                // The rest of the batch goes on; it leaves the queue when settled.
                let n = new_letters.len() as u64;
                self.lost("dlq_write_failed", n, &[], batch.done.as_ref());
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
            elapsed,
        );
        self.metrics.stage_heartbeat(&self.pipeline, stage, now);
        // Through this stage; the next one counts it from here.
        self.queue.finish(batch.ticket);
        match &self.next {
            Some(next) if !passed.is_empty() => {
                // The batch's completion travels on with it.
                let done = batch.done.clone();
                let out = RecordBatch {
                    records: passed.into_iter().map(|(r, _)| r).collect(),
                    dlq_ids: Vec::new(),
                    ticket: 0,
                    ..batch
                };
                if let Err(e) = next.send(out).await {
                    tracing::error!(pipeline = %self.pipeline, stage, error = %e, "next stage unavailable");
                    if let Some(done) = done {
                        done.spoil();
                    }
                }
            }
            // The last stage, or nothing left to pass on.
            _ => {
                if let Some(done) = &batch.done {
                    done.settle();
                }
            }
        }
    }
}

impl Handler<RecordBatch> for StageActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, batch: RecordBatch, _: &mut Self::Context) -> Self::Result {
        self.queue.start(batch.ticket);
        let work = self.work();
        // A replay is written at once: its caller waits for the outcome.
        if self.kind == StageKind::Export && batch.dlq_ids.is_empty() {
            self.buffer.records += batch.records.len();
            self.buffer.since.get_or_insert_with(Instant::now);
            self.buffer.batches.push(batch);
            if !self.buffer.due() {
                return AtomicResponse::new(Box::pin(actix::fut::ready(())));
            }
            let batches = self.buffer.take();
            return AtomicResponse::new(Box::pin(work.export(batches).into_actor(self)));
        }
        // Atomic: one batch at a time; the queue holds the ones waiting.
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
    schemas: Option<Arc<Schemas>>,
    store: &Store,
    metrics: &Metrics,
    clock: &Arc<dyn Clock>,
) -> Result<Vec<(StageKind, StageLink)>, String> {
    let exporter = match (&settings.export_dir, &settings.export_s3) {
        (Some(dir), _) => Some(Arc::new(Exporter::to_dir(dir)?)),
        (None, Some(s3)) => Some(Arc::new(Exporter::to_s3(s3)?)),
        (None, None) => None,
    };
    let mut next: Option<StageLink> = None;
    let mut links = Vec::new();
    for kind in settings.stages.iter().rev() {
        let capacity = settings.queue_capacity_batches as u64 * max_batch_records;
        let queue = Arc::new(StageQueue::new(
            &settings.name,
            kind.as_str(),
            settings.queue_capacity_batches,
            capacity,
        ));
        metrics.stage_capacity(&settings.name, kind.as_str(), capacity as f64);
        metrics.stage_queue(&settings.name, kind.as_str(), 0, Duration::ZERO);
        let actor = StageActor {
            pipeline: settings.name.clone(),
            kind: *kind,
            mailbox: settings.queue_capacity_batches,
            queue: queue.clone(),
            next: next.take(),
            transform: transform.clone().unwrap_or_default(),
            schemas: schemas.clone().unwrap_or_default(),
            drift_seen: Arc::default(),
            exporter: exporter.clone(),
            buffer: ExportBuffer {
                batches: Vec::new(),
                records: 0,
                since: None,
                max_records: settings.export_buffer_records,
                max_wait: settings.export_buffer_interval,
            },
            writer: None,
            store: store.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
        };
        let addr = actor.start();
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
