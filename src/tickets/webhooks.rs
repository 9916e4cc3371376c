//! Forwards the feed of ticket events to the ticket webhooks (`[[tickets.webhooks]]`): every
//! second, for each webhook, the events after its cursor that it wants become outbox rows, and
//! the cursor moves past them, in one transaction. The outbox then delivers them signed, in
//! order per ticket, retrying through outages ([`crate::notify::ticket_webhook`]).
//!
//! The body of a delivery, as Standard Webhooks suggests (`type`, `timestamp`, `data`):
//! `{"type": "ticket.<kind>", "timestamp": "<the event's time>", "data": {"event": <as the
//! feed serves it>, "ticket": <the ticket as the API serves it, when the event was forwarded>}}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::json;

use crate::api::tickets::{EventView, TicketView};
use crate::domain::Clock;
use crate::domain::clock::rfc3339;
use crate::domain::ticket::Ticket;
use crate::notify::outbox::{OutboxActor, TicketWebhooks, Wake};
use crate::notify::ticket_webhook::{RECEIVER, TicketWebhook, TicketWebhookMessage};
use crate::store::{OutboxKind, OutboxRow, Store, StoreError, new_id};

/// How often the feed is looked at: an event is enqueued for its webhooks within this.
const POLL: Duration = Duration::from_secs(1);
/// Events one webhook takes from the feed at a time.
const BATCH: i64 = 500;

pub struct WebhookForwarder {
    store: Store,
    webhooks: TicketWebhooks,
    clock: Arc<dyn Clock>,
    public_url: String,
    outbox: Option<Addr<OutboxActor>>,
    busy: bool,
}

impl WebhookForwarder {
    pub fn new(
        store: Store,
        webhooks: TicketWebhooks,
        clock: Arc<dyn Clock>,
        public_url: String,
        outbox: Option<Addr<OutboxActor>>,
    ) -> Self {
        Self {
            store,
            webhooks,
            clock,
            public_url,
            outbox,
            busy: false,
        }
    }
}

impl Actor for WebhookForwarder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(POLL, |act, ctx| {
            if !act.busy {
                ctx.notify(Forward);
            }
        });
    }
}

/// Forwards what is new in the feed now (every second on its own; tests send it). Answers
/// how many events were enqueued.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct Forward;

impl Handler<Forward> for WebhookForwarder {
    type Result = AtomicResponse<Self, Result<usize, StoreError>>;

    fn handle(&mut self, _: Forward, _: &mut Self::Context) -> Self::Result {
        self.busy = true;
        let (store, webhooks) = (self.store.clone(), self.webhooks.clone());
        let (clock, public_url, outbox) = (
            self.clock.clone(),
            self.public_url.clone(),
            self.outbox.clone(),
        );
        AtomicResponse::new(Box::pin(
            async move {
                let mut enqueued = 0;
                for webhook in webhooks.values() {
                    // Until the feed is caught up, or a batch enqueues nothing new.
                    loop {
                        let (n, more) =
                            forward_batch(&store, webhook, &public_url, clock.now_ms()).await?;
                        enqueued += n;
                        if !more {
                            break;
                        }
                    }
                }
                if enqueued > 0
                    && let Some(outbox) = &outbox
                {
                    outbox.do_send(Wake);
                }
                Ok(enqueued)
            }
            .into_actor(self)
            .map(|result, act, _| {
                act.busy = false;
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "cannot forward ticket events to the webhooks; trying again");
                }
                result
            }),
        ))
    }
}

/// Enqueues one batch of the feed for `webhook`: how many events it took, and whether a full
/// batch suggests more.
async fn forward_batch(
    store: &Store,
    webhook: &TicketWebhook,
    public_url: &str,
    now_ms: i64,
) -> Result<(usize, bool), StoreError> {
    let from = store.ticket_webhook_cursor(webhook.name()).await?;
    let events = store.ticket_event_feed(from, BATCH).await?;
    let Some(to) = events.last().map(|e| e.seq) else {
        return Ok((0, false));
    };
    let full = events.len() as i64 == BATCH;
    let mut tickets: HashMap<String, Option<Ticket>> = HashMap::new();
    let mut rows = Vec::new();
    for e in events {
        if !webhook.wants(&e.kind) {
            continue;
        }
        if !tickets.contains_key(&e.ticket_id) {
            let t = store.get_ticket(&e.ticket_id).await?;
            tickets.insert(e.ticket_id.clone(), t);
        }
        let ticket = tickets[&e.ticket_id]
            .clone()
            .map(|t| TicketView::new(t, public_url));
        let (id, at_ms, ticket_id) = (e.id.clone(), e.at_ms, e.ticket_id.clone());
        let body = json!({
            "type": format!("ticket.{}", e.kind),
            "timestamp": rfc3339(e.at_ms),
            "data": {"event": EventView::from(e), "ticket": ticket},
        })
        .to_string();
        let message = TicketWebhookMessage { id, at_ms, body };
        rows.push(OutboxRow {
            id: new_id(),
            kind: OutboxKind::TicketEvent,
            receiver: RECEIVER.to_string(),
            integration: webhook.name().to_string(),
            group_key: ticket_id,
            payload: serde_json::to_string(&message)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            attempts: 0,
            next_attempt_at_ms: now_ms,
            created_at_ms: now_ms,
            claimed_until_ms: None,
        });
    }
    let n = rows.len();
    if !store
        .forward_ticket_events(webhook.name(), from, to, &rows)
        .await?
    {
        // Another forwarder moved the cursor: it enqueued these.
        return Ok((0, false));
    }
    Ok((n, full))
}
