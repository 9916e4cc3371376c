//! Hot reload of the rule files: on SIGHUP, and when a file matched by `rules.files` changes
//! (checked every `rules.watch_interval`; zero disables the check). A broken file is reported (log, `syncwatch_rules_last_reload_successful`
//! 0, `/readyz` detail) and the previous rules keep running.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use actix::Addr;

use super::actor::{ReloadRules, RulesActor, RulesStatus};
use super::file::{expand_globs, load_rule_files};
use crate::telemetry::Metrics;

/// What identifies the current version of the rule files: paths, sizes and modification times.
pub type FilesVersion = Vec<(PathBuf, u64, Option<SystemTime>)>;

pub fn files_version(patterns: &[String]) -> FilesVersion {
    let files = expand_globs(patterns).unwrap_or_default();
    files
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (p, len, modified)
        })
        .collect()
}

/// Whether files that were `loaded`, then `seen` at the previous check, are `now` to be
/// reloaded: they changed, and have not changed since the previous check.
pub fn settled(loaded: &FilesVersion, seen: &FilesVersion, now: &FilesVersion) -> bool {
    now != loaded && now == seen
}

/// Loads the rule files and hands them to the actor, or reports why not.
pub async fn reload(
    patterns: &[String],
    addr: &Addr<RulesActor>,
    status: &RwLock<RulesStatus>,
    metrics: &Metrics,
) {
    match load_rule_files(patterns) {
        Ok(groups) => {
            if let Err(e) = addr.send(ReloadRules(groups)).await {
                tracing::error!(error = %e, "rules actor unavailable; reload not applied");
            }
        }
        Err(problems) => {
            tracing::error!(problems = %problems, "rule reload refused; the previous rules keep running");
            status
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .last_reload_error = Some(problems.to_string());
            metrics.rules_reloaded(false);
        }
    }
}

/// Watches the rule files and SIGHUP for the life of the process.
/// `loaded` is the version of the files the running rules were loaded from (taken before they
/// were read, so a change made while starting is still noticed).
pub fn spawn_reloader(
    patterns: Vec<String>,
    loaded: FilesVersion,
    watch_interval: Duration,
    addr: Addr<RulesActor>,
    status: Arc<RwLock<RulesStatus>>,
    metrics: Metrics,
) {
    let files = patterns.clone();
    watch_files(files, loaded, watch_interval, "rules", move || {
        let (patterns, addr, status, metrics) = (
            patterns.clone(),
            addr.clone(),
            status.clone(),
            metrics.clone(),
        );
        async move {
            reload(&patterns, &addr, &status, &metrics).await;
            addr.connected()
        }
    });
}

/// Calls `on_change` on SIGHUP, and when the files matched by `patterns` have changed and then
/// stayed the same for one check (every `watch_interval`; zero: SIGHUP only), so a file caught
/// half-written is not loaded. Stops when `on_change` answers false.
pub fn watch_files<F, Fut>(
    patterns: Vec<String>,
    loaded: FilesVersion,
    watch_interval: Duration,
    what: &'static str,
    mut on_change: F,
) where
    F: FnMut() -> Fut + 'static,
    Fut: std::future::Future<Output = bool> + 'static,
{
    actix::spawn(async move {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut version = loaded;
        // The version seen at the previous check.
        let mut seen = version.clone();
        // A zero interval watches SIGHUP only (an interval that never fires in practice).
        let period = if watch_interval.is_zero() {
            Duration::from_secs(u32::MAX as u64)
        } else {
            watch_interval
        };
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            #[cfg(unix)]
            let signalled = async {
                match hangup.as_mut() {
                    Some(h) => {
                        h.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<()>();
            let by_signal = tokio::select! {
                _ = tick.tick() => false,
                _ = signalled => true,
            };
            let now = files_version(&patterns);
            if !by_signal && !settled(&version, &seen, &now) {
                seen = now;
                continue;
            }
            version = now.clone();
            seen = now;
            if by_signal {
                tracing::info!("SIGHUP: reloading {what}");
            } else {
                tracing::info!("{what} changed: reloading");
            }
            if !on_change().await {
                break;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(len: u64) -> FilesVersion {
        vec![(PathBuf::from("r.yml"), len, None)]
    }

    #[test]
    fn a_change_is_applied_once_it_has_held_for_a_check() {
        assert!(!settled(&v(10), &v(10), &v(10)), "nothing changed");
        assert!(
            !settled(&v(10), &v(10), &v(0)),
            "just changed (maybe half-written)"
        );
        assert!(!settled(&v(10), &v(0), &v(25)), "still changing");
        assert!(settled(&v(10), &v(25), &v(25)), "changed and stable");
    }
}
