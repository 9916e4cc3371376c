//! `POST /api/v1/assistant/ask` and `POST /api/v1/assistant/answers/{id}/feedback`: the L0
//! assistant ([`crate::runbooks::assistant`] says how an answer is made).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::runbooks::{LookupHit, SimilarTicket, hit, similar_ticket};
use super::{ApiError, AppState};
use crate::runbooks::answer::{Passage, Step};
use crate::runbooks::assistant::{self, Outcome, Question};
use crate::runbooks::query::Understood;
use crate::store::{StoredAnswer, new_id};

const MAX_QUESTION_CHARS: usize = 2_000;
const MAX_FIELD_CHARS: usize = 200;

/// A question for the assistant.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// Free text, 1 to 2,000 characters: on-call words, a pasted error line, an alert name.
    question: String,
    /// The provider it is about (narrows and boosts the lookup).
    provider: Option<String>,
    /// The connection it is about.
    connection: Option<String>,
    /// Who asks (a person, a support tool); an escalation is deduplicated per reporter and
    /// question.
    reporter: Option<String>,
}

/// What the question was understood to name.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UnderstoodBody {
    providers: Vec<String>,
    connections: Vec<String>,
    statuses: Vec<u16>,
    error_classes: Vec<String>,
    alerts: Vec<String>,
    metrics: Vec<String>,
    /// `[misspelled, corrected]` pairs.
    corrections: Vec<(String, String)>,
}

impl From<&Understood> for UnderstoodBody {
    fn from(u: &Understood) -> Self {
        Self {
            providers: u.providers.clone(),
            connections: u.connections.clone(),
            statuses: u.statuses.clone(),
            error_classes: u
                .error_classes
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            alerts: u.alerts.clone(),
            metrics: u.metrics.clone(),
            corrections: u.corrections.clone(),
        }
    }
}

/// A ticket an escalation opened (or found open for the same reporter and question).
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketLink {
    id: String,
    url: String,
    /// False when the reporter's ticket for the same question was open already.
    created: bool,
}

/// A step of the answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AssistantStep)]
pub struct StepBody {
    text: String,
    /// Ids of `citations[]` (`R1`, `T2`): every step cites at least one.
    citations: Vec<String>,
}

/// The assistant's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AskAnswer {
    /// Feedback goes to `/api/v1/assistant/answers/{id}/feedback`.
    id: String,
    answer: String,
    steps: Vec<StepBody>,
    /// The passages the answer could cite: `id` (`R1`…, `T1`…), `kind` (`runbook`,
    /// `ticket`), `ref_id`, `title`, `url`.
    #[schema(value_type = Vec<Object>)]
    citations: Vec<Passage>,
    runbooks: Vec<LookupHit>,
    /// Empty for a caller whose token lacks `tickets:read`.
    similar_tickets: Vec<SimilarTicket>,
    /// In `[0, 1]`; under `assistant.escalate_below` the answer is escalated at once.
    confidence: f32,
    /// The steps were written by the configured model (and their citations checked).
    llm_used: bool,
    /// Why the model's answer was not used: `not_configured`, `no_passages`, `timeout`,
    /// `http_error`, `unreachable`, `invalid_reply`, `invalid_json`, `no_valid_citation`.
    fallback_reason: Option<String>,
    /// Steps of the model's reply dropped: citing nothing or a passage not in the context,
    /// holding a link or passage id of their own, over 1,000 characters, or past the twelfth.
    dropped_steps: usize,
    understood: UnderstoodBody,
    /// The question's embedding took part in the ranking (`[assistant.embeddings]` answered
    /// and the runbooks' vectors are loaded).
    dense: bool,
    /// The answer opened (or found) an L1 ticket because its confidence was too low.
    escalated: bool,
    ticket: Option<TicketLink>,
}

/// Did the answer resolve the problem?
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// `false` opens an L1 ticket with the question, the answer and its citations.
    resolved: bool,
}

/// The answer's outcome.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FeedbackAnswer {
    id: String,
    /// `resolved` or `escalated`.
    outcome: String,
    ticket: Option<TicketLink>,
}

/// A request body that must be a JSON object (serde would also take an array of the fields
/// in order).
fn object<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_request("expected a JSON object"));
    }
    serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// An id as shown in an error: at most 64 characters of it.
fn shown(id: &str) -> String {
    crate::domain::truncate(id, 64)
}

fn optional(name: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v.map(|s| s.trim().to_string()) {
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.chars().count() > MAX_FIELD_CHARS || s.contains('\0') => {
            Err(ApiError::bad_request(format!(
                "{name}: at most {MAX_FIELD_CHARS} characters, no NUL"
            )))
        }
        other => Ok(other),
    }
}

