//! The `RulesActor`: owns the series store, the rule groups and their alert states.
//!
//! It evaluates a group (one without a slower interval of its own) when a metric the group reads
//! changed: a watcher waits on the live store, then a few milliseconds more, so a burst of
//! changes costs one evaluation. On every tick of `rules.evaluation_interval` it evaluates the
//! groups whose interval elapsed (`for:`, absence, time). Metrics the actor records about itself
//! never trigger it. Alert-state changes are persisted before the transitions go to the
//! dispatcher with `send().await`; the handler is atomic, so evaluations queue behind a slow
//! dispatcher instead of piling up.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::file::{RuleGroup, RuleKind, retention_plan_of};
use super::series::SeriesStore;
use super::state::{ActiveAlert, EvalContext, GroupState, evaluate_group};
use super::template::TemplateEnv;
use crate::domain::{Alert, AlertState, Clock, Labels};
use crate::slo::recorder::SliRecorder;
use crate::store::{Store, StoredAlert};
use crate::telemetry::{LiveStore, Metrics, names};

/// How long a change waits for more changes before it triggers an evaluation.
const COALESCE: Duration = Duration::from_millis(1);

/// After a change-triggered evaluation that took `t`, the next waits `IDLE_FACTOR × t`: a cheap
/// evaluation (microseconds) is followed at once, an expensive one (many series changing all
/// the time) leaves the thread to the syncs and stages at least three quarters of the time.
const IDLE_FACTOR: u32 = 3;

/// Metrics the rules actor records itself: they change on every evaluation, so they must not
/// trigger one (rules reading them are evaluated on the tick).
const SELF_METRICS: &[&str] = &[
    names::RULE_EVALUATION_DURATION_SECONDS,
    names::RULE_EVALUATION_FAILURES_TOTAL,
    names::ALERTS,
    names::SERIES,
    names::SERIES_MEMORY_BYTES,
    names::SERIES_DROPPED_TOTAL,
    names::RULES_LAST_RELOAD_SUCCESSFUL,
];

/// Alerts that started firing or resolved, for the dispatcher.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct AlertTransitions(pub Vec<Alert>);

enum Trigger {
    Tick,
    Changed(HashSet<Arc<str>>),
}

/// Evaluate the rules now.
#[derive(Message)]
#[rtype(result = "()")]
struct Evaluate(Trigger);

/// The pending and firing alerts of every alerting rule.
#[derive(Message)]
#[rtype(result = "Vec<RuleAlert>")]
pub struct GetAlerts;

/// Replace the rule groups (hot reload). Alerts of rules that keep their group and name keep
/// their state; firing alerts of removed rules resolve.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReloadRules(pub Vec<RuleGroup>);

/// An active alert with the rule it belongs to.
#[derive(Debug, Clone)]
pub struct RuleAlert {
    pub group: String,
    pub rule: String,
    pub alert: ActiveAlert,
}

/// Gives the runbook link of an alert, when one maps to it.
pub type RunbookLinker = Arc<dyn Fn(&Labels) -> Option<String> + Send + Sync>;

/// What the rules are doing, for `/readyz` and logs.
#[derive(Debug, Clone, Default)]
pub struct RulesStatus {
    pub groups: usize,
    pub rules: usize,
    /// The problems of the last reload that was refused, if the last one was.
    pub last_reload_error: Option<String>,
}

/// Settings of the rules actor.
#[derive(Debug, Clone)]
pub struct RulesOptions {
    pub interval: Duration,
    pub min_retention: Duration,
    pub max_series: usize,
    pub generator_url: String,
}

struct LoadedGroup {
    group: RuleGroup,
    state: GroupState,
    /// Metric names the group reads (histogram series also under their base name); `None`
    /// when it selects without a metric name, so any change concerns it.
    reads: Option<HashSet<String>>,
}

fn reads_of(group: &RuleGroup) -> Option<HashSet<String>> {
    let mut reads = HashSet::new();
    for rule in &group.rules {
        for (name, _) in super::eval::selector_windows(&rule.expr) {
            let name = name?;
            for suffix in ["_bucket", "_sum", "_count"] {
                if let Some(base) = name.strip_suffix(suffix) {
                    reads.insert(base.to_string());
                }
            }
            reads.insert(name);
        }
    }
    Some(reads)
}

