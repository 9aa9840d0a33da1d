//! Direct mode: the MySQL/MariaDB binlog source applied straight to the
//! sinks, in one process, without Kafka.
//!
//! # Contract
//!
//! * Each source transaction becomes one unit of a [`ChangeBatch`]; a batch
//!   holds the transactions the stream has ready (up to `max_batch_events`),
//!   in binlog order. Every sink gets every batch through the engine's
//!   apply path ([`apply_batch`]: transient errors retried with backoff,
//!   permanent ones bisected), and what a sink rejects is dead-lettered
//!   ([`park_with_retry`]) under the pipeline's tolerance policy, before the
//!   next batch starts.
//! * The batch carries a [`Checkpoint`] (owner = the source name) that the
//!   position sink (a Postgres sink: `position_sink`, else the first one)
//!   writes in the same database transaction as the data: stream `binlog`
//!   (detail: [`BinlogCheckpoint`]) while streaming, stream `snapshot`
//!   (detail: the chunk's [`ChunkRecord`]) for snapshot chunks. The target
//!   therefore always holds a prefix of whole source transactions together
//!   with the position that ends it: exactly-once into that sink.
//! * On restart the checkpoint is read back ([`Sink::load_checkpoint`]): the
//!   snapshot resumes from the last committed chunk
//!   ([`runner::prepare_from`]) and streaming from the start of the last
//!   committed batch (`replay_from`). That one batch is applied again — its
//!   rows are stale no-ops, and its rejections are dead-lettered again
//!   (idempotently), so a crash between the data commit and the dead-letter
//!   insert loses nothing; sinks without checkpoints (Elasticsearch, Redis)
//!   get it again too.
//! * The epoch of the checkpoint is the stored one + 1: an older process
//!   still running is fenced by the Postgres sink (its commit fails, Fatal).
//! * A fatal sink error, or a rejection the tolerance policy does not allow
//!   to dead-letter, stops the run with an error; the restart replays the
//!   batch (and stops again until the cause is fixed).
//!
//! Dead letters of direct mode: topic `<name>.<db>.<table>`, consumer group
//! = the source name, key/value = the change as a Debezium JSON record (with
//! schema). Streamed rows: partition = binlog file sequence, offset =
//! `pos << 20 | row`. Snapshot rows: partition = −generation, offset = the
//! row's ordinal in the snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use sluice_sink_api::{ChangeBatch, ChangeEvent, Checkpoint, CheckpointPosition, Origin, Sink, SinkError, TableId};
use sluice_source_mysql::debezium::envelope::DebeziumSerializer;
use sluice_source_mysql::position::file_seq;
use sluice_source_mysql::runner::{self, DRAIN_HEARTBEAT, Shutdown};
use sluice_source_mysql::snapshot::{Chunk, ChunkRecord, Handler};
use sluice_source_mysql::store::OffsetStore;
use sluice_source_mysql::{BinlogPosition, MysqlSourceConfig, SourceChange, SourceError, SourceItem, SourceStream};
use tokio::sync::mpsc;

use crate::dlq::{DeadLetter, DeadLetterStore};
use crate::pipeline::dispatch::apply_batch;
use crate::pipeline::policy::TolerancePolicy;
use crate::pipeline::retry::Backoff;
use crate::pipeline::work::park_with_retry;
use crate::telemetry::{Health, names};

/// Checkpoint stream of the binlog position.
pub const BINLOG_STREAM: &str = "binlog";
/// Checkpoint stream of the last committed snapshot chunk.
pub const SNAPSHOT_STREAM: &str = "snapshot";
/// Default events per batch (several ready transactions are applied together).
pub const DEFAULT_MAX_BATCH_EVENTS: usize = 4096;
/// While the stream only reports progress (heartbeats, uncaptured
/// transactions), the position is checkpointed at most this often.
pub const IDLE_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);
/// Items read ahead of the sinks (bounded: transactions are whole).
const READ_AHEAD: usize = 64;

/// The `detail` of the `binlog` checkpoint stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinlogCheckpoint {
    /// The position after the batch's last item.
    pub position: BinlogPosition,
    /// The position before the batch's first item: a restart resumes here.
    pub replay_from: BinlogPosition,
}

/// The `next_offset` of a binlog position: `file_seq << 40 | pos` (grows
/// with the position on one server).
pub fn position_order(p: &BinlogPosition) -> i64 {
    ((p.file_seq().min((1 << 23) - 1) << 40) | p.pos.min((1 << 40) - 1)) as i64
}