/// Ask the assistant: cited steps from the runbooks and resolved tickets, written by the
/// configured model or extracted from the best runbook.
#[utoipa::path(post, path = "/api/v1/assistant/ask", tag = "assistant",
    request_body = AskRequest,
    responses(
        (status = 200, description = "The answer", body = AskAnswer),
        (status = 400, description = "No question, or a field too long", body = super::ErrorBody),
        (status = 413, description = "A body over 256 KiB", body = super::ErrorBody),
    ))]
pub async fn ask(
    http: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let req: AskRequest = object(body.into_inner())?;
    let question = req.question.trim().to_string();
    if question.is_empty() {
        return Err(ApiError::bad_request("question: must not be empty"));
    }
    if question.chars().count() > MAX_QUESTION_CHARS || question.contains('\0') {
        return Err(ApiError::bad_request(format!(
            "question: at most {MAX_QUESTION_CHARS} characters, no NUL"
        )));
    }
    let q = Question {
        question,
        provider: optional("provider", req.provider)?,
        connection: optional("connection", req.connection)?,
        reporter: optional("reporter", req.reporter)?
            .or_else(|| Some(super::auth::actor(&http, &state))),
        may_read_tickets: super::auth::holds(&http, &state, "tickets:read"),
    };
    let now = state.clock.now_ms();
    let base = state.public_url.clone();
    let url_of = |kind: &str, id: &str| match kind {
        "ticket" => format!("{base}/api/v1/tickets/{id}"),
        _ => format!("{base}/api/v1/runbooks/{id}"),
    };
    let answered = state
        .assistant
        .answer(&state.searcher, &state.runbooks, &q, now, url_of)
        .await
        .map_err(ApiError::from)?;
    state.metrics.runbook_lookup(
        answered
            .retrieved
            .ranked
            .results
            .first()
            .map_or("none", |r| r.match_reason.as_str()),
    );
    let a = answered.answer;
    let mut body = AskAnswer {
        id: new_id(),
        answer: a.answer,
        steps: a
            .steps
            .into_iter()
            .map(|Step { text, citations }| StepBody { text, citations })
            .collect(),
        citations: answered.passages,
        runbooks: answered
            .retrieved
            .ranked
            .results
            .into_iter()
            .map(|r| hit(&state, r))
            .collect(),
        similar_tickets: answered
            .retrieved
            .tickets
            .into_iter()
            .map(|h| similar_ticket(&state, h.ticket))
            .collect(),
        confidence: (answered.confidence * 1000.0).round() / 1000.0,
        llm_used: a.llm_used,
        fallback_reason: a.fallback_reason,
        dropped_steps: a.dropped_steps,
        understood: (&answered.retrieved.ranked.understood).into(),
        dense: answered.dense,
        escalated: false,
        ticket: None,
    };
    // Serialised once: stored with the answer, and carried by an escalation's ticket.
    let served = serde_json::to_value(&body).map_err(ApiError::internal)?;
    // The provider and connection the question names, when the request did not give them.
    let understood = &answered.retrieved.ranked.understood;
    let only = |v: &Vec<String>| (v.len() == 1).then(|| v[0].clone());
    let stored = StoredAnswer {
        id: body.id.clone(),
        created_at_ms: now,
        question: q.question.clone(),
        reporter: q.reporter.clone(),
        provider: q.provider.clone().or_else(|| only(&understood.providers)),
        connection: q
            .connection
            .clone()
            .or_else(|| only(&understood.connections)),
        confidence: f64::from(body.confidence),
        answer: served.to_string(),
        outcome: None,
        outcome_at_ms: None,
        ticket_id: None,
    };
    // The answer is stored first, so an escalation always has its answer to point at.
    state
        .store
        .insert_answer(&stored)
        .await
        .map_err(ApiError::store)?;
    if body.confidence < state.assistant.escalate_below {
        let (ticket, created) = escalate_once(&state, &stored, &served, now).await?;
        body.escalated = true;
        body.ticket = Some(TicketLink {
            url: format!("{}/api/v1/tickets/{}", state.public_url, ticket),
            id: ticket,
            created,
        });
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Escalates an answer whose outcome this request claimed (`escalated`): opens (or finds) its
/// ticket and notes it on the answer; `(ticket id, created)`. When the ticket cannot be
/// written the claim is withdrawn, so feedback can try again.
async fn escalate_once(
    state: &AppState,
    stored: &StoredAnswer,
    served: &serde_json::Value,
    now: i64,
) -> Result<(String, bool), ApiError> {
    let claimed = state
        .store
        .set_answer_outcome(&stored.id, Outcome::Escalated.as_str(), None, now)
        .await
        .map_err(ApiError::store)?;
    if !claimed {
        return Err(ApiError::conflict(
            "resolved: another request decided the answer's outcome first",
        ));
    }
    let (ticket, created) = match assistant::escalate(&state.store, stored, served, now).await {
        Ok(t) => t,
        Err(e) => {
            if let Err(undo) = state.store.clear_answer_outcome(&stored.id).await {
                tracing::warn!(error = %undo, answer = %stored.id, "escalation claim not withdrawn");
            }
            return Err(ApiError::store(e));
        }
    };
    state
        .store
        .set_answer_ticket(&stored.id, &ticket.id)
        .await
        .map_err(ApiError::store)?;
    state
        .metrics
        .assistant_answers(Outcome::Escalated.as_str(), 1);
    Ok((ticket.id, created))
}

/// Say whether an answer resolved the problem: `false` opens an L1 ticket carrying the
/// question, the answer and its citations (one per reporter and question). Feedback is taken
/// once per answer, within a day of it.
#[utoipa::path(post, path = "/api/v1/assistant/answers/{id}/feedback", tag = "assistant",
    params(("id" = String, Path, description = "The answer's id")),
    request_body = FeedbackRequest,
    responses(
        (status = 200, description = "The answer's outcome", body = FeedbackAnswer),
        (status = 400, description = "The body is not `{\"resolved\": true|false}`", body = super::ErrorBody),
        (status = 404, description = "No such answer", body = super::ErrorBody),
        (status = 413, description = "A body over 256 KiB", body = super::ErrorBody),
        (status = 409, description = "Feedback was given already (or the day to give it is over) with another outcome", body = super::ErrorBody),
    ))]
