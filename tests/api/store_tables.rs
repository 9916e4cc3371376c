//! Store contract tests for the tables beyond tickets and flushes (`store.rs`, `outbox.rs`):
//! each runs on SQLite and on PostgreSQL (skipped without it, failed in strict mode).

use std::collections::BTreeMap;

use syncwatch::domain::ErrorClass;
use syncwatch::store::{DeadLetter, DlqFilter, KeyState, Store, StoredRecord, SyncRun};

use super::store::{postgres, sqlite};

/// `sqlite` and `postgres` tests of a contract `async fn name(store: Store)`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    let (store, _dir) = super::sqlite().await;
                    super::$name(store).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(store) = super::postgres().await {
                        super::$name(store).await;
                    }
                }
            }
        )*
    };
}

on_both_databases!(
    sync_runs_list_newest_first_with_their_cursors,
    pauses_and_stream_cursors_are_kept,
    records_are_upserted_never_duplicated,
    dead_letters_are_listed_retried_and_removed,
    alert_states_are_replaced_per_rule,
    silences_and_slack_messages_are_replaced_in_place,
    an_idempotency_key_is_reserved_once_and_answered,
    comments_stay_with_their_ticket,
    a_webhook_cursor_starts_at_the_feed_end_and_moves_once,
    the_facts_of_the_figures_are_the_tickets_of_the_window,
    the_sli_history_sums_minutes_exactly_at_every_grain,
    an_answer_takes_one_outcome_and_vectors_are_kept_by_content,
);

fn run(id: &str, at: i64, error: Option<ErrorClass>) -> SyncRun {
    SyncRun {
        id: id.into(),
        provider: "cdk".into(),
        connection: "d1".into(),
        started_at_ms: at,
        finished_at_ms: at + 500,
        records: 7,
        pages: 2,
        error: error.map(|c| (c, "HTTP 401".to_string())),
        cursor_before: [("repair_orders".to_string(), format!("c{at}"))].into(),
        cursor_after: [("repair_orders".to_string(), format!("c{}", at + 1))].into(),
    }
}

