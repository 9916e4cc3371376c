//! The `DispatchActor`: owns the aggregation groups. Transitions arrive from the rules actor;
//! groups flush on their timers (checked every [`TICK`], and at once when `group_wait` is 0).
//! A flush is delivered on its own task, tickets first (so messages carry the ticket link), then
//! every notifier of the receiver in parallel. Deliveries of one group are serialised, so a
//! resolved message never overtakes its firing one.
//!
//! The notification log (Alertmanager's nflog): each flush is written to the store together with
//! what the group has now notified to its receiver. A group created later (after a restart, for
//! an alert posted again, or restored by the rules actor) starts from its log entry, so nothing
//! already paged is paged again and `repeat_interval` counts from the real last page.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::backlog::{StoreBacklog, Write};
use super::config::{AlertingConfig, group_labels};
use super::group::{AggrGroup, Flush, GroupTimers};
use super::route::matching_routes;
use crate::domain::ticket::TicketPolicy;
use crate::domain::{Clock, Labels};
use crate::notify::Notification;
use crate::notify::outbox::{OutboxActor, Wake};
use crate::notify::receivers::ReceiverIntegrations;
use crate::rules::AlertTransitions;
use crate::store::Store;
use crate::tickets::{TicketActor, TicketAlerts};

/// How often group timers are checked.
pub const TICK: Duration = Duration::from_millis(50);

type GroupKey = (String, Labels);

/// Alertmanager's groupKey shape: route, then the group's labels.
fn group_key_string(key: &GroupKey) -> String {
    format!("{{{}}}:{}", key.0, key.1)
}

/// The notification log as loaded at start: (group key, receiver) → (notified firing, sent at).
type NotificationLog =
    HashMap<(String, String), (std::collections::BTreeSet<crate::domain::Fingerprint>, i64)>;

/// Log entries older than this are not read (Alertmanager keeps its log 120 h by default).
pub const NOTIFICATION_LOG_RETENTION: Duration = Duration::from_secs(120 * 3600);

pub struct DispatchActor {
    config: AlertingConfig,
    receivers: Arc<HashMap<String, Arc<ReceiverIntegrations>>>,
    groups: HashMap<GroupKey, AggrGroup>,
    /// When groups are due (a group is listed at or before its next flush).
    timers: GroupTimers<GroupKey>,
    /// Entries not yet claimed by a group; a new group takes its own.
    log: NotificationLog,
    /// One lock per group, held while that group's notification is delivered.
    delivery_locks: HashMap<GroupKey, Arc<tokio::sync::Mutex<()>>>,
    sinks: FlushSinks,
    silences: super::Silences,
    /// Alerts posted through the Alertmanager API, firing until their `endsAt` (or
    /// `resolve_timeout` after their last post).
    external: super::external::ExternalAlerts,
    clock: Arc<dyn Clock>,
    public_url: String,
    /// Flushes being written (tickets, then outbox rows); a drain waits for them.
    flushing: crate::drain::InFlight,
    /// Shutting down: no flush starts any more.
    draining: bool,
    /// Inhibit rules syncwatch adds to every configuration (the SLO tiers').
    builtin_inhibit: Vec<super::inhibit::InhibitRule>,
}

/// Where a flush goes: tickets first, then the outbox, both through the store.
#[derive(Clone)]
pub struct FlushSinks {
    pub tickets: Addr<TicketActor>,
    pub outbox: Addr<OutboxActor>,
    pub store: Store,
    /// Flushes waiting for the store to take their writes.
    pub backlog: StoreBacklog,
}

