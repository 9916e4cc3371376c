//! The tickets API: filters, pagination, validation, auth.

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::helpers::{Options, spawn_app, spawn_app_with, wait_for};

#[actix_web::test]
async fn tickets_page_newest_first_with_a_cursor_and_filter() {
    let app = spawn_app_with(Options {
        providers: vec![("tekion", vec!["dealer-001"]), ("cdk", vec!["dealer-101"])],
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    wait_for("tekion's ticket", Duration::from_secs(20), || async {
        (app.tickets("").await["tickets"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    app.inject_fault(&json!({"provider": "cdk", "kind": "auth", "duration": "1h"}))
        .await;
    wait_for("two tickets", Duration::from_secs(20), || async {
        (app.tickets("").await["tickets"].as_array().map(Vec::len) == Some(2)).then_some(())
    })
    .await;

    let first = app.tickets("?limit=1").await;
    assert_eq!(
        first["tickets"][0]["provider"], "cdk",
        "newest first: {first}"
    );
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = app.tickets(&format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(second["tickets"][0]["provider"], "tekion", "{second}");
    assert!(second["next_cursor"].is_null());

    let filtered = app
        .tickets("?provider=tekion&severity=critical&status=open")
        .await;
    assert_eq!(filtered["tickets"].as_array().unwrap().len(), 1);
    assert!(
        app.tickets("?alertname=Nope").await["tickets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        app.tickets("?since=2999-01-01T00:00:00Z").await["tickets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn bad_ticket_queries_name_the_parameter() {
    let app = spawn_app().await;
    for (query, needle) in [
        ("?status=done", "status:"),
        ("?severity=loud", "severity:"),
        ("?since=yesterday", "since:"),
        ("?limit=0", "limit:"),
        ("?cursor=zzz", "cursor:"),
        ("?colour=red", "unknown field"),
    ] {
        let r = app.get(&format!("/api/v1/tickets{query}")).await;
        assert_eq!(r.status().as_u16(), 400, "{query}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
    let r = app.get("/api/v1/tickets/does-not-exist").await;
    assert_eq!(r.status().as_u16(), 404);
}

#[actix_web::test]
async fn configured_tokens_guard_tickets_by_scope() {
    let hash = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
    let app = spawn_app_with(Options {
        extra_config: format!(
            "[[api.tokens]]\nname = \"support-desk\"\ntoken_sha256 = \"{}\"\nscopes = [\"tickets:read\"]\n\n[[api.tokens]]\nname = \"events\"\ntoken_sha256 = \"{}\"\nscopes = [\"events:write\"]\n",
            hash("desk-secret"),
            hash("events-secret")
        ),
        ..Options::default()
    })
    .await;
    let url = format!("{}/api/v1/tickets", app.address);
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app
        .client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app
        .client
        .get(&url)
        .bearer_auth("events-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tickets:read")
    );
    let r = app
        .client
        .get(&url)
        .bearer_auth("desk-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Mutating endpoints need admin.
    let r = app
        .client
        .post(format!(
            "{}/api/v1/providers/tekion/connections/dealer-001/sync",
            app.address
        ))
        .bearer_auth("desk-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[actix_web::test]
async fn with_tokens_the_silence_form_asks_for_one_with_the_silences_scope() {
    let hash = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
    let app = spawn_app_with(Options {
        extra_config: format!(
            "[[api.tokens]]\nname = \"oncall\"\ntoken_sha256 = \"{}\"\nscopes = [\"silences:write\", \"silences:read\"]\n\n[[api.tokens]]\nname = \"desk\"\ntoken_sha256 = \"{}\"\nscopes = [\"tickets:read\"]\n",
            hash("oncall-secret"),
            hash("desk-secret")
        ),
        ..Options::default()
    })
    .await;
    let page = app
        .get("/silences/new?matcher=provider%3D%22cdk%22")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"token\""), "{page}");
    let url = format!("{}/silences/new", app.address);
    let submit = |token: &'static str| {
        let (client, url) = (&app.client, &url);
        async move {
            let form = [
                ("matchers", "provider=\"cdk\""),
                ("duration", "1h"),
                ("created_by", "ana"),
                ("comment", "maintenance"),
                ("token", token),
            ];
            client.post(url).form(&form).send().await.unwrap()
        }
    };
    assert_eq!(submit("wrong").await.status().as_u16(), 401);
    let r = submit("desk-secret").await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("lacks scope silences:write")
    );
    assert_eq!(submit("oncall-secret").await.status().as_u16(), 201);
    let silences: serde_json::Value = app
        .client
        .get(format!("{}/api/v2/silences", app.address))
        .bearer_auth("oncall-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(silences.as_array().unwrap().len(), 1);
}

/// PostgreSQL refusing connections while an alert fires: the ticket is written once the store
/// is back (however long it was away), the page that links it follows, and meanwhile the
/// waiting write shows in `/readyz` and `syncwatch_store_writes_waiting`.
#[actix_web::test]
async fn a_ticket_waits_out_a_store_outage_and_the_backlog_shows_meanwhile() {
    let Some(url) = super::helpers::postgres_database().await else {
        return;
    };
    let proxy = super::fakes::TcpProxy::start("127.0.0.1:5432".parse().unwrap());
    let proxied = url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    let app = spawn_app_with(Options {
        providers: Vec::new(),
        storage_url: Some(proxied),
        ..Options::default()
    })
    .await;
    proxy.cut();
    app.post_alerts(&json!([{
        "labels": {"alertname": "DealerFeedDown", "provider": "cdk", "severity": "critical"},
        "annotations": {"summary": "feed down"}
    }]))
    .await;
    let ready = wait_for(
        "the waiting ticket write",
        Duration::from_secs(30),
        || async {
            let r = app.get("/readyz").await;
            let body: serde_json::Value = r.json().await.unwrap();
            (body["checks"]["store_backlog"]["ticket_writes"] == 1).then_some(body)
        },
    )
    .await;
    assert_eq!(ready["checks"]["store"], "unreachable", "{ready}");
    let waiting = r#"syncwatch_store_writes_waiting{write="ticket"}"#;
    assert_eq!(
        super::helpers::metric_value(&app.metrics().await, waiting),
        Some(1.0)
    );
    // Longer than the eight attempts ticket writes used to give up after.
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert!(
        app.slack.delivered("DealerFeedDown").is_empty(),
        "the page waits for its ticket"
    );
    proxy.restore();

    let page = wait_for("the page", Duration::from_secs(30), || async {
        app.slack.delivered("DealerFeedDown").into_iter().next()
    })
    .await;
    let tickets = app.tickets("?alertname=DealerFeedDown").await;
    let tickets = tickets["tickets"].as_array().unwrap().clone();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let id = tickets[0]["id"].as_str().unwrap();
    assert!(
        page.raw.contains(id),
        "the page links ticket {id}: {}",
        page.raw
    );
    assert_eq!(
        super::helpers::metric_value(&app.metrics().await, waiting),
        Some(0.0)
    );
}
