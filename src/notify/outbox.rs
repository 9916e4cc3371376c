//! The durable outbox: notifications are written to the store before they are sent, then
//! delivered from it by the `OutboxActor`, with capped, jittered exponential backoff.
//!
//! A *stream* is one receiver's integration for one alert group. Its notifications are
//! delivered strictly in order, one at a time, so a resolution never overtakes its firing
//! notification; different streams deliver independently. When several rows of a stream wait
//! (an outage, a slow receiver), only the newest is sent: each row carries the group's whole
//! state, so the newest says everything the older ones would have, and a delivered firing is
//! still followed by its resolution. The older rows are marked superseded.
//!
//! Each attempt is a claim in the store ([`Store::claim_notification`]) that only one poller
//! holds, and every later change is guarded on it, so a stale poll or a second poller never
//! sends a row twice. Retryable failures (server errors, timeouts, network, rate limits) are
//! retried until they succeed, however long the outage; a success brings the integration's
//! other waiting rows forward, so a recovered receiver gets its backlog at once. Only permanent
//! failures (a rejected request or credentials) give up, logged and counted. Pending rows are
//! picked up again after a restart.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::ticket_webhook::{TicketWebhook, TicketWebhookMessage};
use super::{Notification, NotifyError};
use crate::domain::Clock;
use crate::domain::backoff::Backoff;
use crate::notify::receivers::ReceiverIntegrations;
use crate::store::{OutboxClaim, OutboxKind, OutboxRow, Store, new_id};
use crate::telemetry::Metrics;

/// Delays between attempts of one notification: from 500 ms up to 15 s, so a receiver that is
/// back is tried again within 15 s (and then its whole backlog at once).
pub const OUTBOX_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(15),
    max_attempts: u32::MAX,
};
/// How often pending rows are looked at without a wake-up.
const POLL: Duration = Duration::from_millis(500);
/// Delivered and failed rows are kept this long, then pruned.
const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;
/// One delivery attempt longer than this counts as a timeout (and is retried).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a claim holds: well past [`DELIVERY_TIMEOUT`], so a live poller never loses its
/// claim mid-attempt; a claim of a poller that died is taken over after this.
pub const CLAIM: Duration = Duration::from_secs(90);

/// The stream a row belongs to.
pub fn stream_key(row: &OutboxRow) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        row.receiver, row.integration, row.group_key
    )
}

/// A stream's next attempt: send `row` (its newest waiting row), as attempt number `attempts`.
#[derive(Debug, PartialEq)]
pub struct Due<'a> {
    pub row: &'a OutboxRow,
    pub attempts: i64,
    /// How many older rows of the stream it supersedes.
    pub supersedes: usize,
}

