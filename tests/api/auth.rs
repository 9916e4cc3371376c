//! Tokens and scopes on every route: with tokens configured, each route in the API's access
//! table answers 401 without a token, 403 with a token lacking its scope, and runs with the
//! right scope (or `admin`); `/healthz` and `/readyz` stay open, `/metrics` follows
//! `api.metrics_auth`.

use sha2::{Digest, Sha256};
use syncwatch::api::auth::{Access, ROUTES};
use syncwatch::config::SCOPES;
use syncwatch::domain::Alert;
use syncwatch::domain::ticket::{DedupKey, TicketPolicy, new_ticket};

use super::helpers::{Options, TestApp, spawn_app_with};

/// The bearer token that holds exactly `scope`.
fn token(scope: &str) -> String {
    format!("token-for-{scope}")
}

async fn app_with_a_token_per_scope(metrics_auth: &str) -> TestApp {
    let mut extra = format!("[api]\nmetrics_auth = \"{metrics_auth}\"\n");
    for scope in SCOPES {
        extra.push_str(&format!(
            "\n[[api.tokens]]\nname = \"{scope}\"\ntoken_sha256 = \"{}\"\nscopes = [\"{scope}\"]\n",
            hex::encode(Sha256::digest(token(scope).as_bytes()))
        ));
    }
    spawn_app_with(Options {
        extra_config: extra,
        ..Options::default()
    })
    .await
}

/// A concrete request path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{provider}", "tekion")
        .replace("{connection}", "dealer-001")
        .replace("{action}", "pause")
        .replace("{id}", "x")
}

async fn call(app: &TestApp, method: &str, path: &str, bearer: Option<&str>) -> u16 {
    let url = format!("{}{path}", app.address);
    let mut req = app
        .client
        .request(method.parse().unwrap(), &url)
        .header("content-type", "application/json");
    if method == "POST" {
        req = req.body(if path == "/api/v2/alerts" { "[]" } else { "{}" });
    }
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    req.send().await.unwrap().status().as_u16()
}

#[actix_web::test]
async fn every_route_answers_no_token_the_wrong_scope_and_the_right_one() {
    let app = app_with_a_token_per_scope("token").await;
    let mut checked = 0;
    for (method, pattern, access) in ROUTES {
        let path = concrete(pattern);
        let what = format!("{method} {path}");
        match access {
            Access::Open => {
                let s = call(&app, method, &path, None).await;
                assert!(s != 401 && s != 403, "{what} is open, got {s}");
            }
            Access::AnyToken => {
                assert_eq!(call(&app, method, &path, None).await, 401, "{what}");
                assert_eq!(
                    call(&app, method, &path, Some("not-a-token")).await,
                    401,
                    "{what} with an unknown token"
                );
                let s = call(&app, method, &path, Some(&token("events:write"))).await;
                assert!(s != 401 && s != 403, "{what} takes any token, got {s}");
            }
            Access::Metrics | Access::Scope(_) => {
                let scope = match access {
                    Access::Scope(s) => *s,
                    _ => "metrics:read",
                };
                let other = if scope == "events:write" {
                    "tickets:read"
                } else {
                    "events:write"
                };
                assert_eq!(
                    call(&app, method, &path, None).await,
                    401,
                    "{what} without a token"
                );
                assert_eq!(
                    call(&app, method, &path, Some("not-a-token")).await,
                    401,
                    "{what} with an unknown token"
                );
                assert_eq!(
                    call(&app, method, &path, Some(&token(other))).await,
                    403,
                    "{what} with {other} instead of {scope}"
                );
                for good in [scope, "admin"] {
                    let s = call(&app, method, &path, Some(&token(good))).await;
                    assert!(s != 401 && s != 403, "{what} with {good}: {s}");
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, ROUTES.len());
    // A path spelled so that it matches no pattern as written, but a route once decoded, is
    // still that route; a path matching nothing needs admin (then 404).
    for (method, path) in [
        ("GET", "/api/v1/tick%65ts"),
        ("GET", "/api/v2/st%61tus"),
        ("POST", "/api/v2/alert%73"),
        ("DELETE", "/api/v2/silenc%65/x"),
    ] {
        assert_eq!(call(&app, method, path, None).await, 401, "{method} {path}");
        assert_eq!(
            call(&app, method, path, Some(&token("events:write"))).await,
            403,
            "{method} {path}"
        );
    }
    assert_eq!(
        call(
            &app,
            "GET",
            "/api/v1/tick%65ts",
            Some(&token("tickets:read"))
        )
        .await,
        200
    );
    assert_eq!(call(&app, "GET", "/api/v1/nowhere", None).await, 401);
    assert_eq!(
        call(&app, "GET", "/api/v1/nowhere", Some(&token("admin"))).await,
        404
    );
}

#[actix_web::test]
async fn metrics_stay_open_for_scraping_by_default() {
    let app = app_with_a_token_per_scope("open").await;
    assert_eq!(call(&app, "GET", "/metrics", None).await, 200);
    assert_eq!(call(&app, "GET", "/api/v1/alerts", None).await, 401);
}

#[actix_web::test]
async fn the_runbook_lookup_shows_similar_tickets_only_to_who_may_read_tickets() {
    let app = app_with_a_token_per_scope("open").await;
    // A resolved ticket of the alert the lookup names.
    let store = app.store().await;
    let alert = Alert {
        labels: [("alertname", "ProviderAuthFailing"), ("provider", "cdk")]
            .into_iter()
            .collect(),
        annotations: Default::default(),
        starts_at_ms: 1_000,
        ends_at_ms: None,
        value: None,
        generator_url: String::new(),
    };
    let policy = TicketPolicy::default();
    let key = DedupKey::from_labels(&alert.labels, &policy.dedup_by);
    // Resolved a minute ago (tickets older than `assistant.ticket_max_age` are not suggested).
    let now = syncwatch::domain::Clock::now_ms(&syncwatch::domain::SystemClock);
    let t = new_ticket(
        "t-similar".into(),
        &alert,
        key,
        &policy,
        None,
        now - 120_000,
    );
    store.create_ticket(&t, "occ-1").await.unwrap();
    assert!(
        store
            .resolve_ticket(&t.id, now - 60_000, "alert resolved")
            .await
            .unwrap()
    );

    let lookup = |bearer: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(format!("{}/api/v1/runbooks/lookup", app.address))
                .bearer_auth(bearer)
                .json(&serde_json::json!({"labels": {"alertname": "ProviderAuthFailing"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let without = lookup(token("runbooks:read")).await;
    assert_eq!(
        without["similar_tickets"],
        serde_json::json!([]),
        "{without}"
    );
    assert!(!without.to_string().contains("t-similar"));
    let with = lookup(token("admin")).await;
    assert_eq!(with["similar_tickets"][0]["id"], "t-similar", "{with}");
}
