//! Records through the pipeline: stored once, bad ones to the DLQ, metrics and alert.

use std::time::Duration;

use serde_json::json;
use sqlx::Connection;
use syncwatch::simulator::data::RECORDS_PER_CONNECTION;

use super::helpers::{Options, metric_value, repo, spawn_app, spawn_app_with, wait_for};

#[actix_web::test]
async fn synced_records_are_stored_once_and_malformed_ones_go_to_the_dlq() {
    let app = spawn_app().await;
    let store = app.store().await;
    // Two connections, several syncs each: upserts keep exactly one row per record.
    wait_for("every record stored", Duration::from_secs(20), || async {
        (store.count_records("tekion").await.unwrap() == 2 * RECORDS_PER_CONNECTION as i64)
            .then_some(())
    })
    .await;
    wait_for("repeated syncs", Duration::from_secs(20), || async {
        metric_value(
            &app.metrics().await,
            r#"syncwatch_sync_runs_total{provider="tekion",status="success"}"#,
        )
        .filter(|n| *n >= 4.0)
    })
    .await;
    assert_eq!(
        store.count_records("tekion").await.unwrap(),
        2 * RECORDS_PER_CONNECTION as i64
    );
    // Every stage beats.
    let m = app.metrics().await;
    let now = chrono::Utc::now().timestamp() as f64;
    for stage in ["validate", "store"] {
        let beat = metric_value(
            &m,
            &format!(
                r#"syncwatch_stage_last_processed_timestamp_seconds{{pipeline="dms",stage="{stage}"}}"#
            ),
        )
        .unwrap_or_else(|| panic!("no heartbeat of {stage}: {m}"));
        assert!((now - beat).abs() < 30.0, "{stage}: {beat} vs {now}");
    }

    // Syncs are incremental: each connection sees a changed record about every 10 s, and
    // every record the provider sends from now on is damaged.
    app.inject_fault(
        &json!({"provider": "tekion", "kind": "malformed", "duration": "1h", "ratio": 1.0}),
    )
    .await;
    wait_for("dead letters", Duration::from_secs(40), || async {
        (store.count_dead_letters("dms", "validate").await.unwrap() > 0).then_some(())
    })
    .await;
    let alert = wait_for("RecordsDiscarded", Duration::from_secs(20), || async {
        app.alerts()
            .await
            .into_iter()
            .find(|a| a["name"] == "RecordsDiscarded" && a["state"] == "firing")
    })
    .await;
    assert_eq!(alert["labels"]["stage"], "validate");
    assert_eq!(alert["runbook"]["id"], "records-discarded-schema");
    let m = app.metrics().await;
    assert!(
        m.contains(
            r#"syncwatch_stage_errors_total{pipeline="dms",stage="validate",error_class="schema"}"#
        ),
        "{m}"
    );
    assert!(
        m.contains(r#"syncwatch_dlq_records{pipeline="dms",stage="validate"}"#),
        "{m}"
    );
    // Bad records never reach the store: the count is unchanged.
    assert_eq!(
        store.count_records("tekion").await.unwrap(),
        2 * RECORDS_PER_CONNECTION as i64
    );
}

#[actix_web::test]
async fn a_transform_stage_repairs_drifted_formats_and_sends_what_it_cannot_to_the_dlq() {
    // MyKaarma's drifted records (dates as MM/DD/YYYY HH:MM, amounts as text) pass once the
    // transform normalises them before validation.
    let app = spawn_app_with(Options {
        providers: vec![("mykaarma", vec!["dealer-301"])],
        stages: r#"["transform", "validate", "store"]"#,
        transform: Some(
            r#"[[streams]]
name = "*"
steps = [
  { op = "rename", from = "dealer_id", to = "dealer" },
  { op = "cast", field = "amount", to = "number" },
  { op = "date", field = "updated_at", formats = ["rfc3339", "%m/%d/%Y %H:%M"] },
]
"#
            .into(),
        ),
        ..Options::default()
    })
    .await;
    let store = app.store().await;
    wait_for("every record stored", Duration::from_secs(20), || async {
        (store.count_records("mykaarma").await.unwrap() == RECORDS_PER_CONNECTION as i64)
            .then_some(())
    })
    .await;
    let payload = store
        .record_payloads("mykaarma", 1)
        .await
        .unwrap()
        .remove(0);
    let record: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(record["dealer"], "dealer-301", "{record}");
    assert!(record.get("dealer_id").is_none(), "{record}");

    app.inject_fault(&json!({"provider": "mykaarma", "kind": "format_drift", "duration": "1h"}))
        .await;
    let m = wait_for(
        "drifted records transformed",
        Duration::from_secs(40),
        || async {
            let m = app.metrics().await;
            metric_value(
                &m,
                r#"syncwatch_stage_records_sent_total{pipeline="dms",stage="transform"}"#,
            )
            .filter(|n| *n > RECORDS_PER_CONNECTION as f64)
            .map(|_| m)
        },
    )
    .await;
    assert_eq!(
        metric_value(
            &m,
            r#"syncwatch_stage_errors_total{pipeline="dms",stage="validate",error_class="schema"}"#
        ),
        Some(0.0),
        "normalised before validation: {m}"
    );
    assert_eq!(
        store.count_dead_letters("dms", "validate").await.unwrap(),
        0
    );
    // A value no step can repair goes to the DLQ at the transform stage, unchanged.
    app.clear_faults().await;
    app.inject_fault(
        &json!({"provider": "mykaarma", "kind": "malformed", "duration": "1h", "ratio": 1.0}),
    )
    .await;
    wait_for(
        "transform dead letters",
        Duration::from_secs(40),
        || async {
            (store.count_dead_letters("dms", "transform").await.unwrap() > 0).then_some(())
        },
    )
    .await;
    let page = app.get_json("/api/v1/dlq?stage=transform&limit=1").await;
    let letter = &page["dead_letters"][0];
    assert!(
        letter["error"]
            .as_str()
            .unwrap()
            .starts_with("field amount: cannot cast \""),
        "{letter}"
    );
    assert!(
        letter["record"].get("dealer_id").is_some(),
        "the original: {letter}"
    );
}

#[actix_web::test]
async fn the_export_stage_writes_the_records_as_json_lines_objects() {
    let app = spawn_app_with(Options {
        stages: r#"["validate", "store", "export"]"#,
        pipeline_extra: r#"export_url = "file://{dir}/export""#,
        ..Options::default()
    })
    .await;
    let root = app.path().join("export").join("tekion");
    let lines = || {
        let mut records = Vec::new();
        for stream in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            for day in std::fs::read_dir(stream.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                for object in std::fs::read_dir(day.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let name = object.file_name().to_string_lossy().into_owned();
                    assert!(name.ends_with(".jsonl"), "{name}");
                    let text = std::fs::read_to_string(object.path()).unwrap();
                    for line in text.lines() {
                        records.push(serde_json::from_str::<serde_json::Value>(line).unwrap());
                    }
                }
            }
        }
        records
    };
    let records = wait_for("every record exported", Duration::from_secs(20), || async {
        let r = lines();
        (r.len() >= 2 * RECORDS_PER_CONNECTION).then_some(r)
    })
    .await;
    let mut ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        2 * RECORDS_PER_CONNECTION,
        "every record of both connections"
    );
    let m = app.metrics().await;
    assert!(
        metric_value(
            &m,
            r#"syncwatch_stage_records_sent_total{pipeline="dms",stage="export"}"#
        )
        .is_some_and(|n| n >= (2 * RECORDS_PER_CONNECTION) as f64),
        "{m}"
    );
}

