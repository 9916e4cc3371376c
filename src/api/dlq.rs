//! `GET /api/v1/dlq` (filters, newest first, cursor pagination) and `POST /api/v1/dlq/replay`
//! (by ids or by filter): dead letters go back into the stage that failed them.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, AppState};
use crate::domain::ErrorClass;
use crate::domain::clock::rfc3339;
use crate::pipeline::replay::ReplayError;
use crate::store::{DlqFilter, StoredDeadLetter, parse_cursor};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;
/// Dead letters one replay request takes at most.
const MAX_REPLAY: i64 = 10_000;

/// Which dead letters (every field narrows).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub(crate) pipeline: Option<String>,
    pub(crate) stage: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) connection: Option<String>,
    pub(crate) stream: Option<String>,
    pub(crate) error_class: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pipeline: Option<String>,
    stage: Option<String>,
    provider: Option<String>,
    connection: Option<String>,
    stream: Option<String>,
    error_class: Option<String>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
    /// 1 to 500 (default 50).
    limit: Option<i64>,
}

fn to_store(f: Filter, prefix: &str) -> Result<DlqFilter, ApiError> {
    let error_class = f
        .error_class
        .map(|c| {
            ErrorClass::parse(&c).ok_or_else(|| {
                let all: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
                ApiError::bad_request(format!(
                    "{prefix}error_class: {c:?} is not one of {}",
                    all.join(", ")
                ))
            })
        })
        .transpose()?;
    Ok(DlqFilter {
        pipeline: f.pipeline,
        stage: f.stage,
        provider: f.provider,
        connection: f.connection,
        stream: f.stream,
        error_class,
        ..DlqFilter::default()
    })
}

/// A record a stage failed permanently.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeadLetterView {
    pub(crate) id: String,
    pub(crate) pipeline: String,
    pub(crate) stage: String,
    pub(crate) provider: String,
    pub(crate) connection: String,
    pub(crate) stream: String,
    pub(crate) error: String,
    pub(crate) error_class: &'static str,
    pub(crate) attempts: i64,
    pub(crate) created_at: String,
    /// The record as the stage got it.
    pub(crate) record: Value,
}

impl From<&StoredDeadLetter> for DeadLetterView {
    fn from(l: &StoredDeadLetter) -> Self {
        // Stored records are JSON text; one that is not (it never should be) is shown as text.
        let record = serde_json::from_str(&l.letter.record)
            .unwrap_or(Value::String(l.letter.record.clone()));
        Self {
            id: l.id.clone(),
            pipeline: l.letter.pipeline.clone(),
            stage: l.letter.stage.clone(),
            provider: l.letter.provider.clone(),
            connection: l.letter.connection.clone(),
            stream: l.letter.stream.clone(),
            error: l.letter.error.clone(),
            error_class: l.letter.error_class.as_str(),
            attempts: l.attempts,
            created_at: rfc3339(l.created_at_ms),
            record,
        }
    }
}

/// A page of dead letters, newest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeadLetterPage {
    dead_letters: Vec<DeadLetterView>,
    next_cursor: Option<String>,
}

/// Dead letters, newest first, filtered and paged by cursor.
#[utoipa::path(get, path = "/api/v1/dlq", tag = "pipelines", params(ListQuery),
    responses(
        (status = 200, description = "A page of dead letters", body = DeadLetterPage),
        (status = 400, description = "A parameter is invalid (named in the message)", body = super::ErrorBody),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let filter = Filter {
        pipeline: q.pipeline,
        stage: q.stage,
        provider: q.provider,
        connection: q.connection,
        stream: q.stream,
        error_class: q.error_class,
    };
    let mut f = to_store(filter, "")?;
    f.cursor = q
        .cursor
        .map(|c| {
            parse_cursor(&c).ok_or_else(|| {
                ApiError::bad_request("cursor: not a cursor returned as next_cursor")
            })
        })
        .transpose()?;
    f.limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&f.limit) {
        return Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {MAX_LIMIT}"
        )));
    }
    let (letters, next) = state
        .store
        .list_dead_letters(&f)
        .await
        .map_err(ApiError::store)?;
    Ok(HttpResponse::Ok().json(DeadLetterPage {
        dead_letters: letters.iter().map(DeadLetterView::from).collect(),
        next_cursor: next,
    }))
}

