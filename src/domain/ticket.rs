//! Tickets: their types and the pure decisions of their lifecycle. The store enforces "at most one
//! open or acknowledged ticket per dedup key"; these functions decide what to ask of it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::alert::Alert;
use super::duration::format_duration;
use super::labels::Labels;
use super::severity::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
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

    /// 0 for P1 … 3 for P4.
    pub fn index(self) -> usize {
        self as usize
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

/// Support tiers, lowest first (so `L1 < L3`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
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

/// The lifecycle's transitions (DESIGN §7, as support desks such as Zendesk and PagerDuty
/// have them): an open ticket is acknowledged or resolved; an acknowledged one resolved, or
/// handed back (open); a resolved one reopened or closed; a closed ticket is final (the problem
/// coming back opens a new ticket). Asking for the status a ticket already has changes nothing.
pub fn allowed_transitions(from: TicketStatus) -> &'static [TicketStatus] {
    use TicketStatus::*;
    match from {
        Open => &[Acknowledged, Resolved],
        Acknowledged => &[Open, Resolved],
        Resolved => &[Open, Closed],
        Closed => &[],
    }
}

/// A status change that the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: TicketStatus,
    pub to: TicketStatus,
}

impl std::fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let allowed: Vec<&str> = allowed_transitions(self.from)
            .iter()
            .map(|s| s.as_str())
            .collect();
        write!(
            f,
            "a ticket cannot go from {} to {}; from {} it can go to: {}",
            self.from.as_str(),
            self.to.as_str(),
            self.from.as_str(),
            if allowed.is_empty() {
                "nothing (closed is final)".to_string()
            } else {
                allowed.join(", ")
            }
        )
    }
}

/// Checks `from` → `to`: `Ok(true)` when it changes the status, `Ok(false)` when it is the
/// status already.
pub fn check_transition(from: TicketStatus, to: TicketStatus) -> Result<bool, InvalidTransition> {
    if from == to {
        return Ok(false);
    }
    if allowed_transitions(from).contains(&to) {
        Ok(true)
    } else {
        Err(InvalidTransition { from, to })
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// How it was resolved (a person's text), and by whom (a token's name, or `alert` when the
    /// alert resolved it).
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<String>,
    /// Incremented by every change: the ticket's strong ETag.
    #[serde(default)]
    pub version: i64,
    /// The escalation policy and targets in force when the ticket opened.
    #[serde(default)]
    pub escalation: EscalationPolicy,
    /// How many escalation steps were taken since the ticket last became open.
    #[serde(default)]
    pub escalation_level: i64,
    /// When the ticket last became open (created, reopened, handed back): escalation counts
    /// from here; acknowledging stops it.
    #[serde(default)]
    pub open_since_ms: i64,
    /// When the ticket missed its `ack_within` / `resolve_within` target (recorded once).
    #[serde(default)]
    pub ack_breached_at_ms: Option<i64>,
    #[serde(default)]
    pub resolve_breached_at_ms: Option<i64>,
    /// The highest tier the ticket has been at.
    #[serde(default = "first_tier")]
    pub highest_tier: Tier,
}

fn first_tier() -> Tier {
    Tier::L1
}

impl Ticket {
    /// When the ticket is due to be acknowledged (`ack_within` of its priority after creation).
    pub fn ack_due_ms(&self) -> Option<i64> {
        self.escalation
            .ack_within(self.priority)
            .map(|d| self.created_at_ms + d)
    }

    /// When the ticket is due to be resolved (`resolve_within` of its priority after creation).
    pub fn resolve_due_ms(&self) -> Option<i64> {
        self.escalation
            .resolve_within(self.priority)
            .map(|d| self.created_at_ms + d)
    }
}

/// One step of an escalation policy (`ticket_configs[].escalations`): a ticket left open
/// (unacknowledged) `after_ms` since it became open moves up to `tier`, and `receiver` is
/// notified through the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationStep {
    pub after_ms: i64,
    pub tier: Tier,
    pub receiver: String,
}