/// The store stage stuck (its table locked by another session): its iterator age grows, the
/// stage before it backs up, syncs do not finish, the alert fires; freed, the backlog drains
/// into the store once and the alert resolves.
#[actix_web::test]
async fn a_stuck_stage_backs_up_the_pipeline_fires_its_alert_and_drains_when_freed() {
    let Some(url) = super::helpers::postgres_database().await else {
        return;
    };
    // Migrated before the app starts, so the lock can be taken before the first sync.
    let store = syncwatch::store::Store::connect(&url).await.unwrap();
    let mut lock = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query("LOCK TABLE records IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    let app = spawn_app_with(Options {
        storage_url: Some(url),
        pipeline_extra: "queue_capacity = 1",
        // 24 pages in all: more than the stages can hold.
        profile_edits: vec![("tekion", "page_size = 50", "page_size = 10")],
        rules: r#"groups:
  - name: test
    rules:
      - alert: StageIteratorAgeHigh
        expr: max by (pipeline, stage) (syncwatch_stage_iterator_age_seconds) > 2
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.pipeline }}/{{ $labels.stage }} is {{ $value }}s behind"
"#
        .into(),
        ..Options::default()
    })
    .await;
    let age = |m: &str, stage: &str| {
        metric_value(
            m,
            &format!(r#"syncwatch_stage_iterator_age_seconds{{pipeline="dms",stage="{stage}"}}"#),
        )
    };
    let alert = wait_for("StageIteratorAgeHigh", Duration::from_secs(30), || async {
        app.alerts().await.into_iter().find(|a| {
            a["name"] == "StageIteratorAgeHigh"
                && a["state"] == "firing"
                && a["labels"]["stage"] == "store"
        })
    })
    .await;
    assert_eq!(alert["labels"]["pipeline"], "dms");
    let m = app.metrics().await;
    assert!(age(&m, "store").unwrap() > 2.0, "{m}");
    // Backpressure: batches wait at the stage before it too, and no sync finishes.
    let waiting = metric_value(
        &m,
        r#"syncwatch_stage_queue_records{pipeline="dms",stage="validate"}"#,
    )
    .unwrap();
    assert!(waiting > 0.0, "nothing waits at validate: {m}");
    assert!(
        metric_value(
            &m,
            r#"syncwatch_sync_runs_total{provider="tekion",status="success"}"#
        )
        .is_none_or(|n| n == 0.0),
        "a sync finished while its records could not be stored: {m}"
    );
    // The age keeps growing while the stage is stuck, and the provider stops fetching: its
    // fetch loops wait for room in the first stage's queue.
    let fetched = |m: &str| {
        metric_value(
            m,
            r#"syncwatch_provider_requests_total{provider="tekion",code="2xx"}"#,
        )
        .unwrap_or(0.0)
    };
    let before = age(&m, "store").unwrap();
    let requests_before = fetched(&m);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let m = app.metrics().await;
    let later = age(&m, "store").unwrap();
    assert!(later > before, "{before} then {later}");
    assert!(requests_before > 0.0, "{m}");
    assert_eq!(
        fetched(&m),
        requests_before,
        "pages fetched while the pipeline was full"
    );
    assert!(
        requests_before < 24.0,
        "every page was fetched although the stages hold fewer: {requests_before}"
    );

    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    wait_for("the backlog stored", Duration::from_secs(30), || async {
        (store.count_records("tekion").await.unwrap() == 2 * RECORDS_PER_CONNECTION as i64)
            .then_some(())
    })
    .await;
    wait_for("syncs finish", Duration::from_secs(20), || async {
        metric_value(
            &app.metrics().await,
            r#"syncwatch_sync_runs_total{provider="tekion",status="success"}"#,
        )
        .filter(|n| *n >= 2.0)
    })
    .await;
    wait_for("the age back to zero", Duration::from_secs(10), || async {
        (age(&app.metrics().await, "store") == Some(0.0)).then_some(())
    })
    .await;
    wait_for(
        "StageIteratorAgeHigh resolved",
        Duration::from_secs(20),
        || async {
            (!app
                .alerts()
                .await
                .iter()
                .any(|a| a["name"] == "StageIteratorAgeHigh" && a["state"] == "firing"))
            .then_some(())
        },
    )
    .await;
    // Replayed syncs upsert: one row per record, however often it came.
    assert_eq!(
        store.count_records("tekion").await.unwrap(),
        2 * RECORDS_PER_CONNECTION as i64
    );
}

