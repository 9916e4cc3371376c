//! The pages in a real browser: Debian's `chromium`, headless, driven through `chromedriver`
//! (W3C WebDriver, by fantoccini) against the demo as `cargo run -- serve` runs it. A
//! screenshot of each page is saved under `target/screenshots/` (CI keeps them).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::{ServeProcess, demo_config, free_port, repo, skip_or_fail, wait_for};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
    client: Option<Client>,
}

impl Driver {
    async fn start() -> Option<Self> {
        if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists()
        {
            skip_or_fail(
                "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
            );
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        wait_for("chromedriver", Duration::from_secs(30), || async {
            let body: Value = reqwest::get(&status).await.ok()?.json().await.ok()?;
            body["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1280,1500",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a browser session");
        Some(Self {
            child,
            url,
            _profile: profile,
            client: Some(client),
        })
    }

    fn browser(&self) -> &Client {
        self.client.as_ref().unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.url;
    }
}

fn screenshots() -> PathBuf {
    let dir = repo().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(b: &Client, name: &str) {
    let png = b.screenshot().await.expect("a screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// The text of the first element `css` selects, waiting up to 10 s for it: the page a click
/// opens may still be loading.
async fn text(b: &Client, css: &str) -> String {
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn api(base: &str, path: &str) -> Value {
    reqwest::get(format!("{base}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_pages_work_in_a_real_browser() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (port, simulator) = (free_port(), free_port());
    demo_config(dir.path(), port, simulator);
    let demo = ServeProcess::start(dir.path(), port, &[]).await;
    let base = demo.base.clone();
    let b = driver.browser().clone();

    // The overview shows the demo's firing alerts (its Tekion credentials are rejected).
    wait_for(
        "a firing alert on the overview",
        Duration::from_secs(90),
        || async {
            b.goto(&format!("{base}/")).await.ok()?;
            let n: u64 = text(&b, "#alerts-firing").await.parse().ok()?;
            (n > 0).then_some(())
        },
    )
    .await;
    // Each alert listed is one the dispatcher holds (as amtool would list it).
    let held = api(&base, "/api/v2/alerts").await;
    let names: Vec<&str> = held
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap())
        .collect();
    // Read at once: the page refreshes itself every 30 seconds.
    let listed = b
        .execute(
            "return [...document.querySelectorAll('table.alerts tbody tr td:first-child a')]\
             .map(a => a.textContent);",
            vec![],
        )
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert!(!listed.is_empty());
    for name in listed {
        let name = name.as_str().unwrap();
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    shot(&b, "overview").await;

    // The SLA page shows the API's numbers.
    b.goto(&format!("{base}/sla")).await.unwrap();
    let sla = api(&base, "/api/v1/sla").await;
    let rows = b
        .find_all(Locator::Css("table.sla tbody tr"))
        .await
        .unwrap();
    let slos = sla["slos"].as_array().unwrap();
    assert_eq!(rows.len(), slos.len());
    for (row, slo) in rows.iter().zip(slos) {
        let cells = row.find_all(Locator::Css("td")).await.unwrap();
        assert_eq!(cells[0].text().await.unwrap(), slo["slo"].as_str().unwrap());
        assert_eq!(
            cells[2].text().await.unwrap(),
            syncwatch::web::percent(slo["objective"].as_f64())
        );
        assert_eq!(
            cells[3].text().await.unwrap(),
            syncwatch::web::percent(slo["attainment"].as_f64())
        );
        assert_eq!(
            cells[4].text().await.unwrap(),
            syncwatch::web::percent(slo["error_budget"]["remaining_ratio"].as_f64())
        );
        assert_eq!(
            cells[7].text().await.unwrap(),
            slo["status"].as_str().unwrap()
        );
    }
    shot(&b, "sla").await;
    let first = slos[0]["slo"].as_str().unwrap();
    b.find(Locator::LinkText(first))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(&b, "h1").await, first);
    // The row's link names its group: the API is asked for the same one.
    let url = b.current_url().await.unwrap();
    let detail = api(
        &base,
        &format!("/api/v1/sla/{first}?{}", url.query().unwrap_or("")),
    )
    .await;
    assert_eq!(detail["groups"].as_array().unwrap().len(), 1, "{url}");
    assert_eq!(
        text(&b, "dd.budget").await,
        syncwatch::web::percent(detail["groups"][0]["error_budget"]["remaining_ratio"].as_f64())
    );
    assert!(b.find(Locator::Css("svg.chart path.actual")).await.is_ok());
    assert_eq!(
        b.find_all(Locator::Css("ol.months li"))
            .await
            .unwrap()
            .len(),
        12,
        "12 months, met or not"
    );
    shot(&b, "slo").await;

    // Acknowledging a ticket from its page changes it.
    let ticket = wait_for("an open ticket", Duration::from_secs(90), || async {
        api(&base, "/api/v1/tickets?status=open").await["tickets"][0]["id"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    // The ticket link of a notification opens the page.
    b.goto(&format!("{base}/api/v1/tickets/{ticket}"))
        .await
        .unwrap();
    assert_eq!(
        b.current_url().await.unwrap().path(),
        format!("/tickets/{ticket}")
    );
    assert_eq!(text(&b, "dd.status").await, "open");
    b.find(Locator::Id("acknowledge"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the acknowledged page", Duration::from_secs(10), || async {
        (text(&b, "dd.status").await == "acknowledged").then_some(())
    })
    .await;
    assert_eq!(
        api(&base, &format!("/api/v1/tickets/{ticket}")).await["status"],
        "acknowledged"
    );
    shot(&b, "ticket").await;
    // Someone else assigns it meanwhile: the form made on the old version is refused, and says
    // why.
    let r = reqwest::Client::new()
        .patch(format!("{base}/api/v1/tickets/{ticket}"))
        .header("content-type", "application/merge-patch+json")
        .header("if-match", "*")
        .json(&json!({"assignee": "bruno"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let field = b.find(Locator::Css("input[name=assignee]")).await.unwrap();
    field.send_keys("ana").await.unwrap();
    b.find(Locator::Id("assign"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let problem = text(&b, "p.error").await;
    assert!(problem.contains("someone changed this ticket"), "{problem}");
    assert_eq!(
        text(&b, "dd.assignee").await,
        "bruno",
        "nothing overwritten"
    );
    shot(&b, "ticket-stale").await;

    // A label holding markup renders as text, and the policy stops inline script.
    let evil =
        "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(
            &json!([{"labels": {"alertname": "XssProbe", "severity": "critical", "note": evil},
                       "annotations": {"summary": evil}}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for(
        "the probe on the alerts page",
        Duration::from_secs(30),
        || async {
            b.goto(&format!("{base}/alerts?q=pwned")).await.ok()?;
            b.find(Locator::LinkText("XssProbe")).await.ok()
        },
    )
    .await;
    assert!(text(&b, "td.labels").await.contains(evil));
    assert!(text(&b, "div.summary").await.contains(evil));
    let inert = b
        .execute(
            "return [document.title, document.querySelectorAll('main script, main img').length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(inert, json!(["Alerts · syncwatch", 0]));
    let blocked = b
        .execute(
            "const s = document.createElement('script'); s.textContent = 'window.ran = 1'; \
             document.body.appendChild(s); return window.ran === 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        blocked,
        json!(false),
        "inline script runs despite the policy"
    );
    shot(&b, "alerts").await;
    b.find(Locator::LinkText("XssProbe"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        b.execute("return document.title;", vec![]).await.unwrap(),
        json!("XssProbe · syncwatch")
    );
    shot(&b, "alert").await;

    for (name, path) in [
        ("provider", "/providers/tekion"),
        ("runbooks", "/runbooks?q=tekion+401"),
        ("runbook", "/runbooks/tekion-token-expired"),
        ("tickets", "/tickets"),
        ("silences", "/silences"),
    ] {
        b.goto(&format!("{base}{path}")).await.unwrap();
        assert!(b.find(Locator::Css("main h1")).await.is_ok(), "{path}");
        shot(&b, name).await;
    }
    driver.client.take().unwrap().close().await.unwrap();
    demo.terminate();
}
