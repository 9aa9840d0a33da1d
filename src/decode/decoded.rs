//! What one record decodes to.
//!
//! Only [`Decoded::Change`] is applied by sinks. Every other kind is
//! acknowledged (its offset may be committed once everything before it is)
//! without being written anywhere:
//! - [`Decoded::Tombstone`]: the null-value record Kafka log compaction needs
//!   after a delete. The delete itself carries the change and its version;
//!   the tombstone adds nothing and is never applied.
//! - [`Decoded::TxBoundary`]: BEGIN/END of a source transaction, used by the
//!   transaction buffer to keep transactions whole.
//! - [`Decoded::SchemaChange`]: a DDL record from the schema-change topic;
//!   recognised, not data (sinks evolve tables from the row schemas).
//! - [`Decoded::Heartbeat`]: connector liveness; not data.
//! - [`Decoded::Message`]: a PostgreSQL logical decoding message (`op: m`);
//!   not a row change.

use chrono::{DateTime, Utc};
use sluice_sink_api::{ChangeEvent, Origin, Row, TableId, TxRef, Version};

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Change(ChangeEvent),
    Tombstone(Tombstone),
    TxBoundary(TxMarker),
    SchemaChange(SchemaChange),
    Heartbeat(Heartbeat),
    Message(LogicalMessage),
}

impl Decoded {
    /// `change`, `tombstone`, `tx`, `schema_change`, `heartbeat`, `message`.
    pub fn kind(&self) -> &'static str {
        match self {
            Decoded::Change(_) => "change",
            Decoded::Tombstone(_) => "tombstone",
            Decoded::TxBoundary(_) => "tx",
            Decoded::SchemaChange(_) => "schema_change",
            Decoded::Heartbeat(_) => "heartbeat",
            Decoded::Message(_) => "message",
        }
    }

    /// The record the result was decoded from.
    pub fn origin(&self) -> &Origin {
        match self {
            Decoded::Change(e) => &e.origin,
            Decoded::Tombstone(t) => &t.origin,
            Decoded::TxBoundary(t) => &t.origin,
            Decoded::SchemaChange(s) => &s.origin,
            Decoded::Heartbeat(h) => &h.origin,
            Decoded::Message(m) => &m.origin,
        }
    }

    /// The change event, when this is one.
    pub fn as_change(&self) -> Option<&ChangeEvent> {
        match self {
            Decoded::Change(e) => Some(e),
            _ => None,
        }
    }

    pub fn into_change(self) -> Option<ChangeEvent> {
        match self {
            Decoded::Change(e) => Some(e),
            _ => None,
        }
    }
}

/// A Kafka tombstone (null value, or the legacy `{"schema":null,"payload":null}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    pub origin: Origin,
    /// Derived from the topic name (`<prefix>.<db>.<table>`,
    /// `<prefix>.<db>.<schema>.<table>`); the topic itself when it has no dots.
    pub table: TableId,
    /// The record key (the deleted row's primary key), when there is one.
    pub key: Option<Row>,
}

/// BEGIN or END of a source transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxStatus {
    Begin,
    End,
}

impl TxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::Begin => "BEGIN",
            TxStatus::End => "END",
        }
    }
}

/// A transaction metadata record (`<prefix>.transaction` topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxMarker {
    pub origin: Origin,
    pub status: TxStatus,
    /// The transaction id, as the data events' `transaction.id` carries it.
    pub id: String,
    /// END: the number of data events in the transaction.
    pub event_count: Option<u64>,
    /// END: events per data collection (`db.table` or `schema.table`).
    pub data_collections: Vec<(String, u64)>,
    /// `ts_ms` of the marker (absent in MongoDB markers).
    pub ts: Option<DateTime<Utc>>,
}

/// One table affected by a schema change (`tableChanges[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChange {
    /// `CREATE`, `ALTER` or `DROP`.
    pub kind: String,
    /// The table id as Debezium writes it (`"inventory"."customers"`).
    pub id: String,
}

/// A schema-change (DDL history) record.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaChange {
    pub origin: Origin,
    pub database: Option<String>,
    pub schema: Option<String>,
    /// The DDL text (SQL Server writes none).
    pub ddl: Option<String>,
    pub table_changes: Vec<TableChange>,
    pub source_ts: Option<DateTime<Utc>>,
    /// The position of the change when the source block allows deriving it.
    pub version: Option<Version>,
}

/// A connector heartbeat (`__debezium-heartbeat.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub origin: Origin,
    pub ts: Option<DateTime<Utc>>,
}

/// A PostgreSQL logical decoding message (`pg_logical_emit_message`, `op: m`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogicalMessage {
    pub origin: Origin,
    pub prefix: String,
    /// The message content, as opaque bytes.
    pub content: Vec<u8>,
    /// True when emitted inside a transaction (the source carries a `txId`).
    pub transactional: bool,
    pub database: Option<String>,
    pub version: Option<Version>,
    pub source_ts: Option<DateTime<Utc>>,
    pub tx: Option<TxRef>,
}
