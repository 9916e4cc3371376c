//! The built-in pages: HTML with a Content-Security-Policy, values escaped, runbook markdown
//! rendered and sanitised, the search box backed by the runbook lookup.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::helpers::{Options, TestApp, spawn_app, spawn_app_with, wait_for};

/// A browser-like session of a test: keeps the cookies it is given, follows no redirect.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

impl Browser {
    fn of(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            cookies: Default::default(),
        }
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> reqwest::Response {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    async fn page(&mut self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.text().await.unwrap()
    }

    /// Posts a form with this session's CSRF token.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self
            .cookies
            .get("syncwatch_csrf")
            .cloned()
            .unwrap_or_default();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        self.post_raw(path, &form, None).await
    }

    async fn post_raw(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .header("cookie", self.cookie_header())
            .form(form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.unwrap();
        self.keep(&r);
        r
    }
}

/// The value of `<input … name="{name}" value="…">` in a page.
fn input_value(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} field in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[actix_web::test]
async fn a_runbook_page_renders_its_markdown_under_a_strict_policy() {
    let app = spawn_app().await;
    let r = app.get("/runbooks/circuit-breaker-open").await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(
        r.headers()["content-security-policy"].to_str().unwrap(),
        syncwatch::web::CONTENT_SECURITY_POLICY
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<h2>Fix</h2>"), "{html}");
    assert!(html.contains("<ol>"), "numbered steps render as a list");
    assert!(!html.contains("<script"), "no script on any page");
    assert!(
        !html.contains("style=\""),
        "no inline style under the policy"
    );
    assert!(html.contains("href=\"/static/app.css\""));
    let css = app.get("/static/app.css").await;
    assert_eq!(
        css.headers()["content-type"].to_str().unwrap(),
        "text/css; charset=utf-8"
    );
    assert!(
        css.text()
            .await
            .unwrap()
            .contains("prefers-color-scheme: dark")
    );
    let missing = app.get("/runbooks/no-such-runbook").await;
    assert_eq!(missing.status().as_u16(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("There is no runbook")
    );
}

#[actix_web::test]
async fn the_search_box_finds_runbooks_and_a_question_is_shown_as_text() {
    let app = spawn_app().await;
    let html = app
        .get("/runbooks?q=tekion%20401%20since%20this%20morning")
        .await
        .text()
        .await
        .unwrap();
    let hits = html
        .split("<ol class=\"hits\">")
        .nth(1)
        .expect("a result list");
    let first = hits.split("</li>").next().unwrap();
    assert!(
        first.contains("href=\"/runbooks/tekion-token-expired\""),
        "{first}"
    );
    // Every runbook is listed.
    let all = app.get_json("/api/v1/runbooks").await["runbooks"]
        .as_array()
        .unwrap()
        .len();
    let catalogue = html.split("<ul class=\"catalogue\">").nth(1).unwrap();
    assert_eq!(catalogue.matches("<li>").count(), all);
    // What is typed is escaped, never markup.
    let html = app
        .get("/runbooks?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)") || html.contains("&lt;script&gt;alert(1)"),
        "{html}"
    );
}

#[actix_web::test]
async fn a_runbook_link_opens_the_page_in_a_browser_and_json_for_a_client() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}/api/v1/runbooks/circuit-breaker-open", app.address);
    // What Chromium sends for a link it opens.
    let browser = no_redirects
        .get(&url)
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status().as_u16(), 303);
    assert_eq!(
        browser.headers()["location"].to_str().unwrap(),
        "/runbooks/circuit-breaker-open"
    );
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut req = no_redirects.get(&url);
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{accept:?}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["id"], "circuit-breaker-open");
    }
}