pub async fn feedback(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let resolved = object::<FeedbackRequest>(body.into_inner())?.resolved;
    let stored = state
        .store
        .get_answer(&id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no answer {:?}", shown(&id))))?;
    let wanted = if resolved {
        Outcome::Resolved
    } else {
        Outcome::Escalated
    }
    .as_str();
    let link = |ticket_id: &str, created: bool| TicketLink {
        url: format!("{}/api/v1/tickets/{ticket_id}", state.public_url),
        id: ticket_id.to_string(),
        created,
    };
    if let Some(outcome) = &stored.outcome {
        // The same feedback again gets the same answer.
        if outcome == wanted {
            return Ok(HttpResponse::Ok().json(FeedbackAnswer {
                id: stored.id,
                outcome: outcome.clone(),
                ticket: stored.ticket_id.as_deref().map(|t| link(t, false)),
            }));
        }
        return Err(ApiError::conflict(format!(
            "resolved: the answer's outcome is {outcome:?} already{}",
            if outcome == "unknown" {
                " (feedback is taken within a day of the answer; ask again)"
            } else {
                ""
            }
        )));
    }
    let now = state.clock.now_ms();
    if !assistant::feedback_open(stored.created_at_ms, now) {
        return Err(ApiError::conflict(
            "resolved: feedback is taken within a day of the answer; ask again",
        ));
    }
    if !resolved {
        let served: serde_json::Value =
            serde_json::from_str(&stored.answer).map_err(ApiError::internal)?;
        return match escalate_once(&state, &stored, &served, now).await {
            Ok((ticket, created)) => Ok(HttpResponse::Ok().json(FeedbackAnswer {
                id: stored.id,
                outcome: wanted.to_string(),
                ticket: Some(link(&ticket, created)),
            })),
            Err(e) if e.status == actix_web::http::StatusCode::CONFLICT => {
                decided_elsewhere(&state, &stored.id, wanted, link).await
            }
            Err(e) => Err(e),
        };
    }
    let first = state
        .store
        .set_answer_outcome(&stored.id, wanted, None, now)
        .await
        .map_err(ApiError::store)?;
    if !first {
        return decided_elsewhere(&state, &stored.id, wanted, link).await;
    }
    state.metrics.assistant_answers(wanted, 1);
    Ok(HttpResponse::Ok().json(FeedbackAnswer {
        id: stored.id,
        outcome: wanted.to_string(),
        ticket: None,
    }))
}

/// Another request decided the answer's outcome first: its outcome stands (the same one is
/// answered as if this request had made it, another is a 409).
async fn decided_elsewhere(
    state: &AppState,
    id: &str,
    wanted: &str,
    link: impl Fn(&str, bool) -> TicketLink,
) -> Result<HttpResponse, ApiError> {
    let now_stored = state
        .store
        .get_answer(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no answer {:?}", shown(id))))?;
    let outcome = now_stored.outcome.unwrap_or_default();
    if outcome != wanted {
        return Err(ApiError::conflict(format!(
            "resolved: the answer's outcome is {outcome:?} already"
        )));
    }
    Ok(HttpResponse::Ok().json(FeedbackAnswer {
        id: now_stored.id,
        outcome,
        ticket: now_stored.ticket_id.as_deref().map(|t| link(t, false)),
    }))
}
