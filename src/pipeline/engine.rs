//! The engine loop: consumer events → decode → assembler → batcher → work.
//!
//! One batch is processed at a time (sinks in parallel), while the next one
//! fills: per-key order within a partition is preserved end to end, and
//! back-pressure is simple — while a batch is in flight and the next one is
//! full, the loop stops taking records, in-flight bytes grow and the consumer
//! pauses at its limit.
//!
//! Registry schemas: decoding is synchronous, so a record whose Avro schema
//! id is not cached waits here, inline, for the registry lookup
//! ([`Decoder::resolve_schemas`]) before it is decoded. Records behind it in
//! its partition must wait anyway; the consumer keeps polling and pauses at
//! the in-flight byte limit. The wait is bounded by
//! `schema_registry.unavailable_retry` (then the record is dead-lettered
//! with class `schema_unavailable`) and ends early on shutdown (the record
//! stays unresolved: not committed, read again after the restart). Records
//! whose schemas are cached never wait.
//!
//! Shutdown (SIGINT/SIGTERM, or `--drain` once caught up): stop taking records,
//! flush and apply what is buffered, then the consumer commits synchronously
//! and leaves the group. Incomplete source transactions stay unresolved (not
//! committed) and are read again after the restart.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::assembler::Assembler;
use super::batcher::{BatchLimits, Batcher, Unit};
use super::work::{Src, Work, WorkContext, WorkSummary, process};
use crate::consume::{ConsumedRecord, ConsumerEvent};
use crate::decode::{DecodeError, Decoded, Decoder, RawRecord, RecordHeader};

/// Totals of a run, printed at the end (`sluice run --drain`) and used by tests.
#[derive(Debug, Default, Clone)]
pub struct RunSummary {
    pub records: u64,
    pub events: u64,
    pub applied: std::collections::BTreeMap<String, u64>,
    pub stale: std::collections::BTreeMap<String, u64>,
    pub dead_lettered: u64,
    pub batches: u64,
    pub elapsed: Duration,
    /// Why the pipeline stopped, when it was not a clean shutdown.
    pub fatal: Option<String>,
}

impl RunSummary {
    fn add(&mut self, w: &WorkSummary) {
        self.batches += 1;
        self.events += w.events as u64;
        for (k, v) in &w.applied {
            *self.applied.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &w.stale {
            *self.stale.entry(k.clone()).or_default() += v;
        }
        self.dead_lettered += w.dead_lettered;
        if self.fatal.is_none() {
            self.fatal.clone_from(&w.fatal);
        }
    }
}

/// The engine; see the module docs.
pub struct Engine {
    pub(crate) events: UnboundedReceiver<ConsumerEvent>,
    pub(crate) decoder: Arc<Decoder>,
    pub(crate) assembler: Box<dyn Assembler<Src>>,
    pub(crate) batcher: Batcher<Src>,
    pub(crate) ctx: Arc<WorkContext>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(
        events: UnboundedReceiver<ConsumerEvent>,
        decoder: Arc<Decoder>,
        assembler: Box<dyn Assembler<Src>>,
        limits: BatchLimits,
        ctx: Arc<WorkContext>,
    ) -> Self {
        let compact_across = !assembler.units_are_transactions();
        Engine { events, decoder, assembler, batcher: Batcher::new(limits, compact_across), ctx }
    }

    /// Runs until `shutdown` resolves, the consumer reports `Drained`, or a
    /// fatal error. Returns the run's totals.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> RunSummary {
        let started = Instant::now();
        let mut summary = RunSummary::default();
        let mut failures: Vec<(Src, DecodeError)> = Vec::new();
        let mut in_flight: Option<JoinHandle<WorkSummary>> = None;
        let mut stopping = false;
        let mut pending: Option<Src> = None;
        tokio::pin!(shutdown);

