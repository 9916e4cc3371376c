//! Hot reload of `alerting.yml`, like the rule files: on SIGHUP, and when the file has changed
//! and then stayed the same for one check (`rules.watch_interval`). A broken file is refused
//! (log, `syncwatch_alerting_last_reload_successful` 0, `/readyz` detail) and the previous
//! routing keeps running.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix::Addr;

use super::actor::{DispatchActor, ReloadAlerting, build_receivers};
use crate::config::process_env;
use crate::notify::outbox::{OutboxActor, SetReceivers};
use crate::rules::reload::{FilesVersion, watch_files};
use crate::store::Store;
use crate::telemetry::Metrics;

/// What `GET /api/v2/status` and `/readyz` show of the routing config.
#[derive(Debug, Clone, Default)]
pub struct AlertingStatus {
    /// The text of the `alerting.yml` in use.
    pub original: String,
    pub last_reload_error: Option<String>,
}

pub type SharedStatus = Arc<RwLock<AlertingStatus>>;

/// Where the reloaded config goes.
#[derive(Clone)]
pub struct Targets {
    pub dispatch: Addr<DispatchActor>,
    pub outbox: Addr<OutboxActor>,
    pub store: Store,
    pub status: SharedStatus,
    pub metrics: Metrics,
}

/// Reads, validates and applies `path`; on any problem the previous routing keeps running.
pub async fn reload(path: &std::path::Path, t: &Targets) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let loaded = super::config::load(path, &process_env).and_then(|config| {
        build_receivers(&config, Some(&t.store))
            .map(|receivers| (config, Arc::new(receivers)))
            .map_err(|e| crate::config::Problems(vec![crate::config::Problem::new(path, None, e)]))
    });
    match loaded {
        Ok((config, receivers)) => {
            // The outbox first: a notification the new routing enqueues finds its receiver.
            let outbox = t.outbox.send(SetReceivers(receivers.clone())).await;
            let dispatch = t.dispatch.send(ReloadAlerting { config, receivers }).await;
            if let Err(e) = outbox.and(dispatch) {
                tracing::error!(error = %e, "dispatcher unavailable; routing reload not applied");
                return;
            }
            let mut status = t.status.write().unwrap_or_else(|e| e.into_inner());
            status.original = text;
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
