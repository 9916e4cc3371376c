//! `GET /`: what needs attention now. The providers (circuit, connections, those failing, last
//! success), the SLOs with the least budget left, the firing alerts, the active tickets by tier
//! and the size of the dead-letter queue. Each part shows only when the caller's token holds
//! its scope (`providers:read`, `sla:read`, `alerts:read`, `tickets:read`, `dlq:read`); every
//! figure links to its page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::alerts::{AlertRow, held, rows};
use super::providers::troubled;
use super::sla::Row;
use super::{Chrome, Ctx, error_page, when};
use crate::api::auth::holds;
use crate::api::sla::{SlaQuery, list_view};
use crate::api::{ApiError, AppState};

/// SLO groups, alerts and connections the overview lists at most.
const WORST_SLOS: usize = 10;
const MAX_ALERTS: usize = 50;
const MAX_TROUBLED: usize = 50;

struct ProviderLine {
    name: String,
    circuit: &'static str,
    connections: usize,
    troubled: usize,
    /// The oldest last success among its connections (the stalest data).
    stalest: String,
}

struct TroubledLine {
    provider: String,
    connection: String,
    state: &'static str,
    last_success: String,
    error: String,
}

/// Active tickets of a tier.
struct TierLine {
    tier: &'static str,
    open: i64,
    acknowledged: i64,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    chrome: Chrome,
    providers: Option<Vec<ProviderLine>>,
    troubled: Vec<TroubledLine>,
    troubled_total: usize,
    slos: Option<Vec<Row>>,
    slo_total: usize,
    alerts: Option<Vec<AlertRow>>,
    alerts_total: usize,
    tiers: Option<Vec<TierLine>>,
    dlq: Option<i64>,
}

/// `GET /`.
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ctx = Ctx::new(&req, &state);
    match overview(&req, &state, &ctx).await {
        Ok(page) => ctx.respond(StatusCode::OK, page),
        Err(e) => error_page(&ctx, &e, "/"),
    }
}

async fn overview(
    req: &HttpRequest,
    state: &AppState,
    ctx: &Ctx,
) -> Result<Result<String, askama::Error>, ApiError> {
    let mut page = Overview {
        chrome: ctx.chrome("overview"),
        providers: None,
        troubled: Vec::new(),
        troubled_total: 0,
        slos: None,
        slo_total: 0,
        alerts: None,
        alerts_total: 0,
        tiers: None,
        dlq: None,
    };
    // Every part at once: each waits on its own actor or query, not on the others.
    let may = |scope: &str| holds(req, state, scope);
    let (providers, slos, held_alerts, counts, dlq) = futures::join!(
        async {
            if may("providers:read") {
                Some(crate::api::providers::provider_views(state).await)
            } else {
                None
            }
        },
        async {
            let worst = SlaQuery {
                limit: Some(WORST_SLOS),
                ..SlaQuery::default()
            };
            if may("sla:read") {
                Some(list_view(state, &worst).await)
            } else {
                None
            }
        },
        async {
            if may("alerts:read") {
                Some(held(state).await)
            } else {
                None
            }
        },
        async {
            if may("tickets:read") {
                Some(state.store.active_ticket_counts().await)
            } else {
                None
            }
        },
        async {
            if may("dlq:read") {
                Some(state.store.dead_letter_total(None).await)
            } else {
                None
            }
        },
    );
    if let Some(providers) = providers {
        let mut lines = Vec::new();
        for p in providers? {
            let bad: Vec<_> = p.connections.iter().filter(|c| troubled(c)).collect();
            page.troubled_total += bad.len();
            for c in bad {
                if page.troubled.len() < MAX_TROUBLED {
                    page.troubled.push(TroubledLine {
                        provider: p.name.clone(),
                        connection: c.connection.clone(),
                        state: c.state,
                        last_success: when(c.last_success.as_deref()),
                        error: c
                            .last_error
                            .as_ref()
                            .map(|e| format!("{}: {}", e.error_class.as_str(), e.reason))
                            .unwrap_or_default(),
                    });
                }
            }
            // RFC 3339 in UTC sorts as time; a connection that never succeeded is the stalest.
            let stalest = if p.connections.iter().any(|c| c.last_success.is_none()) {
                "never".to_string()
            } else {
                when(
                    p.connections
                        .iter()
                        .filter_map(|c| c.last_success.as_deref())
                        .min(),
                )
            };
            lines.push(ProviderLine {
                troubled: p.connections.iter().filter(|c| troubled(c)).count(),
                connections: p.connections.len(),
                circuit: p.circuit,
                stalest,
                name: p.name,
            });
        }
        // Open circuits and failing connections first.
        lines.sort_by_key(|l| (l.circuit == "closed", l.troubled == 0));
        page.providers = Some(lines);
    }
    if let Some(view) = slos {
        let view = view?;
        page.slo_total = view.total;
        page.slos = Some(view.slos.iter().map(|f| Row::of(f, "window=30d")).collect());
    }
    if let Some(all) = held_alerts {
        let all = all?;
        page.alerts_total = all.len();
        page.alerts = Some(rows(&all, state, MAX_ALERTS));
    }
    if let Some(counts) = counts {
        let counts = counts.map_err(ApiError::store)?;
        let count = |status: &str, tier: &str| {
            counts
                .iter()
                .filter(|(s, t, _)| s == status && t == tier)
                .map(|(_, _, n)| n)
                .sum()
        };
        page.tiers = Some(
            ["L1", "L2", "L3"]
                .into_iter()
                .map(|tier| TierLine {
                    tier,
                    open: count("open", tier),
                    acknowledged: count("acknowledged", tier),
                })
                .collect(),
        );
    }
    if let Some(n) = dlq {
        page.dlq = Some(n.map_err(ApiError::store)?);
    }
    Ok(page.render())
}
