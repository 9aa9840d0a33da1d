//! Builders of change events for tests (used by every sink's tests and the
//! conformance suite).

use std::sync::Arc;

use crate::event::{ChangeEvent, Op, Origin, TableId, TxRef};
use crate::row::Row;
use crate::schema::{ColumnSchema, ColumnType, TableSchema};
use crate::value::Value;
use crate::version::{Version, VersionScheme};

/// Builds events for a table keyed by an integer column `id`, with a text
/// column `name`. Versions are raw [`VersionScheme::KafkaOffset`] values, and
/// the origin offset equals the version.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    pub table: TableId,
    pub topic: Arc<str>,
    pub partition: i32,
}

impl EventBuilder {
    pub fn new(table: TableId) -> Self {
        let topic = Arc::from(format!("test.{}", table.qualified()).as_str());
        EventBuilder { table, topic, partition: 0 }
    }

    pub fn key(&self, id: i64) -> Row {
        Row::new().with("id", id)
    }

    pub fn version(v: u64) -> Version {
        Version::from_raw(VersionScheme::KafkaOffset, u128::from(v))
    }

    /// The schema of the builder's rows (`id` bigint key, `name` text, `note` text).
    pub fn schema() -> Arc<TableSchema> {
        Arc::new(TableSchema {
            columns: vec![
                ColumnSchema { name: "id".into(), column_type: ColumnType::Int64, optional: false, source_type: None },
                ColumnSchema {
                    name: "name".into(),
                    column_type: ColumnType::Text { max_length: None },
                    optional: true,
                    source_type: None,
                },
                ColumnSchema {
                    name: "note".into(),
                    column_type: ColumnType::Text { max_length: None },
                    optional: true,
                    source_type: None,
                },
            ],
            primary_key: vec!["id".into()],
        })
    }

    /// A generic event with the given op and images.
    pub fn event(&self, op: Op, id: i64, version: u64, before: Option<Row>, after: Option<Row>) -> ChangeEvent {
        ChangeEvent {
            table: self.table.clone(),
            op,
            key: Some(self.key(id)),
            before,
            after,
            version: Self::version(version),
            source_ts: None,
            tx: None,
            origin: Origin { topic: self.topic.clone(), partition: self.partition, offset: version as i64 },
            schema: Some(Self::schema()),
        }
    }

    /// An update whose after image is `{id, name}`.
    pub fn upsert(&self, id: i64, version: u64, name: &str) -> ChangeEvent {
        self.event(Op::Update, id, version, None, Some(Row::new().with("id", id).with("name", name)))
    }

    /// An update with an explicit after row (the `id` column is added).
    pub fn upsert_row(&self, id: i64, version: u64, row: Row) -> ChangeEvent {
        let mut after = Row::new().with("id", id);
        after.overlay(&row);
        for (name, value) in row.iter() {
            if value.is_unavailable() {
                after.insert(name, Value::Unavailable);
            }
        }
        self.event(Op::Update, id, version, None, Some(after))
    }

    pub fn delete(&self, id: i64, version: u64) -> ChangeEvent {
        self.event(Op::Delete, id, version, Some(Row::new().with("id", id)), None)
    }

    /// Marks `event` as part of source transaction `tx_id` at position `order`.
    pub fn in_tx(mut event: ChangeEvent, tx_id: &str, order: u64) -> ChangeEvent {
        event.tx = Some(TxRef { id: tx_id.to_string(), total_order: order, data_collection_order: order });
        event
    }
}
