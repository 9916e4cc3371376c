//! Work under way that a shutdown waits for: the dispatcher's flushes being written and the
//! outbox's deliveries. Each piece holds a [`Working`] guard while it runs; a drain waits until
//! none is left, or gives up after its bound (what is abandoned is redone after the restart).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A count of pieces of work under way. Cheap to clone; clones share the count.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

/// One piece of work counted until dropped.
#[derive(Debug)]
pub struct Working(Arc<AtomicUsize>);

impl InFlight {
    /// Counts one more piece of work until the guard is dropped.
    pub fn start(&self) -> Working {
        self.0.fetch_add(1, Ordering::SeqCst);
        Working(self.0.clone())
    }

    /// Waits until no work is under way (`true`) or `within` has passed (`false`).
    pub async fn drained(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.0.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_waits_for_the_work_under_way_and_no_longer_than_its_bound() {
        let work = InFlight::default();
        assert!(work.drained(Duration::ZERO).await);
        let piece = work.start();
        assert!(!work.drained(Duration::from_millis(30)).await);
        drop(piece);
        assert!(work.drained(Duration::ZERO).await);
    }
}
