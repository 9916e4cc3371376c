//! Builds the running application from validated settings: loads the files the config names,
//! connects the store, starts the actors (rules, dispatch, tickets, runbook search, pipelines,
//! providers), the embedded simulator when enabled, and the HTTP server.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;

use crate::alerting::{AlertingConfig, DispatchActor, RestoreFiring};
use crate::api::{self, AppState};
use crate::config::{Env, Problems, Settings};
use crate::domain::{Clock, Labels};
use crate::notify::outbox::OutboxActor;
use crate::notify::receivers::build_receivers;
use crate::pipeline::{build_pipeline, spawn_queue_reporter};
use crate::providers::{Profile, ProviderActor, load_profile};
use crate::rules::reload::spawn_reloader;
use crate::rules::{RuleGroup, RulesActor, RulesOptions, RulesStatus, load_rule_files};
use crate::runbooks::{Runbook, RunbookIndex, RunbookSearcher, load_runbooks};
use crate::simulator::scenario::{FaultSpec, load_scenario};
use crate::simulator::{self, Simulator};
use crate::store::Store;
use crate::telemetry::{Metrics, MetricsRegistry};
use crate::tickets::TicketActor;

/// Everything the config points at, loaded and validated.
pub struct Loaded {
    pub rule_groups: Vec<RuleGroup>,
    pub alerting: AlertingConfig,
    pub runbooks: Vec<Runbook>,
    pub profiles: BTreeMap<String, Profile>,
    /// Pipeline → its transform stage's mapping.
    pub transforms: BTreeMap<String, Arc<crate::pipeline::transform::Transform>>,
    /// Pipeline → its validate stage's JSON Schemas.
    pub schemas: BTreeMap<String, Arc<crate::pipeline::schema::Schemas>>,
    pub scenario: Vec<FaultSpec>,
    pub slos: Vec<crate::slo::Slo>,
    /// The SLOs' burn-rate and no-data alerts, evaluated beside the rule files' groups.
    pub slo_alerts: Vec<RuleGroup>,
    /// What `syncwatch check` reports without failing (files named but missing here).
    pub warnings: Vec<crate::config::Problem>,
}

/// Loads every file the settings name to run them; reports all problems of all files.
pub fn load_all(settings: &Settings, env: Env<'_>) -> Result<Loaded, Problems> {
    load_all_with(settings, env, crate::config::loader::Mode::Serve)
}

/// [`load_all`] for `serve` or for `check` (see [`crate::config::loader::Mode`]).
pub fn load_all_with(
    settings: &Settings,
    env: Env<'_>,
    mode: crate::config::loader::Mode,
) -> Result<Loaded, Problems> {
    fn take<T>(r: Result<T, Problems>, problems: &mut Vec<crate::config::Problem>) -> Option<T> {
        r.map_err(|p| problems.extend(p.0)).ok()
    }
    let mut problems = Vec::new();
    let rule_groups = take(load_rule_files(&settings.rules.files), &mut problems);
    let (alerting, warnings) = match take(
        crate::alerting::config::load_with(&settings.alerting.config, env, mode),
        &mut problems,
    ) {
        Some((a, w)) => (Some(a), w),
        None => (None, Vec::new()),
    };
    let runbooks = take(load_runbooks(&settings.runbooks.dir), &mut problems);
    let slos = take(
        crate::slo::load_slo_files(&settings.slo.files),
        &mut problems,
    );
    let slo_alerts = match &slos {
        Some(slos) => take(crate::slo::generate::in_app_groups(slos), &mut problems),
        None => Some(Vec::new()),
    };
    let mut profiles = BTreeMap::new();
    for p in &settings.providers {
        if let Some(profile) = take(load_profile(&p.profile, env), &mut problems) {
            profiles.insert(p.name.clone(), profile);
        }
    }
    let mut transforms = BTreeMap::new();
    for p in &settings.pipelines {
        if let Some(path) = &p.transform
            && let Some(t) = take(crate::pipeline::transform::load(path), &mut problems)
        {
            transforms.insert(p.name.clone(), Arc::new(t));
        }
    }
    let mut schemas = BTreeMap::new();
    for p in &settings.pipelines {
        if let Some(dir) = &p.schemas_dir
            && let Some(s) = take(crate::pipeline::schema::load_dir(dir), &mut problems)
        {
            schemas.insert(p.name.clone(), Arc::new(s));
        }
    }
    let scenario = match (&settings.simulator.scenario, settings.simulator.enabled) {
        (Some(path), true) => take(load_scenario(path), &mut problems),
        _ => Some(Vec::new()),
    };
    match (rule_groups, alerting, runbooks, scenario, slos, slo_alerts) {
        (
            Some(rule_groups),
            Some(alerting),
            Some(runbooks),
            Some(scenario),
            Some(slos),
            Some(slo_alerts),
        ) if problems.is_empty() => Ok(Loaded {
            rule_groups,
            alerting,
            runbooks,
            profiles,
            transforms,
            schemas,
            scenario,
            slos,
            slo_alerts,
            warnings,
        }),
        _ => Err(Problems(problems)),
    }
}

