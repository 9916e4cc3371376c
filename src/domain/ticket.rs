//! Tickets: their types and the pure decisions of their lifecycle. The store enforces "at most one
//! open or acknowledged ticket per dedup key"; these functions decide what to ask of it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::alert::Alert;
use super::labels::Labels;
use super::severity::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Acknowledged,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Acknowledged => "acknowledged",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Acknowledged, Self::Resolved, Self::Closed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// Open or acknowledged: somebody still has to act.
    pub fn is_active(self) -> bool {
        matches!(self, TicketStatus::Open | TicketStatus::Acknowledged)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "P1" => Some(Priority::P1),
            "P2" => Some(Priority::P2),
            "P3" => Some(Priority::P3),
            "P4" => Some(Priority::P4),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }

    /// The priority a ticket gets when its config names none.
    pub fn from_severity(s: Severity) -> Self {
        match s {
            Severity::Critical => Priority::P1,
            Severity::Error => Priority::P2,
            Severity::Warning => Priority::P3,
            Severity::Info => Priority::P4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tier {
    L1,
    L2,
    L3,
}

impl Tier {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "L1" => Some(Tier::L1),
            "L2" => Some(Tier::L2),
            "L3" => Some(Tier::L3),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::L1 => "L1",
            Tier::L2 => "L2",
            Tier::L3 => "L3",
        }
    }
}

/// The key that makes two alerts "the same problem": the values of the `dedup_by` labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DedupKey(String);

impl DedupKey {
    pub fn from_labels(labels: &Labels, dedup_by: &[String]) -> Self {
        let parts: Vec<String> = dedup_by
            .iter()
            .map(|n| format!("{n}={}", labels.value(n)))
            .collect();
        DedupKey(parts.join(","))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for DedupKey {
    fn from(s: String) -> Self {
        DedupKey(s)
    }
}

/// The runbook a ticket links to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookRef {
    pub id: String,
    pub title: String,
    pub url: String,
}

/// A ticket as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub dedup_key: DedupKey,
    pub status: TicketStatus,
    pub severity: Severity,
    pub priority: Priority,
    pub tier: Tier,
    pub title: String,
    pub summary: String,
    pub labels: Labels,
    pub provider: Option<String>,
    pub connection: Option<String>,
    pub alertname: String,
    pub runbook: Option<RunbookRef>,
    pub assignee: Option<String>,
    pub occurrences: i64,
    pub created_at_ms: i64,
    pub acknowledged_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub closed_at_ms: Option<i64>,
    pub updated_at_ms: i64,
}

/// What a ticket config asks for (validated from `ticket_configs`).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketPolicy {
    pub priority: Option<Priority>,
    pub tier: Tier,
    pub dedup_by: Vec<String>,
    pub reopen_within: Duration,
    pub send_resolved: bool,
}

impl Default for TicketPolicy {
    fn default() -> Self {
        Self {
            priority: None,
            tier: Tier::L1,
            dedup_by: vec!["alertname".into(), "provider".into(), "connection".into()],
            reopen_within: Duration::from_secs(24 * 3600),
            send_resolved: true,
        }
    }
}

/// What to do with a firing alert, given the active ticket of its key (if any) and the most
/// recently resolved one (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FiringDecision {
    /// No ticket to reuse: open a new one.
    Create,
    /// The problem is already ticketed: count one more occurrence.
    Increment { id: String },
    /// It came back soon after it was resolved: reopen that ticket.
    Reopen { id: String },
}

pub fn decide_firing(
    active: Option<&Ticket>,
    last_resolved: Option<&Ticket>,
    now_ms: i64,
    reopen_within: Duration,
) -> FiringDecision {
    if let Some(t) = active {
        return FiringDecision::Increment { id: t.id.clone() };
    }
    if let Some(t) = last_resolved
        && t.status == TicketStatus::Resolved
        && let Some(resolved_at) = t.resolved_at_ms
        && now_ms - resolved_at <= reopen_within.as_millis() as i64
    {
        return FiringDecision::Reopen { id: t.id.clone() };
    }
    FiringDecision::Create
}

/// Builds the fields of a new ticket from the alert that opens it.
pub fn new_ticket(
    id: String,
    alert: &Alert,
    key: DedupKey,
    policy: &TicketPolicy,
    runbook: Option<RunbookRef>,
    now_ms: i64,
) -> Ticket {
    let severity = alert.severity();
    let summary = alert
        .annotation("summary")
        .or_else(|| alert.annotation("description"))
        .unwrap_or("")
        .to_string();
    let mut title = alert.name().to_string();
    for l in ["provider", "connection"] {
        if let Some(v) = alert.labels.get(l) {
            title.push_str(&format!(" {v}"));
        }
    }
    Ticket {
        id,
        dedup_key: key,
        status: TicketStatus::Open,
        severity,
        priority: policy.priority.unwrap_or(Priority::from_severity(severity)),
        tier: policy.tier,
        title,
        summary,
        labels: alert.labels.clone(),
        provider: alert.labels.get("provider").map(str::to_string),
        connection: alert.labels.get("connection").map(str::to_string),
        alertname: alert.name().to_string(),
        runbook,
        assignee: None,
        occurrences: 1,
        created_at_ms: now_ms,
        acknowledged_at_ms: None,
        resolved_at_ms: None,
        closed_at_ms: None,
        updated_at_ms: now_ms,
    }
}

