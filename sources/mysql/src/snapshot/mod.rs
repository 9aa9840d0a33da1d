//! Consistent initial snapshot, chunked by primary key, resumable per table.
//!
//! # How it is consistent
//!
//! * MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT` then
//!   `SHOW STATUS LIKE 'binlog_snapshot_%'` gives the binlog position that
//!   matches the transaction's read view exactly — no global lock.
//! * MySQL: `FLUSH TABLES WITH READ LOCK`, read the position and GTIDs,
//!   `START TRANSACTION WITH CONSISTENT SNAPSHOT`, `UNLOCK TABLES`.
//!
//! Every table is then read inside that one REPEATABLE READ transaction, in
//! chunks of `snapshot_chunk_size` rows by primary key (keyset pagination:
//! `WHERE (pk) > (last) ORDER BY pk LIMIT n`), and emitted as `op: r` events.
//!
//! # Versions
//!
//! Every row read at snapshot position S carries
//! [`BinlogPosition::snapshot_version`] = `(file_seq(S), pos(S), 0)`. Every
//! change committed before S has a rows event that starts before `pos(S)`
//! (so the snapshot row, which already includes it, wins); every change
//! committed after S has a rows event that starts after `pos(S)` (so it wins
//! over the snapshot row). Streaming then starts at S.
//!
//! # Resuming
//!
//! After each chunk is delivered (the handler returned), the table's last key
//! and row count are stored. A restarted snapshot opens a *new* consistent
//! transaction at S2 and continues each unfinished table after its last key;
//! those rows carry S2's version. Streaming still starts at the first epoch's
//! S1: changes between S1 and S2 are replayed, and for rows read at S2 they
//! are older than the snapshot row and therefore no-ops, while for rows read
//! at S1 they apply on top — the target converges either way.

pub mod columns;
pub mod key;
pub mod plan;

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value as MyValue};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sluice_sink_api::{ChangeEvent, Op, Origin, Row, TableId, Value, Version};
use tracing::{info, warn};

use self::key::{key_from_json, key_to_json};

use crate::config::MysqlSourceConfig;
use crate::decode::TableLayout;
use crate::error::{Result, SourceError};
use crate::gtid::{Flavor, GtidSet};
use crate::metrics;
use crate::position::BinlogPosition;
use crate::store::OffsetStore;
use crate::stream::connect::{self, ServerInfo};
use crate::stream::{SourceChange, mariadb_json_columns};

/// The delivery side of a snapshot: called with each chunk of `op: r`
/// changes; must return only once they are durable (Kafka acknowledged, sink
/// committed). The chunk's [`ChunkRecord`] says what it covers, so a handler
/// that commits data atomically with a checkpoint (direct mode) can store it
/// with the rows and hand it back to [`run_with`] after a crash.
pub trait Handler: Send {
    fn chunk(&mut self, chunk: Chunk<'_>) -> impl std::future::Future<Output = Result<()>> + Send;
}

/// One delivered chunk.
#[derive(Debug)]
pub struct Chunk<'a> {
    pub table: &'a TableLayout,
    pub changes: Vec<SourceChange>,
    pub record: ChunkRecord,
    /// The final chunk of the whole snapshot.
    pub last: bool,
    /// A re-delivery of the chunk a crashed run committed last (see [`run_with`]):
    /// its rows carry the version they were first delivered with.
    pub recovery: bool,
}

/// What one chunk covers: the keys `(start_key, end_key]` of one table, read
/// at `read_at` (the version of its rows). Serializable, to be stored with
/// the chunk's rows as a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRecord {
    /// Which snapshot (increments with every fresh snapshot of this source).
    pub generation: i64,
    pub database: String,
    pub table: String,
    /// The last key before the chunk (`None`: the table's start).
    pub start_key: Option<Json>,
    /// The last key of the chunk (`None`: a table without primary key, read whole).
    pub end_key: Option<Json>,
    /// Rows in the chunk.
    pub rows: u64,
    /// Rows the snapshot delivered before this chunk (all tables).
    pub rows_before: u64,
    /// The table is complete with this chunk.
    pub done: bool,
    /// The consistent-snapshot position the rows were read at.
    pub read_at: BinlogPosition,
}

impl ChunkRecord {
    /// A number that grows with every chunk of every snapshot of a source:
    /// `generation << 40 | rows delivered up to and including this chunk`.
    pub fn sequence(&self) -> i64 {
        (self.generation << 40) | ((self.rows_before + self.rows) as i64 & ((1 << 40) - 1))
    }
}

/// Progress of a running snapshot, reported after every chunk.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The table the chunk belonged to.
    pub table: TableId,
    /// Rows of that table delivered so far (this run).
    pub rows_read: u64,
    /// Tables this run has to read.
    pub tables_total: usize,
    /// Tables not finished yet.
    pub tables_remaining: usize,
}