impl DispatchActor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: AlertingConfig,
        receivers: Arc<HashMap<String, Arc<ReceiverIntegrations>>>,
        sinks: FlushSinks,
        silences: super::Silences,
        clock: Arc<dyn Clock>,
        public_url: String,
        log: Vec<crate::store::NotificationLogEntry>,
    ) -> Self {
        let log = log
            .into_iter()
            .map(|e| {
                let firing = e.firing.into_iter().collect();
                ((e.group_key, e.receiver), (firing, e.sent_at_ms))
            })
            .collect();
        Self {
            config,
            receivers,
            groups: HashMap::new(),
            timers: GroupTimers::default(),
            log,
            delivery_locks: HashMap::new(),
            sinks,
            silences,
            external: Default::default(),
            clock,
            public_url,
            flushing: Default::default(),
            draining: false,
            builtin_inhibit: Vec::new(),
        }
    }

    /// Adds `rules` to the configuration's inhibit rules, now and after every reload.
    pub fn with_inhibit_rules(mut self, rules: Vec<super::inhibit::InhibitRule>) -> Self {
        self.config.inhibit_rules.extend(rules.iter().cloned());
        self.builtin_inhibit = rules;
        self
    }

    fn flush_due(&mut self) {
        if self.draining {
            return;
        }
        let now = self.clock.now_ms();
        self.expire_external(now);
        let due = self.due_groups(now);
        // Every firing alert can inhibit others, whichever group it is in.
        // (Rules copied: the loop below needs `self` mutably; a config has a handful.)
        let rules = if due.is_empty() {
            Vec::new()
        } else {
            self.config.inhibit_rules.clone()
        };
        let sources = super::inhibit::Sources::new(
            self.groups.values().flat_map(|g| g.shared_alerts()),
            &rules,
        );
        let flushed_any = !due.is_empty();
        for key in due {
            let Some(group) = self.groups.get_mut(&key) else {
                continue;
            };
            if self.config.route_muted(&group.route_id, now) {
                group.skip(now);
                if group.is_empty() {
                    self.groups.remove(&key);
                } else {
                    let at = group.next_flush_ms();
                    self.timers.schedule(at, key);
                }
                continue;
            }
            let silences = self.silences.read().unwrap_or_else(|e| e.into_inner());
            let muted = |a: &crate::domain::Alert| {
                silences.iter().any(|s| s.mutes(&a.labels, now))
                    || !sources.inhibiting(a).is_empty()
            };
            let flushed = group.flush_muted(now, &muted);
            drop(silences);
            if let Some(flush) = flushed {
                let receiver = group.receiver.clone();
                let labels = group.labels.clone();
                self.spawn_delivery(key.clone(), receiver, labels, flush);
            }
            match self.groups.get(&key) {
                Some(g) if g.is_empty() => {
                    self.groups.remove(&key);
                }
                Some(g) => {
                    let at = g.next_flush_ms();
                    self.timers.schedule(at, key);
                }
                None => {}
            }
        }
        if flushed_any {
            self.delivery_locks
                .retain(|k, lock| self.groups.contains_key(k) || Arc::strong_count(lock) > 1);
        }
    }

    /// The groups due at `now`, taken off the timers: each once, only if it still exists and
    /// is due (one whose flush moved later is listed again at its new time).
    fn due_groups(&mut self, now: i64) -> Vec<GroupKey> {
        let ripe = self.timers.take_due(now);
        let mut seen = std::collections::HashSet::new();
        let mut due = Vec::new();
        for key in ripe {
            if !seen.insert(key.clone()) {
                continue;
            }
            match self.groups.get(&key) {
                Some(g) if g.next_flush_ms() <= now => due.push(key),
                Some(g) => {
                    let at = g.next_flush_ms();
                    self.timers.schedule(at, key);
                }
                None => {}
            }
        }
        due
    }

    fn spawn_delivery(
        &mut self,
        key: GroupKey,
        receiver: String,
        group_labels: Labels,
        flush: Flush,
    ) {
        let Some(integrations) = self.receivers.get(&receiver).cloned() else {
            tracing::error!(receiver = %receiver, "no such receiver; notification dropped");
            return;
        };
        let group_key = group_key_string(&key);
        let lock = self.delivery_locks.entry(key).or_default().clone();
        let sinks = self.sinks.clone();
        let clock = self.clock.clone();
        let flushing = self.flushing.start();
        let public_url = self.public_url.clone();
        actix::spawn(async move {
            // One flush of a group at a time, so its rows enter the outbox in flush order.
            let _in_order = lock.lock_owned().await;
            let mut ticket_ids = BTreeMap::new();
            for policy in &integrations.tickets {
                ticket_ids.extend(ticket_with_retry(&sinks, &flush, policy).await);
            }
            let now = clock.now_ms();
            let log = crate::store::NotificationLogEntry {
                group_key: group_key.clone(),
                receiver: receiver.clone(),
                firing: flush
                    .alerts
                    .iter()
                    .filter(|a| !a.is_resolved())
                    .map(|a| a.fingerprint())
                    .collect(),
                sent_at_ms: now,
            };
            let n = Notification {
                receiver,
                group_key: group_key.clone(),
                group_labels,
                alerts: flush.alerts,
                tickets: ticket_ids,
                public_url,
                omitted: Default::default(),
            };
            let rows = integrations.outbox_rows(&n, now);
            enqueue_with_retry(&sinks, &rows, &log).await;
            sinks.outbox.do_send(Wake);
            drop(flushing);
        });
    }
}

