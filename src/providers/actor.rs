//! `ProviderActor`: one per provider. Each connection syncs on its own slot of the provider's
//! schedule, with jitter, or on demand ([`super::schedule::Scheduler`]); at most
//! `max_concurrent_syncs` run at once, the others wait their turn in order; paused connections
//! wait until resumed; a connection never runs two syncs at once; while a Retry-After runs or
//! the circuit is open nothing starts. Records go page by page to the pipeline with
//! `send().await`, so a slow pipeline slows the fetch loop down.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::Serialize;

use super::classify::FetchError;
use super::connector::ProviderClient;
use super::pagination::{Walker, cursor_text, max_cursor, shape};
use super::schedule::{Plan, Refused, Scheduler};
use crate::config::ProviderSettings;
use crate::domain::clock::rfc3339;
use crate::domain::duration::format_duration;
use crate::domain::{Clock, ErrorClass};
use crate::pipeline::{RecordBatch, StageLink, completion};
use crate::store::{Store, SyncRun, new_id};
use crate::telemetry::Metrics;

/// How often due connections are looked for.
const TICK: Duration = Duration::from_millis(50);

/// Run a connection's sync now: `started`, or `queued` behind the concurrency limit.
#[derive(Message, Debug)]
#[rtype(result = "Result<&'static str, SyncError>")]
pub struct SyncNow {
    pub connection: String,
}

/// Pause (`paused: true`) or resume a connection.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), SyncError>")]
pub struct SetPaused {
    pub connection: String,
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    #[error("unknown connection {0}")]
    UnknownConnection(String),
    #[error("a sync of {0} is already running")]
    AlreadyRunning(String),
    #[error("{0} is paused: resume it first")]
    Paused(String),
    #[error("the provider asked to wait until {0} (Retry-After or open circuit)")]
    Throttled(String),
    #[error("cannot save the pause: {0}")]
    Store(String),
}

/// The provider's circuit and the state of every connection.
#[derive(Message)]
#[rtype(result = "ProviderStatus")]
pub struct GetStatus;

