//! `GET /api/v1/alerts`: pending and firing alerts with their runbook and ticket.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::{ApiError, AppState};
use crate::domain::clock::rfc3339;
use crate::domain::ticket::occurrence_key;
use crate::domain::{AlertState, Labels};
use crate::rules::GetAlerts;

/// A pending or firing alert of syncwatch's rules.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertView {
    /// The rule's name (`alertname`).
    name: String,
    /// `pending` or `firing`.
    #[schema(value_type = String)]
    state: AlertState,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    labels: Labels,
    annotations: std::collections::BTreeMap<String, String>,
    /// Since when the condition holds (RFC 3339).
    since: String,
    fired_at: Option<String>,
    value: f64,
    runbook: Option<Link>,
    /// The ticket of a firing alert, when one was opened.
    ticket: Option<Link>,
}

/// Something an alert links to.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Link {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertList {
    alerts: Vec<AlertView>,
}

/// Pending and firing alerts, with their runbook and ticket.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts",
    responses((status = 200, description = "The alerts", body = AlertList)))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    // The Source link of a notification (the rules' generator URL) opens the alerts page in a
    // browser.
    if crate::web::wants_html(&req) {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("location", "/alerts"))
            .finish());
    }
    let alerts = state
        .rules
        .send(GetAlerts)
        .await
        .map_err(|_| ApiError::unavailable("rules engine"))?;
    let mut out = Vec::with_capacity(alerts.len());
    for ra in alerts {
        let a = &ra.alert;
        let runbook = state.runbooks.exact(&a.labels).map(|rb| Link {
            id: rb.id.clone(),
            title: Some(rb.title.clone()),
            url: format!("{}/api/v1/runbooks/{}", state.public_url, rb.id),
        });
        let ticket = if a.state == AlertState::Firing {
            state
                .store
                .ticket_for_occurrence(&occurrence_key(&a.to_alert(None, "")))
                .await
                .map_err(ApiError::store)?
                .map(|id| Link {
                    url: format!("{}/api/v1/tickets/{id}", state.public_url),
                    id,
                    title: None,
                })
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
    Ok(HttpResponse::Ok().json(AlertList { alerts: out }))
}
