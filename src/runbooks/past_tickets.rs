//! Resolved tickets as knowledge: their title, summary, labels, resolution and comments are
//! indexed (tantivy BM25, the runbooks' analyzer) beside the runbooks, and a question gets the
//! past tickets like it as `similar_tickets`, those with a resolution a person wrote first.
//!
//! The index follows the store: [`TicketIndex::apply`] adds a ticket once it is resolved or
//! closed and removes it when it reopens; `TicketKnowledge` in `actor.rs` feeds it from the
//! ticket event feed. Tickets resolved longer ago than the age limit are not suggested.

use std::ops::Bound;
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use super::analysis::{self, ANALYZER};
use super::index::{IndexError, sanitize};
use super::query::Understood;
use crate::domain::ticket::{Ticket, TicketStatus};

/// A resolved ticket as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PastTicket {
    pub id: String,
    pub title: String,
    pub status: TicketStatus,
    pub alertname: String,
    pub provider: Option<String>,
    pub connection: Option<String>,
    pub resolved_at_ms: i64,
    /// The resolution a person wrote, or how syncwatch resolved it.
    pub resolution: String,
    /// A person wrote the resolution (not "resolved when the alert cleared").
    pub documented: bool,
    /// Summary, label values and comments: searched, not shown.
    pub text: String,
}

impl PastTicket {
    /// The knowledge in a ticket and its comments; `None` while it is open or acknowledged.
    pub fn of(t: &Ticket, comments: &[String]) -> Option<Self> {
        if !matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) {
            return None;
        }
        let resolved_at_ms = t
            .resolved_at_ms
            .or(t.closed_at_ms)
            .unwrap_or(t.updated_at_ms);
        let written = t
            .resolution
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let documented = written.is_some() && t.resolved_by.as_deref() != Some("alert");
        let resolution = match written {
            Some(r) => r.to_string(),
            None => match t.resolved_at_ms {
                Some(r) => format!(
                    "resolved automatically when the alert cleared after {}",
                    crate::domain::format_duration(std::time::Duration::from_millis(
                        (r - t.created_at_ms).max(0) as u64
                    ))
                ),
                None => "closed".to_string(),
            },
        };
        let labels: Vec<&str> = t.labels.iter().map(|(_, v)| v).collect();
        Some(Self {
            id: t.id.clone(),
            title: t.title.clone(),
            status: t.status,
            alertname: t.alertname.clone(),
            provider: t.provider.clone(),
            connection: t.connection.clone(),
            resolved_at_ms,
            resolution,
            documented,
            text: format!(
                "{}\n{}\n{}",
                t.summary,
                labels.join(" "),
                comments.join("\n")
            ),
        })
    }
}

/// A past ticket that matches, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketHit {
    pub ticket: PastTicket,
    pub score: f32,
}

/// How a question's terms must meet a ticket: at least this share of them, unless the ticket
/// is of an alert or connection the question names.
const MIN_COVERAGE: f32 = 0.34;

/// The resolved tickets' index: one writer (a batch of changes commits at once), searched by
/// a reader reloaded after each commit.
pub struct TicketIndex {
    index: Index,
    reader: IndexReader,
    /// One writer; a batch of changes holds it while it commits (searches do not wait).
    writer: Mutex<IndexWriter>,
    f_id: Field,
    f_title: Field,
    f_text: Field,
    f_resolution: Field,
    f_alertname: Field,
    f_provider: Field,
    f_connection: Field,
    f_status: Field,
    f_resolved_at: Field,
    f_documented: Field,
    f_tags: Field,
}

impl std::fmt::Debug for TicketIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketIndex")
            .field("tickets", &self.len())
            .finish()
    }
}

