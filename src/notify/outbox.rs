//! The durable outbox: notifications are written to the store before they are sent, then
//! delivered from it by the `OutboxActor`, with capped, jittered exponential backoff.
//!
//! A *stream* is one receiver's integration for one alert group. Its notifications are
//! delivered strictly in order, one at a time, so a resolution never overtakes its firing
//! notification; different streams deliver independently. Retryable failures (server errors,
//! timeouts, network, rate limits) are retried until they succeed, however long the outage;
//! only permanent ones (a rejected request or credentials) give up, logged and counted.
//! Pending rows are picked up again after a restart.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::{Notification, NotifyError};
use crate::alerting::actor::ReceiverIntegrations;
use crate::domain::Clock;
use crate::domain::backoff::Backoff;
use crate::store::{OutboxRow, Store, new_id};
use crate::telemetry::Metrics;

/// Delays between attempts of one notification: from 500 ms up to a minute.
pub const OUTBOX_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(60),
    max_attempts: u32::MAX,
};
/// How often pending rows are looked at without a wake-up.
const POLL: Duration = Duration::from_millis(500);
/// Delivered and failed rows are kept this long, then pruned.
const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;

/// The stream a row belongs to.
pub fn stream_key(row: &OutboxRow) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        row.receiver, row.integration, row.group_key
    )
}

/// The rows to attempt now: the oldest pending row of each stream that has none in flight, if
/// its time has come. `pending` is ordered oldest first.
pub fn due<'a>(
    pending: &'a [OutboxRow],
    in_flight: &HashSet<String>,
    now_ms: i64,
) -> Vec<&'a OutboxRow> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for row in pending {
        let key = stream_key(row);
        if !seen.insert(key.clone()) {
            continue; // a later row of a stream waits for the earlier one
        }
        if !in_flight.contains(&key) && row.next_attempt_at_ms <= now_ms {
            out.push(row);
        }
    }
    out
}

/// When to try again after `attempts` failed attempts, or `None` to give up.
pub fn retry_at(attempts: u32, error: &NotifyError, now_ms: i64, unit_random: f64) -> Option<i64> {
    if !error.reason.retryable() || !OUTBOX_BACKOFF.may_retry(attempts) {
        return None;
    }
    let delay = OUTBOX_BACKOFF.next_delay(attempts, unit_random, error.retry_after);
    Some(now_ms + delay.as_millis() as i64)
}

/// A new outbox row for one integration of a receiver.
pub fn row_for(
    n: &Notification,
    integration: &str,
    group_key: &str,
    now_ms: i64,
) -> Result<OutboxRow, serde_json::Error> {
    Ok(OutboxRow {
        id: new_id(),
        receiver: n.receiver.clone(),
        integration: integration.to_string(),
        group_key: group_key.to_string(),
        payload: serde_json::to_string(n)?,
        attempts: 0,
        next_attempt_at_ms: now_ms,
        created_at_ms: now_ms,
    })
}

/// Look at the outbox now (something was enqueued).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

#[derive(Message)]
#[rtype(result = "()")]
struct Attempted {
    stream: String,
}

pub struct OutboxActor {
    store: Store,
    receivers: Arc<HashMap<String, Arc<ReceiverIntegrations>>>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    in_flight: HashSet<String>,
    polling: bool,
    poll_again: bool,
}

impl OutboxActor {
    pub fn new(
        store: Store,
        receivers: Arc<HashMap<String, Arc<ReceiverIntegrations>>>,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            receivers,
            metrics,
            clock,
            in_flight: HashSet::new(),
            polling: false,
            poll_again: false,
        }
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        if self.polling {
            self.poll_again = true;
            return;
        }
        self.polling = true;
        let store = self.store.clone();
        ctx.spawn(
            async move { store.pending_notifications(10_000).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    act.polling = false;
                    match result {
                        Ok(rows) => {
                            let now = act.clock.now_ms();
                            for row in due(&rows, &act.in_flight, now) {
                                act.attempt(row.clone(), ctx);
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
                    }
                    if std::mem::take(&mut act.poll_again) {
                        act.poll(ctx);
                    }
                }),
        );
    }

    fn attempt(&mut self, row: OutboxRow, ctx: &mut Context<Self>) {
        let stream = stream_key(&row);
        self.in_flight.insert(stream.clone());
        let store = self.store.clone();
        let receivers = self.receivers.clone();
        let metrics = self.metrics.clone();
        let clock = self.clock.clone();
        let addr = ctx.address();
        actix::spawn(async move {
            deliver_row(&row, &store, &receivers, &metrics, clock.as_ref()).await;
            addr.do_send(Attempted { stream });
        });
    }
}