/// The attempts to make now, one per stream: a stream whose rows are being sent (a live claim
/// in the store, or `in_flight` here) waits; otherwise, once its oldest waiting row's time has
/// come, its newest is sent, counting attempts on from the most tried row (the backoff goes on);
/// a stream of ticket events sends its oldest instead (every event is delivered, in order).
/// `rows` are ordered oldest first.
pub fn due<'a>(rows: &'a [OutboxRow], in_flight: &HashSet<String>, now_ms: i64) -> Vec<Due<'a>> {
    let mut streams: Vec<(String, Vec<&'a OutboxRow>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let key = stream_key(row);
        match index.get(&key) {
            Some(&i) => streams[i].1.push(row),
            None => {
                index.insert(key.clone(), streams.len());
                streams.push((key, vec![row]));
            }
        }
    }
    let mut out = Vec::new();
    for (key, rows) in &streams {
        if in_flight.contains(key)
            || rows
                .iter()
                .any(|r| r.claimed_until_ms.is_some_and(|t| t >= now_ms))
        {
            continue;
        }
        let (head, newest) = (rows[0], rows[rows.len() - 1]);
        if head.next_attempt_at_ms > now_ms {
            continue;
        }
        if head.kind == OutboxKind::TicketEvent {
            // Every event, in order: the oldest goes first, on its own backoff.
            out.push(Due {
                row: head,
                attempts: head.attempts + 1,
                supersedes: 0,
            });
            continue;
        }
        let tried = rows.iter().map(|r| r.attempts).max().unwrap_or(0);
        out.push(Due {
            row: newest,
            attempts: tried + 1,
            supersedes: rows.len() - 1,
        });
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
        kind: OutboxKind::Notification,
        receiver: n.receiver.clone(),
        integration: integration.to_string(),
        group_key: group_key.to_string(),
        payload: serde_json::to_string(n)?,
        attempts: 0,
        next_attempt_at_ms: now_ms,
        created_at_ms: now_ms,
        claimed_until_ms: None,
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

/// Delivers the outbox. Several may poll one store in one process (each claims what it sends);
/// one process uses a store until replicated mode, since a start releases every claim.
pub struct OutboxActor {
    /// What every attempt works with; cloned into each one.
    delivery: Delivery,
    in_flight: HashSet<String>,
    /// Deliveries under way (a drain waits for them).
    delivering: crate::drain::InFlight,
    polling: bool,
    poll_again: bool,
    /// Shutting down: no attempt starts any more.
    draining: bool,
}

impl OutboxActor {
    pub fn new(
        store: Store,
        receivers: Arc<HashMap<String, Arc<ReceiverIntegrations>>>,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            delivery: Delivery {
                store,
                receivers,
                metrics,
                clock,
                owner: new_id(),
                failing: Failing::default(),
                ticket_webhooks: Default::default(),
            },
            in_flight: HashSet::new(),
            delivering: Default::default(),
            polling: false,
            poll_again: false,
            draining: false,
        }
    }

    /// The ticket webhooks whose rows this outbox delivers, by name.
    pub fn with_ticket_webhooks(mut self, webhooks: TicketWebhooks) -> Self {
        self.delivery.ticket_webhooks = webhooks;
        self
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        if self.draining {
            return;
        }
        if self.polling {
            self.poll_again = true;
            return;
        }
        self.polling = true;
        let store = self.delivery.store.clone();
        let now = self.delivery.clock.now_ms();
        ctx.spawn(
            async move { store.due_notifications(now, 10_000).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    act.polling = false;
                    match result {
                        Ok(rows) if !act.draining => {
                            let now = act.delivery.clock.now_ms();
                            for d in due(&rows, &act.in_flight, now) {
                                act.attempt(d.row.clone(), d.attempts, ctx);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
                    }
                    if std::mem::take(&mut act.poll_again) {
                        act.poll(ctx);
                    }
                }),
        );
    }

    fn attempt(&mut self, row: OutboxRow, attempts: i64, ctx: &mut Context<Self>) {
        let stream = stream_key(&row);
        self.in_flight.insert(stream.clone());
        let delivery = self.delivery.clone();
        let addr = ctx.address();
        let delivering = self.delivering.start();
        actix::spawn(async move {
            delivery.run(&row, attempts).await;
            drop(delivering);
            addr.do_send(Attempted { stream });
        });
    }
}

/// One attempt ready to go: the integration's metric label, the time its latency counts from
/// (Unix ms), and the send.
type Attempt = (
    &'static str,
    i64,
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), NotifyError>> + Send>>,
);

/// Integrations whose last attempt failed, by (receiver, integration key). A std mutex: held
/// only to insert or remove, never across an await.
type Failing = Arc<std::sync::Mutex<HashSet<(String, String)>>>;

/// One attempt at one row, off the actor.
#[derive(Clone)]
struct Delivery {
    store: Store,
    receivers: Arc<HashMap<String, Arc<ReceiverIntegrations>>>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    owner: String,
    failing: Failing,
    ticket_webhooks: TicketWebhooks,
}

/// The configured ticket webhooks, by name.
pub type TicketWebhooks = Arc<HashMap<String, Arc<TicketWebhook>>>;

