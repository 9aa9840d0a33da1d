//! Applying one batch to one sink: retries for transient errors, bisection
//! for permanent ones.
//!
//! # Contract
//!
//! * Transient errors are retried with [`Backoff`] (forever by default); the
//!   `on_retry` callback lets the caller pause the batch's partitions and report
//!   degraded health. Nothing is dead-lettered because a target is down.
//! * A permanent `Err` for a whole batch means the sink could not isolate the
//!   poison record itself: the batch is bisected — by unit (source
//!   transaction) first, then by event — until single events fail; those are
//!   returned as rejections, everything else applies.
//! * Fatal errors, or running out of attempts, end with `Err`: the caller stops
//!   the pipeline without acknowledging the batch.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use sluice_sink_api::{ApplyReport, ChangeBatch, Rejection, Sink, SinkError};

use super::retry::Backoff;

/// Why a batch could not be applied at all.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("sink {sink}: fatal error: {message}")]
    Fatal { sink: String, message: String },
    #[error("sink {sink}: gave up after {attempts} attempts: {message}")]
    Exhausted { sink: String, attempts: u32, message: String },
}

/// Applies `batch` to `sink` following the module contract.
pub async fn apply_batch(
    sink: &dyn Sink,
    batch: &ChangeBatch,
    backoff: &Backoff,
    on_retry: &(dyn Fn(u32, &SinkError) + Send + Sync),
) -> Result<ApplyReport, DispatchError> {
    apply_range(sink, batch, backoff, on_retry).await
}

fn apply_range<'a>(
    sink: &'a dyn Sink,
    batch: &'a ChangeBatch,
    backoff: &'a Backoff,
    on_retry: &'a (dyn Fn(u32, &SinkError) + Send + Sync),
) -> Pin<Box<dyn Future<Output = Result<ApplyReport, DispatchError>> + Send + 'a>> {
    Box::pin(async move {
        let mut attempts = 0u32;
        loop {
            let started = Instant::now();
            match sink.apply(batch).await {
                Ok(report) => {
                    metrics::histogram!(crate::telemetry::names::APPLY_DURATION, "sink" => sink.name().to_string())
                        .record(started.elapsed().as_secs_f64());
                    return Ok(report);
                }
                Err(e) if e.is_transient() => {
                    attempts += 1;
                    if !backoff.allows(attempts) {
                        return Err(DispatchError::Exhausted {
                            sink: sink.name().to_string(),
                            attempts,
                            message: e.full_message(),
                        });
                    }
                    on_retry(attempts, &e);
                    tokio::time::sleep(backoff.delay(attempts - 1)).await;
                }
                Err(e) if e.is_permanent() => {
                    if batch.events.len() == 1 {
                        return Ok(ApplyReport {
                            applied: 0,
                            stale: 0,
                            rejected: vec![Rejection { index: 0, kind: e.kind, message: e.full_message() }],
                        });
                    }
                    return bisect(sink, batch, backoff, on_retry).await;
                }
                Err(e) => {
                    return Err(DispatchError::Fatal { sink: sink.name().to_string(), message: e.full_message() });
                }
            }
        }
    })
}

/// Splits the batch in two halves (on unit boundaries when there are several
/// units, else on events) and applies each; rejections are re-indexed.
async fn bisect(
    sink: &dyn Sink,
    batch: &ChangeBatch,
    backoff: &Backoff,
    on_retry: &(dyn Fn(u32, &SinkError) + Send + Sync),
) -> Result<ApplyReport, DispatchError> {
    let split_at =
        if batch.units.len() > 1 { batch.units[batch.units.len() / 2].start } else { batch.events.len() / 2 };
    let mut report = ApplyReport::default();
    for (offset, part) in
        [(0, sub_batch(batch, 0, split_at)), (split_at, sub_batch(batch, split_at, batch.events.len()))]
    {
        if part.events.is_empty() {
            continue;
        }
        let mut sub = apply_range(sink, &part, backoff, on_retry).await?;
        for r in &mut sub.rejected {
            r.index += offset;
        }
        report.merge(sub);
    }
    Ok(report)
}

