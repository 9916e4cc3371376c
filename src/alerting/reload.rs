//! Hot reload of `alerting.yml`, like the rule files: on SIGHUP, and when the file has changed
//! and then stayed the same for one check (`rules.watch_interval`). A broken file is refused
//! (log, `syncwatch_alerting_last_reload_successful` 0, `/readyz` detail) and the previous
//! routing keeps running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix::Addr;

use super::AlertingConfig;
use super::actor::{DispatchActor, ReloadAlerting};
use crate::config::{Problem, Problems, process_env};
use crate::notify::outbox::{OutboxActor, SetReceivers};
use crate::notify::receivers::{ReceiverIntegrations, build_receivers};
use crate::rules::reload::{FilesVersion, watch_files};
use crate::store::Store;
use crate::telemetry::Metrics;

/// What `GET /api/v2/status` and `/readyz` show of the routing config.
#[derive(Debug, Clone, Default)]
pub struct AlertingStatus {
    /// The `alerting.yml` in use, re-serialised with its secrets masked.
    pub original: String,
    pub last_reload_error: Option<String>,
}

pub type SharedStatus = Arc<RwLock<AlertingStatus>>;

/// Where the reloaded config goes.
#[derive(Clone)]
pub struct Targets {
    pub dispatch: Addr<DispatchActor>,
    pub outbox: Addr<OutboxActor>,
    /// Escalation steps notify receivers too.
    pub tickets: Addr<crate::tickets::TicketActor>,
    pub store: Store,
    pub status: SharedStatus,
    pub metrics: Metrics,
}

type Receivers = Arc<HashMap<String, Arc<ReceiverIntegrations>>>;

/// Reads `path` once; validates it and builds its receivers.
fn load(path: &Path, store: &Store) -> Result<(String, AlertingConfig, Receivers), Problems> {
    let problem = |m: String| Problems::from(Problem::new(path, None, m));
    let text = std::fs::read_to_string(path)
        .map_err(|e| problem(format!("cannot read routing config: {e}")))?;
    let config = super::config::parse(path, &text, &process_env)?;
    let receivers = build_receivers(&config.receivers, Some(store)).map_err(problem)?;
    Ok((text, config, Arc::new(receivers)))
}

/// Reads, validates and applies `path`; on any problem the previous routing keeps running.
pub async fn reload(path: &Path, t: &Targets) {
    let loaded = load(path, &t.store);
    match loaded {
        Ok((text, config, receivers)) => {
            // The outbox first: a notification the new routing enqueues finds its receiver.
            // Then the tickets (escalations notify receivers too), then the routing.
            let applied = async {
                t.outbox.send(SetReceivers(receivers.clone())).await?;
                t.tickets.send(SetReceivers(receivers.clone())).await?;
                t.dispatch.send(ReloadAlerting { config, receivers }).await
            };
            if let Err(e) = applied.await {
                tracing::error!(error = %e, "dispatcher unavailable; routing reload not applied");
                return;
            }
            let mut status = t.status.write().unwrap_or_else(|e| e.into_inner());
            status.original = super::config::redacted_yaml(&text);
            status.last_reload_error = None;
            t.metrics.alerting_reloaded(true);
        }
        Err(problems) => {
            tracing::error!(problems = %problems, "routing reload refused; the previous routing keeps running");
            t.status
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .last_reload_error = Some(problems.to_string());
            t.metrics.alerting_reloaded(false);
        }
    }
}

/// Watches `alerting.yml` and SIGHUP for the life of the process. `loaded` is the file's
/// version taken before it was first read.
pub fn spawn_reloader(path: PathBuf, loaded: FilesVersion, watch_interval: Duration, t: Targets) {
    let patterns = vec![path.display().to_string()];
    watch_files(
        patterns,
        loaded,
        watch_interval,
        "alerting.yml",
        move || {
            let (path, t) = (path.clone(), t.clone());
            async move {
                reload(&path, &t).await;
                t.dispatch.connected()
            }
        },
    );
}