fn load(group: RuleGroup) -> LoadedGroup {
    LoadedGroup {
        state: GroupState::new(&group),
        reads: reads_of(&group),
        group,
    }
}

/// A hash of a rule's alert set, to tell whether it needs persisting.
fn alerts_signature(alerts: &HashMap<crate::domain::Fingerprint, ActiveAlert>) -> u64 {
    let mut keys: Vec<_> = alerts
        .iter()
        .map(|(fp, a)| {
            (
                fp.0,
                a.state.as_str(),
                a.active_at_ms,
                a.fired_at_ms,
                a.keep_firing_since_ms,
            )
        })
        .collect();
    keys.sort_unstable();
    let mut h = DefaultHasher::new();
    keys.hash(&mut h);
    h.finish()
}

fn stored(group: &str, rule: &str, a: &ActiveAlert) -> StoredAlert {
    StoredAlert {
        group: group.to_string(),
        rule: rule.to_string(),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        state: a.state,
        active_at_ms: a.active_at_ms,
        fired_at_ms: a.fired_at_ms,
        keep_firing_since_ms: a.keep_firing_since_ms,
        value: a.value,
    }
}

type PersistBatch = Vec<((String, String), Vec<StoredAlert>)>;

pub struct RulesActor {
    groups: Vec<LoadedGroup>,
    store: SeriesStore,
    live: Arc<LiveStore>,
    clock: Arc<dyn Clock>,
    dispatch: Recipient<AlertTransitions>,
    /// Where alert state is persisted (none in `rules test`-like uses).
    persist: Option<Store>,
    metrics: Metrics,
    options: RulesOptions,
    runbook_url: RunbookLinker,
    status: Arc<RwLock<RulesStatus>>,
    /// Alert names seen so far, so the `syncwatch_alerts` gauge returns to 0 when they clear.
    alert_names: Vec<String>,
    /// How often every live value is sampled, changed or not (a scrape).
    heartbeat_ms: i64,
    last_full_sample_ms: Option<i64>,
    /// Counts the SLOs' events as minutes end, into the store's SLI history.
    sli: SliRecorder,
    /// Where tallied minutes go to be written, in order, off the evaluation path.
    sli_writer: Option<tokio::sync::mpsc::UnboundedSender<SliMinutes>>,
    /// The SLOs' alert groups: they stay when the rule files are reloaded.
    slo_alerts: Vec<RuleGroup>,
    published: PublishedAlerts,
    last_publish_ms: i64,
}

/// The rules' pending and firing alerts as last published (see
/// [`RulesActor::published_alerts`]).
pub type PublishedAlerts = Arc<RwLock<Arc<Vec<RuleAlert>>>>;

/// Published alerts are replaced at least this often (ms), for their values.
const PUBLISH_EVERY_MS: i64 = 10_000;

/// Minutes an evaluation tallied, for the store: `(minute start, tallies)`.
type SliMinutes = Vec<(i64, Vec<crate::store::MinuteTally>)>;

