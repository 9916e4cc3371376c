//! Tickets: the `TicketActor` turns routed alerts into tickets (one active ticket per dedup key,
//! occurrences counted once per alert instance, reopened within `reopen_within`, resolved when
//! the alert resolves). Decisions are the pure functions of `domain::ticket`; the database's
//! unique index is the last word on "one active ticket per key".
//!
//! It also sweeps active tickets every [`SWEEP`]: escalation steps that came due (the ticket
//! moves up a tier, the step's receiver is notified through the outbox, written in the same
//! transaction), missed `ack_within` / `resolve_within` targets, and resolved tickets past
//! `tickets.close_after`.

pub mod config;
pub mod webhooks;

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::prelude::*;

use crate::domain::ticket::{
    EscalationStep, FiringDecision, RunbookRef, Ticket, TicketPolicy, by_dedup_key, decide_firing,
    new_ticket, occurrence_key, sweep,
};
use crate::domain::{Alert, Clock, Fingerprint};
use crate::notify::Notification;
use crate::notify::outbox::{OutboxActor, SetReceivers, Wake};
use crate::notify::receivers::ReceiverIntegrations;
use crate::runbooks::RunbookIndex;
use crate::store::{OutboxRow, Store, StoreError, new_id};
use crate::telemetry::Metrics;

type Receivers = Arc<std::collections::HashMap<String, Arc<ReceiverIntegrations>>>;

/// Ticket these alerts (from one notification) under one ticket config.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<BTreeMap<Fingerprint, String>, StoreError>")]
pub struct TicketAlerts {
    pub alerts: Vec<Arc<Alert>>,
    pub policy: TicketPolicy,
}

pub struct TicketActor {
    store: Store,
    clock: Arc<dyn Clock>,
    runbooks: Arc<RunbookIndex>,
    metrics: Metrics,
    public_url: String,
    /// `tickets.close_after`; zero: resolved tickets stay resolved.
    close_after: std::time::Duration,
    /// Who escalation steps notify, and the outbox to wake once they are enqueued.
    receivers: Receivers,
    outbox: Option<Addr<OutboxActor>>,
    /// A sweep is under way (sweeps never overlap).
    sweeping: bool,
}

/// Resolved tickets closed in one transaction.
const CLOSE_BATCH: i64 = 50;
/// How often resolved tickets past `close_after` are closed, and tickets counted.
const CLOSE_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);
/// How often active tickets are checked for due escalations and missed targets: an escalation
/// is at most this late.
pub const SWEEP: std::time::Duration = std::time::Duration::from_secs(15);
/// Tickets one sweep looks at.
const SWEEP_BATCH: i64 = 1_000;

impl TicketActor {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        runbooks: Arc<RunbookIndex>,
        metrics: Metrics,
        public_url: String,
    ) -> Self {
        Self {
            store,
            clock,
            runbooks,
            metrics,
            public_url,
            close_after: std::time::Duration::ZERO,
            receivers: Default::default(),
            outbox: None,
            sweeping: false,
        }
    }

    /// The receivers escalation steps notify, and the outbox to wake when it has their rows
    /// (without one, they are sent at its next poll).
    pub fn with_receivers(
        mut self,
        receivers: Receivers,
        outbox: Option<Addr<OutboxActor>>,
    ) -> Self {
        self.receivers = receivers;
        self.outbox = outbox;
        self
    }

    /// Closes resolved tickets `close_after` their resolution (checked every minute).
    pub fn with_close_after(mut self, close_after: std::time::Duration) -> Self {
        self.close_after = close_after;
        self
    }

    /// Sets `syncwatch_tickets{status,tier}` from the store.
    fn count(&self) {
        let (store, metrics) = (self.store.clone(), self.metrics.clone());
        actix::spawn(async move {
            match store.ticket_counts().await {
                Ok(counts) => metrics.tickets(&counts),
                Err(e) => tracing::warn!(error = %e, "cannot count tickets"),
            }
        });
    }

    fn close_expired(&self) {
        let (store, clock) = (self.store.clone(), self.clock.clone());
        let after = i64::try_from(self.close_after.as_millis()).unwrap_or(i64::MAX);
        actix::spawn(async move {
            let now = clock.now_ms();
            let mut closed = 0;
            // Small transactions, one after the other: the store's one writer is never held
            // long, so a person's change waits at most one batch (a backlog of thousands after
            // a restart drains in seconds).
            loop {
                match store
                    .close_resolved_tickets(now.saturating_sub(after), now, CLOSE_BATCH)
                    .await
                {
                    Ok(ids) => {
                        closed += ids.len();
                        if (ids.len() as i64) < CLOSE_BATCH {
                            break;
                        }
                    }
                    // The next sweep tries again.
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot close resolved tickets");
                        break;
                    }
                }
                tokio::task::yield_now().await;
            }
            if closed > 0 {
                tracing::info!(closed, "closed resolved tickets past close_after");
            }
        });
    }
}

