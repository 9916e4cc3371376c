//! `ProviderActor`: one per provider. Each connection syncs on the provider's schedule (spread
//! over the interval so connections do not fire together) or on demand; a connection never runs
//! two syncs at once; after a 429/503 with Retry-After no request goes to the provider before it
//! expires. Records go page by page to the pipeline with `send().await`, so a slow pipeline
//! slows the fetch loop down.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::Serialize;

use super::classify::FetchError;
use super::connector::{PageFetcher, Throttle};
use super::profile::Profile;
use crate::config::ProviderSettings;
use crate::domain::clock::rfc3339;
use crate::domain::{Clock, ErrorClass};
use crate::pipeline::{RecordBatch, StageLink};
use crate::store::{Store, SyncRun, new_id};
use crate::telemetry::Metrics;

/// Run a connection's sync now.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), SyncError>")]
pub struct SyncNow {
    pub connection: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    #[error("unknown connection {0}")]
    UnknownConnection(String),
    #[error("a sync of {0} is already running")]
    AlreadyRunning(String),
    #[error("the provider asked to wait until {0} (Retry-After)")]
    Throttled(String),
}

/// The state of every connection.
#[derive(Message)]
#[rtype(result = "Vec<ConnectionStatus>")]
pub struct GetStatus;

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStatus {
    pub connection: String,
    /// `scheduled`, `syncing`, `failing` or `rescheduled` (waiting out a Retry-After).
    pub state: &'static str,
    pub last_success: Option<String>,
    pub last_error: Option<LastError>,
    pub next_run: Option<String>,
    pub last_records: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub at: String,
    pub error_class: ErrorClass,
    pub reason: String,
}

#[derive(Debug, Default)]
struct Connection {
    /// When the running sync started, if one runs.
    running_since_ms: Option<i64>,
    last_success_ms: Option<i64>,
    last_error: Option<(i64, FetchError)>,
    next_run_ms: Option<i64>,
    last_records: u64,
}

pub struct ProviderActor {
    settings: ProviderSettings,
    profile: Arc<Profile>,
    client: reqwest::Client,
    pipeline: StageLink,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    connections: BTreeMap<String, Connection>,
    /// No request before this time (Retry-After), shared with running syncs.
    throttle: Arc<Throttle>,
}

impl ProviderActor {
    pub fn new(
        settings: ProviderSettings,
        profile: Arc<Profile>,
        client: reqwest::Client,
        pipeline: StageLink,
        store: Store,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let connections = settings
            .connections
            .iter()
            .map(|c| (c.clone(), Connection::default()))
            .collect();
        metrics.init_provider(&settings.name);
        Self {
            settings,
            profile,
            client,
            pipeline,
            store,
            metrics,
            clock,
            connections,
            throttle: Arc::default(),
        }
    }

