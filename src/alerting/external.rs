//! Alerts posted through the Alertmanager API, held until their `endsAt` (or `resolve_timeout`
//! after their last post), with an index by end time so that finding the ones that ended costs
//! what ended, not a scan of every held alert (a million held alerts cost nothing while idle).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::domain::{Alert, Fingerprint};

/// The posted alerts still firing, each with the time it ends (Unix ms).
#[derive(Debug, Default)]
pub struct ExternalAlerts {
    held: HashMap<Fingerprint, (Arc<Alert>, i64)>,
    /// `(ends at, fingerprint)` of every held alert, earliest first.
    ends: BTreeSet<(i64, Fingerprint)>,
}

impl ExternalAlerts {
    pub fn get(&self, fp: &Fingerprint) -> Option<&(Arc<Alert>, i64)> {
        self.held.get(fp)
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Holds `alert` until `until`, replacing what was held under `fp`.
    pub fn hold(&mut self, fp: Fingerprint, alert: Arc<Alert>, until: i64) {
        if let Some((_, old)) = self.held.insert(fp, (alert, until)) {
            self.ends.remove(&(old, fp));
        }
        self.ends.insert((until, fp));
    }

    /// Stops holding `fp` (it was posted resolved).
    pub fn release(&mut self, fp: &Fingerprint) {
        if let Some((_, until)) = self.held.remove(fp) {
            self.ends.remove(&(until, *fp));
        }
    }

    /// Takes out every alert whose end is at or before `now_ms`, earliest first, with its end.
    pub fn take_ended(&mut self, now_ms: i64) -> Vec<(Arc<Alert>, i64)> {
        let mut out = Vec::new();
        while let Some(&(until, fp)) = self.ends.first() {
            if until > now_ms {
                break;
            }
            self.ends.pop_first();
            if let Some((alert, _)) = self.held.remove(&fp) {
                out.push((alert, until));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str) -> Arc<Alert> {
        Arc::new(Alert {
            labels: [("alertname", name)].into_iter().collect(),
            annotations: Default::default(),
            starts_at_ms: 0,
            ends_at_ms: None,
            value: None,
            generator_url: String::new(),
        })
    }

    #[test]
    fn alerts_end_in_order_and_a_repost_moves_the_end() {
        let mut held = ExternalAlerts::default();
        let (a, b) = (alert("A"), alert("B"));
        held.hold(a.fingerprint(), a.clone(), 100);
        held.hold(b.fingerprint(), b.clone(), 50);
        held.hold(a.fingerprint(), a.clone(), 300); // posted again
        assert!(held.take_ended(49).is_empty());
        let ended = held.take_ended(200);
        assert_eq!(ended.len(), 1);
        assert_eq!((ended[0].0.name(), ended[0].1), ("B", 50));
        assert_eq!(held.len(), 1, "A was posted again: it ends at 300");
        held.release(&a.fingerprint());
        assert!(held.is_empty() && held.take_ended(1_000).is_empty());
    }
}
