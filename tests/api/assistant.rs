//! The L0 assistant against a fake OpenAI-compatible server: cited answers, made-up citations
//! dropped, the extractive fallback, escalation to exactly one ticket, past tickets suggested,
//! embeddings fused.

use std::time::Duration;

use serde_json::{Value, json};

use super::fakes::{FakeModel, ModelReply};
use super::helpers::{Options, TestApp, metric_value, spawn_app, spawn_app_with};

async fn ask(app: &TestApp, body: Value) -> Value {
    let r = app.post_json("/api/v1/assistant/ask", &body).await;
    assert_eq!(r.status().as_u16(), 200, "ask {body}");
    r.json().await.unwrap()
}

async fn feedback(app: &TestApp, id: &str, resolved: bool) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/assistant/answers/{id}/feedback"),
        &json!({"resolved": resolved}),
    )
    .await
}

fn with_model(model: &FakeModel, extra: &str) -> Options {
    Options {
        extra_config: format!(
            "[assistant]\nescalate_below = 0.05\n[assistant.llm]\nurl = \"http://127.0.0.1:{}/v1\"\nmodel = \"fake-8b\"\napi_key = \"sk-test\"\ntimeout = \"2s\"\n{extra}",
            model.port
        ),
        ..Options::default()
    }
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn without_a_model_the_answer_is_the_best_runbooks_fix_with_citations() {
    let app = spawn_app().await;
    let a = ask(
        &app,
        json!({"question": "IteratorAgeHigh pipeline dms stage export"}),
    )
    .await;
    assert_eq!(a["runbooks"][0]["id"], "stage-iterator-age-high", "{a}");
    assert_eq!(a["runbooks"][0]["match_reason"], "exact");
    assert_eq!(a["understood"]["alerts"][0], "StageIteratorAgeHigh");
    assert_eq!(a["llm_used"], false);
    assert_eq!(a["fallback_reason"], "not_configured");
    assert_eq!(a["citations"][0]["id"], "R1");
    assert_eq!(a["citations"][0]["ref_id"], "stage-iterator-age-high");
    let steps = a["steps"].as_array().unwrap();
    assert!(steps.len() >= 2, "{a}");
    assert!(steps.iter().all(|s| s["citations"] == json!(["R1"])));
    assert!(a["confidence"].as_f64().unwrap() >= 0.9);
    assert_eq!(a["escalated"], false);
    // Bad input is refused with the field named.
    let r = app
        .post_json("/api/v1/assistant/ask", &json!({"question": "  "}))
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("question"));
    let r = app
        .post_json(
            "/api/v1/assistant/ask",
            &json!({"question": "x", "provider": "p".repeat(201)}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    // The fields in an array are not an object.
    let r = app
        .post_json("/api/v1/assistant/ask", &json!(["cdk timeout", "cdk"]))
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("expected a JSON object"));
}

#[actix_web::test]
async fn a_model_answer_keeps_cited_steps_and_drops_a_made_up_citation() {
    let model = FakeModel::start(ModelReply::Content(
        json!({
            "answer": "Tekion's token expired; fetch a new one.",
            "steps": [
                {"text": "Check the client credentials.", "citations": ["R1"]},
                {"text": "Open runbook 42.", "citations": ["R9"]},
                {"text": "Restart everything.", "citations": []}
            ]
        })
        .to_string(),
    ));
    let app = spawn_app_with(with_model(&model, "")).await;
    let a = ask(
        &app,
        json!({"question": "tekion keeps answering 401 token_expired", "provider": "tekion", "connection": "dealer-001"}),
    )
    .await;
    assert_eq!(a["llm_used"], true, "{a}");
    assert_eq!(a["fallback_reason"], Value::Null);
    assert_eq!(
        a["steps"],
        json!([{"text": "Check the client credentials.", "citations": ["R1"]}])
    );
    assert_eq!(a["dropped_steps"], 2);
    // What the model was sent: the numbered passages, the question, the model, the key.
    let sent = &model.bodies("chat")[0];
    assert_eq!(sent["model"], "fake-8b");
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("Question: tekion keeps answering 401 token_expired"));
    assert!(user.contains("Provider: tekion"));
    assert!(user.contains("[R1] runbook "), "{user}");
    let r1 = a["citations"][0]["ref_id"].as_str().unwrap();
    assert!(user.contains(&format!("[R1] runbook {r1}")));
    assert_eq!(a["runbooks"][0]["id"], r1);
}

