//! Providers: status, manual syncs, Retry-After.

use std::time::Duration;

use serde_json::json;

use super::helpers::{Options, metric_value, spawn_app, spawn_app_with, wait_for};

#[actix_web::test]
async fn providers_report_each_connection_and_its_last_error() {
    let app = spawn_app().await;
    app.inject_fault(
        &json!({"provider": "tekion", "kind": "pending_subscription", "duration": "1h"}),
    )
    .await;
    let conn = wait_for("a config failure", Duration::from_secs(10), || async {
        let p = app.get_json("/api/v1/providers").await;
        let c = p["providers"][0]["connections"][0].clone();
        (c["last_error"]["error_class"] == "config").then_some(c)
    })
    .await;
    assert_eq!(conn["connection"], "dealer-001");
    assert!(
        conn["last_error"]["reason"]
            .as_str()
            .unwrap()
            .contains("subscription pending")
    );
    assert!(conn["next_run"].is_string());
}

#[actix_web::test]
async fn a_manual_sync_starts_and_unknown_targets_are_404() {
    let app = spawn_app().await;
    let r = app
        .post_json(
            "/api/v1/providers/tekion/connections/dealer-001/sync",
            &json!({}),
        )
        .await;
    assert!(matches!(r.status().as_u16(), 202 | 409), "{}", r.status());
    assert_eq!(
        app.post_json("/api/v1/providers/tekion/connections/nope/sync", &json!({}))
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        app.post_json("/api/v1/providers/nope/connections/x/sync", &json!({}))
            .await
            .status()
            .as_u16(),
        404
    );
}

#[actix_web::test]
async fn nobody_calls_a_provider_before_its_retry_after() {
    // One connection, so no other request can be in flight when the 429 arrives.
    let app = spawn_app_with(Options {
        providers: vec![("tekion", vec!["dealer-001"])],
        ..Options::default()
    })
    .await;
    app.inject_fault(
        &json!({"provider": "tekion", "kind": "rate_limit", "duration": "1h", "retry_after": "2s"}),
    )
    .await;
    let first_429 = wait_for("a 429", Duration::from_secs(10), || async {
        app.simulator_requests("tekion")
            .await
            .into_iter()
            .find(|r| r["status"] == 429)
    })
    .await;
    let at = first_429["at_ms"].as_i64().unwrap();
    // Let several schedule intervals (300 ms) pass inside the 2 s window.
    wait_for("the window to pass", Duration::from_secs(10), || async {
        app.simulator_requests("tekion")
            .await
            .iter()
            .any(|r| r["at_ms"].as_i64().unwrap() >= at + 2_000)
            .then_some(())
    })
    .await;
    let early: Vec<_> = app
        .simulator_requests("tekion")
        .await
        .into_iter()
        .filter(|r| {
            let t = r["at_ms"].as_i64().unwrap();
            t > at && t < at + 2_000
        })
        .collect();
    assert!(early.is_empty(), "called during Retry-After: {early:?}");
    // The 429 was counted once as a rate-limited failure, and the connection says it waits.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"syncwatch_provider_requests_total{provider="tekion",code="429"}"#),
        "{metrics}"
    );
}

