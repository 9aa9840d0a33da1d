//! The source's main decisions and the Kafka-mode main loop.
//!
//! [`prepare_from`] decides (snapshot or stream, per `snapshot_mode` and the
//! stored state), runs or resumes the snapshot through a
//! [`snapshot::Handler`], and returns the position to stream from. Kafka mode
//! ([`run_kafka`]) and the engine's direct mode both start with it.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use tracing::info;

use crate::config::MysqlSourceConfig;
use crate::error::{Result, SourceError};
use crate::kafka::KafkaOutput;
use crate::position::BinlogPosition;
use crate::snapshot::plan::{StartPlan, Stored, plan};
use crate::snapshot::{self, Chunk, ChunkRecord, Handler, Progress};
use crate::store::OffsetStore;
use crate::stream::{SourceStream, connect};

/// A stop signal for [`run_kafka`] (a `watch` channel: send `true` to stop).
pub type Shutdown = tokio::sync::watch::Receiver<bool>;

/// The heartbeat period used while draining (`--drain`): an idle stream
/// reports its position this often, so reaching the target is noticed fast.
pub const DRAIN_HEARTBEAT: Duration = Duration::from_secs(1);

struct KafkaSnapshot<'a>(&'a mut KafkaOutput);

impl Handler for KafkaSnapshot<'_> {
    async fn chunk(&mut self, chunk: Chunk<'_>) -> Result<()> {
        self.0.deliver_snapshot(&chunk.changes, chunk.last).await
    }
}

/// Whether `file` is still among the server's binlogs.
pub async fn binlog_available(config: &MysqlSourceConfig, file: &str) -> Result<bool> {
    let mut conn = connect::open(config).await?;
    let rows: Vec<mysql_async::Row> =
        conn.query("SHOW BINARY LOGS").await.map_err(|e| SourceError::from_mysql("SHOW BINARY LOGS", e))?;
    Ok(rows.iter().any(|r| r.get::<String, _>(0).as_deref() == Some(file)))
}

/// Logs snapshot progress (the default `on_progress`).
pub fn log_progress(p: &Progress) {
    info!(table = %p.table, rows = p.rows_read, remaining = p.tables_remaining, "snapshot progress");
}

/// Decides where streaming starts from the store's own position, running the
/// snapshot if the mode says so (Kafka mode).
pub async fn prepare<H: Handler>(
    config: &MysqlSourceConfig,
    store: &OffsetStore,
    handler: &mut H,
) -> Result<BinlogPosition> {
    let offset = store.load().await?;
    prepare_from(config, store, offset, None, handler, log_progress).await
}

/// Decides where streaming starts, running or resuming the snapshot if the
/// mode says so.
///
/// * `offset`: the position after the last durable item (direct mode: the
///   checkpoint stored with the data, or the store's position when later).
/// * `recovered`: the last snapshot chunk committed with the data, if any
///   (see [`snapshot::run_with`]).
pub async fn prepare_from<H: Handler>(
    config: &MysqlSourceConfig,
    store: &OffsetStore,
    offset: Option<BinlogPosition>,
    recovered: Option<ChunkRecord>,
    handler: &mut H,
    on_progress: impl FnMut(&Progress) + Send,
) -> Result<BinlogPosition> {
    let stored = Stored { offset, snapshot: store.snapshot_state().await?.map(|s| (s.first_position, s.completed)) };
    let available = match &stored.offset {
        Some(o) if !o.file.is_empty() => binlog_available(config, &o.file).await?,
        _ => true,
    };
    match plan(config.snapshot_mode, &stored, available).map_err(SourceError::PositionLost)? {
        StartPlan::Stream(Some(position)) => Ok(position),
        StartPlan::Stream(None) => match &config.start {
            Some(start) => {
                let mut conn = connect::open(config).await?;
                let info = connect::server_info(&mut conn).await?;
                let gtid = start
                    .gtid
                    .as_deref()
                    .map(|g| crate::gtid::GtidSet::parse(info.flavor, g))
                    .transpose()
                    .map_err(|e| SourceError::Config(format!("start.gtid: {e}")))?;
                Ok(BinlogPosition { file: start.file.clone().unwrap_or_default(), pos: start.pos.unwrap_or(4), gtid })
            }
            None => current(config).await,
        },
        StartPlan::SchemaOnly => {
            let position = current(config).await?;
            store.save(&position).await?;
            Ok(position)
        }
        StartPlan::Snapshot { .. } => {
            let outcome = snapshot::run_with(config, Some(store), recovered, handler, on_progress).await?;
            Ok(outcome.stream_from)
        }
    }
}

/// The server's current binlog position (with its GTIDs).
pub async fn current(config: &MysqlSourceConfig) -> Result<BinlogPosition> {
    let mut conn = connect::open(config).await?;
    let info = connect::server_info(&mut conn).await?;
    connect::current_position(&mut conn, &info).await
}

/// Whether a stream at `position` has caught up with `target` (a position
/// read from the server earlier): same or later on one server's binlog.
pub fn reached(position: &BinlogPosition, target: &BinlogPosition) -> bool {
    position.order_key() >= target.order_key()
}

/// Runs the Kafka output mode until `shutdown` turns true (then flushes and
/// stores the acknowledged position) or a fatal error. With `drain`, returns
/// once the snapshot is done and the stream reached the server's binlog
/// position read at start (everything acknowledged and stored).
pub async fn run_kafka(mut config: MysqlSourceConfig, mut shutdown: Shutdown, drain: bool) -> Result<()> {
    let store_config =
        config.store.clone().ok_or_else(|| SourceError::Config("store: required in Kafka mode".into()))?;
    let store = OffsetStore::connect(&store_config, &config.name).await?;
    if drain {
        config.heartbeat_interval = config.heartbeat_interval.min(DRAIN_HEARTBEAT);
    }
    let target = if drain { Some(current(&config).await?) } else { None };
    let mut output = KafkaOutput::new(&config, store.clone())?;
    let start = prepare(&config, &store, &mut KafkaSnapshot(&mut output)).await?;
    info!(source = %config.name, %start, "streaming to Kafka");
    let mut at = start.clone();
    let mut stream = SourceStream::connect(config, start).await?;
    loop {
        if let Some(t) = &target
            && reached(&at, t)
        {
            info!(position = %at, target = %t, "caught up with the binlog position read at start; draining done");
            break;
        }
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            item = stream.next() => {
                let item = item?;
                output.deliver(&item).await?;
                at = item.end_position().clone();
            }
        }
    }
    output.close().await
}
