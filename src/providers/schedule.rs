//! When each connection of a provider syncs, as pure state over the time: every connection has
//! its own slot on its own interval (first slots spread over the interval, each run up to its
//! `jitter` after its slot), due connections wait in one first-in-first-out queue for one of the
//! provider's `max_concurrent` places, so none is starved, and paused connections are skipped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

#[derive(Debug, Clone, Default)]
struct Slot {
    interval_ms: i64,
    jitter_ms: i64,
    /// The slot without jitter; the next one is one interval later.
    base_ms: i64,
    due_ms: i64,
    paused: bool,
    queued: bool,
    running: bool,
    /// Heap entries of an older generation are stale.
    generation: u64,
}

/// Why a manual sync cannot start.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    Unknown,
    Running,
    Paused,
}

#[derive(Debug)]
pub struct Scheduler {
    max_concurrent: usize,
    slots: HashMap<String, Slot>,
    heap: BinaryHeap<Reverse<(i64, u64, String)>>,
    ready: VecDeque<String>,
    running: usize,
}

/// A connection and how often it syncs.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub connection: String,
    pub interval_ms: i64,
    pub jitter_ms: i64,
}

/// A connection to sync now, and when it was due (for the schedule lag).
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub connection: String,
    pub due_ms: i64,
}

impl Scheduler {
    /// `unit_random` gives numbers in [0, 1) for the jitter.
    pub fn new(
        connections: &[Plan],
        max_concurrent: usize,
        paused: &[String],
        now_ms: i64,
        unit_random: &mut dyn FnMut() -> f64,
    ) -> Self {
        let mut s = Self {
            max_concurrent: max_concurrent.max(1),
            slots: HashMap::new(),
            heap: BinaryHeap::new(),
            ready: VecDeque::new(),
            running: 0,
        };
        let n = connections.len().max(1) as i64;
        for (i, p) in connections.iter().enumerate() {
            let interval_ms = p.interval_ms.max(1);
            let base = now_ms + interval_ms * i as i64 / n;
            let c = &p.connection;
            let slot = Slot {
                interval_ms,
                jitter_ms: p.jitter_ms.max(0),
                base_ms: base,
                due_ms: base,
                paused: paused.contains(c),
                ..Slot::default()
            };
            s.slots.insert(c.clone(), slot);
            if !paused.contains(c) {
                s.plan(c, base, unit_random());
            }
        }
        s
    }

    /// Sets the connection's slot to `base_ms` (plus jitter) and puts it on the heap.
    fn plan(&mut self, connection: &str, base_ms: i64, unit_random: f64) {
        let Some(slot) = self.slots.get_mut(connection) else {
            return;
        };
        let jitter = (slot.jitter_ms as f64 * unit_random.clamp(0.0, 1.0)) as i64;
        slot.base_ms = base_ms;
        slot.due_ms = base_ms + jitter;
        slot.generation += 1;
        self.heap.push(Reverse((
            slot.due_ms,
            slot.generation,
            connection.to_string(),
        )));
    }

    /// Moves every connection due at `now_ms` to the queue.
    pub fn tick(&mut self, now_ms: i64) {
        while let Some(Reverse((due, generation, name))) = self.heap.peek().cloned() {
            if due > now_ms {
                break;
            }
            self.heap.pop();
            let Some(slot) = self.slots.get_mut(&name) else {
                continue;
            };
            if slot.generation != generation || slot.paused || slot.queued || slot.running {
                continue;
            }
            slot.queued = true;
            self.ready.push_back(name);
        }
    }

    /// The queued connections that may start now (oldest first, within the concurrency limit).
    pub fn startable(&mut self) -> Vec<Start> {
        let mut out = Vec::new();
        while self.running < self.max_concurrent {
            let Some(name) = self.ready.pop_front() else {
                break;
            };
            let Some(slot) = self.slots.get_mut(&name) else {
                continue;
            };
            slot.queued = false;
            slot.running = true;
            self.running += 1;
            out.push(Start {
                connection: name,
                due_ms: slot.due_ms,
            });
        }
        out
    }

    /// A sync ended: the connection's next slot is one interval after this one, or now when
    /// that has passed already (a sync longer than the interval does not pile up).
    pub fn finished(&mut self, connection: &str, now_ms: i64, unit_random: f64) {
        let Some(slot) = self.slots.get_mut(connection) else {
            return;
        };
        if slot.running {
            slot.running = false;
            self.running -= 1;
        }
        if slot.paused {
            return;
        }
        let next = (slot.base_ms + slot.interval_ms).max(now_ms);
        self.plan(connection, next, unit_random);
    }

    /// A manual sync: first in the queue.
    pub fn run_now(&mut self, connection: &str) -> Result<(), Refused> {
        let slot = self.slots.get_mut(connection).ok_or(Refused::Unknown)?;
        if slot.running {
            return Err(Refused::Running);
        }
        if slot.paused {
            return Err(Refused::Paused);
        }
        if slot.queued {
            self.ready.retain(|c| c != connection);
        }
        slot.queued = true;
        self.ready.push_front(connection.to_string());
        Ok(())
    }

    pub fn pause(&mut self, connection: &str) -> Result<(), Refused> {
        let slot = self.slots.get_mut(connection).ok_or(Refused::Unknown)?;
        slot.paused = true;
        if slot.queued {
            slot.queued = false;
            self.ready.retain(|c| c != connection);
        }
        Ok(())
    }

    /// Resumes a paused connection: it is due at once.
    pub fn resume(&mut self, connection: &str, now_ms: i64) -> Result<(), Refused> {
        let slot = self.slots.get_mut(connection).ok_or(Refused::Unknown)?;
        if !slot.paused {
            return Ok(());
        }
        slot.paused = false;
        if !slot.running {
            self.plan(connection, now_ms, 0.0);
        }
        Ok(())
    }