/// How a ticket escalates and the times it should meet, per priority (P1..P4), in ms:
/// `ack_within` counts from creation to the first acknowledgement, `resolve_within` from
/// creation to resolution (the SLA targets of PagerDuty's and Zendesk's support desks).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EscalationPolicy {
    /// In increasing `after_ms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<EscalationStep>,
    #[serde(default)]
    pub ack_within_ms: [Option<i64>; 4],
    #[serde(default)]
    pub resolve_within_ms: [Option<i64>; 4],
}

impl EscalationPolicy {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    pub fn ack_within(&self, p: Priority) -> Option<i64> {
        self.ack_within_ms[p.index()]
    }

    pub fn resolve_within(&self, p: Priority) -> Option<i64> {
        self.resolve_within_ms[p.index()]
    }
}

/// What a sweep of an active ticket finds due at a time: the escalation steps to take and the
/// targets it has just missed ([`sweep`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    /// The ticket after the sweep (a new tier, escalation level, breach times).
    pub ticket: Ticket,
    /// `escalated` and `sla_breached` events, each with its detail.
    pub events: Vec<(TicketEvent, String)>,
    /// The steps whose receivers are to be notified, in order.
    pub notify: Vec<EscalationStep>,
}

/// Decides what is due on ticket `t` at `now_ms`; `None` when nothing is. Escalation runs
/// while the ticket is open: every step whose `after` has passed since `open_since` and that
/// was not yet taken is taken at once (a late sweep catches up), the ticket moving to the
/// highest tier among them (never down); a step at a tier below the ticket's is passed over
/// without a notification (a person already escalated further). Targets are checked while the
/// ticket is active: `ack_within` until its first acknowledgement, `resolve_within` until it
/// is resolved; each breach is recorded once.
pub fn sweep(t: &Ticket, now_ms: i64) -> Option<SweepOutcome> {
    if !t.status.is_active() {
        return None;
    }
    let mut next = t.clone();
    let mut events = Vec::new();
    let mut notify = Vec::new();
    if t.status == TicketStatus::Open {
        let level = usize::try_from(t.escalation_level.max(0)).unwrap_or(usize::MAX);
        for step in t.escalation.steps.iter().skip(level) {
            if now_ms - t.open_since_ms < step.after_ms {
                break;
            }
            next.escalation_level += 1;
            if step.tier < next.tier {
                continue;
            }
            events.push((
                TicketEvent {
                    kind: "escalated",
                    actor: "syncwatch".into(),
                    from: Some(next.tier.as_str().into()),
                    to: Some(step.tier.as_str().into()),
                },
                format!(
                    "not acknowledged within {}; notified {}",
                    format_duration(Duration::from_millis(step.after_ms.max(0) as u64)),
                    step.receiver
                ),
            ));
            next.tier = step.tier;
            next.highest_tier = next.highest_tier.max(step.tier);
            notify.push(step.clone());
        }
    }
    let breach = |target: &'static str, within: i64| {
        (
            TicketEvent {
                kind: "sla_breached",
                actor: "syncwatch".into(),
                from: None,
                to: Some(target.into()),
            },
            format!(
                "{target} within {} ({})",
                format_duration(Duration::from_millis(within.max(0) as u64)),
                t.priority.as_str()
            ),
        )
    };
    if t.acknowledged_at_ms.is_none()
        && t.ack_breached_at_ms.is_none()
        && let Some(within) = t.escalation.ack_within(t.priority)
        && now_ms - t.created_at_ms > within
    {
        next.ack_breached_at_ms = Some(now_ms);
        events.push(breach("acknowledge", within));
    }
    if t.resolve_breached_at_ms.is_none()
        && let Some(within) = t.escalation.resolve_within(t.priority)
        && now_ms - t.created_at_ms > within
    {
        next.resolve_breached_at_ms = Some(now_ms);
        events.push(breach("resolve", within));
    }
    if next.escalation_level == t.escalation_level && events.is_empty() {
        return None;
    }
    if !events.is_empty() {
        next.updated_at_ms = now_ms;
    }
    Some(SweepOutcome {
        ticket: next,
        events,
        notify,
    })
}