/// Objects are written once the buffer holds `export_buffer_records` (here long before
/// `export_buffer_interval`): several pages go into one object.
#[actix_web::test]
async fn the_export_stage_buffers_pages_into_larger_objects() {
    let app = spawn_app_with(Options {
        stages: r#"["validate", "store", "export"]"#,
        pipeline_extra: "export_url = \"file://{dir}/export\"\nexport_buffer_records = 100\nexport_buffer_interval = \"30s\"",
        ..Options::default()
    })
    .await;
    let objects = || {
        let mut sizes = Vec::new();
        let mut dirs = vec![app.path().join("export")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    dirs.push(e.path());
                } else {
                    sizes.push(std::fs::read_to_string(e.path()).unwrap().lines().count());
                }
            }
        }
        sizes
    };
    // 240 records in pages of 50: two objects of at least 100, the rest still buffered.
    let sizes = wait_for("two objects", Duration::from_secs(20), || async {
        let s = objects();
        (s.len() >= 2).then_some(s)
    })
    .await;
    assert!(sizes.iter().all(|n| *n >= 100), "{sizes:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sizes = objects();
    assert!(
        sizes.iter().sum::<usize>() < 2 * RECORDS_PER_CONNECTION,
        "{sizes:?}"
    );
    assert!(sizes.iter().all(|n| *n >= 100), "{sizes:?}");
}