#[actix_web::test]
async fn the_extractive_answer_stands_in_for_a_slow_broken_or_uncited_model() {
    let model = FakeModel::start(ModelReply::Fail);
    let app = spawn_app_with(with_model(&model, "")).await;
    let q = json!({"question": "the circuit breaker is open and syncs are skipped"});
    let cases = [
        (ModelReply::Slow(Duration::from_secs(6)), "timeout"),
        (ModelReply::Fail, "http_error"),
        (
            ModelReply::Content("Sure! Restart it.".into()),
            "invalid_json",
        ),
        // A reply past 256 KiB is not read.
        (ModelReply::Content("x".repeat(300_000)), "invalid_reply"),
        (
            ModelReply::Content(
                json!({"answer": "x", "steps": [{"text": "y", "citations": ["R7"]}]}).to_string(),
            ),
            "no_valid_citation",
        ),
    ];
    for (reply, reason) in cases {
        model.set_reply(reply);
        let a = ask(&app, q.clone()).await;
        assert_eq!(a["llm_used"], false, "{reason}: {a}");
        assert_eq!(a["fallback_reason"], reason, "{a}");
        assert_eq!(a["runbooks"][0]["id"], "circuit-breaker-open", "{a}");
        let steps = a["steps"].as_array().unwrap();
        assert!(!steps.is_empty());
        assert!(steps.iter().all(|s| s["citations"] == json!(["R1"])));
    }
}

