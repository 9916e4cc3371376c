//! Tickets: the `TicketActor` turns routed alerts into tickets (one active ticket per dedup key,
//! occurrences counted once per alert instance, reopened within `reopen_within`, resolved when
//! the alert resolves). Decisions are the pure functions of `domain::ticket`; the database's
//! unique index is the last word on "one active ticket per key".

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::prelude::*;

use crate::domain::ticket::{
    FiringDecision, RunbookRef, TicketPolicy, by_dedup_key, decide_firing, new_ticket,
    occurrence_key,
};
use crate::domain::{Alert, Clock, Fingerprint};
use crate::runbooks::RunbookIndex;
use crate::store::{Store, StoreError, new_id};
use crate::telemetry::Metrics;

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
}

/// How often resolved tickets past `close_after` are closed.
const CLOSE_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

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
        }
    }

    /// Closes resolved tickets `close_after` their resolution (checked every minute).
    pub fn with_close_after(mut self, close_after: std::time::Duration) -> Self {
        self.close_after = close_after;
        self
    }

    fn close_expired(&self) {
        let (store, clock) = (self.store.clone(), self.clock.clone());
        let after = i64::try_from(self.close_after.as_millis()).unwrap_or(i64::MAX);
        actix::spawn(async move {
            let now = clock.now_ms();
            match store
                .close_resolved_tickets(now.saturating_sub(after), now, 500)
                .await
            {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!(
                        closed = ids.len(),
                        "closed resolved tickets past close_after"
                    )
                }
                Ok(_) => {}
                // The next sweep tries again.
                Err(e) => tracing::warn!(error = %e, "cannot close resolved tickets"),
            }
        });
    }
}

impl Actor for TicketActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Dispatch waits on this mailbox; a full one slows dispatch down instead of growing.
        ctx.set_mailbox_capacity(64);
        if !self.close_after.is_zero() {
            self.close_expired();
            ctx.run_interval(CLOSE_SWEEP, |act, _| act.close_expired());
        }
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