impl Actor for TicketActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Dispatch waits on this mailbox; a full one slows dispatch down instead of growing.
        ctx.set_mailbox_capacity(64);
        self.count();
        ctx.run_interval(CLOSE_SWEEP, |act, _| {
            if !act.close_after.is_zero() {
                act.close_expired();
            }
            act.count();
        });
        if !self.close_after.is_zero() {
            self.close_expired();
        }
        ctx.run_interval(SWEEP, |act, ctx| {
            if !act.sweeping {
                ctx.notify(Sweep);
            }
        });
    }
}

/// Checks active tickets now for due escalations and missed targets (every [`SWEEP`] on its
/// own; tests send it after moving the injected clock). Answers how many tickets changed.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct Sweep;

impl Handler<Sweep> for TicketActor {
    type Result = AtomicResponse<Self, Result<usize, StoreError>>;

    fn handle(&mut self, _: Sweep, _: &mut Self::Context) -> Self::Result {
        self.sweeping = true;
        let (store, clock, metrics) =
            (self.store.clone(), self.clock.clone(), self.metrics.clone());
        let (receivers, public_url) = (self.receivers.clone(), self.public_url.clone());
        let outbox = self.outbox.clone();
        // Atomic, like ticketing: a sweep and a flush never decide on one ticket at once.
        AtomicResponse::new(Box::pin(
            async move {
                let now = clock.now_ms();
                let mut changed = 0;
                for t in store.tickets_to_sweep(SWEEP_BATCH).await? {
                    let Some(outcome) = sweep(&t, now) else {
                        continue;
                    };
                    let rows = escalation_rows(&t, &outcome.notify, &receivers, &public_url, now);
                    if !store.apply_sweep(t.version, &outcome, &rows, now).await? {
                        continue;
                    }
                    changed += 1;
                    for step in &outcome.notify {
                        tracing::warn!(ticket = %t.id, tier = step.tier.as_str(), receiver = %step.receiver, "ticket escalated: not acknowledged in time");
                        metrics.ticket_escalated(step.tier);
                    }
                    for (e, detail) in &outcome.events {
                        if e.kind == "sla_breached" {
                            tracing::warn!(ticket = %t.id, detail = %detail, "ticket missed its target");
                            metrics.ticket_sla_breached(e.to.as_deref().unwrap_or(""), t.priority);
                        }
                    }
                    if !rows.is_empty()
                        && let Some(outbox) = &outbox
                    {
                        outbox.do_send(Wake);
                    }
                }
                Ok(changed)
            }
            .into_actor(self)
            .map(|result, act, _| {
                act.sweeping = false;
                if let Err(e) = &result {
                    // The next sweep tries again.
                    tracing::warn!(error = %e, "cannot sweep tickets");
                }
                result
            }),
        ))
    }
}

/// The outbox rows that tell each step's receiver (every integration it has) that ticket `t`
/// was escalated: one alert with the ticket's labels, a summary naming the tier and the
/// delay, the ticket's link, and its runbook (so Slack, email and webhooks render it as any
/// alert). Its group key is the ticket's escalation, so it never supersedes an alert group's
/// notification.
pub fn escalation_rows(
    t: &Ticket,
    steps: &[EscalationStep],
    receivers: &Receivers,
    public_url: &str,
    now_ms: i64,
) -> Vec<OutboxRow> {
    let mut rows = Vec::new();
    for step in steps {
        let Some(integrations) = receivers.get(&step.receiver) else {
            tracing::error!(receiver = %step.receiver, ticket = %t.id, "escalation receiver is not defined; nobody is notified");
            continue;
        };
        let mut annotations = vec![
            (
                "summary".to_string(),
                format!(
                    "Ticket escalated to {}: {} not acknowledged within {}",
                    step.tier.as_str(),
                    t.title,
                    crate::domain::duration::format_duration(std::time::Duration::from_millis(
                        step.after_ms.max(0) as u64
                    ))
                ),
            ),
            ("description".to_string(), t.summary.clone()),
        ];
        if let Some(rb) = &t.runbook {
            annotations.push(("runbook_url".to_string(), rb.url.clone()));
        }
        let alert = Arc::new(Alert {
            labels: t.labels.clone(),
            annotations: annotations.into_iter().collect(),
            starts_at_ms: t.created_at_ms,
            ends_at_ms: None,
            value: None,
            generator_url: format!("{public_url}/api/v1/tickets/{}", t.id),
        });
        let n = Notification {
            receiver: step.receiver.clone(),
            group_key: format!("ticket/{}/escalation", t.id),
            group_labels: t.labels.clone(),
            tickets: [(alert.fingerprint(), t.id.clone())].into_iter().collect(),
            alerts: vec![alert],
            public_url: public_url.to_string(),
            omitted: Default::default(),
        };
        rows.extend(integrations.outbox_rows(&n, now_ms));
    }
    rows
}

