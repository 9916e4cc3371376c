//! The Grafana dashboards of `dashboards/`: stable uids, no fixed data source, and a real
//! Prometheus (Debian's package) scraping the demo answers every panel's query with data, while
//! every metric a panel names is in the demo's `/metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{
    PrometheusServer, ServeProcess, demo_config, free_port, repo, skip_or_fail, wait_for,
};

/// The dashboards and their uids (links and bookmarks rely on them: they never change).
const DASHBOARDS: [(&str, &str); 4] = [
    ("sla-overview.json", "syncwatch-sla-overview"),
    ("slo-detail.json", "syncwatch-slo-detail"),
    ("operations.json", "syncwatch-operations"),
    ("support.json", "syncwatch-support"),
];

fn dashboard(file: &str) -> Value {
    let path = repo().join("dashboards").join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel of a dashboard, rows' panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

/// `(panel title, query)` of every panel target.
fn queries(d: &Value) -> Vec<(String, String)> {
    panels(d)
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("").to_string();
            p["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |t| Some((title.clone(), t["expr"].as_str()?.to_string())))
        })
        .collect()
}

/// Every `datasource` value anywhere in `v`.
fn datasources<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "datasource" {
                    out.push(x);
                }
                datasources(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| datasources(x, out)),
        _ => {}
    }
}

/// The metric names a query reads (`syncwatch_…`, histogram suffixes left on).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("syncwatch_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        out.insert(name);
    }
    out
}

#[test]
fn every_dashboard_has_its_uid_and_reads_the_chosen_data_source() {
    let mut uids = BTreeSet::new();
    for (file, uid) in DASHBOARDS {
        let d = dashboard(file);
        assert_eq!(d["uid"], uid, "{file}");
        assert!(uids.insert(uid));
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter().any(|v| v["type"] == "datasource"
                && v["name"] == "datasource"
                && v["query"] == "prometheus"),
            "{file}: a datasource variable"
        );
        let mut found = Vec::new();
        datasources(&d, &mut found);
        assert!(!found.is_empty(), "{file}");
        for ds in found {
            assert_eq!(
                ds,
                &serde_json::json!({"type": "prometheus", "uid": "${datasource}"}),
                "{file}: a data source other than the variable"
            );
        }
        assert!(!queries(&d).is_empty(), "{file}");
        for p in panels(&d) {
            assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{file}");
            assert!(
                p["description"].as_str().is_some_and(|t| !t.is_empty()),
                "{file}: {} has no description",
                p["title"]
            );
        }
    }
    // The provisioning files point Grafana at the folder docker-compose mounts.
    let provider =
        std::fs::read_to_string(repo().join("dashboards/provisioning/dashboards/syncwatch.yml"))
            .unwrap();
    assert!(provider.contains("path: /var/lib/grafana/dashboards/syncwatch"));
    let compose = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    assert!(compose.contains("./dashboards:/var/lib/grafana/dashboards/syncwatch:ro"));
    assert!(compose.contains("./dashboards/provisioning:/etc/grafana/provisioning:ro"));
}

/// A query as Grafana sends it: the template variables given values.
fn filled(expr: &str, slo: &str) -> String {
    expr.replace("$__rate_interval", "2m")
        .replace("$slo", slo)
        .replace("$provider", ".*")
        .replace("$connection", ".*")
        .replace("$pipeline", ".*")
        .replace("$integration", ".*")
}

/// Works two of the demo's tickets as support would (acknowledge one, resolve another), so the
/// support dashboard's MTTA and MTTR have something to show.
async fn work_tickets(base: &str) {
    let client = reqwest::Client::new();
    let open = wait_for("two demo tickets", Duration::from_secs(90), || async {
        let body: Value = client
            .get(format!("{base}/api/v1/tickets?status=open"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let tickets = body["tickets"].as_array()?.clone();
        (tickets.len() >= 2).then_some(tickets)
    })
    .await;
    for (ticket, change) in open.iter().zip([
        serde_json::json!({"status": "acknowledged", "assignee": "ana"}),
        serde_json::json!({"status": "resolved", "resolution": "Fixed by hand"}),
    ]) {
        let r = client
            .patch(format!(
                "{base}/api/v1/tickets/{}",
                ticket["id"].as_str().unwrap()
            ))
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "*")
            .json(&change)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
}

#[actix_web::test]
async fn a_prometheus_scraping_the_demo_answers_every_panel() {
    let dir = tempfile::tempdir().unwrap();
    let (port, simulator) = (free_port(), free_port());
    demo_config(dir.path(), port, simulator);
    let scrape = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: syncwatch\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let Some(prometheus) = PrometheusServer::start(dir.path(), &scrape, &[]) else {
        skip_or_fail("prometheus is not installed (apt-get install prometheus)");
        return;
    };
    let demo = ServeProcess::start(dir.path(), port, &[]).await;
    work_tickets(&demo.base).await;

    let all: Vec<(String, String, String)> = DASHBOARDS
        .iter()
        .flat_map(|(file, _)| {
            queries(&dashboard(file))
                .into_iter()
                .map(|(title, expr)| (file.to_string(), title, expr))
        })
        .collect();
    // The SLO the detail dashboard is looked at with: sync success, once its minutes count.
    let slo = "syncwatch-sync-success";
    // SLO figures follow the first recorded minute (up to two minutes after start) by seconds.
    let mut missing: BTreeMap<String, String> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        missing.clear();
        for (file, title, expr) in &all {
            let q = filled(expr, slo);
            if prometheus.query(&q).await.is_none_or(|r| r.is_empty()) {
                missing.insert(format!("{file}: {title}"), q);
            }
        }
        if missing.is_empty() || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert!(
        missing.is_empty(),
        "panels without data after 4 minutes:\n{missing:#?}"
    );
    // The template variables have values: SLOs, and for some SLO each group label.
    for (file, _) in DASHBOARDS {
        for v in dashboard(file)["templating"]["list"].as_array().unwrap() {
            let Some(def) = v["definition"].as_str() else {
                continue;
            };
            let (selector, label) = def
                .strip_prefix("label_values(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|r| r.rsplit_once(", "))
                .unwrap_or_else(|| panic!("{file}: {def}"));
            let selector = selector.replace("{slo=\"$slo\"}", "");
            let found = prometheus
                .query(&format!("count by ({label}) ({selector}{{{label}!=\"\"}})"))
                .await
                .unwrap_or_default();
            assert!(
                !found.is_empty(),
                "{file}: variable {} has no value",
                v["name"]
            );
        }
    }
    // Every metric a panel names is one the demo exports.
    let exported = reqwest::get(format!("{}/metrics", demo.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (file, title, expr) in &all {
        for name in metric_names(expr) {
            assert!(
                exported.contains(&format!("\n{name}{{"))
                    || exported.contains(&format!("\n{name} ")),
                "{file}: {title} reads {name}, which /metrics does not have"
            );
        }
    }
}
