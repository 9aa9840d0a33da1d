//! Records that are not row changes: transaction markers, schema changes,
//! heartbeats and PostgreSQL logical decoding messages.

use base64::Engine as _;
use sluice_sink_api::Origin;

use super::connect::ConnectValue;
use super::decoded::{Heartbeat, LogicalMessage, SchemaChange, TableChange, TxMarker, TxStatus};
use super::error::{AtField, FieldError};
use super::source_info::{optional_count, source_ts, text, ts_ms, tx_id, tx_ref};
use super::version;

/// True when the payload looks like a transaction metadata record.
pub fn is_tx_marker(payload: &ConnectValue) -> bool {
    payload.field("status").is_some() && payload.field("id").is_some() && payload.field("op").is_none()
}

/// True when the payload looks like a schema-change (DDL) record.
pub fn is_schema_change(payload: &ConnectValue) -> bool {
    payload.field("op").is_none()
        && (payload.field("ddl").is_some()
            || payload.field("tableChanges").is_some()
            || payload.field("databaseName").is_some())
}

/// True when the payload looks like a heartbeat (`{"ts_ms": …}` only).
pub fn is_heartbeat(payload: &ConnectValue) -> bool {
    match payload {
        ConnectValue::Struct(fields) => !fields.is_empty() && fields.iter().all(|(k, _)| k == "ts_ms"),
        _ => false,
    }
}

pub fn tx_marker(origin: Origin, payload: &ConnectValue) -> Result<TxMarker, FieldError> {
    let status = match payload.field("status") {
        Some(ConnectValue::String(s)) if s.eq_ignore_ascii_case("BEGIN") => TxStatus::Begin,
        Some(ConnectValue::String(s)) if s.eq_ignore_ascii_case("END") => TxStatus::End,
        Some(other) => {
            return Err(FieldError::at_field("status", format!("expected BEGIN or END, found {}", other.describe())));
        }
        None => return Err(FieldError::at_field("status", "missing: not a transaction metadata record")),
    };
    let id = tx_id(payload.field("id"))?;
    let event_count = optional_count(payload, "event_count")?;
    let mut data_collections = Vec::new();
    match payload.field("data_collections") {
        None | Some(ConnectValue::Null) => {}
        Some(ConnectValue::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let name = text(item, "data_collection").ok_or_else(|| {
                    FieldError::at_field("data_collection", "missing").at(&i.to_string()).at("data_collections")
                })?;
                let count = optional_count(item, "event_count").at(&i.to_string()).at("data_collections")?.unwrap_or(0);
                data_collections.push((name.to_string(), count));
            }
        }
        Some(other) => {
            return Err(FieldError::at_field(
                "data_collections",
                format!("expected an array, found {}", other.describe()),
            ));
        }
    }
    Ok(TxMarker { origin, status, id, event_count, data_collections, ts: ts_ms(payload)? })
}

pub fn schema_change(origin: Origin, payload: &ConnectValue) -> Result<SchemaChange, FieldError> {
    let source = payload.field("source").filter(|s| !s.is_null());
    let mut table_changes = Vec::new();
    if let Some(ConnectValue::Array(items)) = payload.field("tableChanges") {
        for item in items {
            table_changes.push(TableChange {
                kind: text(item, "type").unwrap_or_default().to_string(),
                id: text(item, "id").unwrap_or_default().to_string(),
            });
        }
    }
    let source_ts = match source.and_then(source_ts) {
        Some(ts) => Some(ts),
        None => ts_ms(payload)?,
    };
    Ok(SchemaChange {
        origin,
        database: text(payload, "databaseName").map(str::to_string),
        schema: text(payload, "schemaName").map(str::to_string),
        ddl: payload.field("ddl").and_then(ConnectValue::as_str).map(str::to_string),
        table_changes,
        source_ts,
        version: source.and_then(|s| version::derive(s, None).ok()),
    })
}

pub fn heartbeat(origin: Origin, payload: &ConnectValue) -> Result<Heartbeat, FieldError> {
    Ok(Heartbeat { origin, ts: ts_ms(payload)? })
}

/// A logical decoding message (`op: m`).
pub fn logical_message(origin: Origin, payload: &ConnectValue) -> Result<LogicalMessage, FieldError> {
    let message =
        payload.field("message").filter(|m| !m.is_null()).ok_or_else(|| FieldError::at_field("message", "missing"))?;
    let prefix = match message.field("prefix") {
        Some(ConnectValue::String(s)) => s.clone(),
        None | Some(ConnectValue::Null) => String::new(),
        Some(other) => {
            return Err(
                FieldError::at_field("prefix", format!("expected a string, found {}", other.describe())).at("message")
            );
        }
    };
    let content = match message.field("content") {
        Some(ConnectValue::Bytes(b)) => b.clone(),
        // Schemaless JSON: bytes are base64 text.
        Some(ConnectValue::String(s)) => {
            base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).map_err(|e| {
                FieldError::at_field("content", format!("expected base64 bytes, found {s:?} ({e})")).at("message")
            })?
        }
        None | Some(ConnectValue::Null) => Vec::new(),
        Some(other) => {
            return Err(
                FieldError::at_field("content", format!("expected bytes, found {}", other.describe())).at("message")
            );
        }
    };
    let source = payload.field("source").filter(|s| !s.is_null());
    let tx = match payload.field("transaction") {
        None | Some(ConnectValue::Null) => None,
        Some(block) => Some(tx_ref(block).at("transaction")?),
    };
    Ok(LogicalMessage {
        origin,
        prefix,
        content,
        transactional: source.and_then(|s| s.field("txId")).is_some_and(|t| !t.is_null()),
        database: source.and_then(|s| text(s, "db")).map(str::to_string),
        version: source.and_then(|s| version::derive(s, tx.as_ref().map(|t| t.total_order)).ok()),
        source_ts: source.and_then(source_ts),
        tx,
    })
}