async fn deliver_row(
    row: &OutboxRow,
    store: &Store,
    receivers: &HashMap<String, Arc<ReceiverIntegrations>>,
    metrics: &Metrics,
    clock: &dyn Clock,
) {
    let attempts = row.attempts + 1;
    let give_up = |reason: String| async move {
        tracing::error!(receiver = %row.receiver, integration = %row.integration, error = %reason, "notification dropped: it cannot be delivered");
        if let Err(e) = store
            .notification_failed(&row.id, attempts, &reason, None)
            .await
        {
            tracing::error!(error = %e, "cannot update the outbox");
        }
    };
    let n: Notification = match serde_json::from_str(&row.payload) {
        Ok(n) => n,
        Err(e) => return give_up(format!("unreadable notification: {e}")).await,
    };
    let Some(notifier) = receivers
        .get(&row.receiver)
        .and_then(|r| r.notifier(&row.integration))
    else {
        return give_up(format!(
            "receiver {} has no integration {} any more",
            row.receiver, row.integration
        ))
        .await;
    };
    let result = notifier.notify(&n).await;
    let now = clock.now_ms();
    let update = match result {
        Ok(()) => {
            let latency = Duration::from_millis((now - n.transition_ms()).max(0) as u64);
            // Counted once the outbox knows it was delivered, so the count never runs ahead of
            // what a restart would consider sent.
            let recorded = store.notification_delivered(&row.id, attempts, now).await;
            metrics.notification(notifier.integration(), Some(latency));
            recorded
        }
        Err(e) => {
            metrics.notification_failed(notifier.integration(), e.reason.as_str());
            match retry_at(attempts as u32, &e, now, rand::random::<f64>()) {
                Some(at) => {
                    tracing::warn!(receiver = %row.receiver, integration = %row.integration, attempt = attempts, error = %e, retry_in_ms = at - now, "notification failed, will retry");
                    store
                        .notification_failed(&row.id, attempts, &e.to_string(), Some(at))
                        .await
                }
                None => {
                    tracing::error!(receiver = %row.receiver, integration = %row.integration, attempt = attempts, error = %e, "notification failed permanently");
                    store
                        .notification_failed(&row.id, attempts, &e.to_string(), None)
                        .await
                }
            }
        }
    };
    if let Err(e) = update {
        tracing::error!(error = %e, "cannot update the outbox; the notification may be sent again");
    }
}

impl Actor for OutboxActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Whatever was pending before a restart goes out now.
        self.poll(ctx);
        ctx.run_interval(POLL, |act, ctx| act.poll(ctx));
        ctx.run_interval(Duration::from_secs(3600), |act, _| {
            let store = act.store.clone();
            let before = act.clock.now_ms() - KEEP_MS;
            actix::spawn(async move {
                if let Err(e) = store.prune_outbox(before).await {
                    tracing::warn!(error = %e, "cannot prune the outbox");
                }
            });
        });
    }
}

impl Handler<Wake> for OutboxActor {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.poll(ctx);
    }
}

/// The receivers after `alerting.yml` was reloaded: rows still pending are delivered by them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetReceivers(pub Arc<HashMap<String, Arc<ReceiverIntegrations>>>);

impl Handler<SetReceivers> for OutboxActor {
    type Result = ();

    fn handle(&mut self, msg: SetReceivers, _: &mut Self::Context) {
        self.receivers = msg.0;
    }
}

impl Handler<Attempted> for OutboxActor {
    type Result = ();

    fn handle(&mut self, msg: Attempted, ctx: &mut Self::Context) {
        self.in_flight.remove(&msg.stream);
        // The stream's next row (if any) may be due right away.
        self.poll(ctx);
    }
}

/// Why a notification with no firing alert is not enqueued for an integration.
pub fn skip_resolved(n: &Notification, send_resolved: bool) -> bool {
    n.status() == "resolved" && !send_resolved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::FailureReason;

    fn row(id: &str, group: &str, created: i64, next: i64) -> OutboxRow {
        OutboxRow {
            id: id.into(),
            receiver: "oncall".into(),
            integration: "slack/0".into(),
            group_key: group.into(),
            payload: String::new(),
            attempts: 0,
            next_attempt_at_ms: next,
            created_at_ms: created,
        }
    }

    #[test]
    fn each_stream_delivers_its_oldest_row_first_and_one_at_a_time() {
        let rows = vec![
            row("firing-a", "a", 1, 0),
            row("resolved-a", "a", 2, 0),
            row("firing-b", "b", 3, 0),
        ];
        let ids: Vec<&str> = due(&rows, &HashSet::new(), 10)
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(
            ids,
            vec!["firing-a", "firing-b"],
            "resolved-a waits for firing-a"
        );
        let busy: HashSet<String> = [stream_key(&rows[0])].into();
        let ids: Vec<&str> = due(&rows, &busy, 10)
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(ids, vec!["firing-b"]);
    }

    #[test]
    fn a_row_waiting_for_its_retry_holds_back_its_stream() {
        let rows = vec![row("firing-a", "a", 1, 100), row("resolved-a", "a", 2, 0)];
        assert!(due(&rows, &HashSet::new(), 50).is_empty());
        assert_eq!(due(&rows, &HashSet::new(), 100)[0].id, "firing-a");
    }

    #[test]
    fn retryable_failures_retry_with_backoff_and_permanent_ones_give_up() {
        let server = NotifyError::new(FailureReason::ServerError, "500");
        let at = retry_at(1, &server, 1_000, 1.0).unwrap();
        assert_eq!(at, 1_500);
        assert!(
            retry_at(1_000, &server, 0, 1.0).unwrap() <= 60_000,
            "capped"
        );
        let limited = NotifyError {
            retry_after: Some(Duration::from_secs(30)),
            ..NotifyError::new(FailureReason::RateLimited, "429")
        };
        assert_eq!(
            retry_at(1, &limited, 0, 0.0),
            Some(30_000),
            "Retry-After wins"
        );
        assert_eq!(
            retry_at(
                1,
                &NotifyError::new(FailureReason::AuthError, "401"),
                0,
                1.0
            ),
            None
        );
    }
}
