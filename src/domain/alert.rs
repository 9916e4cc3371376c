//! Alerts as routing sees them (Alertmanager's model): a label set with annotations, a start and,
//! once resolved, an end. Rule evaluation produces them; the Alertmanager API accepts them too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::labels::{Fingerprint, Labels};
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
    pub annotations: BTreeMap<String, String>,
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
        self.annotations.get(name).map(String::as_str)
    }

    pub fn status_str(&self) -> &'static str {
        if self.is_resolved() {
            "resolved"
        } else {
            "firing"
        }
    }
}