impl RulesActor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        groups: Vec<RuleGroup>,
        restored: Vec<StoredAlert>,
        live: Arc<LiveStore>,
        clock: Arc<dyn Clock>,
        dispatch: Recipient<AlertTransitions>,
        persist: Option<Store>,
        metrics: Metrics,
        options: RulesOptions,
        runbook_url: RunbookLinker,
        status: Arc<RwLock<RulesStatus>>,
    ) -> Self {
        let plan = retention_plan_of(
            groups.iter().flat_map(|g| &g.rules).map(|r| &r.expr),
            options.min_retention.as_millis() as i64,
        );
        // Unchanged values are re-sampled as a 15 s scrape would (or each tick, if slower).
        let heartbeat_ms = options.interval.as_millis().max(15_000) as i64;
        let store = SeriesStore::with_plan(plan, heartbeat_ms, options.max_series);
        let mut actor = Self {
            groups: groups.into_iter().map(load).collect(),
            store,
            live,
            clock,
            dispatch,
            persist,
            metrics,
            options,
            runbook_url,
            status,
            alert_names: Vec::new(),
            heartbeat_ms,
            last_full_sample_ms: None,
            sli: SliRecorder::default(),
            sli_writer: None,
            slo_alerts: Vec::new(),
            published: Default::default(),
            last_publish_ms: 0,
        };
        actor.restore(restored);
        actor.after_load();
        actor.publish(actor.clock.now_ms());
        actor
    }

    /// Puts persisted alerts back on the rules that still exist, each held until its rule's
    /// window has refilled.
    fn restore(&mut self, restored: Vec<StoredAlert>) {
        let now = self.clock.now_ms();
        let interval_ms = self.options.interval.as_millis() as i64;
        let mut n = 0;
        for s in restored {
            let Some(lg) = self.groups.iter_mut().find(|g| g.group.name == s.group) else {
                continue;
            };
            let Some(i) = lg
                .group
                .rules
                .iter()
                .position(|r| r.name == s.rule && matches!(r.kind, RuleKind::Alerting { .. }))
            else {
                continue;
            };
            let alert = ActiveAlert {
                labels: s.labels,
                annotations: s.annotations,
                state: s.state,
                active_at_ms: s.active_at_ms,
                fired_at_ms: s.fired_at_ms,
                value: s.value,
                keep_firing_since_ms: s.keep_firing_since_ms,
                hold_until_ms: Some(
                    now + super::eval::max_window(&lg.group.rules[i].expr).as_millis() as i64
                        + 2 * interval_ms,
                ),
            };
            lg.state.alerts[i].insert(alert.labels.fingerprint(), alert);
            n += 1;
        }
        if n > 0 {
            tracing::info!(alerts = n, "alert state restored");
        }
    }

    /// Every pending and firing alert, oldest first.
    fn active_alerts(&self) -> Vec<RuleAlert> {
        let mut out = Vec::new();
        for lg in &self.groups {
            for (rule, alerts) in lg.group.rules.iter().zip(&lg.state.alerts) {
                out.extend(alerts.values().map(|a| RuleAlert {
                    group: lg.group.name.clone(),
                    rule: rule.name.clone(),
                    alert: a.clone(),
                }));
            }
        }
        out.sort_by_key(|a| a.alert.active_at_ms);
        out
    }

    /// The alerts as of the last evaluation, for readers that must not wait for the actor
    /// (it can be busy evaluating for a while): shared, replaced after an evaluation that
    /// changed an alert, and every [`PUBLISH_EVERY_MS`] (values move without a change).
    pub fn published_alerts(&self) -> PublishedAlerts {
        self.published.clone()
    }

    fn publish(&mut self, now_ms: i64) {
        let alerts = Arc::new(self.active_alerts());
        *self.published.write().unwrap_or_else(|e| e.into_inner()) = alerts;
        self.last_publish_ms = now_ms;
    }

    /// Firing alerts restored at start, for the dispatcher to know they were notified.
    pub fn firing_alerts(&self) -> Vec<Alert> {
        self.groups
            .iter()
            .flat_map(|g| g.state.alerts.iter().flat_map(|m| m.values()))
            .filter(|a| a.state == AlertState::Firing)
            .map(|a| a.to_alert(None, &self.options.generator_url))
            .collect()
    }

    /// Counts these SLOs' events from now on (their calendar days in `timezone`), and keeps
    /// their alert groups (`alerts`, already among the groups given to [`Self::new`]) across
    /// reloads of the rule files.
    /// The minutes are written by a task of their own, one after the other, so a slow store
    /// never holds up the evaluation or the alerts' delivery. Call within the actor system.
    pub fn with_slos(
        mut self,
        recorder: SliRecorder,
        timezone: jiff::tz::TimeZone,
        alerts: Vec<RuleGroup>,
        ledger: Arc<crate::slo::ledger::SharedLedger>,
    ) -> Self {
        self.sli = recorder;
        self.slo_alerts = alerts;
        self.store.set_plan(self.retention_plan());
        if let Some(store) = self.persist.clone() {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<SliMinutes>();
            let metrics = self.metrics.clone();
            actix::spawn(async move {
                while let Some(minutes) = rx.recv().await {
                    record_minutes(&store, minutes, &timezone, &metrics, &ledger).await;
                }
            });
            self.sli_writer = Some(tx);
        }
        self
    }

    /// What the series store keeps: what the rules and the SLOs read.
    fn retention_plan(&self) -> super::series::RetentionPlan {
        retention_plan_of(
            self.groups
                .iter()
                .flat_map(|g| &g.group.rules)
                .map(|r| &r.expr)
                .chain(self.sli.exprs()),
            self.options.min_retention.as_millis() as i64,
        )
    }

    fn after_load(&mut self) {
        let mut names: Vec<String> = self
            .groups
            .iter()
            .flat_map(|g| g.group.rules.iter())
            .filter(|r| matches!(r.kind, RuleKind::Alerting { .. }))
            .map(|r| r.name.clone())
            .collect();
        names.sort();
        names.dedup();
        // Names of removed rules stay, so their gauge goes back to 0.
        for n in names {
            if !self.alert_names.contains(&n) {
                self.alert_names.push(n);
            }
        }
        let mut st = self.status.write().unwrap_or_else(|e| e.into_inner());
        st.groups = self.groups.len();
        st.rules = self.groups.iter().map(|g| g.group.rules.len()).sum();
    }

    fn evaluate(&mut self, trigger: Trigger) -> (Vec<Alert>, PersistBatch) {
        let now = self.clock.now_ms();
        let mut changed: HashSet<Arc<str>> = match trigger {
            Trigger::Tick => HashSet::new(),
            Trigger::Changed(names) => names,
        };
        let tick = changed.is_empty();
        // A change samples what changed. A tick samples what changed too (without taking the
        // names from the change trigger) and the rules' own metrics, and once a heartbeat
        // everything: unchanged series only get a sample a heartbeat anyway.
        let samples = if tick
            && self
                .last_full_sample_ms
                .is_none_or(|last| now - last >= self.heartbeat_ms)
        {
            self.last_full_sample_ms = Some(now);
            // Only what the rules read: the rest would be dropped by the store anyway.
            match self.store.wanted_names() {
                Some(names) => self.live.snapshot_of(&names),
                None => self.live.snapshot(),
            }
        } else if tick {
            // The rules' own metrics never trigger an evaluation: they are sampled each tick.
            let mut names = self.live.changed_names();
            names.extend(SELF_METRICS.iter().map(|n| Arc::<str>::from(*n)));
            self.live.snapshot_of(&names)
        } else {
            self.live.snapshot_of(&changed)
        };
        self.store.ingest(&samples, now);
        let linker = self.runbook_url.clone();
        let link = move |l: &Labels| linker(l);
        let env = TemplateEnv::default();
        let ctx = EvalContext {
            now_ms: now,
            step_ms: self.options.interval.as_millis() as i64,
            template_env: &env,
            generator_url: &self.options.generator_url,
            runbook_url: &link,
        };
        let mut transitions = Vec::new();
        let mut persist = Vec::new();
        for lg in &mut self.groups {
            let due = if tick {
                let interval = lg
                    .group
                    .interval
                    .unwrap_or(self.options.interval)
                    .as_millis() as i64;
                lg.state
                    .last_eval_ms
                    .is_none_or(|last| now - last >= interval)
            } else if lg.group.interval.is_some_and(|i| i > self.options.interval) {
                // A group with its own, slower interval (long-window recordings) keeps to it.
                false
            } else {
                match &lg.reads {
                    None => true,
                    Some(reads) => changed.iter().any(|n| reads.contains(n.as_ref())),
                }
            };
            if !due {
                continue;
            }
            let before: Vec<u64> = lg.state.alerts.iter().map(alerts_signature).collect();
            let started = Instant::now();
            let outcome = evaluate_group(&lg.group, &mut lg.state, &mut self.store, &ctx);
            for (rule, e) in &outcome.failures {
                tracing::warn!(group = %lg.group.name, rule = %rule, error = %e, "rule evaluation failed");
            }
            self.metrics.rule_group_evaluated(
                &lg.group.name,
                started.elapsed(),
                outcome.failures.len() as u64,
            );
            transitions.extend(outcome.transitions);
            for (i, rule) in lg.group.rules.iter().enumerate() {
                match rule.kind {
                    RuleKind::Alerting { .. }
                        if alerts_signature(&lg.state.alerts[i]) != before[i] =>
                    {
                        let alerts = lg.state.alerts[i]
                            .values()
                            .map(|a| stored(&lg.group.name, &rule.name, a))
                            .collect();
                        persist.push(((lg.group.name.clone(), rule.name.clone()), alerts));
                    }
                    // Later groups reading what this one recorded see it as changed.
                    RuleKind::Recording if !tick => {
                        changed.insert(Arc::from(rule.name.as_str()));
                    }
                    _ => {}
                }
            }
        }
        for a in &transitions {
            if a.is_resolved() {
                tracing::info!(alert = %a.name(), labels = %a.labels, "alert resolved");
            } else {
                tracing::info!(alert = %a.name(), labels = %a.labels, "alert firing");
            }
        }
        self.record_alert_gauge();
        if tick {
            let st = self.store.stats();
            self.metrics.series_store(st.series, st.bytes, st.dropped);
            let minutes: SliMinutes = self
                .sli
                .due(now)
                .into_iter()
                .map(|m| (m, self.sli.tally(m, &self.store)))
                .collect();
            if !minutes.is_empty()
                && let Some(writer) = &self.sli_writer
                && writer.send(minutes).is_err()
            {
                tracing::error!("the SLI history writer stopped; minutes not counted");
            }
        }
        (transitions, persist)
    }

    fn record_alert_gauge(&self) {
        let mut counts: HashMap<(&str, AlertState), usize> = HashMap::new();
        for lg in &self.groups {
            for a in lg.state.alerts.iter().flat_map(|m| m.values()) {
                *counts
                    .entry((a.labels.value("alertname"), a.state))
                    .or_default() += 1;
            }
        }
        for name in &self.alert_names {
            for st in [AlertState::Pending, AlertState::Firing] {
                let n = counts.get(&(name.as_str(), st)).copied().unwrap_or(0);
                self.metrics.alerts(name, st, n);
            }
        }
    }

    /// Persists, then hands the transitions to the dispatcher, in that order.
    fn deliver(
        &self,
        transitions: Vec<Alert>,
        persist: PersistBatch,
    ) -> impl Future<Output = ()> + 'static {
        let dispatch = self.dispatch.clone();
        let store = self.persist.clone();
        async move {
            if let Some(store) = store
                && !persist.is_empty()
                && let Err(e) = store.replace_alert_states(&persist).await
            {
                tracing::error!(error = %e, "cannot persist alert state; a restart may notify these alerts again");
            }
            if !transitions.is_empty()
                && let Err(e) = dispatch.send(AlertTransitions(transitions)).await
            {
                tracing::error!(error = %e, "dispatcher unavailable: alert transitions not delivered");
            }
        }
    }
}

