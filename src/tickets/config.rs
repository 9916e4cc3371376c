//! A receiver's ticket integration (`ticket_configs`): priority, tier, dedup labels, reopen
//! window, escalation steps and per-priority targets.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::loader::Loader;
use crate::domain::duration::parse_duration;
use crate::domain::ticket::{EscalationPolicy, EscalationStep, Priority, TicketPolicy, Tier};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTicket {
    pub priority: Option<String>,
    pub tier: Option<String>,
    pub dedup_by: Option<Vec<String>>,
    pub reopen_within: Option<String>,
    pub send_resolved: Option<bool>,
    #[serde(default)]
    pub escalations: Vec<RawEscalation>,
    /// Priority (`P1`..`P4`) → duration.
    #[serde(default)]
    pub ack_within: BTreeMap<String, String>,
    #[serde(default)]
    pub resolve_within: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    pub after: String,
    pub tier: String,
    pub receiver: String,
}

/// Validates one `ticket_configs` entry; `names` are the receivers escalations may go to.
pub fn parse(
    l: &mut Loader<'_>,
    t: &RawTicket,
    ctx: &dyn Fn(&str) -> String,
    names: &[String],
) -> TicketPolicy {
    let mut policy = TicketPolicy::default();
    if let Some(p) = &t.priority {
        match Priority::parse(p) {
            Some(p) => policy.priority = Some(p),
            None => l.p(
                "priority:",
                format!(
                    "{}: priority {p:?} must be one of P1, P2, P3, P4",
                    ctx("ticket_configs")
                ),
            ),
        }
    }
    if let Some(tier) = &t.tier {
        match Tier::parse(tier) {
            Some(x) => policy.tier = x,
            None => l.p(
                "tier:",
                format!(
                    "{}: tier {tier:?} must be one of L1, L2, L3",
                    ctx("ticket_configs")
                ),
            ),
        }
    }
    if let Some(d) = &t.dedup_by {
        if d.is_empty() {
            l.p(
                "dedup_by:",
                format!(
                    "{}: dedup_by must name at least one label",
                    ctx("ticket_configs")
                ),
            );
        }
        policy.dedup_by = d.clone();
    }
    policy.reopen_within = l.dur(
        "reopen_within",
        t.reopen_within.as_deref(),
        policy.reopen_within,
    );
    policy.send_resolved = t.send_resolved.unwrap_or(true);
    policy.escalation = escalation(l, t, &ctx("ticket_configs"), names);
    policy
}

/// A ticket config's escalation steps (in increasing `after`, each to a defined receiver)
/// and its per-priority targets.
pub fn escalation(
    l: &mut Loader<'_>,
    t: &RawTicket,
    ctx: &str,
    receivers: &[String],
) -> EscalationPolicy {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let mut policy = EscalationPolicy::default();
    for (i, e) in t.escalations.iter().enumerate() {
        let node = format!("{}.escalations.{i}", l.scope());
        l.enter(node);
        'step: {
            let after = match parse_duration(&e.after) {
                Ok(d) if !d.is_zero() => ms(d),
                Ok(_) => {
                    l.p(
                        &format!("after: {}", e.after),
                        format!("{ctx}.escalations[{i}]: after must be longer than 0s"),
                    );
                    break 'step;
                }
                Err(err) => {
                    l.p(
                        &format!("after: {}", e.after),
                        format!("{ctx}.escalations[{i}].after: {err}"),
                    );
                    break 'step;
                }
            };
            let Some(tier) = Tier::parse(&e.tier) else {
                l.p(
                    &format!("tier: {}", e.tier),
                    format!(
                        "{ctx}.escalations[{i}]: tier {:?} must be one of L1, L2, L3",
                        e.tier
                    ),
                );
                break 'step;
            };
            if !receivers.contains(&e.receiver) {
                l.p(
                    &format!("receiver: {}", e.receiver),
                    format!(
                        "{ctx}.escalations[{i}]: receiver {:?} is not defined under receivers",
                        e.receiver
                    ),
                );
            }
            if policy.steps.last().is_some_and(|s| s.after_ms >= after) {
                l.p(
                    &format!("after: {}", e.after),
                    format!(
                        "{ctx}.escalations[{i}]: after {} must be longer than the step before it",
                        e.after
                    ),
                );
            }
            policy.steps.push(EscalationStep {
                after_ms: after,
                tier,
                receiver: e.receiver.clone(),
            });
        }
        l.leave();
    }
    for (key, raw, targets) in [
        ("ack_within", &t.ack_within, &mut policy.ack_within_ms),
        (
            "resolve_within",
            &t.resolve_within,
            &mut policy.resolve_within_ms,
        ),
    ] {
        for (p, d) in raw {
            let Some(priority) = Priority::parse(p) else {
                l.p(
                    &format!("{p}:"),
                    format!("{ctx}.{key}: {p:?} must be one of P1, P2, P3, P4"),
                );
                continue;
            };
            match parse_duration(d) {
                Ok(d) if !d.is_zero() => targets[priority.index()] = Some(ms(d)),
                Ok(_) => l.p(
                    &format!("{p}:"),
                    format!("{ctx}.{key}.{p}: must be longer than 0s"),
                ),
                Err(err) => l.p(&format!("{p}:"), format!("{ctx}.{key}.{p}: {err}")),
            }
        }
    }
    policy
}