#[derive(Debug, Clone, Serialize)]
pub struct ProviderStatus {
    /// `closed`, `half_open` or `open`.
    pub circuit: &'static str,
    pub connections: Vec<ConnectionStatus>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionStatus {
    pub connection: String,
    /// `scheduled`, `syncing`, `paused`, `failing` or `rescheduled` (waiting out a Retry-After
    /// or an open circuit).
    pub state: &'static str,
    /// How often it syncs, e.g. `30s`.
    pub schedule: String,
    pub last_success: Option<String>,
    pub last_error: Option<LastError>,
    pub next_run: Option<String>,
    pub last_records: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastError {
    pub at: String,
    #[schema(value_type = String)]
    pub error_class: ErrorClass,
    pub reason: String,
}

#[derive(Debug, Default)]
struct Connection {
    schedule: Duration,
    /// Stream → cursor, as saved: read from the store once at start, then kept here.
    cursors: BTreeMap<String, String>,
    /// When the running sync started, if one runs.
    running_since_ms: Option<i64>,
    last_success_ms: Option<i64>,
    last_error: Option<(i64, FetchError)>,
    last_records: u64,
}

/// What the store kept of a provider's connections across restarts.
#[derive(Debug, Default)]
pub struct Saved {
    /// The connections paused.
    pub paused: Vec<String>,
    /// Connection → stream → cursor.
    pub cursors: HashMap<String, BTreeMap<String, String>>,
}

pub struct ProviderActor {
    settings: ProviderSettings,
    /// HTTP client, credentials, rate limit, Retry-After and circuit, shared with running syncs.
    client: Arc<ProviderClient>,
    pipeline: StageLink,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    connections: BTreeMap<String, Connection>,
    scheduler: Scheduler,
}

impl ProviderActor {
    pub fn new(
        settings: ProviderSettings,
        client: Arc<ProviderClient>,
        pipeline: StageLink,
        store: Store,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
        saved: Saved,
    ) -> Self {
        let Saved {
            paused,
            mut cursors,
        } = saved;
        let connections = settings
            .connections
            .iter()
            .map(|c| {
                let conn = Connection {
                    schedule: c.schedule,
                    cursors: cursors.remove(&c.name).unwrap_or_default(),
                    ..Connection::default()
                };
                (c.name.clone(), conn)
            })
            .collect();
        metrics.init_provider(&settings.name);
        let plans: Vec<Plan> = settings
            .connections
            .iter()
            .map(|c| Plan {
                connection: c.name.clone(),
                interval_ms: c.schedule.as_millis() as i64,
                jitter_ms: c.jitter.as_millis() as i64,
            })
            .collect();
        let scheduler = Scheduler::new(
            &plans,
            client.profile.rate_limit.max_concurrent_syncs,
            &paused,
            clock.now_ms(),
            &mut || rand::random::<f64>(),
        );
        Self {
            settings,
            client,
            pipeline,
            store,
            metrics,
            clock,
            connections,
            scheduler,
        }
    }

    /// Starts what is due, as far as the concurrency limit, the Retry-After and the circuit
    /// allow.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now_ms();
        self.scheduler.tick(now);
        if self.client.blocked_until(now).is_some() {
            return;
        }
        for start in self.scheduler.startable() {
            let lag = Duration::from_millis((now - start.due_ms).max(0) as u64);
            self.metrics.schedule_lag(&self.settings.name, lag);
            self.start(start.connection, ctx);
        }
    }

    fn start(&mut self, connection: String, ctx: &mut Context<Self>) {
        let now = self.clock.now_ms();
        let Some(c) = self.connections.get_mut(&connection) else {
            return;
        };
        c.running_since_ms = Some(now);
        let job = SyncJob {
            connection: connection.clone(),
            cursor_before: c.cursors.clone(),
            client: self.client.clone(),
            pipeline: self.pipeline.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
        };
        // Spawned, not awaited: connections of one provider sync concurrently.
        ctx.spawn(job.run().into_actor(self).map(move |outcome, act, ctx| {
            act.finish(&connection, outcome);
            act.scheduler
                .finished(&connection, act.clock.now_ms(), rand::random::<f64>());
            act.pump(ctx);
        }));
    }

    fn finish(&mut self, connection: &str, outcome: Outcome) {
        let now = self.clock.now_ms();
        let Some(c) = self.connections.get_mut(connection) else {
            return;
        };
        c.running_since_ms = None;
        if let Some(cursors) = outcome.cursors {
            c.cursors = cursors;
        }
        self.metrics
            .sync_in_progress(&self.settings.name, connection, Duration::ZERO);
        if outcome.error.as_ref().is_some_and(|e| e.deferred) {
            // Nothing was asked of the provider: not a sync, not a failure.
            return;
        }
        c.last_records = outcome.records;
        let failure = outcome.error.as_ref().map(|e| e.class);
        self.metrics.sync_finished(
            &self.settings.name,
            connection,
            &outcome.per_stream,
            outcome.duration,
            failure,
            now,
        );
        match outcome.error {
            None => {
                c.last_success_ms = Some(now);
                tracing::debug!(provider = %self.settings.name, connection, records = outcome.records, "sync succeeded");
            }
            Some(e) => {
                let changed = c
                    .last_error
                    .as_ref()
                    .is_none_or(|(_, prev)| prev.class != e.class)
                    || c.last_success_ms > c.last_error.as_ref().map(|(t, _)| *t);
                if changed {
                    tracing::warn!(provider = %self.settings.name, connection, error_class = %e.class, reason = %e.reason, "sync failing");
                }
                c.last_error = Some((now, e));
            }
        }
    }
}

struct Outcome {
    /// The cursors saved by the sync (the ones it began with when it saved none).
    cursors: Option<BTreeMap<String, String>>,
    records: u64,
    per_stream: Vec<(String, u64)>,
    duration: Duration,
    error: Option<FetchError>,
}

struct SyncJob {
    connection: String,
    cursor_before: BTreeMap<String, String>,
    client: Arc<ProviderClient>,
    pipeline: StageLink,
    store: Store,
    clock: Arc<dyn Clock>,
}

impl SyncJob {
    async fn run(self) -> Outcome {
        let provider = self.client.name.clone();
        let started_ms = self.clock.now_ms();
        let started = Instant::now();
        let mut per_stream = Vec::new();
        let mut records = 0u64;
        let mut pages = 0usize;
        let mut error = None;
        let cursor_before = self.cursor_before;
        let mut cursor_after = cursor_before.clone();
        'streams: for stream in &self.client.profile.streams {
            let since = cursor_before
                .get(&stream.name)
                .cloned()
                .or_else(|| stream.incremental.as_ref().and_then(|i| i.start.clone()));
            let mut newest = cursor_before.get(&stream.name).cloned();
            // The cursor's format: the saved cursor's, or the first value's.
            let mut cursor_shape = newest.as_deref().map(shape);
            let mut drifted: (u64, Option<String>) = (0, None);
            let mut walker = Walker::new(&stream.pagination);
            let mut n = 0u64;
            // The stream's pages in the pipeline: its cursor moves once they are through.
            let mut in_pipeline = Vec::new();
            while let Some(position) = walker.next().cloned() {
                if walker.pages() >= stream.pagination.max_pages {
                    error = Some(FetchError {
                        class: ErrorClass::Config,
                        reason: format!(
                            "stream {} has more than {} pages: raise pagination.max_pages",
                            stream.name, stream.pagination.max_pages
                        ),
                        status: None,
                        retry_after: None,
                        deferred: false,
                    });
                    break;
                }
                let page = match self
                    .client
                    .fetch(&self.connection, stream, &position, since.as_deref())
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                };
                walker.advance(&page.body, page.records.len(), page.link.as_deref());
                if let Some(inc) = &stream.incremental {
                    for r in &page.records {
                        let Some(v) = r.pointer(&inc.cursor_field) else {
                            continue;
                        };
                        let Some(text) = cursor_text(v) else { continue };
                        let s = shape(&text);
                        match &cursor_shape {
                            Some(expected) if *expected != s => {
                                drifted.0 += 1;
                                drifted.1.get_or_insert(text);
                            }
                            _ => {
                                cursor_shape.get_or_insert(s);
                                newest = max_cursor(newest, v);
                            }
                        }
                    }
                }
                n += page.records.len() as u64;
                if page.records.is_empty() {
                    continue;
                }
                let (done, finished) = completion();
                let batch = RecordBatch {
                    provider: provider.clone(),
                    connection: self.connection.clone(),
                    stream: stream.name.clone(),
                    records: page.records,
                    dlq_ids: Vec::new(),
                    ticket: 0,
                    done: Some(done),
                };
                // Waits for room in the first stage's queue (backpressure), not for the
                // pipeline: the next page is fetched while this one goes through.
                match self.pipeline.send(batch).await {
                    Ok(()) => in_pipeline.push(finished),
                    Err(e) => {
                        tracing::error!(provider = %provider, error = %e, "pipeline unavailable")
                    }
                }
            }
            // Stored (or in the DLQ) before the cursor moves past them.
            let mut abandoned = 0;
            for f in in_pipeline {
                if !f.wait().await {
                    abandoned += 1;
                }
            }
            if abandoned > 0 && error.is_none() {
                error = Some(FetchError {
                    class: ErrorClass::Server,
                    reason: format!(
                        "{abandoned} pages of {} did not get through the pipeline (see its log); the cursor was not moved",
                        stream.name
                    ),
                    status: None,
                    retry_after: None,
                    deferred: false,
                });
            }
            pages += walker.pages();
            per_stream.push((stream.name.clone(), n));
            records += n;
            if let (count @ 1.., Some(example)) = drifted
                && error.is_none()
            {
                let field = stream
                    .incremental
                    .as_ref()
                    .map_or("", |i| i.cursor_field.as_str());
                error = Some(FetchError {
                    class: ErrorClass::Schema,
                    reason: format!(
                        "format drift: {count} records of {} have {field} in another format than the cursor (e.g. {example:?}); the cursor was not moved",
                        stream.name
                    ),
                    status: None,
                    retry_after: None,
                    deferred: false,
                });
            }
            if error.is_some() {
                break 'streams;
            }
            // Every page of the stream came: the next sync asks only for what is newer.
            if let Some(c) = newest
                && cursor_before.get(&stream.name) != Some(&c)
            {
                if let Err(e) = self
                    .store
                    .save_cursor(
                        &provider,
                        &self.connection,
                        &stream.name,
                        &c,
                        self.clock.now_ms(),
                    )
                    .await
                {
                    tracing::error!(provider = %provider, connection = %self.connection, error = %e, "cannot save the sync cursor");
                } else {
                    cursor_after.insert(stream.name.clone(), c);
                }
            }
        }
        if error.as_ref().is_some_and(|e| e.deferred) && pages == 0 {
            return Outcome {
                cursors: None,
                records,
                per_stream,
                duration: started.elapsed(),
                error,
            };
        }
        let run = SyncRun {
            id: new_id(),
            provider: provider.clone(),
            connection: self.connection.clone(),
            started_at_ms: started_ms,
            finished_at_ms: self.clock.now_ms(),
            records: records as i64,
            pages: pages as i64,
            error: error
                .as_ref()
                .map(|e: &FetchError| (e.class, e.reason.clone())),
            cursor_before,
            cursor_after: cursor_after.clone(),
        };
        if let Err(e) = self.store.insert_sync_run(&run).await {
            tracing::error!(provider = %provider, connection = %self.connection, error = %e, "cannot record sync run");
        }
        Outcome {
            cursors: Some(cursor_after),
            records,
            per_stream,
            duration: started.elapsed(),
            error,
        }
    }
}

