//! The canonical JSON form of a decoded record (`sluice decode` output,
//! documented in `docs/canonical-form.md`).
//!
//! Values use `sluice_sink_api::canonical` (exact decimals as strings with
//! their scale, ISO-8601 temporal values at their own precision, UTC `Z`
//! for instants); the record adds its origin, kind, table, op, key, images,
//! version (decimal string + scheme), source timestamp and transaction.

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Map, Value as Json, json};
use sluice_sink_api::canonical::{row_to_json, value_to_json};
use sluice_sink_api::temporal::format_utc;
use sluice_sink_api::{Precision, Row, TableId, TxRef, Value, Version};

use super::decoded::Decoded;

/// An instant in ISO-8601 UTC with as many fraction digits (3, 6 or 9) as
/// needed to show it exactly.
pub fn instant_to_json(ts: &DateTime<Utc>) -> Json {
    let nanos = ts.nanosecond() % 1_000_000_000;
    let precision = if nanos.is_multiple_of(1_000_000) {
        Precision::MILLIS
    } else if nanos.is_multiple_of(1_000) {
        Precision::MICROS
    } else {
        Precision::NANOS
    };
    Json::String(format_utc(ts, precision))
}

fn opt_instant(ts: &Option<DateTime<Utc>>) -> Json {
    ts.as_ref().map(instant_to_json).unwrap_or(Json::Null)
}

fn table_json(table: &TableId) -> Json {
    json!({"database": table.database, "schema": table.schema, "table": table.table})
}

fn version_json(version: &Version) -> Json {
    json!({
        "value": version.value().to_string(),
        "scheme": serde_json::to_value(version.scheme()).unwrap_or(Json::Null),
    })
}

fn opt_version(version: &Option<Version>) -> Json {
    version.as_ref().map(version_json).unwrap_or(Json::Null)
}

fn opt_row(row: &Option<Row>) -> Json {
    row.as_ref().map(row_to_json).unwrap_or(Json::Null)
}

fn tx_json(tx: &Option<TxRef>) -> Json {
    match tx {
        Some(tx) => {
            json!({"id": tx.id, "total_order": tx.total_order, "data_collection_order": tx.data_collection_order})
        }
        None => Json::Null,
    }
}

/// The canonical JSON object of one decoded record.
pub fn decoded_to_canonical_json(decoded: &Decoded) -> Json {
    let origin = decoded.origin();
    let mut out = Map::new();
    out.insert("topic".into(), Json::String(origin.topic.to_string()));
    out.insert("partition".into(), json!(origin.partition));
    out.insert("offset".into(), json!(origin.offset));
    out.insert("kind".into(), Json::String(decoded.kind().to_string()));
    let mut put = |k: &str, v: Json| {
        out.insert(k.to_string(), v);
    };
    match decoded {
        Decoded::Change(e) => {
            put("table", table_json(&e.table));
            put("op", Json::String(e.op.code().to_string()));
            put("key", opt_row(&e.key));
            put("before", opt_row(&e.before));
            put("after", opt_row(&e.after));
            put("version", version_json(&e.version));
            put("source_ts", opt_instant(&e.source_ts));
            put("tx", tx_json(&e.tx));
        }
        Decoded::Tombstone(t) => {
            put("table", table_json(&t.table));
            put("key", opt_row(&t.key));
        }
        Decoded::TxBoundary(t) => {
            put("status", Json::String(t.status.as_str().to_string()));
            put("id", Json::String(t.id.clone()));
            put("event_count", json!(t.event_count));
            put(
                "data_collections",
                Json::Array(
                    t.data_collections
                        .iter()
                        .map(|(name, count)| json!({"data_collection": name, "event_count": count}))
                        .collect(),
                ),
            );
            put("ts", opt_instant(&t.ts));
        }
        Decoded::SchemaChange(s) => {
            put("database", json!(s.database));
            put("schema", json!(s.schema));
            put("ddl", json!(s.ddl));
            put(
                "table_changes",
                Json::Array(s.table_changes.iter().map(|c| json!({"type": c.kind, "id": c.id})).collect()),
            );
            put("version", opt_version(&s.version));
            put("source_ts", opt_instant(&s.source_ts));
        }
        Decoded::Heartbeat(h) => put("ts", opt_instant(&h.ts)),
        Decoded::Message(m) => {
            put("prefix", Json::String(m.prefix.clone()));
            put("content", value_to_json(&Value::Bytes(m.content.clone())));
            put(
                "content_utf8",
                std::str::from_utf8(&m.content).map(|s| Json::String(s.to_string())).unwrap_or(Json::Null),
            );
            put("transactional", Json::Bool(m.transactional));
            put("database", json!(m.database));
            put("version", opt_version(&m.version));
            put("source_ts", opt_instant(&m.source_ts));
            put("tx", tx_json(&m.tx));
        }
    }
    Json::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_show_needed_digits() {
        let at = |ns: i64| instant_to_json(&DateTime::from_timestamp_nanos(ns)).as_str().unwrap().to_string();
        assert_eq!(at(1_465_581_029_100_000_000), "2016-06-10T17:50:29.100Z");
        assert_eq!(at(1_559_033_904_863_123_000), "2019-05-28T08:58:24.863123Z");
        assert_eq!(at(1_465_491_411_815_437_158), "2016-06-09T16:56:51.815437158Z");
    }
}
