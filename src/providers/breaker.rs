//! The circuit breaker of a provider, as pure state over the time: closed → open after
//! `failure_threshold` consecutive failed requests → half-open after `open_for` (one probe) →
//! closed on the probe's success, open again on its failure.

use super::profile::Breaker;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    HalfOpen,
    Open,
}

impl CircuitState {
    /// The `syncwatch_provider_circuit_state` value: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::HalfOpen => 1.0,
            CircuitState::Open => 2.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::HalfOpen => "half_open",
            CircuitState::Open => "open",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: Breaker,
    state: CircuitState,
    failures: u32,
    opened_at_ms: i64,
    probe_in_flight: bool,
}

impl CircuitBreaker {
    pub fn new(config: Breaker) -> Self {
        Self {
            config,
            state: CircuitState::Closed,
            failures: 0,
            opened_at_ms: 0,
            probe_in_flight: false,
        }
    }

    pub fn state(&self) -> CircuitState {
        self.state
    }

    /// When an open circuit lets its probe through.
    pub fn reopens_at_ms(&self) -> i64 {
        self.opened_at_ms + self.config.open_for.as_millis() as i64
    }

    /// Whether a request may go out now; `Err(t)`: not before `t`.
    pub fn allow(&mut self, now_ms: i64) -> Result<(), i64> {
        match self.state {
            CircuitState::Closed => Ok(()),
            CircuitState::Open if now_ms >= self.reopens_at_ms() => {
                self.state = CircuitState::HalfOpen;
                self.probe_in_flight = true;
                Ok(())
            }
            CircuitState::Open => Err(self.reopens_at_ms()),
            // One probe at a time; the others wait for its outcome.
            CircuitState::HalfOpen if self.probe_in_flight => {
                Err(now_ms + self.config.open_for.as_millis() as i64)
            }
            CircuitState::HalfOpen => {
                self.probe_in_flight = true;
                Ok(())
            }
        }
    }

    /// A request got an answer that says the provider works.
    pub fn success(&mut self) {
        self.state = CircuitState::Closed;
        self.failures = 0;
        self.probe_in_flight = false;
    }

    /// A request failed in a way that says the provider is down (5xx, timeout, network).
    pub fn failure(&mut self, now_ms: i64) {
        self.probe_in_flight = false;
        match self.state {
            CircuitState::HalfOpen => self.open(now_ms),
            CircuitState::Closed => {
                self.failures += 1;
                if self.failures >= self.config.failure_threshold {
                    self.open(now_ms);
                }
            }
            CircuitState::Open => {}
        }
    }

    /// A request ended without saying anything about the provider's health (e.g. a 404): a
    /// half-open probe is released without deciding.
    pub fn neutral(&mut self) {
        if self.state == CircuitState::HalfOpen {
            self.probe_in_flight = false;
        }
    }

    fn open(&mut self, now_ms: i64) {
        self.state = CircuitState::Open;
        self.opened_at_ms = now_ms;
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(Breaker {
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
        })
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let mut b = breaker();
        b.failure(0);
        b.failure(1);
        b.success();
        b.failure(2);
        b.failure(3);
        assert_eq!(
            b.state(),
            CircuitState::Closed,
            "a success resets the count"
        );
        b.failure(4);
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.allow(5), Err(10_004));
        assert_eq!(b.state().gauge(), 2.0);
    }

    #[test]
    fn half_open_lets_one_probe_through_and_its_outcome_decides() {
        let mut b = breaker();
        for t in 0..3 {
            b.failure(t);
        }
        assert_eq!(b.allow(10_002), Ok(()), "the probe");
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert!(b.allow(10_003).is_err(), "one probe at a time");
        b.failure(10_010);
        assert_eq!(b.state(), CircuitState::Open, "a failed probe opens again");
        assert_eq!(b.allow(15_000), Err(20_010));
        assert_eq!(b.allow(20_010), Ok(()));
        b.success();
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.allow(20_011), Ok(()));
    }

    #[test]
    fn a_neutral_probe_releases_the_slot() {
        let mut b = breaker();
        for t in 0..3 {
            b.failure(t);
        }
        b.allow(10_002).unwrap();
        b.neutral();
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert_eq!(b.allow(10_003), Ok(()));
    }
}