/// Adds the tallied minutes to the SLI history, and once an hour drops what it no longer keeps.
async fn record_minutes(
    store: &Store,
    minutes: SliMinutes,
    tz: &jiff::tz::TimeZone,
    metrics: &Metrics,
    ledger: &crate::slo::ledger::SharedLedger,
) {
    use crate::slo::history::HOUR_MS;
    for (minute, tallies) in minutes {
        ledger.writing(minute);
        // A minute is recorded once whatever happens, so a failed write is simply tried again
        // (1, 2, 4, 8 s apart) before the minute is given up.
        let mut outcome = store.record_slo_minute(minute, &tallies, tz).await;
        for wait in [1, 2, 4, 8] {
            match &outcome {
                Err(e) if e.is_transient() => {
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                    outcome = store.record_slo_minute(minute, &tallies, tz).await;
                }
                _ => break,
            }
        }
        if matches!(outcome, Ok(true)) {
            ledger.recorded(store, minute, &tallies).await;
        } else {
            ledger.writing(-1);
        }
        match outcome {
            Ok(true) => {
                let mut per_slo: HashMap<&str, (f64, f64)> = HashMap::new();
                for (slo, _, t) in &tallies {
                    let e = per_slo.entry(slo.as_str()).or_default();
                    e.0 += t.total - t.bad;
                    e.1 += t.bad;
                }
                for (slo, (good, bad)) in per_slo {
                    // Counters count whole events: a raw SLO's shares of a minute are rounded.
                    metrics.slo_events(
                        slo,
                        good.max(0.0).round() as u64,
                        bad.max(0.0).round() as u64,
                    );
                }
            }
            Ok(false) => {
                if !tallies.is_empty() {
                    tracing::info!(
                        minute,
                        "minute recorded already (by a replica sharing the store, or before a restart); its tallies are not added again"
                    );
                }
            }
            Err(e) => {
                tracing::error!(error = %e, minute, "cannot record the SLOs' minute; it is not counted");
            }
        }
        if (minute + 60_000) % HOUR_MS == 0
            && let Err(e) = store.prune_slo_history(minute).await
        {
            tracing::warn!(error = %e, "cannot prune the SLI history");
        }
    }
}

