//! `GET /api/v1/sla`: figures computed from a known SLI history match the values worked out by
//! hand, bad windows are refused, and the running app counts its SLOs' minutes itself.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use syncwatch::slo::Tally;

use crate::helpers::{Options, spawn_app_with, wait_for};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// Two test SLOs: syncs per provider (on the app's real sync metric) and a timeslices SLO on a
/// metric that never exists.
const SLOS: &str = r#"version: prometheus/v1
service: t
slos:
  - name: syncs
    objective: 99.9
    by: [provider]
    sli:
      events:
        error_query: sum by (provider) (increase(syncwatch_sync_runs_total{status="failure"}[{{.window}}]))
        total_query: sum by (provider) (increase(syncwatch_sync_runs_total[{{.window}}]))
    alerting:
      name: TSyncBurn
  - name: quiet
    objective: 99
    sli:
      timeslices:
        bad_query: no_such_metric > bool 1
    alerting:
      name: TQuiet
"#;

/// The app with the test SLOs; the directory holding their file lives as long as the app.
pub(crate) async fn app() -> (crate::helpers::TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.yml");
    std::fs::write(&path, SLOS).unwrap();
    let app = spawn_app_with(Options {
        extra_config: format!("[slo]\nfiles = [\"{}\"]\n", path.display()),
        ..Options::default()
    })
    .await;
    (app, dir)
}

fn group<'a>(body: &'a Value, slo: &str, provider: Option<&str>) -> &'a Value {
    body["slos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slo"] == slo && provider.is_none_or(|p| s["group"]["provider"] == p))
        .unwrap_or_else(|| panic!("{slo} {provider:?} in {body}"))
}

