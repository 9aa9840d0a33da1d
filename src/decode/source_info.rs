//! Reading the envelope's metadata: table id, timestamps, transaction reference.

use chrono::{DateTime, Utc};
use sluice_sink_api::{TableId, TxRef};

use super::connect::ConnectValue;
use super::error::FieldError;
use super::numbers::{lenient_i64, lenient_u64};
use super::version::Connector;

/// Struct member `name` as a non-empty string.
pub fn text<'a>(value: &'a ConnectValue, name: &str) -> Option<&'a str> {
    value.field(name).and_then(ConnectValue::as_str).filter(|s| !s.is_empty())
}

/// The table from the topic name: `<prefix>.<db>.<table>` (for PostgreSQL
/// `<prefix>.<schema>.<table>`), `<prefix>.<db>.<schema>.<table>`.
pub fn table_from_topic(topic: &str, connector: Option<&Connector>) -> Option<TableId> {
    let parts: Vec<&str> = topic.split('.').collect();
    match parts.as_slice() {
        [_, schema, table] if connector == Some(&Connector::Postgres) => Some(TableId::new(None, Some(schema), table)),
        [_, db, table] => Some(TableId::new(Some(db), None, table)),
        [_, db, schema, table] => Some(TableId::new(Some(db), Some(schema), table)),
        _ => None,
    }
}

/// The table of a data event: `source.db`/`source.schema`/`source.table`
/// (`source.collection` for MongoDB), completed from the topic name where the
/// source does not say (legacy MySQL records carry neither db nor table).
pub fn table_id(source: &ConnectValue, topic: &str, connector: Option<&Connector>) -> Result<TableId, FieldError> {
    let db = text(source, "db");
    let schema = text(source, "schema");
    let table = text(source, "table").or_else(|| text(source, "collection"));
    if let Some(table) = table {
        return Ok(TableId::new(db, schema, table));
    }
    let from_topic = table_from_topic(topic, connector).ok_or_else(|| {
        FieldError::at_field(
            "table",
            format!("missing, and the topic {topic:?} does not name a table (<prefix>.<database>.<table>)"),
        )
        .at("source")
    })?;
    Ok(TableId {
        database: db.map(str::to_string).or(from_topic.database),
        schema: schema.map(str::to_string).or(from_topic.schema),
        table: from_topic.table,
    })
}

/// The commit time of the change: `ts_ms`, refined by `ts_us`/`ts_ns` when they
/// agree with it (documentation examples carry inconsistent finer fields),
/// else legacy `ts_sec`.
pub fn source_ts(source: &ConnectValue) -> Option<DateTime<Utc>> {
    let get = |name: &str| source.field(name).and_then(lenient_i64);
    match get("ts_ms") {
        Some(ms) => {
            if let Some(ns) = get("ts_ns").filter(|ns| ns.div_euclid(1_000_000) == ms) {
                return Some(DateTime::from_timestamp_nanos(ns));
            }
            if let Some(us) = get("ts_us").filter(|us| us.div_euclid(1_000) == ms) {
                return DateTime::from_timestamp_micros(us);
            }
            DateTime::from_timestamp_millis(ms)
        }
        None => match (get("ts_us"), get("ts_ns"), get("ts_sec")) {
            (Some(us), _, _) => DateTime::from_timestamp_micros(us),
            (None, Some(ns), _) => Some(DateTime::from_timestamp_nanos(ns)),
            (None, None, Some(s)) => DateTime::from_timestamp(s, 0),
            _ => None,
        },
    }
}

/// A lenient `ts_ms` member as an instant.
pub fn ts_ms(value: &ConnectValue) -> Result<Option<DateTime<Utc>>, FieldError> {
    match value.field("ts_ms") {
        None | Some(ConnectValue::Null) => Ok(None),
        Some(v) => {
            let ms = lenient_i64(v).ok_or_else(|| {
                FieldError::at_field("ts_ms", format!("expected int64 milliseconds, found {}", v.describe()))
            })?;
            DateTime::from_timestamp_millis(ms)
                .map(Some)
                .ok_or_else(|| FieldError::at_field("ts_ms", format!("{ms} ms is out of range")))
        }
    }
}

/// A transaction id: a string, or a number written as one.
pub fn tx_id(value: Option<&ConnectValue>) -> Result<String, FieldError> {
    match value {
        Some(ConnectValue::String(s)) => Ok(s.clone()),
        Some(ConnectValue::Int(i)) => Ok(i.to_string()),
        Some(ConnectValue::UInt(u)) => Ok(u.to_string()),
        Some(ConnectValue::Null) | None => Err(FieldError::at_field("id", "missing")),
        Some(other) => Err(FieldError::at_field("id", format!("expected a string, found {}", other.describe()))),
    }
}

fn required_count(value: &ConnectValue, name: &str) -> Result<u64, FieldError> {
    match value.field(name) {
        None | Some(ConnectValue::Null) => Err(FieldError::at_field(name, "missing")),
        Some(v) => lenient_u64(v).ok_or_else(|| {
            FieldError::at_field(name, format!("expected a non-negative integer, found {}", v.describe()))
        }),
    }
}

/// The `transaction` block of a data event (numbers may be strings).
pub fn tx_ref(block: &ConnectValue) -> Result<TxRef, FieldError> {
    if !matches!(block, ConnectValue::Struct(_)) {
        return Err(FieldError::mismatch("a struct {id, total_order, data_collection_order}", block.describe()));
    }
    Ok(TxRef {
        id: tx_id(block.field("id"))?,
        total_order: required_count(block, "total_order")?,
        data_collection_order: required_count(block, "data_collection_order")?,
    })
}

/// An optional lenient count (`event_count`).
pub fn optional_count(value: &ConnectValue, name: &str) -> Result<Option<u64>, FieldError> {
    match value.field(name) {
        None | Some(ConnectValue::Null) => Ok(None),
        Some(_) => required_count(value, name).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(fields: &[(&str, ConnectValue)]) -> ConnectValue {
        ConnectValue::Struct(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn finer_timestamps_only_when_consistent() {
        let s = st(&[
            ("ts_ms", ConnectValue::Int(1_638_985_247_805)),
            ("ts_us", ConnectValue::Int(1_638_985_247_805_000_000)),
        ]);
        assert_eq!(source_ts(&s), DateTime::from_timestamp_millis(1_638_985_247_805));
        let s =
            st(&[("ts_ms", ConnectValue::Int(1_559_033_904_863)), ("ts_us", ConnectValue::Int(1_559_033_904_863_123))]);
        assert_eq!(source_ts(&s), DateTime::from_timestamp_micros(1_559_033_904_863_123));
        let s = st(&[("ts_sec", ConnectValue::Int(1_486_501_558))]);
        assert_eq!(source_ts(&s), DateTime::from_timestamp(1_486_501_558, 0));
    }

    #[test]
    fn tables_from_topics() {
        assert_eq!(table_from_topic("a.b.c", None), Some(TableId::new(Some("b"), None, "c")));
        assert_eq!(table_from_topic("a.b.c", Some(&Connector::Postgres)), Some(TableId::new(None, Some("b"), "c")));
        assert_eq!(table_from_topic("a.b.c.d", None), Some(TableId::new(Some("b"), Some("c"), "d")));
        assert_eq!(table_from_topic("nodots", None), None);
    }
}
