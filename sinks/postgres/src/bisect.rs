//! Isolation of poison records after a permanent error.
//!
//! Runs inside ONE transaction with savepoints, so the batch stays atomic:
//! the units (source transactions) are halved until a failing unit is found,
//! then that unit's events are halved until the failing event is found. Every
//! part that succeeds is kept (its savepoint released) in order, so later
//! parts see the effect of earlier ones. A single failing event is rejected
//! with the database's message (table, column when Postgres names it,
//! constraint) and its origin. The other events of its unit still commit
//! together. Cost: about 2·log2(n) savepoint attempts per poison record.

use std::future::Future;
use std::pin::Pin;

use sluice_sink_api::{ErrorClass, Rejection, SinkError};
use sqlx::PgConnection;

use crate::client::sink_error;
use crate::sink::{BatchCtx, PostgresSink, TableCounts};

/// What bisection wrote and rejected.
#[derive(Debug, Default)]
pub struct Outcome {
    pub counts: TableCounts,
    pub rejected: Vec<Rejection>,
}

const SAVEPOINT: &str = "sluice_bisect";

/// Applies the live events of `ctx` unit by unit, rejecting poison records.
pub(crate) async fn run(
    sink: &PostgresSink,
    conn: &mut PgConnection,
    ctx: &BatchCtx<'_>,
    outcome: &mut Outcome,
) -> Result<(), SinkError> {
    let batch = ctx.batch;
    let units: Vec<std::ops::Range<usize>> =
        if batch.units.is_empty() { (0..batch.len()).map(|i| i..i + 1).collect() } else { batch.units.clone() };
    let segments: Vec<Vec<usize>> = units
        .into_iter()
        .map(|r| r.filter(|i| ctx.table_of[*i].is_some()).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    isolate(sink, conn, ctx, segments, true, outcome).await
}

type Step<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

fn isolate<'a>(
    sink: &'a PostgresSink,
    conn: &'a mut PgConnection,
    ctx: &'a BatchCtx<'_>,
    segments: Vec<Vec<usize>>,
    unit_level: bool,
    outcome: &'a mut Outcome,
) -> Step<'a> {
    Box::pin(async move {
        if segments.is_empty() {
            return Ok(());
        }
        let all: Vec<usize> = segments.concat();
        exec(conn, &format!("SAVEPOINT {SAVEPOINT}")).await?;
        let error = match sink.write(conn, ctx, &all).await {
            Ok(counts) => {
                exec(conn, &format!("RELEASE SAVEPOINT {SAVEPOINT}")).await?;
                for (t, c) in counts {
                    let entry = outcome.counts.entry(t).or_default();
                    entry.applied += c.applied;
                    entry.stale += c.stale;
                }
                return Ok(());
            }
            Err(e) if e.class != ErrorClass::Permanent => return Err(e.into_sink_error()),
            Err(e) => e,
        };
        exec(conn, &format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}")).await?;
        exec(conn, &format!("RELEASE SAVEPOINT {SAVEPOINT}")).await?;
        if segments.len() > 1 {
            let mut left = segments;
            let right = left.split_off(left.len() / 2);
            isolate(sink, &mut *conn, ctx, left, unit_level, &mut *outcome).await?;
            return isolate(sink, conn, ctx, right, unit_level, outcome).await;
        }
        let only = segments.into_iter().next().unwrap_or_default();
        if unit_level && only.len() > 1 {
            let events = only.into_iter().map(|i| vec![i]).collect();
            return isolate(sink, conn, ctx, events, false, outcome).await;
        }
        for index in only {
            let event = &ctx.batch.events[index];
            outcome.rejected.push(Rejection {
                index,
                kind: error.kind,
                message: format!("{} (at {}, version {})", error.message, event.origin, event.version),
            });
        }
        Ok(())
    })
}

async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), SinkError> {
    sqlx::query(sql).execute(conn).await.map(|_| ()).map_err(|e| sink_error("bisecting the batch", e))
}
