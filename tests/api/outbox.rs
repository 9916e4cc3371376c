//! The outbox on both stores: claims (one poller per row, every change guarded on the claim),
//! superseded rows, and several pollers delivering one outbox without sending a row twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Actor;
use async_trait::async_trait;
use syncwatch::domain::{Alert, SystemClock};
use syncwatch::notify::outbox::{OutboxActor, Wake, row_for};
use syncwatch::notify::receivers::ReceiverIntegrations;
use syncwatch::notify::{Notification, Notifier, NotifyError};
use syncwatch::store::{NotificationLogEntry, OutboxClaim, OutboxRow, Store};
use syncwatch::telemetry::{Metrics, MetricsRegistry};

use super::helpers::wait_for;
use super::store::{postgres, sqlite};

fn row(id: &str, group: &str, created: i64) -> OutboxRow {
    OutboxRow {
        kind: Default::default(),
        id: id.into(),
        receiver: "oncall".into(),
        integration: "webhook/0".into(),
        group_key: group.into(),
        payload: "{}".into(),
        attempts: 0,
        next_attempt_at_ms: created,
        created_at_ms: created,
        claimed_until_ms: None,
    }
}

fn log(group: &str) -> NotificationLogEntry {
    NotificationLogEntry {
        group_key: group.into(),
        receiver: "oncall".into(),
        firing: Vec::new(),
        sent_at_ms: 0,
    }
}

fn claim(owner: &str, now_ms: i64) -> OutboxClaim {
    OutboxClaim {
        owner: owner.into(),
        now_ms,
        until_ms: now_ms + 100,
    }
}

async fn a_row_belongs_to_one_claim_and_only_its_holder_settles_it(store: &Store) {
    store
        .enqueue_flush(&[row("r1", "g", 10)], &log("g"))
        .await
        .unwrap();
    let r1 = row("r1", "g", 10);
    assert!(
        store
            .claim_notification(&r1, 1, &claim("a", 20))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_notification(&r1, 1, &claim("b", 21))
            .await
            .unwrap(),
        "a claimed row is not claimed again while the claim holds"
    );
    let pending = store.pending_notifications(10).await.unwrap();
    assert_eq!(
        pending[0].claimed_until_ms,
        Some(120),
        "a poller sees the claim"
    );
    assert!(
        !store.notification_delivered("r1", "b", 30).await.unwrap(),
        "only the holder records a delivery"
    );
    assert!(store.notification_delivered("r1", "a", 30).await.unwrap());
    assert!(
        !store
            .notification_failed("r1", "a", "late failure", Some(40))
            .await
            .unwrap(),
        "a delivered row never goes back to pending"
    );
    assert!(
        !store
            .claim_notification(&r1, 2, &claim("b", 50))
            .await
            .unwrap()
    );
    assert!(store.pending_notifications(10).await.unwrap().is_empty());

    // A claim that lapsed (its poller died) is taken over; the old holder can no longer settle.
    store
        .enqueue_flush(&[row("r2", "h", 60)], &log("h"))
        .await
        .unwrap();
    let r2 = row("r2", "h", 60);
    assert!(
        store
            .claim_notification(&r2, 1, &claim("a", 60))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_notification(&r2, 1, &claim("b", 160))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_notification(&r2, 2, &claim("b", 161))
            .await
            .unwrap()
    );
    assert!(
        !store
            .notification_failed("r2", "a", "x", Some(0))
            .await
            .unwrap()
    );
    assert!(
        store
            .notification_failed("r2", "b", "503", Some(500))
            .await
            .unwrap()
    );
    let pending = store.pending_notifications(10).await.unwrap();
    assert_eq!(
        (
            pending[0].attempts,
            pending[0].next_attempt_at_ms,
            pending[0].claimed_until_ms
        ),
        (2, 500, None)
    );
    // A success elsewhere on the integration brings it forward.
    assert_eq!(
        store
            .notifications_due_now("oncall", "webhook/0", 170)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.pending_notifications(10).await.unwrap()[0].next_attempt_at_ms,
        170
    );
    // A process that stopped mid-delivery: its rows wait again at the next start.
    assert!(
        store
            .claim_notification(&r2, 3, &claim("c", 180))
            .await
            .unwrap()
    );
    assert_eq!(store.release_outbox_claims().await.unwrap(), 1);
    assert_eq!(
        store.pending_notifications(10).await.unwrap()[0].claimed_until_ms,
        None
    );
}

async fn sending_the_newest_row_supersedes_the_older_ones_of_its_stream(store: &Store) {
    let rows = [
        row("f1", "g", 10),
        row("r1", "g", 11),
        row("f2", "g", 12),
        row("o1", "other", 10),
    ];
    store.enqueue_flush(&rows, &log("g")).await.unwrap();
    // While one row of a stream is being sent, no other row of it is claimed.
    assert!(
        store
            .claim_notification(&rows[0], 1, &claim("a", 20))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_notification(&rows[2], 1, &claim("b", 20))
            .await
            .unwrap()
    );
    assert!(
        store
            .notification_failed("f1", "a", "503", Some(20))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_notification(&rows[2], 2, &claim("b", 30))
            .await
            .unwrap()
    );
    let left: Vec<String> = store
        .pending_notifications(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        left,
        vec!["o1", "f2"],
        "f1 and r1 are superseded, the other stream untouched"
    );
    let counts: HashMap<String, i64> = store.outbox_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts.get("superseded"), Some(&2));

    // A firing left `sending` (its delivery's record failed), then a resolution: once the
    // claim lapses, sending the resolution supersedes the firing, which is never sent after it.
    let (f, r) = (row("f3", "h", 40), row("r3", "h", 41));
    store
        .enqueue_flush(&[f.clone(), r.clone()], &log("h"))
        .await
        .unwrap();
    assert!(
        store
            .claim_notification(&f, 1, &claim("a", 50))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_notification(&r, 1, &claim("b", 60))
            .await
            .unwrap(),
        "f3 is being sent"
    );
    assert!(
        store
            .claim_notification(&r, 1, &claim("b", 151))
            .await
            .unwrap()
    );
    let left: Vec<String> = store
        .pending_notifications(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(!left.contains(&"f3".to_string()), "{left:?}");
    assert!(
        !store
            .claim_notification(&f, 2, &claim("c", 300))
            .await
            .unwrap()
    );
    // Rows backing off are not handed to pollers until due.
    assert!(
        store
            .notification_failed("r3", "b", "503", Some(1_000))
            .await
            .unwrap()
    );
    let due: Vec<String> = store
        .due_notifications(500, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(!due.contains(&"r3".to_string()), "{due:?}");
    assert!(
        store
            .due_notifications(1_000, 10)
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == "r3")
    );
}

