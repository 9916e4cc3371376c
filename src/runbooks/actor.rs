//! `RunbookSearcher`: runs lookups on a `SyncArbiter`, since a search blocks its thread; and the
//! two tasks that keep the knowledge current: [`keep_ticket_index`] (resolved tickets, from the
//! ticket event feed, through [`TicketKnowledge`]) and [`load_runbook_vectors`] (runbook embeddings, cached in the store).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use sha2::{Digest, Sha256};

use super::index::{IndexError, Ranked, RunbookIndex};
use super::openai::ModelClient;
use super::past_tickets::{PastTicket, TicketHit, TicketIndex};
use crate::domain::{Clock, Labels};
use crate::store::Store;

/// Look up runbooks, and past tickets, for a question and/or an alert's labels.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Retrieved, IndexError>")]
pub struct Lookup {
    pub query: String,
    pub labels: Labels,
    pub limit: usize,
    /// The question's embedding, when an embeddings endpoint answered.
    pub vector: Option<Vec<f32>>,
    /// Past tickets wanted (0: none), resolved at or after `tickets_since_ms`.
    pub tickets: usize,
    pub tickets_since_ms: i64,
}

/// Runbooks and past tickets for one lookup.
#[derive(Debug, Clone)]
pub struct Retrieved {
    pub ranked: Ranked,
    pub tickets: Vec<TicketHit>,
}

/// Runs lookups over the runbook and past-ticket indexes, on its own thread.
pub struct RunbookSearcher {
    pub runbooks: Arc<RunbookIndex>,
    pub tickets: Arc<TicketIndex>,
}

impl Actor for RunbookSearcher {
    type Context = SyncContext<Self>;
}

impl Handler<Lookup> for RunbookSearcher {
    type Result = Result<Retrieved, IndexError>;

    fn handle(&mut self, msg: Lookup, _: &mut Self::Context) -> Self::Result {
        self.lookup(msg)
    }
}

impl RunbookSearcher {
    /// Runbooks for the question, then past tickets of the alerts it or its labels name, or
    /// like its words (those of its first runbook's alerts ahead).
    pub fn lookup(&self, msg: Lookup) -> Result<Retrieved, IndexError> {
        let ranked =
            self.runbooks
                .search(&msg.query, &msg.labels, msg.limit, msg.vector.as_deref())?;
        if msg.tickets == 0 {
            return Ok(Retrieved {
                ranked,
                tickets: Vec::new(),
            });
        }
        let mut alerts = ranked.understood.alerts.clone();
        alerts.extend(msg.labels.get("alertname").map(str::to_string));
        let mut related: Vec<String> = ranked
            .results
            .first()
            .and_then(|r| self.runbooks.get(&r.id))
            .map(|rb| rb.alerts.clone())
            .unwrap_or_default();
        related.extend(ranked.understood.alert_hints.iter().cloned());
        let tickets = self.tickets.search(
            &ranked.understood,
            &alerts,
            &related,
            msg.tickets_since_ms,
            msg.tickets,
        )?;
        Ok(Retrieved { ranked, tickets })
    }
}

/// How often the ticket index reads the ticket event feed on its own; lookups also catch up
/// before they search, so a resolution is suggested as soon as it is written.
pub const TICKET_FEED_POLL: Duration = Duration::from_secs(5);
/// Tickets read per page at the first load, and feed events per read.
const PAGE: i64 = 500;

/// Why the knowledge could not be brought up to date (retried at the next catch-up).
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("embeddings: {0}")]
    Model(#[from] super::openai::ModelError),
    #[error("index task: {0}")]
    Task(String),
}

/// The past-ticket index and its place in the ticket event feed.
pub struct TicketKnowledge {
    store: Store,
    index: Arc<TicketIndex>,
    clock: Arc<dyn Clock>,
    /// Tickets resolved longer ago are not loaded.
    max_age_ms: i64,
    /// The feed position applied; `None` until the first load is done. Held while the index
    /// is brought up to date, so two catch-ups never apply the same events.
    seq: tokio::sync::Mutex<Option<i64>>,
}

