//! One binlog connection's event loop: events in, [`SourceItem`]s out.
//!
//! The reader keeps the current file (ROTATE), whether the checksum is known
//! (FORMAT_DESCRIPTION), the table layouts by table id (TABLE_MAP), the GTID
//! state, and the transaction being assembled. It yields a transaction only
//! when its XID/COMMIT arrives, so a connection lost mid-transaction loses
//! nothing: the caller reconnects from the last yielded position and the
//! server sends the whole transaction again.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use mysql_async::BinlogStream;
use mysql_async::binlog::events::{Event, EventData, GtidEvent, QueryEvent, RowsEventData, TableMapEvent};
use sluice_sink_api::{ChangeEvent, Op, Origin, Row, TableId, TxRef, Version};

use super::transaction::{SourceChange, SourceItem, SourceTransaction};
use crate::binlog::mariadb::{self, GtidEvent as MariadbGtidEvent};
use crate::binlog::rotate::{RawHeader, parse_rotate};
use crate::decode::{Charsets, RowsKind, TableLayout, decode_rows};
use crate::error::{Result, SourceError};
use crate::filter::Filters;
use crate::gtid::{GtidSet, MysqlGtid, MysqlGtidSet};
use crate::position::{BinlogPosition, file_seq};
use crate::schema::{DdlKind, SchemaChange, SchemaHistory, classify};

const XID_EVENT: u8 = 16;
const QUERY_EVENT: u8 = 2;
const ROTATE_EVENT: u8 = 4;
const FORMAT_DESCRIPTION_EVENT: u8 = 15;
const TABLE_MAP_EVENT: u8 = 19;
const HEARTBEAT_EVENT: u8 = 27;
const ROWS_QUERY_EVENT: u8 = 29;
const GTID_EVENT: u8 = 33;
const ANONYMOUS_GTID_EVENT: u8 = 34;
const GTID_TAGGED_LOG_EVENT: u8 = 42;

/// Settings the reader needs (shared across reconnects).
#[derive(Debug, Clone)]
pub struct ReaderContext {
    /// Logical server name (`Origin` topic of direct-mode events).
    pub name: Arc<str>,
    pub filters: Filters,
    pub charsets: Charsets,
    /// MariaDB JSON columns by table (LONGTEXT + json_valid check).
    pub json_columns: HashMap<TableId, Vec<String>>,
    pub flavor: crate::gtid::Flavor,
}

#[derive(Debug)]
struct OpenTx {
    gtid: Option<String>,
    /// MariaDB standalone group: the next statement is the whole group.
    standalone: bool,
    begin: BinlogPosition,
    changes: Vec<SourceChange>,
    counts: Vec<(TableId, u64)>,
    thread: Option<u32>,
    query: Option<Arc<str>>,
    pending_gtid: Option<PendingGtid>,
}

#[derive(Debug, Clone)]
enum PendingGtid {
    Mysql(MysqlGtid),
    Mariadb(crate::gtid::MariadbGtid),
}

/// See the module docs.
pub struct BinlogReader {
    stream: BinlogStream,
    ctx: Arc<ReaderContext>,
    file: Arc<str>,
    checksum_known: bool,
    layouts: HashMap<u64, (Vec<u8>, Option<Arc<TableLayout>>)>,
    gtid: Option<GtidSet>,
    tx: Option<OpenTx>,
    /// Position after the last complete group.
    position: BinlogPosition,
    history: Arc<parking_lot::Mutex<SchemaHistory>>,
}

impl std::fmt::Debug for BinlogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogReader").field("position", &self.position).finish_non_exhaustive()
    }
}

fn ts(secs: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(secs), 0).unwrap_or_default()
}

impl BinlogReader {
    /// Wraps a started dump. `start` is where it was asked to start (its GTID
    /// state is the GTIDs executed up to there).
    pub fn new(
        stream: BinlogStream,
        ctx: Arc<ReaderContext>,
        start: BinlogPosition,
        history: Arc<parking_lot::Mutex<SchemaHistory>>,
    ) -> Self {
        BinlogReader {
            stream,
            ctx,
            file: Arc::from(start.file.as_str()),
            checksum_known: false,
            layouts: HashMap::new(),
            gtid: start.gtid.clone(),
            tx: None,
            position: start,
            history,
        }
    }

