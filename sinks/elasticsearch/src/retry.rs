//! Backoff of the retries inside one `apply`: exponential from
//! `initial_backoff` to `max_backoff`, for at most `retry_for` in total.
//! Which failures are retried is decided in [`crate::errors`] only.

use std::time::{Duration, Instant};

use crate::config::RetryConfig;

/// The retry clock of one chunk of items.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    deadline: Instant,
}

impl Backoff {
    pub fn start(config: &RetryConfig) -> Self {
        Backoff { next: config.initial_backoff, max: config.max_backoff, deadline: Instant::now() + config.retry_for }
    }

    /// Sleeps before the next attempt; `false` (without sleeping) when the
    /// budget would be exceeded.
    pub async fn wait(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        let pause = self.next.min(self.deadline - now);
        tokio::time::sleep(pause).await;
        self.next = (self.next * 2).min(self.max);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stops_after_the_budget() {
        let config = RetryConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            retry_for: Duration::from_millis(60),
        };
        let mut b = Backoff::start(&config);
        let start = Instant::now();
        let mut attempts = 0;
        while b.wait().await {
            attempts += 1;
        }
        assert!((3..=6).contains(&attempts), "{attempts}");
        assert!(start.elapsed() >= Duration::from_millis(60));
    }
}
