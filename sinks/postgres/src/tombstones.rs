//! Tombstone garbage collection.
//!
//! A tombstone keeps a deleted key's version so that a late, older upsert of
//! the key cannot resurrect it. Tombstones older than `tombstone_retention`
//! (default 7 days) are deleted by a background task every
//! `tombstone_gc_interval`, in chunks so no long lock is held. After that, a
//! replay of changes older than the retention could bring a deleted row back:
//! the retention must exceed the longest replay window (Kafka retention,
//! DLQ replays). Truncate versions (`table_state`) are never collected.

use std::time::Duration;

use sluice_sink_api::SinkError;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::client::sink_error;

const GC_CHUNK: i64 = 10_000;

/// Deletes tombstones older than `retention`; returns how many.
pub async fn collect(pool: &PgPool, tombstones: &str, retention: Duration) -> Result<u64, SinkError> {
    let sql = format!(
        "DELETE FROM {tombstones} WHERE ctid IN (SELECT ctid FROM {tombstones} \
         WHERE deleted_at < now() - make_interval(secs => $1) LIMIT $2)"
    );
    let mut total = 0;
    loop {
        let done = sqlx::query(&sql)
            .bind(retention.as_secs_f64())
            .bind(GC_CHUNK)
            .execute(pool)
            .await
            .map_err(|e| sink_error("collecting tombstones", e))?
            .rows_affected();
        total += done;
        if done < GC_CHUNK as u64 {
            return Ok(total);
        }
    }
}

/// Runs [`collect`] every `interval` until the task is aborted.
pub fn spawn_gc(
    sink: String,
    pool: PgPool,
    tombstones: String,
    retention: Duration,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match collect(&pool, &tombstones, retention).await {
                Ok(n) => {
                    metrics::counter!(crate::metrics::TOMBSTONES_COLLECTED_TOTAL, "sink" => sink.clone()).increment(n);
                    if n > 0 {
                        tracing::info!(sink = %sink, collected = n, "tombstones collected");
                    }
                }
                Err(e) => tracing::warn!(sink = %sink, error = %e.full_message(), "tombstone collection failed"),
            }
        }
    })
}