/// What a finished snapshot hands back.
#[derive(Debug, Clone)]
pub struct SnapshotOutcome {
    /// Where streaming must start: the first snapshot epoch's position.
    pub stream_from: BinlogPosition,
    /// Rows delivered by this run.
    pub rows: u64,
    /// Tables read by this run.
    pub tables: usize,
}

/// Opens a consistent-snapshot transaction on `conn`; returns its position.
pub async fn begin_consistent(conn: &mut Conn, info: &ServerInfo) -> Result<BinlogPosition> {
    let q = |c: &'static str| move |e| SourceError::from_mysql(c, e);
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ").await.map_err(q("isolation level"))?;
    conn.query_drop("SET time_zone = '+00:00', character_set_results = utf8mb4")
        .await
        .map_err(q("session settings"))?;
    match info.flavor {
        Flavor::Mariadb => {
            conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                .await
                .map_err(q("consistent snapshot"))?;
            let rows: Vec<(String, String)> =
                conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'").await.map_err(q("binlog_snapshot status"))?;
            let get = |n: &str| rows.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
            let file = get("binlog_snapshot_file").unwrap_or_default();
            let pos: u64 = get("binlog_snapshot_position").and_then(|p| p.parse().ok()).unwrap_or(4);
            let gtid = connect::mariadb_gtid_at(conn, &file, pos).await?.map(GtidSet::Mariadb);
            Ok(BinlogPosition::new(file, pos).with_gtid(gtid))
        }
        Flavor::Mysql => {
            conn.query_drop("FLUSH TABLES WITH READ LOCK").await.map_err(q("FLUSH TABLES WITH READ LOCK"))?;
            let position = connect::current_position(conn, info).await;
            let started = conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY").await;
            conn.query_drop("UNLOCK TABLES").await.map_err(q("UNLOCK TABLES"))?;
            started.map_err(q("consistent snapshot"))?;
            position
        }
    }
}

/// The captured base tables, sorted.
pub async fn captured_tables(conn: &mut Conn, config: &MysqlSourceConfig) -> Result<Vec<(String, String)>> {
    let filters = config.filters().map_err(SourceError::Config)?;
    let rows: Vec<(String, String)> = conn
        .query("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY 1, 2")
        .await
        .map_err(|e| SourceError::from_mysql("listing tables", e))?;
    Ok(rows.into_iter().filter(|(d, t)| filters.table(d, t)).collect())
}

fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// Runs (or resumes, with `store`) the snapshot, handing chunks to `handler`
/// and reporting progress to `on_progress`.
pub async fn run<H: Handler>(
    config: &MysqlSourceConfig,
    store: Option<&OffsetStore>,
    handler: &mut H,
    on_progress: impl FnMut(&Progress) + Send,
) -> Result<SnapshotOutcome> {
    run_with(config, store, None, handler, on_progress).await
}

/// Everything needed to turn rows of one table into `op: r` changes.
struct TableReader<'a> {
    layout: &'a TableLayout,
    tid: TableId,
    name: &'a str,
    file: Arc<str>,
    server_id: u32,
}

