//! The in-memory series store the rules read: samples of every metric over a bounded window.
//!
//! It is fed from the live metric values (one "scrape" per evaluation): a sample is appended when
//! a value changed or the series' last sample is older than the scrape interval, so an unchanged
//! series costs one sample per interval. Samples older than the retention are dropped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use promql_parser::label::{MatchOp, Matcher};

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
    /// The series of a metric name (`None`: of every name) that every matcher accepts; labels
    /// come without `__name__`.
    fn select(&self, name: Option<&str>, matchers: &[Matcher]) -> Vec<(&str, &Labels, &Points)>;
}

/// Whether a matcher accepts a series (`__name__` is matched against the metric name).
pub fn matcher_accepts(m: &Matcher, labels: &Labels, name: &str) -> bool {
    let v = if m.name == "__name__" {
        name
    } else {
        labels.value(&m.name)
    };
    match &m.op {
        MatchOp::Equal => m.value == v,
        MatchOp::NotEqual => m.value != v,
        MatchOp::Re(re) => re.is_match(v),
        MatchOp::NotRe(re) => !re.is_match(v),
    }
}

/// The series of one metric name, with postings (label value → series) for equality matchers,
/// the inverted index that spares a selector from scanning every series of its metric.
#[derive(Debug, Default)]
struct Family {
    slots: Vec<(Labels, Points)>,
    /// When each slot's series was created (the store's sequence), beside `slots`.
    created: Vec<u64>,
    /// Fingerprint of the labels → slots (more than one only on a hash collision); the labels
    /// themselves live once, in `slots`.
    index: HashMap<u64, Vec<usize>>,
    postings: HashMap<String, HashMap<String, Vec<usize>>>,
}

impl Family {
    fn slot_of(&self, labels: &Labels) -> Option<usize> {
        self.index
            .get(&labels.fingerprint().0)?
            .iter()
            .copied()
            .find(|i| self.slots[*i].0 == *labels)
    }

    fn get_mut(&mut self, labels: &Labels) -> Option<&mut Points> {
        let i = self.slot_of(labels)?;
        Some(&mut self.slots[i].1)
    }

    /// Records slot `i` (holding `labels`) in the index and the postings.
    fn index_slot(
        index: &mut HashMap<u64, Vec<usize>>,
        postings: &mut HashMap<String, HashMap<String, Vec<usize>>>,
        labels: &Labels,
        i: usize,
    ) {
        index.entry(labels.fingerprint().0).or_default().push(i);
        for (k, v) in labels.iter() {
            let values = match postings.get_mut(k) {
                Some(values) => values,
                None => postings.entry(k.to_string()).or_default(),
            };
            match values.get_mut(v) {
                Some(list) => list.push(i),
                None => {
                    values.insert(v.to_string(), vec![i]);
                }
            }
        }
    }

    fn insert(&mut self, labels: Labels, seq: u64) -> &mut Points {
        let i = self.slots.len();
        Self::index_slot(&mut self.index, &mut self.postings, &labels, i);
        self.slots.push((labels, Vec::new()));
        self.created.push(seq);
        &mut self.slots[i].1
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    /// Keeps the series `keep` accepts; rebuilds the index when any went.
    fn retain(&mut self, mut keep: impl FnMut(&mut (Labels, Points)) -> bool) {
        let before = self.slots.len();
        let mut kept = Vec::with_capacity(before);
        self.slots.retain_mut(|slot| {
            let k = keep(slot);
            kept.push(k);
            k
        });
        if self.slots.len() != before {
            let mut flags = kept.into_iter();
            self.created.retain(|_| flags.next().unwrap_or(false));
            self.index.clear();
            self.postings.clear();
            for (i, (labels, _)) in self.slots.iter().enumerate() {
                Self::index_slot(&mut self.index, &mut self.postings, labels, i);
            }
        }
    }

    /// Series that can match: the intersection of the postings of the equality matchers
    /// (ascending slot order), or every series when there is none.
    fn candidates(&self, matchers: &[Matcher]) -> Vec<usize> {
        let mut lists: Vec<&Vec<usize>> = Vec::new();
        for m in matchers
            .iter()
            .filter(|m| m.op == MatchOp::Equal && m.name != "__name__" && !m.value.is_empty())
        {
            match self
                .postings
                .get(&m.name)
                .and_then(|values| values.get(&m.value))
            {
                Some(list) => lists.push(list),
                None => return Vec::new(),
            }
        }
        if lists.is_empty() {
            return (0..self.slots.len()).collect();
        }
        lists.sort_by_key(|l| l.len());
        let mut out = lists[0].clone();
        for other in &lists[1..] {
            let mut j = 0;
            out.retain(|x| {
                while j < other.len() && other[j] < *x {
                    j += 1;
                }
                j < other.len() && other[j] == *x
            });
        }
        out
    }
}

/// How long each metric's samples are kept, derived from what the rules read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetentionPlan {
    /// A rule selects series without naming the metric (`{__name__=~"…"}`): keep every metric.
    pub keep_all: bool,
    /// Per metric name: the longest window (range + offset + lookback) any rule reads.
    pub windows: HashMap<String, i64>,
    /// The least any kept metric is kept (configured minimum, at least the lookback).
    pub min_ms: i64,
}