#[actix_web::test]
async fn feedback_false_opens_exactly_one_l1_ticket_per_reporter_and_question() {
    let app = spawn_app().await;
    let q = json!({"question": "Dealer-FX returns 400 after their API version change", "reporter": "desk-7", "provider": "dealerfx"});
    let first = ask(&app, q.clone()).await;
    let second = ask(&app, q.clone()).await;
    assert_ne!(first["id"], second["id"]);
    let r = feedback(&app, first["id"].as_str().unwrap(), false).await;
    assert_eq!(r.status().as_u16(), 200);
    let one: Value = r.json().await.unwrap();
    assert_eq!(one["outcome"], "escalated");
    assert_eq!(one["ticket"]["created"], true);
    let two: Value = feedback(&app, second["id"].as_str().unwrap(), false)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        two["ticket"]["id"], one["ticket"]["id"],
        "one ticket per reporter and question"
    );
    assert_eq!(two["ticket"]["created"], false);
    // The same feedback again is answered the same; the opposite is refused.
    let again = feedback(&app, first["id"].as_str().unwrap(), false).await;
    assert_eq!(again.status().as_u16(), 200);
    let other = feedback(&app, first["id"].as_str().unwrap(), true).await;
    assert_eq!(other.status().as_u16(), 409);
    assert_eq!(
        feedback(&app, "no-such-answer", true)
            .await
            .status()
            .as_u16(),
        404
    );

    let ticket = app
        .get_json(&format!(
            "/api/v1/tickets/{}",
            one["ticket"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ticket["tier"], "L1");
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["alertname"], "AssistantEscalation");
    assert_eq!(ticket["provider"], "dealerfx");
    assert_eq!(ticket["labels"]["reporter"], "desk-7");
    let summary = ticket["summary"].as_str().unwrap();
    assert!(summary.contains("Question: Dealer-FX returns 400 after their API version change"));
    assert!(summary.contains("[R1]"), "{summary}");
    assert!(summary.contains("/api/v1/runbooks/"), "{summary}");
    let list = app
        .get_json("/api/v1/tickets?alertname=AssistantEscalation")
        .await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 1, "{list}");

    // Without a provider field, the provider the question names goes on the ticket.
    let named = ask(
        &app,
        json!({"question": "cdk 429 too many requests", "reporter": "desk-9"}),
    )
    .await;
    let t: Value = feedback(&app, named["id"].as_str().unwrap(), false)
        .await
        .json()
        .await
        .unwrap();
    let named_ticket = app
        .get_json(&format!(
            "/api/v1/tickets/{}",
            t["ticket"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(named_ticket["provider"], "cdk", "{named_ticket}");

    // Another reporter's question opens its own ticket; a resolved answer none.
    let third = ask(&app, json!({"question": "Dealer-FX returns 400 after their API version change", "reporter": "desk-8"})).await;
    let t3: Value = feedback(&app, third["id"].as_str().unwrap(), false)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(t3["ticket"]["id"], one["ticket"]["id"]);
    let fourth = ask(&app, q.clone()).await;
    let ok: Value = feedback(&app, fourth["id"].as_str().unwrap(), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["outcome"], "resolved");
    assert_eq!(ok["ticket"], Value::Null);

    let m = app.metrics().await;
    assert_eq!(
        metric_value(
            &m,
            "syncwatch_assistant_answers_total{outcome=\"escalated\"}"
        ),
        Some(4.0),
        "{m}"
    );
    assert_eq!(
        metric_value(
            &m,
            "syncwatch_assistant_answers_total{outcome=\"resolved\"}"
        ),
        Some(1.0)
    );
}

#[actix_web::test]
async fn an_answer_without_any_knowledge_escalates_at_once() {
    let app = spawn_app().await;
    let a = ask(
        &app,
        json!({"question": "qwzx blorfnak", "reporter": "desk"}),
    )
    .await;
    assert_eq!(a["confidence"], 0.0, "{a}");
    assert_eq!(a["steps"], json!([]));
    assert_eq!(a["escalated"], true);
    let id = a["ticket"]["id"].as_str().unwrap();
    assert_eq!(
        app.get_json(&format!("/api/v1/tickets/{id}")).await["tier"],
        "L1"
    );
    // Its outcome is decided: feedback cannot flip it to resolved.
    let r = feedback(&app, a["id"].as_str().unwrap(), true).await;
    assert_eq!(r.status().as_u16(), 409);
}

#[actix_web::test]
async fn a_resolved_ticket_is_suggested_with_its_resolution() {
    let app = spawn_app().await;
    // A question nobody had a runbook for, escalated, then resolved by support.
    let a = ask(&app, json!({"question": "Dealer-FX answers an HTML maintenance page with status 200", "reporter": "desk"})).await;
    let fb: Value = feedback(&app, a["id"].as_str().unwrap(), false)
        .await
        .json()
        .await
        .unwrap();
    let ticket = fb["ticket"]["id"].as_str().unwrap().to_string();
    app.patch_ticket(
        &ticket,
        &json!({"status": "resolved", "resolution": "Dealer-FX was in maintenance; their status page announced it. Paused the connections until it ended."}),
    )
    .await;
    // The very next question sees it: a lookup catches the index up with the ticket feed.
    let found = ask(
        &app,
        json!({"question": "dealerfx sends a maintenance page instead of JSON"}),
    )
    .await;
    let hit = found["similar_tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == ticket.as_str())
        .unwrap_or_else(|| panic!("the resolved ticket is not suggested: {found}"));
    assert!(
        hit["resolution"]
            .as_str()
            .unwrap()
            .contains("Paused the connections")
    );
    assert_eq!(hit["documented"], true);
    assert!(
        found["citations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "ticket" && c["ref_id"] == ticket.as_str())
    );
    // The runbook lookup shows it too; an unrelated question does not.
    let l: Value = app
        .lookup(&json!({"query": "maintenance page from dealer fx"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&l, "similar_tickets").contains(&ticket), "{l}");
    let l: Value = app
        .lookup(&json!({"query": "postgres disk is full"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(!ids(&l, "similar_tickets").contains(&ticket), "{l}");
}

#[actix_web::test]
async fn embeddings_are_fused_and_cached_by_content() {
    let model = FakeModel::start(ModelReply::Fail);
    let extra = format!(
        "[assistant.embeddings]\nurl = \"http://127.0.0.1:{}/v1\"\nmodel = \"fake-embed\"\n",
        model.port
    );
    let opts = Options {
        extra_config: format!("[assistant]\n{extra}"),
        ..Options::default()
    };
    let app = spawn_app_with(opts).await;
    let mut a = Value::Null;
    for _ in 0..40 {
        a = ask(&app, json!({"question": "zebra"})).await;
        if a["dense"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(a["dense"], true, "runbook vectors never loaded: {a}");
    // Only the embeddings relate zebras to the circuit breaker runbook.
    assert_eq!(a["understood"]["corrections"], json!([]), "{a}");
    assert_eq!(a["runbooks"][0]["id"], "circuit-breaker-open", "{a}");
    assert_eq!(a["runbooks"][0]["match_reason"], "semantic");
    let runbooks = app.get_json("/api/v1/runbooks").await["runbooks"]
        .as_array()
        .unwrap()
        .len();
    let embedded: usize = model
        .bodies("embeddings")
        .iter()
        .map(|b| b["input"].as_array().map_or(1, Vec::len))
        .sum();
    // Every runbook once, then the one question asked once the vectors were in.
    assert_eq!(
        embedded,
        runbooks + 1,
        "{embedded} texts for {runbooks} runbooks"
    );
    assert_eq!(model.bodies("embeddings")[0]["model"], "fake-embed");
}

#[actix_web::test]
async fn runbook_vectors_are_cached_in_the_store_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("shared.db").display());
    let options = |model: &FakeModel| Options {
        extra_config: format!(
            "[assistant.embeddings]\nurl = \"http://127.0.0.1:{}/v1\"\nmodel = \"fake-embed\"\n",
            model.port
        ),
        storage_url: Some(db.clone()),
        ..Options::default()
    };
    async fn wait_dense(app: &TestApp) {
        for _ in 0..40 {
            if ask(app, json!({"question": "zebra"})).await["dense"] == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("runbook vectors never loaded");
    }
    let first = FakeModel::start(ModelReply::Fail);
    let app = spawn_app_with(options(&first)).await;
    wait_dense(&app).await;
    drop(app);
    let second = FakeModel::start(ModelReply::Fail);
    let app = spawn_app_with(options(&second)).await;
    wait_dense(&app).await;
    // The second run embedded questions only: every runbook vector came from the store.
    let inputs: Vec<Value> = second
        .bodies("embeddings")
        .iter()
        .flat_map(|b| b["input"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(!inputs.is_empty());
    assert!(inputs.iter().all(|i| i == "zebra"), "{inputs:?}");
}

#[actix_web::test]
async fn feedback_is_taken_for_a_day_and_then_refused() {
    let clock = syncwatch::domain::ManualClock::new(syncwatch::domain::Clock::now_ms(
        &syncwatch::domain::SystemClock,
    ));
    let app = spawn_app_with(Options {
        providers: vec![],
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let q = json!({"question": "the circuit breaker is open and syncs are skipped", "reporter": "desk"});
    let late = ask(&app, q.clone()).await;
    clock.advance_ms(24 * 3_600_000 - 1_000);
    let in_time = ask(&app, q.clone()).await;
    clock.advance_ms(2_000);
    // A day and a second after the first answer: refused; the second is still in its day.
    let r = feedback(&app, late["id"].as_str().unwrap(), true).await;
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await.unwrap().contains("within a day"));
    let r = feedback(&app, in_time["id"].as_str().unwrap(), true).await;
    assert_eq!(r.status().as_u16(), 200);
}
