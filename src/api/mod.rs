//! The HTTP API (actix-web): one file per resource. Errors are JSON
//! `{"error": {"code", "message"}}` with a 4xx/5xx status; 5xx never leaks internals.

pub mod alertmanager;
pub mod alerts;
pub mod assistant;
pub mod auth;
pub mod dlq;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod openapi;
pub mod providers;
pub mod runbooks;
pub mod silences;
pub mod sla;
pub mod sla_report;
pub mod tickets;

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::Addr;
use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};

use crate::config::ApiToken;
use crate::providers::ProviderActor;
use crate::rules::RulesActor;
use crate::runbooks::{RunbookIndex, RunbookSearcher};
use crate::store::Store;
use crate::telemetry::{Metrics, MetricsRegistry};

/// Largest JSON request body accepted (413 past it).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What the handlers share.
pub struct AppState {
    pub store: Store,
    pub registry: Arc<MetricsRegistry>,
    pub metrics: Metrics,
    pub rules: Addr<RulesActor>,
    /// The rules' alerts as of their last evaluation (no wait for a busy rules actor).
    pub rule_alerts: crate::rules::actor::PublishedAlerts,
    pub providers: BTreeMap<String, Addr<ProviderActor>>,
    pub runbooks: Arc<RunbookIndex>,
    pub searcher: Addr<RunbookSearcher>,
    pub public_url: String,
    pub tokens: Vec<ApiToken>,
    /// `/metrics` needs a `metrics:read` token (`api.metrics_auth = "token"`).
    pub metrics_need_token: bool,
    pub rules_status: Arc<std::sync::RwLock<crate::rules::RulesStatus>>,
    pub silences: crate::alerting::Silences,
    pub clock: Arc<dyn crate::domain::Clock>,
    pub dispatch: Addr<crate::alerting::DispatchActor>,
    /// The `alerting.yml` in use (`GET /api/v2/status`) and the last reload's outcome.
    pub alerting_status: crate::alerting::reload::SharedStatus,
    pub started_at_ms: i64,
    /// Where `POST /api/v1/events` observations go.
    pub events: Arc<crate::pipeline::events::EventSink>,
    /// Every pipeline stage by (pipeline, stage), for DLQ replays.
    pub stages: BTreeMap<(String, String), crate::pipeline::StageLink>,
    /// Alert flushes waiting for the store to take their ticket or outbox writes.
    pub backlog: crate::alerting::backlog::StoreBacklog,
    /// The SLOs in use (`GET /api/v1/sla`).
    pub slos: Arc<crate::slo::report::SloCatalog>,
    /// The SLO groups' rolling windows, kept as minutes are recorded.
    pub ledger: Arc<crate::slo::ledger::SharedLedger>,
    /// The L0 assistant's settings and model clients.
    pub assistant: Arc<crate::runbooks::assistant::Assistant>,
    /// The pages' signed-in sessions.
    pub sessions: Arc<crate::web::session::Sessions>,
}

/// Every error's body: `{"error": {"code", "message"}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable: `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `precondition_failed`, `precondition_required`, `unprocessable`, `payload_too_large`,
    /// `unsupported_media_type`, `throttled`, `internal`, `unavailable`, …
    code: String,
    /// For people: what was wrong, naming the parameter or field.
    message: String,
}

/// An API error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
        }
    }

    /// A store error: 400 for a value the database cannot hold (a NUL character in text on
    /// PostgreSQL), otherwise [`ApiError::internal`].
    pub fn store(e: crate::store::StoreError) -> Self {
        match e.refused_value() {
            Some(why) => Self::bad_request(format!(
                "a value of the request cannot be stored ({why}); NUL characters are not accepted"
            )),
            None => Self::internal(e),
        }
    }

    /// Logs the cause; the client sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error".into(),
        }
    }

    pub fn unavailable(what: &str) -> Self {
        tracing::error!(component = what, "component unavailable");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: format!("{what} is unavailable"),
        }
    }
}