/// How long a lookup waits to bring the ticket index up to date before it searches what the
/// index holds (a catch-up that is already running finishes on its own).
pub const LOOKUP_CATCH_UP_WAIT: Duration = Duration::from_millis(250);

impl TicketKnowledge {
    /// Empty until the first [`Self::catch_up`] loads the tickets resolved within `max_age`.
    pub fn new(
        store: Store,
        index: Arc<TicketIndex>,
        clock: Arc<dyn Clock>,
        max_age: Duration,
    ) -> Self {
        Self {
            store,
            index,
            clock,
            max_age_ms: i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX),
            seq: tokio::sync::Mutex::new(None),
        }
    }

    /// The index this knowledge keeps.
    pub fn index(&self) -> &Arc<TicketIndex> {
        &self.index
    }

    /// Brings the index up to date: the first time, indexes the tickets resolved within the
    /// age limit; then applies the ticket events written since the last call (a ticket that
    /// changed is indexed again if resolved or closed, removed if not).
    pub async fn catch_up(&self) -> Result<(), KnowledgeError> {
        let mut guard = self.seq.lock().await;
        let mut seq = match *guard {
            Some(seq) => seq,
            None => {
                let seq = self.load().await?;
                *guard = Some(seq);
                tracing::info!(
                    tickets = self.index.len(),
                    "past tickets indexed for the assistant"
                );
                seq
            }
        };
        loop {
            let events = self.store.ticket_event_feed(seq, PAGE).await?;
            let Some(last) = events.last() else {
                return Ok(());
            };
            let mut ids: Vec<String> = events.iter().map(|e| e.ticket_id.clone()).collect();
            ids.sort();
            ids.dedup();
            let mut tickets = Vec::with_capacity(ids.len());
            for id in &ids {
                tickets.extend(self.store.get_ticket(id).await?);
            }
            let gone: Vec<String> = ids
                .iter()
                .filter(|id| !tickets.iter().any(|t| &t.id == *id))
                .cloned()
                .collect();
            index_tickets(&self.store, &self.index, tickets).await?;
            apply(&self.index, Vec::new(), gone).await?;
            seq = last.seq;
            *guard = Some(seq);
        }
    }

    /// Indexes the tickets resolved within the age limit; the feed position before it (changes
    /// during the load are applied again after).
    async fn load(&self) -> Result<i64, KnowledgeError> {
        let start = self.store.last_ticket_event_seq().await?;
        let since = self.clock.now_ms().saturating_sub(self.max_age_ms);
        let mut after = String::new();
        loop {
            let page = self
                .store
                .resolved_tickets_page(since, &after, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            index_tickets(&self.store, &self.index, page).await?;
        }
        Ok(start)
    }
}

impl TicketKnowledge {
    /// Before a lookup: applies the ticket events written since the last catch-up, so a
    /// resolution written a moment ago is suggested. Never loads (the first load is the
    /// background task's) and waits at most [`LOOKUP_CATCH_UP_WAIT`] for a catch-up already
    /// running; either way the lookup then searches what the index holds.
    pub async fn catch_up_for_lookup(&self) -> Result<(), KnowledgeError> {
        let Ok(guard) = tokio::time::timeout(LOOKUP_CATCH_UP_WAIT, self.seq.lock()).await else {
            return Ok(());
        };
        if guard.is_none() {
            return Ok(());
        }
        drop(guard);
        self.catch_up().await
    }
}

/// Keeps the past-ticket index current: a catch-up every [`TICKET_FEED_POLL`] (the first one
/// loads it). Errors are logged and retried.
pub async fn keep_ticket_index(knowledge: Arc<TicketKnowledge>) {
    loop {
        if let Err(e) = knowledge.catch_up().await {
            tracing::warn!(error = %e, "cannot follow the ticket feed for the assistant");
        }
        tokio::time::sleep(TICKET_FEED_POLL).await;
    }
}