/// One dedup key's share of a notification: the alerts that fire under it and those resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedAlerts<'a> {
    pub key: DedupKey,
    pub firing: Vec<&'a Alert>,
    pub resolved: Vec<&'a Alert>,
}

/// Splits a notification's alerts by dedup key, keeping first-seen order.
/// Linear in the alerts (a giant group's keys are looked up, not scanned).
pub fn by_dedup_key<'a>(
    alerts: impl IntoIterator<Item = &'a Alert>,
    dedup_by: &[String],
) -> Vec<KeyedAlerts<'a>> {
    let mut out: Vec<KeyedAlerts<'a>> = Vec::new();
    let mut index: std::collections::HashMap<DedupKey, usize> = Default::default();
    for a in alerts {
        let key = DedupKey::from_labels(&a.labels, dedup_by);
        let idx = match index.get(&key) {
            Some(&i) => i,
            None => {
                index.insert(key.clone(), out.len());
                out.push(KeyedAlerts {
                    key,
                    firing: vec![],
                    resolved: vec![],
                });
                out.len() - 1
            }
        };
        if a.is_resolved() {
            out[idx].resolved.push(a);
        } else {
            out[idx].firing.push(a);
        }
    }
    out
}

/// The occurrence identity of an alert: the same alert instance is counted once however often it
/// is notified.
pub fn occurrence_key(alert: &Alert) -> String {
    format!("{}@{}", alert.fingerprint(), alert.starts_at_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str, provider: &str, resolved: bool) -> Alert {
        Alert {
            labels: [
                ("alertname", name),
                ("provider", provider),
                ("severity", "critical"),
            ]
            .into_iter()
            .collect(),
            annotations: [("summary", "auth failing")].into_iter().collect(),
            starts_at_ms: 1_000,
            ends_at_ms: resolved.then_some(2_000),
            value: Some(1.0),
            generator_url: String::new(),
        }
    }

    fn ticket(status: TicketStatus, resolved_at: Option<i64>) -> Ticket {
        let mut t = new_ticket(
            "t1".into(),
            &alert("A", "cdk", false),
            DedupKey::from("k".to_string()),
            &TicketPolicy::default(),
            None,
            0,
        );
        t.status = status;
        t.resolved_at_ms = resolved_at;
        t
    }

    #[test]
    fn dedup_key_uses_named_labels_only() {
        let a = alert("ProviderAuthFailing", "cdk", false);
        let key = DedupKey::from_labels(&a.labels, &TicketPolicy::default().dedup_by);
        assert_eq!(
            key.as_str(),
            "alertname=ProviderAuthFailing,provider=cdk,connection="
        );
    }

    #[test]
    fn an_active_ticket_is_incremented() {
        let t = ticket(TicketStatus::Open, None);
        let d = decide_firing(Some(&t), None, 10, Duration::from_secs(60));
        assert_eq!(d, FiringDecision::Increment { id: "t1".into() });
    }

    #[test]
    fn a_recent_resolution_is_reopened_and_an_old_one_is_not() {
        let t = ticket(TicketStatus::Resolved, Some(1_000));
        let within = Duration::from_secs(60);
        assert_eq!(
            decide_firing(None, Some(&t), 61_000, within),
            FiringDecision::Reopen { id: "t1".into() }
        );
        assert_eq!(
            decide_firing(None, Some(&t), 61_001, within),
            FiringDecision::Create
        );
        let closed = ticket(TicketStatus::Closed, Some(1_000));
        assert_eq!(
            decide_firing(None, Some(&closed), 2_000, within),
            FiringDecision::Create
        );
    }

    #[test]
    fn new_ticket_takes_priority_from_severity_unless_configured() {
        let a = alert("ProviderAuthFailing", "cdk", false);
        let key = DedupKey::from("k".to_string());
        let t = new_ticket(
            "x".into(),
            &a,
            key.clone(),
            &TicketPolicy::default(),
            None,
            5,
        );
        assert_eq!(t.priority, Priority::P1);
        assert_eq!(t.title, "ProviderAuthFailing cdk");
        assert_eq!(t.summary, "auth failing");
        let policy = TicketPolicy {
            priority: Some(Priority::P3),
            ..TicketPolicy::default()
        };
        assert_eq!(
            new_ticket("x".into(), &a, key, &policy, None, 5).priority,
            Priority::P3
        );
    }

    #[test]
    fn alerts_split_by_key_into_firing_and_resolved() {
        let alerts = vec![
            alert("A", "cdk", false),
            alert("A", "tekion", true),
            alert("A", "cdk", true),
        ];
        let split = by_dedup_key(&alerts, &["alertname".into(), "provider".into()]);
        assert_eq!(split.len(), 2);
        assert_eq!(split[0].firing.len(), 1);
        assert_eq!(split[0].resolved.len(), 1);
        assert_eq!(split[1].resolved.len(), 1);
    }
}
