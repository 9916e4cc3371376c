//! A support desk's figures over a set of tickets (`GET /api/v1/tickets/stats`): counts by
//! status, time to acknowledge (MTTA) and to resolve (MTTR), escalations, missed targets and
//! repeats.
//!
//! Definitions (README "Ticket figures"):
//! - **MTTA**: first acknowledgement minus creation, over the tickets acknowledged at least once.
//!   A ticket handed back and acknowledged again keeps its first acknowledgement.
//! - **MTTR**: resolution minus creation, over the tickets resolved or closed. A reopened ticket
//!   counts once, up to its last resolution (Zendesk's "full resolution time"); while reopened
//!   it counts as not resolved.
//! - Percentiles are nearest-rank: p90 is the smallest time with at least 90 % of the times at
//!   or below it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ticket::{TicketStatus, Tier};

/// What the figures need of one ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketFacts {
    pub status: TicketStatus,
    pub created_at_ms: i64,
    pub acknowledged_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub highest_tier: Tier,
    pub ack_breached: bool,
    pub resolve_breached: bool,
    pub dedup_key: String,
}

/// Count, mean and nearest-rank p50 / p90 of some durations, in seconds (`None` without any).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Durations {
    pub count: usize,
    pub mean_seconds: Option<f64>,
    pub p50_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl Durations {
    /// From durations in milliseconds.
    pub fn of(mut ms: Vec<i64>) -> Self {
        ms.sort_unstable();
        let n = ms.len();
        let secs = |v: i64| v as f64 / 1000.0;
        let rank = |p: f64| {
            let r = (p * n as f64).ceil() as usize;
            secs(ms[r.clamp(1, n) - 1])
        };
        Self {
            count: n,
            mean_seconds: (n > 0).then(|| ms.iter().map(|&v| secs(v)).sum::<f64>() / n as f64),
            p50_seconds: (n > 0).then(|| rank(0.5)),
            p90_seconds: (n > 0).then(|| rank(0.9)),
        }
    }
}

/// Tickets that missed each target.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Breaches {
    pub acknowledge: usize,
    pub resolve: usize,
}

/// The figures of a set of tickets.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TicketStats {
    pub tickets: usize,
    /// Every status, 0 included.
    #[schema(value_type = BTreeMap<String, usize>)]
    pub by_status: BTreeMap<&'static str, usize>,
    pub time_to_acknowledge: Durations,
    pub time_to_resolve: Durations,
    /// Tickets that reached L2 (or higher), and L3, whether by their policy or by a person.
    pub escalated_to_l2: usize,
    pub escalated_to_l3: usize,
    pub sla_breaches: Breaches,
    /// Resolved or closed tickets, and those of them that never reached L3, with their share
    /// (`None` without a resolved ticket).
    pub resolved: usize,
    pub resolved_without_l3: usize,
    pub resolved_without_l3_ratio: Option<f64>,
    /// Tickets beyond the first of their dedup key (the same problem ticketed again), and the
    /// keys that have more than one.
    pub repeat_tickets: usize,
    pub repeated_keys: usize,
}