impl RetentionPlan {
    /// Keeps every metric for `retention_ms`.
    pub fn keep_all(retention_ms: i64) -> Self {
        Self {
            keep_all: true,
            windows: HashMap::new(),
            min_ms: retention_ms,
        }
    }

    pub fn retention_ms(&self, name: &str) -> i64 {
        self.windows
            .get(name)
            .map_or(self.min_ms, |w| (*w).max(self.min_ms))
    }

    /// Whether live values of this metric are worth storing.
    pub fn wants(&self, name: &str) -> bool {
        self.keep_all || self.windows.contains_key(name)
    }

    /// The metrics worth sampling, a histogram under its base name as the registry keeps it
    /// (`x` for `x_bucket`); `None` when every metric is.
    pub fn wanted_names(&self) -> Option<HashSet<Arc<str>>> {
        if self.keep_all {
            return None;
        }
        let mut names = HashSet::new();
        for name in self.windows.keys() {
            for suffix in ["_bucket", "_sum", "_count"] {
                if let Some(base) = name.strip_suffix(suffix) {
                    names.insert(Arc::from(base));
                }
            }
            names.insert(Arc::from(name.as_str()));
        }
        Some(names)
    }
}

/// Size of the store, for `syncwatch_series` and `syncwatch_series_memory_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    pub series: usize,
    pub samples: usize,
    /// An estimate of the heap the store holds.
    pub bytes: usize,
    /// New series refused because the store was full, since start.
    pub dropped: u64,
}

/// The store.
#[derive(Debug, Default)]
pub struct SeriesStore {
    by_name: HashMap<String, Family>,
    plan: RetentionPlan,
    scrape_interval_ms: i64,
    /// Series the store holds at most; new ones past it are refused and counted.
    max_series: usize,
    series: usize,
    /// Series created so far: each new series' place in the order selectors return them.
    created: u64,
    dropped: u64,
    last_prune_ms: i64,
}

/// Samples of one series are kept at least this far apart: a newer value within it replaces the
/// newest sample, so the latest value is always visible but a busy counter costs at most one
/// sample a second.
pub const MIN_SPACING_MS: i64 = 1_000;

/// Pruning walks every series; once a second is plenty.
const PRUNE_EVERY_MS: i64 = 1_000;

impl SeriesStore {
    /// A store that keeps every metric for `retention_ms`, without a series limit.
    pub fn new(retention_ms: i64, scrape_interval_ms: i64) -> Self {
        Self::with_plan(
            RetentionPlan::keep_all(retention_ms),
            scrape_interval_ms,
            usize::MAX,
        )
    }

    pub fn with_plan(plan: RetentionPlan, scrape_interval_ms: i64, max_series: usize) -> Self {
        Self {
            plan,
            scrape_interval_ms,
            max_series,
            ..Self::default()
        }
    }

    /// The metrics the plan keeps ([`RetentionPlan::wanted_names`]).
    pub fn wanted_names(&self) -> Option<HashSet<Arc<str>>> {
        self.plan.wanted_names()
    }

    pub fn set_plan(&mut self, plan: RetentionPlan) {
        // Metrics no longer read age out on the next prune.
        self.plan = plan;
    }