/// A running application.
pub struct Application {
    port: u16,
    metrics: Metrics,
    simulator_port: Option<u16>,
    server: Server,
    simulator: Option<actix_web::dev::ServerHandle>,
    /// What a shutdown drains, in order.
    dispatch: Addr<DispatchActor>,
    outbox: Addr<OutboxActor>,
    store: Store,
}

/// How long a shutdown waits for each step: HTTP requests under way, flushes being written,
/// deliveries under way (one attempt's own limit), and the store's connections.
const SHUTDOWN_HTTP: u64 = 10;
const SHUTDOWN_FLUSHES: Duration = Duration::from_secs(10);
const SHUTDOWN_STORE: Duration = Duration::from_secs(5);

impl Application {
    /// Starts everything. Must run inside an actix system (`#[actix_web::main]`).
    pub async fn build(
        settings: Settings,
        clock: Arc<dyn Clock>,
        env: Env<'_>,
    ) -> anyhow::Result<Self> {
        // One crypto provider (ring) for every TLS client in the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Taken before the rule files are read: a change made while starting is reloaded.
        let rules_version = crate::rules::reload::files_version(&settings.rules.files);
        let alerting_version =
            crate::rules::reload::files_version(&[settings.alerting.config.display().to_string()]);
        let alerting_text = std::fs::read_to_string(&settings.alerting.config).unwrap_or_default();
        let loaded =
            load_all(&settings, env).map_err(|p| anyhow::anyhow!("invalid configuration:\n{p}"))?;
        // Bind before any actor starts, so a busy port fails cleanly.
        let listener = TcpListener::bind(settings.server.listen).with_context(|| {
            format!(
                "Failed to bind the HTTP server to {}",
                settings.server.listen
            )
        })?;
        let sim_listener = match settings.simulator.enabled {
            true => Some(
                TcpListener::bind(settings.simulator.listen).with_context(|| {
                    format!(
                        "Failed to bind the simulator to {}",
                        settings.simulator.listen
                    )
                })?,
            ),
            false => None,
        };
        let store = Store::connect(&settings.storage.url)
            .await
            .with_context(|| {
                format!(
                    "Failed to open the store at {}",
                    crate::domain::secret::redact_url(&settings.storage.url)
                )
            })?;
        let registry = Arc::new(MetricsRegistry::new());
        let metrics = Metrics::new(registry.clone());
        metrics.ticket_counters_at_zero();
        let public_url = settings.server.public_url.clone();

        let names = known_names(&settings, &loaded);
        let Knowledge {
            index,
            searcher,
            assistant,
        } = start_knowledge(&settings, loaded.runbooks, &names, &store, &clock, &metrics)?;
        let silences: crate::alerting::Silences = Arc::new(RwLock::new(
            store
                .load_silences()
                .await
                .context("Failed to read silences")?,
        ));
        let receivers = Arc::new(
            build_receivers(&loaded.alerting.receivers, Some(&store))
                .map_err(anyhow::Error::msg)?,
        );
        // One node uses this store: whatever a previous process was sending when it stopped is
        // waiting again (it may have reached its receiver: delivery is at least once).
        let released = store
            .release_outbox_claims()
            .await
            .context("Failed to read the outbox")?;
        if released > 0 {
            tracing::info!(
                notifications = released,
                "notifications that were being sent at the last stop will be sent again"
            );
        }
        let ticket_webhooks: crate::notify::outbox::TicketWebhooks = Arc::new(
            settings
                .tickets
                .webhooks
                .iter()
                .map(|w| {
                    crate::notify::ticket_webhook::TicketWebhook::new(w.clone())
                        .map(|t| (w.name.clone(), Arc::new(t)))
                })
                .collect::<Result<_, _>>()
                .map_err(anyhow::Error::msg)?,
        );
        // Sends what is in the outbox, including what was pending before a restart.
        let outbox = OutboxActor::new(
            store.clone(),
            receivers.clone(),
            metrics.clone(),
            clock.clone(),
        )
        .with_ticket_webhooks(ticket_webhooks.clone())
        .start();
        if !ticket_webhooks.is_empty() {
            // Each webhook's place in the feed exists before anything is served: a webhook
            // new to this store gets every event from this start on.
            for name in ticket_webhooks.keys() {
                store
                    .ticket_webhook_cursor(name)
                    .await
                    .context("Failed to read the ticket webhooks' cursors")?;
            }
            crate::tickets::webhooks::WebhookForwarder::new(
                store.clone(),
                ticket_webhooks,
                clock.clone(),
                public_url.clone(),
                Some(outbox.clone()),
            )
            .start();
        }
        let tickets = TicketActor::new(
            store.clone(),
            clock.clone(),
            index.clone(),
            metrics.clone(),
            public_url.clone(),
        )
        .with_close_after(settings.tickets.close_after)
        .with_receivers(receivers.clone(), Some(outbox.clone()))
        .start();
        let notification_log = store
            .load_notification_log(
                clock.now_ms() - crate::alerting::NOTIFICATION_LOG_RETENTION.as_millis() as i64,
            )
            .await
            .context("Failed to read the notification log")?;
        let backlog = crate::alerting::backlog::StoreBacklog::new(metrics.clone());
        let dispatch = DispatchActor::new(
            loaded.alerting,
            receivers,
            crate::alerting::actor::FlushSinks {
                tickets: tickets.clone(),
                outbox: outbox.clone(),
                store: store.clone(),
                backlog: backlog.clone(),
            },
            silences.clone(),
            clock.clone(),
            public_url.clone(),
            notification_log,
        )
        .with_inhibit_rules(
            crate::slo::generate::tier_inhibition(&loaded.slos)
                .into_iter()
                .collect(),
        )
        .start();
        let linker = {
            let index = index.clone();
            let base = public_url.clone();
            Arc::new(move |l: &Labels| {
                index
                    .exact(l)
                    .map(|rb| format!("{base}/api/v1/runbooks/{}", rb.id))
            })
        };
        let rules_status = Arc::new(RwLock::new(RulesStatus::default()));
        let restored = store
            .load_alert_states()
            .await
            .context("Failed to read persisted alert state")?;
        let ledger = Arc::new(crate::slo::ledger::SharedLedger::new());
        let rules = RulesActor::new(
            loaded
                .rule_groups
                .into_iter()
                .chain(loaded.slo_alerts.iter().cloned())
                .collect(),
            restored,
            registry.live().clone(),
            clock.clone(),
            dispatch.clone().recipient(),
            Some(store.clone()),
            metrics.clone(),
            RulesOptions {
                interval: settings.rules.evaluation_interval,
                min_retention: settings.rules.min_retention,
                max_series: settings.rules.max_series,
                generator_url: format!("{public_url}/api/v1/alerts"),
            },
            linker,
            rules_status.clone(),
        )
        .with_slos(
            crate::slo::recorder::SliRecorder::new(&loaded.slos),
            settings.slo.timezone.clone(),
            loaded.slo_alerts,
            ledger.clone(),
        );
        // Firing alerts restored from before a restart go to the dispatcher, whose notification
        // log knows which were paged (no second page, their resolution still sent) and which
        // were not yet (paged now).
        let restored_firing = rules.firing_alerts();
        if !restored_firing.is_empty() {
            dispatch
                .send(RestoreFiring(restored_firing))
                .await
                .context("dispatcher unavailable")?;
        }
        let rule_alerts = rules.published_alerts();
        let rules = rules.start();
        let dispatch_addr = dispatch.clone();
        let dispatch_addr_for_shutdown = dispatch.clone();
        let outbox_for_shutdown = outbox.clone();
        let store_for_shutdown = store.clone();
        spawn_reloader(
            settings.rules.files.clone(),
            rules_version,
            settings.rules.watch_interval,
            rules.clone(),
            rules_status.clone(),
            metrics.clone(),
        );
        let alerting_status = Arc::new(RwLock::new(crate::alerting::reload::AlertingStatus {
            original: crate::alerting::config::redacted_yaml(&alerting_text),
            last_reload_error: None,
        }));
        crate::alerting::reload::spawn_reloader(
            settings.alerting.config.clone(),
            alerting_version,
            settings.rules.watch_interval,
            crate::alerting::reload::Targets {
                dispatch: dispatch.clone(),
                outbox,
                tickets: tickets.clone(),
                store: store.clone(),
                status: alerting_status.clone(),
                metrics: metrics.clone(),
            },
        );

        let mut all_queues = Vec::new();
        let mut links = BTreeMap::new();
        let mut stage_links = BTreeMap::new();
        for p in &settings.pipelines {
            let max_batch = settings
                .providers
                .iter()
                .filter(|pr| pr.pipeline == p.name)
                .filter_map(|pr| loaded.profiles.get(&pr.name))
                .map(|prof| prof.page_size() as u64)
                .max()
                .unwrap_or(1);
            let transform = loaded.transforms.get(&p.name).cloned();
            let schemas = loaded.schemas.get(&p.name).cloned();
            let stages = build_pipeline(p, max_batch, transform, schemas, &store, &metrics, &clock)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("Failed to start pipeline {}", p.name))?;
            all_queues.extend(stages.iter().map(|(_, l)| l.queue.clone()));
            links.insert(p.name.clone(), stages[0].1.clone());
            for (kind, link) in stages {
                stage_links.insert((p.name.clone(), kind.as_str().to_string()), link);
            }
        }
        spawn_queue_reporter(all_queues, metrics.clone(), clock.clone());

