//! The OpenAPI document: served, complete, and honoured by the running server, as schemathesis
//! (PyPI) checks by sending what the document allows (and what it does not).

use std::process::Command;

use super::helpers::{
    Options, TestApp, postgres_database, skip_or_fail, spawn_app, spawn_app_with,
};

#[actix_web::test]
async fn the_openapi_document_describes_every_api_v1_operation() {
    let app = spawn_app().await;
    let doc = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let patch = &doc["paths"]["/api/v1/tickets/{id}"]["patch"];
    let params: Vec<&str> = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"If-Match"), "{params:?}");
    for status in ["200", "412", "428", "409", "401", "403"] {
        assert!(
            patch["responses"][status].is_object(),
            "PATCH answers {status}"
        );
    }
    assert_eq!(patch["security"][0]["bearer"][0], "tickets:write");
    assert!(doc["components"]["schemas"]["TicketView"]["properties"]["resolve_by"].is_object());
    assert!(doc["paths"]["/api/v1/ticket-events"]["get"].is_object());
}

#[actix_web::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    schemathesis(spawn_app().await).await;
}

#[actix_web::test]
async fn schemathesis_finds_no_server_error_on_postgresql_either() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let app = spawn_app_with(Options {
        storage_url: Some(url),
        ..Options::default()
    })
    .await;
    // PostgreSQL refuses a NUL in text: it must be the client's 400, never a 500.
    for path in [
        "/api/v1/tickets?provider=a%00b",
        "/api/v1/tickets/a%00b",
        "/api/v1/dlq?stream=%00",
        "/api/v1/tickets/a%00/events",
    ] {
        let status = app.get(path).await.status().as_u16();
        assert!(status < 500, "{path}: {status}");
    }
    schemathesis(app).await;
}

/// Runs schemathesis over the app's document: every operation, what the document allows and
/// what it does not; fails on a 5xx, an answer the document does not describe, or a wrong
/// content type.
async fn schemathesis(app: TestApp) {
    if Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_err()
    {
        skip_or_fail("schemathesis is not installed (python3 -m pip install schemathesis)");
        return;
    }
    let schema = format!("{}/api/v1/openapi.json", app.address);
    let address = app.address.clone();
    // Its own process, off the test's runtime: the app keeps answering meanwhile.
    let out = tokio::task::spawn_blocking(move || {
        // It keeps a cache of what it found in its working directory: a temporary one.
        let dir = tempfile::tempdir().unwrap();
        Command::new("schemathesis")
            .current_dir(dir.path())
            .args(["run", &schema, "--url", &address])
            .args([
                "--checks",
                "not_a_server_error,response_schema_conformance,content_type_conformance",
                "--max-examples",
                "20",
                "--seed",
                "1",
                "--phases",
                "examples,coverage,fuzzing",
                "--request-timeout",
                "30",
                "--no-color",
            ])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tail: String = stdout
        .lines()
        .rev()
        .take(120)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{tail}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
