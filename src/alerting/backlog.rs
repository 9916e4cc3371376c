//! Flushes waiting for the store. A flush's ticket and outbox writes are retried until the store
//! takes them (a ticket is as durable as a notification); while they wait, the count shows in
//! `/readyz` and as `syncwatch_store_writes_waiting{write}`, so an outage is visible before
//! anything is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::telemetry::Metrics;

/// What a waiting flush waits to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Ticket,
    Outbox,
}

impl Write {
    /// The `write` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Write::Ticket => "ticket",
            Write::Outbox => "outbox",
        }
    }
}

/// Counts of flushes waiting for the store, shared by the dispatcher and `/readyz`.
#[derive(Clone)]
pub struct StoreBacklog {
    tickets: Arc<AtomicUsize>,
    outbox: Arc<AtomicUsize>,
    metrics: Metrics,
}

/// One flush counted as waiting until dropped.
pub struct Waiting {
    backlog: StoreBacklog,
    write: Write,
}

impl StoreBacklog {
    pub fn new(metrics: Metrics) -> Self {
        let backlog = Self {
            tickets: Arc::default(),
            outbox: Arc::default(),
            metrics,
        };
        backlog.publish(Write::Ticket);
        backlog.publish(Write::Outbox);
        backlog
    }

    fn counter(&self, write: Write) -> &AtomicUsize {
        match write {
            Write::Ticket => &self.tickets,
            Write::Outbox => &self.outbox,
        }
    }

    fn publish(&self, write: Write) {
        let n = self.counter(write).load(Ordering::Relaxed);
        self.metrics.store_writes_waiting(write.as_str(), n);
    }

    /// Counts one more flush waiting to write `write`, until the guard is dropped.
    pub fn waiting(&self, write: Write) -> Waiting {
        self.counter(write).fetch_add(1, Ordering::Relaxed);
        self.publish(write);
        Waiting {
            backlog: self.clone(),
            write,
        }
    }

    /// Flushes waiting to write tickets.
    pub fn tickets(&self) -> usize {
        self.tickets.load(Ordering::Relaxed)
    }

    /// Flushes waiting to write outbox rows.
    pub fn outbox(&self) -> usize {
        self.outbox.load(Ordering::Relaxed)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.backlog
            .counter(self.write)
            .fetch_sub(1, Ordering::Relaxed);
        self.backlog.publish(self.write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::MetricsRegistry;

    #[test]
    fn a_waiting_flush_counts_until_its_write_is_done() {
        let registry = Arc::new(MetricsRegistry::new());
        let backlog = StoreBacklog::new(Metrics::new(registry.clone()));
        let a = backlog.waiting(Write::Ticket);
        let b = backlog.waiting(Write::Ticket);
        let _c = backlog.waiting(Write::Outbox);
        assert_eq!((backlog.tickets(), backlog.outbox()), (2, 1));
        assert!(
            registry
                .render()
                .contains("syncwatch_store_writes_waiting{write=\"ticket\"} 2")
        );
        drop(a);
        drop(b);
        assert_eq!(backlog.tickets(), 0);
        assert!(
            registry
                .render()
                .contains("syncwatch_store_writes_waiting{write=\"ticket\"} 0")
        );
    }
}