/// What a ticket config asks for (validated from `ticket_configs`).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketPolicy {
    pub priority: Option<Priority>,
    pub tier: Tier,
    pub dedup_by: Vec<String>,
    pub reopen_within: Duration,
    pub send_resolved: bool,
    pub escalation: EscalationPolicy,
}

impl Default for TicketPolicy {
    fn default() -> Self {
        Self {
            priority: None,
            tier: Tier::L1,
            dedup_by: vec!["alertname".into(), "provider".into(), "connection".into()],
            reopen_within: Duration::from_secs(24 * 3600),
            send_resolved: true,
            escalation: EscalationPolicy::default(),
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
    let mut t = open_ticket(id, key, title, summary, alert.labels.clone(), now_ms);
    t.severity = severity;
    t.priority = policy.priority.unwrap_or(Priority::from_severity(severity));
    t.tier = policy.tier;
    t.highest_tier = policy.tier;
    t.alertname = alert.name().to_string();
    t.runbook = runbook;
    t.escalation = policy.escalation.clone();
    t
}

/// The alert name of tickets the runbook assistant opens when its answer did not help.
pub const ASSISTANT_ALERTNAME: &str = "AssistantEscalation";

/// A ticket for a question the assistant could not resolve (not from an alert): open at L1,
/// severity `warning` (P3), under `alertname` [`ASSISTANT_ALERTNAME`] with the question's
/// `labels` (reporter, provider, connection, `source="assistant"`).
pub fn question_ticket(
    id: String,
    key: DedupKey,
    title: String,
    summary: String,
    labels: Labels,
    now_ms: i64,
) -> Ticket {
    let mut t = open_ticket(id, key, title, summary, labels, now_ms);
    t.alertname = ASSISTANT_ALERTNAME.to_string();
    t
}

/// A ticket just opened: open, severity `warning` (P3), L1, no runbook, assignee or escalation
/// policy, its provider and connection from `labels`, its alert name empty.
fn open_ticket(
    id: String,
    key: DedupKey,
    title: String,
    summary: String,
    labels: Labels,
    now_ms: i64,
) -> Ticket {
    let severity = Severity::Warning;
    Ticket {
        id,
        dedup_key: key,
        status: TicketStatus::Open,
        severity,
        priority: Priority::from_severity(severity),
        tier: Tier::L1,
        title,
        summary,
        provider: labels.get("provider").map(str::to_string),
        connection: labels.get("connection").map(str::to_string),
        labels,
        alertname: String::new(),
        runbook: None,
        assignee: None,
        occurrences: 1,
        created_at_ms: now_ms,
        acknowledged_at_ms: None,
        resolved_at_ms: None,
        closed_at_ms: None,
        updated_at_ms: now_ms,
        resolution: None,
        resolved_by: None,
        version: 1,
        escalation: EscalationPolicy::default(),
        escalation_level: 0,
        open_since_ms: now_ms,
        ack_breached_at_ms: None,
        resolve_breached_at_ms: None,
        highest_tier: Tier::L1,
    }
}

/// What a person changes on a ticket (`PATCH /api/v1/tickets/{id}`); `None` leaves a field as
/// it is. `assignee: Some(None)` unassigns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketChange {
    pub status: Option<TicketStatus>,
    pub assignee: Option<Option<String>>,
    pub tier: Option<Tier>,
    pub priority: Option<Priority>,
    pub resolution: Option<String>,
}

/// Every kind of event a ticket's history records (and the feed and webhooks carry).
pub const EVENT_KINDS: &[&str] = &[
    "created",
    "occurrence",
    "acknowledged",
    "unacknowledged",
    "assigned",
    "tier_changed",
    "priority_changed",
    "commented",
    "resolved",
    "resolution_changed",
    "reopened",
    "closed",
    "escalated",
    "sla_breached",
];

/// One entry of a ticket's history: what changed, who changed it, from what to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEvent {
    pub kind: &'static str,
    pub actor: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Why a change cannot apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// The status change is not in the lifecycle (409).
    Transition(InvalidTransition),
    /// A field does not fit the change (422), e.g. a resolution on a ticket left open.
    Field(String),
}

