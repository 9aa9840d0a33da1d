//! Backoff for transient failures: exponential, capped, with jitter.

use std::time::Duration;

use rand::Rng;

use crate::config::RetrySection;

/// Exponential backoff: `initial * 2^attempt`, capped at `max`, multiplied by a
/// random factor in `[0.5, 1.0)` so that several processes do not retry in step.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Give up after this many attempts (`None`: retry forever).
    pub max_attempts: Option<u32>,
}

impl Backoff {
    pub fn from_config(c: &RetrySection) -> Self {
        Backoff { initial: c.initial_backoff, max: c.max_backoff, max_attempts: c.max_attempts }
    }

    /// The delay before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.initial.saturating_mul(1u32 << attempt.min(20));
        let capped = exp.min(self.max);
        let factor: f64 = rand::rng().random_range(0.5..1.0);
        capped.mul_f64(factor)
    }

    /// Whether another attempt is allowed after `attempts` failures.
    pub fn allows(&self, attempts: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempts < max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps_with_jitter() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1), max_attempts: Some(3) };
        let d0 = b.delay(0);
        assert!(d0 >= Duration::from_millis(50) && d0 < Duration::from_millis(100));
        let d10 = b.delay(10);
        assert!(d10 >= Duration::from_millis(500) && d10 < Duration::from_secs(1));
        assert!(b.allows(2));
        assert!(!b.allows(3));
        assert!(Backoff { max_attempts: None, ..b }.allows(1_000_000));
    }
}
