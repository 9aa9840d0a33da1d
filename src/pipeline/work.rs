//! Processing one flushed batch: apply to every sink, dead-letter what was
//! rejected, resolve every record.
//!
//! # Contract
//!
//! * Every sink gets the whole batch; sinks run concurrently.
//! * A record is resolved only when every sink acknowledged it: applied,
//!   stale, or rejected *and* durably dead-lettered.
//! * While a sink or the DLQ fails transiently, the batch's partitions are
//!   paused (back-pressure) and the work is retried; nothing is acknowledged.
//! * A record whose rejection the tolerance policy forbids (`none`), or a
//!   fatal sink error, pins the records: the pipeline stops, and no offset at
//!   or after them is ever committed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::future::join_all;
use sluice_sink_api::{ApplyReport, RejectKind, Sink};

use super::batcher::Batch;
use super::dispatch::apply_batch;
use super::exactly_once::CheckpointSpec;
use super::policy::TolerancePolicy;
use super::retry::Backoff;
use crate::consume::{AckToken, ConsumedRecord, ConsumerHandle, TopicPartition};
use crate::decode::DecodeError;
use crate::dlq::{ALL_SINKS, DeadLetter, DeadLetterStore};
use crate::telemetry::{Health, names};

/// A consumed record as the pipeline holds it.
pub type Src = Arc<ConsumedRecord>;

/// A batch plus the records that failed to decode since the last flush.
#[derive(Debug)]
pub struct Work {
    pub batch: Option<Batch<Src>>,
    pub failures: Vec<(Src, DecodeError)>,
}

/// What processing a batch amounted to.
#[derive(Debug, Default, Clone)]
pub struct WorkSummary {
    pub events: usize,
    pub applied: HashMap<String, u64>,
    pub stale: HashMap<String, u64>,
    pub dead_lettered: u64,
    /// Set when the pipeline must stop.
    pub fatal: Option<String>,
}

/// Everything a batch needs, shared by all batches.
#[derive(Debug)]
pub struct WorkContext {
    pub sinks: Vec<Arc<dyn Sink>>,
    pub dlq: Arc<dyn DeadLetterStore>,
    pub policy: TolerancePolicy,
    pub backoff: Backoff,
    pub consumer: Arc<ConsumerHandle>,
    pub group: String,
    pub health: Health,
    /// Exactly-once mode: every batch carries a checkpoint of its positions.
    pub checkpoint: Option<CheckpointSpec>,
}