/// Indexes the resolved or closed tickets of `tickets` and removes the others. The index
/// commit blocks (tantivy writes segments), so it runs on tokio's blocking pool, not on the
/// thread serving requests.
async fn index_tickets(
    store: &Store,
    index: &Arc<TicketIndex>,
    tickets: Vec<crate::domain::ticket::Ticket>,
) -> Result<(), KnowledgeError> {
    let ids: Vec<String> = tickets.iter().map(|t| t.id.clone()).collect();
    let comments = store.comment_bodies(&ids).await?;
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for t in &tickets {
        let c = comments.get(&t.id).map(Vec::as_slice).unwrap_or_default();
        match PastTicket::of(t, c) {
            Some(p) => add.push(p),
            None => remove.push(t.id.clone()),
        }
    }
    apply(index, add, remove).await
}

/// [`TicketIndex::apply`] on tokio's blocking pool.
async fn apply(
    index: &Arc<TicketIndex>,
    add: Vec<PastTicket>,
    remove: Vec<String>,
) -> Result<(), KnowledgeError> {
    let index = index.clone();
    tokio::task::spawn_blocking(move || index.apply(&add, &remove))
        .await
        .map_err(|e| KnowledgeError::Task(e.to_string()))??;
    Ok(())
}

/// Texts embedded per request.
const EMBED_BATCH: usize = 32;
/// How long a failed embedding load waits before trying again.
const EMBED_RETRY: Duration = Duration::from_secs(30);

/// The SHA-256 (hex) of the text a vector is computed from: the cache key with the model.
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Gives `index` a vector for every runbook: from the store's cache when the text and model are
/// unchanged, else from the embeddings endpoint (then cached). Retried every 30 s until it
/// succeeds; until then lookups are lexical only.
pub async fn load_runbook_vectors(
    store: Store,
    index: Arc<RunbookIndex>,
    client: ModelClient,
    clock: Arc<dyn Clock>,
) {
    loop {
        match runbook_vectors(&store, &index, &client, clock.now_ms()).await {
            Ok(vectors) => {
                let n = vectors.len();
                index.set_vectors(Arc::new(vectors));
                tracing::info!(
                    runbooks = n,
                    model = client.model(),
                    "runbook embeddings loaded"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, model = client.model(), "cannot load runbook embeddings; lookups stay lexical until they load");
                tokio::time::sleep(EMBED_RETRY).await;
            }
        }
    }
}

async fn runbook_vectors(
    store: &Store,
    index: &RunbookIndex,
    client: &ModelClient,
    now_ms: i64,
) -> Result<Vec<Vec<f32>>, KnowledgeError> {
    let texts: Vec<String> = index
        .runbooks()
        .iter()
        .map(RunbookIndex::embedding_text)
        .collect();
    let hashes: Vec<String> = texts.iter().map(|t| content_hash(t)).collect();
    let mut cached = store.embeddings(client.model(), &hashes).await?;
    let missing: Vec<usize> = (0..texts.len())
        .filter(|i| !cached.contains_key(&hashes[*i]))
        .collect();
    for batch in missing.chunks(EMBED_BATCH) {
        let inputs: Vec<String> = batch.iter().map(|i| texts[*i].clone()).collect();
        let vectors = client.embed(&inputs).await?;
        let rows: Vec<(String, Vec<f32>)> = batch
            .iter()
            .zip(vectors)
            .map(|(i, v)| (hashes[*i].clone(), v))
            .collect();
        store.put_embeddings(client.model(), &rows, now_ms).await?;
        cached.extend(rows);
    }
    Ok(hashes
        .iter()
        .map(|h| cached.get(h).cloned().unwrap_or_default())
        .collect())
}
