//! The OpenAPI 3.1 document of `/api/v1` (`GET /api/v1/openapi.json`), generated from the
//! handlers' `#[utoipa::path]` attributes and the types they read and answer with, so it
//! cannot drift from them. The scopes come from [`super::auth::ROUTES`], the table that
//! enforces them; a test checks that every `/api/v1` route is documented and nothing else is.

use actix_web::HttpResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{PathItem, ResponseBuilder};

use super::auth::{Access, access_of};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "syncwatch",
        description = "Alerts, tickets, providers, pipelines and runbooks of a syncwatch. \
            Errors are `{\"error\": {\"code\", \"message\"}}`. Pages are cursor-based: pass a \
            page's `next_cursor` as `cursor` (tickets, runs, dead letters) or `after` (the \
            ticket event feed). Every POST honours an `Idempotency-Key` header. With \
            `[[api.tokens]]` configured, each operation needs a bearer token holding the scope \
            its security names (401 without a known token, 403 without the scope); without \
            tokens the API is open."
    ),
    paths(
        document,
        super::alerts::list,
        super::tickets::list,
        super::tickets::stats,
        super::sla::list,
        super::sla::detail,
        super::sla_report::report,
        super::tickets::get,
        super::tickets::patch,
        super::tickets::events,
        super::tickets::feed,
        super::tickets::comment,
        super::tickets::comments,
        super::providers::list,
        super::providers::sync_now,
        super::providers::set_paused,
        super::providers::runs,
        super::events::post,
        super::dlq::list,
        super::dlq::replay,
        super::runbooks::list,
        super::runbooks::lookup,
        super::runbooks::get,
        super::assistant::ask,
        super::assistant::feedback,
    ),
    components(schemas(super::ErrorBody)),
    modifiers(&Scopes),
    tags(
        (name = "tickets", description = "Tickets support works: lifecycle, history, comments, the event feed, figures"),
        (name = "alerts", description = "Alerts of syncwatch's rules"),
        (name = "sla", description = "Service level objectives: attainment, error budgets, burn rates"),
        (name = "providers", description = "Integration providers and their connections"),
        (name = "pipelines", description = "Stages outside syncwatch, and dead letters"),
        (name = "runbooks", description = "Runbooks and their lookup"),
        (name = "assistant", description = "The L0 assistant: cited answers, feedback, escalation to an L1 ticket"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// Puts each operation's scope (from [`super::auth::ROUTES`]) in its security, with the 401
/// and 403 it can answer; an open operation gets an empty requirement.
struct Scopes;

impl utoipa::Modify for Scopes {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An `[[api.tokens]]` token (its SHA-256 is in syncwatch.toml); `admin` holds every scope",
                    ))
                    .build(),
            ),
        );
        for (path, item) in api.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                match access_of(method, path) {
                    Access::Scope(scope) => {
                        op.security = Some(vec![SecurityRequirement::new("bearer", [scope])]);
                        let error = |d: &str| {
                            ResponseBuilder::new()
                                .description(d)
                                .content(
                                    "application/json",
                                    utoipa::openapi::ContentBuilder::new()
                                        .schema(Some(utoipa::openapi::Ref::from_schema_name(
                                            "ErrorBody",
                                        )))
                                        .build(),
                                )
                                .build()
                        };
                        op.responses.responses.insert(
                            "401".into(),
                            error("Tokens are configured and none known was given").into(),
                        );
                        op.responses.responses.insert(
                            "403".into(),
                            error(&format!("The token does not hold {scope}")).into(),
                        );
                    }
                    Access::Open | Access::Metrics => {
                        op.security = Some(vec![SecurityRequirement::default()]);
                    }
                    // Only pages take any token; the API names its scope.
                    Access::AnyToken => {
                        op.security = Some(vec![SecurityRequirement::new("bearer", [""; 0])]);
                    }
                }
            }
        }
    }
}

/// The operations of a path item, with their methods.
fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut utoipa::openapi::path::Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("POST", item.post.as_mut()),
        ("PATCH", item.patch.as_mut()),
        ("PUT", item.put.as_mut()),
        ("DELETE", item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of /api/v1", content_type = "application/json")))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_v1_route_is_documented_with_its_scope_and_nothing_else() {
        let mut api = ApiDoc::openapi();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in api.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                documented.push((method.to_string(), path.clone()));
                let scopes: Vec<String> = op
                    .security
                    .iter()
                    .flatten()
                    .filter_map(|r| serde_json::to_value(r).ok())
                    .filter_map(|v| v.get("bearer").cloned())
                    .flat_map(|v| serde_json::from_value::<Vec<String>>(v).unwrap_or_default())
                    .collect();
                match access_of(method, path) {
                    Access::Scope(s) => assert_eq!(scopes, [s], "{method} {path}"),
                    _ => assert!(scopes.is_empty(), "{method} {path}"),
                }
            }
        }
        documented.sort();
        let mut routed: Vec<(String, String)> = super::super::auth::ROUTES
            .iter()
            .filter(|(_, p, _)| p.starts_with("/api/v1/"))
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        routed.sort();
        assert_eq!(documented, routed);
        let json = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
    }
}