#[actix_web::test]
async fn sqlite_outbox_claims_are_exclusive() {
    let (store, _dir) = sqlite().await;
    a_row_belongs_to_one_claim_and_only_its_holder_settles_it(&store).await;
}

#[actix_web::test]
async fn postgres_outbox_claims_are_exclusive() {
    if let Some(store) = postgres().await {
        a_row_belongs_to_one_claim_and_only_its_holder_settles_it(&store).await;
    }
}

#[actix_web::test]
async fn sqlite_outbox_supersedes_older_rows() {
    let (store, _dir) = sqlite().await;
    sending_the_newest_row_supersedes_the_older_ones_of_its_stream(&store).await;
}

#[actix_web::test]
async fn postgres_outbox_supersedes_older_rows() {
    if let Some(store) = postgres().await {
        sending_the_newest_row_supersedes_the_older_ones_of_its_stream(&store).await;
    }
}

/// Counts what it is asked to send, by group and status; answers after a short delay, so
/// polls overlap deliveries.
#[derive(Default)]
struct Counting {
    sent: Mutex<BTreeMap<(String, String), usize>>,
}

#[async_trait]
impl Notifier for Counting {
    fn integration(&self) -> &'static str {
        "webhook"
    }
    fn send_resolved(&self) -> bool {
        true
    }
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        *self
            .sent
            .lock()
            .unwrap()
            .entry((n.group_key.clone(), n.status().to_string()))
            .or_default() += 1;
        Ok(())
    }
}

fn notification(group: &str, resolved: bool) -> Notification {
    let alert = Alert {
        labels: [("alertname", "SyncFailing"), ("group", group)]
            .into_iter()
            .collect(),
        annotations: Default::default(),
        starts_at_ms: 1,
        ends_at_ms: resolved.then_some(2),
        value: None,
        generator_url: String::new(),
    };
    Notification {
        receiver: "oncall".into(),
        group_key: group.into(),
        group_labels: Default::default(),
        alerts: vec![alert.into()],
        tickets: BTreeMap::new(),
        public_url: "http://syncwatch.test".into(),
        omitted: Default::default(),
    }
}

/// The case that sent 2–5 % of notifications twice on PostgreSQL: 200 groups fire, then
/// resolve, while four pollers (each polling every 500 ms and on every wake-up) share the
/// outbox. Each group's firing and resolution must arrive exactly once.
async fn several_pollers_send_each_notification_once(store: Store) {
    let counting = Arc::new(Counting::default());
    let receivers = Arc::new(HashMap::from([(
        "oncall".to_string(),
        Arc::new(ReceiverIntegrations {
            notifiers: vec![(
                "webhook/0".to_string(),
                counting.clone() as Arc<dyn Notifier>,
            )],
            tickets: Vec::new(),
        }),
    )]));
    let metrics = Metrics::new(Arc::new(MetricsRegistry::new()));
    let pollers: Vec<_> = (0..4)
        .map(|_| {
            OutboxActor::new(
                store.clone(),
                receivers.clone(),
                metrics.clone(),
                Arc::new(SystemClock),
            )
            .start()
        })
        .collect();
    for resolved in [false, true] {
        for g in 0..200 {
            let n = notification(&format!("group-{g}"), resolved);
            let r = row_for(
                &n,
                "webhook/0",
                &n.group_key,
                syncwatch::domain::Clock::now_ms(&SystemClock),
            )
            .unwrap();
            store.enqueue_flush(&[r], &log(&n.group_key)).await.unwrap();
            for p in &pollers {
                p.do_send(Wake);
            }
        }
        let expected = if resolved { 400 } else { 200 };
        wait_for("every notification sent", Duration::from_secs(60), || {
            let counting = counting.clone();
            async move {
                let n: usize = counting.sent.lock().unwrap().values().sum();
                (n >= expected).then_some(())
            }
        })
        .await;
    }
    // Late or stale polls get their chance to send something twice.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let sent = counting.sent.lock().unwrap().clone();
    let twice: Vec<_> = sent.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "{} sent more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    assert_eq!(sent.len(), 400, "every group's firing and resolution");
    let counts: HashMap<String, i64> = store.outbox_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts.get("delivered"), Some(&400), "{counts:?}");
}

#[actix_web::test]
async fn sqlite_several_pollers_send_each_notification_once() {
    let (store, _dir) = sqlite().await;
    several_pollers_send_each_notification_once(store).await;
}

#[actix_web::test]
async fn postgres_several_pollers_send_each_notification_once() {
    if let Some(store) = postgres().await {
        several_pollers_send_each_notification_once(store).await;
    }
}
