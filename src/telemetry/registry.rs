//! The fan-out recorder: one per application. Each handle it gives out updates the Prometheus
//! exporter (for `/metrics`) and a cell in the [`LiveStore`] (for rules), so both always agree.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::sync::Notify;

use super::names::{self, Kind};
use crate::domain::Labels;

/// One current value, as the rules read it: a metric name, its labels and the value now.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

#[derive(Debug)]
enum Cell {
    /// f64 bits
    Value(AtomicU64),
    Histogram {
        /// f64 bits
        sum: AtomicU64,
        count: AtomicU64,
        /// Cumulative per bucket of [`names::buckets`] of its metric.
        buckets: Vec<AtomicU64>,
    },
}

fn add_f64(a: &AtomicU64, v: f64) {
    let _ = a.fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
        Some((f64::from_bits(bits) + v).to_bits())
    });
}

fn load_f64(a: &AtomicU64) -> f64 {
    f64::from_bits(a.load(Ordering::Acquire))
}

/// The current value of every series recorded, and a notification when any changes.
#[derive(Debug, Default)]
pub struct LiveStore {
    /// By metric name, then labels: a change-triggered evaluation reads only the changed names.
    cells: RwLock<HashMap<String, HashMap<Labels, Arc<Cell>>>>,
    /// Names of the metrics that changed since the last `take_changed`.
    dirty: std::sync::Mutex<std::collections::HashSet<Arc<str>>>,
    changed: Notify,
}

impl LiveStore {
    fn cell(&self, key: &Key, kind: Kind) -> Arc<Cell> {
        let labels: Labels = key.labels().map(|l| (l.key(), l.value())).collect();
        if let Some(c) = self
            .cells
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key.name())
            .and_then(|by_labels| by_labels.get(&labels))
        {
            return c.clone();
        }
        let mut cells = self.cells.write().unwrap_or_else(|e| e.into_inner());
        cells
            .entry(key.name().to_string())
            .or_default()
            .entry(labels)
            .or_insert_with(|| {
                Arc::new(match kind {
                    Kind::Histogram => Cell::Histogram {
                        sum: AtomicU64::new(0f64.to_bits()),
                        count: AtomicU64::new(0),
                        buckets: names::buckets(key.name())
                            .iter()
                            .map(|_| AtomicU64::new(0))
                            .collect(),
                    },
                    _ => Cell::Value(AtomicU64::new(0f64.to_bits())),
                })
            })
            .clone()
    }

    /// Every series' current value; histograms expand to `_bucket`, `_sum` and `_count`.
    pub fn snapshot(&self) -> Vec<Sample> {
        let cells = self.cells.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (name, by_labels) in cells.iter() {
            push_samples(&mut out, name, by_labels);
        }
        out
    }

    /// The current values of the named metrics only.
    pub fn snapshot_of(&self, names: &std::collections::HashSet<Arc<str>>) -> Vec<Sample> {
        let cells = self.cells.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for name in names {
            if let Some(by_labels) = cells.get(name.as_ref()) {
                push_samples(&mut out, name, by_labels);
            }
        }
        out
    }

    /// Resolves once something changed since the last call returned (changes coalesce).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The names of the metrics that changed since the last `take_changed`, leaving them there.
    pub fn changed_names(&self) -> std::collections::HashSet<Arc<str>> {
        self.dirty.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The names of the metrics that changed since the last call.
    pub fn take_changed(&self) -> std::collections::HashSet<Arc<str>> {
        std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn touch(&self, name: &Arc<str>) {
        let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
        if !dirty.contains(name) {
            dirty.insert(name.clone());
        }
        drop(dirty);
        // notify_one stores one permit when nobody waits, so a burst of changes wakes the
        // evaluator once.
        self.changed.notify_one();
    }
}

fn push_samples(out: &mut Vec<Sample>, name: &str, by_labels: &HashMap<Labels, Arc<Cell>>) {
    for (labels, cell) in by_labels {
        match &**cell {
            Cell::Value(v) => out.push(Sample {
                name: name.to_string(),
                labels: labels.clone(),
                value: load_f64(v),
            }),
            Cell::Histogram {
                sum,
                count,
                buckets,
            } => {
                let bucket_name = format!("{name}_bucket");
                for (bound, b) in names::buckets(name).iter().zip(buckets) {
                    let mut l = labels.clone();
                    l.insert("le", bound.to_string());
                    out.push(Sample {
                        name: bucket_name.clone(),
                        labels: l,
                        value: b.load(Ordering::Acquire) as f64,
                    });
                }
                let total = count.load(Ordering::Acquire) as f64;
                let mut l = labels.clone();
                l.insert("le", "+Inf");
                out.push(Sample {
                    name: bucket_name,
                    labels: l,
                    value: total,
                });
                out.push(Sample {
                    name: format!("{name}_sum"),
                    labels: labels.clone(),
                    value: load_f64(sum),
                });
                out.push(Sample {
                    name: format!("{name}_count"),
                    labels: labels.clone(),
                    value: total,
                });
            }
        }
    }
}

struct FanCounter {
    name: Arc<str>,
    prom: Counter,
    cell: Arc<Cell>,
    live: Arc<LiveStore>,
}

impl CounterFn for FanCounter {
    fn increment(&self, value: u64) {
        self.prom.increment(value);
        if let Cell::Value(v) = &*self.cell {
            add_f64(v, value as f64);
        }
        self.live.touch(&self.name);
    }

    fn absolute(&self, value: u64) {
        self.prom.absolute(value);
        if let Cell::Value(v) = &*self.cell {
            v.store((value as f64).to_bits(), Ordering::Release);
        }
        self.live.touch(&self.name);
    }
}

struct FanGauge {
    name: Arc<str>,
    prom: Gauge,
    cell: Arc<Cell>,
    live: Arc<LiveStore>,
}

impl FanGauge {
    fn apply(&self, f: impl Fn(f64) -> f64) {
        if let Cell::Value(v) = &*self.cell {
            let _ = v.fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                Some(f(f64::from_bits(bits)).to_bits())
            });
        }
        self.live.touch(&self.name);
    }
}

