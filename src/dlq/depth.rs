//! The `sluice_dlq_unresolved` gauge: a periodic count of the pipeline's
//! unresolved dead letters (entries another process resolves or purges must
//! show up too, so the gauge is read from the table, not counted locally).

use std::time::Duration;

use tokio::task::JoinHandle;

use super::store::PostgresDeadLetters;
use crate::telemetry::names;

/// How often the gauge is refreshed.
pub const DEPTH_REFRESH: Duration = Duration::from_secs(15);

/// Refreshes [`names::DLQ_UNRESOLVED`] every [`DEPTH_REFRESH`] until dropped.
/// A failing query keeps the last value and logs at debug level (the
/// pipeline's own DLQ failures are reported by `sluice_dlq_failures_total`).
#[derive(Debug)]
pub struct DepthGauge {
    task: JoinHandle<()>,
}

impl Drop for DepthGauge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the gauge for `group`'s unresolved entries.
pub fn spawn_depth_gauge(store: PostgresDeadLetters, group: String) -> DepthGauge {
    spawn_depth_gauge_every(store, group, DEPTH_REFRESH)
}

/// [`spawn_depth_gauge`] with another period (tests).
pub fn spawn_depth_gauge_every(store: PostgresDeadLetters, group: String, every: Duration) -> DepthGauge {
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.depth(Some(&group)).await {
                Ok(depth) => metrics::gauge!(names::DLQ_UNRESOLVED).set(depth.unresolved as f64),
                Err(e) => tracing::debug!(error = %e, "cannot refresh the dead-letter depth gauge"),
            }
        }
    });
    DepthGauge { task }
}