    fn finish(&mut self, connection: &str, outcome: Outcome) {
        let now = self.clock.now_ms();
        let Some(c) = self.connections.get_mut(connection) else {
            return;
        };
        c.running_since_ms = None;
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
    records: u64,
    per_stream: Vec<(String, u64)>,
    duration: Duration,
    error: Option<FetchError>,
}

struct SyncJob {
    provider: String,
    base_url: String,
    connection: String,
    profile: Arc<Profile>,
    client: reqwest::Client,
    pipeline: StageLink,
    store: Store,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    throttle: Arc<Throttle>,
}

impl SyncJob {
    async fn run(self) -> Outcome {
        let started_ms = self.clock.now_ms();
        let started = Instant::now();
        let mut per_stream = Vec::new();
        let mut records = 0u64;
        let mut pages = 0usize;
        let mut error = None;
        'streams: for stream in &self.profile.streams {
            let mut fetcher = PageFetcher::new(
                &self.client,
                &self.provider,
                &self.base_url,
                &self.connection,
                &self.profile,
                stream,
                &self.metrics,
                self.clock.as_ref(),
                self.throttle.clone(),
            );
            let mut n = 0u64;
            loop {
                match fetcher.next_page().await {
                    Ok(Some(page)) => {
                        n += page.len() as u64;
                        if page.is_empty() {
                            continue;
                        }
                        let batch = RecordBatch {
                            provider: self.provider.clone(),
                            connection: self.connection.clone(),
                            stream: stream.name.clone(),
                            records: page,
                            ticket: 0,
                        };
                        if let Err(e) = self.pipeline.send(batch).await {
                            tracing::error!(provider = %self.provider, error = %e, "pipeline unavailable");
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e);
                        pages += fetcher.pages();
                        per_stream.push((stream.name.clone(), n));
                        records += n;
                        break 'streams;
                    }
                }
            }
            pages += fetcher.pages();
            per_stream.push((stream.name.clone(), n));
            records += n;
        }
        if error.as_ref().is_some_and(|e| e.deferred) {
            return Outcome {
                records,
                per_stream,
                duration: started.elapsed(),
                error,
            };
        }
        let run = SyncRun {
            id: new_id(),
            provider: self.provider.clone(),
            connection: self.connection.clone(),
            started_at_ms: started_ms,
            finished_at_ms: self.clock.now_ms(),
            records: records as i64,
            pages: pages as i64,
            error: error
                .as_ref()
                .map(|e: &FetchError| (e.class, e.reason.clone())),
        };
        if let Err(e) = self.store.insert_sync_run(&run).await {
            tracing::error!(provider = %self.provider, connection = %self.connection, error = %e, "cannot record sync run");
        }
        Outcome {
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
        let n = self.connections.len().max(1) as u32;
        let schedule = self.settings.schedule;
        let now = self.clock.now_ms();
        for name in self.connections.keys() {
            self.metrics
                .connection_schedule(&self.settings.name, name, schedule);
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
        let names: Vec<String> = self.connections.keys().cloned().collect();
        for (i, name) in names.into_iter().enumerate() {
            // Spread first runs over the interval: connection i starts at i/n of it.
            let offset = schedule * i as u32 / n;
            if let Some(c) = self.connections.get_mut(&name) {
                c.next_run_ms = Some(now + offset.as_millis() as i64);
            }
            ctx.run_later(offset, move |act, ctx| {
                ctx.notify(SyncNow {
                    connection: name.clone(),
                });
                ctx.run_interval(act.settings.schedule, move |_, ctx| {
                    ctx.notify(SyncNow {
                        connection: name.clone(),
                    });
                });
            });
        }
    }
}

impl Handler<SyncNow> for ProviderActor {
    type Result = Result<(), SyncError>;

    /// Starts the sync and answers at once; the sync runs on the actor's context.
    fn handle(&mut self, msg: SyncNow, ctx: &mut Self::Context) -> Self::Result {
        let now = self.clock.now_ms();
        let schedule_ms = self.settings.schedule.as_millis() as i64;
        let not_before = self.throttle.not_before_ms();
        let Some(c) = self.connections.get_mut(&msg.connection) else {
            return Err(SyncError::UnknownConnection(msg.connection));
        };
        if c.running_since_ms.is_some() {
            return Err(SyncError::AlreadyRunning(msg.connection));
        }
        if now < not_before {
            c.next_run_ms = Some(not_before.max(now + schedule_ms));
            return Err(SyncError::Throttled(rfc3339(not_before)));
        }
        c.running_since_ms = Some(now);
        c.next_run_ms = Some(now + schedule_ms);
        let connection = msg.connection.clone();
        let job = SyncJob {
            provider: self.settings.name.clone(),
            base_url: self.settings.base_url.clone(),
            connection: msg.connection,
            profile: self.profile.clone(),
            client: self.client.clone(),
            pipeline: self.pipeline.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock.clone(),
            throttle: self.throttle.clone(),
        };
        // Spawned, not awaited: connections of one provider sync concurrently.
        ctx.spawn(
            job.run()
                .into_actor(self)
                .map(move |outcome, act, _| act.finish(&connection, outcome)),
        );
        Ok(())
    }
}

impl Handler<GetStatus> for ProviderActor {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now_ms();
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
                } else if now < self.throttle.not_before_ms() {
                    "rescheduled"
                } else if failing {
                    "failing"
                } else {
                    "scheduled"
                };
                ConnectionStatus {
                    connection: name.clone(),
                    state,
                    last_success: c.last_success_ms.map(rfc3339),
                    last_error: c.last_error.as_ref().map(|(at, e)| LastError {
                        at: rfc3339(*at),
                        error_class: e.class,
                        reason: e.reason.clone(),
                    }),
                    next_run: c.next_run_ms.map(rfc3339),
                    last_records: c.last_records,
                }
            })
            .collect();
        MessageResult(out)
    }
}