/// The search thread gone is 503; an index error is 500 (logged).
impl From<crate::runbooks::assistant::AskError> for ApiError {
    fn from(e: crate::runbooks::assistant::AskError) -> Self {
        match e {
            crate::runbooks::assistant::AskError::Unavailable => {
                ApiError::unavailable("runbook index")
            }
            other => ApiError::internal(other),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header(("WWW-Authenticate", "Bearer"));
        }
        r.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        })
    }
}

fn json_error(e: JsonPayloadError) -> ApiError {
    match &e {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: format!("request body exceeds {limit} bytes"),
        },
        JsonPayloadError::ContentType => {
            ApiError::bad_request("expected Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(d) => {
            ApiError::bad_request(format!("invalid JSON body: {d}"))
        }
        other => ApiError::bad_request(format!("invalid request body: {other}")),
    }
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY_BYTES)
            .error_handler(|e, _| json_error(e).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::bad_request(format!("invalid query: {e}")).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _| ApiError::bad_request(format!("invalid path: {e}")).into()),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(health::metrics))
    .route("/api/v1/openapi.json", web::get().to(openapi::document))
    .route("/api/v1/alerts", web::get().to(alerts::list))
    .route("/api/v1/tickets", web::get().to(tickets::list))
    .route("/api/v1/tickets/stats", web::get().to(tickets::stats))
    .route("/api/v1/sla", web::get().to(sla::list))
    .route("/api/v1/sla/report", web::get().to(sla_report::report))
    .route("/api/v1/sla/{slo}", web::get().to(sla::detail))
    .route("/api/v1/tickets/{id}", web::get().to(tickets::get))
    .route("/api/v1/tickets/{id}", web::patch().to(tickets::patch))
    .route("/api/v1/ticket-events", web::get().to(tickets::feed))
    .route(
        "/api/v1/tickets/{id}/events",
        web::get().to(tickets::events),
    )
    .route(
        "/api/v1/tickets/{id}/comments",
        web::post().to(tickets::comment),
    )
    .route(
        "/api/v1/tickets/{id}/comments",
        web::get().to(tickets::comments),
    )
    .route("/api/v1/providers", web::get().to(providers::list))
    .route("/api/v1/events", web::post().to(events::post))
    .route("/api/v1/dlq", web::get().to(dlq::list))
    .route("/api/v1/dlq/replay", web::post().to(dlq::replay))
    .route(
        "/api/v1/providers/{provider}/connections/{connection}/sync",
        web::post().to(providers::sync_now),
    )
    .route(
        "/api/v1/providers/{provider}/connections/{connection}/runs",
        web::get().to(providers::runs),
    )
    .route(
        "/api/v1/providers/{provider}/connections/{connection}/{action}",
        web::post().to(providers::set_paused),
    )
    .service(
        web::resource("/api/v2/alerts")
            // Alertmanager takes batches of any size; Prometheus sends up to its
            // `max_samples_per_send`-sized batches of alerts (about 1 MB with big annotations).
            .app_data(
                web::JsonConfig::default()
                    .limit(alertmanager::MAX_ALERTS_BODY_BYTES)
                    .error_handler(|e, _| json_error(e).into()),
            )
            .route(web::post().to(alertmanager::post_alerts))
            .route(web::get().to(alertmanager::get_alerts)),
    )
    .route("/api/v2/status", web::get().to(alertmanager::status))
    .route("/api/v2/silences", web::get().to(silences::list))
    .route("/api/v2/silences", web::post().to(silences::create))
    .route("/api/v2/silence/{id}", web::get().to(silences::get))
    .route("/api/v2/silence/{id}", web::delete().to(silences::expire))
    .route("/api/v1/runbooks", web::get().to(runbooks::list))
    .route("/api/v1/runbooks/lookup", web::post().to(runbooks::lookup))
    .route("/api/v1/runbooks/{id}", web::get().to(runbooks::get))
    .route("/api/v1/assistant/ask", web::post().to(assistant::ask))
    .route(
        "/api/v1/assistant/answers/{id}/feedback",
        web::post().to(assistant::feedback),
    )
    .default_service(web::to(|| async {
        ApiError::not_found("no such endpoint").error_response()
    }));
}
