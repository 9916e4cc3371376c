//! The L0 assistant: a question is embedded (when an embeddings endpoint is configured),
//! looked up (runbooks and past tickets), and answered in cited steps, by the model when one is
//! configured and its reply passes [`check_model_answer`], else extracted from the first
//! runbook. An answer that did not help (feedback `resolved: false`, or a confidence under
//! `escalate_below`) opens one L1 ticket per reporter and question.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use sha2::{Digest, Sha256};

use super::actor::{Lookup, Retrieved, RunbookSearcher, TicketKnowledge};
use super::answer::{self, Answer, Passage, Rejected};
use super::index::{IndexError, RunbookIndex};
use super::openai::ModelClient;
use crate::domain::Labels;
use crate::domain::ticket::{DedupKey, Ticket, question_ticket};
use crate::store::{Store, StoreError, StoredAnswer, new_id};

/// Runbooks and past tickets given to the model (and returned).
const RUNBOOKS: usize = 3;
const TICKETS: usize = 3;
/// How long an answer waits for feedback before its outcome is `unknown`.
pub const FEEDBACK_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The assistant's settings, model clients and past-ticket knowledge.
pub struct Assistant {
    /// `assistant.escalate_below`: an answer less confident opens an L1 ticket at once.
    pub escalate_below: f32,
    /// `assistant.ticket_max_age`: older resolved tickets are not suggested.
    pub ticket_max_age: Duration,
    /// `[assistant.embeddings]`, when configured.
    pub embedder: Option<ModelClient>,
    /// `[assistant.llm]`, when configured.
    pub llm: Option<ModelClient>,
    /// The past-ticket index, kept up to date with the ticket feed.
    pub tickets: Arc<TicketKnowledge>,
}

/// What became of an answer (`syncwatch_assistant_answers_total{outcome}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The asker said it resolved the problem.
    Resolved,
    /// An L1 ticket was opened (feedback `false`, or a confidence under `escalate_below`).
    Escalated,
    /// No feedback within [`FEEDBACK_WINDOW`].
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Resolved, Outcome::Escalated, Outcome::Unknown];

    /// The label value and the stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Escalated => "escalated",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl Assistant {
    /// Runbooks (up to `limit`) and up to `tickets` past tickets resolved within
    /// `ticket_max_age` of `now_ms` (0 for a caller who may not read tickets), for `query` and
    /// `labels`. The ticket index is first brought up to date with the ticket feed (one feed
    /// read when nothing changed; a failure is logged and the lookup goes on).
    #[allow(clippy::too_many_arguments)]
    pub async fn retrieve(
        &self,
        searcher: &Addr<RunbookSearcher>,
        query: &str,
        labels: Labels,
        limit: usize,
        tickets: usize,
        vector: Option<Vec<f32>>,
        now_ms: i64,
    ) -> Result<Retrieved, AskError> {
        if tickets > 0
            && let Err(e) = self.tickets.catch_up_for_lookup().await
        {
            tracing::warn!(error = %e, "past tickets not brought up to date");
        }
        let max_age_ms = i64::try_from(self.ticket_max_age.as_millis()).unwrap_or(i64::MAX);
        Ok(searcher
            .send(Lookup {
                query: query.to_string(),
                labels,
                limit,
                vector,
                tickets,
                tickets_since_ms: now_ms.saturating_sub(max_age_ms),
            })
            .await
            .map_err(|_| AskError::Unavailable)??)
    }
}

/// How sure an answer is, in `[0, 1]`: 0 without a step to give; the ranking's confidence
/// when a runbook answers; with past tickets only, 0.4 when the first one's resolution was
/// written by a person and 0.2 when it only cleared with its alert.
pub fn answer_confidence(
    steps: usize,
    runbooks: usize,
    ranked: f32,
    first_ticket_documented: Option<bool>,
) -> f32 {
    match (steps, runbooks, first_ticket_documented) {
        (0, _, _) => 0.0,
        (_, 0, Some(true)) => 0.4,
        (_, 0, Some(false)) => 0.2,
        (_, 0, None) => 0.0,
        _ => ranked,
    }
}

/// A question and who asks it.
#[derive(Debug, Clone, Default)]
pub struct Question {
    pub question: String,
    pub provider: Option<String>,
    pub connection: Option<String>,
    pub reporter: Option<String>,
    /// Past tickets are used (and shown) only for a caller who may read tickets.
    pub may_read_tickets: bool,
}

/// An answer with what it was made from.
#[derive(Debug, Clone)]
pub struct Answered {
    pub answer: Answer,
    pub passages: Vec<Passage>,
    pub retrieved: Retrieved,
    pub confidence: f32,
    /// The question's embedding took part in the ranking.
    pub dense: bool,
}