/// Writes a flush (outbox rows and log entry) to the store, retrying while the store is
/// unavailable: the notification exists only in memory until this succeeds.
async fn enqueue_with_retry(
    sinks: &FlushSinks,
    rows: &[crate::store::OutboxRow],
    log: &crate::store::NotificationLogEntry,
) {
    let mut attempt = 0;
    let mut waiting = None;
    loop {
        attempt += 1;
        match sinks.store.enqueue_flush(rows, log).await {
            Ok(()) => return,
            Err(e) if e.is_transient() || attempt < PERMANENT_ATTEMPTS => {
                waiting.get_or_insert_with(|| sinks.backlog.waiting(Write::Outbox));
                tracing::error!(error = %e, attempt, receiver = %log.receiver, "cannot write to the outbox, retrying");
                tokio::time::sleep(STORE_BACKOFF.delay(attempt, rand::random::<f64>())).await;
            }
            Err(e) => {
                return tracing::error!(error = %e, receiver = %log.receiver, group = %log.group_key, "the store refuses this notification; it is dropped");
            }
        }
    }
}

/// Tickets a flush's alerts, retrying for as long as the store is unavailable: a ticket is as
/// durable as the notification that links it (which waits for it). A write the store refuses
/// for what it is ([`crate::store::StoreError::is_transient`] false) is tried [`PERMANENT_ATTEMPTS`] times,
/// then the notification goes out without its ticket rather than blocking its group for good;
/// a ticket actor that is gone likewise.
async fn ticket_with_retry(
    sinks: &FlushSinks,
    flush: &Flush,
    policy: &TicketPolicy,
) -> BTreeMap<crate::domain::Fingerprint, String> {
    let mut attempt = 0;
    let mut waiting = None;
    loop {
        attempt += 1;
        let msg = TicketAlerts {
            alerts: flush.alerts.clone(),
            policy: policy.clone(),
        };
        match sinks.tickets.send(msg).await {
            Ok(Ok(ids)) => return ids,
            Ok(Err(e)) if e.is_transient() || attempt < PERMANENT_ATTEMPTS => {
                waiting.get_or_insert_with(|| sinks.backlog.waiting(Write::Ticket));
                tracing::warn!(error = %e, attempt, "ticket write failed, retrying");
                tokio::time::sleep(STORE_BACKOFF.delay(attempt, rand::random::<f64>())).await;
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the store refuses these tickets; the notification goes out without them");
                return BTreeMap::new();
            }
            Err(e) => {
                tracing::error!(error = %e, "ticket actor unavailable; no ticket for this flush");
                return BTreeMap::new();
            }
        }
    }
}

/// Attempts at a write the store refuses for what it is, before giving up on it.
const PERMANENT_ATTEMPTS: u32 = 3;

/// Waits between attempts to write to a store that is down: 250 ms up to 5 s, so a store that
/// is back is written to within 5 s.
const STORE_BACKOFF: crate::domain::backoff::Backoff = crate::domain::backoff::Backoff {
    base: Duration::from_millis(250),
    max: Duration::from_secs(5),
    max_attempts: u32::MAX,
};

impl Actor for DispatchActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The rules actor waits on this bound when dispatch falls behind.
        ctx.set_mailbox_capacity(256);
        ctx.run_interval(TICK, |act, _| act.flush_due());
    }
}