impl Handler<SetReceivers> for TicketActor {
    type Result = ();

    fn handle(&mut self, msg: SetReceivers, _: &mut Self::Context) {
        self.receivers = msg.0;
    }
}

/// Finds the runbook a new ticket links to.
type RunbookFinder = Box<dyn Fn(&Alert) -> Option<RunbookRef> + Send>;

struct Work {
    store: Store,
    now: i64,
    runbook: RunbookFinder,
    metrics: Metrics,
}

impl Work {
    async fn run(self, msg: TicketAlerts) -> Result<BTreeMap<Fingerprint, String>, StoreError> {
        let mut out = BTreeMap::new();
        for keyed in by_dedup_key(msg.alerts.iter().map(AsRef::as_ref), &msg.policy.dedup_by) {
            let key = keyed.key.as_str();
            if let Some(first) = keyed.firing.first() {
                let id = self.open(key, first, &msg.policy).await?;
                for a in &keyed.firing {
                    self.store
                        .add_occurrence(&id, &occurrence_key(a), self.now)
                        .await?;
                    out.insert(a.fingerprint(), id.clone());
                }
                // Resolved alerts under a still-firing key share its ticket.
                for a in &keyed.resolved {
                    out.insert(a.fingerprint(), id.clone());
                }
            } else if let Some(t) = self.store.active_ticket(key).await? {
                if msg.policy.send_resolved {
                    let names: Vec<&str> = keyed.resolved.iter().map(|a| a.name()).collect();
                    if self
                        .store
                        .resolve_ticket(
                            &t.id,
                            self.now,
                            &format!("alert resolved: {}", names.join(", ")),
                        )
                        .await?
                    {
                        tracing::info!(ticket = %t.id, dedup_key = key, "ticket resolved");
                        let after = (self.now - t.created_at_ms).max(0) as u64;
                        self.metrics.ticket_resolved(
                            t.severity,
                            t.tier,
                            std::time::Duration::from_millis(after),
                        );
                    }
                }
                for a in &keyed.resolved {
                    out.insert(a.fingerprint(), t.id.clone());
                }
            } else if let Some(t) = self.store.last_inactive_ticket(key).await? {
                for a in &keyed.resolved {
                    out.insert(a.fingerprint(), t.id.clone());
                }
            }
        }
        Ok(out)
    }

    /// The active ticket of a key, opening or reopening one when there is none.
    async fn open(
        &self,
        key: &str,
        alert: &Alert,
        policy: &TicketPolicy,
    ) -> Result<String, StoreError> {
        let active = self.store.active_ticket(key).await?;
        let last = if active.is_none() {
            self.store.last_inactive_ticket(key).await?
        } else {
            None
        };
        match decide_firing(
            active.as_ref(),
            last.as_ref(),
            self.now,
            policy.reopen_within,
        ) {
            FiringDecision::Increment { id } => Ok(id),
            FiringDecision::Reopen { id } => {
                self.store
                    .reopen_ticket(&id, &occurrence_key(alert), self.now)
                    .await?;
                tracing::info!(ticket = %id, dedup_key = key, "ticket reopened");
                Ok(id)
            }
            FiringDecision::Create => {
                let t = new_ticket(
                    new_id(),
                    alert,
                    key.to_string().into(),
                    policy,
                    (self.runbook)(alert),
                    self.now,
                );
                match self.store.create_ticket(&t, &occurrence_key(alert)).await {
                    Ok(()) => {
                        self.metrics.ticket_created(t.severity);
                        tracing::info!(ticket = %t.id, dedup_key = key, title = %t.title, "ticket opened");
                        Ok(t.id)
                    }
                    // Another writer opened it first: the index refused ours; use theirs.
                    Err(StoreError::Conflict(_)) => self
                        .store
                        .active_ticket(key)
                        .await?
                        .map(|t| t.id)
                        .ok_or_else(|| {
                            StoreError::Conflict(format!(
                                "no active ticket for {key} after a conflict"
                            ))
                        }),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

impl Handler<TicketAlerts> for TicketActor {
    type Result = AtomicResponse<Self, Result<BTreeMap<Fingerprint, String>, StoreError>>;

    fn handle(&mut self, msg: TicketAlerts, _: &mut Self::Context) -> Self::Result {
        let runbooks = self.runbooks.clone();
        let public_url = self.public_url.clone();
        let work = Work {
            store: self.store.clone(),
            now: self.clock.now_ms(),
            runbook: Box::new(move |a: &Alert| {
                runbooks.exact(&a.labels).map(|rb| RunbookRef {
                    id: rb.id.clone(),
                    title: rb.title.clone(),
                    url: format!("{public_url}/api/v1/runbooks/{}", rb.id),
                })
            }),
            metrics: self.metrics.clone(),
        };
        // Atomic: ticket writes are serialised, so two notifications never race on one key.
        AtomicResponse::new(Box::pin(work.run(msg).into_actor(self)))
    }
}