/// Why no answer could be made (the API answers 503 or 500).
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("the runbook index is unavailable")]
    Unavailable,
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl Assistant {
    /// Answers `q` at `now_ms`; `url_of(kind, id)` makes the links of runbooks and tickets.
    pub async fn answer(
        &self,
        searcher: &Addr<RunbookSearcher>,
        index: &RunbookIndex,
        q: &Question,
        now_ms: i64,
        url_of: impl Fn(&str, &str) -> String,
    ) -> Result<Answered, AskError> {
        let vector = match &self.embedder {
            Some(e) if index.has_vectors() => {
                match e.embed(std::slice::from_ref(&q.question)).await {
                    Ok(mut v) => v.pop(),
                    Err(err) => {
                        tracing::warn!(error = %err, "question not embedded; lexical lookup only");
                        None
                    }
                }
            }
            _ => None,
        };
        let dense = vector.is_some();
        let mut labels = Labels::new();
        if let Some(p) = &q.provider {
            labels.insert("provider", p);
        }
        if let Some(c) = &q.connection {
            labels.insert("connection", c);
        }
        let tickets = if q.may_read_tickets { TICKETS } else { 0 };
        let retrieved = self
            .retrieve(
                searcher,
                &q.question,
                labels,
                RUNBOOKS,
                tickets,
                vector,
                now_ms,
            )
            .await?;
        let runbooks: Vec<_> = retrieved
            .ranked
            .results
            .iter()
            .filter_map(|r| index.get(&r.id))
            .collect();
        let tickets: Vec<_> = retrieved.tickets.iter().map(|h| h.ticket.clone()).collect();
        let passages = answer::passages(&runbooks, &tickets, &url_of);
        let answer = match (&self.llm, passages.is_empty()) {
            (None, _) => answer::extractive(&runbooks, &passages, "not_configured"),
            (Some(_), true) => answer::extractive(&runbooks, &passages, "no_passages"),
            (Some(llm), false) => {
                let messages = answer::chat_messages(
                    &q.question,
                    q.provider.as_deref(),
                    q.connection.as_deref(),
                    &passages,
                );
                match llm.chat(&messages, true).await {
                    Ok(content) => match answer::check_model_answer(&content, &passages) {
                        Ok(a) => a,
                        Err(why) => {
                            tracing::info!(reason = %why, "model answer not used");
                            let mut a = answer::extractive(&runbooks, &passages, &why.to_string());
                            if let Rejected::NoValidCitation { dropped } = why {
                                a.dropped_steps = dropped;
                            }
                            a
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "model did not answer; extractive answer");
                        answer::extractive(&runbooks, &passages, e.kind())
                    }
                }
            }
        };
        let confidence = answer_confidence(
            answer.steps.len(),
            runbooks.len(),
            retrieved.ranked.confidence,
            retrieved.tickets.first().map(|h| h.ticket.documented),
        );
        Ok(Answered {
            answer,
            passages,
            retrieved,
            confidence,
            dense,
        })
    }
}

/// Whether feedback on an answer given at `created_at_ms` is still taken at `now_ms` (within
/// [`FEEDBACK_WINDOW`]; after it the answer's outcome is `unknown`).
pub fn feedback_open(created_at_ms: i64, now_ms: i64) -> bool {
    now_ms.saturating_sub(created_at_ms) <= FEEDBACK_WINDOW.as_millis() as i64
}

/// The dedup key of an escalation: one active ticket per reporter and question (the question
/// compared lowercased, whitespace collapsed).
pub fn escalation_key(reporter: Option<&str>, question: &str) -> DedupKey {
    let normal = question
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let digest = Sha256::digest(format!("{}\n{normal}", reporter.unwrap_or("")).as_bytes());
    DedupKey::from(format!("assistant:{}", &hex::encode(digest)[..32]))
}