        loop {
            // Start the next batch when none is in flight and one is due.
            if in_flight.is_none() {
                let due = self.batcher.is_full()
                    || self.batcher.deadline().is_some_and(|d| d <= Instant::now())
                    || (!failures.is_empty() && self.batcher.is_empty())
                    || (stopping && (!self.batcher.is_empty() || !failures.is_empty()));
                if due {
                    let work = Work { batch: self.batcher.take(), failures: std::mem::take(&mut failures) };
                    let ctx = self.ctx.clone();
                    in_flight = Some(tokio::spawn(async move { process(&ctx, work).await }));
                }
            }
            if stopping && in_flight.is_none() && self.batcher.is_empty() && failures.is_empty() {
                break;
            }
            if summary.fatal.is_some() {
                break;
            }
            let busy = self.batcher.is_full() && in_flight.is_some();
            let accept = !stopping && !busy;
            let batch_deadline = if in_flight.is_none() { self.batcher.deadline() } else { None };
            let wake = [batch_deadline, self.assembler.next_deadline()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_millis(250));
            tokio::select! {
                biased;
                done = async { in_flight.as_mut().expect("guarded").await }, if in_flight.is_some() => {
                    in_flight = None;
                    match done {
                        Ok(w) => summary.add(&w),
                        Err(e) => summary.fatal = Some(format!("batch task failed: {e}")),
                    }
                }
                _ = &mut shutdown, if !stopping => {
                    tracing::info!("shutdown requested: applying what is buffered, then committing");
                    stopping = true;
                    self.finish_assembler();
                }
                event = self.events.recv(), if accept => match event {
                    Some(ConsumerEvent::Record(record)) => {
                        summary.records += 1;
                        pending = Some(Arc::new(record));
                    }
                    Some(ConsumerEvent::Assigned(_)) => {}
                    Some(ConsumerEvent::Revoked(partitions)) => {
                        let _dropped = self.assembler.revoke(&partitions);
                    }
                    Some(ConsumerEvent::Drained) => {
                        tracing::info!("every subscribed partition is caught up");
                        stopping = true;
                        self.finish_assembler();
                    }
                    None => {
                        stopping = true;
                    }
                },
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            // Transaction timeouts are checked on every turn, not only when the
            // sleep wins the select: under a steady stream of records it never would.
            let now = Instant::now();
            if self.assembler.next_deadline().is_some_and(|d| d <= now) {
                for unit in self.assembler.tick(now) {
                    self.push_unit(unit);
                }
            }
            if let Some(record) = pending.take() {
                match self.resolve_schemas(&record, shutdown.as_mut(), stopping).await {
                    Some(Ok(())) => self.on_record(record, &mut failures),
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "record's schema cannot be fetched; dead-lettering");
                        failures.push((record, e));
                    }
                    None => {
                        tracing::info!("shutdown requested while waiting for the schema registry");
                        stopping = true;
                        self.finish_assembler();
                    }
                }
            }
            if let Some(reason) = self.ctx.consumer.fatal() {
                summary.fatal.get_or_insert(reason);
            }
        }
        if let Some(handle) = in_flight.take()
            && let Ok(w) = handle.await
        {
            summary.add(&w);
        }
        summary.elapsed = started.elapsed();
        summary
    }

    fn finish_assembler(&mut self) {
        // Incomplete transactions stay unresolved: their offsets are not committed.
        let _left = self.assembler.drain_unresolved();
    }

    fn push_unit(&mut self, unit: Unit<Src>) {
        self.batcher.push(unit);
    }

    /// Fetches the registry schemas `record` needs that are not cached (see
    /// the module docs). Returns at once when none is missing; `None` when
    /// shutdown was requested during the wait.
    async fn resolve_schemas<F: Future<Output = ()>>(
        &self,
        record: &ConsumedRecord,
        shutdown: Pin<&mut F>,
        stopping: bool,
    ) -> Option<Result<(), DecodeError>> {
        let raw = RawRecord::new(
            record.topic(),
            record.partition(),
            record.offset(),
            record.key.as_deref(),
            record.value.as_deref(),
        );
        let missing = self.decoder.missing_schemas(&raw);
        if missing.is_empty() {
            return Some(Ok(()));
        }
        tracing::debug!(origin = %raw.origin(), ?missing, "fetching schemas from the registry");
        if stopping {
            return Some(self.decoder.resolve_schemas(&raw).await);
        }
        tokio::select! {
            result = self.decoder.resolve_schemas(&raw) => Some(result),
            _ = shutdown => None,
        }
    }

    fn on_record(&mut self, record: Src, failures: &mut Vec<(Src, DecodeError)>) {
        let decoded = decode_record(&self.decoder, &record);
        match decoded {
            Ok(Decoded::Change(event)) => {
                let bytes = record.size();
                for unit in self.assembler.push_change(event, record, bytes) {
                    self.push_unit(unit);
                }
            }
            Ok(Decoded::TxBoundary(marker)) => {
                for unit in self.assembler.push_marker(marker, record) {
                    self.push_unit(unit);
                }
            }
            // Tombstones (the delete before carries the version), heartbeats,
            // schema-change history and logical messages: nothing to apply.
            Ok(Decoded::Tombstone(_) | Decoded::Heartbeat(_) | Decoded::SchemaChange(_) | Decoded::Message(_)) => {
                self.ctx.consumer.resolve(&record.token);
            }
            Err(e) => {
                tracing::warn!(error = %e, "record cannot be decoded; dead-lettering");
                failures.push((record, e));
            }
        }
        let now_resolved = self.assembler.resolved_now();
        if !now_resolved.is_empty() {
            self.ctx.consumer.resolve_all(now_resolved.iter().map(|s| &s.token));
        }
    }
}

/// Decodes a consumed record.
pub fn decode_record(decoder: &Decoder, record: &ConsumedRecord) -> Result<Decoded, DecodeError> {
    let headers: Vec<RecordHeader<'_>> =
        record.headers.iter().map(|(k, v)| RecordHeader { key: k.as_str(), value: v.as_deref() }).collect();
    let raw = RawRecord {
        topic: record.topic(),
        partition: record.partition(),
        offset: record.offset(),
        key: record.key.as_deref(),
        value: record.value.as_deref(),
        timestamp_ms: record.timestamp_ms,
        headers: &headers,
    };
    decoder.decode(&raw)
}