/// The Confluent schema id of an Avro payload (`0x00` + 4-byte big-endian id).
pub fn confluent_schema_id(value: Option<&[u8]>) -> Option<i32> {
    match value {
        Some([0, a, b, c, d, ..]) => Some(i32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

fn letter(
    src: &ConsumedRecord,
    group: &str,
    sink: &str,
    table: Option<String>,
    class: RejectKind,
    message: String,
) -> DeadLetter {
    DeadLetter {
        topic: src.topic().to_string(),
        partition: src.partition(),
        offset: src.offset(),
        consumer_group: group.to_string(),
        sink: sink.to_string(),
        table,
        class,
        message,
        key: src.key.clone(),
        value: src.value.clone(),
        headers: src.headers.clone(),
        schema_id: confluent_schema_id(src.value.as_deref()),
    }
}

/// Processes one unit of work following the module contract.
pub async fn process(ctx: &WorkContext, work: Work) -> WorkSummary {
    let mut summary = WorkSummary::default();
    let mut tokens: Vec<AckToken> = Vec::new();
    let mut partitions: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut letters: Vec<(DeadLetter, Vec<AckToken>)> = Vec::new();

    for (src, err) in &work.failures {
        partitions.insert(src.token.tp.clone());
        tokens.push(src.token.clone());
        letters.push((
            letter(src, &ctx.group, ALL_SINKS, None, err.reject_kind(), err.to_string()),
            vec![src.token.clone()],
        ));
    }

    let mut work = work;
    if let Some(batch) = &mut work.batch {
        summary.events = batch.changes.events.len();
        let first_batch_token = tokens.len();
        for s in batch.sources.iter().flatten().chain(batch.extra_sources.iter()) {
            partitions.insert(s.token.tp.clone());
            tokens.push(s.token.clone());
        }
        if let Some(spec) = &ctx.checkpoint {
            batch.changes.checkpoint = Some(spec.checkpoint(&ctx.consumer, &tokens[first_batch_token..]));
        }
    }
    if let Some(batch) = &work.batch {
        metrics::histogram!(names::BATCH_SIZE).record(batch.changes.events.len() as f64);
        let partitions_vec: Vec<TopicPartition> = partitions.iter().cloned().collect();
        let results = join_all(ctx.sinks.iter().map(|sink| {
            let partitions = partitions_vec.clone();
            async move {
                let on_retry = |attempt: u32, e: &sluice_sink_api::SinkError| {
                    metrics::counter!(names::SINK_RETRIES, "sink" => sink.name().to_string()).increment(1);
                    ctx.consumer.set_retry_paused(&partitions, true);
                    ctx.health.set_degraded(Some(format!("sink {} failing: {}", sink.name(), e.message)));
                    tracing::warn!(sink = sink.name(), attempt, error = %e.full_message(), "sink failed transiently; retrying");
                };
                (sink, apply_batch(sink.as_ref(), &batch.changes, &ctx.backoff, &on_retry).await)
            }
        }))
        .await;
        for (sink, result) in results {
            match result {
                Ok(report) => collect_report(ctx, sink.as_ref(), batch, report, &mut summary, &mut letters),
                Err(e) => {
                    let reason = e.to_string();
                    tracing::error!(error = %reason, "batch cannot be applied; stopping without committing past it");
                    summary.fatal.get_or_insert(reason);
                }
            }
        }
    }

    if summary.fatal.is_some() && ctx.checkpoint.is_some() && !ctx.consumer.all_current(&tokens) {
        // Exactly-once: the batch's partitions were revoked while it was in
        // flight (and possibly claimed again since, which fences it). Its
        // records are no longer ours to resolve; they are read again.
        tracing::warn!(
            reason = summary.fatal.as_deref().unwrap_or_default(),
            "batch of revoked partitions failed; abandoned (its records are read again)"
        );
        summary.fatal = None;
        return summary;
    }
    if summary.fatal.is_some() {
        for t in &tokens {
            ctx.consumer.pin(t);
        }
        return summary;
    }

    // The tolerance policy may forbid dead-lettering some of them.
    let mut forbidden: Vec<AckToken> = Vec::new();
    letters.retain(|(l, toks)| {
        if ctx.policy.dead_letters(l.table.as_deref(), l.class) {
            true
        } else {
            summary.fatal.get_or_insert_with(|| {
                format!(
                    "{} record at {}/{}@{} ({}: {}) and errors.tolerance is none for it",
                    l.class,
                    l.topic,
                    l.partition,
                    l.offset,
                    l.table.as_deref().unwrap_or("-"),
                    l.message
                )
            });
            forbidden.extend(toks.iter().cloned());
            false
        }
    });

    if !letters.is_empty() {
        let batch: Vec<DeadLetter> = letters.iter().map(|(l, _)| l.clone()).collect();
        let partitions_vec: Vec<TopicPartition> = partitions.iter().cloned().collect();
        park_with_retry(ctx.dlq.as_ref(), &batch, &ctx.backoff, &ctx.health, || {
            ctx.consumer.set_retry_paused(&partitions_vec, true);
        })
        .await;
        summary.dead_lettered += letters.len() as u64;
    }

    for t in &forbidden {
        ctx.consumer.pin(t);
    }
    let resolved: Vec<&AckToken> = tokens.iter().filter(|t| !forbidden.contains(t)).collect();
    ctx.consumer.resolve_all(resolved);
    let partitions_vec: Vec<TopicPartition> = partitions.into_iter().collect();
    ctx.consumer.set_retry_paused(&partitions_vec, false);
    ctx.health.set_degraded(None);
    if let Some(batch) = &work.batch {
        record_latency(batch);
    }
    summary
}

/// Parks `letters`, retrying transient dead-letter-store failures with
/// `backoff` until they are durable (never gives up: a record is not
/// acknowledged while its letter is not stored). `on_failure` runs before each
/// retry (the Kafka pipeline pauses the batch's partitions); health is
/// degraded meanwhile. Counts every parked letter in `sluice_dlq_inserts_total`.
/// Shared by the Kafka pipeline and the MySQL direct mode.
pub async fn park_with_retry(
    dlq: &dyn DeadLetterStore,
    letters: &[DeadLetter],
    backoff: &Backoff,
    health: &Health,
    on_failure: impl Fn(),
) {
    let mut attempt = 0u32;
    loop {
        match dlq.park(letters).await {
            Ok(()) => break,
            Err(e) => {
                attempt += 1;
                metrics::counter!(names::DLQ_FAILURES).increment(1);
                on_failure();
                health.set_degraded(Some(format!("dead-letter queue failing: {e}")));
                tracing::warn!(attempt, error = %e, "dead-letter queue unavailable; records stay unacknowledged, retrying");
                tokio::time::sleep(backoff.delay(attempt - 1)).await;
            }
        }
    }
    for l in letters {
        metrics::counter!(names::DLQ_INSERTS, "sink" => l.sink.clone(), "table" => l.table.clone().unwrap_or_default(), "class" => l.class.as_str()).increment(1);
    }
}

fn collect_report(
    ctx: &WorkContext,
    sink: &dyn Sink,
    batch: &Batch<Src>,
    report: ApplyReport,
    summary: &mut WorkSummary,
    letters: &mut Vec<(DeadLetter, Vec<AckToken>)>,
) {
    let name = sink.name().to_string();
    metrics::counter!(names::EVENTS_APPLIED, "sink" => name.clone()).increment(report.applied);
    metrics::counter!(names::EVENTS_STALE, "sink" => name.clone()).increment(report.stale);
    *summary.applied.entry(name.clone()).or_default() += report.applied;
    *summary.stale.entry(name.clone()).or_default() += report.stale;
    for rejection in report.rejected {
        let Some(event) = batch.changes.events.get(rejection.index) else {
            tracing::error!(sink = %name, index = rejection.index, "sink rejected an event index outside the batch");
            continue;
        };
        let table = event.table.qualified();
        metrics::counter!(names::EVENTS_REJECTED, "sink" => name.clone(), "table" => table.clone(), "class" => rejection.kind.as_str()).increment(1);
        tracing::warn!(sink = %name, table = %table, class = %rejection.kind, origin = %event.origin, reason = %rejection.message, "record rejected; dead-lettering");
        for src in &batch.sources[rejection.index] {
            letters.push((
                letter(src, &ctx.group, &name, Some(table.clone()), rejection.kind, rejection.message.clone()),
                vec![src.token.clone()],
            ));
        }
    }
}

fn record_latency(batch: &Batch<Src>) {
    let now = chrono::Utc::now();
    for e in &batch.changes.events {
        if let Some(ts) = e.source_ts {
            let secs = (now - ts).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
            metrics::histogram!(names::END_TO_END_LATENCY).record(secs);
        }
    }
}