/// The simulator's log for `provider`: (time, method, path with query, status).
async fn log(app: &super::helpers::TestApp, provider: &str) -> Vec<(i64, String, String, u64)> {
    app.simulator_requests(provider)
        .await
        .into_iter()
        .map(|r| {
            (
                r["at_ms"].as_i64().unwrap(),
                r["method"].as_str().unwrap().to_string(),
                r["path"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

const SYNC_WAIT: Duration = Duration::from_secs(30);

/// The first request the simulator answered for `provider` at or after `since_ms`.
async fn first_request_since(
    app: &super::helpers::TestApp,
    provider: &str,
    since_ms: i64,
) -> (i64, String, String, u64) {
    wait_for("the first request after the restart", SYNC_WAIT, || async {
        log(app, provider)
            .await
            .into_iter()
            .find(|(at, ..)| *at >= since_ms)
    })
    .await
}

#[actix_web::test]
async fn every_profile_pages_through_all_records_with_its_own_auth_and_then_syncs_incrementally() {
    // Each provider's API differs: auth, pagination, body shape, incremental parameter.
    let expect = [
        ("tekion", "repair_orders", "page=3", "updated_since="),
        (
            "cdk",
            "service_appointments",
            "offset=100",
            "modified_since=",
        ),
        ("xtime", "appointments", "cursor=c100", "changed_after="),
        ("mykaarma", "customer_messages", "page=3", "since="),
        (
            "dealerfx",
            "service_visits",
            "pageNumber=3",
            "updatedAfter=",
        ),
    ];
    let app = spawn_app_with(Options {
        providers: expect
            .iter()
            .map(|(p, ..)| (*p, vec!["dealer-001"]))
            .collect(),
        ..Options::default()
    })
    .await;
    for (provider, stream, last_page, since) in expect {
        // Every record of the first (full) sync arrived.
        wait_for(&format!("{provider}'s records"), SYNC_WAIT, || async {
            let m = app.metrics().await;
            super::helpers::metric_value(
                &m,
                &format!(
                    r#"syncwatch_sync_records_total{{provider="{provider}",stream="{stream}"}}"#
                ),
            )
            .filter(|n| *n >= 120.0)
        })
        .await;
        // Later syncs send the saved cursor and get only what changed.
        wait_for(
            &format!("{provider}'s incremental sync"),
            SYNC_WAIT,
            || async {
                log(&app, provider)
                    .await
                    .into_iter()
                    .find(|(_, _, path, status)| path.contains(since) && *status == 200)
            },
        )
        .await;
        let requests = log(&app, provider).await;
        assert!(
            requests
                .iter()
                .any(|(_, _, path, s)| path.contains(last_page) && *s == 200),
            "{provider} did not page with {last_page}: {requests:?}"
        );
        assert!(
            requests.iter().all(|(.., s)| *s == 200),
            "{provider} was refused: {requests:?}"
        );
        let first = requests.iter().find(|(_, m, ..)| m == "GET").unwrap();
        assert!(
            !first.2.contains(since),
            "the first sync is a full one: {first:?}"
        );
    }
    let tekion = log(&app, "tekion").await;
    let tokens = tekion.iter().filter(|(_, m, ..)| m == "POST").count();
    assert_eq!(tokens, 1, "one OAuth2 token, cached: {tekion:?}");
}

#[actix_web::test]
async fn an_expired_oauth_token_is_replaced_and_the_sync_succeeds() {
    let app = spawn_app_with(Options {
        providers: vec![("tekion", vec!["dealer-001"])],
        ..Options::default()
    })
    .await;
    wait_for("a first sync", SYNC_WAIT, || async {
        log(&app, "tekion")
            .await
            .into_iter()
            .find(|(_, m, _, s)| m == "GET" && *s == 200)
    })
    .await;
    app.inject_fault(&json!({"provider": "tekion", "kind": "token_expiry", "duration": "1h"}))
        .await;
    let requests = wait_for("a 401, a new token, then data again", SYNC_WAIT, || async {
        let l = log(&app, "tekion").await;
        let expired = l.iter().position(|(.., s)| *s == 401)?;
        let renewed = expired + l[expired..].iter().position(|(_, m, ..)| m == "POST")?;
        l[renewed..]
            .iter()
            .any(|(_, m, _, s)| m == "GET" && *s == 200)
            .then_some(l)
    })
    .await;
    assert_eq!(
        requests.iter().filter(|(_, m, ..)| m == "POST").count(),
        2,
        "one token before the expiry, one after: {requests:?}"
    );
    assert_eq!(
        requests.iter().filter(|(.., s)| *s == 401).count(),
        1,
        "the new token was used at once: {requests:?}"
    );
    let m = app.metrics().await;
    assert_eq!(
        super::helpers::metric_value(
            &m,
            r#"syncwatch_sync_failures_total{provider="tekion",error_class="auth"}"#
        )
        .unwrap_or(0.0),
        0.0,
        "no sync failed"
    );
}

#[actix_web::test]
async fn a_restart_resumes_from_the_saved_cursor() {
    let mut app = spawn_app_with(Options {
        providers: vec![("cdk", vec!["dealer-001"])],
        ..Options::default()
    })
    .await;
    wait_for("an incremental sync", SYNC_WAIT, || async {
        log(&app, "cdk")
            .await
            .into_iter()
            .find(|(_, _, p, s)| p.contains("modified_since=") && *s == 200)
    })
    .await;
    app.restart();
    let first = first_request_since(&app, "cdk", chrono::Utc::now().timestamp_millis()).await;
    assert!(
        first.2.contains("modified_since=2"),
        "the restarted sync asked for everything again: {first:?}"
    );
}

#[actix_web::test]
async fn repeated_5xx_open_the_circuit_and_a_probe_closes_it() {
    let app = spawn_app_with(Options {
        providers: vec![("dealerfx", vec!["dealer-001", "dealer-002"])],
        profile_extra: vec![(
            "dealerfx",
            "[retry]\nmax_attempts = 2\nbase = \"20ms\"\nmax = \"50ms\"\n\n[circuit_breaker]\nfailure_threshold = 3\nopen_for = \"2s\"\n".into(),
        )],
        ..Options::default()
    })
    .await;
    let circuit = || async {
        super::helpers::metric_value(
            &app.metrics().await,
            r#"syncwatch_provider_circuit_state{provider="dealerfx"}"#,
        )
    };
    assert_eq!(circuit().await, Some(0.0));
    app.inject_fault(&json!({"provider": "dealerfx", "kind": "server_error", "duration": "1h"}))
        .await;
    wait_for("the circuit to open", SYNC_WAIT, || async {
        (circuit().await == Some(2.0)).then_some(())
    })
    .await;
    let opened = chrono::Utc::now().timestamp_millis();
    let status = app.get_json("/api/v1/providers").await;
    let provider = &status["providers"][0];
    // Open, unless the 2 s passed already and the probe is out.
    assert!(
        provider["circuit"] == "open" || provider["circuit"] == "half_open",
        "{status}"
    );
    if provider["circuit"] == "open" {
        assert_eq!(
            provider["connections"][0]["state"], "rescheduled",
            "{status}"
        );
    }
    // The syncs whose requests opened the circuit failed of the 5xx, and say so.
    let failed: Vec<&serde_json::Value> = provider["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["last_error"].is_null())
        .collect();
    assert!(!failed.is_empty(), "{status}");
    for c in failed {
        assert_eq!(c["last_error"]["error_class"], "server", "{c}");
        assert!(
            c["last_error"]["reason"].as_str().unwrap().contains("503")
                || c["last_error"]["reason"].as_str().unwrap().contains("500"),
            "{c}"
        );
    }
    // Two connections on a 300 ms schedule would send ~20 requests in 3 s; an open circuit
    // lets one probe through every 2 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during: Vec<_> = log(&app, "dealerfx")
        .await
        .into_iter()
        .filter(|(at, ..)| *at > opened)
        .collect();
    assert!(during.len() <= 2, "requests while open: {during:?}");
    app.clear_faults().await;
    wait_for("a probe to close the circuit", SYNC_WAIT, || async {
        (circuit().await == Some(0.0)).then_some(())
    })
    .await;
    wait_for("syncs to succeed again", SYNC_WAIT, || async {
        log(&app, "dealerfx")
            .await
            .into_iter()
            .find(|(at, _, _, s)| *at > opened && *s == 200)
    })
    .await;
}

/// Requests of one connection in the simulator's log.
fn of<'a>(
    requests: &'a [(i64, String, String, u64)],
    connection: &'a str,
) -> impl Iterator<Item = &'a (i64, String, String, u64)> + 'a {
    requests
        .iter()
        .filter(move |(_, _, path, _)| path.contains(&format!("/{connection}/")))
}

#[actix_web::test]
async fn a_paused_connection_stays_paused_across_a_restart_until_resumed() {
    let mut app = spawn_app_with(Options {
        providers: vec![("dealerfx", vec!["dealer-001", "dealer-002"])],
        ..Options::default()
    })
    .await;
    let path = "/api/v1/providers/dealerfx/connections/dealer-001";
    let r = app.post_json(&format!("{path}/pause"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["state"],
        "paused"
    );
    // A sync already running finishes its pages; nothing starts after it.
    let paused_at = chrono::Utc::now().timestamp_millis() + 1_000;
    let status = app.get_json("/api/v1/providers").await;
    let conn = &status["providers"][0]["connections"][0];
    assert!(
        conn["state"] == "paused" || conn["state"] == "syncing",
        "{status}"
    );
    assert!(conn["next_run"].is_null(), "{status}");
    app.restart();
    let from = chrono::Utc::now().timestamp_millis().max(paused_at);
    // The other connection goes on syncing, several times.
    wait_for("dealer-002's syncs", SYNC_WAIT, || async {
        let l = log(&app, "dealerfx").await;
        (of(&l, "dealer-002").filter(|(at, ..)| *at > from).count() >= 3).then_some(())
    })
    .await;
    let l = log(&app, "dealerfx").await;
    let during: Vec<_> = of(&l, "dealer-001").filter(|(at, ..)| *at > from).collect();
    assert!(during.is_empty(), "a paused connection synced: {during:?}");
    let status = app.get_json("/api/v1/providers").await;
    assert_eq!(
        status["providers"][0]["connections"][0]["state"], "paused",
        "{status}"
    );
    assert_eq!(
        app.post_json(&format!("{path}/sync"), &json!({}))
            .await
            .status()
            .as_u16(),
        409,
        "a paused connection is not synced by hand either"
    );

    let r = app.post_json(&format!("{path}/resume"), &json!({})).await;
    assert_eq!(r.status().as_u16(), 200);
    let resumed = chrono::Utc::now().timestamp_millis();
    wait_for("dealer-001 to sync again", SYNC_WAIT, || async {
        let l = log(&app, "dealerfx").await;
        of(&l, "dealer-001")
            .find(|(at, ..)| *at >= resumed)
            .cloned()
    })
    .await;
    assert_eq!(
        app.post_json(
            "/api/v1/providers/dealerfx/connections/nope/pause",
            &json!({})
        )
        .await
        .status()
        .as_u16(),
        404
    );
}

#[actix_web::test]
async fn a_connection_with_its_own_schedule_syncs_on_it() {
    let app = spawn_app_with(Options {
        providers: vec![(
            "cdk",
            vec![
                "dealer-001",
                r#"{ name = "dealer-slow", schedule = "1h", jitter = "0s" }"#,
            ],
        )],
        ..Options::default()
    })
    .await;
    let runs = |c: &'static str| {
        let app = &app;
        async move {
            let page = app
                .get_json(&format!(
                    "/api/v1/providers/cdk/connections/{c}/runs?limit=50"
                ))
                .await;
            page["runs"].as_array().unwrap().len()
        }
    };
    // Its first slot is spread over its own hour, so in the meantime it does not sync at all,
    // while its neighbour syncs every 300 ms.
    wait_for("repeated syncs of dealer-001", SYNC_WAIT, || async {
        (runs("dealer-001").await >= 5).then_some(())
    })
    .await;
    assert_eq!(runs("dealer-slow").await, 0);
    let providers = app.get_json("/api/v1/providers").await;
    let conns = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cdk")
        .unwrap()["connections"]
        .clone();
    let of = |c: &str| {
        conns
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["connection"] == c)
            .unwrap()
            .clone()
    };
    assert_eq!(of("dealer-001")["schedule"], "300ms", "{conns}");
    assert_eq!(of("dealer-slow")["schedule"], "1h", "{conns}");
    assert_eq!(of("dealer-slow")["state"], "scheduled", "{conns}");
    let m = app.metrics().await;
    assert_eq!(
        metric_value(
            &m,
            r#"syncwatch_sync_schedule_seconds{provider="cdk",connection="dealer-slow"}"#
        ),
        Some(3600.0),
        "{m}"
    );
    // A manual sync still runs it at once.
    let r = app
        .post_json(
            "/api/v1/providers/cdk/connections/dealer-slow/sync",
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 202);
    wait_for("the manual run", SYNC_WAIT, || async {
        (runs("dealer-slow").await == 1).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn the_run_history_lists_runs_newest_first_with_their_cursors() {
    let app = spawn_app_with(Options {
        providers: vec![("cdk", vec!["dealer-001"])],
        ..Options::default()
    })
    .await;
    let path = "/api/v1/providers/cdk/connections/dealer-001/runs";
    wait_for("three runs", SYNC_WAIT, || async {
        let runs = app.get_json(&format!("{path}?limit=10")).await;
        (runs["runs"].as_array().unwrap().len() >= 3).then_some(())
    })
    .await;
    let mut all = Vec::new();
    let mut url = format!("{path}?limit=2");
    loop {
        let page = app.get_json(&url).await;
        let runs = page["runs"].as_array().unwrap().clone();
        assert!(runs.len() <= 2);
        all.extend(runs);
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{path}?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert!(all.len() >= 3, "{all:?}");
    let starts: Vec<&str> = all
        .iter()
        .map(|r| r["started_at"].as_str().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {starts:?}"
    );
    let oldest = all.last().unwrap();
    assert_eq!(oldest["status"], "success", "{oldest}");
    assert_eq!(
        oldest["records"], 120,
        "the first sync is a full one: {oldest}"
    );
    assert_eq!(oldest["cursor_before"], json!({}), "{oldest}");
    let after = oldest["cursor_after"]["service_appointments"]
        .as_str()
        .unwrap();
    // The next run starts from where the first ended.
    let second = &all[all.len() - 2];
    assert_eq!(
        second["cursor_before"]["service_appointments"], after,
        "{second}"
    );
    assert!(second["records"].as_i64().unwrap() < 120, "{second}");

    assert_eq!(
        app.get(&format!("{path}?limit=0")).await.status().as_u16(),
        400
    );
    assert_eq!(
        app.get(&format!("{path}?cursor=zzz"))
            .await
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        app.get("/api/v1/providers/cdk/connections/nope/runs")
            .await
            .status()
            .as_u16(),
        404
    );
}

#[actix_web::test]
async fn the_concurrency_limit_makes_connections_take_turns_and_starves_none() {
    let conns = vec!["dealer-001", "dealer-002", "dealer-003"];
    let app = spawn_app_with(Options {
        providers: vec![("dealerfx", conns.clone())],
        profile_extra: vec![(
            "dealerfx",
            "[rate_limit]\nmax_concurrent_syncs = 1\n".into(),
        )],
        ..Options::default()
    })
    .await;
    app.inject_fault(
        &json!({"provider": "dealerfx", "kind": "slow", "latency": "300ms", "duration": "1h"}),
    )
    .await;
    let slow_from = chrono::Utc::now().timestamp_millis() + 1_000;
    let requests = wait_for("every connection to sync twice", SYNC_WAIT, || async {
        let l = log(&app, "dealerfx").await;
        conns
            .iter()
            .all(|c| of(&l, c).filter(|(at, ..)| *at > slow_from).count() >= 2)
            .then_some(l)
    })
    .await;
    // One sync at a time: each request starts after the previous 300 ms answer.
    let starts: Vec<i64> = requests
        .iter()
        .filter(|(at, ..)| *at > slow_from)
        .map(|(at, ..)| *at)
        .collect();
    let overlapping: Vec<_> = starts.windows(2).filter(|w| w[1] - w[0] < 250).collect();
    assert!(
        overlapping.is_empty(),
        "two syncs at once: {overlapping:?} in {starts:?}"
    );
    let m = app.metrics().await;
    assert!(
        super::helpers::metric_value(
            &m,
            r#"syncwatch_sync_schedule_lag_seconds_count{provider="dealerfx"}"#
        )
        .is_some_and(|n| n > 0.0),
        "{m}"
    );
}

#[actix_web::test]
async fn format_drift_fails_the_sync_as_schema_and_keeps_the_cursor() {
    let app = spawn_app_with(Options {
        providers: vec![("mykaarma", vec!["dealer-001"])],
        ..Options::default()
    })
    .await;
    let runs = "/api/v1/providers/mykaarma/connections/dealer-001/runs";
    let first = wait_for("a first sync", SYNC_WAIT, || async {
        app.get_json(runs).await["runs"]
            .as_array()
            .and_then(|r| r.last().cloned())
    })
    .await;
    let cursor = first["cursor_after"]["customer_messages"].clone();
    assert!(cursor.is_string(), "{first}");
    // Every record now comes with its date in another format; the next changed record will show.
    app.inject_fault(&json!({"provider": "mykaarma", "kind": "format_drift", "duration": "1h"}))
        .await;
    let failed = wait_for("a schema failure", SYNC_WAIT, || async {
        app.get_json(runs).await["runs"]
            .as_array()?
            .iter()
            .find(|r| r["error_class"] == "schema")
            .cloned()
    })
    .await;
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .starts_with("format drift:"),
        "{failed}"
    );
    assert_eq!(
        failed["cursor_after"]["customer_messages"], cursor,
        "the cursor did not move: {failed}"
    );
    let status = app.get_json("/api/v1/providers").await;
    assert_eq!(
        status["providers"][0]["connections"][0]["last_error"]["error_class"], "schema",
        "{status}"
    );
}

#[actix_web::test]
async fn failed_requests_are_retried_with_bounded_jittered_backoff() {
    // 4 attempts, delays under 200 ms, 400 ms, 800 ms; the circuit stays closed.
    let app = spawn_app_with(Options {
        providers: vec![("dealerfx", vec!["dealer-001"])],
        profile_extra: vec![(
            "dealerfx",
            "[retry]\nmax_attempts = 4\nbase = \"200ms\"\nmax = \"800ms\"\n\n[circuit_breaker]\nfailure_threshold = 1000\n".into(),
        )],
        ..Options::default()
    })
    .await;
    app.inject_fault(&json!({"provider": "dealerfx", "kind": "server_error", "duration": "1h"}))
        .await;
    let runs = "/api/v1/providers/dealerfx/connections/dealer-001/runs";
    let failed = wait_for("three failed runs", SYNC_WAIT, || async {
        let r: Vec<serde_json::Value> = app.get_json(runs).await["runs"]
            .as_array()?
            .iter()
            .filter(|r| r["error_class"] == "server")
            .cloned()
            .collect();
        (r.len() >= 3).then_some(r)
    })
    .await;
    let ms = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let requests = log(&app, "dealerfx").await;
    for run in &failed {
        let (from, to) = (ms(&run["started_at"]), ms(&run["finished_at"]));
        let attempts: Vec<i64> = requests
            .iter()
            .filter(|(at, ..)| (from..=to).contains(at))
            .map(|(at, ..)| *at)
            .collect();
        assert_eq!(
            attempts.len(),
            4,
            "max_attempts per request: {run} {attempts:?}"
        );
        for (k, gap) in attempts.windows(2).map(|w| w[1] - w[0]).enumerate() {
            let ceiling = (200 << k).min(800);
            assert!(
                gap <= ceiling + 150,
                "retry {} came {gap} ms after the previous attempt (ceiling {ceiling} ms): {attempts:?}",
                k + 1
            );
        }
    }
}

#[actix_web::test]
async fn a_restart_in_the_middle_of_a_sync_resumes_from_the_last_saved_cursor() {
    let mut app = spawn_app_with(Options {
        providers: vec![("cdk", vec!["dealer-001"])],
        ..Options::default()
    })
    .await;
    let runs = "/api/v1/providers/cdk/connections/dealer-001/runs";
    wait_for("a full sync", SYNC_WAIT, || async {
        app.get_json(runs).await["runs"][0]["cursor_after"]["service_appointments"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    // Answers now take 3 s: the next sync hangs in its first request.
    app.inject_fault(
        &json!({"provider": "cdk", "kind": "slow", "latency": "3s", "duration": "1h"}),
    )
    .await;
    wait_for("a sync in flight", SYNC_WAIT, || async {
        let p = app.get_json("/api/v1/providers").await;
        (p["providers"][0]["connections"][0]["state"] == "syncing").then_some(())
    })
    .await;
    let saved = app.get_json(runs).await["runs"][0]["cursor_after"]["service_appointments"]
        .as_str()
        .unwrap()
        .to_string();
    app.restart();
    let restarted = chrono::Utc::now().timestamp_millis();
    app.clear_faults().await;
    let first = first_request_since(&app, "cdk", restarted).await;
    assert!(
        first
            .2
            .contains(&format!("modified_since={}", saved.replace(':', "%3A"))),
        "expected the cursor saved before the restart ({saved}): {first:?}"
    );
    // Nothing was stored twice.
    let store = app.store().await;
    assert_eq!(store.count_records("cdk").await.unwrap(), 120);
}

#[actix_web::test]
async fn a_request_slower_than_the_profile_timeout_fails_as_timeout() {
    let app = spawn_app_with(Options {
        providers: vec![("tekion", vec!["dealer-001"])],
        profile_edits: vec![
            ("tekion", "timeout = \"10s\"", "timeout = \"300ms\""),
            ("tekion", "max_attempts = 5", "max_attempts = 1"),
        ],
        ..Options::default()
    })
    .await;
    app.inject_fault(
        &json!({"provider": "tekion", "kind": "slow", "latency": "3s", "duration": "1h"}),
    )
    .await;
    let error = wait_for("a timed-out sync", SYNC_WAIT, || async {
        let status = app.get_json("/api/v1/providers").await;
        let e = status["providers"][0]["connections"][0]["last_error"].clone();
        (!e.is_null()).then_some(e)
    })
    .await;
    assert_eq!(error["error_class"], "timeout", "{error}");
    let m = app.metrics().await;
    assert!(
        metric_value(
            &m,
            r#"syncwatch_sync_failures_total{provider="tekion",error_class="timeout"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{m}"
    );
}