    /// The position after the last complete group yielded.
    pub fn position(&self) -> &BinlogPosition {
        &self.position
    }

    fn here(&self, pos: u64) -> BinlogPosition {
        BinlogPosition::new(self.file.to_string(), pos).with_gtid(self.gtid.clone())
    }

    fn decode_err(&self, pos: u64, message: impl Into<String>) -> SourceError {
        SourceError::Decode { file: self.file.to_string(), pos, message: message.into() }
    }

    /// Reads events until one item is complete. `Ok(None)`: the server ended
    /// the stream.
    pub async fn next_item(&mut self) -> Result<Option<SourceItem>> {
        loop {
            let event = match self.stream.next().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(SourceError::from_mysql("reading the binlog", e)),
                Some(Ok(event)) => event,
            };
            if let Some(item) = self.handle(event)? {
                return Ok(Some(item));
            }
        }
    }

    fn handle(&mut self, event: Event) -> Result<Option<SourceItem>> {
        let header = event.header();
        let event_type = header.event_type_raw();
        let end = u64::from(header.log_pos());
        let start = end.saturating_sub(u64::from(header.event_size()));
        match event_type {
            ROTATE_EVENT => {
                let raw = RawHeader {
                    timestamp: header.timestamp(),
                    event_type,
                    server_id: header.server_id(),
                    event_size: header.event_size(),
                    log_pos: header.log_pos(),
                    flags: header.flags_raw(),
                };
                if let Some(rotate) = parse_rotate(&raw, event.data(), self.checksum_known) {
                    self.file = Arc::from(rotate.file.as_str());
                    if self.tx.is_none() && (rotate.file != self.position.file || !rotate.fake) {
                        self.position = self.here(rotate.position);
                    }
                }
                Ok(None)
            }
            FORMAT_DESCRIPTION_EVENT => {
                self.checksum_known = true;
                Ok(None)
            }
            HEARTBEAT_EVENT => {
                if self.tx.is_some() || end == 0 {
                    return Ok(None);
                }
                self.position = self.here(end.max(self.position.pos));
                Ok(Some(SourceItem::Progress { position: self.position.clone(), ts: None }))
            }
            mariadb::GTID_LIST_EVENT => {
                if self.gtid.is_none() {
                    let list =
                        mariadb::parse_gtid_list(event.data()).map_err(|e| self.decode_err(start, e.to_string()))?;
                    self.gtid = Some(GtidSet::Mariadb(list));
                }
                Ok(None)
            }
            mariadb::GTID_EVENT => {
                let g = MariadbGtidEvent::parse(event.data(), header.server_id())
                    .map_err(|e| self.decode_err(start, e.to_string()))?;
                self.open_tx(start, Some(g.gtid.to_string()), g.is_standalone(), Some(PendingGtid::Mariadb(g.gtid)));
                Ok(None)
            }
            GTID_EVENT | GTID_TAGGED_LOG_EVENT => {
                let g: GtidEvent = event.read_event().map_err(|e| self.decode_err(start, format!("GTID: {e}")))?;
                let gtid = MysqlGtid {
                    source_id: crate::gtid::mysql_format_uuid(&g.sid()),
                    tag: None,
                    transaction_id: g.gno(),
                };
                self.open_tx(start, Some(gtid.to_string()), false, Some(PendingGtid::Mysql(gtid)));
                Ok(None)
            }
            ANONYMOUS_GTID_EVENT => {
                self.open_tx(start, None, false, None);
                Ok(None)
            }
            mariadb::ANNOTATE_ROWS_EVENT | ROWS_QUERY_EVENT => {
                let text = if event_type == ROWS_QUERY_EVENT {
                    // 1 length byte (ignored, may be truncated) then the statement.
                    String::from_utf8_lossy(event.data().get(1..).unwrap_or_default()).into_owned()
                } else {
                    mariadb::parse_annotate_rows(event.data())
                };
                if let Some(tx) = self.tx.as_mut() {
                    tx.query = Some(Arc::from(text));
                }
                Ok(None)
            }
            QUERY_EVENT => self.on_query(&event, start, end),
            TABLE_MAP_EVENT => {
                let tme: TableMapEvent<'_> =
                    event.read_event().map_err(|e| self.decode_err(start, format!("TABLE_MAP: {e}")))?;
                let id = tme.table_id();
                if self.layouts.get(&id).is_some_and(|(raw, _)| raw.as_slice() == event.data()) {
                    return Ok(None);
                }
                let database = tme.database_name().into_owned();
                let table = tme.table_name().into_owned();
                let layout = if self.ctx.filters.table(&database, &table) {
                    let tid = TableId::new(Some(&database), None, &table);
                    let json = self.ctx.json_columns.get(&tid).map(Vec::as_slice).unwrap_or(&[]);
                    let layout = TableLayout::from_table_map(
                        &tme,
                        &self.ctx.charsets,
                        &self.ctx.filters,
                        json,
                        self.ctx.flavor == crate::gtid::Flavor::Mariadb,
                    )
                    .map_err(|e| self.decode_err(start, e.to_string()))?;
                    Some(Arc::new(layout))
                } else {
                    None
                };
                self.layouts.insert(id, (event.data().to_vec(), layout));
                Ok(None)
            }
            XID_EVENT => Ok(self.close_tx(end, header.timestamp())),
            mariadb::QUERY_COMPRESSED_EVENT..=mariadb::DELETE_ROWS_COMPRESSED_EVENT => Err(self.decode_err(
                start,
                format!("compressed event type {event_type}: set log_bin_compress=OFF on the server"),
            )),
            _ => match event.read_data() {
                Ok(Some(EventData::RowsEvent(rows))) => {
                    self.on_rows(&rows, start, header.timestamp(), header.server_id())?;
                    Ok(None)
                }
                Ok(_) => Ok(None),
                Err(e) => Err(self.decode_err(start, format!("event type {event_type}: {e}"))),
            },
        }
    }

    fn open_tx(&mut self, start: u64, gtid: Option<String>, standalone: bool, pending: Option<PendingGtid>) {
        self.tx = Some(OpenTx {
            gtid,
            standalone,
            begin: self.here(start),
            changes: Vec::new(),
            counts: Vec::new(),
            thread: None,
            query: None,
            pending_gtid: pending,
        });
    }

    fn apply_gtid(&mut self, pending: Option<PendingGtid>) {
        match (pending, &mut self.gtid) {
            (Some(PendingGtid::Mariadb(g)), Some(GtidSet::Mariadb(list))) => list.update(g),
            (Some(PendingGtid::Mariadb(g)), state @ None) => {
                *state = Some(GtidSet::Mariadb(std::iter::once(g).collect()));
            }
            (Some(PendingGtid::Mysql(g)), Some(GtidSet::Mysql(set))) => set.add(&g),
            (Some(PendingGtid::Mysql(g)), state @ None) => {
                let mut set = MysqlGtidSet::new();
                set.add(&g);
                *state = Some(GtidSet::Mysql(set));
            }
            _ => {}
        }
    }

    /// Ends the open group at `end`; yields the transaction, or progress when
    /// it captured nothing.
    fn close_tx(&mut self, end: u64, commit_secs: u32) -> Option<SourceItem> {
        let tx = self.tx.take()?;
        self.apply_gtid(tx.pending_gtid.clone());
        self.position = self.here(end);
        let commit_ts = ts(commit_secs);
        if tx.changes.is_empty() {
            return Some(SourceItem::Progress { position: self.position.clone(), ts: Some(commit_ts) });
        }
        let id = tx.gtid.clone().unwrap_or_else(|| format!("file={},pos={}", tx.begin.file, tx.begin.pos));
        let server_id = tx.changes.first().map(|c| c.server_id).unwrap_or(0);
        let mut changes = tx.changes;
        for change in &mut changes {
            if let Some(r) = change.event.tx.as_mut() {
                r.id.clone_from(&id);
            }
        }
        Some(SourceItem::Transaction(SourceTransaction {
            id,
            gtid: tx.gtid,
            changes,
            counts: tx.counts,
            commit_ts,
            begin_position: tx.begin,
            end_position: self.position.clone(),
            server_id,
        }))
    }

    fn on_query(&mut self, event: &Event, start: u64, end: u64) -> Result<Option<SourceItem>> {
        let q: QueryEvent<'_> = event.read_event().map_err(|e| self.decode_err(start, format!("QUERY: {e}")))?;
        let sql = q.query().into_owned();
        let thread = Some(q.thread_id());
        let trimmed = sql.trim();
        if trimmed.eq_ignore_ascii_case("BEGIN") || trimmed.eq_ignore_ascii_case("START TRANSACTION") {
            if self.tx.is_none() {
                self.open_tx(start, None, false, None);
            }
            if let Some(tx) = self.tx.as_mut() {
                tx.standalone = false;
                tx.thread = thread;
            }
            return Ok(None);
        }
        if trimmed.eq_ignore_ascii_case("COMMIT") {
            return Ok(self.close_tx(end, event.header().timestamp()));
        }
        if trimmed.eq_ignore_ascii_case("ROLLBACK") {
            // A group that rolled back (non-transactional engines): nothing captured.
            if let Some(tx) = self.tx.as_mut() {
                tx.changes.clear();
                tx.counts.clear();
            }
            return Ok(self.close_tx(end, event.header().timestamp()));
        }
        let Some(ddl) = classify(&sql) else {
            // Other statements (SAVEPOINT, XA, …) inside a group: nothing to capture.
            if self.tx.as_ref().is_some_and(|t| t.standalone) {
                return Ok(self.close_tx(end, event.header().timestamp()));
            }
            return Ok(None);
        };
        // DDL implicitly ends whatever group was open; it is its own group.
        let pending = self.tx.take();
        let gtid = pending.as_ref().and_then(|t| t.gtid.clone());
        self.apply_gtid(pending.and_then(|t| t.pending_gtid));
        self.position = self.here(end);
        let database = q.schema().into_owned();
        let tables: Vec<TableId> =
            ddl.tables.iter().map(|(db, t)| TableId::new(Some(db.as_deref().unwrap_or(&database)), None, t)).collect();
        let captured_db = ddl.database.as_deref().unwrap_or(&database);
        let relevant = if tables.is_empty() {
            captured_db.is_empty() || self.ctx.filters.database(captured_db)
        } else {
            tables.iter().any(|t| self.ctx.filters.table_id(t))
        };
        let header = event.header();
        if ddl.kind == DdlKind::TruncateTable && relevant {
            return Ok(Some(self.truncate(tables, start, header.timestamp(), header.server_id(), gtid, thread, sql)));
        }
        if !relevant {
            return Ok(Some(SourceItem::Progress {
                position: self.position.clone(),
                ts: Some(ts(header.timestamp())),
            }));
        }
        let change = SchemaChange {
            file: self.file.to_string(),
            pos: start,
            end_position: self.position.clone(),
            ts: ts(header.timestamp()),
            database,
            ddl: sql,
            kind: ddl.kind,
            tables,
            gtid,
            server_id: header.server_id(),
            thread,
        };
        self.history.lock().record_ddl(change.clone());
        Ok(Some(SourceItem::SchemaChange(change)))
    }

    #[allow(clippy::too_many_arguments)]
    fn truncate(
        &mut self,
        tables: Vec<TableId>,
        start: u64,
        secs: u32,
        server_id: u32,
        gtid: Option<String>,
        thread: Option<u32>,
        sql: String,
    ) -> SourceItem {
        let id = gtid.clone().unwrap_or_else(|| format!("file={},pos={}", self.file, start));
        let query: Arc<str> = Arc::from(sql);
        let mut changes = Vec::new();
        let mut counts = Vec::new();
        for (i, table) in tables.into_iter().filter(|t| self.ctx.filters.table_id(t)).enumerate() {
            let version = Version::mysql(file_seq(&self.file), start, i as u64);
            counts.push((table.clone(), 1));
            changes.push(SourceChange {
                event: ChangeEvent {
                    table,
                    op: Op::Truncate,
                    key: None,
                    before: None,
                    after: None,
                    version,
                    source_ts: Some(ts(secs)),
                    tx: Some(TxRef { id: id.clone(), total_order: i as u64 + 1, data_collection_order: 1 }),
                    origin: Origin::new(&self.ctx.name, 0, version.to_es_version().unwrap_or(-1)),
                    schema: None,
                },
                file: self.file.clone(),
                pos: start,
                row: 0,
                server_id,
                thread,
                query: Some(query.clone()),
                snapshot: false,
            });
        }
        SourceItem::Transaction(SourceTransaction {
            id,
            gtid,
            changes,
            counts,
            commit_ts: ts(secs),
            begin_position: self.here(start),
            end_position: self.position.clone(),
            server_id,
        })
    }

    fn on_rows(&mut self, rows: &RowsEventData<'_>, start: u64, secs: u32, server_id: u32) -> Result<()> {
        let Some((_, layout)) = self.layouts.get(&rows.table_id()) else {
            return Err(self.decode_err(start, format!("rows event for unknown table id {}", rows.table_id())));
        };
        let Some(layout) = layout.clone() else { return Ok(()) }; // not captured
        let (kind, images) =
            decode_rows(&layout, rows).map_err(|e| self.decode_err(start, format!("{}: {e}", layout.table)))?;
        if self.tx.is_none() {
            // Rows outside a group (should not happen with GTIDs/BEGIN): a group of its own.
            self.open_tx(start, None, false, None);
        }
        let seq = file_seq(&self.file);
        let file = self.file.clone();
        let name = self.ctx.name.clone();
        let first_version = Version::mysql(seq, start, 0);
        self.history.lock().observe(&layout.table, first_version, &layout.schema);
        let tx = self.tx.as_mut().expect("open group");
        let source_ts = Some(ts(secs));
        for (row_index, image) in images.into_iter().enumerate() {
            let version = Version::mysql(seq, start, row_index as u64);
            let key_of = |row: &Row| -> Option<Row> {
                if layout.primary_key.is_empty() {
                    return None;
                }
                let mut key = Row::with_capacity(layout.primary_key.len());
                for &i in &layout.primary_key {
                    let name = &layout.columns[i].name;
                    key.insert(name.to_string(), row.get(name).cloned().unwrap_or(sluice_sink_api::Value::Null));
                }
                Some(key)
            };
            let mut push = |op: Op, key: Option<Row>, before: Option<Row>, after: Option<Row>| {
                let table = layout.table.clone();
                let count = match tx.counts.iter_mut().find(|(t, _)| *t == table) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        tx.counts.push((table.clone(), 1));
                        1
                    }
                };
                let total = tx.changes.len() as u64 + 1;
                tx.changes.push(SourceChange {
                    event: ChangeEvent {
                        table,
                        op,
                        key,
                        before,
                        after,
                        version,
                        source_ts,
                        tx: Some(TxRef { id: String::new(), total_order: total, data_collection_order: count }),
                        origin: Origin::new(&name, 0, version.to_es_version().unwrap_or(-1)),
                        schema: Some(layout.schema.clone()),
                    },
                    file: file.clone(),
                    pos: start,
                    row: row_index as u32,
                    server_id,
                    thread: tx.thread,
                    query: tx.query.clone(),
                    snapshot: false,
                });
            };
            match kind {
                RowsKind::Write => {
                    let after = image.after;
                    let key = after.as_ref().and_then(key_of);
                    push(Op::Create, key, None, after);
                }
                RowsKind::Delete => {
                    let before = image.before;
                    let key = before.as_ref().and_then(key_of);
                    push(Op::Delete, key, before, None);
                }
                RowsKind::Update => {
                    let old_key = image.before.as_ref().and_then(key_of);
                    let new_key = image.after.as_ref().and_then(key_of);
                    if old_key != new_key {
                        // A key change is a delete of the old key and a create of
                        // the new one (as Debezium emits it), or keyed targets
                        // would keep the old row.
                        push(Op::Delete, old_key, image.before, None);
                        push(Op::Create, new_key, None, image.after);
                    } else {
                        push(Op::Update, new_key, image.before, image.after);
                    }
                }
            }
        }
        Ok(())
    }
}
