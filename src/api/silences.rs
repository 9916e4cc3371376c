//! Silences, in Alertmanager's API v2 shapes: `GET/POST /api/v2/silences`,
//! `GET/DELETE /api/v2/silence/{id}` (amtool's `silence add`, `query` and `expire` work).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::domain::Matcher;
use crate::domain::clock::rfc3339;
use crate::domain::duration::parse_duration;
use crate::domain::silence::{ApiMatcher, Silence};
use crate::store::new_id;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    id: Option<String>,
    matchers: Vec<ApiMatcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    #[serde(default)]
    comment: String,
}

fn time(field: &str, s: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|_| ApiError::bad_request(format!("{field}: {s:?} is not an RFC 3339 time")))
}

fn view(s: &Silence, now: i64) -> Value {
    json!({
        "id": s.id,
        "status": {"state": s.state(now)},
        "updatedAt": rfc3339(s.updated_at_ms),
        "matchers": s.api_matchers,
        "startsAt": rfc3339(s.starts_at_ms),
        "endsAt": rfc3339(s.ends_at_ms),
        "createdBy": s.created_by,
        "comment": s.comment,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    filter: Vec<String>,
}

/// `filter` matchers (`?filter=provider="cdk"`) keep silences having an equal matcher.
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let q: ListQuery = serde_urlencoded_filters(req.query_string())?;
    let filters = q
        .filter
        .iter()
        .map(|f| Matcher::parse(f).map_err(|e| ApiError::bad_request(format!("filter: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let now = state.clock.now_ms();
    let silences = state.silences.read().unwrap_or_else(|e| e.into_inner());
    let out: Vec<Value> = silences
        .iter()
        .filter(|s| {
            filters.iter().all(|f| {
                s.api_matchers.iter().any(|m| {
                    m.name == f.name
                        && f.matches(&[(m.name.as_str(), m.value.as_str())].into_iter().collect())
                })
            })
        })
        .map(|s| view(s, now))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Repeated `filter=` parameters, as amtool sends them.
fn serde_urlencoded_filters(query: &str) -> Result<ListQuery, ApiError> {
    let filter = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| v.into_owned())
        .collect();
    Ok(ListQuery { filter })
}

pub async fn create(
    state: web::Data<AppState>,
    body: web::Json<PostableSilence>,
) -> Result<HttpResponse, ApiError> {
    let p = body.into_inner();
    let now = state.clock.now_ms();
    let id = match &p.id {
        Some(id) if !id.is_empty() => {
            let exists = state
                .silences
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|s| &s.id == id);
            if !exists {
                return Err(ApiError::not_found(format!("no silence {:?}", id.as_str())));
            }
            id.clone()
        }
        _ => new_id(),
    };
    let starts = time("startsAt", &p.starts_at)?;
    let ends = time("endsAt", &p.ends_at)?;
    let silence = Silence::new(
        id.clone(),
        p.matchers,
        starts.max(now),
        ends,
        p.created_by,
        p.comment,
        now,
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    save(&state, silence).await?;
    Ok(HttpResponse::Ok().json(json!({"silenceID": id})))
}

/// Stores a new or changed silence and puts it in force.
pub async fn save(state: &AppState, silence: Silence) -> Result<(), ApiError> {
    let id = silence.id.clone();
    if silence.ends_at_ms <= state.clock.now_ms() {
        return Err(ApiError::bad_request("endsAt: must be in the future"));
    }
    state
        .store
        .save_silence(&silence)
        .await
        .map_err(ApiError::store)?;
    tracing::info!(silence = %id, by = %silence.created_by, "silence saved");
    let mut all = state.silences.write().unwrap_or_else(|e| e.into_inner());
    all.retain(|s| s.id != id);
    all.push(silence);
    Ok(())
}

pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now_ms();
    let silences = state.silences.read().unwrap_or_else(|e| e.into_inner());
    let s = silences
        .iter()
        .find(|s| s.id == *id)
        .ok_or_else(|| ApiError::not_found(format!("no silence {:?}", id.as_str())))?;
    Ok(HttpResponse::Ok().json(view(s, now)))
}

pub async fn expire(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    expire_silence(&state, &id).await?;
    Ok(HttpResponse::Ok().finish())
}

/// Ends silence `id` now (404 when there is none).
pub async fn expire_silence(state: &AppState, id: &str) -> Result<(), ApiError> {
    let now = state.clock.now_ms();
    let mut silence = {
        let silences = state.silences.read().unwrap_or_else(|e| e.into_inner());
        silences
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no silence {id:?}")))?
    };
    silence.expire(now);
    state
        .store
        .save_silence(&silence)
        .await
        .map_err(ApiError::store)?;
    tracing::info!(silence = %id, "silence expired");
    let mut all = state.silences.write().unwrap_or_else(|e| e.into_inner());
    all.retain(|s| s.id != id);
    all.push(silence);
    Ok(())
}

/// Creates and puts in force the silence a form describes: `matchers` one per line (PromQL
/// matcher syntax), `duration` such as `2h`, who and why (both required). 400 naming the field
/// that is wrong.
pub async fn silence_from_form(
    state: &AppState,
    matchers_text: &str,
    duration: &str,
    created_by: &str,
    comment: &str,
) -> Result<Silence, ApiError> {
    let mut matchers = Vec::new();
    for line in matchers_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let m =
            Matcher::parse(line).map_err(|e| ApiError::bad_request(format!("matchers: {e}")))?;
        matchers.push(ApiMatcher::from_matcher(&m));
    }
    let duration = parse_duration(duration.trim())
        .map_err(|e| ApiError::bad_request(format!("duration: {e}")))?;
    if created_by.trim().is_empty() || comment.trim().is_empty() {
        return Err(ApiError::bad_request(
            "created by and comment are both required",
        ));
    }
    let now = state.clock.now_ms();
    let silence = Silence::new(
        new_id(),
        matchers,
        now,
        now + duration.as_millis() as i64,
        created_by.trim().to_string(),
        comment.trim().to_string(),
        now,
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    save(state, silence.clone()).await?;
    Ok(silence)
}
