//! Checkpoints stored with the data (exactly-once and direct modes).
//!
//! A [`Checkpoint`] travelling with a batch is written in the batch's
//! transaction to `<sluice>.offsets`, so the data and the position commit or
//! roll back together. Fencing: writers of one owner are serialized by a
//! transaction-level advisory lock, and a checkpoint whose epoch is lower
//! than the epoch stored for any of its streams is refused with a Fatal
//! error (a zombie writer after a rebalance must stop, and its data rolls
//! back with it). A new owner of streams [`claim`]s them first: it gets an
//! epoch above every epoch of the owner and stamps it on those streams, so
//! the previous writer is fenced before the new one reads its first record.
//! Positions never move backwards; a claimed stream without a position yet
//! holds `next_offset = -1` ("none").

use sluice_sink_api::{Checkpoint, CheckpointPosition, SinkError};
use sqlx::{PgConnection, PgPool, Row as _};

use crate::client::sink_error;

/// Writes `checkpoint` inside the caller's transaction.
pub async fn write(conn: &mut PgConnection, offsets: &str, checkpoint: &Checkpoint) -> Result<(), SinkError> {
    let ctx = |e| sink_error("writing the checkpoint", e);
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("sluice offsets {}", checkpoint.owner))
        .execute(&mut *conn)
        .await
        .map_err(ctx)?;
    let streams: Vec<&str> = checkpoint.positions.iter().map(|p| p.stream.as_str()).collect();
    let partitions: Vec<i32> = checkpoint.positions.iter().map(|p| p.partition).collect();
    let stored: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT max(o.epoch) FROM {offsets} o
         JOIN unnest($2::text[], $3::int4[]) AS s(stream, partition)
           ON o.stream = s.stream AND o.partition = s.partition
         WHERE o.owner = $1"
    ))
    .bind(&checkpoint.owner)
    .bind(&streams)
    .bind(&partitions)
    .fetch_one(&mut *conn)
    .await
    .map_err(ctx)?;
    if let Some(stored) = stored
        && stored > checkpoint.epoch
    {
        return Err(SinkError::fatal(format!(
            "fenced: checkpoint of {} has epoch {} but epoch {stored} is stored; another writer took over",
            checkpoint.owner, checkpoint.epoch
        )));
    }
    if checkpoint.positions.is_empty() {
        return Ok(());
    }
    let next: Vec<i64> = checkpoint.positions.iter().map(|p| p.next_offset).collect();
    let detail: Vec<Option<&str>> = checkpoint.positions.iter().map(|p| p.detail.as_deref()).collect();
    sqlx::query(&format!(
        "INSERT INTO {offsets} AS o (owner, stream, partition, next_offset, detail, epoch, updated_at)
         SELECT $1, s.stream, s.partition, s.next_offset, s.detail, $6, now()
         FROM unnest($2::text[], $3::int4[], $4::int8[], $5::text[]) AS s(stream, partition, next_offset, detail)
         ON CONFLICT (owner, stream, partition) DO UPDATE SET
           next_offset = GREATEST(o.next_offset, excluded.next_offset),
           detail = CASE WHEN excluded.next_offset >= o.next_offset THEN excluded.detail ELSE o.detail END,
           epoch = excluded.epoch, updated_at = excluded.updated_at"
    ))
    .bind(&checkpoint.owner)
    .bind(streams)
    .bind(partitions)
    .bind(next)
    .bind(detail)
    .bind(checkpoint.epoch)
    .execute(&mut *conn)
    .await
    .map_err(ctx)?;
    Ok(())
}

/// Takes over `streams` for `owner`: in one transaction (under the owner's
/// advisory lock) picks an epoch above every stored epoch of the owner and
/// stamps it on those streams (inserting `next_offset = -1` for streams
/// without a position). Returns the new epoch.
pub async fn claim(pool: &PgPool, offsets: &str, owner: &str, streams: &[(String, i32)]) -> Result<i64, SinkError> {
    let ctx = |e| sink_error("claiming checkpoint streams", e);
    let mut tx = pool.begin().await.map_err(ctx)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("sluice offsets {owner}"))
        .execute(&mut *tx)
        .await
        .map_err(ctx)?;
    let stored: Option<i64> = sqlx::query_scalar(&format!("SELECT max(epoch) FROM {offsets} WHERE owner = $1"))
        .bind(owner)
        .fetch_one(&mut *tx)
        .await
        .map_err(ctx)?;
    let epoch = stored.unwrap_or(0) + 1;
    let names: Vec<&str> = streams.iter().map(|(s, _)| s.as_str()).collect();
    let partitions: Vec<i32> = streams.iter().map(|(_, p)| *p).collect();
    sqlx::query(&format!(
        "INSERT INTO {offsets} AS o (owner, stream, partition, next_offset, detail, epoch, updated_at)
         SELECT $1, s.stream, s.partition, -1, NULL, $4, now()
         FROM unnest($2::text[], $3::int4[]) AS s(stream, partition)
         ON CONFLICT (owner, stream, partition) DO UPDATE SET epoch = excluded.epoch, updated_at = excluded.updated_at"
    ))
    .bind(owner)
    .bind(names)
    .bind(partitions)
    .bind(epoch)
    .execute(&mut *tx)
    .await
    .map_err(ctx)?;
    tx.commit().await.map_err(ctx)?;
    Ok(epoch)
}

/// The stored checkpoint of `owner` (its highest epoch and every position).
pub async fn load(pool: &PgPool, offsets: &str, owner: &str) -> Result<Option<Checkpoint>, SinkError> {
    let rows = sqlx::query(&format!(
        "SELECT stream, partition, next_offset, detail, epoch FROM {offsets} WHERE owner = $1 ORDER BY stream, partition"
    ))
    .bind(owner)
    .fetch_all(pool)
    .await
    .map_err(|e| sink_error("loading the checkpoint", e))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let epoch = rows.iter().map(|r| r.get::<i64, _>(4)).max().unwrap_or(0);
    let positions = rows
        .iter()
        .map(|r| CheckpointPosition { stream: r.get(0), partition: r.get(1), next_offset: r.get(2), detail: r.get(3) })
        .collect();
    Ok(Some(Checkpoint { owner: owner.to_string(), epoch, positions }))
}