impl TicketIndex {
    /// An empty index in memory.
    pub fn new() -> Result<Self, IndexError> {
        let mut sb = Schema::builder();
        let f_id = sb.add_text_field("id", STRING | STORED);
        let f_title = sb.add_text_field("title", analysis::text_options(true));
        let f_text = sb.add_text_field("text", analysis::text_options(true));
        let f_resolution = sb.add_text_field("resolution", analysis::text_options(true));
        let f_alertname = sb.add_text_field("alertname", STRING | STORED);
        let f_provider = sb.add_text_field("provider", STRING | STORED);
        let f_connection = sb.add_text_field("connection", STRING | STORED);
        let f_status = sb.add_text_field("status", STORED);
        let f_resolved_at = sb.add_i64_field("resolved_at", INDEXED | FAST | STORED);
        let f_documented = sb.add_u64_field("documented", STORED);
        // Alert name, provider and connection as words too ("tekion" in a question).
        let f_tags = sb.add_text_field("tags", analysis::text_options(false));
        let index = Index::create_in_ram(sb.build());
        index.tokenizers().register(ANALYZER, analysis::analyzer());
        let writer: IndexWriter = index.writer_with_num_threads(1, 30_000_000)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            f_id,
            f_title,
            f_text,
            f_resolution,
            f_alertname,
            f_provider,
            f_connection,
            f_status,
            f_resolved_at,
            f_documented,
            f_tags,
        })
    }

    /// Tickets in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// No ticket in the index.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces what the index holds for these tickets: `add` (resolved or closed, indexed
    /// again) and `remove` (reopened or gone), committed together and visible on return.
    pub fn apply(&self, add: &[PastTicket], remove: &[String]) -> Result<(), IndexError> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for id in remove.iter().chain(add.iter().map(|t| &t.id)) {
            writer.delete_term(Term::from_field_text(self.f_id, id));
        }
        for t in add {
            writer.add_document(doc!(
                self.f_id => t.id.clone(),
                self.f_title => t.title.clone(),
                self.f_text => t.text.clone(),
                self.f_resolution => t.resolution.clone(),
                self.f_alertname => t.alertname.clone(),
                self.f_provider => t.provider.clone().unwrap_or_default(),
                self.f_connection => t.connection.clone().unwrap_or_default().to_lowercase(),
                self.f_status => t.status.as_str(),
                self.f_resolved_at => t.resolved_at_ms,
                self.f_documented => u64::from(t.documented),
                // The title is stored as written; the words of its CamelCase names go here.
                self.f_tags => analysis::expand(&format!(
                    "{} {} {} {}",
                    t.alertname,
                    t.provider.as_deref().unwrap_or_default(),
                    t.connection.as_deref().unwrap_or_default(),
                    analysis::camel_words(&t.title)
                )),
            ))?;
        }
        writer.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Past tickets like a question: its words, and the `alerts` (named by it or its labels:
    /// their tickets are always similar), the `related` alerts (of its first runbook: a
    /// boost, its words must still match), providers and connections it names. Only tickets
    /// resolved at or after `resolved_since_ms`; the ones with a documented resolution first,
    /// then by score.
    pub fn search(
        &self,
        understood: &Understood,
        alerts: &[String],
        related: &[String],
        resolved_since_ms: i64,
        limit: usize,
    ) -> Result<Vec<TicketHit>, IndexError> {
        let text = analysis::expand(&sanitize(&understood.search_text));
        let query_terms = analysis::terms(&mut analysis::analyzer(), &text);
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !query_terms.is_empty() {
            let mut parser = QueryParser::for_index(
                &self.index,
                vec![self.f_title, self.f_text, self.f_resolution, self.f_tags],
            );
            parser.set_field_boost(self.f_title, 2.0);
            parser.set_field_boost(self.f_resolution, 1.5);
            should.push((Occur::Should, parser.parse_query_lenient(&text).0));
        }
        let term = |f: Field, v: &str, boost: f32| -> (Occur, Box<dyn Query>) {
            let q = TermQuery::new(Term::from_field_text(f, v), IndexRecordOption::Basic);
            (Occur::Should, Box::new(BoostQuery::new(Box::new(q), boost)))
        };
        for a in alerts {
            should.push(term(self.f_alertname, a, 3.0));
        }
        for a in related.iter().filter(|a| !alerts.contains(a)) {
            should.push(term(self.f_alertname, a, 0.5));
        }
        for c in &understood.connections {
            should.push(term(self.f_connection, c, 2.0));
        }
        for p in &understood.providers {
            should.push(term(self.f_provider, p, 0.5));
        }
        if should.is_empty() {
            return Ok(Vec::new());
        }
        // Old tickets are filtered in the query, so they never take a place among the best.
        let recent = RangeQuery::new(
            Bound::Included(Term::from_field_i64(self.f_resolved_at, resolved_since_ms)),
            Bound::Unbounded,
        );
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(BooleanQuery::new(should)) as Box<dyn Query>,
            ),
            (Occur::Must, Box::new(recent)),
        ]);
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &query,
            &TopDocs::with_limit(limit.max(1) * 4 + 10).order_by_score(),
        )?;
        let mut analyzer = analysis::analyzer();
        let mut hits = Vec::new();
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let text = |f: Field| {
                d.get_first(f)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let resolved_at_ms = d
                .get_first(self.f_resolved_at)
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            if resolved_at_ms < resolved_since_ms {
                continue;
            }
            let alertname = text(self.f_alertname);
            let connection = text(self.f_connection);
            let named = alerts.contains(&alertname)
                || (!connection.is_empty() && understood.connections.contains(&connection));
            if !named {
                let own = analysis::terms(
                    &mut analyzer,
                    &format!(
                        "{} {} {} {}",
                        analysis::expand(&text(self.f_title)),
                        text(self.f_text),
                        text(self.f_resolution),
                        analysis::expand(&alertname)
                    ),
                );
                let met = query_terms.iter().filter(|t| own.contains(t)).count();
                if query_terms.is_empty() || (met as f32) < MIN_COVERAGE * query_terms.len() as f32
                {
                    continue;
                }
            }
            let provider = text(self.f_provider);
            hits.push(TicketHit {
                score,
                ticket: PastTicket {
                    id: text(self.f_id),
                    title: text(self.f_title),
                    status: TicketStatus::parse(&text(self.f_status))
                        .unwrap_or(TicketStatus::Resolved),
                    alertname,
                    provider: (!provider.is_empty()).then_some(provider),
                    connection: (!connection.is_empty()).then_some(connection),
                    resolved_at_ms,
                    resolution: text(self.f_resolution),
                    documented: d.get_first(self.f_documented).and_then(|v| v.as_u64()) == Some(1),
                    text: String::new(),
                },
            });
        }
        // Documented resolutions first; by score within each (sort is stable).
        hits.sort_by_key(|h| !h.ticket.documented);
        hits.truncate(limit);
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Labels;
    use crate::runbooks::query::Vocabulary;

    fn past(id: &str, title: &str, resolution: Option<&str>, resolved_at: i64) -> PastTicket {
        let mut t = ticket(id);
        t.title = title.to_string();
        t.alertname = "ProviderAuthFailing".into();
        t.provider = Some("tekion".into());
        t.connection = Some("dealer-001".into());
        t.status = TicketStatus::Resolved;
        t.resolved_at_ms = Some(resolved_at);
        t.resolution = resolution.map(str::to_string);
        t.resolved_by = Some(
            if resolution.is_some() {
                "desk"
            } else {
                "alert"
            }
            .into(),
        );
        t.labels = Labels::new();
        PastTicket::of(&t, &["rotated the client secret in the vault".to_string()]).unwrap()
    }

    fn ticket(id: &str) -> Ticket {
        crate::domain::ticket::question_ticket(
            id.into(),
            crate::domain::ticket::DedupKey::from(id.to_string()),
            "t".into(),
            "s".into(),
            Labels::new(),
            0,
        )
    }

    fn understand(q: &str) -> Understood {
        Vocabulary::new(
            ["tekion"],
            [("dealer-001", "tekion")],
            ["ProviderAuthFailing"],
            [],
        )
        .understand(q)
    }

    #[test]
    fn documented_resolutions_come_first_and_old_ones_are_left_out() {
        let index = TicketIndex::new().unwrap();
        index
            .apply(
                &[
                    past("a", "Tekion 401 on dealer-001", None, 5_000),
                    past(
                        "b",
                        "Tekion 401 again",
                        Some("Rotated the client secret"),
                        4_000,
                    ),
                    past("c", "Tekion 401 long ago", Some("Old fix"), 10),
                ],
                &[],
            )
            .unwrap();
        let hits = index
            .search(&understand("tekion 401 unauthorized"), &[], &[], 1_000, 5)
            .unwrap();
        let ids: Vec<&str> = hits.iter().map(|h| h.ticket.id.as_str()).collect();
        assert_eq!(ids, vec!["b", "a"]);
        assert!(hits[0].ticket.documented);
        assert!(
            hits[1]
                .ticket
                .resolution
                .starts_with("resolved automatically")
        );
        // Comments are searched.
        let hits = index
            .search(&understand("vault client secret"), &[], &[], 0, 5)
            .unwrap();
        assert_eq!(hits.len(), 3);
    }

    #[test]
    fn a_reopened_ticket_leaves_the_index_and_unrelated_questions_find_nothing() {
        let index = TicketIndex::new().unwrap();
        index
            .apply(&[past("a", "Tekion 401 on dealer-001", None, 5_000)], &[])
            .unwrap();
        assert!(
            index
                .search(&understand("export bucket missing in s3"), &[], &[], 0, 5)
                .unwrap()
                .is_empty()
        );
        // Named by its connection alone.
        assert_eq!(
            index
                .search(&understand("what about dealer-001"), &[], &[], 0, 5)
                .unwrap()
                .len(),
            1
        );
        index.apply(&[], &["a".to_string()]).unwrap();
        assert!(index.is_empty());
    }

    #[test]
    fn open_tickets_are_not_knowledge() {
        let mut t = ticket("x");
        t.status = TicketStatus::Acknowledged;
        assert_eq!(PastTicket::of(&t, &[]), None);
    }
}