/// With a JSON Schema for the stream: fields it does not list are counted as non-breaking
/// drift and the records pass; records that break it (no id, a number as a string) go to the
/// DLQ with the schema's reason, are counted as breaking drift, and the alert fires.
#[actix_web::test]
async fn a_streams_json_schema_classifies_drift_and_breaking_drift_pages() {
    let shipped = std::fs::read_to_string(repo().join("schemas/repair_orders.json")).unwrap();
    // This copy does not know the `source` field the simulator sends.
    let schema = shipped.replace(
        r#""source": { "type": "string" }"#,
        r#""vin": { "type": "string" }"#,
    );
    assert_ne!(schema, shipped);
    let app = spawn_app_with(Options {
        schemas: vec![("repair_orders.json", schema)],
        rules: r#"groups:
  - name: test
    rules:
      - alert: SchemaDriftBreaking
        expr: sum by (pipeline, provider, stream, change) (increase(syncwatch_schema_drift_total{breaking="true"}[1m])) > 0
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.provider }}/{{ $labels.stream }} changed shape ({{ $labels.change }})"
"#
        .into(),
        ..Options::default()
    })
    .await;
    let store = app.store().await;
    wait_for("every record stored", Duration::from_secs(20), || async {
        (store.count_records("tekion").await.unwrap() == 2 * RECORDS_PER_CONNECTION as i64)
            .then_some(())
    })
    .await;
    let series = |change: &str, breaking: bool| {
        format!(
            r#"syncwatch_schema_drift_total{{pipeline="dms",provider="tekion",stream="repair_orders",change="{change}",breaking="{breaking}"}}"#
        )
    };
    let m = app.metrics().await;
    // Every record has `source` (not in the schema) and lacks `vin` (optional in it).
    assert!(
        metric_value(&m, &series("unexpected_field", false)).unwrap()
            >= 2.0 * RECORDS_PER_CONNECTION as f64,
        "{m}"
    );
    assert!(
        metric_value(&m, &series("missing_field", false)).unwrap()
            >= 2.0 * RECORDS_PER_CONNECTION as f64,
        "{m}"
    );
    assert!(
        metric_value(&m, &series("type_changed", true)).is_none(),
        "{m}"
    );
    assert_eq!(
        store.count_dead_letters("dms", "validate").await.unwrap(),
        0
    );

    app.inject_fault(
        &json!({"provider": "tekion", "kind": "malformed", "duration": "1h", "ratio": 1.0}),
    )
    .await;
    let alert = wait_for("SchemaDriftBreaking", Duration::from_secs(40), || async {
        app.alerts()
            .await
            .into_iter()
            .find(|a| a["name"] == "SchemaDriftBreaking" && a["state"] == "firing")
    })
    .await;
    assert_eq!(alert["labels"]["provider"], "tekion");
    assert_eq!(alert["labels"]["stream"], "repair_orders");
    let m = app.metrics().await;
    assert!(
        metric_value(&m, &series("type_changed", true)).unwrap() >= 1.0,
        "{m}"
    );
    assert!(
        metric_value(&m, &series("missing_field", true)).unwrap() >= 1.0,
        "{m}"
    );
    let dlq = app.get_json("/api/v1/dlq?stage=validate").await;
    let error = dlq["dead_letters"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("schema repair_orders.json: "),
        "the schema's reason: {error}"
    );
    assert!(error.contains("/amount"), "{error}");
}

/// A local S3 (moto's server, `pip install 'moto[server]'`), killed on drop.
struct FakeS3 {
    child: std::process::Child,
    url: String,
}