/// Events `[start, end)` with their units cut to the range (a unit split by the
/// range — only when bisecting inside one unit — becomes per-event units).
fn sub_batch(batch: &ChangeBatch, start: usize, end: usize) -> ChangeBatch {
    let events = batch.events[start..end].to_vec();
    let mut units = Vec::new();
    for u in &batch.units {
        if u.start >= start && u.end <= end {
            units.push(u.start - start..u.end - start);
        } else if u.start < end && u.end > start {
            for i in u.start.max(start)..u.end.min(end) {
                units.push(i - start..i - start + 1);
            }
        }
    }
    ChangeBatch { events, units, checkpoint: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use sluice_sink_api::testing::EventBuilder;
    use sluice_sink_api::{MemorySink, RejectKind, TableId};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    /// Refuses whole batches that contain a poison name (cannot isolate it),
    /// and fails transiently the first `flaky` calls.
    #[derive(Debug)]
    struct Picky {
        inner: MemorySink,
        flaky: AtomicU32,
        fatal: bool,
    }

    #[async_trait]
    impl Sink for Picky {
        fn name(&self) -> &str {
            "picky"
        }
        async fn startup(&self) -> Result<(), SinkError> {
            Ok(())
        }
        async fn healthcheck(&self) -> Result<(), SinkError> {
            Ok(())
        }
        async fn apply(&self, batch: &ChangeBatch) -> Result<ApplyReport, SinkError> {
            if self.fatal {
                return Err(SinkError::fatal("misconfigured"));
            }
            if self.flaky.load(Ordering::SeqCst) > 0 {
                self.flaky.fetch_sub(1, Ordering::SeqCst);
                return Err(SinkError::transient("down"));
            }
            let poison = batch.events.iter().any(|e| {
                e.after.as_ref().and_then(|r| r.get("name")) == Some(&sluice_sink_api::Value::Text("poison".into()))
            });
            if poison {
                return Err(SinkError::permanent(RejectKind::Constraint, "violates check"));
            }
            self.inner.apply(batch).await
        }
        async fn shutdown(&self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    fn backoff() -> Backoff {
        Backoff { initial: Duration::from_millis(1), max: Duration::from_millis(2), max_attempts: None }
    }

    #[tokio::test]
    async fn bisects_to_the_poison_event() {
        let b = EventBuilder::new(TableId::new(Some("db"), None, "t"));
        let mut events: Vec<_> = (0..37).map(|i| b.upsert(i, i as u64 + 1, "ok")).collect();
        events[23] = b.upsert(23, 24, "poison");
        let sink = Picky { inner: MemorySink::new("m"), flaky: AtomicU32::new(0), fatal: false };
        let report = apply_batch(&sink, &ChangeBatch::from_events(events), &backoff(), &|_, _| {}).await.unwrap();
        assert_eq!(report.applied, 36);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].index, 23);
        assert_eq!(report.rejected[0].kind, RejectKind::Constraint);
    }

    #[tokio::test]
    async fn bisects_by_unit_first() {
        let b = EventBuilder::new(TableId::new(Some("db"), None, "t"));
        let units: Vec<Vec<_>> = (0..8)
            .map(|t| {
                (0..3)
                    .map(|i| {
                        EventBuilder::in_tx(
                            b.upsert(
                                t * 10 + i,
                                (t * 10 + i) as u64 + 1,
                                if t == 5 && i == 1 { "poison" } else { "ok" },
                            ),
                            &format!("tx{t}"),
                            i as u64 + 1,
                        )
                    })
                    .collect()
            })
            .collect();
        let batch = ChangeBatch::from_units(units);
        let sink = Picky { inner: MemorySink::new("m"), flaky: AtomicU32::new(0), fatal: false };
        let report = apply_batch(&sink, &batch, &backoff(), &|_, _| {}).await.unwrap();
        assert_eq!(report.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), vec![16]);
        assert_eq!(report.applied, 23);
    }

    #[tokio::test]
    async fn retries_transient_errors_and_reports_them() {
        let b = EventBuilder::new(TableId::new(Some("db"), None, "t"));
        let sink = Picky { inner: MemorySink::new("m"), flaky: AtomicU32::new(3), fatal: false };
        let retries = AtomicU32::new(0);
        let report = apply_batch(&sink, &ChangeBatch::from_events(vec![b.upsert(1, 1, "a")]), &backoff(), &|_, _| {
            retries.fetch_add(1, Ordering::SeqCst);
        })
        .await
        .unwrap();
        assert_eq!(report.applied, 1);
        assert_eq!(retries.load(Ordering::SeqCst), 3);
        let limited = Backoff { max_attempts: Some(2), ..backoff() };
        let sink = Picky { inner: MemorySink::new("m"), flaky: AtomicU32::new(5), fatal: false };
        let err = apply_batch(&sink, &ChangeBatch::from_events(vec![b.upsert(1, 1, "a")]), &limited, &|_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(err, DispatchError::Exhausted { attempts: 2, .. }), "{err}");
    }

    #[tokio::test]
    async fn fatal_errors_stop() {
        let b = EventBuilder::new(TableId::new(Some("db"), None, "t"));
        let sink = Picky { inner: MemorySink::new("m"), flaky: AtomicU32::new(0), fatal: true };
        let err = apply_batch(&sink, &ChangeBatch::from_events(vec![b.upsert(1, 1, "a")]), &backoff(), &|_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(err, DispatchError::Fatal { .. }));
    }
}
