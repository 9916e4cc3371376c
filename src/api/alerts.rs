//! `GET /api/v1/alerts`: pending and firing alerts with their runbook and ticket.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::json;

use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::domain::ticket::occurrence_key;
use crate::domain::{AlertState, Labels};
use crate::rules::GetAlerts;

#[derive(Serialize)]
struct AlertView {
    name: String,
    state: AlertState,
    labels: Labels,
    annotations: std::collections::BTreeMap<String, String>,
    since: String,
    fired_at: Option<String>,
    value: f64,
    runbook: Option<serde_json::Value>,
    ticket: Option<serde_json::Value>,
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let alerts = state
        .rules
        .send(GetAlerts)
        .await
        .map_err(|_| ApiError::unavailable("rules engine"))?;
    let mut out = Vec::with_capacity(alerts.len());
    for ra in alerts {
        let a = &ra.alert;
        let runbook = state.runbooks.exact(&a.labels).map(|rb| {
            json!({"id": rb.id, "title": rb.title, "url": format!("{}/api/v1/runbooks/{}", state.public_url, rb.id)})
        });
        let ticket = if a.state == AlertState::Firing {
            state
                .store
                .ticket_for_occurrence(&occurrence_key(&a.to_alert(None, "")))
                .await
                .map_err(ApiError::internal)?
                .map(|id| json!({"id": id, "url": format!("{}/api/v1/tickets/{id}", state.public_url)}))
        } else {
            None
        };
        out.push(AlertView {
            name: ra.rule.clone(),
            state: a.state,
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            since: rfc3339(a.active_at_ms),
            fired_at: a.fired_at_ms.map(rfc3339),
            value: a.value,
            runbook,
            ticket,
        });
    }
    Ok(HttpResponse::Ok().json(json!({"alerts": out})))
}
