//! Retry delays: capped exponential backoff with full jitter, the one mechanism used by provider
//! requests and notifiers.

use std::time::Duration;

/// A retry policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay ceiling of the first retry.
    pub base: Duration,
    /// No delay ever exceeds this.
    pub max: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Backoff {
    /// The delay before retry number `retry` (1 for the first retry), given a uniform random
    /// number in `[0, 1)`: full jitter over `min(max, base * 2^(retry-1))`.
    pub fn delay(&self, retry: u32, unit_random: f64) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.max);
        ceiling.mul_f64(unit_random.clamp(0.0, 1.0))
    }

    /// Whether another attempt is allowed after `attempts_made` attempts.
    pub fn may_retry(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts
    }

    /// The delay to wait before the next attempt: a server's Retry-After wins over the jittered
    /// backoff when it is longer, so nobody calls before it expires.
    pub fn next_delay(
        &self,
        retry: u32,
        unit_random: f64,
        retry_after: Option<Duration>,
    ) -> Duration {
        let d = self.delay(retry, unit_random);
        match retry_after {
            Some(ra) if ra > d => ra,
            _ => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
        max_attempts: 4,
    };

    #[test]
    fn ceiling_doubles_then_caps() {
        assert_eq!(POLICY.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(POLICY.delay(2, 1.0), Duration::from_millis(200));
        assert_eq!(POLICY.delay(4, 1.0), Duration::from_millis(800));
        assert_eq!(POLICY.delay(5, 1.0), Duration::from_secs(1));
        assert_eq!(POLICY.delay(40, 1.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_scales_the_ceiling() {
        assert_eq!(POLICY.delay(2, 0.5), Duration::from_millis(100));
        assert_eq!(POLICY.delay(2, 0.0), Duration::ZERO);
    }

    #[test]
    fn retry_after_longer_than_backoff_wins() {
        let ra = Some(Duration::from_secs(5));
        assert_eq!(POLICY.next_delay(1, 1.0, ra), Duration::from_secs(5));
        assert_eq!(
            POLICY.next_delay(1, 1.0, Some(Duration::from_millis(1))),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn attempts_are_bounded() {
        assert!(POLICY.may_retry(3));
        assert!(!POLICY.may_retry(4));
    }
}
