//! Aggregation groups with Alertmanager's timers, as pure state: the first notification waits
//! `group_wait`, later ones go out at most every `group_interval` when something changed, and
//! an unchanged group is re-sent after `repeat_interval`. Resolved alerts are only sent for
//! alerts whose firing was sent, and leave the group once they were.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::{Alert, Fingerprint, Labels};

#[derive(Debug, Clone)]
pub struct AggrGroup {
    pub route_id: String,
    pub receiver: String,
    pub labels: Labels,
    group_interval: Duration,
    repeat_interval: Duration,
    /// Shared with the dispatcher's other holders of the same alert (other groups, the posted
    /// alerts): one copy each, however many routes it matches.
    alerts: BTreeMap<Fingerprint, Arc<Alert>>,
    /// Firing alerts included in the last notification.
    notified_firing: BTreeSet<Fingerprint>,
    last_notified_ms: Option<i64>,
    next_flush_ms: i64,
}

/// A notification to send: the group's alerts at flush time.
#[derive(Debug, Clone, PartialEq)]
pub struct Flush {
    /// Shared with the group (and the notification it becomes): a flush copies no alert.
    pub alerts: Vec<Arc<Alert>>,
}

impl AggrGroup {
    pub fn new(
        route_id: String,
        receiver: String,
        labels: Labels,
        group_wait: Duration,
        group_interval: Duration,
        repeat_interval: Duration,
        now_ms: i64,
    ) -> Self {
        Self {
            route_id,
            receiver,
            labels,
            group_interval,
            repeat_interval,
            alerts: BTreeMap::new(),
            notified_firing: BTreeSet::new(),
            last_notified_ms: None,
            next_flush_ms: now_ms + group_wait.as_millis() as i64,
        }
    }

    /// Adds or updates an alert (a resolved one replaces its firing self).
    pub fn insert(&mut self, alert: impl Into<Arc<Alert>>) {
        let alert = alert.into();
        self.alerts.insert(alert.fingerprint(), alert);
    }

    /// Starts the group from its notification-log entry: the firing alerts it last notified
    /// and when. Those alerts are not notified again unless `repeat_interval` has passed since;
    /// their resolutions are.
    pub fn seed(&mut self, notified: BTreeSet<Fingerprint>, sent_at_ms: i64) {
        self.notified_firing = notified;
        self.last_notified_ms = Some(sent_at_ms);
    }

    /// Adds a firing alert that was already notified before a reload: no new notification
    /// goes out for it, but its resolution will.
    pub fn restore_notified(&mut self, alert: impl Into<Arc<Alert>>, now_ms: i64) {
        let alert = alert.into();
        let fp = alert.fingerprint();
        self.alerts.insert(fp, alert);
        self.notified_firing.insert(fp);
        self.last_notified_ms = Some(now_ms);
        self.next_flush_ms = now_ms + self.group_interval.as_millis() as i64;
    }

    /// Whether the alert's firing was notified by this group.
    pub fn was_notified(&self, fp: &Fingerprint) -> bool {
        self.notified_firing.contains(fp)
    }