impl TableReader<'_> {
    fn sql(&self, lower: bool, upper: bool, limit: Option<u64>) -> String {
        let layout = self.layout;
        let db = self.tid.database.as_deref().unwrap_or_default();
        let select_list = layout.columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
        if layout.primary_key.is_empty() {
            return format!("SELECT {select_list} FROM {}.{}", quote(db), quote(&self.tid.table));
        }
        let pk_list = layout.primary_key.iter().map(|&i| quote(&layout.columns[i].name)).collect::<Vec<_>>().join(", ");
        let placeholders = vec!["?"; layout.primary_key.len()].join(", ");
        let mut conditions = Vec::new();
        if lower {
            conditions.push(format!("({pk_list}) > ({placeholders})"));
        }
        if upper {
            conditions.push(format!("({pk_list}) <= ({placeholders})"));
        }
        let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
        let limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        format!("SELECT {select_list} FROM {}.{}{filter} ORDER BY {pk_list}{limit}", quote(db), quote(&self.tid.table))
    }

    /// Reads the rows with key in `(lower, upper]` (at most `limit`); returns
    /// the changes and the last key read.
    async fn read(
        &self,
        conn: &mut Conn,
        lower: Option<&[MyValue]>,
        upper: Option<&[MyValue]>,
        limit: Option<u64>,
        read_at: &BinlogPosition,
    ) -> Result<(Vec<SourceChange>, Option<Vec<MyValue>>)> {
        let layout = self.layout;
        let sql = self.sql(lower.is_some(), upper.is_some(), limit);
        let mut params: Vec<MyValue> = Vec::new();
        params.extend(lower.unwrap_or_default().iter().cloned());
        params.extend(upper.unwrap_or_default().iter().cloned());
        let result: Vec<mysql_async::Row> =
            conn.exec(sql, params).await.map_err(|e| SourceError::from_mysql("reading a snapshot chunk", e))?;
        let version: Version = read_at.snapshot_version();
        let mut changes = Vec::with_capacity(result.len());
        let mut last_key: Option<Vec<MyValue>> = None;
        for row in result {
            let values = row.unwrap();
            if !layout.primary_key.is_empty() {
                last_key = Some(layout.primary_key.iter().map(|&i| values[i].clone()).collect());
            }
            let mut after = Row::with_capacity(layout.columns.len());
            for (col, v) in layout.columns.iter().zip(values) {
                if col.included {
                    let value = columns::convert(col, v).map_err(|m| SourceError::Decode {
                        file: format!("snapshot {}", self.tid),
                        pos: 0,
                        message: m,
                    })?;
                    after.insert(col.name.to_string(), value);
                }
            }
            let key = (!layout.primary_key.is_empty()).then(|| {
                layout
                    .primary_key
                    .iter()
                    .map(|&i| {
                        let n = layout.columns[i].name.to_string();
                        let v = after.get(&n).cloned().unwrap_or(Value::Null);
                        (n, v)
                    })
                    .collect::<Row>()
            });
            changes.push(SourceChange {
                event: ChangeEvent {
                    table: self.tid.clone(),
                    op: Op::Read,
                    key,
                    before: None,
                    after: Some(after),
                    version,
                    source_ts: None,
                    tx: None,
                    origin: Origin::new(self.name, 0, version.to_es_version().unwrap_or(-1)),
                    schema: Some(layout.schema.clone()),
                },
                file: self.file.clone(),
                pos: read_at.pos,
                row: 0,
                server_id: self.server_id,
                thread: None,
                query: None,
                snapshot: true,
            });
        }
        Ok((changes, last_key))
    }
}

