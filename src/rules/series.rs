//! The in-memory series store the rules read: samples of every metric over a bounded window.
//!
//! It is fed from the live metric values (one "scrape" per evaluation): a sample is appended when
//! a value changed or the series' last sample is older than the scrape interval, so an unchanged
//! series costs one sample per interval. Samples older than the retention are dropped.

use std::collections::HashMap;

use crate::domain::Labels;
use crate::telemetry::Sample;

/// Prometheus' staleness marker: a NaN with a specific bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Samples of one series, oldest first.
pub type Points = Vec<(i64, f64)>;

/// Read access to series, as the evaluator needs it.
pub trait Queryable {
    /// Every series of a metric name (`None`: of every name), labels without `__name__`.
    fn series(&self, name: Option<&str>) -> Vec<(&str, &Labels, &Points)>;
}

/// The store.
#[derive(Debug, Default)]
pub struct SeriesStore {
    by_name: HashMap<String, HashMap<Labels, Points>>,
    retention_ms: i64,
    scrape_interval_ms: i64,
}

impl SeriesStore {
    pub fn new(retention_ms: i64, scrape_interval_ms: i64) -> Self {
        Self {
            by_name: HashMap::new(),
            retention_ms,
            scrape_interval_ms,
        }
    }

    pub fn set_retention_ms(&mut self, retention_ms: i64) {
        self.retention_ms = retention_ms;
    }

    /// Appends one sample (used by tests and recording rules).
    pub fn push(&mut self, name: &str, labels: &Labels, t: i64, v: f64) {
        let points = self
            .by_name
            .entry(name.to_string())
            .or_default()
            .entry(labels.clone())
            .or_default();
        match points.last() {
            Some((last_t, _)) if *last_t >= t => {
                // Same timestamp: the newer value wins; older timestamps are out of order.
                if *last_t == t
                    && let Some(last) = points.last_mut()
                {
                    last.1 = v;
                }
            }
            _ => points.push((t, v)),
        }
    }

    /// Ingests a snapshot of the live values at time `t`.
    pub fn ingest(&mut self, samples: &[Sample], t: i64) {
        for s in samples {
            let points = self
                .by_name
                .entry(s.name.clone())
                .or_default()
                .entry(s.labels.clone())
                .or_default();
            let append = match points.last() {
                None => true,
                Some((lt, lv)) => {
                    t > *lt
                        && (lv.to_bits() != s.value.to_bits() || t - lt >= self.scrape_interval_ms)
                }
            };
            if append {
                points.push((t, s.value));
            }
        }
        self.prune(t);
    }

    /// Marks a series stale at `t` (it stopped being produced).
    pub fn mark_stale(&mut self, name: &str, labels: &Labels, t: i64) {
        if let Some(points) = self.by_name.get_mut(name).and_then(|m| m.get_mut(labels))
            && points
                .last()
                .is_some_and(|(lt, v)| *lt < t && !is_stale(*v))
        {
            points.push((t, f64::from_bits(STALE_NAN_BITS)));
        }
    }

    fn prune(&mut self, now: i64) {
        let cutoff = now - self.retention_ms;
        for series in self.by_name.values_mut() {
            series.retain(|_, points| {
                let keep_from = points.partition_point(|(t, _)| *t < cutoff);
                // Keep one sample before the cutoff so lookback at the window's edge still works.
                let drop = keep_from.saturating_sub(1);
                if drop > 0 {
                    points.drain(..drop);
                }
                !points.is_empty() && points.last().is_some_and(|(t, _)| *t >= cutoff)
            });
        }
        self.by_name.retain(|_, s| !s.is_empty());
    }

    pub fn series_count(&self) -> usize {
        self.by_name.values().map(HashMap::len).sum()
    }
}

impl Queryable for SeriesStore {
    fn series(&self, name: Option<&str>) -> Vec<(&str, &Labels, &Points)> {
        match name {
            Some(n) => self
                .by_name
                .get_key_value(n)
                .map(|(k, m)| m.iter().map(|(l, p)| (k.as_str(), l, p)).collect())
                .unwrap_or_default(),
            None => self
                .by_name
                .iter()
                .flat_map(|(k, m)| m.iter().map(move |(l, p)| (k.as_str(), l, p)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(v: f64) -> Sample {
        Sample {
            name: "m".into(),
            labels: Labels::new(),
            value: v,
        }
    }

    #[test]
    fn unchanged_values_are_sampled_once_per_interval() {
        let mut s = SeriesStore::new(60_000, 1_000);
        s.ingest(&[sample(1.0)], 0);
        s.ingest(&[sample(1.0)], 500);
        s.ingest(&[sample(2.0)], 600);
        s.ingest(&[sample(2.0)], 1_600);
        let all = s.series(Some("m"));
        assert_eq!(all[0].2, &vec![(0, 1.0), (600, 2.0), (1_600, 2.0)]);
    }

    #[test]
    fn old_samples_are_pruned_but_one_before_the_window_is_kept() {
        let mut s = SeriesStore::new(10_000, 1_000);
        for t in 0..30 {
            s.ingest(&[sample(t as f64)], t * 1_000);
        }
        let points = s.series(Some("m"))[0].2.clone();
        assert_eq!(points.first().unwrap().0, 18_000);
        assert_eq!(points.len(), 12);
    }

    #[test]
    fn stale_marker_is_appended_once() {
        let mut s = SeriesStore::new(60_000, 1_000);
        s.ingest(&[sample(1.0)], 0);
        s.mark_stale("m", &Labels::new(), 1_000);
        s.mark_stale("m", &Labels::new(), 2_000);
        let points = s.series(Some("m"))[0].2.clone();
        assert_eq!(points.len(), 2);
        assert!(is_stale(points[1].1));
    }
}