/// The figures of `tickets`.
pub fn summarise<'a>(tickets: impl IntoIterator<Item = &'a TicketFacts>) -> TicketStats {
    let mut by_status: BTreeMap<&'static str, usize> = [
        TicketStatus::Open,
        TicketStatus::Acknowledged,
        TicketStatus::Resolved,
        TicketStatus::Closed,
    ]
    .into_iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    let (mut ack, mut resolve) = (Vec::new(), Vec::new());
    let (mut l2, mut l3, mut ack_breached, mut resolve_breached) = (0, 0, 0, 0);
    let (mut resolved, mut without_l3, mut n) = (0, 0, 0);
    let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
    for t in tickets {
        n += 1;
        *by_status.entry(t.status.as_str()).or_default() += 1;
        if let Some(at) = t.acknowledged_at_ms {
            ack.push((at - t.created_at_ms).max(0));
        }
        if matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed)
            && let Some(at) = t.resolved_at_ms
        {
            resolve.push((at - t.created_at_ms).max(0));
            resolved += 1;
            if t.highest_tier < Tier::L3 {
                without_l3 += 1;
            }
        }
        l2 += usize::from(t.highest_tier >= Tier::L2);
        l3 += usize::from(t.highest_tier >= Tier::L3);
        ack_breached += usize::from(t.ack_breached);
        resolve_breached += usize::from(t.resolve_breached);
        *keys.entry(&t.dedup_key).or_default() += 1;
    }
    TicketStats {
        tickets: n,
        by_status,
        time_to_acknowledge: Durations::of(ack),
        time_to_resolve: Durations::of(resolve),
        escalated_to_l2: l2,
        escalated_to_l3: l3,
        sla_breaches: Breaches {
            acknowledge: ack_breached,
            resolve: resolve_breached,
        },
        resolved,
        resolved_without_l3: without_l3,
        resolved_without_l3_ratio: (resolved > 0).then(|| without_l3 as f64 / resolved as f64),
        repeat_tickets: keys.values().map(|&c| c - 1).sum(),
        repeated_keys: keys.values().filter(|&&c| c > 1).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn facts(key: &str, status: TicketStatus, ack: Option<i64>, res: Option<i64>) -> TicketFacts {
        TicketFacts {
            status,
            created_at_ms: 0,
            acknowledged_at_ms: ack,
            resolved_at_ms: res,
            highest_tier: Tier::L1,
            ack_breached: false,
            resolve_breached: false,
            dedup_key: key.into(),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_and_empty_sets_have_none() {
        let d = Durations::of((1..=10).map(|s| s * 1000).collect());
        assert_eq!(d.count, 10);
        assert_eq!(d.mean_seconds, Some(5.5));
        assert_eq!(d.p50_seconds, Some(5.0));
        assert_eq!(d.p90_seconds, Some(9.0));
        let one = Durations::of(vec![42_000]);
        assert_eq!((one.p50_seconds, one.p90_seconds), (Some(42.0), Some(42.0)));
        let none = Durations::of(vec![]);
        assert_eq!(
            (none.count, none.mean_seconds, none.p90_seconds),
            (0, None, None)
        );
    }

    #[test]
    fn figures_computed_by_hand() {
        use TicketStatus::*;
        let mut l3 = facts("b", Closed, Some(20 * MIN), Some(240 * MIN));
        l3.highest_tier = Tier::L3;
        l3.resolve_breached = true;
        let mut l2 = facts("c", Open, None, None);
        l2.highest_tier = Tier::L2;
        l2.ack_breached = true;
        let tickets = [
            facts("a", Resolved, Some(5 * MIN), Some(60 * MIN)),
            facts("a", Resolved, None, Some(30 * MIN)),
            l3,
            l2,
            facts("a", Acknowledged, Some(10 * MIN), None),
        ];
        let s = summarise(&tickets);
        assert_eq!(s.tickets, 5);
        assert_eq!(
            s.by_status,
            [
                ("acknowledged", 1),
                ("closed", 1),
                ("open", 1),
                ("resolved", 2)
            ]
            .into_iter()
            .collect()
        );
        // MTTA over the three acknowledged: 5, 10, 20 minutes.
        assert_eq!(s.time_to_acknowledge.count, 3);
        assert_eq!(s.time_to_acknowledge.mean_seconds, Some(35.0 * 60.0 / 3.0));
        assert_eq!(s.time_to_acknowledge.p50_seconds, Some(600.0));
        assert_eq!(s.time_to_acknowledge.p90_seconds, Some(1200.0));
        // MTTR over the three resolved or closed: 30, 60, 240 minutes.
        assert_eq!(s.time_to_resolve.mean_seconds, Some(110.0 * 60.0));
        assert_eq!(s.time_to_resolve.p50_seconds, Some(3600.0));
        assert_eq!((s.escalated_to_l2, s.escalated_to_l3), (2, 1));
        assert_eq!(
            s.sla_breaches,
            Breaches {
                acknowledge: 1,
                resolve: 1
            }
        );
        assert_eq!((s.resolved, s.resolved_without_l3), (3, 2));
        assert_eq!(s.resolved_without_l3_ratio, Some(2.0 / 3.0));
        // Key "a" has three tickets: two repeats.
        assert_eq!((s.repeat_tickets, s.repeated_keys), (2, 1));
    }
}