impl FakeS3 {
    /// Starts it with an empty `bucket`; `None` (skipped, or failed under strict mode) when
    /// moto_server is not installed.
    async fn start(port: u16, bucket: &str) -> Option<Self> {
        let child = match std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                super::helpers::skip_or_fail(&format!(
                    "moto_server cannot run ({e}): pip install 'moto[server]'"
                ));
                return None;
            }
        };
        let s3 = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        wait_for("moto_server up", Duration::from_secs(30), || async {
            client.get(&s3.url).send().await.ok().map(|_| ())
        })
        .await;
        s3.client(&["create", bucket]);
        Some(s3)
    }

    /// Runs the boto3 client script; its output.
    fn client(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("python3")
            .arg(repo().join("tests/api/s3_client.py"))
            .arg(&self.url)
            .args(args)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "s3_client.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every object under `prefix`, read back with boto3: key → records.
    fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, Vec<serde_json::Value>)> {
        let dump: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&self.client(&["dump", bucket, prefix])).unwrap();
        dump.into_iter()
            .map(|(key, text)| {
                let lines = text
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                (key, lines)
            })
            .collect()
    }
}

impl Drop for FakeS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `export_url = "s3://…"`: objects land in the bucket under the prefix, signed by the
/// configured keys. With the store down, records go to the DLQ at the export stage; once it is
/// back, a replay writes them.
#[actix_web::test]
async fn the_export_stage_writes_to_s3_and_a_replay_recovers_an_outage() {
    let port = super::helpers::free_port();
    let Some(s3) = FakeS3::start(port, "exports").await else {
        return;
    };
    let extra = format!(
        "export_url = \"s3://exports/dms/raw\"\nexport_buffer_interval = \"200ms\"\nexport_s3 = {{ endpoint = \"http://127.0.0.1:{port}\", region = \"us-east-1\", access_key_id = \"test\", secret_access_key = \"test\", allow_http = true }}"
    );
    let app = spawn_app_with(Options {
        stages: r#"["validate", "store", "export"]"#,
        pipeline_extra: Box::leak(extra.into_boxed_str()),
        ..Options::default()
    })
    .await;
    let objects = wait_for("every record in S3", Duration::from_secs(30), || async {
        let o = s3.objects("exports", "dms/raw/");
        let n: usize = o.iter().map(|(_, l)| l.len()).sum();
        (n >= 2 * RECORDS_PER_CONNECTION).then_some(o)
    })
    .await;
    let mut ids = Vec::new();
    for (key, lines) in &objects {
        assert!(
            key.starts_with("dms/raw/tekion/repair_orders/") && key.ends_with(".jsonl"),
            "{key}"
        );
        ids.extend(lines.iter().map(|r| r["id"].as_str().unwrap().to_string()));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2 * RECORDS_PER_CONNECTION);

    // The store goes away; records that change meanwhile (one a connection every ~10 s)
    // cannot be written and wait in the DLQ.
    drop(s3);
    let store = app.store().await;
    wait_for(
        "dead letters at export",
        Duration::from_secs(60),
        || async { (store.count_dead_letters("dms", "export").await.unwrap() > 0).then_some(()) },
    )
    .await;
    let dlq = app.get_json("/api/v1/dlq?stage=export").await;
    let letter = &dlq["dead_letters"][0];
    assert_eq!(letter["error_class"], "server");
    assert!(
        letter["error"]
            .as_str()
            .unwrap()
            .starts_with("export failed: "),
        "{letter}"
    );
    let lost_id = letter["record"]["id"].as_str().unwrap().to_string();

    // Back (empty: moto keeps nothing), and the replay writes what failed.
    let s3 = FakeS3::start(port, "exports").await.unwrap();
    let replay = app
        .post_json(
            "/api/v1/dlq/replay",
            &json!({"filter": {"pipeline": "dms", "stage": "export"}}),
        )
        .await;
    assert!(replay.status().is_success(), "{}", replay.status());
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["still_failing"], 0, "{body}");
    let objects = wait_for(
        "the replayed record in S3",
        Duration::from_secs(20),
        || async {
            let o = s3.objects("exports", "dms/raw/");
            o.iter()
                .any(|(_, lines)| lines.iter().any(|r| r["id"] == lost_id.as_str()))
                .then_some(o)
        },
    )
    .await;
    assert!(!objects.is_empty());
}