impl GaugeFn for FanGauge {
    fn increment(&self, value: f64) {
        self.prom.increment(value);
        self.apply(|x| x + value);
    }

    fn decrement(&self, value: f64) {
        self.prom.decrement(value);
        self.apply(|x| x - value);
    }

    fn set(&self, value: f64) {
        self.prom.set(value);
        self.apply(|_| value);
    }
}

struct FanHistogram {
    name: Arc<str>,
    prom: Histogram,
    cell: Arc<Cell>,
    live: Arc<LiveStore>,
}

impl HistogramFn for FanHistogram {
    fn record(&self, value: f64) {
        self.prom.record(value);
        if let Cell::Histogram {
            sum,
            count,
            buckets,
        } = &*self.cell
        {
            add_f64(sum, value);
            count.fetch_add(1, Ordering::AcqRel);
            for (bound, b) in names::buckets(&self.name).iter().zip(buckets) {
                if value <= *bound {
                    b.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
        self.live.touch(&self.name);
    }
}

/// The application's metrics recorder.
pub struct MetricsRegistry {
    prom: PrometheusRecorder,
    handle: PrometheusHandle,
    live: Arc<LiveStore>,
}

impl std::fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRegistry").finish_non_exhaustive()
    }
}

impl MetricsRegistry {
    pub fn new() -> Self {
        let mut builder = PrometheusBuilder::new()
            .set_buckets(names::BUCKETS)
            .expect("the bucket list is a non-empty constant");
        for name in [
            names::TICKET_TIME_TO_ACKNOWLEDGE_SECONDS,
            names::TICKET_TIME_TO_RESOLVE_SECONDS,
        ] {
            builder = builder
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(name.to_string()),
                    names::buckets(name),
                )
                .expect("the bucket list is a non-empty constant");
        }
        let prom = builder.build_recorder();
        let handle = prom.handle();
        let registry = Self {
            prom,
            handle,
            live: Arc::new(LiveStore::default()),
        };
        for (name, kind, help) in names::ALL {
            let key = KeyName::from(*name);
            let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
            let help = SharedString::const_str(help);
            match kind {
                Kind::Counter => registry.prom.describe_counter(key, None, help),
                Kind::Gauge => registry.prom.describe_gauge(key, unit, help),
                Kind::Histogram => registry.prom.describe_histogram(key, unit, help),
            }
        }
        registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Housekeeping the exporter needs now and then (drains histogram buffers).
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    pub fn live(&self) -> &Arc<LiveStore> {
        &self.live
    }
}

impl Default for MetricsRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder for MetricsRegistry {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prom.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prom.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prom.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(FanCounter {
            name: Arc::from(key.name()),
            prom: self.prom.register_counter(key, metadata),
            cell: self.live.cell(key, Kind::Counter),
            live: self.live.clone(),
        }))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(FanGauge {
            name: Arc::from(key.name()),
            prom: self.prom.register_gauge(key, metadata),
            cell: self.live.cell(key, Kind::Gauge),
            live: self.live.clone(),
        }))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(FanHistogram {
            name: Arc::from(key.name()),
            prom: self.prom.register_histogram(key, metadata),
            cell: self.live.cell(key, Kind::Histogram),
            live: self.live.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_see_the_same_values() {
        let r = MetricsRegistry::new();
        metrics::with_local_recorder(&r, || {
            metrics::counter!(names::SYNC_RUNS_TOTAL, "provider" => "cdk", "status" => "success")
                .increment(3);
            metrics::gauge!(names::STAGE_QUEUE_RECORDS, "pipeline" => "dms", "stage" => "store")
                .set(7.5);
            metrics::histogram!(names::SYNC_DURATION_SECONDS, "provider" => "cdk").record(0.2);
        });
        let text = r.render();
        assert!(
            text.contains(r#"syncwatch_sync_runs_total{provider="cdk",status="success"} 3"#),
            "{text}"
        );
        assert!(text.contains("# HELP syncwatch_sync_runs_total"), "{text}");
        assert!(
            text.contains(r#"syncwatch_sync_duration_seconds_bucket{provider="cdk",le="0.25"} 1"#),
            "{text}"
        );
        let snap = r.live().snapshot();
        let find = |name: &str, extra: Option<(&str, &str)>| {
            snap.iter()
                .find(|s| s.name == name && extra.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
                .map(|s| s.value)
        };
        assert_eq!(find("syncwatch_sync_runs_total", None), Some(3.0));
        assert_eq!(find("syncwatch_stage_queue_records", None), Some(7.5));
        assert_eq!(
            find("syncwatch_sync_duration_seconds_count", None),
            Some(1.0)
        );
        assert_eq!(
            find(
                "syncwatch_sync_duration_seconds_bucket",
                Some(("le", "0.25"))
            ),
            Some(1.0)
        );
        assert_eq!(
            find(
                "syncwatch_sync_duration_seconds_bucket",
                Some(("le", "0.1"))
            ),
            Some(0.0)
        );
    }

    #[tokio::test]
    async fn a_change_wakes_a_waiter() {
        let r = MetricsRegistry::new();
        metrics::with_local_recorder(&r, || {
            metrics::counter!(names::TICKETS_CREATED_TOTAL, "severity" => "critical").increment(1);
        });
        tokio::time::timeout(std::time::Duration::from_secs(1), r.live().changed())
            .await
            .expect("a recorded change notifies");
        let changed = r.live().take_changed();
        assert!(
            changed.contains("syncwatch_tickets_created_total"),
            "{changed:?}"
        );
        assert!(r.live().take_changed().is_empty(), "taken once");
    }
}