        let (simulator, simulator_port) = if let Some(listener) = sim_listener {
            let port = listener.local_addr()?.port();
            let sim = Simulator::new(clock.clone());
            for f in &loaded.scenario {
                sim.add_fault(f);
            }
            tracing::info!(listen = %listener.local_addr()?, faults = loaded.scenario.len(), "provider simulator started");
            let server = simulator::start(listener, sim)?;
            let handle = server.handle();
            // The server only serves while its future is polled.
            actix::spawn(server);
            (Some(handle), Some(port))
        } else {
            (None, None)
        };

        let mut providers = BTreeMap::new();
        for p in &settings.providers {
            let (Some(profile), Some(link)) =
                (loaded.profiles.get(&p.name), links.get(&p.pipeline))
            else {
                continue;
            };
            let client = crate::providers::connector::ProviderClient::new(
                &p.name,
                &p.base_url,
                Arc::new(profile.clone()),
                metrics.clone(),
                clock.clone(),
            )
            .with_context(|| format!("Failed to build the HTTP client of provider {}", p.name))?;
            let paused = store
                .paused_connections(&p.name)
                .await
                .context("Failed to read paused connections")?;
            let cursors = store
                .load_cursors(&p.name)
                .await
                .context("Failed to read the sync cursors")?;
            let addr = ProviderActor::new(
                p.clone(),
                Arc::new(client),
                link.clone(),
                store.clone(),
                metrics.clone(),
                clock.clone(),
                crate::providers::actor::Saved { paused, cursors },
            )
            .start();
            providers.insert(p.name.clone(), addr);
        }