/// Shutting down: every group with something not yet notified is flushed now, so accepted
/// alerts reach the outbox (and are sent after a restart) instead of dying with the process;
/// then no flush starts any more. Answers `true` once every flush is written, `false` if
/// `within` passed first (a store that is down): that work is abandoned, and redone after the
/// restart from the persisted alert state.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "bool")]
pub struct Drain {
    pub within: Duration,
}

impl Handler<Drain> for DispatchActor {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: Drain, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now_ms();
        for (key, g) in &mut self.groups {
            g.expedite(now);
            self.timers.schedule(now, key.clone());
        }
        self.flush_due();
        self.draining = true;
        let flushing = self.flushing.clone();
        Box::pin(async move { flushing.drained(msg.within).await })
    }
}

/// Firing alerts the rules actor restored after a restart. They are routed like any alert; the
/// notification log decides which were already notified.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct RestoreFiring(pub Vec<crate::domain::Alert>);

impl DispatchActor {
    /// The group of `labels` under `route`, created (from its log entry, if any) when new.
    fn group_for<'a>(
        groups: &'a mut HashMap<GroupKey, AggrGroup>,
        timers: &mut GroupTimers<GroupKey>,
        log: &mut NotificationLog,
        route: &super::config::Route,
        labels: &Labels,
        now: i64,
    ) -> &'a mut AggrGroup {
        let group_labels = group_labels(&route.group_by, labels);
        let key = (route.id.clone(), group_labels.clone());
        groups.entry(key).or_insert_with_key(|key| {
            let mut group = AggrGroup::new(
                route.id.clone(),
                route.receiver.clone(),
                group_labels,
                route.group_wait,
                route.group_interval,
                route.repeat_interval,
                now,
            );
            if let Some((notified, sent_at)) =
                log.remove(&(group_key_string(key), route.receiver.clone()))
            {
                group.seed(notified, sent_at);
            }
            timers.schedule(group.next_flush_ms(), key.clone());
            group
        })
    }
}

/// A reloaded `alerting.yml` with the receivers built from it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReloadAlerting {
    pub config: AlertingConfig,
    pub receivers: Arc<HashMap<String, Arc<ReceiverIntegrations>>>,
}

impl Handler<ReloadAlerting> for DispatchActor {
    type Result = ();

    /// Re-routes every held alert through the new route tree. An alert whose firing was
    /// notified and which lands in a group of the same route, labels and receiver stays
    /// notified (no second page; its resolution will be sent); anywhere else it is new.
    fn handle(&mut self, msg: ReloadAlerting, _: &mut Self::Context) {
        let now = self.clock.now_ms();
        self.config = msg.config;
        self.config
            .inhibit_rules
            .extend(self.builtin_inhibit.iter().cloned());
        self.receivers = msg.receivers;
        let old = std::mem::take(&mut self.groups);
        for (key, group) in &old {
            for alert in group.alerts() {
                let fp = alert.fingerprint();
                let notified = group.was_notified(&fp);
                for route in matching_routes(&self.config.route, &alert.labels) {
                    let new = Self::group_for(
                        &mut self.groups,
                        &mut self.timers,
                        &mut self.log,
                        route,
                        &alert.labels,
                        now,
                    );
                    let same = (new.route_id.as_str(), &new.labels) == (key.0.as_str(), &key.1)
                        && new.receiver == group.receiver;
                    if notified && same {
                        new.restore_notified(alert.clone(), now);
                    } else if !alert.is_resolved() {
                        new.insert(alert.clone());
                    }
                }
            }
        }
        // A restored group flushes at its own time, which may differ from its first timer.
        for (key, g) in &self.groups {
            self.timers.schedule(g.next_flush_ms(), key.clone());
        }
        tracing::info!(
            groups = self.groups.len(),
            "routing config reloaded; held alerts re-routed"
        );
        self.flush_due();
    }
}

impl Handler<RestoreFiring> for DispatchActor {
    type Result = ();

    fn handle(&mut self, msg: RestoreFiring, _: &mut Self::Context) {
        let now = self.clock.now_ms();
        for alert in msg.0 {
            self.route(alert, now);
        }
    }
}

impl DispatchActor {
    fn route(&mut self, alert: impl Into<Arc<crate::domain::Alert>>, now: i64) {
        let alert = alert.into();
        for route in matching_routes(&self.config.route, &alert.labels) {
            Self::group_for(
                &mut self.groups,
                &mut self.timers,
                &mut self.log,
                route,
                &alert.labels,
                now,
            )
            .insert(alert.clone());
        }
    }