/// Why direct mode stopped.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    /// The source failed in a way it does not retry (settings, lost position, decode).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A sink failed fatally or gave up; nothing after the batch is applied.
    #[error("{0}")]
    Sink(String),
    /// A record may not be dead-lettered (`errors.tolerance = none` for it).
    #[error("{0}")]
    Tolerance(String),
    /// The stored checkpoint cannot be read.
    #[error("the stored direct-mode checkpoint of {owner} is invalid: {message}")]
    Checkpoint { owner: String, message: String },
}

impl DirectError {
    /// Direct-mode errors end the run: every variant is fatal for it (the
    /// source and sinks retry transient failures themselves).
    pub fn class(&self) -> sluice_sink_api::ErrorClass {
        match self {
            DirectError::Source(e) => e.class(),
            _ => sluice_sink_api::ErrorClass::Fatal,
        }
    }
}

/// The engine parts direct mode applies with.
#[derive(Debug)]
pub struct DirectContext {
    /// Every sink, started.
    pub sinks: Vec<Arc<dyn Sink>>,
    /// Index in `sinks` of the sink that stores the checkpoint.
    pub position_sink: usize,
    pub dlq: Arc<dyn DeadLetterStore>,
    pub policy: TolerancePolicy,
    pub backoff: Backoff,
    pub health: Health,
}

/// Tuning of a run.
#[derive(Debug, Clone)]
pub struct DirectSettings {
    /// Return once the snapshot is done and the stream reached the server's
    /// binlog position read at start.
    pub drain: bool,
    pub max_batch_events: usize,
}

impl Default for DirectSettings {
    fn default() -> Self {
        DirectSettings { drain: false, max_batch_events: DEFAULT_MAX_BATCH_EVENTS }
    }
}

/// Totals of a run.
#[derive(Debug, Default, Clone)]
pub struct DirectSummary {
    pub snapshot_rows: u64,
    pub transactions: u64,
    pub events: u64,
    pub batches: u64,
    pub applied: BTreeMap<String, u64>,
    pub stale: BTreeMap<String, u64>,
    pub dead_lettered: u64,
    /// The last position applied (and checkpointed).
    pub position: Option<BinlogPosition>,
    pub elapsed: Duration,
}

/// What the stored checkpoint says.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub epoch: i64,
    pub binlog: Option<BinlogCheckpoint>,
    pub chunk: Option<ChunkRecord>,
}