impl Actor for ProviderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        for (name, c) in &self.connections {
            self.metrics
                .connection_schedule(&self.settings.name, name, c.schedule);
            self.metrics
                .sync_in_progress(&self.settings.name, name, Duration::ZERO);
        }
        // A running sync's age, every second, so a stuck sync shows before it ends.
        ctx.run_interval(Duration::from_secs(1), |act, _| {
            let now = act.clock.now_ms();
            for (name, c) in &act.connections {
                if let Some(since) = c.running_since_ms {
                    let age = Duration::from_millis((now - since).max(0) as u64);
                    act.metrics.sync_in_progress(&act.settings.name, name, age);
                }
            }
        });
        ctx.run_interval(TICK, |act, ctx| act.pump(ctx));
    }
}

impl Handler<SyncNow> for ProviderActor {
    type Result = Result<&'static str, SyncError>;

    /// Queues the sync first in line and answers at once; it starts now unless the
    /// concurrency limit is reached.
    fn handle(&mut self, msg: SyncNow, ctx: &mut Self::Context) -> Self::Result {
        let now = self.clock.now_ms();
        if !self.connections.contains_key(&msg.connection) {
            return Err(SyncError::UnknownConnection(msg.connection));
        }
        if let Some(until) = self.client.blocked_until(now) {
            return Err(SyncError::Throttled(rfc3339(until)));
        }
        match self.scheduler.run_now(&msg.connection) {
            Ok(()) => {}
            Err(Refused::Running) => return Err(SyncError::AlreadyRunning(msg.connection)),
            Err(Refused::Paused) => return Err(SyncError::Paused(msg.connection)),
            Err(Refused::Unknown) => return Err(SyncError::UnknownConnection(msg.connection)),
        }
        self.pump(ctx);
        Ok(if self.scheduler.is_queued(&msg.connection) {
            "queued"
        } else {
            "started"
        })
    }
}

