//! Capped exponential backoff with jitter.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Capped exponential backoff with ±20 % jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `initial`, doubles up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            current: initial,
        }
    }

    /// The reconnection backoff of a daemon's `[broker]` section: `backoff_initial_ms` (10 ms
    /// at least) doubling up to `backoff_max_secs` (1 s at least).
    pub fn from_config(initial_ms: u64, max_secs: u64) -> Self {
        Backoff::new(
            Duration::from_millis(initial_ms.max(10)),
            Duration::from_secs(max_secs.max(1)),
        )
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        let jitter = f64::from(random_byte()) / 255.0 * 0.4 + 0.8;
        base.mul_f64(jitter).min(self.max)
    }

    /// Back to the initial delay (after a success).
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

/// A byte that differs from call to call: std's randomly keyed hasher (a new key each time) of
/// nothing. Jitter only spreads reconnections out; it needs no cryptographic randomness.
fn random_byte() -> u8 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        .to_le_bytes()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= Duration::from_millis(120));
        assert!(delays[0] >= Duration::from_millis(80));
        assert!(delays[3] >= Duration::from_millis(640));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(1)));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(120));
    }

    #[test]
    fn jitter_varies_and_floors_apply() {
        let delays: Vec<_> = (0..32)
            .map(|_| Backoff::from_config(1000, 60).next_delay())
            .collect();
        assert!(delays.iter().any(|d| *d != delays[0]), "{delays:?}");
        let mut b = Backoff::from_config(0, 0);
        assert!(b.next_delay() <= Duration::from_millis(12));
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_secs(1));
        }
    }
}