impl Delivery {
    async fn run(&self, row: &OutboxRow, attempts: i64) {
        let now = self.clock.now_ms();
        let claim = OutboxClaim {
            owner: self.owner.clone(),
            now_ms: now,
            until_ms: now + CLAIM.as_millis() as i64,
        };
        match self.store.claim_notification(row, attempts, &claim).await {
            Ok(true) => {}
            // Another poller has it, or it was settled after it was read: not ours to send.
            Ok(false) => return,
            Err(e) => return tracing::error!(error = %e, "cannot claim an outbox row"),
        }
        let attempt = match row.kind {
            OutboxKind::Notification => self.notification(row),
            OutboxKind::TicketEvent => self.ticket_event(row),
        };
        let (integration, since_ms, send) = match attempt {
            Ok(a) => a,
            Err(why) => return self.give_up(row, why).await,
        };
        let result = match tokio::time::timeout(DELIVERY_TIMEOUT, send).await {
            Ok(r) => r,
            Err(_) => Err(NotifyError::new(
                super::FailureReason::Timeout,
                format!("no answer within {}s", DELIVERY_TIMEOUT.as_secs()),
            )),
        };
        let now = self.clock.now_ms();
        let recorded = match result {
            Ok(()) => self.delivered(row, since_ms, integration, now).await,
            Err(e) => self.failed(row, attempts, integration, &e, now).await,
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(receiver = %row.receiver, integration = %row.integration, "the claim on a notification lapsed during its delivery; another poller may send it again")
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot update the outbox; the notification may be sent again")
            }
        }
    }

    /// A notification row's attempt: its integration label, the time its latency counts from,
    /// and the send; `Err` (why) when it can never be sent.
    fn notification(&self, row: &OutboxRow) -> Result<Attempt, String> {
        let n: Notification = serde_json::from_str(&row.payload)
            .map_err(|e| format!("unreadable notification: {e}"))?;
        let notifier = self
            .receivers
            .get(&row.receiver)
            .and_then(|r| r.notifier(&row.integration))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "receiver {} has no integration {} any more",
                    row.receiver, row.integration
                )
            })?;
        let since = n.transition_ms();
        let integration = notifier.integration();
        Ok((
            integration,
            since,
            Box::pin(async move { notifier.notify(&n).await }),
        ))
    }

    /// A ticket event row's attempt, to the webhook named by its integration.
    fn ticket_event(&self, row: &OutboxRow) -> Result<Attempt, String> {
        let m: TicketWebhookMessage = serde_json::from_str(&row.payload)
            .map_err(|e| format!("unreadable ticket event: {e}"))?;
        let webhook = self
            .ticket_webhooks
            .get(&row.integration)
            .cloned()
            .ok_or_else(|| format!("no ticket webhook {} any more", row.integration))?;
        Ok((
            "ticket_webhook",
            m.at_ms,
            Box::pin(async move { webhook.deliver(&m).await }),
        ))
    }

    async fn delivered(
        &self,
        row: &OutboxRow,
        since_ms: i64,
        integration: &'static str,
        now: i64,
    ) -> Result<bool, crate::store::StoreError> {
        let latency = Duration::from_millis((now - since_ms).max(0) as u64);
        let recorded = self
            .store
            .notification_delivered(&row.id, &self.owner, now)
            .await?;
        // Counted once the outbox knows it was delivered, so the count never runs ahead of
        // what a restart would consider sent.
        self.metrics.notification(integration, Some(latency));
        let recovered = self
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(row.receiver.clone(), row.integration.clone()));
        if recovered {
            // The receiver answers again: what else waits for it goes now, not after its backoff.
            let waiting = self
                .store
                .notifications_due_now(&row.receiver, &row.integration, now)
                .await?;
            tracing::info!(receiver = %row.receiver, integration = %row.integration, waiting, "receiver reachable again; sending its backlog now");
        }
        Ok(recorded)
    }

    async fn failed(
        &self,
        row: &OutboxRow,
        attempts: i64,
        integration: &'static str,
        e: &NotifyError,
        now: i64,
    ) -> Result<bool, crate::store::StoreError> {
        self.metrics
            .notification_failed(integration, e.reason.as_str());
        self.failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((row.receiver.clone(), row.integration.clone()));
        let attempt = u32::try_from(attempts).unwrap_or(u32::MAX);
        let at = retry_at(attempt, e, now, rand::random::<f64>());
        match at {
            Some(at) => {
                tracing::warn!(receiver = %row.receiver, integration = %row.integration, attempt = attempts, error = %e, retry_in_ms = at - now, "notification failed, will retry")
            }
            None => {
                tracing::error!(receiver = %row.receiver, integration = %row.integration, attempt = attempts, error = %e, "notification failed permanently")
            }
        }
        self.store
            .notification_failed(&row.id, &self.owner, &e.to_string(), at)
            .await
    }

    async fn give_up(&self, row: &OutboxRow, reason: String) {
        tracing::error!(receiver = %row.receiver, integration = %row.integration, error = %reason, "notification dropped: it cannot be delivered");
        if let Err(e) = self.store.notification_dropped(&row.id, &reason).await {
            tracing::error!(error = %e, "cannot update the outbox");
        }
    }
}