    pub fn next_flush_ms(&self) -> i64 {
        self.next_flush_ms
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Makes the group due now (shutting down: what waits out `group_wait` or `group_interval`
    /// is flushed before the process exits, so it reaches the outbox). A group with nothing
    /// new still sends nothing when flushed.
    pub fn expedite(&mut self, now_ms: i64) {
        self.next_flush_ms = self.next_flush_ms.min(now_ms);
    }

    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values().map(Arc::as_ref)
    }

    /// The alerts, as shared with the group's other holders.
    pub fn shared_alerts(&self) -> impl Iterator<Item = &Arc<Alert>> {
        self.alerts.values()
    }

    /// Called when the timer is due: what to send, if anything. Firing alerts `muted` (silenced)
    /// are left out; a resolution of an alert whose firing was sent always goes out.
    pub fn flush(&mut self, now_ms: i64) -> Option<Flush> {
        self.flush_muted(now_ms, &|_| false)
    }

    /// The route is in a mute time: nothing is sent, and the group is looked at again one
    /// `group_interval` later. What was notified stays notified, so an alert that resolves
    /// meanwhile is reported resolved once the mute time ends.
    pub fn skip(&mut self, now_ms: i64) {
        if now_ms < self.next_flush_ms {
            return;
        }
        self.next_flush_ms = now_ms + self.group_interval.as_millis() as i64;
        let notified = &self.notified_firing;
        self.alerts
            .retain(|fp, a| !a.is_resolved() || notified.contains(fp));
    }

    pub fn flush_muted(&mut self, now_ms: i64, muted: &dyn Fn(&Alert) -> bool) -> Option<Flush> {
        if now_ms < self.next_flush_ms {
            return None;
        }
        self.next_flush_ms = now_ms + self.group_interval.as_millis() as i64;
        // A resolved alert whose firing was never sent is dropped silently.
        let notified = &self.notified_firing;
        self.alerts
            .retain(|fp, a| !a.is_resolved() || notified.contains(fp));
        let firing: BTreeSet<Fingerprint> = self
            .alerts
            .iter()
            .filter(|(_, a)| !a.is_resolved() && !muted(a))
            .map(|(fp, _)| *fp)
            .collect();
        let has_resolved = self.alerts.values().any(|a| a.is_resolved());
        let changed = has_resolved || !firing.is_subset(&self.notified_firing);
        let repeat_due = !firing.is_empty()
            && self
                .last_notified_ms
                .is_some_and(|t| now_ms - t >= self.repeat_interval.as_millis() as i64);
        if !(changed || repeat_due) {
            return None;
        }
        let alerts: Vec<Arc<Alert>> = self
            .alerts
            .iter()
            .filter(|(fp, a)| a.is_resolved() || firing.contains(fp))
            .map(|(_, a)| Arc::clone(a))
            .collect();
        self.notified_firing = firing;
        self.last_notified_ms = Some(now_ms);
        self.alerts.retain(|_, a| !a.is_resolved());
        Some(Flush { alerts })
    }
}

/// When groups are due: flush time (Unix ms) → group keys. An entry may be stale (the group
/// flushed since, or went): the caller checks each key it takes against its group. Keeping every
/// group listed at or before its next flush lets a tick look only at what is due, never at every
/// group.
#[derive(Debug)]
pub struct GroupTimers<K>(BTreeMap<i64, Vec<K>>);

impl<K> Default for GroupTimers<K> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<K> GroupTimers<K> {
    /// Lists `key` as due at `at_ms`.
    pub fn schedule(&mut self, at_ms: i64, key: K) {
        self.0.entry(at_ms).or_default().push(key);
    }