impl Actor for RulesActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.options.interval, |_, ctx| {
            ctx.notify(Evaluate(Trigger::Tick))
        });
        let live = self.live.clone();
        let addr = ctx.address().downgrade();
        actix::spawn(async move {
            loop {
                live.changed().await;
                tokio::time::sleep(COALESCE).await;
                let mut names = live.take_changed();
                names.retain(|n| !SELF_METRICS.contains(&n.as_ref()));
                if names.is_empty() {
                    continue;
                }
                let Some(addr) = addr.upgrade() else { break };
                let started = std::time::Instant::now();
                if addr.send(Evaluate(Trigger::Changed(names))).await.is_err() {
                    break;
                }
                let took = started.elapsed();
                if took > Duration::from_millis(1) {
                    tokio::time::sleep(took * IDLE_FACTOR).await;
                }
            }
        });
    }
}

impl Handler<Evaluate> for RulesActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: Evaluate, _: &mut Self::Context) -> Self::Result {
        let (transitions, persist) = self.evaluate(msg.0);
        let now = self.clock.now_ms();
        if !persist.is_empty() || now - self.last_publish_ms >= PUBLISH_EVERY_MS {
            self.publish(now);
        }
        AtomicResponse::new(Box::pin(
            self.deliver(transitions, persist).into_actor(self),
        ))
    }
}

