//! Store contract tests, run against SQLite and (when reachable) PostgreSQL.

use syncwatch::domain::Alert;
use syncwatch::domain::ticket::{DedupKey, TicketPolicy, TicketStatus, new_ticket};
use syncwatch::store::{Store, StoreError, TicketFilter, new_id};

use super::helpers::postgres_database;

/// A fresh SQLite store in a temporary directory (kept while the directory lives).
pub(super) async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    (store, dir)
}

/// A fresh database on the local PostgreSQL, or `None` (skipped) when it is not reachable.
pub(super) async fn postgres() -> Option<Store> {
    let url = postgres_database().await?;
    Some(Store::connect(&url).await.unwrap())
}

fn alert(provider: &str) -> Alert {
    Alert {
        labels: [
            ("alertname", "ProviderAuthFailing"),
            ("provider", provider),
            ("severity", "critical"),
        ]
        .into_iter()
        .collect(),
        annotations: Default::default(),
        starts_at_ms: 1_000,
        ends_at_ms: None,
        value: Some(1.0),
        generator_url: String::new(),
    }
}

async fn one_active_ticket_per_dedup_key(store: &Store) {
    let a = alert("cdk");
    let key = DedupKey::from_labels(&a.labels, &TicketPolicy::default().dedup_by);
    let t1 = new_ticket(
        new_id(),
        &a,
        key.clone(),
        &TicketPolicy::default(),
        None,
        1_000,
    );
    store.create_ticket(&t1, "occ-1").await.unwrap();
    let t2 = new_ticket(
        new_id(),
        &a,
        key.clone(),
        &TicketPolicy::default(),
        None,
        2_000,
    );
    assert!(
        matches!(
            store.create_ticket(&t2, "occ-2").await,
            Err(StoreError::Conflict(_))
        ),
        "the database refuses a second active ticket"
    );
    // Occurrences count once per alert instance.
    assert!(store.add_occurrence(&t1.id, "occ-2", 3_000).await.unwrap());
    assert!(!store.add_occurrence(&t1.id, "occ-2", 3_001).await.unwrap());
    let got = store.get_ticket(&t1.id).await.unwrap().unwrap();
    assert_eq!(got.occurrences, 2);
    assert_eq!(
        got,
        Ticket {
            occurrences: 2,
            updated_at_ms: 3_000,
            version: 2,
            ..t1.clone()
        },
        "every change moves the version (the ETag)"
    );
    // Once resolved, a new active ticket for the key is allowed.
    assert!(
        store
            .resolve_ticket(&t1.id, 4_000, "cleared")
            .await
            .unwrap()
    );
    assert!(
        !store.resolve_ticket(&t1.id, 4_001, "again").await.unwrap(),
        "resolving twice is a no-op"
    );
    store.create_ticket(&t2, "occ-3").await.unwrap();
    assert_eq!(
        store.active_ticket(key.as_str()).await.unwrap().unwrap().id,
        t2.id
    );
    assert_eq!(
        store
            .last_inactive_ticket(key.as_str())
            .await
            .unwrap()
            .unwrap()
            .status,
        TicketStatus::Resolved
    );
    assert_eq!(
        store.ticket_for_occurrence("occ-3").await.unwrap(),
        Some(t2.id.clone())
    );
}

