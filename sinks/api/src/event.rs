//! Change events and batches: what the engine hands to sinks.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::row::Row;
use crate::schema::TableSchema;
use crate::version::Version;

/// The source table (or collection) a change belongs to.
///
/// `database` is the MySQL database / PostgreSQL database / MongoDB database;
/// `schema` the PostgreSQL/SQL Server schema when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableId {
    pub database: Option<String>,
    pub schema: Option<String>,
    pub table: String,
}

impl TableId {
    pub fn new(database: Option<&str>, schema: Option<&str>, table: &str) -> Self {
        TableId { database: database.map(str::to_string), schema: schema.map(str::to_string), table: table.to_string() }
    }

    /// `db.table` (MySQL, MongoDB) or `db.schema.table` (PostgreSQL), the
    /// data-collection name Debezium uses in transaction metadata is
    /// [`TableId::data_collection`].
    pub fn qualified(&self) -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(3);
        if let Some(db) = &self.database {
            parts.push(db);
        }
        if let Some(schema) = &self.schema {
            parts.push(schema);
        }
        parts.push(&self.table);
        parts.join(".")
    }

    /// The name Debezium writes in a transaction END's `data_collections`:
    /// `schema.table` when a schema is known (PostgreSQL, SQL Server),
    /// otherwise `database.table` (MySQL, MongoDB).
    pub fn data_collection(&self) -> String {
        match (&self.schema, &self.database) {
            (Some(schema), _) => format!("{schema}.{}", self.table),
            (None, Some(db)) => format!("{db}.{}", self.table),
            (None, None) => self.table.clone(),
        }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.qualified())
    }
}

/// The kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// `c`: insert.
    Create,
    /// `u`: update.
    Update,
    /// `d`: delete (also what a Kafka tombstone means).
    Delete,
    /// `r`: a snapshot read; applied like an insert-or-update.
    Read,
    /// `t`: the whole table was truncated.
    Truncate,
}

impl Op {
    pub fn code(self) -> char {
        match self {
            Op::Create => 'c',
            Op::Update => 'u',
            Op::Delete => 'd',
            Op::Read => 'r',
            Op::Truncate => 't',
        }
    }

    pub fn from_code(code: &str) -> Option<Op> {
        Some(match code {
            "c" => Op::Create,
            "u" => Op::Update,
            "d" => Op::Delete,
            "r" => Op::Read,
            "t" => Op::Truncate,
            _ => return None,
        })
    }

    /// True for changes that leave a row in place (create, update, read).
    pub fn is_upsert(self) -> bool {
        matches!(self, Op::Create | Op::Update | Op::Read)
    }
}

/// The source transaction a change belongs to (Debezium `transaction` block).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxRef {
    pub id: String,
    /// 1-based position of the event in the whole transaction.
    pub total_order: u64,
    /// 1-based position of the event among the transaction's events of its table.
    pub data_collection_order: u64,
}

/// Where an event came from: the Kafka record (or, in direct mode, the
/// source stream and a sequence number standing in for the offset).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
}

impl Origin {
    pub fn new(topic: &str, partition: i32, offset: i64) -> Self {
        Origin { topic: Arc::from(topic), partition, offset }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

/// One row change, decoded and normalized. The unit every sink applies.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub table: TableId,
    pub op: Op,
    /// Primary-key columns (from the record key, or configured key columns).
    /// `None` only for truncates and tables without a key.
    pub key: Option<Row>,
    pub before: Option<Row>,
    pub after: Option<Row>,
    pub version: Version,
    /// When the source committed the change (`source.ts_ms`, or finer).
    pub source_ts: Option<DateTime<Utc>>,
    pub tx: Option<TxRef>,
    pub origin: Origin,
    /// Column types, when the record carried a schema.
    pub schema: Option<Arc<TableSchema>>,
}

impl ChangeEvent {
    /// The row image that identifies what the change leaves behind: `after`
    /// for upserts, `before` for deletes.
    pub fn image(&self) -> Option<&Row> {
        match self.op {
            Op::Delete => self.before.as_ref().or(self.key.as_ref()),
            _ => self.after.as_ref(),
        }
    }

    /// A stable identity of the changed key inside its table (for compaction
    /// and in-memory state). `None` when the event has no key.
    pub fn key_identity(&self) -> Option<String> {
        self.key.as_ref().map(Row::identity)
    }
}

/// A consumed position written atomically with a batch by sinks that support
/// it (exactly-once mode, direct mode). Sinks that do not, ignore it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Who owns the positions: the consumer group, or the source name.
    pub owner: String,
    /// Fencing token: a writer whose epoch is older than the stored one must
    /// not commit (a zombie after a rebalance).
    pub epoch: i64,
    pub positions: Vec<CheckpointPosition>,
}

/// The next position to read for one stream (topic partition or binlog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPosition {
    pub stream: String,
    pub partition: i32,
    /// The next Kafka offset to consume (last applied + 1).
    pub next_offset: i64,
    /// Source-specific position detail (JSON), e.g. binlog file/pos/GTID set.
    pub detail: Option<String>,
}

/// A batch handed to a sink: whole source transactions, in source order.
///
/// `units` partitions `events` into consecutive ranges, one per source
/// transaction (or single event when there is no transaction metadata). A sink
/// that applies atomically never splits a unit across two of its own
/// transactions.
#[derive(Debug, Clone, Default)]
pub struct ChangeBatch {
    pub events: Vec<ChangeEvent>,
    pub units: Vec<std::ops::Range<usize>>,
    pub checkpoint: Option<Checkpoint>,
}

impl ChangeBatch {
    /// A batch where every event is its own unit.
    pub fn from_events(events: Vec<ChangeEvent>) -> Self {
        let units = (0..events.len()).map(|i| i..i + 1).collect();
        ChangeBatch { events, units, checkpoint: None }
    }

    /// A batch made of the given transactions, in order.
    pub fn from_units(units: Vec<Vec<ChangeEvent>>) -> Self {
        let mut batch = ChangeBatch::default();
        for unit in units {
            let start = batch.events.len();
            batch.events.extend(unit);
            if batch.events.len() > start {
                batch.units.push(start..batch.events.len());
            }
        }
        batch
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The unit (transaction) index that contains event `index`.
    pub fn unit_of(&self, index: usize) -> Option<usize> {
        self.units.iter().position(|r| r.contains(&index))
    }
}
