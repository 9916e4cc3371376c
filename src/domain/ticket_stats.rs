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

use super::ticket::TicketStatus;

/// What the figures need of a set of tickets, as the store counts it in one pass over the
/// window (`Store::ticket_tallies`): counts and the durations themselves, so that the
/// percentiles are exact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketTally {
    pub tickets: usize,
    /// Tickets per status, in the order open, acknowledged, resolved, closed.
    pub by_status: [usize; 4],
    /// First acknowledgement minus creation of each acknowledged ticket, in ms (not sorted).
    pub acknowledge_ms: Vec<i64>,
    /// Last resolution minus creation of each resolved or closed ticket, in ms (not sorted).
    pub resolve_ms: Vec<i64>,
    /// Tickets whose highest tier is L2 or L3, and L3.
    pub reached_l2: usize,
    pub reached_l3: usize,
    /// Tickets that missed their acknowledge and resolve targets.
    pub ack_breached: usize,
    pub resolve_breached: usize,
    /// Resolved or closed tickets that never reached L3.
    pub resolved_without_l3: usize,
    /// Tickets whose dedup key had an earlier ticket in the window, and the keys they repeat
    /// (each counted with its first repeat).
    pub repeat_tickets: usize,
    pub repeated_keys: usize,
}

impl TicketTally {
    /// Adds another set of tickets' tally (another group of the same window).
    pub fn add(&mut self, other: TicketTally) {
        self.tickets += other.tickets;
        for (n, o) in self.by_status.iter_mut().zip(other.by_status) {
            *n += o;
        }
        self.acknowledge_ms.extend(other.acknowledge_ms);
        self.resolve_ms.extend(other.resolve_ms);
        self.reached_l2 += other.reached_l2;
        self.reached_l3 += other.reached_l3;
        self.ack_breached += other.ack_breached;
        self.resolve_breached += other.resolve_breached;
        self.resolved_without_l3 += other.resolved_without_l3;
        self.repeat_tickets += other.repeat_tickets;
        self.repeated_keys += other.repeated_keys;
    }
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
    /// From durations in milliseconds; a negative one (a clock set back) counts as 0.
    pub fn of(mut ms: Vec<i64>) -> Self {
        for v in &mut ms {
            *v = (*v).max(0);
        }
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
    /// Tickets beyond the first of their dedup key in the window (the same problem ticketed
    /// again), and the keys that have more than one there. In a group, a repeat counts where
    /// the repeating ticket is, and a key where its first repeat is, so the groups add up to
    /// the whole.
    pub repeat_tickets: usize,
    pub repeated_keys: usize,
}

/// The statuses in [`TicketTally::by_status`] order.
pub const STATUSES: [TicketStatus; 4] = [
    TicketStatus::Open,
    TicketStatus::Acknowledged,
    TicketStatus::Resolved,
    TicketStatus::Closed,
];

/// The figures of a tally.
pub fn summarise(tally: TicketTally) -> TicketStats {
    let resolved = tally.resolve_ms.len();
    TicketStats {
        tickets: tally.tickets,
        by_status: STATUSES
            .iter()
            .zip(tally.by_status)
            .map(|(s, n)| (s.as_str(), n))
            .collect(),
        time_to_acknowledge: Durations::of(tally.acknowledge_ms),
        time_to_resolve: Durations::of(tally.resolve_ms),
        escalated_to_l2: tally.reached_l2,
        escalated_to_l3: tally.reached_l3,
        sla_breaches: Breaches {
            acknowledge: tally.ack_breached,
            resolve: tally.resolve_breached,
        },
        resolved,
        resolved_without_l3: tally.resolved_without_l3,
        resolved_without_l3_ratio: (resolved > 0)
            .then(|| tally.resolved_without_l3 as f64 / resolved as f64),
        repeat_tickets: tally.repeat_tickets,
        repeated_keys: tally.repeated_keys,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        const MIN: i64 = 60_000;
        let s = summarise(TicketTally {
            tickets: 5,
            by_status: [1, 1, 2, 1],
            acknowledge_ms: vec![20 * MIN, 5 * MIN, 10 * MIN],
            resolve_ms: vec![240 * MIN, 60 * MIN, 30 * MIN],
            reached_l2: 2,
            reached_l3: 1,
            ack_breached: 1,
            resolve_breached: 1,
            resolved_without_l3: 2,
            repeat_tickets: 2,
            repeated_keys: 1,
        });
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
        // MTTA over the three acknowledged: 5, 10, 20 minutes, whatever their order.
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
        assert_eq!((s.repeat_tickets, s.repeated_keys), (2, 1));
    }

    #[test]
    fn the_tallies_of_groups_add_up_to_their_whole() {
        let mut whole = TicketTally {
            tickets: 2,
            by_status: [1, 0, 1, 0],
            acknowledge_ms: vec![3_000],
            resolve_ms: vec![9_000],
            reached_l2: 1,
            repeat_tickets: 1,
            repeated_keys: 1,
            ..TicketTally::default()
        };
        whole.add(TicketTally {
            tickets: 3,
            by_status: [0, 1, 0, 2],
            acknowledge_ms: vec![1_000, 2_000],
            resolve_ms: vec![4_000, 5_000],
            reached_l2: 2,
            reached_l3: 1,
            ack_breached: 1,
            resolve_breached: 2,
            resolved_without_l3: 1,
            repeat_tickets: 2,
            repeated_keys: 1,
        });
        let s = summarise(whole);
        assert_eq!(s.tickets, 5);
        assert_eq!((s.by_status["open"], s.by_status["closed"]), (1, 2));
        assert_eq!(s.time_to_acknowledge.p50_seconds, Some(2.0));
        assert_eq!(s.time_to_resolve.count, 3);
        assert_eq!((s.escalated_to_l2, s.escalated_to_l3), (3, 1));
        assert_eq!((s.sla_breaches.acknowledge, s.sla_breaches.resolve), (1, 2));
        assert_eq!((s.repeat_tickets, s.repeated_keys), (3, 2));
    }

    #[test]
    fn a_negative_duration_counts_as_zero_and_no_resolution_has_no_ratio() {
        let d = Durations::of(vec![-5_000, 1_000]);
        assert_eq!((d.p50_seconds, d.mean_seconds), (Some(0.0), Some(0.5)));
        let s = summarise(TicketTally {
            tickets: 1,
            by_status: [1, 0, 0, 0],
            ..TicketTally::default()
        });
        assert_eq!((s.resolved, s.resolved_without_l3_ratio), (0, None));
    }
}