async fn pages_are_newest_first_without_gaps(store: &Store) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let a = alert(&format!("p{i}"));
        let key = DedupKey::from_labels(&a.labels, &TicketPolicy::default().dedup_by);
        let t = new_ticket(
            new_id(),
            &a,
            key,
            &TicketPolicy::default(),
            None,
            10_000 + i,
        );
        store.create_ticket(&t, &format!("o{i}")).await.unwrap();
        ids.push(t.id);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_tickets(&TicketFilter {
                cursor: cursor.clone(),
                limit: 2,
                ..TicketFilter::default()
            })
            .await
            .unwrap();
        seen.extend(page.tickets.iter().map(|t| t.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = syncwatch::store::parse_cursor(&c),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
}

use syncwatch::domain::ticket::Ticket;

#[actix_web::test]
async fn sqlite_keeps_one_active_ticket_per_key() {
    let (store, _dir) = sqlite().await;
    one_active_ticket_per_dedup_key(&store).await;
}

#[actix_web::test]
async fn sqlite_pages_tickets() {
    let (store, _dir) = sqlite().await;
    pages_are_newest_first_without_gaps(&store).await;
}

#[actix_web::test]
async fn postgres_keeps_one_active_ticket_per_key() {
    if let Some(store) = postgres().await {
        one_active_ticket_per_dedup_key(&store).await;
    }
}

#[actix_web::test]
async fn postgres_pages_tickets() {
    if let Some(store) = postgres().await {
        pages_are_newest_first_without_gaps(&store).await;
    }
}

async fn a_flush_stores_its_rows_and_log_entry_together(store: &Store) {
    use syncwatch::domain::Fingerprint;
    use syncwatch::store::{NotificationLogEntry, OutboxRow};
    let row = |id: &str| OutboxRow {
        kind: Default::default(),
        id: id.into(),
        receiver: "oncall".into(),
        integration: "slack/0".into(),
        group_key: "{0}:{provider=\"cdk\"}".into(),
        payload: "{}".into(),
        attempts: 0,
        next_attempt_at_ms: 10,
        created_at_ms: 10,
        claimed_until_ms: None,
    };
    let entry = |firing: &[&str], at: i64| NotificationLogEntry {
        group_key: "{0}:{provider=\"cdk\"}".into(),
        receiver: "oncall".into(),
        firing: firing
            .iter()
            .map(|s| Fingerprint::parse(s).unwrap())
            .collect(),
        sent_at_ms: at,
    };
    let both = entry(&["00000000000000aa", "00000000000000bb"], 10);
    store.enqueue_flush(&[row("n1")], &both).await.unwrap();
    assert_eq!(store.load_notification_log(0).await.unwrap(), vec![both]);
    assert_eq!(
        store.pending_notifications(10).await.unwrap(),
        vec![row("n1")]
    );

    // A later flush replaces the entry; a duplicate row id fails the whole flush.
    let one = entry(&["00000000000000bb"], 20);
    store.enqueue_flush(&[row("n2")], &one).await.unwrap();
    assert!(
        store
            .enqueue_flush(&[row("n3"), row("n1")], &entry(&[], 30))
            .await
            .is_err()
    );
    assert_eq!(
        store.load_notification_log(0).await.unwrap(),
        vec![one.clone()]
    );
    assert_eq!(
        store.pending_notifications(10).await.unwrap().len(),
        2,
        "n3 rolled back"
    );

    // Entries older than the retention are dropped; a flush leaving nothing firing removes it.
    assert!(store.load_notification_log(21).await.unwrap().is_empty());
    store.enqueue_flush(&[], &one).await.unwrap();
    store.enqueue_flush(&[], &entry(&[], 40)).await.unwrap();
    assert!(store.load_notification_log(0).await.unwrap().is_empty());
}

#[actix_web::test]
async fn sqlite_stores_flushes_atomically() {
    let (store, _dir) = sqlite().await;
    a_flush_stores_its_rows_and_log_entry_together(&store).await;
}

#[actix_web::test]
async fn postgres_stores_flushes_atomically() {
    if let Some(store) = postgres().await {
        a_flush_stores_its_rows_and_log_entry_together(&store).await;
    }
}

mod lifecycle {
    use super::*;
    use actix::Actor;
    use syncwatch::domain::ticket::TicketChange;
    use syncwatch::store::TicketUpdate;

    fn ticket(id: &str, at: i64) -> syncwatch::domain::ticket::Ticket {
        let a = alert("cdk");
        let key = DedupKey::from_labels(&a.labels, &TicketPolicy::default().dedup_by);
        new_ticket(id.into(), &a, key, &TicketPolicy::default(), None, at)
    }

    async fn two_changes_against_one_version_apply_once(store: Store) {
        store
            .create_ticket(&ticket("t1", 1_000), "a@1")
            .await
            .unwrap();
        let ack = TicketChange {
            status: Some(TicketStatus::Acknowledged),
            ..Default::default()
        };
        let assign = TicketChange {
            assignee: Some(Some("ben".into())),
            ..Default::default()
        };
        let first = store
            .update_ticket("t1", Some(1), &ack, "ana", 2_000)
            .await
            .unwrap();
        let TicketUpdate::Updated(now) = first else {
            panic!("{first:?}")
        };
        assert_eq!((now.version, now.status), (2, TicketStatus::Acknowledged));
        let second = store
            .update_ticket("t1", Some(1), &assign, "ben", 2_001)
            .await
            .unwrap();
        assert!(
            matches!(second, TicketUpdate::Stale(ref t) if t.version == 2),
            "{second:?}"
        );
        // The history has the one change, by its actor.
        let events = store.ticket_events("t1").await.unwrap();
        let kinds: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(kinds, [("created", "syncwatch"), ("acknowledged", "ana")]);
        // Reopening while another ticket of the same problem is active is refused.
        let resolve = TicketChange {
            status: Some(TicketStatus::Resolved),
            ..Default::default()
        };
        store
            .update_ticket("t1", None, &resolve, "ana", 3_000)
            .await
            .unwrap();
        store
            .create_ticket(&ticket("t2", 3_500), "a@2")
            .await
            .unwrap();
        let reopen = TicketChange {
            status: Some(TicketStatus::Open),
            ..Default::default()
        };
        let r = store
            .update_ticket("t1", None, &reopen, "ana", 4_000)
            .await
            .unwrap();
        assert_eq!(r, TicketUpdate::DuplicateActive("t2".into()));
        assert_eq!(
            store
                .update_ticket("nope", None, &reopen, "ana", 4_000)
                .await
                .unwrap(),
            TicketUpdate::NotFound
        );
    }

    async fn resolved_tickets_close_after_their_time(store: Store) {
        let resolve = TicketChange {
            status: Some(TicketStatus::Resolved),
            ..Default::default()
        };
        // t1 resolved at 2,000, t2 at 5,000 (another problem), t3 still open.
        store
            .create_ticket(&ticket("t1", 1_000), "a@1")
            .await
            .unwrap();
        store
            .update_ticket("t1", None, &resolve, "ana", 2_000)
            .await
            .unwrap();
        let mut other = ticket("t2", 1_500);
        other.dedup_key = DedupKey::from("other".to_string());
        store.create_ticket(&other, "b@1").await.unwrap();
        store
            .update_ticket("t2", None, &resolve, "ana", 5_000)
            .await
            .unwrap();
        let mut open = ticket("t3", 1_600);
        open.dedup_key = DedupKey::from("third".to_string());
        store.create_ticket(&open, "c@1").await.unwrap();

        let closed = store
            .close_resolved_tickets(3_000, 10_000, 100)
            .await
            .unwrap();
        assert_eq!(closed, ["t1"]);
        let t1 = store.get_ticket("t1").await.unwrap().unwrap();
        assert_eq!(
            (t1.status, t1.closed_at_ms),
            (TicketStatus::Closed, Some(10_000))
        );
        let last = store.ticket_events("t1").await.unwrap().pop().unwrap();
        assert_eq!(
            (last.kind.as_str(), last.actor.as_str()),
            ("closed", "syncwatch")
        );
        // Nothing twice; the open ticket is never closed by time.
        assert!(
            store
                .close_resolved_tickets(3_000, 11_000, 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .close_resolved_tickets(i64::MAX, 12_000, 100)
                .await
                .unwrap(),
            ["t2"]
        );
        assert_eq!(
            store.get_ticket("t3").await.unwrap().unwrap().status,
            TicketStatus::Open
        );
    }

    /// Writers create and acknowledge tickets concurrently while a reader follows the feed in
    /// small pages from its last cursor: it must see every event exactly once, in increasing
    /// numbers, with no event appearing behind a cursor it already passed.
    async fn the_feed_never_skips_an_event_while_tickets_are_written(store: Store) {
        const WRITERS: usize = 6;
        const EACH: usize = 20;
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                let ack = TicketChange {
                    status: Some(TicketStatus::Acknowledged),
                    ..Default::default()
                };
                for i in 0..EACH {
                    let mut t = ticket(&format!("w{w}-{i}"), 1_000 + i as i64);
                    t.dedup_key = DedupKey::from(format!("w{w}-{i}"));
                    store.create_ticket(&t, "a@1").await.unwrap();
                    store
                        .update_ticket(&t.id, None, &ack, "ana", 2_000)
                        .await
                        .unwrap();
                }
            }));
        }
        let (mut cursor, mut seen) = (0i64, Vec::new());
        let mut done = false;
        loop {
            let page = store.ticket_event_feed(cursor, 7).await.unwrap();
            if let Some(last) = page.last() {
                cursor = last.seq;
            }
            let empty = page.is_empty();
            seen.extend(page);
            if done && empty {
                break;
            }
            done = writers.iter().all(|w| w.is_finished());
            tokio::task::yield_now().await;
        }
        for w in writers {
            w.await.unwrap();
        }
        let seqs: Vec<i64> = seen.iter().map(|e| e.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
        let mut all = Vec::new();
        for w in 0..WRITERS {
            for i in 0..EACH {
                all.extend(store.ticket_events(&format!("w{w}-{i}")).await.unwrap());
            }
        }
        all.sort_by_key(|e| e.seq);
        assert_eq!(all.len(), WRITERS * EACH * 2, "created and acknowledged");
        let ids = |v: &[syncwatch::store::StoredTicketEvent]| -> Vec<String> {
            v.iter().map(|e| e.id.clone()).collect()
        };
        assert_eq!(ids(&seen), ids(&all), "every event once, in commit order");
        assert_eq!(
            store.last_ticket_event_seq().await.unwrap(),
            *seqs.last().unwrap()
        );
    }

    #[actix_web::test]
    async fn sqlite_the_feed_never_skips_an_event_while_tickets_are_written() {
        let (store, _dir) = sqlite().await;
        the_feed_never_skips_an_event_while_tickets_are_written(store).await;
    }

    #[actix_web::test]
    async fn postgres_the_feed_never_skips_an_event_while_tickets_are_written() {
        if let Some(store) = postgres().await {
            the_feed_never_skips_an_event_while_tickets_are_written(store).await;
        }
    }

    /// Escalation and targets on the injected clock, through the ticket actor: steps come due
    /// from when the ticket became open, notify their receiver through the outbox, and stop
    /// when it is acknowledged; a missed target is recorded once.
    async fn tickets_escalate_on_the_injected_clock(store: Store) {
        use std::collections::HashMap;
        use std::sync::Arc;
        use syncwatch::domain::ManualClock;
        use syncwatch::domain::ticket::{EscalationPolicy, EscalationStep, Tier};
        use syncwatch::notify::local::ConsoleNotifier;
        use syncwatch::notify::local::config::ConsoleConfig;
        use syncwatch::notify::receivers::ReceiverIntegrations;
        use syncwatch::tickets::{Sweep, TicketActor, TicketAlerts};

        const MIN: i64 = 60_000;
        let clock = ManualClock::new(0);
        let console = |name: &str| {
            let n: Arc<dyn syncwatch::notify::Notifier> =
                Arc::new(ConsoleNotifier(ConsoleConfig {
                    send_resolved: true,
                }));
            (
                name.to_string(),
                Arc::new(ReceiverIntegrations {
                    notifiers: vec![("console/0".to_string(), n)],
                    tickets: vec![],
                }),
            )
        };
        let receivers: HashMap<_, _> = [console("l2-support"), console("integrations")]
            .into_iter()
            .collect();
        let registry = Arc::new(syncwatch::telemetry::MetricsRegistry::new());
        let actor = TicketActor::new(
            store.clone(),
            Arc::new(clock.clone()),
            Arc::new(syncwatch::runbooks::RunbookIndex::build(vec![]).unwrap()),
            syncwatch::telemetry::Metrics::new(registry.clone()),
            "http://sw.example".into(),
        )
        .with_receivers(Arc::new(receivers), None)
        .start();
        let escalation = EscalationPolicy {
            steps: vec![
                EscalationStep {
                    after_ms: 30 * MIN,
                    tier: Tier::L2,
                    receiver: "l2-support".into(),
                },
                EscalationStep {
                    after_ms: 120 * MIN,
                    tier: Tier::L3,
                    receiver: "integrations".into(),
                },
            ],
            ack_within_ms: [Some(15 * MIN), None, None, None],
            resolve_within_ms: [Some(240 * MIN), None, None, None],
        };
        let policy = TicketPolicy {
            escalation,
            ..TicketPolicy::default()
        };
        let ids = actor
            .send(TicketAlerts {
                alerts: vec![Arc::new(alert("cdk"))],
                policy,
            })
            .await
            .unwrap()
            .unwrap();
        let id = ids.values().next().unwrap().clone();
        let sweep_at = |ms: i64| {
            clock.set_ms(ms);
            let actor = actor.clone();
            async move { actor.send(Sweep).await.unwrap().unwrap() }
        };
        let kinds = |store: Store, id: String| async move {
            store
                .ticket_events(&id)
                .await
                .unwrap()
                .into_iter()
                .map(|e| format!("{} {}", e.kind, e.to.unwrap_or_default()))
                .collect::<Vec<_>>()
        };

        assert_eq!(sweep_at(14 * MIN).await, 0, "nothing due yet");
        assert_eq!(sweep_at(16 * MIN).await, 1, "the ack target is missed");
        assert_eq!(sweep_at(17 * MIN).await, 0, "a breach is recorded once");
        assert_eq!(sweep_at(31 * MIN).await, 1, "the first step");
        let t = store.get_ticket(&id).await.unwrap().unwrap();
        assert_eq!((t.tier, t.escalation_level), (Tier::L2, 1));
        assert_eq!(t.ack_breached_at_ms, Some(16 * MIN));
        assert_eq!(
            kinds(store.clone(), id.clone()).await,
            ["created ", "sla_breached acknowledge", "escalated L2"]
        );
        let rows = store.pending_notifications(100).await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (rows[0].receiver.as_str(), rows[0].group_key.clone()),
            ("l2-support", format!("ticket/{id}/escalation"))
        );
        assert!(rows[0].payload.contains("Ticket escalated to L2"));
        assert!(
            rows[0]
                .payload
                .contains(&format!("http://sw.example/api/v1/tickets/{id}"))
        );

        // Acknowledged: the clock stops (no L3 at 2h), the resolve target still runs.
        let ack = TicketChange {
            status: Some(TicketStatus::Acknowledged),
            ..Default::default()
        };
        store
            .update_ticket(&id, None, &ack, "ana", 40 * MIN)
            .await
            .unwrap();
        assert_eq!(sweep_at(180 * MIN).await, 0, "acknowledged: no escalation");
        assert_eq!(sweep_at(241 * MIN).await, 1, "the resolve target is missed");
        // Handed back: the clock starts again from then, at the step after the tier it has.
        let back = TicketChange {
            status: Some(TicketStatus::Open),
            ..Default::default()
        };
        store
            .update_ticket(&id, None, &back, "ana", 250 * MIN)
            .await
            .unwrap();
        assert_eq!(sweep_at(279 * MIN).await, 0);
        assert_eq!(
            sweep_at(371 * MIN).await,
            1,
            "both steps due: one sweep takes both"
        );
        let t = store.get_ticket(&id).await.unwrap().unwrap();
        assert_eq!((t.tier, t.escalation_level), (Tier::L3, 2));
        let receivers: Vec<String> = store
            .pending_notifications(100)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.receiver)
            .collect();
        assert_eq!(receivers, ["l2-support", "l2-support", "integrations"]);
        let metrics = registry.render();
        assert!(
            metrics.contains("syncwatch_ticket_escalations_total{tier=\"L3\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains(
                "syncwatch_ticket_sla_breaches_total{target=\"resolve\",priority=\"P1\"} 1"
            )
        );
    }

    #[actix_web::test]
    async fn sqlite_tickets_escalate_on_the_injected_clock() {
        let (store, _dir) = sqlite().await;
        tickets_escalate_on_the_injected_clock(store).await;
    }

    #[actix_web::test]
    async fn postgres_tickets_escalate_on_the_injected_clock() {
        if let Some(store) = postgres().await {
            tickets_escalate_on_the_injected_clock(store).await;
        }
    }

    #[actix_web::test]
    async fn sqlite_resolved_tickets_close_after_their_time() {
        let (store, _dir) = sqlite().await;
        resolved_tickets_close_after_their_time(store).await;
    }

    #[actix_web::test]
    async fn postgres_resolved_tickets_close_after_their_time() {
        if let Some(store) = postgres().await {
            resolved_tickets_close_after_their_time(store).await;
        }
    }

    #[actix_web::test]
    async fn sqlite_two_changes_against_one_version_apply_once() {
        let (store, _dir) = sqlite().await;
        two_changes_against_one_version_apply_once(store).await;
    }

    #[actix_web::test]
    async fn postgres_two_changes_against_one_version_apply_once() {
        if let Some(store) = postgres().await {
            two_changes_against_one_version_apply_once(store).await;
        }
    }
}
