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
    let submit = |token: &'static str| {
        let app = &app;
        async move {
            let form = [
                ("matchers", "provider=\"cdk\""),
                ("duration", "1h"),
                ("created_by", "ana"),
                ("comment", "maintenance"),
                ("token", token),
            ];
            app.post_silence_form(&form).await
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

#[actix_web::test]
async fn support_works_a_ticket_through_its_lifecycle_with_etags() {
    let hash = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
    let app = spawn_app_with(Options {
        extra_config: format!(
            "[[api.tokens]]\nname = \"l1-desk\"\ntoken_sha256 = \"{}\"\nscopes = [\"tickets:read\", \"tickets:write\"]\n\n[[api.tokens]]\nname = \"reader\"\ntoken_sha256 = \"{}\"\nscopes = [\"tickets:read\"]\n",
            hash("desk"),
            hash("reader")
        ),
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let url = format!("{}/api/v1/tickets", app.address);
    let id = wait_for("a ticket", Duration::from_secs(20), || async {
        let r = app
            .client
            .get(&url)
            .bearer_auth("desk")
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        body["tickets"][0]["id"].as_str().map(str::to_string)
    })
    .await;
    let ticket = format!("{url}/{id}");
    let get = || async {
        let r = app
            .client
            .get(&ticket)
            .bearer_auth("desk")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let tag = r.headers()["etag"].to_str().unwrap().to_string();
        (tag, r.json::<serde_json::Value>().await.unwrap())
    };
    let patch = |token: &'static str, if_match: Option<String>, body: serde_json::Value| {
        let mut req = app
            .client
            .patch(&ticket)
            .bearer_auth(token)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(tag) = if_match {
            req = req.header("if-match", tag);
        }
        async move { req.send().await.unwrap() }
    };
    let (tag, before) = get().await;
    assert!(
        tag.starts_with('"') && tag.ends_with('"'),
        "strong ETag: {tag}"
    );
    assert_eq!(before["status"], "open");
    let tier_before = before["tier"].as_str().unwrap().to_string();
    assert_ne!(tier_before, "L3");

    // Without If-Match: 428; with the read scope only: 403.
    let r = patch("desk", None, json!({"status": "acknowledged"})).await;
    assert_eq!(r.status().as_u16(), 428);
    let r = patch(
        "reader",
        Some(tag.clone()),
        json!({"status": "acknowledged"}),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);

    // Two people with the same ETag: the first applies, the second gets 412 and the new tag.
    let r = patch(
        "desk",
        Some(tag.clone()),
        json!({"status": "acknowledged", "assignee": "ana", "tier": "L3"}),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let new_tag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_tag, tag);
    let acked: serde_json::Value = r.json().await.unwrap();
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(
        (acked["assignee"].as_str(), acked["tier"].as_str()),
        (Some("ana"), Some("L3"))
    );
    assert!(acked["acknowledged_at"].is_string());
    let r = patch("desk", Some(tag.clone()), json!({"assignee": "ben"})).await;
    assert_eq!(r.status().as_u16(), 412);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), new_tag);
    assert_eq!(
        get().await.1["assignee"],
        "ana",
        "the stale change was not applied"
    );

    // A transition the lifecycle refuses: 409 naming the allowed ones; a resolution on an
    // unresolved ticket: 422; an unknown field: 400 naming it.
    let r = patch("desk", Some(new_tag.clone()), json!({"status": "closed"})).await;
    assert_eq!(r.status().as_u16(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("it can go to: open, resolved"),
        "{body}"
    );
    let r = patch("desk", Some(new_tag.clone()), json!({"resolution": "?"})).await;
    assert_eq!(r.status().as_u16(), 422);
    let r = patch("desk", Some(new_tag.clone()), json!({"colour": "red"})).await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("colour"));

    // Resolved by a person, with how; then unassigned with a merge patch's null.
    let r = patch(
        "desk",
        Some(new_tag.clone()),
        json!({"status": "resolved", "resolution": "rotated the API key", "assignee": null}),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let (_, done) = get().await;
    assert_eq!(done["status"], "resolved");
    assert_eq!(done["resolved_by"], "l1-desk");
    assert_eq!(done["resolution"], "rotated the API key");
    assert!(done["assignee"].is_null());

    // The history: who did what, from what to what, oldest first.
    let r = app
        .client
        .get(format!("{ticket}/events"))
        .bearer_auth("reader")
        .send()
        .await
        .unwrap();
    let events: serde_json::Value = r.json().await.unwrap();
    let seen: Vec<(String, String, String)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "l1-desk")
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["from"].as_str().unwrap_or("-").to_string(),
                e["to"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let want = [
        ("acknowledged", "open", "acknowledged"),
        ("assigned", "-", "ana"),
        ("tier_changed", tier_before.as_str(), "L3"),
        ("resolved", "acknowledged", "resolved"),
        ("resolution_changed", "-", "rotated the API key"),
        ("assigned", "ana", "-"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(seen, want, "{events}");
    assert_eq!(events["events"][0]["kind"], "created");
}

#[actix_web::test]
async fn comments_and_every_post_honour_an_idempotency_key() {
    let app = spawn_app().await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "auth", "duration": "1h"}))
        .await;
    let id = wait_for("a ticket", Duration::from_secs(20), || async {
        app.tickets("").await["tickets"][0]["id"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    let url = format!("{}/api/v1/tickets/{id}/comments", app.address);
    let post = |key: &'static str, body: serde_json::Value| {
        let req = app
            .client
            .post(&url)
            .header("idempotency-key", key)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let note =
        json!({"body": "Customer rotated the key at 10:05; **retrying**.", "visibility": "public"});
    let first = post("k-1", note.clone()).await;
    assert_eq!(first.status().as_u16(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    // The same request again: the same answer, and still one comment.
    let again = post("k-1", note.clone()).await;
    assert_eq!(again.status().as_u16(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again, first);
    // The same key for another request: 422; a new key: a second comment.
    let other = post("k-1", json!({"body": "something else"})).await;
    assert_eq!(other.status().as_u16(), 422);
    assert_eq!(
        post("k-2", json!({"body": "second"}))
            .await
            .status()
            .as_u16(),
        201
    );
    let listed = app
        .get_json(&format!("/api/v1/tickets/{id}/comments"))
        .await;
    let bodies: Vec<&str> = listed["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["Customer rotated the key at 10:05; **retrying**.", "second"]
    );
    assert_eq!(listed["comments"][0]["visibility"], "public");
    assert_eq!(listed["comments"][1]["visibility"], "internal");
    // Bad comments name the field.
    let r = post("k-3", json!({"body": "x".repeat(17 * 1024)})).await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("body"));
    let r = post("k-4", json!({"body": "hi", "visibility": "everyone"})).await;
    assert_eq!(r.status().as_u16(), 400);
    // The history shows both comments.
    let events = app.get_json(&format!("/api/v1/tickets/{id}/events")).await;
    let commented = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "commented")
        .count();
    assert_eq!(commented, 2);

    // Any POST: a silence posted twice with one key is created once.
    let silence = json!({
        "matchers": [{"name": "provider", "value": "tekion", "isRegex": false, "isEqual": true}],
        "startsAt": chrono::Utc::now().to_rfc3339(),
        "endsAt": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "ana",
        "comment": "maintenance",
    });
    let send = || {
        let req = app
            .client
            .post(format!("{}/api/v2/silences", app.address))
            .header("idempotency-key", "s-1")
            .json(&silence);
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let (a, b) = (send().await, send().await);
    assert_eq!(a["silenceID"], b["silenceID"], "{a} {b}");
    let silences = app.get_json("/api/v2/silences").await;
    assert_eq!(silences.as_array().unwrap().len(), 1, "{silences}");
}

/// A support tool follows every ticket's events through the feed, page by page from the last
/// cursor, and the figures of `GET /api/v1/tickets/stats` match the tickets' own times.
#[actix_web::test]
async fn the_event_feed_and_the_figures_follow_what_support_does() {
    let app = spawn_app_with(Options {
        providers: vec![("tekion", vec!["dealer-001"]), ("cdk", vec!["dealer-101"])],
        ..Options::default()
    })
    .await;
    let tekion = app.ticket_per_provider(&["tekion", "cdk"]).await[0].clone();
    for change in [
        json!({"status": "acknowledged"}),
        json!({"status": "resolved", "resolution": "rotated the key"}),
    ] {
        app.patch_ticket(&tekion, &change).await;
    }

    // The feed, two events a page, from the start.
    let (mut after, mut events) = (String::new(), Vec::new());
    loop {
        let page = app
            .get_json(&format!("/api/v1/ticket-events?limit=2&after={after}"))
            .await;
        let batch = page["events"].as_array().unwrap().clone();
        let next = page["next_cursor"].as_str().unwrap().to_string();
        if batch.is_empty() {
            assert_eq!(next, after, "nothing new: the same cursor back");
            break;
        }
        assert!(batch.len() <= 2);
        assert_eq!(next, batch.last().unwrap()["cursor"].as_str().unwrap());
        events.extend(batch);
        after = next;
    }
    let cursors: Vec<i64> = events
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    let of = |id: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["ticket_id"] == id && e["kind"] != "occurrence")
            .map(|e| {
                format!(
                    "{} by {}",
                    e["kind"].as_str().unwrap(),
                    e["actor"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        of(&tekion),
        [
            "created by syncwatch",
            "acknowledged by anonymous",
            "resolved by anonymous",
            "resolution_changed by anonymous"
        ]
    );
    assert_eq!(
        events.iter().filter(|e| e["kind"] == "created").count(),
        2,
        "both tickets' creation"
    );
    for (query, needle) in [
        ("?after=abc", "after:"),
        ("?limit=0", "limit:"),
        ("?limit=1001", "limit:"),
        ("?since=x", "unknown field"),
    ] {
        let r = app.get(&format!("/api/v1/ticket-events{query}")).await;
        assert_eq!(r.status().as_u16(), 400, "{query}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap_or_default().contains(needle)
                || body.to_string().contains(needle),
            "{query}: {body}"
        );
    }

    // The figures, against the ticket's own times.
    let t = app.get_json(&format!("/api/v1/tickets/{tekion}")).await;
    let ms = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(t[field].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let mtta = (ms("acknowledged_at") - ms("created_at")) as f64 / 1000.0;
    let mttr = (ms("resolved_at") - ms("created_at")) as f64 / 1000.0;
    let stats = app
        .get_json("/api/v1/tickets/stats?group_by=provider")
        .await;
    let overall = &stats["overall"];
    assert_eq!(overall["tickets"], 2, "{stats}");
    assert_eq!(overall["by_status"]["open"], 1);
    assert_eq!(overall["by_status"]["resolved"], 1);
    assert_eq!(overall["time_to_acknowledge"]["count"], 1);
    assert_eq!(overall["time_to_acknowledge"]["mean_seconds"], mtta);
    assert_eq!(overall["time_to_resolve"]["p90_seconds"], mttr);
    assert_eq!(overall["resolved_without_l3_ratio"], 1.0);
    assert_eq!(stats["groups"]["tekion"]["resolved"], 1);
    assert_eq!(stats["groups"]["cdk"]["by_status"]["open"], 1);
    let empty = app
        .get_json("/api/v1/tickets/stats?since=2020-01-01T00:00:00Z&until=2020-02-01T00:00:00Z")
        .await;
    assert_eq!(empty["overall"]["tickets"], 0);
    assert!(empty["overall"]["time_to_resolve"]["mean_seconds"].is_null());
    for query in [
        "?group_by=colour",
        "?since=soon",
        "?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
    ] {
        let r = app.get(&format!("/api/v1/tickets/stats{query}")).await;
        assert_eq!(r.status().as_u16(), 400, "{query}");
    }
    let metrics = app.metrics().await;
    for needle in [
        "syncwatch_ticket_time_to_acknowledge_seconds_count{",
        "syncwatch_ticket_time_to_resolve_seconds_bucket{",
        "le=\"604800\"",
    ] {
        assert!(metrics.contains(needle), "{needle}");
    }
}