        // The exporter's histogram buffers need draining now and then.
        {
            let registry = registry.clone();
            actix::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    registry.run_upkeep();
                }
            });
        }

        let internal_stages = settings
            .pipelines
            .iter()
            .flat_map(|p| {
                p.stages
                    .iter()
                    .map(|s| (p.name.clone(), s.as_str().to_string()))
            })
            .collect();
        let events = Arc::new(crate::pipeline::events::EventSink::new(
            internal_stages,
            metrics.clone(),
        ));
        let slo_catalog = Arc::new(crate::slo::report::SloCatalog {
            slos: loaded.slos,
            timezone: settings.slo.timezone.clone(),
        });
        let state = web::Data::new(AppState {
            store: store.clone(),
            registry,
            metrics: metrics.clone(),
            rules,
            rule_alerts,
            providers,
            runbooks: index,
            searcher,
            public_url,
            tokens: settings.api.tokens.clone(),
            metrics_need_token: settings.api.metrics_need_token,
            rules_status,
            silences,
            clock: clock.clone(),
            dispatch: dispatch_addr,
            alerting_status,
            started_at_ms: clock.now_ms(),
            events,
            stages: stage_links,
            backlog,
            slos: slo_catalog.clone(),
            ledger: ledger.clone(),
            assistant,
            sessions: Arc::default(),
        });
        crate::slo::gauges::spawn(
            store.clone(),
            slo_catalog,
            ledger,
            metrics.clone(),
            clock.clone(),
        );
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(|req, srv| {
                    use actix_web::dev::Service as _;
                    let (method, path) = (req.method().to_string(), req.path().to_string());
                    let started = std::time::Instant::now();
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        tracing::debug!(%method, %path, status = res.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "http request");
                        Ok(res)
                    }
                })
                // A POST with an Idempotency-Key answered once (after the token is checked).
                .wrap(actix_web::middleware::from_fn(api::idempotency::replay))
                // Every route's token and scope, before the route (and its body) is read.
                .wrap(actix_web::middleware::from_fn(api::auth::authorize))
                .app_data(state.clone())
                .configure(crate::web::configure)
                .configure(api::configure)
        })
        .workers(2)
        .shutdown_timeout(SHUTDOWN_HTTP)
        .listen(listener)?
        .run();
        tracing::info!(listen = %settings.server.listen, port, "syncwatch listening");
        Ok(Self {
            port,
            metrics,
            simulator_port,
            server,
            simulator,
            dispatch: dispatch_addr_for_shutdown,
            outbox: outbox_for_shutdown,
            store: store_for_shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application's metrics recorder.
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    pub fn simulator_port(&self) -> Option<u16> {
        self.simulator_port
    }

    /// Runs until the HTTP server stops (Ctrl-C / SIGTERM), then shuts down in order: intake
    /// stops (HTTP requests under way finish), groups with something not yet notified are
    /// flushed and their writes awaited, deliveries under way are recorded, and the store's
    /// connections are closed. Each step is bounded; what a step abandons (a store that is
    /// down) is redone after the restart: outbox rows stay pending, alert state and sync
    /// cursors are in the store. The caller should exit right after: tasks still running are
    /// abandoned work, not to be dropped outside the runtime.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        tracing::info!("shutting down");
        if let Some(sim) = self.simulator {
            sim.stop(true).await;
        }
        let drain = crate::alerting::actor::Drain {
            within: SHUTDOWN_FLUSHES,
        };
        if !matches!(self.dispatch.send(drain).await, Ok(true)) {
            tracing::warn!(
                "flushes still being written at shutdown; they are redone after the restart"
            );
        }
        let drain = crate::notify::outbox::Drain {
            within: crate::notify::outbox::DELIVERY_TIMEOUT,
        };
        if !matches!(self.outbox.send(drain).await, Ok(true)) {
            tracing::warn!(
                "deliveries still under way at shutdown; they are sent again after the restart"
            );
        }
        if tokio::time::timeout(SHUTDOWN_STORE, self.store.close())
            .await
            .is_err()
        {
            tracing::warn!("store connections still in use at shutdown");
        }
        tracing::info!("stopped");
        result
    }
}

