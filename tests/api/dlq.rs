//! The DLQ: listing with filters and pages, and replays into the stage that failed the records.

use std::time::Duration;

use serde_json::{Value, json};
use syncwatch::domain::ErrorClass;
use syncwatch::store::DeadLetter;

use super::helpers::{metric_value, spawn_app, wait_for};

#[actix_web::test]
async fn dead_letters_list_in_pages_and_a_replay_that_fails_again_counts_an_attempt() {
    let app = spawn_app().await;
    app.inject_fault(
        &json!({"provider": "tekion", "kind": "malformed", "duration": "1h", "ratio": 1.0}),
    )
    .await;
    let first = wait_for("two dead letters", Duration::from_secs(40), || async {
        let page = app
            .get_json("/api/v1/dlq?pipeline=dms&stage=validate")
            .await;
        let letters = page["dead_letters"].as_array().unwrap().clone();
        (letters.len() >= 2).then_some(letters)
    })
    .await;
    let l = &first[0];
    assert_eq!(l["provider"], "tekion");
    assert_eq!(l["error_class"], "schema");
    assert_eq!(l["error"], "field id: missing");
    assert_eq!(l["attempts"], 1);
    assert!(
        l["record"].is_object() && l["record"].get("id").is_none(),
        "{l}"
    );

    // Pages of one, newest first, until there is no next cursor.
    let mut seen: Vec<String> = Vec::new();
    let mut url = "/api/v1/dlq?stage=validate&limit=1".to_string();
    loop {
        let page = app.get_json(&url).await;
        for l in page["dead_letters"].as_array().unwrap() {
            seen.push(l["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/dlq?stage=validate&limit=1&cursor={c}"),
            None => break,
        }
        assert!(seen.len() < 1_000);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no letter twice across pages");
    assert!(seen.len() >= 2);
    let none = app.get_json("/api/v1/dlq?provider=cdk").await;
    assert_eq!(none["dead_letters"], json!([]));

    // The provider still sends damaged records: replaying them fails again.
    let id = l["id"].as_str().unwrap();
    let r = app
        .post_json("/api/v1/dlq/replay", &json!({"ids": [id]}))
        .await;
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["replayed"], 1, "{out}");
    assert_eq!(out["still_failing"], 1, "{out}");
    let after = app.get_json("/api/v1/dlq?stage=validate&limit=500").await;
    let again = after["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(again["attempts"], 2, "{again}");

    for (body, status, message) in [
        (json!({}), 400, "give ids, or a filter"),
        (json!({"filter": {}}), 400, "filter: name at least one of"),
        (
            json!({"filter": {"error_class": "oops"}}),
            400,
            "filter.error_class: \"oops\" is not one of",
        ),
        (
            json!({"ids": ["nope"]}),
            404,
            "ids: no dead letter \"nope\"",
        ),
        (
            json!({"ids": [id], "filter": {"stage": "validate"}}),
            400,
            "give ids or a filter, not both",
        ),
    ] {
        let r = app.post_json("/api/v1/dlq/replay", &body).await;
        assert_eq!(r.status(), status, "{body}");
        let e: Value = r.json().await.unwrap();
        let m = e["error"]["message"].as_str().unwrap();
        assert!(m.starts_with(message), "{body}: {m}");
    }
    let r = app.get("/api/v1/dlq?limit=0").await;
    assert_eq!(r.status(), 400);
}

#[actix_web::test]
async fn a_replay_after_a_fix_stores_the_records_once_and_empties_the_dlq() {
    let app = spawn_app().await;
    let store = app.store().await;
    // Records a stricter validation (since fixed) refused, one of them already stored by a
    // later sync.
    wait_for("records stored", Duration::from_secs(20), || async {
        (store.count_records("tekion").await.unwrap() > 0).then_some(())
    })
    .await;
    let letter = |id: &str| DeadLetter {
        pipeline: "dms".into(),
        stage: "validate".into(),
        provider: "tekion".into(),
        connection: "dealer-replay".into(),
        stream: "repair_orders".into(),
        record: json!({"id": id, "amount": 12.5, "status": "open"}).to_string(),
        error: "field vin: missing".into(),
        error_class: ErrorClass::Schema,
    };
    store
        .insert_dead_letters(&[letter("replay-1"), letter("replay-2")], 1_000)
        .await
        .unwrap();
    let before = store.count_records("tekion").await.unwrap();
    let r = app
        .post_json(
            "/api/v1/dlq/replay",
            &json!({"filter": {"pipeline": "dms", "stage": "validate", "provider": "tekion"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["replayed"], 2, "{out}");
    assert_eq!(out["resolved"], 2, "{out}");
    assert_eq!(out["still_failing"], 0, "{out}");
    let page = app.get_json("/api/v1/dlq").await;
    assert_eq!(page["dead_letters"], json!([]), "{page}");
    // Stored once each; counting only these two, as syncs keep running.
    let stored = store
        .count_records_of_connection("tekion", "dealer-replay")
        .await
        .unwrap();
    assert_eq!(stored, 2);
    assert!(store.count_records("tekion").await.unwrap() >= before + 2);
    // The same records once more (a second replay of the same ids is refused; a duplicate
    // record through the pipeline is an upsert).
    store
        .insert_dead_letters(&[letter("replay-1")], 2_000)
        .await
        .unwrap();
    let r = app
        .post_json(
            "/api/v1/dlq/replay",
            &json!({"filter": {"connection": "dealer-replay"}}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["resolved"], 1);
    assert_eq!(
        store
            .count_records_of_connection("tekion", "dealer-replay")
            .await
            .unwrap(),
        2,
        "no duplicate"
    );
    let m = app.metrics().await;
    assert_eq!(
        metric_value(
            &m,
            r#"syncwatch_dlq_records{pipeline="dms",stage="validate"}"#
        ),
        Some(0.0),
        "{m}"
    );
}
