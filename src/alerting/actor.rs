//! The `DispatchActor`: owns the aggregation groups. Transitions arrive from the rules actor;
//! groups flush on their timers (checked every [`TICK`], and at once when `group_wait` is 0).
//! A flush is delivered on its own task, tickets first (so messages carry the ticket link), then
//! every notifier of the receiver in parallel. Deliveries of one group are serialised, so a
//! resolved message never overtakes its firing one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::config::{AlertingConfig, group_labels};
use super::group::{AggrGroup, Flush};
use super::route::matching_routes;
use crate::domain::ticket::TicketPolicy;
use crate::domain::{Clock, Labels};
use crate::notify::email::EmailNotifier;
use crate::notify::local::{ConsoleNotifier, EmlNotifier};
use crate::notify::slack::SlackNotifier;
use crate::notify::{NOTIFY_BACKOFF, Notification, Notifier, deliver};
use crate::rules::AlertTransitions;
use crate::telemetry::Metrics;
use crate::tickets::{TicketActor, TicketAlerts};

/// How often group timers are checked.
pub const TICK: Duration = Duration::from_millis(50);

/// A receiver's integrations, built once from the config.
pub struct ReceiverIntegrations {
    pub notifiers: Vec<Arc<dyn Notifier>>,
    pub tickets: Vec<TicketPolicy>,
}

/// Builds every receiver's notifiers.
pub fn build_receivers(
    config: &AlertingConfig,
) -> Result<HashMap<String, Arc<ReceiverIntegrations>>, String> {
    let mut out = HashMap::new();
    for r in &config.receivers {
        let mut notifiers: Vec<Arc<dyn Notifier>> = Vec::new();
        for s in &r.slack {
            notifiers.push(Arc::new(SlackNotifier::new(s.clone())));
        }
        for e in &r.email {
            notifiers.push(Arc::new(
                EmailNotifier::new(e.clone())
                    .map_err(|err| format!("receiver {}: {err}", r.name))?,
            ));
        }
        for c in &r.console {
            notifiers.push(Arc::new(ConsoleNotifier(c.clone())));
        }
        for e in &r.eml {
            notifiers.push(Arc::new(EmlNotifier::new(e.clone())));
        }
        out.insert(
            r.name.clone(),
            Arc::new(ReceiverIntegrations {
                notifiers,
                tickets: r.tickets.clone(),
            }),
        );
    }
    Ok(out)
}

type GroupKey = (String, Labels);

pub struct DispatchActor {
    config: AlertingConfig,
    receivers: HashMap<String, Arc<ReceiverIntegrations>>,
    groups: HashMap<GroupKey, AggrGroup>,
    /// One lock per group, held while that group's notification is delivered.
    delivery_locks: HashMap<GroupKey, Arc<tokio::sync::Mutex<()>>>,
    tickets: Addr<TicketActor>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    public_url: String,
}

impl DispatchActor {
    pub fn new(
        config: AlertingConfig,
        receivers: HashMap<String, Arc<ReceiverIntegrations>>,
        tickets: Addr<TicketActor>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
        public_url: String,
    ) -> Self {
        Self {
            config,
            receivers,
            groups: HashMap::new(),
            delivery_locks: HashMap::new(),
            tickets,
            clock,
            metrics,
            public_url,
        }
    }

    fn flush_due(&mut self) {
        let now = self.clock.now_ms();
        let due: Vec<GroupKey> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush_ms() <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(group) = self.groups.get_mut(&key) else {
                continue;
            };
            if let Some(flush) = group.flush(now) {
                let receiver = group.receiver.clone();
                let labels = group.labels.clone();
                self.spawn_delivery(key.clone(), receiver, labels, flush);
            }
            if self.groups.get(&key).is_some_and(AggrGroup::is_empty) {
                self.groups.remove(&key);
            }
        }
        self.delivery_locks
            .retain(|k, lock| self.groups.contains_key(k) || Arc::strong_count(lock) > 1);
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
        let lock = self.delivery_locks.entry(key).or_default().clone();
        let tickets = self.tickets.clone();
        let metrics = self.metrics.clone();
        let clock = self.clock.clone();
        let public_url = self.public_url.clone();
        actix::spawn(async move {
            let _in_order = lock.lock_owned().await;
            let mut ticket_ids = BTreeMap::new();
            for policy in &integrations.tickets {
                ticket_ids.extend(ticket_with_retry(&tickets, &flush, policy).await);
            }
            let n = Notification {
                receiver,
                group_labels,
                alerts: flush.alerts,
                tickets: ticket_ids,
                public_url,
            };
            let sends = integrations.notifiers.iter().map(|notifier| {
                let clock = clock.clone();
                deliver(notifier.as_ref(), &n, NOTIFY_BACKOFF, &metrics, move || {
                    clock.now_ms()
                })
            });
            futures::future::join_all(sends).await;
        });
    }
}

async fn ticket_with_retry(
    tickets: &Addr<TicketActor>,
    flush: &Flush,
    policy: &TicketPolicy,
) -> BTreeMap<crate::domain::Fingerprint, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let msg = TicketAlerts {
            alerts: flush.alerts.clone(),
            policy: policy.clone(),
        };
        match tickets.send(msg).await {
            Ok(Ok(ids)) => return ids,
            Ok(Err(e)) if NOTIFY_BACKOFF.may_retry(attempt) => {
                tracing::warn!(error = %e, attempt, "ticket write failed, retrying");
                tokio::time::sleep(NOTIFY_BACKOFF.delay(attempt, rand::random::<f64>())).await;
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "ticket write failed");
                return BTreeMap::new();
            }
            Err(e) => {
                tracing::error!(error = %e, "ticket actor unavailable");
                return BTreeMap::new();
            }
        }
    }
}

impl Actor for DispatchActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The rules actor waits on this bound when dispatch falls behind.
        ctx.set_mailbox_capacity(256);
        ctx.run_interval(TICK, |act, _| act.flush_due());
    }
}

/// Firing alerts restored after a restart: they were notified before it.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct RestoreFiring(pub Vec<crate::domain::Alert>);

impl DispatchActor {
    fn group_for<'a>(
        groups: &'a mut HashMap<GroupKey, AggrGroup>,
        route: &super::config::Route,
        labels: &Labels,
        now: i64,
    ) -> &'a mut AggrGroup {
        let group_labels = group_labels(&route.group_by, labels);
        groups
            .entry((route.id.clone(), group_labels.clone()))
            .or_insert_with(|| {
                AggrGroup::new(
                    route.id.clone(),
                    route.receiver.clone(),
                    group_labels,
                    route.group_wait,
                    route.group_interval,
                    route.repeat_interval,
                    now,
                )
            })
    }
}

impl Handler<RestoreFiring> for DispatchActor {
    type Result = ();

    fn handle(&mut self, msg: RestoreFiring, _: &mut Self::Context) {
        let now = self.clock.now_ms();
        for alert in msg.0 {
            for route in matching_routes(&self.config.route, &alert.labels) {
                Self::group_for(&mut self.groups, route, &alert.labels, now)
                    .restore_notified(alert.clone(), now);
            }
        }
    }
}

impl Handler<AlertTransitions> for DispatchActor {
    type Result = ();

    fn handle(&mut self, msg: AlertTransitions, _: &mut Self::Context) {
        let now = self.clock.now_ms();
        for alert in msg.0 {
            for route in matching_routes(&self.config.route, &alert.labels) {
                Self::group_for(&mut self.groups, route, &alert.labels, now).insert(alert.clone());
            }
        }
        self.flush_due();
    }
}
