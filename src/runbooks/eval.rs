//! Measuring retrieval: a set of questions with the runbooks or past tickets that answer them
//! (`tests/retrieval/queries.yml`), resolved-ticket fixtures (`tests/retrieval/tickets.yml`),
//! and the standard figures of a ranking (Manning, Raghavan and Schütze, *Introduction to
//! Information Retrieval*, ch. 8): recall@k (a relevant item among the first k), MRR@5 (mean of
//! 1/rank of the first relevant item, 0 past 5) and nDCG@5 (binary gains, log2 discount).
//! Used by the CI test and by the benchmark.

use std::path::Path;

use serde::Deserialize;

use super::actor::{Lookup, Retrieved, RunbookSearcher};
use super::index::{IndexError, RunbookIndex};
use super::past_tickets::{PastTicket, TicketIndex};
use crate::domain::Labels;
use crate::domain::ticket::{DedupKey, TicketStatus, question_ticket};

/// One question and what answers it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalQuery {
    pub q: String,
    /// Runbook ids.
    #[serde(default)]
    pub relevant: Vec<String>,
    /// Ticket ids of the fixtures.
    #[serde(default)]
    pub relevant_tickets: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    queries: Vec<EvalQuery>,
}

/// A resolved ticket of the fixtures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureTicket {
    pub id: String,
    pub title: String,
    pub alertname: String,
    pub provider: Option<String>,
    pub connection: Option<String>,
    #[serde(default)]
    pub summary: String,
    /// Absent: resolved when its alert cleared.
    pub resolution: Option<String>,
    #[serde(default)]
    pub comments: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketFile {
    tickets: Vec<FixtureTicket>,
}

/// A question set or fixture file that cannot be used, with its path.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: {1}")]
    Yaml(String, serde_norway::Error),
    #[error("{0}")]
    Invalid(String),
}

/// `queries.yml`: each question with `relevant` (runbook ids) or `relevant_tickets`, one.
pub fn load_queries(path: &Path) -> Result<Vec<EvalQuery>, EvalError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EvalError::Read(path.display().to_string(), e))?;
    let file: QueryFile = serde_norway::from_str(&text)
        .map_err(|e| EvalError::Yaml(path.display().to_string(), e))?;
    for (i, q) in file.queries.iter().enumerate() {
        if q.relevant.is_empty() == q.relevant_tickets.is_empty() {
            return Err(EvalError::Invalid(format!(
                "{}: queries[{i}] ({:?}): give relevant or relevant_tickets, one of them",
                path.display(),
                q.q
            )));
        }
    }
    Ok(file.queries)
}

/// `tickets.yml`: resolved tickets for the ticket index.
pub fn load_tickets(path: &Path) -> Result<Vec<FixtureTicket>, EvalError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EvalError::Read(path.display().to_string(), e))?;
    let file: TicketFile = serde_norway::from_str(&text)
        .map_err(|e| EvalError::Yaml(path.display().to_string(), e))?;
    Ok(file.tickets)
}

impl FixtureTicket {
    /// As the index holds it, resolved at `resolved_at_ms` (an hour after it opened).
    pub fn past(&self, resolved_at_ms: i64) -> PastTicket {
        let mut labels = Labels::new();
        labels.insert("alertname", &self.alertname);
        for (n, v) in [
            ("provider", &self.provider),
            ("connection", &self.connection),
        ] {
            if let Some(v) = v {
                labels.insert(n, v);
            }
        }
        let mut t = question_ticket(
            self.id.clone(),
            DedupKey::from(self.id.clone()),
            self.title.clone(),
            self.summary.clone(),
            labels,
            resolved_at_ms - 3_600_000,
        );
        t.alertname = self.alertname.clone();
        t.status = TicketStatus::Resolved;
        t.resolved_at_ms = Some(resolved_at_ms);
        t.resolution = self.resolution.clone();
        t.resolved_by = Some(
            if self.resolution.is_some() {
                "support"
            } else {
                "alert"
            }
            .into(),
        );
        PastTicket::of(&t, &self.comments).unwrap_or_else(|| unreachable!("resolved above"))
    }
}