#[actix_web::test]
async fn the_figures_of_a_known_history_are_the_ones_worked_out_by_hand() {
    let (mut app, _slos) = app().await;
    let store = app.store().await;
    let utc = jiff::tz::TimeZone::UTC;
    let now = chrono::Utc::now().timestamp_millis();
    let hour_now = now / HOUR * HOUR;
    // cdk: 1,000 syncs in one minute of each of the last 719 hours; outages of 20, 20 and 15
    // failed ones 24, 25 and 100 hours ago. xtime: 100 syncs an hour, a third failing in the
    // last 3 hours. Then 5 of 100 failing 10 minutes ago, for cdk.
    let mut seeded: Vec<(i64, &str, Tally)> = Vec::new();
    for h in (1..=719).rev() {
        let minute = hour_now - h * HOUR + 5 * MINUTE;
        let bad = match h {
            24 | 25 => 20.0,
            100 => 15.0,
            _ => 0.0,
        };
        seeded.push((minute, "cdk", Tally { bad, total: 1000.0 }));
        let xbad = if h <= 3 { 33.0 } else { 0.0 };
        seeded.push((
            minute,
            "xtime",
            Tally {
                bad: xbad,
                total: 100.0,
            },
        ));
    }
    let recent = now / MINUTE * MINUTE - 10 * MINUTE;
    seeded.push((
        recent,
        "cdk",
        Tally {
            bad: 5.0,
            total: 100.0,
        },
    ));
    let mut minutes: Vec<i64> = seeded.iter().map(|s| s.0).collect();
    minutes.dedup();
    for m in minutes {
        let tallies: Vec<_> = seeded
            .iter()
            .filter(|s| s.0 == m)
            .map(|(_, p, t)| {
                (
                    "t-syncs".to_string(),
                    format!(r#"{{"provider":"{p}"}}"#),
                    *t,
                )
            })
            .collect();
        assert!(store.record_slo_minute(m, &tallies, &utc).await.unwrap());
    }

    let body = app.get_json("/api/v1/sla?window=30d").await;
    assert_eq!(body["window"], "30d");
    assert_eq!(body["timezone"], "UTC");
    let end = chrono::DateTime::parse_from_rfc3339(body["end"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    // By hand, cdk: 719 × 1,000 + 100 events, 20 + 20 + 15 + 5 bad.
    let cdk = group(&body, "t-syncs", Some("cdk"));
    let (bad, total) = (60.0, 719_100.0);
    assert_eq!(cdk["events"]["bad"], bad);
    assert_eq!(cdk["events"]["total"], total);
    assert_eq!(cdk["events"]["unit"], "events");
    assert_eq!(cdk["objective"], 0.999);
    assert_eq!(cdk["attainment"].as_f64().unwrap(), 1.0 - bad / total);
    let budget = 0.001 * total;
    assert!((cdk["error_budget"]["total"].as_f64().unwrap() - budget).abs() < 1e-9);
    assert!((cdk["error_budget"]["remaining"].as_f64().unwrap() - (budget - bad)).abs() < 1e-9);
    assert!(
        (cdk["error_budget"]["remaining_ratio"].as_f64().unwrap() - (1.0 - bad / budget)).abs()
            < 1e-12
    );
    assert_eq!(cdk["error_budget"]["ratio"], 0.001);
    assert_eq!(cdk["status"], "ok");
    // Burn rates over what the seeded minutes put in the last hour and 6 hours before `end`.
    let burn = |p: &str, since: i64| {
        let (b, t) = seeded
            .iter()
            .filter(|s| s.1 == p && s.0 >= since && s.0 < end)
            .fold((0.0, 0.0), |(b, t), s| (b + s.2.bad, t + s.2.total));
        if t > 0.0 { (b / t) / 0.001 } else { 0.0 }
    };
    for (key, since) in [("1h", end - HOUR), ("6h", end - 6 * HOUR)] {
        assert!(
            (cdk["burn_rate"][key].as_f64().unwrap() - burn("cdk", since)).abs() < 1e-9,
            "{key}: {cdk}"
        );
    }
    // xtime overspent its budget: 99 of 71,900; first, before cdk; the quiet SLO has no data,
    // last, with no attainment.
    let xtime = group(&body, "t-syncs", Some("xtime"));
    assert_eq!(xtime["status"], "breached");
    assert!(xtime["error_budget"]["remaining"].as_f64().unwrap() < 0.0);
    let order: Vec<&str> = body["slos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["group"]["provider"]
                .as_str()
                .unwrap_or(s["slo"].as_str().unwrap())
        })
        .collect();
    assert_eq!(order, ["xtime", "cdk", "t-quiet"]);
    assert_eq!(body["total"], 3);
    assert_eq!(body["next_offset"], Value::Null);
    // Pages of the same order.
    let first = app.get_json("/api/v1/sla?window=30d&limit=1").await;
    assert_eq!(first["slos"].as_array().unwrap().len(), 1);
    assert_eq!(first["slos"][0]["group"]["provider"], "xtime");
    assert_eq!(
        (first["total"].as_u64(), first["next_offset"].as_u64()),
        (Some(3), Some(1))
    );
    let second = app
        .get_json("/api/v1/sla?window=30d&limit=1&offset=1")
        .await;
    assert_eq!(second["slos"][0]["group"]["provider"], "cdk");
    assert_eq!(second["next_offset"], 2);
    let quiet = group(&body, "t-quiet", None);
    assert_eq!(quiet["status"], "no_data");
    assert_eq!(quiet["attainment"], Value::Null);
    assert_eq!(quiet["events"]["unit"], "minutes");
    assert_eq!(quiet["error_budget"]["remaining_ratio"], 1.0);

    // The dashboards' gauges hold the same figures, per window.
    let catalog = syncwatch::slo::report::SloCatalog {
        slos: syncwatch::slo::spec::parse_slo_file(std::path::Path::new("t.yml"), SLOS).unwrap(),
        timezone: utc.clone(),
    };
    let gauges = syncwatch::slo::gauges::compute(&store, &catalog, end)
        .await
        .unwrap();
    let (_, labels, figures) = gauges
        .iter()
        .find(|(slo, labels, _)| {
            slo == "t-syncs" && labels.contains(&("provider".into(), "cdk".into()))
        })
        .unwrap();
    assert_eq!(labels.len(), 1, "the group's labels: provider");
    assert_eq!(figures.objective, 0.999);
    let window = |w: &str| {
        figures
            .windows
            .iter()
            .find(|(name, ..)| name == w)
            .cloned()
            .unwrap()
    };
    let (_, sli, burn_30d, remaining) = window("30d");
    assert_eq!(sli, Some(1.0 - bad / total));
    assert!((burn_30d - (bad / total) / 0.001).abs() < 1e-9);
    assert!((remaining - (1.0 - bad / budget)).abs() < 1e-12);
    let (_, _, burn_1h, _) = window("1h");
    assert!((burn_1h - burn("cdk", end - HOUR)).abs() < 1e-9);

    // A 7-day window holds the last 7 × 24 hours' minutes only.
    let week = app.get_json("/api/v1/sla?window=7d").await;
    let start = chrono::DateTime::parse_from_rfc3339(week["start"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let in_week: f64 = seeded
        .iter()
        .filter(|s| s.1 == "cdk" && s.0 >= start && s.0 < end)
        .map(|s| s.2.total)
        .sum();
    assert_eq!(
        group(&week, "t-syncs", Some("cdk"))["events"]["total"],
        in_week
    );
    // This month so far, in the calendar.
    let month = jiff::Timestamp::from_millisecond(now)
        .unwrap()
        .strftime("%Y-%m")
        .to_string();
    let m = app.get_json(&format!("/api/v1/sla?month={month}")).await;
    assert_eq!(m["window"], month.as_str());

    // One SLO's group with its days: they add up to the window, and the budget left at the
    // last day's end is the window's.
    let detail = app
        .get_json("/api/v1/sla/t-syncs?group=provider=cdk&window=30d")
        .await;
    let groups = detail["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["group"]["provider"], "cdk");
    let daily = groups[0]["daily"].as_array().unwrap();
    assert_eq!(
        daily.len(),
        31,
        "30 days and the part of a day since the hour 30 days ago"
    );
    let day_sum = |k: &str| daily.iter().map(|d| d[k].as_f64().unwrap()).sum::<f64>();
    assert_eq!((day_sum("bad"), day_sum("total")), (bad, total));
    let last = daily.last().unwrap();
    assert!(
        (last["budget_remaining_ratio"].as_f64().unwrap() - (1.0 - bad / budget)).abs() < 1e-12
    );
    assert_eq!(last["ideal_remaining_ratio"], 0.0);
    // A day has an attainment exactly when it had events; every whole day had a seeded minute
    // (the last, partial one may not yet); 24 and 25 hours ago's outages are in the last days.
    assert!(
        daily
            .iter()
            .all(|d| d["attainment"].is_number() == (d["total"].as_f64().unwrap() > 0.0))
    );
    assert!(
        daily[..30]
            .iter()
            .all(|d| d["total"].as_f64().unwrap() > 0.0)
    );
    assert!(
        daily
            .iter()
            .rev()
            .take(3)
            .any(|d| d["bad"].as_f64().unwrap() >= 20.0)
    );
    for (path, status) in [
        ("/api/v1/sla/nope", 404),
        ("/api/v1/sla/t-syncs?group=provider", 400),
        ("/api/v1/sla/t-syncs?group=provider=nowhere", 400),
    ] {
        assert_eq!(app.get(path).await.status(), status, "{path}");
    }

    // The history is the store's: a restart finds the same figures.
    app.restart();
    let again = app.get_json("/api/v1/sla?window=30d").await;
    let cdk_again = group(&again, "t-syncs", Some("cdk"));
    assert_eq!(cdk_again["events"], cdk["events"]);
    assert_eq!(cdk_again["status"], "ok");
}

#[actix_web::test]
async fn a_bad_window_is_refused_naming_it() {
    let (app, _slos) = app().await;
    for (query, needle) in [
        ("window=1d", "window: \"1d\": expected 7d, 28d or 30d"),
        ("month=2026-13", "month: \"2026-13\""),
        ("month=2026-Q4", "month: \"2026-Q4\" is not a month"),
        (
            "window=7d&month=2026-11",
            "give one of window, week, month or quarter",
        ),
        ("month=2099-01", "2099-01: the window has not begun"),
        ("quarterly=2026-Q4", "unknown field"),
        ("limit=0", "limit: 0 is not between 1 and 10000"),
        ("limit=10001", "limit: 10001 is not between 1 and 10000"),
    ] {
        let r = app.get(&format!("/api/v1/sla?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
    let q = app.get_json("/api/v1/sla?quarter=2026-Q4").await;
    assert_eq!(q["start"], "2026-10-01T00:00:00.000Z");
}

/// A minute's start and t-syncs' tallies in it: (provider, bad, total).
type SeededMinute<'a> = (i64, Vec<(&'a str, f64, f64)>);

/// Records the minutes, oldest first.
async fn seed(store: &syncwatch::store::Store, minutes: &[SeededMinute<'_>]) {
    for (m, tallies) in minutes {
        let tallies: Vec<_> = tallies
            .iter()
            .map(|(p, bad, total)| {
                (
                    "t-syncs".to_string(),
                    format!(r#"{{"provider":"{p}"}}"#),
                    Tally {
                        bad: *bad,
                        total: *total,
                    },
                )
            })
            .collect();
        assert!(
            store
                .record_slo_minute(*m, &tallies, &jiff::tz::TimeZone::UTC)
                .await
                .unwrap()
        );
    }
}

/// A resolved ticket of `provider`, created at `at` and resolved `after_s` seconds later.
async fn resolved_ticket(
    store: &syncwatch::store::Store,
    id: &str,
    provider: &str,
    at: i64,
    after_s: i64,
) {
    use syncwatch::domain::ticket::{DedupKey, TicketPolicy, new_ticket};
    let alert = syncwatch::domain::Alert {
        labels: [("alertname", "SomeAlert"), ("provider", provider)]
            .into_iter()
            .collect(),
        annotations: Default::default(),
        starts_at_ms: at,
        ends_at_ms: None,
        value: None,
        generator_url: String::new(),
    };
    let t = new_ticket(
        id.into(),
        &alert,
        DedupKey::from(id.to_string()),
        &TicketPolicy::default(),
        None,
        at,
    );
    store.create_ticket(&t, &format!("{id}@1")).await.unwrap();
    assert!(
        store
            .resolve_ticket(id, at + after_s * 1000, "fixed")
            .await
            .unwrap()
    );
}

/// The monthly report: per group, the month's figures, its tickets and MTTR, and 12 months met
/// or not, worked out by hand; as JSON and as CSV.
#[actix_web::test]
async fn the_monthly_report_gives_each_group_its_month_tickets_and_year() {
    let (app, _slos) = app().await;
    let store = app.store().await;
    let utc = jiff::tz::TimeZone::UTC;
    let now = jiff::Timestamp::now().to_zoned(utc.clone());
    let this_month = now.date().first_of_month();
    let report_month = this_month.checked_sub(jiff::ToSpan::months(1)).unwrap();
    let before = this_month.checked_sub(jiff::ToSpan::months(2)).unwrap();
    let noon = |d: jiff::civil::Date, day: i8| {
        d.with()
            .day(day)
            .build()
            .unwrap()
            .at(12, 0, 0, 0)
            .to_zoned(utc.clone())
            .unwrap()
            .timestamp()
            .as_millisecond()
    };
    // The month before: cdk met (no failures). The report's month: cdk 40 bad of 28,000 (a
    // budget of 28: missed), xtime 1 bad of 2,800 (a budget of 2.8: met, a third spent).
    let mut minutes = Vec::new();
    for day in 1..=28 {
        minutes.push((noon(before, day), vec![("cdk", 0.0, 1000.0)]));
    }
    for day in 1..=28 {
        let cdk_bad = if day == 5 { 40.0 } else { 0.0 };
        let x_bad = if day == 3 { 1.0 } else { 0.0 };
        minutes.push((
            noon(report_month, day),
            vec![("cdk", cdk_bad, 1000.0), ("xtime", x_bad, 100.0)],
        ));
    }
    seed(&store, &minutes).await;
    // cdk's tickets of the month, resolved in 10 and 30 minutes (MTTR 20 minutes); one of the
    // month before does not count.
    resolved_ticket(&store, "r1", "cdk", noon(report_month, 2), 600).await;
    resolved_ticket(&store, "r2", "cdk", noon(report_month, 3), 1800).await;
    resolved_ticket(&store, "r0", "cdk", noon(before, 3), 60).await;

    let month = report_month.strftime("%Y-%m").to_string();
    let body = app
        .get_json(&format!("/api/v1/sla/report?month={month}"))
        .await;
    assert_eq!(body["month"], month.as_str());
    assert_eq!(body["complete"], true);
    let months = body["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    assert_eq!(months[11], month.as_str());
    assert_eq!(months[10], before.strftime("%Y-%m").to_string().as_str());
    let row = |slo: &str, provider: Option<&str>| {
        body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["slo"] == slo && provider.is_none_or(|p| r["group"]["provider"] == p))
            .unwrap_or_else(|| panic!("{slo} {provider:?} in {body}"))
            .clone()
    };
    let cdk = row("t-syncs", Some("cdk"));
    assert_eq!(cdk["total"], 28_000.0);
    assert_eq!(cdk["bad"], 40.0);
    assert_eq!(cdk["attainment"].as_f64().unwrap(), 1.0 - 40.0 / 28_000.0);
    assert_eq!(cdk["met"], false);
    assert_eq!(cdk["status"], "breached");
    assert!((cdk["budget_consumed_ratio"].as_f64().unwrap() - 40.0 / 28.0).abs() < 1e-9);
    assert_eq!(cdk["tickets"], 2);
    assert_eq!(cdk["tickets_scope"], "provider");
    assert_eq!(cdk["mttr_seconds"], 1200.0);
    let history = cdk["history"].as_array().unwrap();
    assert_eq!(history[11]["met"], false);
    assert_eq!(history[10]["met"], true);
    assert_eq!(history[10]["attainment"], 1.0);
    assert!(history[..10].iter().all(|m| m["met"].is_null()));
    let xtime = row("t-syncs", Some("xtime"));
    assert_eq!(xtime["met"], true);
    assert!((xtime["budget_consumed_ratio"].as_f64().unwrap() - 1.0 / 2.8).abs() < 1e-9);
    assert_eq!(xtime["tickets"], 0);
    assert_eq!(xtime["mttr_seconds"], Value::Null);
    let quiet = row("t-quiet", None);
    assert_eq!(quiet["met"], Value::Null);
    assert_eq!(quiet["status"], "no_data");
    assert_eq!(quiet["tickets_scope"], "slo_alerts");

    // The monthly gauges say the same.
    let catalog = syncwatch::slo::report::SloCatalog {
        slos: syncwatch::slo::spec::parse_slo_file(std::path::Path::new("t.yml"), SLOS).unwrap(),
        timezone: utc.clone(),
    };
    let gauges =
        syncwatch::slo::gauges::compute_months(&store, &catalog, now.timestamp().as_millisecond())
            .await
            .unwrap();
    let (_, _, cdk_months) = gauges
        .iter()
        .find(|(slo, labels, _)| {
            slo == "t-syncs" && labels.contains(&("provider".into(), "cdk".into()))
        })
        .unwrap();
    assert_eq!(cdk_months.len(), 12);
    assert_eq!(cdk_months[11].0, this_month.strftime("%Y-%m").to_string());
    assert_eq!(cdk_months[10], (month.clone(), Some(false)));
    assert_eq!(cdk_months[9].1, Some(true));

    // By default, the month before this one.
    assert_eq!(
        app.get_json("/api/v1/sla/report").await["month"],
        month.as_str()
    );

    // The same as CSV: a column per month, `met`/`missed`/`no_data`.
    let r = app
        .get(&format!("/api/v1/sla/report?month={month}&format=csv"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with(
            "month,slo,service,name,provider,connection,group,objective,status,attainment,met"
        ),
        "{header}"
    );
    assert!(
        header.ends_with(&format!(",{}", months[11].as_str().unwrap())),
        "{header}"
    );
    let line = lines.find(|l| l.contains(",cdk,")).unwrap();
    assert!(
        line.starts_with(&format!(
            "{month},t-syncs,t,syncs,cdk,,provider=cdk,0.999,breached,"
        )),
        "{line}"
    );
    assert!(line.ends_with(",2,provider,1200,no_data,no_data,no_data,no_data,no_data,no_data,no_data,no_data,no_data,no_data,met,missed"), "{line}");

    for (query, needle) in [
        ("month=2026-13", "month: \"2026-13\" is not a month"),
        ("month=30d", "is not a month"),
        ("month=2099-01", "2099-01 has not begun"),
        ("format=xml", "format: \"xml\" is not json or csv"),
        ("year=2026", "unknown field"),
    ] {
        let r = app.get(&format!("/api/v1/sla/report?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
}

/// An SLO burning its budget: both tiers fire from the gauges, the page tier holds back the
/// ticket tier (Alertmanager's inhibition), and the SLA answer lists the alerts and the ticket.
#[actix_web::test]
async fn a_burning_slo_fires_its_tiers_and_the_page_holds_back_the_ticket() {
    let (mut app, _slos) = app().await;
    let store = app.store().await;
    // Half of cdk's syncs failing for the last two hours: a burn rate of 500 over every window.
    let last = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE - MINUTE;
    let minutes: Vec<_> = (0..120)
        .rev()
        .map(|i| (last - i * MINUTE, vec![("cdk", 50.0, 100.0)]))
        .collect();
    seed(&store, &minutes).await;
    // The gauges are computed at start, from the store.
    app.restart();
    let alerts = wait_for("both tiers firing", Duration::from_secs(60), || async {
        let all = app.get_json("/api/v1/alerts").await;
        let tiers: Vec<Value> = all["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["name"] == "TSyncBurn" && a["state"] == "firing")
            .cloned()
            .collect();
        (tiers.len() == 2).then_some(tiers)
    })
    .await;
    for a in &alerts {
        assert_eq!(a["labels"]["slo"], "t-syncs");
        assert_eq!(a["labels"]["provider"], "cdk");
        assert!((a["value"].as_f64().unwrap() - 500.0).abs() < 1e-6, "{a}");
    }
    let mut tiers: Vec<&str> = alerts
        .iter()
        .map(|a| a["labels"]["burn_tier"].as_str().unwrap())
        .collect();
    tiers.sort();
    assert_eq!(tiers, ["page", "ticket"]);
    // The ticket tier is inhibited by the page tier; the page is ticketed.
    let held = wait_for(
        "the ticket tier inhibited",
        Duration::from_secs(30),
        || async {
            let am = app.get_json("/api/v2/alerts").await;
            am.as_array()
                .unwrap()
                .iter()
                .find(|a| a["labels"]["burn_tier"] == "ticket")
                .filter(|a| !a["status"]["inhibitedBy"].as_array().unwrap().is_empty())
                .cloned()
        },
    )
    .await;
    assert_eq!(held["status"]["state"], "suppressed");
    let ticket = wait_for("the page's ticket", Duration::from_secs(30), || async {
        let page = app
            .get_json("/api/v1/tickets?alertname=TSyncBurn&status=open")
            .await;
        page["tickets"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!(ticket["labels"]["burn_tier"], "page");
    let sla = app.get_json("/api/v1/sla?window=7d").await;
    let cdk = group(&sla, "t-syncs", Some("cdk"));
    let mut listed: Vec<&str> = cdk["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["burn_tier"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, ["page", "ticket"]);
    assert_eq!(cdk["tickets"][0]["id"], ticket["id"]);
    assert_eq!(cdk["tickets"][0]["status"], "open");
    // Another SLO's group lists none of them.
    let quiet = group(&sla, "t-quiet", None);
    assert!(quiet["alerts"].as_array().unwrap().is_empty());
    assert!(quiet["tickets"].as_array().unwrap().is_empty());
}

/// Syncs of a provider in one minute: (successes, failures).
fn syncs_at(provider: &str, minute: i64, end: i64) -> (u64, u64) {
    // A batch every 10 minutes, at minute 7 of each ten: never at a window's edge on the hour,
    // and one in the last 5 minutes before it.
    if minute.rem_euclid(10) != 7 {
        return (0, 0);
    }
    let ago = end / MINUTE - minute;
    match provider {
        // All failing for two hours 27 days before the end, half failing 20 hours before it,
        // 3 of 10 in the last 40 minutes.
        "cdk" if (27 * 1440 - 120..27 * 1440).contains(&ago) => (0, 10),
        "cdk" if (20 * 60 - 120..20 * 60).contains(&ago) => (5, 5),
        "cdk" if ago < 40 => (7, 3),
        "cdk" => (10, 0),
        // One of five failing every seventh batch.
        _ if (minute / 10) % 7 == 0 => (4, 1),
        _ => (5, 0),
    }
}

/// The shipped sync success SLO, counted by syncwatch from scraped counters and by a real
/// Prometheus with the rules `syncwatch slo generate` writes, over the same 31 days of samples:
/// the error ratios of every window agree within 0.01 percentage points.
#[actix_web::test]
async fn syncwatch_and_prometheus_agree_on_the_same_samples() {
    use syncwatch::domain::Labels;
    use syncwatch::rules::series::SeriesStore;
    use syncwatch::slo::recorder::SliRecorder;
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_err()
    {
        crate::helpers::skip_or_fail("promtool is not installed (apt-get install prometheus)");
        return;
    }
    let path = crate::helpers::repo().join("slos/syncwatch.yml");
    let slos: Vec<_> =
        syncwatch::slo::spec::parse_slo_file(&path, &std::fs::read_to_string(&path).unwrap())
            .unwrap()
            .into_iter()
            .filter(|s| s.id == "syncwatch-sync-success")
            .collect();
    assert_eq!(slos.len(), 1);
    // The end: midnight UTC, 2026-10-01; samples from 31 days before, every minute.
    let end: i64 = 1_790_812_800_000;
    let start = end - 31 * 24 * HOUR;
    let (store, _dir) = super::store::sqlite().await;
    let utc = jiff::tz::TimeZone::UTC;
    let mut series = SeriesStore::new(10 * MINUTE, MINUTE);
    let recorder = SliRecorder::new(&slos);
    let mut totals: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut openmetrics = String::from("# TYPE syncwatch_sync_runs counter\n");
    let mut recorded = 0;
    let mut t = start;
    while t <= end {
        // The counters as scraped at `t`, after the previous minute's syncs.
        for provider in ["cdk", "xtime"] {
            let (ok, failed) = syncs_at(provider, t / MINUTE - 1, end);
            for (status, n) in [("success", ok), ("failure", failed)] {
                let v = totals.entry((provider, status)).or_default();
                if t > start {
                    *v += n;
                }
                let labels: Labels = [("provider", provider), ("status", status)]
                    .into_iter()
                    .collect();
                series.push("syncwatch_sync_runs_total", &labels, t, *v as f64);
                openmetrics.push_str(&format!(
                    "syncwatch_sync_runs_total{{provider=\"{provider}\",status=\"{status}\"}} {v} {}\n",
                    t / 1000
                ));
            }
        }
        if t > start {
            let minute = t - MINUTE;
            let tallies = recorder.tally(minute, &series);
            if tallies.iter().any(|(_, _, tally)| tally.total > 0.0) {
                assert!(
                    store
                        .record_slo_minute(minute, &tallies, &utc)
                        .await
                        .unwrap()
                );
                recorded += 1;
            }
        }
        series.prune(t);
        t += MINUTE;
    }
    openmetrics.push_str("# EOF\n");
    assert!(recorded > 4000, "{recorded} minutes with syncs");

    // syncwatch's figures at the end, per window.
    let catalog = syncwatch::slo::report::SloCatalog {
        slos: slos.clone(),
        timezone: utc.clone(),
    };
    let ours = syncwatch::slo::gauges::compute(&store, &catalog, end)
        .await
        .unwrap();

    // Prometheus over the same samples, with the generated recording rules' expressions.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("samples.om");
    std::fs::write(&input, &openmetrics).unwrap();
    crate::helpers::promtool(
        &[
            "tsdb".as_ref(),
            "create-blocks-from".as_ref(),
            "openmetrics".as_ref(),
            "--quiet".as_ref(),
            input.as_os_str(),
            dir.path().join("tsdb").as_os_str(),
        ],
        None,
    );
    let Some(prometheus) = crate::helpers::PrometheusServer::start(
        dir.path(),
        "global: {}\n",
        &["--storage.tsdb.retention.time=36500d"],
    ) else {
        crate::helpers::skip_or_fail("prometheus is not installed (apt-get install prometheus)");
        return;
    };
    let rules: serde_norway::Value =
        serde_norway::from_str(&syncwatch::slo::generate::rule_file(&slos)).unwrap();
    let recording = |window: &str| -> String {
        rules["groups"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_sequence().unwrap())
            .find(|r| r["record"].as_str() == Some(&format!("slo:sli_error:ratio_rate{window}")))
            .and_then(|r| r["expr"].as_str())
            .unwrap()
            .to_string()
    };
    let mut compared = 0;
    for window in syncwatch::slo::gauges::WINDOWS {
        let expr = recording(window);
        let theirs = wait_for("Prometheus' answer", Duration::from_secs(30), || async {
            prometheus
                .query_at(&expr, Some(end / 1000))
                .await
                .filter(|r| r.len() == 2)
        })
        .await;
        for provider in ["cdk", "xtime"] {
            let prom: f64 = theirs
                .iter()
                .find(|s| s["metric"]["provider"] == provider)
                .and_then(|s| s["value"][1].as_str()?.parse().ok())
                .unwrap_or_else(|| panic!("{window} {provider}: {theirs:?}"));
            let (_, _, figures) = ours
                .iter()
                .find(|(_, labels, _)| labels.contains(&("provider".into(), provider.into())))
                .unwrap();
            let (_, _, burn, _) = figures.windows.iter().find(|(w, ..)| w == window).unwrap();
            // The gauges give the burn rate: the error ratio over the budget, 0.001.
            let ratio = burn * 0.001;
            assert!(
                (ratio - prom).abs() < 1e-4,
                "{window} {provider}: syncwatch {ratio}, Prometheus {prom}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 16);
    // The outages are in the figures: cdk burns over the last hour, and over 30 days.
    let cdk_30d = ours
        .iter()
        .find(|(_, labels, _)| labels.contains(&("provider".into(), "cdk".into())))
        .unwrap()
        .2
        .windows
        .iter()
        .find(|(w, ..)| w == "30d")
        .unwrap()
        .2;
    assert!(cdk_30d > 1.0, "{cdk_30d}");
}

/// The ledger's running sums, moved minute by minute across hour boundaries (day windows
/// losing their oldest hour), equal the sums loaded from the store at every step.
#[actix_web::test]
async fn the_ledger_kept_minute_by_minute_equals_the_stored_history() {
    use syncwatch::slo::ledger::{DAY_WINDOWS, Ledger, MINUTE_WINDOWS};
    let (store, _dir) = super::store::sqlite().await;
    let utc = jiff::tz::TimeZone::UTC;
    let start: i64 = 1_790_812_800_000;
    let tallies = |m: i64| -> Vec<(String, String, Tally)> {
        let k = m / MINUTE;
        ["a", "b"]
            .iter()
            .enumerate()
            .filter(|(i, _)| (k + *i as i64) % 7 == 0 || k % 11 == 0)
            .map(|(i, g)| {
                (
                    "s-x".to_string(),
                    format!(r#"{{"provider":"{g}"}}"#),
                    Tally {
                        bad: ((k + i as i64) % 3) as f64,
                        total: 10.0 + (k % 5) as f64,
                    },
                )
            })
            .collect()
    };
    // 31 days of minutes with events, then the ledger follows three hours more.
    let middle = start + 31 * 24 * HOUR - 17 * MINUTE;
    let mut m = start;
    while m < middle {
        let t = tallies(m);
        if !t.is_empty() {
            assert!(store.record_slo_minute(m, &t, &utc).await.unwrap());
        }
        m += MINUTE;
    }
    let mut ledger = Ledger::load(&store, middle).await.unwrap();
    let windows: Vec<&str> = MINUTE_WINDOWS
        .iter()
        .chain(&DAY_WINDOWS)
        .map(|(w, _)| *w)
        .collect();
    let mut checked = 0;
    for m in (middle..middle + 3 * HOUR).step_by(MINUTE as usize) {
        let t = tallies(m);
        assert!(store.record_slo_minute(m, &t, &utc).await.unwrap());
        ledger.add_minute(&store, m, &t).await.unwrap();
        assert_eq!(ledger.end_ms(), m + MINUTE);
        // Every hour boundary, and a few minutes around it, against a fresh load.
        if (m + MINUTE) % HOUR < 3 * MINUTE || (m + MINUTE) % HOUR > HOUR - 3 * MINUTE {
            let fresh = Ledger::load(&store, m + MINUTE).await.unwrap();
            for g in [r#"{"provider":"a"}"#, r#"{"provider":"b"}"#] {
                for w in &windows {
                    assert_eq!(
                        ledger.window("s-x", g, w),
                        fresh.window("s-x", g, w),
                        "{w} of {g} at {m}"
                    );
                }
            }
            checked += 1;
        }
    }
    // Hour boundaries crossed: 3, each with its minutes around it; the data starting 31 days
    // back, every day window lost an hour with events at each.
    assert!(checked >= 15, "{checked}");
}

/// The running app counts its SLOs' minutes from its own series: the test app syncs tekion, so
/// within two minute boundaries its sync SLO has events.
#[actix_web::test]
async fn the_app_counts_its_slos_minutes_from_its_own_metrics() {
    let (app, _slos) = app().await;
    let counted = wait_for(
        "tekion's sync minutes counted",
        Duration::from_secs(150),
        || async {
            let body = app.get_json("/api/v1/sla?window=7d").await;
            body["slos"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["slo"] == "t-syncs" && s["group"]["provider"] == "tekion")
                .filter(|s| s["events"]["total"].as_f64().unwrap_or(0.0) > 0.0)
                .cloned()
        },
    )
    .await;
    assert!(counted["events"]["bad"].as_f64().unwrap() >= 0.0);
    assert!(app.store().await.last_slo_minute().await.unwrap().is_some());
    // The gauges follow a few seconds after each minute; the events counter at once.
    let metrics = wait_for("the SLO gauges", Duration::from_secs(75), || async {
        let m = app.metrics().await;
        m.contains(r#"syncwatch_slo_burn_rate{slo="t-syncs",window="30d",provider="tekion"}"#)
            .then_some(m)
    })
    .await;
    assert!(
        metrics.contains(r#"syncwatch_slo_objective_ratio{slo="t-syncs",provider="tekion"} 0.999"#)
    );
    assert!(metrics.contains(r#"syncwatch_slo_events_total{slo="t-syncs",outcome="good"}"#));
}

/// `syncwatch slo generate` writes rules Prometheus' own checker accepts, for every shipped SLO.
#[test]
fn the_generated_rule_file_passes_promtool() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"))
        .args(["slo", "generate", "--config"])
        .arg(crate::helpers::repo().join("syncwatch.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "sync-success",
        "data-freshness",
        "pipeline-delivery",
        "pipeline-latency",
    ] {
        assert!(text.contains(&format!("slo-alerts-syncwatch-{id}")), "{id}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slo-rules.yml");
    std::fs::write(&file, &text).unwrap();
    crate::helpers::promtool(
        &["check".as_ref(), "rules".as_ref(), file.as_os_str()],
        None,
    );
}