/// [`run`], resuming after a crash of a handler that stores each chunk's
/// [`ChunkRecord`] atomically with its rows (direct mode).
///
/// `recovered` is the record of the chunk such a handler committed last. The
/// store's progress is written only after the handler returned, so after a
/// crash it may lag that chunk by one: then the chunk is delivered again
/// (`recovery = true`) with the rows of `(start_key, end_key]` carrying their
/// first version (`read_at`) — the sink finds them stale (no second write)
/// and reports its rejections again, so nothing the handler dead-letters after
/// its commit can be lost — and the store is brought up to date. A record of
/// another snapshot generation, or one the store already holds, is ignored.
pub async fn run_with<H: Handler>(
    config: &MysqlSourceConfig,
    store: Option<&OffsetStore>,
    recovered: Option<ChunkRecord>,
    handler: &mut H,
    mut on_progress: impl FnMut(&Progress) + Send,
) -> Result<SnapshotOutcome> {
    let filters = config.filters().map_err(SourceError::Config)?;
    let mut conn = connect::open(config).await?;
    let info = connect::server_info(&mut conn).await?;
    let json = match info.flavor {
        Flavor::Mariadb => mariadb_json_columns(&mut conn).await?,
        Flavor::Mysql => HashMap::new(),
    };
    let previous = match store {
        Some(s) => s.snapshot_state().await?.filter(|st| !st.completed),
        None => None,
    };
    let position = begin_consistent(&mut conn, &info).await?;
    let name = config.name.clone();
    // (database, table, last key, rows read, done)
    type Work = (String, String, Option<Json>, u64, bool);
    let (first, generation, mut work): (BinlogPosition, i64, Vec<Work>) = match previous {
        Some(state) => {
            info!(source = %config.name, first = %state.first_position, epoch = %position, "resuming snapshot");
            let work = state
                .tables
                .into_iter()
                .map(|t| (t.database, t.table, t.last_key, t.rows.max(0) as u64, t.done))
                .collect();
            (state.first_position, state.generation, work)
        }
        None => {
            let tables = captured_tables(&mut conn, config).await?;
            let generation = match store {
                Some(s) => s.begin_snapshot(&position, &tables).await?,
                None => 1,
            };
            (position.clone(), generation, tables.into_iter().map(|(d, t)| (d, t, None, 0, false)).collect())
        }
    };

    if let Some(rec) = recovered.filter(|r| r.generation == generation)
        && let Some(entry) = work.iter_mut().find(|w| w.0 == rec.database && w.1 == rec.table)
        && !(entry.4 || (entry.2.is_some() && entry.2 == rec.end_key))
    {
        let tid = TableId::new(Some(&rec.database), None, &rec.table);
        let jcols = json.get(&tid).map(Vec::as_slice).unwrap_or(&[]);
        let layout = columns::table_layout(&mut conn, &rec.database, &rec.table, &filters, jcols).await?;
        let reader = TableReader {
            layout: &layout,
            tid,
            name: &name,
            file: Arc::from(rec.read_at.file.as_str()),
            server_id: info.server_id,
        };
        let lower = rec.start_key.as_ref().and_then(|k| key_from_json(&layout, k));
        let upper = rec.end_key.as_ref().and_then(|k| key_from_json(&layout, k));
        if layout.primary_key.is_empty() || upper.is_some() {
            warn!(source = %name, table = %reader.tid, "re-delivering the snapshot chunk committed before the last stop");
            let (changes, _) = reader.read(&mut conn, lower.as_deref(), upper.as_deref(), None, &rec.read_at).await?;
            handler.chunk(Chunk { table: &layout, changes, record: rec.clone(), last: false, recovery: true }).await?;
        }
        if let Some(s) = store {
            s.save_chunk(&rec.database, &rec.table, rec.end_key.as_ref(), rec.rows as i64, rec.done).await?;
        }
        entry.2 = rec.end_key.clone().or(entry.2.take());
        entry.3 += rec.rows;
        entry.4 = rec.done;
    }

    let mut rows_before: u64 = work.iter().map(|w| w.3).sum();
    work.retain(|w| !w.4);
    let total = work.len();
    ::metrics::gauge!(metrics::SNAPSHOT_RUNNING, "source" => name.clone()).set(1.0);
    ::metrics::gauge!(metrics::SNAPSHOT_TABLES_REMAINING, "source" => name.clone()).set(total as f64);
    let file: Arc<str> = Arc::from(position.file.as_str());
    let mut rows_total = 0u64;
    let chunk = config.snapshot_chunk_size;
    for (index, (db, table, last_key, _, _)) in work.iter().enumerate() {
        let tid = TableId::new(Some(db), None, table);
        let jcols = json.get(&tid).map(Vec::as_slice).unwrap_or(&[]);
        let layout = Arc::new(columns::table_layout(&mut conn, db, table, &filters, jcols).await?);
        let reader = TableReader {
            layout: &layout,
            tid: tid.clone(),
            name: &name,
            file: file.clone(),
            server_id: info.server_id,
        };
        let mut last_json: Option<Json> = last_key.clone();
        let mut last: Option<Vec<MyValue>> = last_key.as_ref().and_then(|k| key_from_json(&layout, k));
        let mut rows_table = 0u64;
        loop {
            let limit = (!layout.primary_key.is_empty()).then_some(chunk);
            let (changes, key_values) = reader.read(&mut conn, last.as_deref(), None, limit, &position).await?;
            let n = changes.len() as u64;
            let table_done = layout.primary_key.is_empty() || n < chunk;
            let last_of_all = table_done && index + 1 == total;
            let end_json = key_values.as_ref().map(|k| key_to_json(k)).or_else(|| last_json.clone());
            let record = ChunkRecord {
                generation,
                database: db.clone(),
                table: table.clone(),
                start_key: last_json.clone(),
                end_key: if layout.primary_key.is_empty() { None } else { end_json.clone() },
                rows: n,
                rows_before,
                done: table_done,
                read_at: position.clone(),
            };
            handler.chunk(Chunk { table: &layout, changes, record, last: last_of_all, recovery: false }).await?;
            rows_table += n;
            rows_total += n;
            rows_before += n;
            ::metrics::counter!(metrics::SNAPSHOT_ROWS, "source" => name.clone(), "table" => tid.qualified())
                .increment(n);
            if let Some(k) = key_values {
                last = Some(k);
                last_json = end_json;
            }
            if let Some(s) = store {
                let key = if layout.primary_key.is_empty() { None } else { last_json.as_ref() };
                s.save_chunk(db, table, key, n as i64, table_done).await?;
            }
            on_progress(&Progress {
                table: tid.clone(),
                rows_read: rows_table,
                tables_total: total,
                tables_remaining: total - index - usize::from(table_done),
            });
            if table_done {
                break;
            }
        }
        ::metrics::gauge!(metrics::SNAPSHOT_TABLES_REMAINING, "source" => name.clone()).set((total - index - 1) as f64);
    }
    let _ = conn.query_drop("COMMIT").await;
    if let Some(s) = store {
        s.complete_snapshot().await?;
        s.save(&first).await?;
    }
    ::metrics::gauge!(metrics::SNAPSHOT_RUNNING, "source" => name).set(0.0);
    Ok(SnapshotOutcome { stream_from: first, rows: rows_total, tables: total })
}