    fn points_mut(&mut self, name: &str, labels: &Labels) -> Option<&mut Points> {
        let full = self.series >= self.max_series;
        if !self.by_name.contains_key(name) {
            if full {
                self.dropped += 1;
                return None;
            }
            self.by_name.insert(name.to_string(), Family::default());
        }
        let family = self.by_name.get_mut(name)?;
        if let Some(i) = family.slot_of(labels) {
            return Some(&mut family.slots[i].1);
        }
        if full {
            self.dropped += 1;
            return None;
        }
        self.series += 1;
        self.created += 1;
        Some(family.insert(labels.clone(), self.created))
    }

    /// Appends one sample (recording rules, `ALERTS`, tests).
    pub fn push(&mut self, name: &str, labels: &Labels, t: i64, v: f64) {
        let Some(points) = self.points_mut(name, labels) else {
            return;
        };
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

    /// Ingests a snapshot of the live values at time `t`: metrics no rule reads are skipped.
    pub fn ingest(&mut self, samples: &[Sample], t: i64) {
        let scrape = self.scrape_interval_ms;
        for s in samples {
            if !self.plan.wants(&s.name) {
                continue;
            }
            let Some(points) = self.points_mut(&s.name, &s.labels) else {
                continue;
            };
            let n = points.len();
            match points.last() {
                None => points.push((t, s.value)),
                Some((lt, lv)) if t > *lt => {
                    let changed = lv.to_bits() != s.value.to_bits();
                    // The newest sample is settled once it is a full spacing past the one before it.
                    let spaced = n < 2 || *lt - points[n - 2].0 >= MIN_SPACING_MS;
                    if changed && !spaced {
                        points[n - 1] = (t, s.value);
                    } else if changed || t - lt >= scrape {
                        points.push((t, s.value));
                    }
                }
                Some(_) => {}
            }
        }
        if t - self.last_prune_ms >= PRUNE_EVERY_MS {
            self.prune(t);
        }
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

    /// Drops samples older than each metric's retention, and series left empty.
    pub fn prune(&mut self, now: i64) {
        self.last_prune_ms = now;
        for (name, family) in self.by_name.iter_mut() {
            let cutoff = now - self.plan.retention_ms(name);
            family.retain(|(_, points)| {
                let keep_from = points.partition_point(|(t, _)| *t < cutoff);
                // Keep one sample before the cutoff so lookback at the window's edge still works.
                let drop = keep_from.saturating_sub(1);
                if drop > 0 {
                    points.drain(..drop);
                    if points.capacity() > 4 * points.len().max(8) {
                        points.shrink_to_fit();
                    }
                }
                !points.is_empty() && points.last().is_some_and(|(t, _)| *t >= cutoff)
            });
        }
        self.by_name.retain(|_, f| f.len() > 0);
        self.series = self.by_name.values().map(Family::len).sum();
    }

    pub fn series_count(&self) -> usize {
        self.series
    }

    pub fn stats(&self) -> StoreStats {
        let mut samples = 0;
        let mut bytes = 0;
        for (name, family) in &self.by_name {
            bytes += name.len() + 64 + family.len() * 48;
            for (labels, points) in &family.slots {
                samples += points.len();
                bytes += 96 + points.capacity() * std::mem::size_of::<(i64, f64)>();
                bytes += labels
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 48)
                    .sum::<usize>();
            }
        }
        StoreStats {
            series: self.series,
            samples,
            bytes,
            dropped: self.dropped,
        }
    }
}

impl SeriesStore {
    /// Every series of a metric name (`None`: of every name).
    pub fn series(&self, name: Option<&str>) -> Vec<(&str, &Labels, &Points)> {
        self.select(name, &[])
    }
}

impl Queryable for SeriesStore {
    fn select(&self, name: Option<&str>, matchers: &[Matcher]) -> Vec<(&str, &Labels, &Points)> {
        // A `__name__="x"` matcher names the metric as well as `x{…}` does.
        let name = name.or_else(|| {
            matchers
                .iter()
                .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
                .map(|m| m.value.as_str())
        });
        let families: Vec<(&String, &Family)> = match name {
            Some(n) => self.by_name.get_key_value(n).into_iter().collect(),
            None => self.by_name.iter().collect(),
        };
        // In the order the series were created, as Prometheus' head block returns them to
        // rule evaluations: aggregations add in this order, and float sums depend on it.
        let mut out = Vec::new();
        for (fname, family) in &families {
            for i in family.candidates(matchers) {
                let (labels, points) = &family.slots[i];
                if matchers.iter().all(|m| matcher_accepts(m, labels, fname)) {
                    out.push((family.created[i], fname.as_str(), labels, points));
                }
            }
        }
        if families.len() > 1 {
            out.sort_unstable_by_key(|s| s.0);
        }
        out.into_iter().map(|(_, n, l, p)| (n, l, p)).collect()
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

    #[test]
    fn only_metrics_a_rule_reads_are_kept_each_for_its_window() {
        let plan = RetentionPlan {
            keep_all: false,
            windows: HashMap::from([("long".to_string(), 60_000), ("short".to_string(), 5_000)]),
            min_ms: 10_000,
        };
        let mut s = SeriesStore::with_plan(plan, 1_000, usize::MAX);
        let named = |n: &str, v: f64| Sample {
            name: n.into(),
            labels: Labels::new(),
            value: v,
        };
        for t in 0..=60 {
            s.ingest(
                &[
                    named("long", t as f64),
                    named("short", t as f64),
                    named("unread", 1.0),
                ],
                t * 1_000,
            );
        }
        assert!(s.series(Some("unread")).is_empty(), "no rule reads it");
        let long = s.series(Some("long"))[0].2.len();
        let short = s.series(Some("short"))[0].2.len();
        assert!(long > 55, "long keeps its 60 s window: {long}");
        assert!(
            (10..=13).contains(&short),
            "short keeps the 10 s minimum: {short}"
        );
    }

    #[test]
    fn a_full_store_refuses_new_series_and_counts_them() {
        let mut s = SeriesStore::with_plan(RetentionPlan::keep_all(60_000), 1_000, 2);
        for i in 0..4 {
            let labels: Labels = [("i", i.to_string())].into_iter().collect();
            s.push("m", &labels, 0, 1.0);
        }
        let st = s.stats();
        assert_eq!((st.series, st.dropped), (2, 2));
        assert!(st.bytes > 0);
    }

    #[test]
    fn a_busy_series_keeps_one_sample_per_second_and_its_latest_value() {
        let mut s = SeriesStore::new(600_000, 15_000);
        for t in 0..=3_000 {
            if t % 10 == 0 {
                s.ingest(&[sample(t as f64)], t);
            }
        }
        let points = s.series(Some("m"))[0].2.clone();
        assert!(points.len() <= 5, "{} samples for 3 s", points.len());
        assert_eq!(
            *points.last().unwrap(),
            (3_000, 3_000.0),
            "the newest value is exact"
        );
        assert!(
            points
                .windows(2)
                .rev()
                .skip(1)
                .all(|w| w[1].0 - w[0].0 >= MIN_SPACING_MS)
        );
    }

    #[test]
    fn equality_matchers_use_the_postings_and_survive_pruning() {
        let mut s = SeriesStore::new(10_000, 1_000);
        for svc in 0..3 {
            for inst in 0..3 {
                let labels: Labels = [
                    ("service", format!("s{svc}")),
                    ("instance", format!("i{inst}")),
                ]
                .into_iter()
                .collect();
                // Series of s0 stop early and are pruned later.
                let until = if svc == 0 { 1 } else { 30 };
                for t in 0..until {
                    s.push("m", &labels, t * 1_000, 1.0);
                }
            }
        }
        let eq = |k: &str, v: &str| Matcher::new(MatchOp::Equal, k, v);
        let names = |v: Vec<(&str, &Labels, &Points)>| {
            let mut out: Vec<String> = v.into_iter().map(|(_, l, _)| l.to_string()).collect();
            out.sort();
            out
        };
        assert_eq!(
            names(s.select(Some("m"), &[eq("service", "s1"), eq("instance", "i2")])),
            vec![r#"{instance="i2", service="s1"}"#]
        );
        assert_eq!(s.select(Some("m"), &[eq("service", "s1")]).len(), 3);
        assert!(s.select(Some("m"), &[eq("service", "nope")]).is_empty());
        assert_eq!(
            s.select(None, &[eq("__name__", "m"), eq("instance", "i0")])
                .len(),
            3
        );
        s.prune(29_000);
        assert!(
            s.select(Some("m"), &[eq("service", "s0")]).is_empty(),
            "pruned series leave the postings"
        );
        assert_eq!(
            names(s.select(Some("m"), &[eq("service", "s2"), eq("instance", "i1")])),
            vec![r#"{instance="i1", service="s2"}"#]
        );
        assert_eq!(s.series_count(), 6);
    }
}