/// Which dead letters to replay: `ids`, or a `filter`.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    #[serde(default)]
    pub(crate) ids: Vec<String>,
    pub(crate) filter: Option<Filter>,
    pub(crate) limit: Option<i64>,
}

/// Letters of a stage that is not configured any more.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Skipped {
    pub(crate) pipeline: String,
    pub(crate) stage: String,
    pub(crate) records: usize,
    pub(crate) reason: &'static str,
}

/// What a replay did.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReplayResult {
    pub(crate) replayed: usize,
    /// Went through this time (out of the DLQ).
    pub(crate) resolved: usize,
    /// Failed again (still in the DLQ).
    pub(crate) still_failing: usize,
    pub(crate) skipped: Vec<Skipped>,
}

/// Send dead letters back into the stage that failed them, oldest first; answers once they
/// went through or failed again.
#[utoipa::path(post, path = "/api/v1/dlq/replay", tag = "pipelines",
    params(("Idempotency-Key" = Option<String>, Header, description = "Sent again with the same body: the first answer again, done once")),
    request_body = ReplayRequest,
    responses(
        (status = 200, description = "What the replay did", body = ReplayResult),
        (status = 400, description = "Neither or both of ids and filter, or an invalid one", body = super::ErrorBody),
        (status = 404, description = "An id is no dead letter", body = super::ErrorBody),
    ))]
pub async fn replay(
    state: web::Data<AppState>,
    body: web::Json<ReplayRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(replay_letters(&state, body.into_inner()).await?))
}

/// Replays the dead letters `body` names (what `POST /api/v1/dlq/replay` does; the provider
/// page's replay button too).
pub async fn replay_letters(
    state: &AppState,
    body: ReplayRequest,
) -> Result<ReplayResult, ApiError> {
    let limit = body.limit.unwrap_or(1_000);
    if !(1..=MAX_REPLAY).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {MAX_REPLAY}"
        )));
    }
    let mut f = match (&body.ids[..], body.filter) {
        ([], None) => {
            return Err(ApiError::bad_request(
                "give ids, or a filter (pipeline, stage, provider, connection, stream, error_class)",
            ));
        }
        ([], Some(filter)) => {
            let f = to_store(filter, "filter.")?;
            let narrowed = f.pipeline.is_some()
                || f.stage.is_some()
                || f.provider.is_some()
                || f.connection.is_some()
                || f.stream.is_some()
                || f.error_class.is_some();
            if !narrowed {
                return Err(ApiError::bad_request(
                    "filter: name at least one of pipeline, stage, provider, connection, stream, error_class",
                ));
            }
            f
        }
        (ids, None) => {
            if ids.len() as i64 > MAX_REPLAY {
                return Err(ApiError::bad_request(format!(
                    "ids: at most {MAX_REPLAY} a request"
                )));
            }
            DlqFilter {
                ids: ids.to_vec(),
                ..DlqFilter::default()
            }
        }
        (_, Some(_)) => return Err(ApiError::bad_request("give ids or a filter, not both")),
    };
    f.limit = limit;
    let done = crate::pipeline::replay::replay(&state.store, &state.stages, &f)
        .await
        .map_err(|e| match e {
            ReplayError::Store(e) => ApiError::store(e),
            ReplayError::Unknown(ids) => ApiError::not_found(format!(
                "ids: no dead letter {}",
                ids.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            ReplayError::StageStopped => ApiError::unavailable("pipeline stage"),
        })?;
    Ok(ReplayResult {
        replayed: done.replayed,
        resolved: done.resolved,
        still_failing: done.still_failing,
        skipped: done
            .skipped
            .into_iter()
            .map(|s| Skipped {
                pipeline: s.pipeline,
                stage: s.stage,
                records: s.records,
                reason: "no such stage in the pipelines configured now",
            })
            .collect(),
    })
}