async fn sync_runs_list_newest_first_with_their_cursors(store: Store) {
    for (id, at, error) in [
        ("r1", 1_000, None),
        ("r2", 2_000, Some(ErrorClass::Auth)),
        ("r3", 3_000, None),
    ] {
        store.insert_sync_run(&run(id, at, error)).await.unwrap();
    }
    let first = store.list_sync_runs("cdk", "d1", None, 2).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["r3", "r2"]);
    assert_eq!(
        first[1].error,
        Some((ErrorClass::Auth, "HTTP 401".to_string()))
    );
    assert_eq!(first[0].cursor_after["repair_orders"], "c3001");
    let last = &first[1];
    let rest = store
        .list_sync_runs("cdk", "d1", Some((last.started_at_ms, last.id.clone())), 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!((rest[0].id.as_str(), rest[0].records), ("r1", 7));
    assert!(
        store
            .list_sync_runs("cdk", "other", None, 5)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn pauses_and_stream_cursors_are_kept(store: Store) {
    store.set_paused("cdk", "d1", true, 1).await.unwrap();
    store.set_paused("cdk", "d1", true, 2).await.unwrap();
    store.set_paused("cdk", "d2", true, 3).await.unwrap();
    store.set_paused("cdk", "d2", false, 4).await.unwrap();
    assert_eq!(store.paused_connections("cdk").await.unwrap(), ["d1"]);
    assert!(store.paused_connections("tekion").await.unwrap().is_empty());
    store.save_cursor("cdk", "d1", "ro", "a", 1).await.unwrap();
    store.save_cursor("cdk", "d1", "ro", "b", 2).await.unwrap();
    store
        .save_cursor("cdk", "d1", "cust", "x", 3)
        .await
        .unwrap();
    store.save_cursor("cdk", "d2", "ro", "z", 4).await.unwrap();
    let cursors = store.load_cursors("cdk").await.unwrap();
    let want: BTreeMap<String, String> =
        [("cust".into(), "x".into()), ("ro".into(), "b".into())].into();
    assert_eq!(cursors["d1"], want, "the newest cursor of each stream");
    assert_eq!(cursors["d2"]["ro"], "z");
}

async fn records_are_upserted_never_duplicated(store: Store) {
    let record = |id: &str, connection: &str, payload: &str| StoredRecord {
        provider: "cdk".into(),
        stream: "ro".into(),
        record_id: id.into(),
        connection: connection.into(),
        payload: payload.into(),
    };
    store
        .upsert_records(
            &[
                record("1", "d1", r#"{"v":1}"#),
                record("2", "d1", r#"{"v":2}"#),
                record("1", "d1", r#"{"v":3}"#),
            ],
            1,
        )
        .await
        .unwrap();
    store
        .upsert_records(&[record("3", "d2", r#"{"v":4}"#)], 2)
        .await
        .unwrap();
    assert_eq!(store.count_records("cdk").await.unwrap(), 3);
    assert_eq!(
        store
            .count_records_of_connection("cdk", "d1")
            .await
            .unwrap(),
        2
    );
    let mut payloads = store.record_payloads("cdk", 10).await.unwrap();
    payloads.sort();
    assert_eq!(
        payloads,
        [r#"{"v":2}"#, r#"{"v":3}"#, r#"{"v":4}"#],
        "the last copy wins"
    );
}

async fn dead_letters_are_listed_retried_and_removed(store: Store) {
    let letter = |stream: &str, class: ErrorClass| DeadLetter {
        pipeline: "dms".into(),
        stage: "validate".into(),
        provider: "cdk".into(),
        connection: "d1".into(),
        stream: stream.into(),
        record: r#"{"id":1}"#.into(),
        error: "missing field".into(),
        error_class: class,
    };
    store
        .insert_dead_letters(&[letter("ro", ErrorClass::Schema)], 1_000)
        .await
        .unwrap();
    store
        .insert_dead_letters(
            &[
                letter("cust", ErrorClass::Schema),
                letter("ro", ErrorClass::Server),
            ],
            2_000,
        )
        .await
        .unwrap();
    assert_eq!(
        store.count_dead_letters("dms", "validate").await.unwrap(),
        3
    );
    let page = |f: DlqFilter| {
        let store = store.clone();
        async move { store.list_dead_letters(&f).await.unwrap() }
    };
    let (ro, next) = page(DlqFilter {
        stream: Some("ro".into()),
        limit: 1,
        ..Default::default()
    })
    .await;
    assert_eq!(ro.len(), 1);
    assert_eq!(ro[0].created_at_ms, 2_000, "newest first");
    let cursor = syncwatch::store::parse_cursor(&next.expect("a second page")).unwrap();
    let (older, next) = page(DlqFilter {
        stream: Some("ro".into()),
        cursor: Some(cursor),
        limit: 1,
        ..Default::default()
    })
    .await;
    assert_eq!((older[0].created_at_ms, next), (1_000, None));
    let (schema, _) = page(DlqFilter {
        error_class: Some(ErrorClass::Schema),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(schema.len(), 2);
    store
        .retry_failed_dead_letters(&[(
            older[0].id.clone(),
            ErrorClass::Client,
            "still wrong".into(),
        )])
        .await
        .unwrap();
    let (again, _) = page(DlqFilter {
        ids: vec![older[0].id.clone()],
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(again[0].attempts, older[0].attempts + 1);
    assert_eq!(
        (again[0].letter.error.as_str(), again[0].letter.error_class),
        ("still wrong", ErrorClass::Client)
    );
    store
        .delete_dead_letters(&[ro[0].id.clone(), older[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.count_dead_letters("dms", "validate").await.unwrap(),
        1
    );
}

async fn alert_states_are_replaced_per_rule(store: Store) {
    use syncwatch::domain::AlertState;
    use syncwatch::store::StoredAlert;
    let alert = |rule: &str, provider: &str, state: AlertState| StoredAlert {
        group: "syncs".into(),
        rule: rule.into(),
        labels: [("alertname", rule), ("provider", provider)]
            .into_iter()
            .collect(),
        annotations: [("summary".to_string(), "s".to_string())].into(),
        state,
        active_at_ms: 1_000,
        fired_at_ms: (state == AlertState::Firing).then_some(2_000),
        keep_firing_since_ms: None,
        value: 1.5,
    };
    let a = ("syncs".to_string(), "A".to_string());
    let b = ("syncs".to_string(), "B".to_string());
    store
        .replace_alert_states(&[
            (
                a.clone(),
                vec![
                    alert("A", "cdk", AlertState::Firing),
                    alert("A", "tekion", AlertState::Pending),
                ],
            ),
            (b.clone(), vec![alert("B", "cdk", AlertState::Firing)]),
        ])
        .await
        .unwrap();
    assert_eq!(store.load_alert_states().await.unwrap().len(), 3);
    // Rule A now has one alert; B is not named, so it keeps its own.
    store
        .replace_alert_states(&[(a, vec![alert("A", "cdk", AlertState::Firing)])])
        .await
        .unwrap();
    let mut loaded = store.load_alert_states().await.unwrap();
    loaded.sort_by(|x, y| {
        (&x.rule, x.labels.value("provider")).cmp(&(&y.rule, y.labels.value("provider")))
    });
    assert_eq!(
        loaded,
        [
            alert("A", "cdk", AlertState::Firing),
            alert("B", "cdk", AlertState::Firing)
        ]
    );
}

async fn silences_and_slack_messages_are_replaced_in_place(store: Store) {
    use syncwatch::domain::silence::{ApiMatcher, Silence};
    let silence = |comment: &str, updated: i64| {
        Silence::new(
            "s1".into(),
            vec![ApiMatcher {
                name: "provider".into(),
                value: "cdk".into(),
                is_regex: false,
                is_equal: true,
            }],
            1_000,
            9_000,
            "ana".into(),
            comment.into(),
            updated,
        )
        .unwrap()
    };
    store
        .save_silence(&silence("maintenance", 1))
        .await
        .unwrap();
    store
        .save_silence(&silence("longer maintenance", 2))
        .await
        .unwrap();
    let loaded = store.load_silences().await.unwrap();
    let got: Vec<(&str, &str, i64, i64)> = loaded
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.comment.as_str(),
                s.updated_at_ms,
                s.ends_at_ms,
            )
        })
        .collect();
    assert_eq!(got, [("s1", "longer maintenance", 2, 9_000)]);
    assert_eq!(loaded[0].api_matchers[0].value, "cdk");
    store
        .save_slack_message("oncall", "slack/0", "g1", "C1", "1.0", 1)
        .await
        .unwrap();
    store
        .save_slack_message("oncall", "slack/0", "g1", "C1", "2.0", 2)
        .await
        .unwrap();
    assert_eq!(
        store
            .slack_message("oncall", "slack/0", "g1")
            .await
            .unwrap(),
        Some(("C1".to_string(), "2.0".to_string()))
    );
    assert_eq!(
        store
            .slack_message("oncall", "slack/0", "g2")
            .await
            .unwrap(),
        None
    );
}

async fn an_idempotency_key_is_reserved_once_and_answered(store: Store) {
    assert_eq!(
        store
            .reserve_idempotency_key("k1", "desk POST /x", "h1", 1)
            .await
            .unwrap(),
        None,
        "reserved"
    );
    assert_eq!(
        store
            .reserve_idempotency_key("k1", "desk POST /x", "h1", 2)
            .await
            .unwrap(),
        Some(KeyState::InProgress {
            request_sha256: "h1".into()
        })
    );
    // Another caller's key of the same name is its own.
    assert_eq!(
        store
            .reserve_idempotency_key("k1", "other POST /x", "h9", 2)
            .await
            .unwrap(),
        None
    );
    store
        .answer_idempotency_key("k1", "desk POST /x", 201, "application/json", "{}")
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve_idempotency_key("k1", "desk POST /x", "h1", 3)
            .await
            .unwrap(),
        Some(KeyState::Answered {
            request_sha256: "h1".into(),
            status: 201,
            content_type: "application/json".into(),
            body: "{}".into()
        })
    );
    // A released reservation (a server error) can be taken again.
    store
        .release_idempotency_key("k1", "other POST /x")
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve_idempotency_key("k1", "other POST /x", "h9", 4)
            .await
            .unwrap(),
        None
    );
}

fn ticket(id: &str) -> syncwatch::domain::ticket::Ticket {
    use syncwatch::domain::ticket::{DedupKey, TicketPolicy, new_ticket};
    let alert = syncwatch::domain::Alert {
        labels: [("alertname", "A"), ("provider", "cdk")]
            .into_iter()
            .collect(),
        annotations: Default::default(),
        starts_at_ms: 1,
        ends_at_ms: None,
        value: None,
        generator_url: String::new(),
    };
    new_ticket(
        id.into(),
        &alert,
        DedupKey::from(id.to_string()),
        &TicketPolicy::default(),
        None,
        1_000,
    )
}

async fn comments_stay_with_their_ticket(store: Store) {
    store.create_ticket(&ticket("t1"), "a@1").await.unwrap();
    store.create_ticket(&ticket("t2"), "b@1").await.unwrap();
    store
        .add_comment("t1", "ana", "internal", "first", 2_000)
        .await
        .unwrap()
        .unwrap();
    store
        .add_comment("t1", "ben", "public", "second", 3_000)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .add_comment("nope", "ana", "internal", "x", 1)
            .await
            .unwrap()
            .is_none()
    );
    let comments = store.ticket_comments("t1").await.unwrap();
    let got: Vec<(&str, &str, &str)> = comments
        .iter()
        .map(|c| (c.actor.as_str(), c.visibility.as_str(), c.body.as_str()))
        .collect();
    assert_eq!(
        got,
        [("ana", "internal", "first"), ("ben", "public", "second")]
    );
    assert!(store.ticket_comments("t2").await.unwrap().is_empty());
    let kinds: Vec<String> = store
        .ticket_events("t1")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["created", "commented", "commented"]);
    assert_eq!(
        store.get_ticket("t1").await.unwrap().unwrap().version,
        1,
        "a comment does not change the ticket's ETag"
    );
}

async fn a_webhook_cursor_starts_at_the_feed_end_and_moves_once(store: Store) {
    store.create_ticket(&ticket("t1"), "a@1").await.unwrap();
    let end = store.last_ticket_event_seq().await.unwrap();
    assert!(end >= 1);
    let from = store.ticket_webhook_cursor("desk").await.unwrap();
    assert_eq!(from, end, "a new webhook gets the events from now on");
    store.create_ticket(&ticket("t2"), "b@1").await.unwrap();
    let to = store.last_ticket_event_seq().await.unwrap();
    assert!(
        store
            .forward_ticket_events("desk", from, to, &[])
            .await
            .unwrap()
    );
    assert!(
        !store
            .forward_ticket_events("desk", from, to, &[])
            .await
            .unwrap(),
        "a second forwarder from the same place does nothing"
    );
    assert_eq!(store.ticket_webhook_cursor("desk").await.unwrap(), to);
    assert_eq!(
        store.ticket_webhook_cursor("other").await.unwrap(),
        to,
        "each webhook has its own place"
    );
}

/// What the figures are computed from (`ticket_facts`) is the tickets of the window, with their
/// group, times, highest tier, breaches and problem, on tickets of every status.
async fn the_facts_of_the_figures_are_the_tickets_of_the_window(store: Store) {
    use syncwatch::domain::ticket::{DedupKey, SweepOutcome, TicketStatus, Tier};
    use syncwatch::domain::ticket_stats::summarise;
    use syncwatch::store::StatsGroup;
    for i in 0..60i64 {
        let mut t = ticket(&format!("f{i:02}"));
        // Keys repeat every 25 tickets; only the first 25 may still be active.
        t.dedup_key = DedupKey::from(format!("k{}", i % 25));
        t.provider = Some(["cdk", "tekion", "xtime"][(i % 3) as usize].to_string());
        t.created_at_ms = 1_000_000 + i * 1_000;
        let done = if i >= 25 { 2 + i % 2 } else { i % 4 };
        t.status = [
            TicketStatus::Open,
            TicketStatus::Acknowledged,
            TicketStatus::Resolved,
            TicketStatus::Closed,
        ][done as usize];
        if i % 3 != 0 || t.status == TicketStatus::Acknowledged {
            t.acknowledged_at_ms = Some(t.created_at_ms + (i * 104_729) % 50_000);
        }
        if done >= 2 {
            t.resolved_at_ms = Some(t.created_at_ms + (i * 7_919) % 100_000);
        }
        t.highest_tier = [Tier::L1, Tier::L1, Tier::L2, Tier::L3, Tier::L1][(i % 5) as usize];
        store.create_ticket(&t, "a@1").await.unwrap();
        if i % 6 == 0 || i % 7 == 0 {
            let mut breached = t.clone();
            breached.ack_breached_at_ms = (i % 6 == 0).then_some(t.created_at_ms + 1);
            breached.resolve_breached_at_ms = (i % 7 == 0).then_some(t.created_at_ms + 2);
            let outcome = SweepOutcome {
                ticket: breached,
                events: vec![],
                notify: vec![],
            };
            assert!(
                store
                    .apply_sweep(t.version, &outcome, &[], 5)
                    .await
                    .unwrap()
            );
        }
    }
    // Outside the window: counted by neither.
    let mut late = ticket("late");
    late.created_at_ms = 5_000_000;
    store.create_ticket(&late, "z@1").await.unwrap();

    // Reopened: resolved once, open again; counts as not resolved.
    let mut reopened = ticket("reopened");
    reopened.dedup_key = DedupKey::from("k-reopened".to_string());
    reopened.created_at_ms = 1_900_000;
    reopened.resolved_at_ms = Some(1_950_000);
    store.create_ticket(&reopened, "r@1").await.unwrap();
    // A key ticketed before the window and again in it: not a repeat within the window.
    let mut before = ticket("before");
    before.dedup_key = DedupKey::from("k-edge".to_string());
    before.created_at_ms = 500_000;
    before.status = TicketStatus::Closed;
    store.create_ticket(&before, "b@1").await.unwrap();
    let mut again = ticket("again");
    again.dedup_key = DedupKey::from("k-edge".to_string());
    again.created_at_ms = 1_950_000;
    store.create_ticket(&again, "b@2").await.unwrap();

    let (since, until) = (1_000_000, 2_000_000);
    let mut all = store.ticket_tallies(since, until, None).await.unwrap();
    assert_eq!(all.len(), 1, "one tally without a group");
    let (name, all) = all.pop().unwrap();
    assert_eq!(name, "", "no group");
    let all = summarise(all);
    // By hand over i in 0..60, the reopened one and the edge key's second: the late ticket and
    // the edge key's first are outside; breaches every 6th and 7th.
    assert_eq!(all.tickets, 62);
    assert_eq!(
        (all.sla_breaches.acknowledge, all.sla_breaches.resolve),
        (10, 9)
    );
    assert_eq!(
        all.by_status["open"], 9,
        "i < 25 with i % 4 == 0, the reopened and the edge key's"
    );
    assert_eq!(all.by_status["acknowledged"], 6);
    assert_eq!(all.by_status["resolved"] + all.by_status["closed"], 47);
    assert_eq!((all.escalated_to_l2, all.escalated_to_l3), (24, 12));
    assert_eq!(
        (all.repeat_tickets, all.repeated_keys),
        (35, 25),
        "i >= 25 repeat i - 25: keys k0..k24"
    );
    // The resolved: i in 25..60 and i < 25 with i % 4 in {2, 3}; their times by hand, with
    // their nearest-rank percentiles.
    let mut resolved: Vec<i64> = (0..60i64)
        .filter(|i| *i >= 25 || i % 4 >= 2)
        .map(|i| (i * 7_919) % 100_000)
        .collect();
    resolved.sort_unstable();
    let rt = &all.time_to_resolve;
    assert_eq!(rt.count, resolved.len());
    let mean = resolved.iter().sum::<i64>() as f64 / resolved.len() as f64 / 1000.0;
    assert!((rt.mean_seconds.unwrap() - mean).abs() < 1e-9);
    let rank = |p: f64| resolved[(p * resolved.len() as f64).ceil() as usize - 1] as f64 / 1000.0;
    assert_eq!(
        (rt.p50_seconds, rt.p90_seconds),
        (Some(rank(0.5)), Some(rank(0.9)))
    );
    let without_l3 = (0..60i64)
        .filter(|i| (*i >= 25 || i % 4 >= 2) && i % 5 != 3)
        .count();
    assert_eq!(all.resolved_without_l3, without_l3);
    // The acknowledged: every i not a multiple of 3, and the acknowledged multiples of 3.
    let acked: Vec<i64> = (0..60i64)
        .filter(|i| i % 3 != 0 || (*i < 25 && i % 4 == 1))
        .map(|i| (i * 104_729) % 50_000)
        .collect();
    assert_eq!(all.time_to_acknowledge.count, acked.len());

    let by_provider = store
        .ticket_tallies(since, until, Some(StatsGroup::Provider))
        .await
        .unwrap();
    let names: Vec<&str> = by_provider.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(
        names,
        ["cdk", "tekion", "xtime"],
        "ticket() has provider cdk"
    );
    let counts: Vec<usize> = by_provider.iter().map(|(_, t)| t.tickets).collect();
    assert_eq!(
        counts,
        [22, 20, 20],
        "the reopened and the edge key's are cdk's"
    );
    // A key's tickets (i, i + 25, i + 50) have providers i % 3, (i + 1) % 3 and (i + 2) % 3:
    // each repeat counts in its own provider, and the providers add up to the whole.
    let repeats: Vec<(usize, usize)> = by_provider
        .iter()
        .map(|(_, t)| (t.repeat_tickets, t.repeated_keys))
        .collect();
    // i in 25..60 by i % 3 (cdk 0, tekion 1, xtime 2), and the first repeats i in 25..50.
    let by_hand: Vec<(usize, usize)> = (0..3)
        .map(|p| {
            let of = |r: std::ops::Range<i64>| r.filter(|i| i % 3 == p).count();
            (of(25..60), of(25..50))
        })
        .collect();
    assert_eq!(repeats, by_hand);
}

async fn the_sli_history_sums_minutes_exactly_at_every_grain(store: Store) {
    use syncwatch::slo::Tally;
    use syncwatch::slo::history::{Grain, MINUTE_MS, locate, read_plan, sum};
    let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    // From 22:00 New York time on 31 October (EDT) to 06:00 UTC on 1 November: every minute
    // one sync of cdk, every 7th a failure; tekion only at the start.
    let (from, to) = (at("2026-11-01T02:00:00Z"), at("2026-11-01T06:00:00Z"));
    let mut bad = 0.0;
    let mut minute = from;
    while minute < to {
        let failed = ((minute - from) / MINUTE_MS) % 7 == 0;
        bad += f64::from(u8::from(failed));
        let mut tallies = vec![(
            "s-sync".to_string(),
            "provider=\"cdk\"".to_string(),
            Tally {
                bad: f64::from(u8::from(failed)),
                total: 1.0,
            },
        )];
        if minute == from {
            tallies.push((
                "s-sync".into(),
                "provider=\"tekion\"".into(),
                Tally {
                    bad: 0.5,
                    total: 2.5,
                },
            ));
        }
        assert!(
            store
                .record_slo_minute(minute, &tallies, &ny)
                .await
                .unwrap()
        );
        minute += MINUTE_MS;
    }
    // A minute is never counted twice.
    assert!(!store.record_slo_minute(from, &[], &ny).await.unwrap());
    assert_eq!(store.last_slo_minute().await.unwrap(), Some(to - MINUTE_MS));

    let rows = |grain| store.slo_history_rows(grain, from - 86_400_000 * 31, to, Some("s-sync"));
    let mut all = Vec::new();
    for g in Grain::ALL {
        for (key, r) in rows(g).await.unwrap() {
            if key.1 == "provider=\"cdk\"" {
                all.extend(r);
            }
        }
    }
    let minutes = (to - from) as f64 / MINUTE_MS as f64;
    // Each grain alone holds the whole: minutes, hours, days.
    for (grain, coarsest) in [(Grain::Minute, Grain::Minute), (Grain::Hour, Grain::Hour)] {
        let (plan, start) = read_plan(from, to, coarsest, &ny);
        assert_eq!(start, from);
        let t = sum(&all, &locate(&plan, &ny));
        assert_eq!((t.bad, t.total), (bad, minutes), "{grain:?}");
    }
    // October's last two hours (New York) and November's first two, read by the day: 31
    // October is not complete in the window's start, so the window from 1 November reads its
    // first day's hours.
    let nov = at("2026-11-01T04:00:00Z");
    let (plan, _) = read_plan(nov, to, Grain::Day, &ny);
    let t = sum(&all, &locate(&plan, &ny));
    let expected_bad = (0..240i64)
        .filter(|m| m % 7 == 0 && from + m * MINUTE_MS >= nov)
        .count() as f64;
    assert_eq!((t.bad, t.total), (expected_bad, 120.0));
    // Rows of the other group are apart and exact.
    let tekion = rows(Grain::Hour).await.unwrap();
    let tekion = &tekion[&("s-sync".to_string(), "provider=\"tekion\"".to_string())];
    assert_eq!(
        tekion[0].slots[2],
        Tally {
            bad: 0.5,
            total: 2.5
        }
    );

    // One group read by its key: its rows of every grain, none of the other group's.
    let one = store
        .slo_group_history(
            &Grain::ALL,
            from - 86_400_000 * 31,
            to,
            "s-sync",
            "provider=\"tekion\"",
        )
        .await
        .unwrap();
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        [&("s-sync".to_string(), "provider=\"tekion\"".to_string())]
    );
    let every = rows(Grain::Hour).await.unwrap();
    let hours: Vec<_> = one
        .values()
        .flatten()
        .filter(|r| r.grain == Grain::Hour)
        .collect();
    assert_eq!(
        hours.len(),
        every[&("s-sync".to_string(), "provider=\"tekion\"".to_string())].len()
    );
    assert_eq!(hours[0].slots, tekion[0].slots);

    // Minutes are dropped after 7 hours, hours after 35 days; days stay.
    let pruned = store.prune_slo_history(to + 8 * 3_600_000).await.unwrap();
    assert_eq!(pruned, 5, "four hours of cdk minute rows, and tekion's one");
    assert!(rows(Grain::Minute).await.unwrap().is_empty());
    assert!(!rows(Grain::Day).await.unwrap().is_empty());
}

async fn an_answer_takes_one_outcome_and_vectors_are_kept_by_content(store: Store) {
    use syncwatch::store::{StoredAnswer, new_id};
    let id = new_id();
    let a = StoredAnswer {
        id: id.clone(),
        created_at_ms: 1_000,
        question: "cdk 403 for a new dealer".into(),
        reporter: Some("desk".into()),
        provider: Some("cdk".into()),
        connection: None,
        confidence: 0.25,
        answer: "{}".into(),
        outcome: None,
        outcome_at_ms: None,
        ticket_id: None,
    };
    store.insert_answer(&a).await.unwrap();
    assert_eq!(store.get_answer(&id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_answer("nope").await.unwrap(), None);
    // The first outcome stands; one withdrawn before its ticket was written can be taken again;
    // once the ticket is noted it stays.
    assert!(
        store
            .set_answer_outcome(&id, "escalated", None, 2_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_answer_outcome(&id, "resolved", None, 2_500)
            .await
            .unwrap()
    );
    store.clear_answer_outcome(&id).await.unwrap();
    assert!(
        store
            .set_answer_outcome(&id, "escalated", None, 3_000)
            .await
            .unwrap()
    );
    store.set_answer_ticket(&id, "t-1").await.unwrap();
    store.clear_answer_outcome(&id).await.unwrap();
    let got = store.get_answer(&id).await.unwrap().unwrap();
    assert_eq!(
        (
            got.outcome.as_deref(),
            got.outcome_at_ms,
            got.ticket_id.as_deref()
        ),
        (Some("escalated"), Some(3_000), Some("t-1"))
    );
    // An answer left without feedback becomes unknown, once.
    let old = StoredAnswer {
        id: new_id(),
        created_at_ms: 10,
        ..a.clone()
    };
    store.insert_answer(&old).await.unwrap();
    assert!(store.expire_answers(100, 5_000).await.unwrap() >= 1);
    assert_eq!(
        store
            .get_answer(&old.id)
            .await
            .unwrap()
            .unwrap()
            .outcome
            .as_deref(),
        Some("unknown")
    );
    assert_eq!(
        store
            .get_answer(&id)
            .await
            .unwrap()
            .unwrap()
            .outcome
            .as_deref(),
        Some("escalated"),
        "a decided answer is not expired"
    );

    // Vectors by model and content hash: the first one stored for a hash stays.
    let model = format!("model-{}", new_id());
    store
        .put_embeddings(
            &model,
            &[("h1".into(), vec![0.5, -1.0]), ("h2".into(), vec![2.0])],
            1,
        )
        .await
        .unwrap();
    store
        .put_embeddings(&model, &[("h1".into(), vec![9.0])], 2)
        .await
        .unwrap();
    let got = store
        .embeddings(&model, &["h1".into(), "h2".into(), "h3".into()])
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got["h1"], vec![0.5, -1.0]);
    assert_eq!(got["h2"], vec![2.0]);
    assert!(
        store
            .embeddings("other-model", &["h1".into()])
            .await
            .unwrap()
            .is_empty()
    );
    // More hashes than one statement binds.
    let many: Vec<String> = (0..1_200).map(|i| format!("h{i}")).collect();
    assert_eq!(store.embeddings(&model, &many).await.unwrap().len(), 2);
}