impl Handler<SetPaused> for ProviderActor {
    type Result = ResponseActFuture<Self, Result<(), SyncError>>;

    /// Saves the pause first, so it holds across a restart, then applies it.
    fn handle(&mut self, msg: SetPaused, _: &mut Self::Context) -> Self::Result {
        if !self.connections.contains_key(&msg.connection) {
            return Box::pin(actix::fut::ready(Err(SyncError::UnknownConnection(
                msg.connection,
            ))));
        }
        let store = self.store.clone();
        let provider = self.settings.name.clone();
        let now = self.clock.now_ms();
        Box::pin(
            async move {
                store
                    .set_paused(&provider, &msg.connection, msg.paused, now)
                    .await
                    .map_err(|e| SyncError::Store(e.to_string()))?;
                Ok(msg)
            }
            .into_actor(self)
            .map(|saved: Result<SetPaused, SyncError>, act, ctx| {
                let msg = saved?;
                let now = act.clock.now_ms();
                let applied = if msg.paused {
                    act.scheduler.pause(&msg.connection)
                } else {
                    act.scheduler.resume(&msg.connection, now)
                };
                applied.map_err(|_| SyncError::UnknownConnection(msg.connection.clone()))?;
                tracing::info!(provider = %act.settings.name, connection = %msg.connection, paused = msg.paused, "connection pause changed");
                act.pump(ctx);
                Ok(())
            }),
        )
    }
}

impl Handler<GetStatus> for ProviderActor {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now_ms();
        let circuit = self.client.circuit();
        let out = self
            .connections
            .iter()
            .map(|(name, c)| {
                let failing = match (&c.last_error, c.last_success_ms) {
                    (Some((err_at, _)), Some(ok_at)) => *err_at > ok_at,
                    (Some(_), None) => true,
                    _ => false,
                };
                let state = if c.running_since_ms.is_some() {
                    "syncing"
                } else if self.scheduler.is_paused(name) {
                    "paused"
                } else if self.client.blocked_until(now).is_some() {
                    "rescheduled"
                } else if failing {
                    "failing"
                } else {
                    "scheduled"
                };
                ConnectionStatus {
                    connection: name.clone(),
                    state,
                    schedule: format_duration(c.schedule),
                    last_success: c.last_success_ms.map(rfc3339),
                    last_error: c.last_error.as_ref().map(|(at, e)| LastError {
                        at: rfc3339(*at),
                        error_class: e.class,
                        reason: e.reason.clone(),
                    }),
                    next_run: self.scheduler.next_run_ms(name).map(rfc3339),
                    last_records: c.last_records,
                }
            })
            .collect();
        MessageResult(ProviderStatus {
            circuit: circuit.as_str(),
            connections: out,
        })
    }
}