    /// Posted alerts not re-posted before their end resolve now.
    fn expire_external(&mut self, now: i64) {
        for (alert, until) in self.external.take_ended(now) {
            let mut alert = crate::domain::Alert::clone(&alert);
            alert.ends_at_ms = Some(until);
            self.route(alert, now);
        }
    }
}

impl Handler<AlertTransitions> for DispatchActor {
    type Result = ();

    fn handle(&mut self, msg: AlertTransitions, _: &mut Self::Context) {
        let now = self.clock.now_ms();
        for alert in msg.0 {
            self.route(alert, now);
        }
        self.flush_due();
    }
}

/// Alerts posted through `POST /api/v2/alerts`: each with its `endsAt`, if it gave one.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct PostAlerts(pub Vec<(crate::domain::Alert, Option<i64>)>);

impl Handler<PostAlerts> for DispatchActor {
    type Result = ();

    fn handle(&mut self, msg: PostAlerts, _: &mut Self::Context) {
        let now = self.clock.now_ms();
        let resolve_timeout = self.config.resolve_timeout.as_millis() as i64;
        for (mut alert, ends_at) in msg.0 {
            let fp = alert.fingerprint();
            // As Alertmanager merges a re-posted alert: the earliest start holds.
            if let Some((held, _)) = self.external.get(&fp) {
                alert.starts_at_ms = alert.starts_at_ms.min(held.starts_at_ms);
            }
            match ends_at {
                Some(end) if end <= now => {
                    self.external.release(&fp);
                    alert.ends_at_ms = Some(end);
                    self.route(alert, now);
                }
                _ => {
                    alert.ends_at_ms = None;
                    let alert = Arc::new(alert);
                    let until = ends_at.unwrap_or(now + resolve_timeout);
                    self.external.hold(fp, alert.clone(), until);
                    self.route(alert, now);
                }
            }
        }
        self.flush_due();
    }
}

/// The alerts the dispatcher holds (firing ones), with their receivers and silences.
#[derive(Message)]
#[rtype(result = "Vec<HeldAlert>")]
pub struct ListAlerts;

#[derive(Debug, Clone)]
pub struct HeldAlert {
    pub alert: crate::domain::Alert,
    pub receivers: Vec<String>,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
    /// The time intervals muting the alert's route (empty when none does).
    pub muted_by: Vec<String>,
    /// When a posted alert resolves unless posted again.
    pub ends_at_ms: Option<i64>,
}

impl Handler<ListAlerts> for DispatchActor {
    type Result = MessageResult<ListAlerts>;

    fn handle(&mut self, _: ListAlerts, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now_ms();
        let silences = self.silences.read().unwrap_or_else(|e| e.into_inner());
        let sources = super::inhibit::Sources::new(
            self.groups.values().flat_map(|g| g.shared_alerts()),
            &self.config.inhibit_rules,
        );
        let mut held: BTreeMap<crate::domain::Fingerprint, HeldAlert> = BTreeMap::new();
        for g in self.groups.values() {
            let muted_by = self.config.route_muted_by(&g.route_id, now);
            for a in g.alerts().filter(|a| !a.is_resolved()) {
                let entry = held.entry(a.fingerprint()).or_insert_with(|| HeldAlert {
                    alert: a.clone(),
                    receivers: Vec::new(),
                    silenced_by: crate::domain::silence::silenced_by(&silences, &a.labels, now),
                    inhibited_by: sources
                        .inhibiting(a)
                        .into_iter()
                        .map(|fp| fp.to_string())
                        .collect(),
                    ends_at_ms: self.external.get(&a.fingerprint()).map(|(_, until)| *until),
                    muted_by: Vec::new(),
                });
                for m in &muted_by {
                    if !entry.muted_by.contains(m) {
                        entry.muted_by.push(m.clone());
                    }
                }
                if !entry.receivers.contains(&g.receiver) {
                    entry.receivers.push(g.receiver.clone());
                }
            }
        }
        MessageResult(held.into_values().collect())
    }
}
