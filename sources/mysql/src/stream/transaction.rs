//! What the stream yields: whole source transactions with their resume
//! position, schema changes, and progress marks.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sluice_sink_api::{ChangeEvent, TableId};

use crate::position::BinlogPosition;
use crate::schema::SchemaChange;

/// One row change with the binlog coordinates Debezium's `source` block shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceChange {
    pub event: ChangeEvent,
    /// Binlog file of the rows event.
    pub file: Arc<str>,
    /// Start offset of the rows event.
    pub pos: u64,
    /// Index of the row inside the rows event.
    pub row: u32,
    /// The originating server's id (event header).
    pub server_id: u32,
    /// The session thread id when the server logged it.
    pub thread: Option<u32>,
    /// The statement, when the server logs it (MariaDB annotate events,
    /// MySQL `binlog_rows_query_log_events`).
    pub query: Option<Arc<str>>,
    /// True for snapshot reads (`op: r`).
    pub snapshot: bool,
}

/// A whole source transaction, in binlog order.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceTransaction {
    /// GTID (`domain-server-seq` / `uuid:n`) or `file=<f>,pos=<p>` of its first event.
    pub id: String,
    pub gtid: Option<String>,
    pub changes: Vec<SourceChange>,
    /// Per table, the number of events, in order of first appearance.
    pub counts: Vec<(TableId, u64)>,
    /// Commit time (header timestamp of the XID/COMMIT event).
    pub commit_ts: DateTime<Utc>,
    /// Where the transaction's first event starts.
    pub begin_position: BinlogPosition,
    /// Resume point right after the commit: checkpoint this once every change
    /// is durable.
    pub end_position: BinlogPosition,
    pub server_id: u32,
}

impl SourceTransaction {
    /// The change events alone (for sinks).
    pub fn events(&self) -> impl Iterator<Item = &ChangeEvent> {
        self.changes.iter().map(|c| &c.event)
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// One item of the source stream.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceItem {
    /// A committed transaction with at least one captured change.
    Transaction(SourceTransaction),
    /// A DDL statement (already applied to the schema history).
    SchemaChange(SchemaChange),
    /// The stream moved to `position` without captured changes (a heartbeat,
    /// or transactions on tables that are not captured). Safe to checkpoint.
    Progress { position: BinlogPosition, ts: Option<DateTime<Utc>> },
}

impl SourceItem {
    /// The position to resume from after this item.
    pub fn end_position(&self) -> &BinlogPosition {
        match self {
            SourceItem::Transaction(tx) => &tx.end_position,
            SourceItem::SchemaChange(c) => &c.end_position,
            SourceItem::Progress { position, .. } => position,
        }
    }
}