/// The L1 ticket for an answer that did not help: the question, the answer and its citations.
pub fn escalation_ticket(a: &StoredAnswer, served: &serde_json::Value, now_ms: i64) -> Ticket {
    let mut summary = format!("Question: {}\n", a.question);
    for (name, v) in [
        ("Reporter", &a.reporter),
        ("Provider", &a.provider),
        ("Connection", &a.connection),
    ] {
        if let Some(v) = v {
            summary.push_str(&format!("{name}: {v}\n"));
        }
    }
    summary.push_str(&format!(
        "\nThe assistant answered (confidence {:.2}{}): {}\n",
        a.confidence,
        if served["llm_used"] == true {
            ", written by the model"
        } else {
            ""
        },
        served["answer"].as_str().unwrap_or_default()
    ));
    for (i, s) in served["steps"].as_array().into_iter().flatten().enumerate() {
        let cites: Vec<&str> = s["citations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .collect();
        summary.push_str(&format!(
            "{}. {} [{}]\n",
            i + 1,
            s["text"].as_str().unwrap_or_default(),
            cites.join(", ")
        ));
    }
    let citations = served["citations"].as_array().cloned().unwrap_or_default();
    if !citations.is_empty() {
        summary.push_str("\nCitations:\n");
        for c in citations {
            summary.push_str(&format!(
                "{} {} {} \u{201c}{}\u{201d} {}\n",
                c["id"].as_str().unwrap_or_default(),
                c["kind"].as_str().unwrap_or_default(),
                c["ref_id"].as_str().unwrap_or_default(),
                c["title"].as_str().unwrap_or_default(),
                c["url"].as_str().unwrap_or_default()
            ));
        }
    }
    let mut labels = Labels::new();
    labels.insert("alertname", crate::domain::ticket::ASSISTANT_ALERTNAME);
    labels.insert("source", "assistant");
    for (name, v) in [
        ("reporter", &a.reporter),
        ("provider", &a.provider),
        ("connection", &a.connection),
    ] {
        if let Some(v) = v {
            labels.insert(name, v);
        }
    }
    question_ticket(
        new_id(),
        escalation_key(a.reporter.as_deref(), &a.question),
        format!(
            "Assistant could not resolve: {}",
            crate::domain::truncate(&a.question, 120)
        ),
        summary,
        labels,
        now_ms,
    )
}

/// Opens the escalation ticket of an answer, or finds the one already open for the same
/// reporter and question: `(ticket, created)`.
pub async fn escalate(
    store: &Store,
    a: &StoredAnswer,
    served: &serde_json::Value,
    now_ms: i64,
) -> Result<(Ticket, bool), StoreError> {
    let t = escalation_ticket(a, served, now_ms);
    // Twice: an active ticket of the key may resolve between the conflict and the read.
    for _ in 0..2 {
        match store.create_ticket(&t, &format!("answer:{}", a.id)).await {
            Ok(()) => return Ok((t, true)),
            Err(StoreError::Conflict(_)) => {
                if let Some(existing) = store.active_ticket(t.dedup_key.as_str()).await? {
                    return Ok((existing, false));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!(
        "ticket {} changed while it was escalated",
        t.dedup_key.as_str()
    )))
}

/// Gives answers older than [`FEEDBACK_WINDOW`] without feedback the outcome `unknown`, every
/// ten minutes, counting them.
pub async fn expire_answers(
    store: Store,
    clock: Arc<dyn crate::domain::Clock>,
    metrics: crate::telemetry::Metrics,
) {
    let window = FEEDBACK_WINDOW.as_millis() as i64;
    loop {
        let now = clock.now_ms();
        match store.expire_answers(now - window, now).await {
            Ok(n) => metrics.assistant_answers(Outcome::Unknown.as_str(), n),
            Err(e) => tracing::warn!(error = %e, "cannot expire assistant answers"),
        }
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_is_taken_for_a_day() {
        let day = 24 * 3_600_000;
        assert!(feedback_open(1_000, 1_000 + day));
        assert!(!feedback_open(1_000, 1_001 + day));
    }

    #[test]
    fn confidence_of_an_answer_by_what_it_stands_on() {
        assert_eq!(answer_confidence(0, 3, 0.9, Some(true)), 0.0);
        assert_eq!(answer_confidence(2, 1, 0.7, Some(true)), 0.7);
        assert_eq!(answer_confidence(1, 0, 0.0, Some(true)), 0.4);
        assert_eq!(answer_confidence(1, 0, 0.0, Some(false)), 0.2);
        assert_eq!(Outcome::parse("escalated"), Some(Outcome::Escalated));
        assert_eq!(Outcome::parse("maybe"), None);
    }

    #[test]
    fn the_same_question_from_the_same_reporter_has_one_key() {
        let a = escalation_key(Some("desk"), "Why  is Tekion failing?");
        assert_eq!(a, escalation_key(Some("desk"), "why is tekion failing?"));
        assert_ne!(a, escalation_key(Some("other"), "why is tekion failing?"));
        assert_ne!(a, escalation_key(Some("desk"), "why is cdk failing?"));
        assert!(a.as_str().starts_with("assistant:"));
    }

    #[test]
    fn the_escalation_ticket_carries_the_question_answer_and_citations() {
        let a = StoredAnswer {
            id: "ans".into(),
            created_at_ms: 0,
            question: "tekion 401 since noon".into(),
            reporter: Some("desk".into()),
            provider: Some("tekion".into()),
            connection: None,
            confidence: 0.2,
            answer: String::new(),
            outcome: None,
            outcome_at_ms: None,
            ticket_id: None,
        };
        let served = serde_json::json!({
            "answer": "Rotate the key.",
            "llm_used": false,
            "steps": [{"text": "Rotate it.", "citations": ["R1"]}],
            "citations": [{"id": "R1", "kind": "runbook", "ref_id": "auth", "title": "Auth", "url": "http://x/auth"}]
        });
        let t = escalation_ticket(&a, &served, 5);
        assert_eq!(t.tier, crate::domain::ticket::Tier::L1);
        assert_eq!(t.alertname, "AssistantEscalation");
        assert_eq!(t.provider.as_deref(), Some("tekion"));
        assert_eq!(t.labels.get("reporter"), Some("desk"));
        assert!(t.title.contains("tekion 401 since noon"));
        for part in [
            "Question: tekion 401 since noon",
            "Reporter: desk",
            "1. Rotate it. [R1]",
            "R1 runbook auth \u{201c}Auth\u{201d} http://x/auth",
        ] {
            assert!(t.summary.contains(part), "{part} in {}", t.summary);
        }
    }
}