    /// Takes every key listed at or before `now_ms`, earliest first (a key may come twice).
    pub fn take_due(&mut self, now_ms: i64) -> Vec<K> {
        let later = match now_ms.checked_add(1) {
            Some(after) => self.0.split_off(&after),
            None => BTreeMap::new(),
        };
        std::mem::replace(&mut self.0, later)
            .into_values()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(provider: &str, resolved_at: Option<i64>) -> Alert {
        Alert {
            labels: [("alertname", "A"), ("provider", provider)]
                .into_iter()
                .collect(),
            annotations: Default::default(),
            starts_at_ms: 0,
            ends_at_ms: resolved_at,
            value: None,
            generator_url: String::new(),
        }
    }

    fn group(now: i64) -> AggrGroup {
        AggrGroup::new(
            "0".into(),
            "r".into(),
            Labels::new(),
            Duration::from_secs(10),
            Duration::from_secs(60),
            Duration::from_secs(3600),
            now,
        )
    }

    #[test]
    fn timers_hand_out_what_is_due_and_keep_the_rest() {
        let mut t = GroupTimers::default();
        t.schedule(30, "b");
        t.schedule(10, "a");
        t.schedule(30, "c");
        assert_eq!(t.take_due(9), Vec::<&str>::new());
        assert_eq!(t.take_due(30), vec!["a", "b", "c"]);
        t.schedule(i64::MAX, "d");
        assert_eq!(t.take_due(i64::MAX), vec!["d"]);
    }

    #[test]
    fn a_mute_time_sends_nothing_and_reports_what_changed_afterwards() {
        let mut g = group(0);
        g.insert(alert("cdk", None));
        g.flush(10_000).unwrap();
        // Muted from here: cdk resolves, tekion fires and resolves unseen.
        g.insert(alert("cdk", Some(20_000)));
        g.insert(alert("tekion", None));
        g.skip(70_000);
        assert_eq!(g.next_flush_ms(), 130_000);
        g.insert(alert("tekion", Some(80_000)));
        g.skip(130_000);
        // Unmuted: cdk's resolution is sent; tekion, never notified, is dropped.
        let sent = g.flush(190_000).unwrap();
        assert_eq!(sent.alerts.len(), 1);
        assert_eq!(sent.alerts[0].labels.get("provider"), Some("cdk"));
        assert!(sent.alerts[0].is_resolved());
        assert!(g.is_empty());
    }

    #[test]
    fn first_flush_waits_for_group_wait() {
        let mut g = group(0);
        g.insert(alert("cdk", None));
        assert_eq!(g.flush(9_999), None);
        assert_eq!(g.flush(10_000).unwrap().alerts.len(), 1);
        assert_eq!(g.next_flush_ms(), 70_000);
    }

    #[test]
    fn later_alerts_wait_for_group_interval_and_unchanged_groups_stay_quiet() {
        let mut g = group(0);
        g.insert(alert("cdk", None));
        g.flush(10_000).unwrap();
        g.insert(alert("tekion", None));
        assert_eq!(g.flush(69_999), None);
        assert_eq!(g.flush(70_000).unwrap().alerts.len(), 2);
        assert_eq!(g.flush(130_000), None, "nothing changed");
    }

    #[test]
    fn repeat_interval_resends_unchanged_firing_alerts() {
        let mut g = group(0);
        g.insert(alert("cdk", None));
        g.flush(10_000).unwrap();
        let mut t = 70_000;
        while t < 10_000 + 3_600_000 {
            assert_eq!(g.flush(t), None);
            t += 60_000;
        }
        assert!(g.flush(t).is_some());
    }

    #[test]
    fn resolved_follows_a_sent_firing_and_then_leaves() {
        let mut g = group(0);
        g.insert(alert("cdk", None));
        g.flush(10_000).unwrap();
        g.insert(alert("cdk", Some(20_000)));
        let f = g.flush(70_000).unwrap();
        assert!(f.alerts[0].is_resolved());
        assert!(g.is_empty());
    }

    #[test]
    fn a_resolution_of_an_unsent_firing_is_not_sent() {
        let mut g = group(0);
        g.insert(alert("cdk", None));
        g.insert(alert("cdk", Some(5_000)));
        assert_eq!(g.flush(10_000), None);
        assert!(g.is_empty());
    }

    #[test]
    fn a_restored_firing_alert_is_not_resent_but_its_resolution_is() {
        let mut g = group(0);
        g.restore_notified(alert("cdk", None), 0);
        assert_eq!(g.flush(60_000), None, "no second page");
        g.insert(alert("cdk", Some(70_000)));
        let f = g.flush(120_000).expect("the resolution goes out");
        assert!(f.alerts[0].is_resolved());
    }

    #[test]
    fn a_group_seeded_from_the_log_pages_only_what_is_new_and_repeats_on_time() {
        let cdk = alert("cdk", None);
        let mut g = group(0);
        // Notified 30 minutes before this group existed (before a restart).
        g.seed(BTreeSet::from([cdk.fingerprint()]), -1_800_000);
        g.insert(cdk.clone());
        assert_eq!(g.flush(10_000), None, "already paged");
        g.insert(alert("tekion", None));
        let f = g.flush(70_000).expect("tekion is new");
        assert_eq!(f.alerts.len(), 2);
        // The repeat counts from that notification; cdk's resolution goes out.
        let mut g = group(0);
        g.seed(BTreeSet::from([cdk.fingerprint()]), -1_800_000);
        g.insert(cdk.clone());
        assert_eq!(g.flush(1_700_000), None);
        assert!(
            g.flush(1_800_000).is_some(),
            "repeat_interval is 1h since the page"
        );
        let mut g = group(0);
        g.seed(BTreeSet::from([cdk.fingerprint()]), 0);
        g.insert(alert("cdk", Some(5_000)));
        let f = g.flush(10_000).expect("the resolution");
        assert!(f.alerts[0].is_resolved());
    }

    #[test]
    fn a_silenced_alert_is_not_sent_but_its_notified_resolution_is() {
        let mut g = group(0);
        g.insert(alert("cdk", None));
        g.insert(alert("tekion", None));
        let silenced = |a: &Alert| a.labels.value("provider") == "tekion";
        let f = g.flush_muted(10_000, &silenced).unwrap();
        assert_eq!(f.alerts.len(), 1, "only cdk");
        // cdk is then silenced too, and resolves: the resolution still goes out.
        g.insert(alert("cdk", Some(20_000)));
        let f = g.flush_muted(70_000, &|_| true).unwrap();
        assert!(f.alerts.iter().all(|a| a.is_resolved()) && f.alerts.len() == 1);
        // When the silence ends, the still-firing tekion alert is notified as new.
        let f = g.flush_muted(130_000, &|_| false).unwrap();
        assert_eq!(f.alerts[0].labels.value("provider"), "tekion");
    }
}