#[actix_web::test]
async fn a_ticket_is_worked_from_its_page_and_a_stale_form_is_refused_with_412() {
    let app = spawn_app().await;
    let id = app.ticket_per_provider(&["tekion"]).await.remove(0);
    let mut b = Browser::of(&app);
    // The Source link of a notification (`/api/v1/alerts`) opens the alerts page in a browser.
    let r = b.get("/api/v1/alerts").await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/alerts");
    assert!(
        app.get_json("/api/v1/alerts").await["alerts"].is_array(),
        "JSON for clients"
    );
    // The ticket's API link opens its page in a browser.
    let r = b.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], format!("/tickets/{id}").as_str());
    let page = b.page(&format!("/tickets/{id}")).await;
    assert!(page.contains("<dd class=\"status\">open</dd>"), "{page}");
    let version = input_value(&page, "version");
    let path = format!("/tickets/{id}");

    // Without the CSRF token, or from another site, nothing happens.
    let r = b
        .post_raw(
            &path,
            &[("action", "acknowledge"), ("version", &version)],
            None,
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    let csrf = b.cookies["syncwatch_csrf"].clone();
    let r = b
        .post_raw(
            &path,
            &[
                ("action", "acknowledge"),
                ("version", &version),
                ("csrf", &csrf),
            ],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        app.get_json(&format!("/api/v1/tickets/{id}")).await["status"],
        "open"
    );

    let r = b
        .post(&path, &[("action", "acknowledge"), ("version", &version)])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let t = app.get_json(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(t["status"], "acknowledged");

    // The same form again, made on the old version: 412, nothing overwritten, and why.
    let r = b
        .post(
            &path,
            &[
                ("action", "assign"),
                ("assignee", "ana"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 412);
    let body = r.text().await.unwrap();
    assert!(body.contains("someone changed this ticket"), "{body}");
    assert!(
        body.contains("<dd class=\"status\">acknowledged</dd>"),
        "the ticket now: {body}"
    );
    assert_eq!(
        app.get_json(&format!("/api/v1/tickets/{id}")).await["assignee"],
        Value::Null
    );

    // Assign, escalate, comment and resolve, each on the page's current version.
    let mut escalated_to = String::new();
    for (action, extra) in [
        ("assign", ("assignee", "ana")),
        ("escalate", ("tier", "")),
        ("resolve", ("resolution", "Rotated the **client secret**.")),
    ] {
        let page = b.page(&path).await;
        let version = input_value(&page, "version");
        let extra = if action == "escalate" {
            // The button names the next tier up.
            escalated_to = input_value(&page, "tier");
            ("tier", escalated_to.as_str())
        } else {
            extra
        };
        let r = b
            .post(&path, &[("action", action), extra, ("version", &version)])
            .await;
        assert_eq!(
            r.status().as_u16(),
            303,
            "{action}: {}",
            r.text().await.unwrap()
        );
    }
    let r = b
        .post(
            &path,
            &[("action", "comment"), ("body", "*done* <script>x</script>")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let t = app.get_json(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(
        (&t["status"], &t["assignee"], &t["tier"], &t["resolution"]),
        (
            &json!("resolved"),
            &json!("ana"),
            &json!(escalated_to),
            &json!("Rotated the **client secret**.")
        )
    );
    let page = b.page(&path).await;
    assert!(
        page.contains("<em>done</em>"),
        "comments are markdown: {page}"
    );
    assert!(!page.contains("<script>x"), "{page}");
    let events = app.get_json(&format!("/api/v1/tickets/{id}/events")).await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "acknowledged",
        "assigned",
        "tier_changed",
        "commented",
        "resolved",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    // A resolved ticket offers no acknowledge or resolve any more.
    assert!(!page.contains("id=\"acknowledge\"") && !page.contains("id=\"resolve\""));
    // Filters in the URL.
    let list = b.page("/tickets?status=resolved&provider=tekion").await;
    assert!(list.contains(&format!("href=\"/tickets/{id}\"")), "{list}");
    let none = b.page("/tickets?status=open&provider=tekion").await;
    assert!(!none.contains(&format!("href=\"/tickets/{id}\"")));
    let bad = b.get("/tickets?status=lost").await;
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.text().await.unwrap().contains("status: &#34;lost&#34;"));
}

#[actix_web::test]
async fn an_alert_is_shown_as_text_and_silenced_from_its_page() {
    let app = spawn_app().await;
    let evil = "<script>alert(1)</script>";
    app.post_alerts(
        &json!([{"labels": {"alertname": "PageProbe", "provider": "cdk", "note": evil},
                             "annotations": {"summary": "a <b>bold</b> claim"}}]),
    )
    .await;
    let mut b = Browser::of(&app);
    let overview = wait_for("the alert on the overview", Duration::from_secs(10), || {
        let mut b = Browser::of(&app);
        async move {
            let page = b.page("/").await;
            page.contains("PageProbe").then_some(page)
        }
    })
    .await;
    assert!(!overview.contains("<script>alert"), "{overview}");
    assert!(overview.contains("&#60;script&#62;") || overview.contains("&lt;script&gt;"));
    assert!(overview.len() < 150 * 1024);
    let list = b.page("/alerts?q=cdk").await;
    let at = list.find("href=\"/alerts/").expect("a link to the alert");
    let fp = &list[at + 14..at + 30];
    let page = b.page(&format!("/alerts/{fp}")).await;
    assert!(
        page.contains("a &#60;b&#62;bold") || page.contains("a &lt;b&gt;bold"),
        "{page}"
    );
    assert!(!page.contains("<b>bold"));
    // The silence form is prefilled with the alert's labels.
    assert!(
        page.contains("alertname=&#34;PageProbe&#34;")
            || page.contains("alertname=&quot;PageProbe&quot;"),
        "{page}"
    );
    let matchers = "alertname=\"PageProbe\"\nprovider=\"cdk\"";
    let r = b
        .post(
            "/silences",
            &[
                ("matchers", matchers),
                ("duration", "bogus"),
                ("comment", "maintenance"),
                ("fingerprint", fp),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text().await.unwrap().contains("duration:"),
        "the mistake is named"
    );
    let r = b
        .post(
            "/silences",
            &[
                ("matchers", matchers),
                ("duration", "1h"),
                ("comment", "maintenance"),
                ("fingerprint", fp),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let silences = app.get_json("/api/v2/silences").await;
    let s = &silences[0];
    assert_eq!(
        s["createdBy"], "anonymous",
        "without tokens, as the API records it"
    );
    let id = s["id"].as_str().unwrap().to_string();
    let listed = b.page("/silences").await;
    assert!(listed.contains(&format!("id=\"silence-{id}\"")), "{listed}");
    wait_for("the alert suppressed", Duration::from_secs(10), || async {
        let page = Browser::of(&app).page(&format!("/alerts/{fp}")).await;
        page.contains("<dd>suppressed</dd>").then_some(())
    })
    .await;
    // The notification's silence form takes no post without its CSRF token either.
    let r = b
        .post_raw(
            "/silences/new",
            &[
                ("matchers", matchers),
                ("duration", "1h"),
                ("created_by", "x"),
                ("comment", "y"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        app.get_json("/api/v2/silences")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = b.post(&format!("/silences/{id}/expire"), &[]).await;
    assert_eq!(r.status().as_u16(), 303);
    let silences = app.get_json("/api/v2/silences").await;
    assert_eq!(silences[0]["status"]["state"], "expired");
}

#[actix_web::test]
async fn with_tokens_the_pages_sign_in_to_a_session_holding_the_tokens_scopes() {
    let hash = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
    let app = spawn_app_with(Options {
        extra_config: format!(
            "[[api.tokens]]\nname = \"desk\"\ntoken_sha256 = \"{}\"\nscopes = [\"tickets:read\", \"tickets:write\"]\n",
            hash("desk-secret"),
        ),
        ..Options::default()
    })
    .await;
    let mut b = Browser::of(&app);
    // A browser without a session is sent to sign in, and back afterwards; an API client gets
    // the API's 401.
    let r = b.get("/tickets?status=open").await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers()["location"],
        "/login?next=%2Ftickets%3Fstatus%3Dopen"
    );
    let r = app.get("/tickets").await;
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["content-type"], "application/json");
    let login = b.page("/login?next=%2Ftickets%3Fstatus%3Dopen").await;
    assert!(login.contains("type=\"password\""));
    let r = b
        .post(
            "/login",
            &[("token", "wrong"), ("next", "/tickets?status=open")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(!b.cookies.contains_key("syncwatch_session"));
    let r = b
        .post(
            "/login",
            &[("token", "desk-secret"), ("next", "/tickets?status=open")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/tickets?status=open");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("syncwatch_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("desk-secret"));
    // The session holds the token's scopes: tickets yes, SLA no.
    let page = b.page("/tickets").await;
    assert!(page.contains(">desk</span>"), "who is signed in: {page}");
    let r = b.get("/sla").await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("lacks scope sla:read"));
    let overview = b.page("/").await;
    assert!(overview.contains("open L1") && !overview.contains("SLOs, least budget"));
    // Signing in returns only to this site.
    let r = b
        .post(
            "/login",
            &[("token", "desk-secret"), ("next", "//evil.example/")],
        )
        .await;
    assert_eq!(r.headers()["location"], "/");
    // A session reads the API but never changes anything through it (no CSRF check there).
    let r = b.get("/api/v1/tickets").await;
    assert_eq!(r.status().as_u16(), 200);
    let r = b
        .client
        .patch(format!("{}/api/v1/tickets/x", app.address))
        .header("cookie", b.cookie_header())
        .header("if-match", "*")
        .json(&json!({"assignee": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Signing out ends the session.
    let r = b.post("/logout", &[]).await;
    assert_eq!(r.status().as_u16(), 303);
    let r = b.get("/tickets").await;
    assert_eq!(r.status().as_u16(), 303, "sent to sign in again");
}

#[actix_web::test]
async fn the_sla_and_provider_pages_show_what_the_api_answers() {
    let (app, _slos) = crate::sla::app().await;
    // Three hours of cdk syncs, 2 of 100 failing each minute; xtime's all good.
    let store = app.store().await;
    let now = chrono::Utc::now().timestamp_millis() / 60_000 * 60_000;
    for k in (1..=180).rev() {
        let minute = now - k * 60_000;
        let tallies = [("cdk", 2.0), ("xtime", 0.0)].map(|(p, bad)| {
            (
                "t-syncs".to_string(),
                format!(r#"{{"provider":"{p}"}}"#),
                syncwatch::slo::Tally { bad, total: 100.0 },
            )
        });
        assert!(
            store
                .record_slo_minute(minute, &tallies, &jiff::tz::TimeZone::UTC)
                .await
                .unwrap()
        );
    }
    let mut b = Browser::of(&app);
    let api = app.get_json("/api/v1/sla").await;
    let page = b.page("/sla").await;
    let slos = api["slos"].as_array().unwrap();
    assert!(slos.len() >= 3, "{api}");
    for s in slos {
        let id = s["slo"].as_str().unwrap();
        let group: Vec<String> = s["group"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        let key = format!(">{id}</a></td><td>{}</td>", group.join(", "));
        let row = page
            .split("<tr class=\"status-")
            .find(|r| r.contains(&key))
            .unwrap_or_else(|| panic!("{key} in {page}"));
        for (class, value) in [
            ("attainment", s["attainment"].as_f64()),
            ("budget", s["error_budget"]["remaining_ratio"].as_f64()),
        ] {
            let cell = format!(
                "<td class=\"num {class}\">{}</td>",
                syncwatch::web::percent(value)
            );
            assert!(row.contains(&cell), "{cell} in {row}");
        }
    }
    // cdk spent more than its budget: first, breached, and the figures are not trivial.
    let cdk = &slos[0];
    assert_eq!(
        (&cdk["group"]["provider"], &cdk["status"]),
        (&json!("cdk"), &json!("breached"))
    );
    assert!(
        page.contains("<td class=\"num attainment\">98 %</td>"),
        "{page}"
    );
    // Filters in the URL.
    let breached = b.page("/sla?status=breached").await;
    assert_eq!(
        breached.matches("<tr class=\"status-").count(),
        1,
        "{breached}"
    );
    let xtime = b.page("/sla?q=xtime").await;
    assert!(xtime.contains("provider=xtime") && !xtime.contains("provider=cdk"));
    let bad = b.get("/sla?window=5d").await;
    assert_eq!(bad.status().as_u16(), 400);
    // An SLO split into groups lists them; each opens its own page.
    let groups = b.page("/sla/t-syncs").await;
    assert!(groups.contains("2 groups"), "{groups}");
    // An SLO of one group (no `by`, or no data yet) is drawn at once.
    let quiet = b.page("/sla/t-quiet").await;
    assert!(quiet.contains("<svg class=\"chart\""), "{quiet}");
    // Each row opens its group's page: the burn-down, 12 months and the CSV report.
    let at = page
        .find("<td><a href=\"/sla/")
        .expect("a row links its group");
    let href = &page[at + 13..];
    let href = href[..href.find('"').unwrap()].replace("&#38;", "&");
    let detail = b.page(&href).await;
    assert!(detail.contains("<svg class=\"chart\""), "{detail}");
    assert_eq!(
        detail.matches("<li class=\"").count(),
        12,
        "12 months: {detail}"
    );
    assert!(detail.contains("format=csv"));
    let missing = b.get("/sla/no-such-slo").await;
    assert_eq!(missing.status().as_u16(), 404);
    let provider = b.page("/providers/tekion").await;
    for c in ["dealer-001", "dealer-002"] {
        assert!(provider.contains(&format!(">{c}</a>")), "{provider}");
    }
    let one = b.page("/providers/tekion?q=002").await;
    assert!(
        one.contains(">dealer-002</a>") && !one.contains(">dealer-001</a>"),
        "{one}"
    );
    let missing = b.get("/providers/nope").await;
    assert_eq!(missing.status().as_u16(), 404);
}
