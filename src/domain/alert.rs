//! Alerts as routing sees them (Alertmanager's model): a label set with annotations, a start and,
//! once resolved, an end. Rule evaluation produces them; the Alertmanager API accepts them too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::labels::{Fingerprint, Labels};
use super::pairs::SortedPairs;
use super::severity::Severity;

/// Where an alerting rule's alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// A firing or resolved alert handed to routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: Labels,
    pub annotations: Annotations,
    pub starts_at_ms: i64,
    /// Set once the alert resolved.
    pub ends_at_ms: Option<i64>,
    /// The value of the expression when the alert last evaluated (for messages).
    pub value: Option<f64>,
    pub generator_url: String,
}

impl Alert {
    pub fn fingerprint(&self) -> Fingerprint {
        self.labels.fingerprint()
    }

    pub fn is_resolved(&self) -> bool {
        self.ends_at_ms.is_some()
    }

    pub fn name(&self) -> &str {
        self.labels.value("alertname")
    }

    pub fn severity(&self) -> Severity {
        Severity::from_label(self.labels.get("severity"))
    }

    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.annotations.get(name)
    }

    pub fn status_str(&self) -> &'static str {
        if self.is_resolved() {
            "resolved"
        } else {
            "firing"
        }
    }
}

/// An alert's annotations (`summary`, `runbook_url`, …): names to texts, sorted by name. Unlike
/// labels, an empty value is kept. Held compactly ([`SortedPairs`]): a million held alerts each
/// have theirs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations(SortedPairs);

/// Read like the pairs they are (`get`, `iter`, `len`, `is_empty`).
impl std::ops::Deref for Annotations {
    type Target = SortedPairs;

    fn deref(&self) -> &SortedPairs {
        &self.0
    }
}

/// Of a name given twice the last value counts.
impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Annotations {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Annotations(SortedPairs::from_pairs(iter.into_iter().collect()))
    }
}

impl From<BTreeMap<String, String>> for Annotations {
    fn from(map: BTreeMap<String, String>) -> Self {
        map.into_iter().collect()
    }
}

impl std::ops::Index<&str> for Annotations {
    type Output = str;

    /// The annotation's text; panics when absent, as a map's index does.
    fn index(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("no annotation {name:?}"))
    }
}

/// As a JSON object, the way Prometheus and Alertmanager write annotations.
impl Serialize for Annotations {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Annotations {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<String, String>::deserialize(d)?.into())
    }
}
