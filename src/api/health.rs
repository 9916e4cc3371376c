//! `/healthz`, `/readyz`, `/metrics`.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the store answers and rules are loaded. `checks.store_backlog` counts the alert
/// flushes whose ticket or outbox writes wait for the store (retried until it takes them). A refused rule reload does not make it
/// unready (the previous rules keep running) but shows in `checks.rules_reload`; a refused
/// `alerting.yml` reload likewise in `checks.alerting_reload`.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.ping().await;
    let rules = state
        .rules_status
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let alerting = state
        .alerting_status
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let body = json!({
        "status": if store { "ready" } else { "not_ready" },
        "checks": {
            "store": if store { "ok" } else { "unreachable" },
            "rules": format!("{} groups, {} rules loaded", rules.groups, rules.rules),
            "rules_reload": match &rules.last_reload_error {
                None => "ok".to_string(),
                Some(e) => format!("last reload refused, previous rules running: {e}"),
            },
            "store_backlog": {
                "ticket_writes": state.backlog.tickets(),
                "outbox_writes": state.backlog.outbox(),
            },
            "alerting_reload": match &alerting.last_reload_error {
                None => "ok".to_string(),
                Some(e) => format!("last reload refused, previous routing running: {e}"),
            },
        }
    });
    if store {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.registry.render())
}
