//! Runbook lookups and the catalogue.

use serde_json::json;

use super::helpers::spawn_app;

#[actix_web::test]
async fn an_alert_name_finds_its_runbook_exactly() {
    let app = spawn_app().await;
    let r = app
        .lookup(&json!({"labels": {"alertname": "ProviderAuthFailing", "provider": "tekion"}}))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let first = &body["results"][0];
    assert_eq!(
        first["id"], "tekion-token-expired",
        "provider-specific runbook first: {body}"
    );
    assert_eq!(first["match_reason"], "exact");
    assert_eq!(
        first["url"],
        "http://syncwatch.test/api/v1/runbooks/tekion-token-expired"
    );
    assert!(body["similar_tickets"].is_array());
    // The generic runbook serves other providers.
    let r = app
        .lookup(&json!({"labels": {"alertname": "ProviderAuthFailing", "provider": "xtime"}}))
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["id"], "provider-auth-failing");
}

#[actix_web::test]
async fn an_error_class_maps_exactly_and_free_text_ranks_by_keywords() {
    let app = spawn_app().await;
    let body: serde_json::Value = app
        .lookup(&json!({"labels": {"error_class": "rate_limited"}}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["results"][0]["id"], "provider-rate-limited");
    assert_eq!(body["results"][0]["match_reason"], "exact");

    let body: serde_json::Value = app
        .lookup(&json!({"query": "dealer subscription pending activation 403", "limit": 3}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["results"][0]["id"], "cdk-subscription-pending",
        "{body}"
    );
    // "subscription pending" only ends an alert's name: a boost, not a mapping.
    assert_eq!(body["results"][0]["match_reason"], "keyword");
    assert!(body["results"].as_array().unwrap().len() <= 3);
    // The alert's whole name in a question maps exactly.
    let body: serde_json::Value = app
        .lookup(&json!({"query": "ProviderSubscriptionPending firing for cdk"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["results"][0]["id"], "cdk-subscription-pending",
        "{body}"
    );
    assert_eq!(body["results"][0]["match_reason"], "exact", "{body}");
}

#[actix_web::test]
async fn empty_lookups_are_refused_and_the_catalogue_lists_runbooks() {
    let app = spawn_app().await;
    let r = app.lookup(&json!({})).await;
    assert_eq!(r.status().as_u16(), 400);
    let list = app.get_json("/api/v1/runbooks").await;
    assert!(list["runbooks"].as_array().unwrap().len() >= 8);
    let rb = app
        .get_json("/api/v1/runbooks/cdk-subscription-pending")
        .await;
    assert!(
        rb["sections"]["fix"].as_str().unwrap().contains("CDK")
            || rb["sections"]["fix"].as_str().unwrap().contains("dealer")
    );
    assert_eq!(
        app.get("/api/v1/runbooks/nope").await.status().as_u16(),
        404
    );
}

#[test]
fn every_shipped_alert_maps_to_a_runbook() {
    use syncwatch::domain::Labels;
    use syncwatch::rules::file::{RuleKind, load_rule_files};
    use syncwatch::runbooks::{RunbookIndex, load_runbooks};
    let root = super::helpers::repo();
    let groups = load_rule_files(&[root.join("rules/*.yml").display().to_string()]).unwrap();
    let index = RunbookIndex::build(load_runbooks(&root.join("runbooks")).unwrap()).unwrap();
    let mut alerts = 0;
    for rule in groups.iter().flat_map(|g| &g.rules) {
        if let RuleKind::Alerting { annotations, .. } = &rule.kind {
            alerts += 1;
            let labels: Labels = [("alertname", rule.name.as_str())].into_iter().collect();
            assert!(
                annotations.iter().any(|(k, _)| k == "runbook_url")
                    || index.exact(&labels).is_some(),
                "alert {} has neither a runbook_url nor a runbook mapping",
                rule.name
            );
        }
    }
    assert!(alerts >= 15, "{alerts} alerting rules");
}