/// The names the runbook assistant should recognise in questions: configured providers and
/// their connections, and the alerts of the rule files and SLOs.
pub fn known_names(settings: &Settings, loaded: &Loaded) -> crate::runbooks::index::KnownNames {
    crate::runbooks::index::KnownNames {
        providers: settings.providers.iter().map(|p| p.name.clone()).collect(),
        connections: settings
            .providers
            .iter()
            .flat_map(|p| {
                p.connections
                    .iter()
                    .map(|c| (c.name.clone(), p.name.clone()))
            })
            .collect(),
        alerts: loaded
            .rule_groups
            .iter()
            .chain(&loaded.slo_alerts)
            .flat_map(|g| &g.rules)
            .filter(|r| matches!(r.kind, crate::rules::file::RuleKind::Alerting { .. }))
            .map(|r| r.name.clone())
            .collect(),
    }
}

/// The runbook and past-ticket indexes, their search thread and the assistant.
struct Knowledge {
    index: Arc<RunbookIndex>,
    searcher: Addr<RunbookSearcher>,
    assistant: Arc<crate::runbooks::assistant::Assistant>,
}

/// Indexes the runbooks, starts the search thread, and the tasks that keep the knowledge
/// current: the ticket index following the ticket feed, the runbook vectors (with
/// `[assistant.embeddings]`), and the expiry of answers without feedback.
fn start_knowledge(
    settings: &Settings,
    runbooks: Vec<Runbook>,
    names: &crate::runbooks::index::KnownNames,
    store: &Store,
    clock: &Arc<dyn Clock>,
    metrics: &Metrics,
) -> anyhow::Result<Knowledge> {
    let index =
        Arc::new(RunbookIndex::build_with(runbooks, names).context("Failed to index runbooks")?);
    let past_tickets = Arc::new(
        crate::runbooks::past_tickets::TicketIndex::new()
            .context("Failed to create the ticket index")?,
    );
    let searcher = {
        let (runbooks, tickets) = (index.clone(), past_tickets.clone());
        SyncArbiter::start(1, move || RunbookSearcher {
            runbooks: runbooks.clone(),
            tickets: tickets.clone(),
        })
    };
    let knowledge = Arc::new(crate::runbooks::actor::TicketKnowledge::new(
        store.clone(),
        past_tickets,
        clock.clone(),
        settings.assistant.ticket_max_age,
    ));
    let assistant = Arc::new(assistant_of(&settings.assistant, knowledge.clone())?);
    actix::spawn(crate::runbooks::actor::keep_ticket_index(knowledge));
    if let Some(embedder) = assistant.embedder.clone() {
        actix::spawn(crate::runbooks::actor::load_runbook_vectors(
            store.clone(),
            index.clone(),
            embedder,
            clock.clone(),
        ));
    }
    actix::spawn(crate::runbooks::assistant::expire_answers(
        store.clone(),
        clock.clone(),
        metrics.clone(),
    ));
    Ok(Knowledge {
        index,
        searcher,
        assistant,
    })
}

/// The assistant's model clients from `[assistant]`.
fn assistant_of(
    s: &crate::config::AssistantSettings,
    tickets: Arc<crate::runbooks::actor::TicketKnowledge>,
) -> anyhow::Result<crate::runbooks::assistant::Assistant> {
    use crate::runbooks::openai::ModelClient;
    let client = |e: &Option<crate::runbooks::openai::ModelEndpoint>, what: &str| {
        e.clone()
            .map(ModelClient::new)
            .transpose()
            .with_context(|| format!("Failed to set up assistant.{what}"))
    };
    Ok(crate::runbooks::assistant::Assistant {
        escalate_below: s.escalate_below,
        ticket_max_age: s.ticket_max_age,
        embedder: client(&s.embeddings, "embeddings")?,
        llm: client(&s.llm, "llm")?,
        tickets,
    })
}
