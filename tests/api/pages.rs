//! The built-in pages: HTML with a Content-Security-Policy, values escaped, runbook markdown
//! rendered and sanitised, the search box backed by the runbook lookup.

use super::helpers::spawn_app;

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