/// The figures of a set of rankings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    pub queries: usize,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub mrr_at_5: f64,
    pub ndcg_at_5: f64,
}

/// Scores `(ranked ids, relevant ids)` pairs.
pub fn score(rankings: &[(Vec<String>, Vec<String>)]) -> Scores {
    let n = rankings.len();
    if n == 0 {
        return Scores::default();
    }
    let mut s = Scores {
        queries: n,
        ..Scores::default()
    };
    for (ranked, relevant) in rankings {
        let first = ranked.iter().position(|r| relevant.contains(r));
        if first == Some(0) {
            s.recall_at_1 += 1.0;
        }
        if first.is_some_and(|p| p < 3) {
            s.recall_at_3 += 1.0;
        }
        if let Some(p) = first.filter(|p| *p < 5) {
            s.mrr_at_5 += 1.0 / (p as f64 + 1.0);
        }
        let dcg: f64 = ranked
            .iter()
            .take(5)
            .enumerate()
            .filter(|(_, r)| relevant.contains(r))
            .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..relevant.len().min(5))
            .map(|i| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        if ideal > 0.0 {
            s.ndcg_at_5 += dcg / ideal;
        }
    }
    for v in [
        &mut s.recall_at_1,
        &mut s.recall_at_3,
        &mut s.mrr_at_5,
        &mut s.ndcg_at_5,
    ] {
        *v /= n as f64;
    }
    s
}

impl std::fmt::Display for Scores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>4} queries  recall@1 {:.3}  recall@3 {:.3}  MRR@5 {:.3}  nDCG@5 {:.3}",
            self.queries, self.recall_at_1, self.recall_at_3, self.mrr_at_5, self.ndcg_at_5
        )
    }
}

/// The ranked ids a query gets: runbooks for a runbook query, tickets for a ticket query.
/// `vector`: the question's embedding, if any.
pub fn ranking(
    searcher: &RunbookSearcher,
    q: &EvalQuery,
    vector: Option<Vec<f32>>,
) -> Result<Vec<String>, IndexError> {
    let msg = Lookup {
        query: q.q.clone(),
        labels: Labels::new(),
        limit: 5,
        vector,
        tickets: if q.relevant_tickets.is_empty() { 0 } else { 5 },
        tickets_since_ms: 0,
    };
    let Retrieved { ranked, tickets } = searcher.lookup(msg)?;
    Ok(if q.relevant_tickets.is_empty() {
        ranked.results.into_iter().map(|r| r.id).collect()
    } else {
        tickets.into_iter().map(|h| h.ticket.id).collect()
    })
}

/// The runbook and ticket indexes of an evaluation.
pub fn searcher(
    index: std::sync::Arc<RunbookIndex>,
    tickets: &[FixtureTicket],
) -> Result<RunbookSearcher, IndexError> {
    let ticket_index = TicketIndex::new()?;
    let past: Vec<PastTicket> = tickets
        .iter()
        .enumerate()
        .map(|(i, t)| t.past(1_000_000 + i as i64))
        .collect();
    ticket_index.apply(&past, &[])?;
    Ok(RunbookSearcher {
        runbooks: index,
        tickets: std::sync::Arc::new(ticket_index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn figures_of_a_ranking() {
        let s = score(&[
            (ids(&["a", "b"]), ids(&["a"])),
            (ids(&["x", "y", "a"]), ids(&["a"])),
            (ids(&["x"]), ids(&["a"])),
            (ids(&["a", "b"]), ids(&["a", "b"])),
        ]);
        assert_eq!(s.queries, 4);
        assert_eq!(s.recall_at_1, 0.5);
        assert_eq!(s.recall_at_3, 0.75);
        assert!((s.mrr_at_5 - (1.0 + 1.0 / 3.0 + 0.0 + 1.0) / 4.0).abs() < 1e-12);
        assert!((s.ndcg_at_5 - (1.0 + 0.5 + 0.0 + 1.0) / 4.0).abs() < 1e-12);
    }
}