impl Handler<ReloadRules> for RulesActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: ReloadRules, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now_ms();
        let mut old: HashMap<(String, String), HashMap<crate::domain::Fingerprint, ActiveAlert>> =
            HashMap::new();
        for lg in self.groups.drain(..) {
            for (rule, alerts) in lg.group.rules.iter().zip(lg.state.alerts) {
                old.insert((lg.group.name.clone(), rule.name.clone()), alerts);
            }
        }
        self.groups = msg
            .0
            .into_iter()
            .chain(self.slo_alerts.iter().cloned())
            .map(load)
            .collect();
        for lg in &mut self.groups {
            for (i, rule) in lg.group.rules.iter().enumerate() {
                if let Some(alerts) = old.remove(&(lg.group.name.clone(), rule.name.clone()))
                    && matches!(rule.kind, RuleKind::Alerting { .. })
                {
                    lg.state.alerts[i] = alerts;
                }
            }
        }
        // What is left belongs to rules that are gone: their firing alerts resolve now.
        let mut transitions = Vec::new();
        let mut persist = Vec::new();
        for (key, alerts) in old {
            transitions.extend(
                alerts
                    .values()
                    .filter(|a| a.state == AlertState::Firing)
                    .map(|a| a.to_alert(Some(now), &self.options.generator_url)),
            );
            persist.push((key, Vec::new()));
        }
        self.store.set_plan(self.retention_plan());
        self.status
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .last_reload_error = None;
        self.after_load();
        self.publish(now);
        self.metrics.rules_reloaded(true);
        tracing::info!(groups = self.groups.len(), "rules reloaded");
        AtomicResponse::new(Box::pin(
            self.deliver(transitions, persist).into_actor(self),
        ))
    }
}

impl Handler<GetAlerts> for RulesActor {
    type Result = MessageResult<GetAlerts>;

    fn handle(&mut self, _: GetAlerts, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.active_alerts())
    }
}