impl Actor for OutboxActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Whatever was pending before a restart goes out now.
        self.poll(ctx);
        ctx.run_interval(POLL, |act, ctx| act.poll(ctx));
        ctx.run_interval(Duration::from_secs(3600), |act, _| {
            let store = act.delivery.store.clone();
            let before = act.delivery.clock.now_ms() - KEEP_MS;
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

/// Shutting down: no attempt starts any more; answers `true` once the attempts under way are
/// recorded, `false` if `within` passed first. What was not sent stays pending for the restart.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "bool")]
pub struct Drain {
    pub within: Duration,
}

impl Handler<Drain> for OutboxActor {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: Drain, _: &mut Self::Context) -> Self::Result {
        self.draining = true;
        let delivering = self.delivering.clone();
        Box::pin(async move { delivering.drained(msg.within).await })
    }
}

/// The receivers after `alerting.yml` was reloaded: rows still pending are delivered by them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetReceivers(pub Arc<HashMap<String, Arc<ReceiverIntegrations>>>);

impl Handler<SetReceivers> for OutboxActor {
    type Result = ();

    fn handle(&mut self, msg: SetReceivers, _: &mut Self::Context) {
        self.delivery.receivers = msg.0;
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
            kind: OutboxKind::Notification,
            receiver: "oncall".into(),
            integration: "slack/0".into(),
            group_key: group.into(),
            payload: String::new(),
            attempts: 0,
            next_attempt_at_ms: next,
            created_at_ms: created,
            claimed_until_ms: None,
        }
    }

    fn ids<'a>(due: &[Due<'a>]) -> Vec<&'a str> {
        due.iter().map(|d| d.row.id.as_str()).collect()
    }

    #[test]
    fn a_stream_sends_its_newest_row_one_at_a_time_and_streams_go_independently() {
        let rows = vec![
            row("firing-a", "a", 1, 0),
            row("resolved-a", "a", 2, 0),
            row("firing-b", "b", 3, 0),
        ];
        let got = due(&rows, &HashSet::new(), 10);
        assert_eq!(ids(&got), vec!["resolved-a", "firing-b"]);
        assert_eq!(
            got[0].supersedes, 1,
            "resolved-a carries firing-a's group state"
        );
        assert_eq!(got[1].supersedes, 0);
        let busy: HashSet<String> = [stream_key(&rows[0])].into();
        assert_eq!(ids(&due(&rows, &busy, 10)), vec!["firing-b"]);
    }

    #[test]
    fn a_stream_of_ticket_events_sends_every_row_oldest_first() {
        let event = |id, created, next| OutboxRow {
            kind: OutboxKind::TicketEvent,
            ..row(id, "ticket-1", created, next)
        };
        let rows = vec![event("created", 1, 0), event("acknowledged", 2, 0)];
        let got = due(&rows, &HashSet::new(), 10);
        assert_eq!(ids(&got), vec!["created"]);
        assert_eq!(got[0].supersedes, 0);
        // The head waits for its retry: the stream waits with it (order before all).
        let rows = vec![
            OutboxRow {
                attempts: 3,
                ..event("created", 1, 100)
            },
            event("acknowledged", 2, 0),
        ];
        assert!(due(&rows, &HashSet::new(), 50).is_empty());
        assert_eq!(due(&rows, &HashSet::new(), 100)[0].attempts, 4);
    }

    #[test]
    fn a_row_claimed_in_the_store_holds_back_its_stream_until_the_claim_lapses() {
        let rows = vec![
            OutboxRow {
                claimed_until_ms: Some(100),
                ..row("firing-a", "a", 1, 0)
            },
            row("resolved-a", "a", 2, 0),
        ];
        assert!(
            due(&rows, &HashSet::new(), 100).is_empty(),
            "another poller sends firing-a"
        );
        assert_eq!(
            ids(&due(&rows, &HashSet::new(), 101)),
            vec!["resolved-a"],
            "its claim lapsed"
        );
    }

    #[test]
    fn a_row_waiting_for_its_retry_holds_back_its_stream_and_its_backoff_goes_on() {
        let rows = vec![
            OutboxRow {
                attempts: 4,
                ..row("firing-a", "a", 1, 100)
            },
            row("resolved-a", "a", 2, 0),
        ];
        assert!(due(&rows, &HashSet::new(), 50).is_empty());
        let got = due(&rows, &HashSet::new(), 100);
        assert_eq!(ids(&got), vec!["resolved-a"]);
        assert_eq!(got[0].attempts, 5, "the fifth attempt at this stream");
    }

    #[test]
    fn retryable_failures_retry_with_backoff_and_permanent_ones_give_up() {
        let server = NotifyError::new(FailureReason::ServerError, "500");
        let at = retry_at(1, &server, 1_000, 1.0).unwrap();
        assert_eq!(at, 1_500);
        assert!(
            retry_at(1_000, &server, 0, 1.0).unwrap() <= 15_000,
            "capped, so a receiver that is back is noticed within 15 s"
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