impl std::fmt::Display for ChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangeError::Transition(t) => t.fmt(f),
            ChangeError::Field(m) => f.write_str(m),
        }
    }
}

/// Applies a person's change to `t`: the ticket after it and the history it adds (nothing
/// when nothing changes). Timestamps follow the lifecycle: the first acknowledgement is kept
/// (MTTA counts from it) even if the ticket is handed back; resolving records who and how;
/// reopening clears the resolution; closing stamps `closed_at`.
pub fn apply_change(
    t: &Ticket,
    change: &TicketChange,
    actor: &str,
    now_ms: i64,
) -> Result<(Ticket, Vec<TicketEvent>), ChangeError> {
    let mut next = t.clone();
    let mut events = Vec::new();
    let event = |kind, from: Option<&str>, to: Option<&str>| TicketEvent {
        kind,
        actor: actor.to_string(),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
    };
    if let Some(to) = change.status
        && check_transition(t.status, to).map_err(ChangeError::Transition)?
    {
        use TicketStatus::*;
        let kind = match (t.status, to) {
            (_, Acknowledged) => {
                next.acknowledged_at_ms.get_or_insert(now_ms);
                "acknowledged"
            }
            (_, Resolved) => {
                next.resolved_at_ms = Some(now_ms);
                next.resolved_by = Some(actor.to_string());
                "resolved"
            }
            (Resolved, Open) => {
                next.resolved_at_ms = None;
                next.resolved_by = None;
                next.resolution = None;
                next.open_since_ms = now_ms;
                next.escalation_level = 0;
                "reopened"
            }
            (_, Open) => {
                next.open_since_ms = now_ms;
                next.escalation_level = 0;
                "unacknowledged"
            }
            (_, Closed) => {
                next.closed_at_ms = Some(now_ms);
                "closed"
            }
        };
        next.status = to;
        events.push(event(kind, Some(t.status.as_str()), Some(to.as_str())));
    }
    if let Some(text) = &change.resolution {
        if !matches!(next.status, TicketStatus::Resolved | TicketStatus::Closed) {
            return Err(ChangeError::Field(format!(
                "resolution: is given when resolving (the ticket would be {})",
                next.status.as_str()
            )));
        }
        if next.resolution.as_deref() != Some(text.as_str()) {
            events.push(event(
                "resolution_changed",
                next.resolution.as_deref(),
                Some(text),
            ));
            next.resolution = Some(text.clone());
        }
    }
    if let Some(assignee) = &change.assignee
        && *assignee != t.assignee
    {
        events.push(event(
            "assigned",
            t.assignee.as_deref(),
            assignee.as_deref(),
        ));
        next.assignee = assignee.clone();
    }
    if let Some(tier) = change.tier
        && tier != t.tier
    {
        events.push(event(
            "tier_changed",
            Some(t.tier.as_str()),
            Some(tier.as_str()),
        ));
        next.tier = tier;
        next.highest_tier = next.highest_tier.max(tier);
    }
    if let Some(priority) = change.priority
        && priority != t.priority
    {
        events.push(event(
            "priority_changed",
            Some(t.priority.as_str()),
            Some(priority.as_str()),
        ));
        next.priority = priority;
    }
    if !events.is_empty() {
        next.updated_at_ms = now_ms;
    }
    Ok((next, events))
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

    #[test]
    fn the_lifecycle_table() {
        use TicketStatus::*;
        // (from, to, allowed): every pair, so a change to the table shows here.
        let table = [
            (Open, Open, true),
            (Open, Acknowledged, true),
            (Open, Resolved, true),
            (Open, Closed, false),
            (Acknowledged, Open, true),
            (Acknowledged, Acknowledged, true),
            (Acknowledged, Resolved, true),
            (Acknowledged, Closed, false),
            (Resolved, Open, true),
            (Resolved, Acknowledged, false),
            (Resolved, Resolved, true),
            (Resolved, Closed, true),
            (Closed, Open, false),
            (Closed, Acknowledged, false),
            (Closed, Resolved, false),
            (Closed, Closed, true),
        ];
        for (from, to, allowed) in table {
            let got = check_transition(from, to);
            assert_eq!(got.is_ok(), allowed, "{from:?} -> {to:?}");
            if let Ok(changes) = got {
                assert_eq!(changes, from != to, "{from:?} -> {to:?}");
            }
        }
        let e = check_transition(Open, Closed).unwrap_err().to_string();
        assert_eq!(
            e,
            "a ticket cannot go from open to closed; from open it can go to: acknowledged, resolved"
        );
        assert!(
            check_transition(Closed, Open)
                .unwrap_err()
                .to_string()
                .contains("closed is final")
        );
    }

    #[test]
    fn a_change_moves_the_lifecycle_and_records_who_did_what() {
        let t = ticket(TicketStatus::Open, None);
        let ack = TicketChange {
            status: Some(TicketStatus::Acknowledged),
            assignee: Some(Some("ana".into())),
            ..Default::default()
        };
        let (acked, events) = apply_change(&t, &ack, "l1-desk", 50).unwrap();
        assert_eq!(acked.status, TicketStatus::Acknowledged);
        assert_eq!(
            (acked.acknowledged_at_ms, acked.updated_at_ms),
            (Some(50), 50)
        );
        let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.to.as_deref())).collect();
        assert_eq!(
            kinds,
            [
                ("acknowledged", Some("acknowledged")),
                ("assigned", Some("ana"))
            ]
        );
        assert!(events.iter().all(|e| e.actor == "l1-desk"));
        // Handed back and acknowledged again: the first acknowledgement stays.
        let back = TicketChange {
            status: Some(TicketStatus::Open),
            ..Default::default()
        };
        let (open, _) = apply_change(&acked, &back, "x", 60).unwrap();
        let (again, _) = apply_change(&open, &ack, "x", 70).unwrap();
        assert_eq!(again.acknowledged_at_ms, Some(50));
        // Resolving records how and by whom; reopening clears it; the same change twice is
        // no change.
        let resolve = TicketChange {
            status: Some(TicketStatus::Resolved),
            resolution: Some("rotated the API key".into()),
            ..Default::default()
        };
        let (done, events) = apply_change(&again, &resolve, "l2-desk", 80).unwrap();
        assert_eq!(done.resolved_by.as_deref(), Some("l2-desk"));
        assert_eq!(done.resolution.as_deref(), Some("rotated the API key"));
        assert_eq!(events.len(), 2, "resolved, resolution_changed");
        assert!(
            apply_change(&done, &resolve, "l2-desk", 90)
                .unwrap()
                .1
                .is_empty()
        );
        let (reopened, events) = apply_change(&done, &back, "l2-desk", 95).unwrap();
        assert_eq!(events[0].kind, "reopened");
        assert_eq!((reopened.resolution, reopened.resolved_at_ms), (None, None));
        // What the lifecycle refuses.
        let close = TicketChange {
            status: Some(TicketStatus::Closed),
            ..Default::default()
        };
        assert!(matches!(
            apply_change(&t, &close, "x", 1),
            Err(ChangeError::Transition(_))
        ));
        let early = TicketChange {
            resolution: Some("?".into()),
            ..Default::default()
        };
        assert!(matches!(
            apply_change(&t, &early, "x", 1),
            Err(ChangeError::Field(_))
        ));
        let (closed, _) = apply_change(&done, &close, "x", 100).unwrap();
        assert_eq!(closed.closed_at_ms, Some(100));
    }
}