    pub fn is_paused(&self, connection: &str) -> bool {
        self.slots.get(connection).is_some_and(|s| s.paused)
    }

    pub fn is_queued(&self, connection: &str) -> bool {
        self.slots.get(connection).is_some_and(|s| s.queued)
    }

    /// When the connection is due next (`None` while paused).
    pub fn next_run_ms(&self, connection: &str) -> Option<i64> {
        self.slots
            .get(connection)
            .filter(|s| !s.paused)
            .map(|s| s.due_ms)
    }

    pub fn running(&self) -> usize {
        self.running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(n: usize, interval_ms: i64, jitter_ms: i64) -> Vec<Plan> {
        (0..n)
            .map(|i| Plan {
                connection: format!("c{i}"),
                interval_ms,
                jitter_ms,
            })
            .collect()
    }

    fn started(s: &mut Scheduler) -> Vec<String> {
        s.startable().into_iter().map(|s| s.connection).collect()
    }

    #[test]
    fn first_slots_spread_over_the_interval_and_jitter_only_delays() {
        let mut half = || 0.5;
        let mut s = Scheduler::new(&plans(4, 1_000, 100), 10, &[], 0, &mut half);
        let due: Vec<i64> = (0..4)
            .map(|i| s.next_run_ms(&format!("c{i}")).unwrap())
            .collect();
        assert_eq!(due, vec![50, 300, 550, 800]);
        s.tick(299);
        assert_eq!(started(&mut s), vec!["c0"]);
        s.finished("c0", 400, 0.0);
        assert_eq!(
            s.next_run_ms("c0"),
            Some(1_000),
            "one interval after the slot, no jitter drift"
        );
    }

    #[test]
    fn the_concurrency_limit_queues_first_come_first_served() {
        let mut zero = || 0.0;
        let mut s = Scheduler::new(&plans(5, 1_000, 0), 2, &[], 0, &mut zero);
        s.tick(999);
        assert_eq!(started(&mut s), vec!["c0", "c1"]);
        assert!(started(&mut s).is_empty(), "limit reached");
        assert!(s.is_queued("c4"));
        s.finished("c1", 1_000, 0.0);
        assert_eq!(started(&mut s), vec!["c2"]);
        s.finished("c0", 1_100, 0.0);
        s.tick(1_100);
        // c0 and c1 are due again, but c3 and c4 waited longer.
        assert_eq!(started(&mut s), vec!["c3"]);
        s.finished("c2", 1_200, 0.0);
        assert_eq!(started(&mut s), vec!["c4"]);
    }

    #[test]
    fn a_long_sync_does_not_pile_up_missed_slots() {
        let mut zero = || 0.0;
        let mut s = Scheduler::new(&plans(1, 1_000, 0), 1, &[], 0, &mut zero);
        s.tick(0);
        assert_eq!(started(&mut s), vec!["c0"]);
        s.tick(5_000);
        assert!(started(&mut s).is_empty(), "still running");
        s.finished("c0", 5_500, 0.0);
        assert_eq!(s.next_run_ms("c0"), Some(5_500));
        s.tick(5_500);
        assert_eq!(started(&mut s), vec!["c0"]);
    }

    #[test]
    fn paused_connections_are_skipped_until_resumed() {
        let mut zero = || 0.0;
        let mut s = Scheduler::new(&plans(2, 1_000, 0), 5, &["c1".to_string()], 0, &mut zero);
        assert_eq!(s.next_run_ms("c1"), None);
        s.tick(10_000);
        assert_eq!(started(&mut s), vec!["c0"]);
        assert_eq!(s.run_now("c1"), Err(Refused::Paused));
        s.resume("c1", 10_000).unwrap();
        s.tick(10_000);
        assert_eq!(started(&mut s), vec!["c1"]);
        s.pause("c0").unwrap();
        s.finished("c0", 10_100, 0.0);
        s.tick(20_000);
        assert!(started(&mut s).is_empty());
        assert!(s.is_paused("c0"));
    }

    #[test]
    fn a_manual_sync_goes_first() {
        let mut zero = || 0.0;
        let mut s = Scheduler::new(&plans(3, 1_000, 0), 1, &[], 0, &mut zero);
        s.tick(999);
        assert_eq!(started(&mut s), vec!["c0"]);
        assert_eq!(s.run_now("c0"), Err(Refused::Running));
        assert_eq!(s.run_now("nope"), Err(Refused::Unknown));
        s.run_now("c2").unwrap();
        s.finished("c0", 1_000, 0.0);
        assert_eq!(started(&mut s), vec!["c2"]);
    }

    #[test]
    fn each_connection_keeps_its_own_interval_and_jitter() {
        let mut plan = plans(2, 1_000, 0);
        plan[1].interval_ms = 5_000;
        plan[1].jitter_ms = 1_000;
        let mut one = || 0.99;
        let mut s = Scheduler::new(&plan, 10, &[], 0, &mut one);
        // c1's first slot is spread over its own interval, plus most of its own jitter.
        assert_eq!(s.next_run_ms("c0"), Some(0));
        assert_eq!(s.next_run_ms("c1"), Some(2_500 + 990));
        let mut runs = vec![];
        for now in (0..=12_600).step_by(100) {
            s.tick(now);
            for c in started(&mut s) {
                runs.push((c.clone(), now));
                s.finished(&c, now, 0.0);
            }
        }
        let count = |c: &str| runs.iter().filter(|(n, _)| n == c).count();
        assert_eq!(count("c0"), 13, "every second, 0 s to 12 s: {runs:?}");
        assert_eq!(count("c1"), 3, "at 3.5 s, 7.5 s and 12.5 s: {runs:?}");
    }
}
