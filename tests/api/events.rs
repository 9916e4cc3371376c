//! `POST /api/v1/events`: stages outside syncwatch become the same metrics as its own.

use serde_json::{Value, json};

use super::helpers::{metric_value, spawn_app};

fn series(name: &str, stage: &str) -> String {
    format!(r#"{name}{{pipeline="dms",stage="{stage}"}}"#)
}

#[actix_web::test]
async fn external_stage_events_become_stage_metrics() {
    let app = spawn_app().await;
    let a_minute_ago = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let r = app
        .post_json(
            "/api/v1/events",
            &json!({"events": [
                {"pipeline": "dms", "stage": "kinesis-consumer", "records_in": 100, "records_out": 98,
                 "records_failed": 2, "error_class": "schema", "duration_seconds": 0.35,
                 "iterator_age_seconds": 12.5, "queue_records": 40},
                {"pipeline": "dms", "stage": "kinesis-consumer", "timestamp": a_minute_ago,
                 "records_in": 50, "records_out": 50, "duration_seconds": 0.2,
                 "iterator_age_seconds": 30},
                {"pipeline": "dms", "stage": "s3-export", "records_in": 7}
            ]}),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"accepted": 3}));
    let m = app.metrics().await;
    let v = |name: &str, stage: &str| metric_value(&m, &series(name, stage));
    let k = "kinesis-consumer";
    assert_eq!(v("syncwatch_stage_records_received_total", k), Some(150.0));
    assert_eq!(v("syncwatch_stage_records_sent_total", k), Some(148.0));
    assert_eq!(
        metric_value(
            &m,
            r#"syncwatch_stage_errors_total{pipeline="dms",stage="kinesis-consumer",error_class="schema"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        metric_value(
            &m,
            r#"syncwatch_stage_errors_total{pipeline="dms",stage="kinesis-consumer",error_class="auth"}"#
        ),
        Some(0.0),
        "every class starts at zero"
    );
    assert_eq!(
        v("syncwatch_stage_iterator_age_seconds", k),
        Some(30.0),
        "the maximum"
    );
    assert_eq!(v("syncwatch_stage_queue_records", k), Some(40.0));
    assert_eq!(v("syncwatch_stage_duration_seconds_count", k), Some(2.0));
    let heartbeat = v("syncwatch_stage_last_processed_timestamp_seconds", k).unwrap();
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - heartbeat).abs() < 60.0, "{heartbeat} vs {now}");
    assert_eq!(
        v("syncwatch_stage_records_received_total", "s3-export"),
        Some(7.0)
    );
}

#[actix_web::test]
async fn a_bad_batch_is_refused_whole_naming_the_item() {
    let app = spawn_app().await;
    let good = json!({"pipeline": "dms", "stage": "lambda", "records_in": 10});
    for (bad, status, message) in [
        (
            json!({"pipeline": "dms", "stage": "lambda", "records_in": -3}),
            400,
            "events[2].records_in: expected a non-negative integer",
        ),
        (
            json!({"pipeline": "dms", "stage": "validate", "records_in": 1}),
            400,
            "events: stage dms/validate runs inside syncwatch; external stages need their own name",
        ),
    ] {
        let r = app
            .post_json("/api/v1/events", &json!({"events": [good, good, bad]}))
            .await;
        assert_eq!(r.status(), status);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["message"], message, "{body}");
    }
    // Neither request applied its good items.
    let m = app.metrics().await;
    assert_eq!(
        metric_value(
            &m,
            &series("syncwatch_stage_records_received_total", "lambda")
        ),
        None,
        "{m}"
    );

    let huge = "x".repeat(9 * 1024 * 1024);
    let r = app
        .client
        .post(format!("{}/api/v1/events", app.address))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = app
        .client
        .post(format!("{}/api/v1/events", app.address))
        .body(json!({"events": [good]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no JSON content type");
}