/// Parses a stored checkpoint of `owner`.
pub fn recovered(owner: &str, checkpoint: Option<Checkpoint>) -> Result<Recovered, DirectError> {
    let Some(cp) = checkpoint else { return Ok(Recovered::default()) };
    let bad = |message: String| DirectError::Checkpoint { owner: owner.to_string(), message };
    let mut out = Recovered { epoch: cp.epoch, ..Recovered::default() };
    for p in cp.positions {
        let Some(detail) = p.detail.as_deref() else { continue };
        match p.stream.as_str() {
            BINLOG_STREAM => out.binlog = Some(serde_json::from_str(detail).map_err(|e| bad(format!("binlog: {e}")))?),
            SNAPSHOT_STREAM => {
                out.chunk = Some(serde_json::from_str(detail).map_err(|e| bad(format!("snapshot: {e}")))?)
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Applies batches to the sinks and dead-letters rejections.
struct Applier<'a> {
    ctx: &'a DirectContext,
    owner: String,
    epoch: i64,
    serializer: DebeziumSerializer,
    topics: HashMap<TableId, Arc<str>>,
    summary: DirectSummary,
}

/// Where one event of a batch came from (for its dead letter).
struct LetterSource<'c> {
    change: &'c SourceChange,
    gtid: Option<&'c str>,
}

impl Applier<'_> {
    fn topic(&mut self, table: &TableId) -> Arc<str> {
        if let Some(t) = self.topics.get(table) {
            return t.clone();
        }
        let t: Arc<str> = Arc::from(self.serializer.table_topic(table).as_str());
        self.topics.insert(table.clone(), t.clone());
        t
    }

    fn event(&mut self, change: &SourceChange, partition: i32, offset: i64) -> ChangeEvent {
        let mut event = change.event.clone();
        event.origin = Origin { topic: self.topic(&event.table), partition, offset };
        event
    }

    fn checkpoint(&self, stream: &str, next_offset: i64, detail: String) -> Checkpoint {
        Checkpoint {
            owner: self.owner.clone(),
            epoch: self.epoch,
            positions: vec![CheckpointPosition {
                stream: stream.to_string(),
                partition: 0,
                next_offset,
                detail: Some(detail),
            }],
        }
    }

    /// Applies `batch` to every sink (the position sink writes its
    /// checkpoint), then dead-letters what was rejected.
    async fn apply(&mut self, batch: &ChangeBatch, sources: &[LetterSource<'_>]) -> Result<(), DirectError> {
        let ctx = self.ctx;
        metrics::histogram!(names::BATCH_SIZE).record(batch.events.len() as f64);
        let sinks: Vec<&Arc<dyn Sink>> =
            if batch.events.is_empty() { vec![&ctx.sinks[ctx.position_sink]] } else { ctx.sinks.iter().collect() };
        let results = join_all(sinks.into_iter().map(|sink| async move {
            let on_retry = |attempt: u32, e: &SinkError| {
                metrics::counter!(names::SINK_RETRIES, "sink" => sink.name().to_string()).increment(1);
                ctx.health.set_degraded(Some(format!("sink {} failing: {}", sink.name(), e.message)));
                tracing::warn!(sink = sink.name(), attempt, error = %e.full_message(), "sink failed transiently; retrying");
            };
            (sink, apply_batch(sink.as_ref(), batch, &ctx.backoff, &on_retry).await)
        }))
        .await;
        let mut letters: Vec<DeadLetter> = Vec::new();
        let mut fatal: Option<String> = None;
        for (sink, result) in results {
            let name = sink.name().to_string();
            let report = match result {
                Ok(r) => r,
                Err(e) => {
                    fatal.get_or_insert(e.to_string());
                    continue;
                }
            };
            metrics::counter!(names::EVENTS_APPLIED, "sink" => name.clone()).increment(report.applied);
            metrics::counter!(names::EVENTS_STALE, "sink" => name.clone()).increment(report.stale);
            *self.summary.applied.entry(name.clone()).or_default() += report.applied;
            *self.summary.stale.entry(name.clone()).or_default() += report.stale;
            for rejection in report.rejected {
                let (Some(event), Some(src)) = (batch.events.get(rejection.index), sources.get(rejection.index)) else {
                    tracing::error!(sink = %name, index = rejection.index, "sink rejected an event index outside the batch");
                    continue;
                };
                let table = event.table.qualified();
                metrics::counter!(names::EVENTS_REJECTED, "sink" => name.clone(), "table" => table.clone(), "class" => rejection.kind.as_str()).increment(1);
                tracing::warn!(sink = %name, table = %table, class = %rejection.kind, origin = %event.origin, reason = %rejection.message, "record rejected; dead-lettering");
                let snapshot = if src.change.snapshot { "true" } else { "false" };
                let record = self.serializer.change_records(src.change, src.gtid, snapshot, false).into_iter().next();
                letters.push(DeadLetter {
                    topic: event.origin.topic.to_string(),
                    partition: event.origin.partition,
                    offset: event.origin.offset,
                    consumer_group: self.owner.clone(),
                    sink: name.clone(),
                    table: Some(table),
                    class: rejection.kind,
                    message: rejection.message,
                    key: record.as_ref().and_then(|r| r.key.clone()),
                    value: record.as_ref().and_then(|r| r.value.clone()),
                    headers: Vec::new(),
                    schema_id: None,
                });
            }
        }
        if let Some(reason) = fatal {
            tracing::error!(error = %reason, "batch cannot be applied; stopping (the restart replays it)");
            return Err(DirectError::Sink(reason));
        }
        let (allowed, forbidden): (Vec<DeadLetter>, Vec<DeadLetter>) =
            letters.into_iter().partition(|l| ctx.policy.dead_letters(l.table.as_deref(), l.class));
        if !allowed.is_empty() {
            park_with_retry(ctx.dlq.as_ref(), &allowed, &ctx.backoff, &ctx.health, || {}).await;
            self.summary.dead_lettered += allowed.len() as u64;
        }
        ctx.health.set_degraded(None);
        if let Some(l) = forbidden.first() {
            return Err(DirectError::Tolerance(format!(
                "{} record {}/{}@{} ({}: {}) and errors.tolerance is none for it",
                l.class,
                l.topic,
                l.partition,
                l.offset,
                l.table.as_deref().unwrap_or("-"),
                l.message
            )));
        }
        self.summary.batches += 1;
        self.summary.events += batch.events.len() as u64;
        let now = chrono::Utc::now();
        for e in &batch.events {
            if let Some(ts) = e.source_ts {
                let secs = (now - ts).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
                metrics::histogram!(names::END_TO_END_LATENCY).record(secs);
            }
        }
        Ok(())
    }

    /// Applies one snapshot chunk with its [`ChunkRecord`] as checkpoint.
    async fn chunk(&mut self, chunk: &Chunk<'_>) -> Result<(), DirectError> {
        let rec = &chunk.record;
        let partition = -(rec.generation.clamp(1, i64::from(i32::MAX)) as i32);
        let events: Vec<ChangeEvent> = chunk
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| self.event(c, partition, (rec.rows_before + i as u64) as i64))
            .collect();
        let sources: Vec<LetterSource<'_>> =
            chunk.changes.iter().map(|c| LetterSource { change: c, gtid: None }).collect();
        let mut batch = ChangeBatch::from_events(events);
        let detail = serde_json::to_string(rec).expect("a chunk record serializes");
        batch.checkpoint = Some(self.checkpoint(SNAPSHOT_STREAM, rec.sequence(), detail));
        self.apply(&batch, &sources).await?;
        if !chunk.recovery {
            self.summary.snapshot_rows += chunk.changes.len() as u64;
        }
        Ok(())
    }

    /// Applies the transactions of `items` as one batch (one unit each) with
    /// the binlog checkpoint `replay_from → end`.
    async fn items(
        &mut self,
        items: &[SourceItem],
        replay_from: &BinlogPosition,
        end: &BinlogPosition,
    ) -> Result<(), DirectError> {
        let mut batch = ChangeBatch::default();
        let mut sources: Vec<LetterSource<'_>> = Vec::new();
        for item in items {
            let SourceItem::Transaction(tx) = item else { continue };
            let start = batch.events.len();
            for c in &tx.changes {
                let offset = ((c.pos.min((1 << 43) - 1) << 20) | u64::from(c.row.min((1 << 20) - 1))) as i64;
                let partition = file_seq(&c.file).min(i32::MAX as u64) as i32;
                batch.events.push(self.event(c, partition, offset));
                sources.push(LetterSource { change: c, gtid: tx.gtid.as_deref() });
            }
            if batch.events.len() > start {
                batch.units.push(start..batch.events.len());
            }
            self.summary.transactions += 1;
        }
        let detail = BinlogCheckpoint { position: end.clone(), replay_from: replay_from.clone() };
        let detail = serde_json::to_string(&detail).expect("a position serializes");
        batch.checkpoint = Some(self.checkpoint(BINLOG_STREAM, position_order(end), detail));
        self.apply(&batch, &sources).await?;
        self.summary.position = Some(end.clone());
        Ok(())
    }
}

struct SnapshotToSinks<'a, 'b>(&'a mut Applier<'b>);

impl Handler for SnapshotToSinks<'_, '_> {
    async fn chunk(&mut self, chunk: Chunk<'_>) -> sluice_source_mysql::Result<()> {
        self.0.chunk(&chunk).await.map_err(|e| match e {
            DirectError::Source(s) => s,
            other => SourceError::Downstream(SinkError::fatal(other.to_string())),
        })
    }
}

/// Reads the checkpoint of `owner` from the position sink, retrying
/// transient failures.
async fn load_checkpoint(ctx: &DirectContext, owner: &str) -> Result<Option<Checkpoint>, DirectError> {
    let sink = &ctx.sinks[ctx.position_sink];
    let mut attempt = 0;
    loop {
        match sink.load_checkpoint(owner).await {
            Ok(cp) => return Ok(cp),
            Err(e) if e.is_transient() && ctx.backoff.allows(attempt + 1) => {
                tracing::warn!(sink = sink.name(), error = %e.full_message(), "cannot read the checkpoint yet; retrying");
                tokio::time::sleep(ctx.backoff.delay(attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                return Err(DirectError::Sink(format!(
                    "sink {}: loading the checkpoint: {}",
                    sink.name(),
                    e.full_message()
                )));
            }
        }
    }
}

/// Runs direct mode until `shutdown` turns true, `settings.drain` is
/// satisfied, or a fatal error. See the module docs for the guarantees.
pub async fn run(
    mut config: MysqlSourceConfig,
    store: OffsetStore,
    ctx: &DirectContext,
    settings: &DirectSettings,
    mut shutdown: Shutdown,
) -> Result<DirectSummary, DirectError> {
    let started = Instant::now();
    let owner = config.name.clone();
    let resume = recovered(&owner, load_checkpoint(ctx, &owner).await?)?;
    if settings.drain {
        config.heartbeat_interval = config.heartbeat_interval.min(DRAIN_HEARTBEAT);
    }
    let target = if settings.drain { Some(runner::current(&config).await?) } else { None };
    let offset = match &resume.binlog {
        Some(b) => Some(b.replay_from.clone()),
        None => store.load().await?,
    };
    tracing::info!(source = %owner, epoch = resume.epoch + 1, resume_from = ?offset.as_ref().map(|p| p.to_string()), chunk = ?resume.chunk.as_ref().map(|c| format!("{}.{} ({} rows before)", c.database, c.table, c.rows_before)), "direct mode starting");
    let mut applier = Applier {
        ctx,
        owner: owner.clone(),
        epoch: resume.epoch + 1,
        serializer: DebeziumSerializer::new(&owner),
        topics: HashMap::new(),
        summary: DirectSummary::default(),
    };
    // The snapshot stops at SIGINT/SIGTERM too: an interrupted chunk rolls
    // back, and the next start resumes after the last committed one.
    let prepared = {
        let mut handler = SnapshotToSinks(&mut applier);
        let prepare =
            runner::prepare_from(&config, &store, offset, resume.chunk.clone(), &mut handler, runner::log_progress);
        tokio::select! {
            r = prepare => Some(r),
            () = stopped(&mut shutdown) => None,
        }
    };
    let Some(start) = prepared else {
        tracing::info!(source = %owner, "stopped during the snapshot; the next start resumes it");
        let mut summary = applier.summary;
        summary.elapsed = started.elapsed();
        return Ok(summary);
    };
    let start = start?;
    ctx.health.set_started();
    tracing::info!(source = %owner, %start, "streaming into the sinks");

    let mut stream = SourceStream::connect(config.clone(), start.clone()).await?;
    let (tx, mut rx) = mpsc::channel::<Result<SourceItem, SourceError>>(READ_AHEAD);
    let reader = tokio::spawn(async move {
        loop {
            let item = stream.next().await;
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let result = stream_loop(&mut applier, &store, &mut rx, settings, target, start, &mut shutdown).await;
    reader.abort();
    let mut summary = applier.summary;
    summary.elapsed = started.elapsed();
    result.map(|()| summary)
}

async fn stream_loop(
    applier: &mut Applier<'_>,
    store: &OffsetStore,
    rx: &mut mpsc::Receiver<Result<SourceItem, SourceError>>,
    settings: &DirectSettings,
    target: Option<BinlogPosition>,
    start: BinlogPosition,
    shutdown: &mut Shutdown,
) -> Result<(), DirectError> {
    let mut at = start;
    let mut checkpointed = at.clone();
    let mut last_checkpoint = Instant::now();
    loop {
        if let Some(t) = &target
            && runner::reached(&at, t)
        {
            tracing::info!(position = %at, target = %t, "caught up with the binlog position read at start; draining done");
            break;
        }
        let first = tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
                continue;
            }
            item = rx.recv() => match item {
                Some(item) => item?,
                None => return Err(DirectError::Sink("the binlog reader stopped".into())),
            },
        };
        let mut items = vec![first];
        let mut events = item_events(&items[0]);
        while events < settings.max_batch_events {
            match rx.try_recv() {
                Ok(item) => {
                    let item = item?;
                    events += item_events(&item);
                    items.push(item);
                }
                Err(_) => break,
            }
        }
        let end = items.last().expect("one item at least").end_position().clone();
        for item in &items {
            if let SourceItem::SchemaChange(change) = item {
                tracing::info!(database = %change.database, ddl = %change.ddl, "schema change");
                store.record_schema_change(change).await?;
            }
        }
        let due = target.as_ref().is_some_and(|t| runner::reached(&end, t))
            || last_checkpoint.elapsed() >= IDLE_CHECKPOINT_INTERVAL;
        if events > 0 || due {
            applier.items(&items, &at, &end).await?;
            checkpointed = end.clone();
            last_checkpoint = Instant::now();
        }
        at = end;
    }
    if checkpointed != at {
        applier.items(&[], &at, &at).await?;
    }
    Ok(())
}

/// Resolves once `shutdown` is true (never when its sender is gone).
async fn stopped(shutdown: &mut Shutdown) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn item_events(item: &SourceItem) -> usize {
    match item {
        SourceItem::Transaction(tx) => tx.changes.len(),
        _ => 0,
    }
}
