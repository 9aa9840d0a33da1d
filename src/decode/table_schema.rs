//! [`TableSchema`] from the Connect row schema (and key schema), cached by
//! schema identity so that every record of a table shares one `Arc`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sluice_sink_api::{ColumnSchema, ColumnType, TableSchema};

use super::connect::{ConnectSchema, ConnectType};
use super::names::*;

/// Entries kept before the cache is cleared (schemas are few; this only
/// bounds memory under pathological schema churn).
const MAX_ENTRIES: usize = 4096;

fn param_u32(schema: &ConnectSchema, key: &str) -> Option<u32> {
    schema.parameter(key).and_then(|v| v.trim().parse().ok())
}

fn param_u8(schema: &ConnectSchema, key: &str, default: u8) -> u8 {
    schema.parameter(key).and_then(|v| v.trim().parse::<u8>().ok()).map(|p| p.min(9)).unwrap_or(default)
}

fn allowed(schema: &ConnectSchema) -> Vec<String> {
    match schema.parameter(PARAM_ALLOWED) {
        Some(list) if !list.is_empty() => list.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn is_unsigned_bigint(schema: &ConnectSchema) -> bool {
    schema.parameter(PARAM_SOURCE_TYPE).is_some_and(|t| {
        let t = t.to_ascii_uppercase();
        t.starts_with("BIGINT") && t.contains("UNSIGNED")
    })
}

/// The sink-neutral column type of a Connect field schema.
pub fn column_type(schema: &ConnectSchema) -> ColumnType {
    if let Some(name) = schema.name() {
        let mapped = match name {
            CONNECT_DECIMAL => {
                let scale = param_u32(schema, PARAM_SCALE);
                if scale == Some(0) && is_unsigned_bigint(schema) {
                    ColumnType::UInt64
                } else {
                    ColumnType::Decimal { precision: param_u32(schema, PARAM_DECIMAL_PRECISION), scale }
                }
            }
            VARIABLE_SCALE_DECIMAL => ColumnType::Decimal { precision: None, scale: None },
            DATE | CONNECT_DATE => ColumnType::Date,
            TIME | CONNECT_TIME => ColumnType::Time { precision: 3 },
            MICRO_TIME => ColumnType::Time { precision: 6 },
            NANO_TIME => ColumnType::Time { precision: 9 },
            TIMESTAMP | CONNECT_TIMESTAMP => ColumnType::Timestamp { precision: 3 },
            MICRO_TIMESTAMP => ColumnType::Timestamp { precision: 6 },
            NANO_TIMESTAMP => ColumnType::Timestamp { precision: 9 },
            ZONED_TIMESTAMP => ColumnType::TimestampTz { precision: param_u8(schema, PARAM_SOURCE_SCALE, 6) },
            ZONED_TIME => ColumnType::TimeTz { precision: param_u8(schema, PARAM_SOURCE_SCALE, 6) },
            YEAR => ColumnType::Int32,
            JSON => ColumnType::Json,
            UUID => ColumnType::Uuid,
            ENUM => ColumnType::Enum { allowed: allowed(schema) },
            ENUM_SET => ColumnType::Set { allowed: allowed(schema) },
            BITS => ColumnType::Bits { length: param_u32(schema, PARAM_LENGTH).unwrap_or(0) },
            GEOMETRY | GEOGRAPHY | POINT => ColumnType::Geometry,
            XML => ColumnType::Text { max_length: None },
            _ => return primitive_type(schema),
        };
        return mapped;
    }
    primitive_type(schema)
}

fn primitive_type(schema: &ConnectSchema) -> ColumnType {
    match schema.kind {
        ConnectType::Int8 | ConnectType::Int16 => ColumnType::Int16,
        ConnectType::Int32 => ColumnType::Int32,
        ConnectType::Int64 if is_unsigned_bigint(schema) => ColumnType::UInt64,
        ConnectType::Int64 => ColumnType::Int64,
        ConnectType::Float32 => ColumnType::Float32,
        ConnectType::Float64 => ColumnType::Float64,
        ConnectType::Boolean => ColumnType::Bool,
        ConnectType::String => ColumnType::Text { max_length: param_u32(schema, PARAM_SOURCE_LENGTH) },
        ConnectType::Bytes => ColumnType::Bytes { max_length: param_u32(schema, PARAM_SOURCE_LENGTH) },
        ConnectType::Array => ColumnType::Array {
            element: Box::new(schema.items.as_deref().map(column_type).unwrap_or(ColumnType::Json)),
        },
        ConnectType::Map | ConnectType::Struct => ColumnType::Json,
    }
}

/// Builds the table schema from the row struct schema and the key schema.
pub fn build_table_schema(row: &ConnectSchema, key: Option<&ConnectSchema>) -> TableSchema {
    let columns = row
        .fields
        .iter()
        .map(|f| ColumnSchema {
            name: f.name.clone(),
            column_type: column_type(&f.schema),
            optional: f.schema.optional,
            source_type: f.schema.parameter(PARAM_SOURCE_TYPE).map(str::to_string),
        })
        .collect();
    let primary_key = match key {
        Some(k) if k.kind == ConnectType::Struct => k.fields.iter().map(|f| f.name.clone()).collect(),
        _ => Vec::new(),
    };
    TableSchema { columns, primary_key }
}

/// The schemas a cache entry was derived from, kept alive so their
/// addresses identify them for as long as the entry exists.
type Pinned = (Arc<ConnectSchema>, Option<Arc<ConnectSchema>>, Arc<TableSchema>);

/// Caches one `Arc<TableSchema>` per (value schema, key schema) identity.
#[derive(Debug, Default)]
pub struct TableSchemaCache {
    entries: Mutex<HashMap<(usize, usize), Pinned>>,
}

impl TableSchemaCache {
    /// The table schema for `row` (the `after`/`before` field schema of the
    /// envelope `value`) and the key schema. `value` identifies the entry.
    pub fn get(
        &self,
        value: &Arc<ConnectSchema>,
        row: &ConnectSchema,
        key: Option<&Arc<ConnectSchema>>,
    ) -> Arc<TableSchema> {
        let id = (Arc::as_ptr(value) as usize, key.map(|k| Arc::as_ptr(k) as usize).unwrap_or(0));
        let mut entries = match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((_, _, table)) = entries.get(&id) {
            return Arc::clone(table);
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let table = Arc::new(build_table_schema(row, key.map(|k| k.as_ref())));
        entries.insert(id, (Arc::clone(value), key.cloned(), Arc::clone(&table)));
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::connect::ConnectField;

    #[test]
    fn types_and_primary_key() {
        let row = ConnectSchema::structure(
            Some("t.Value"),
            vec![
                ConnectField { name: "id".into(), schema: ConnectSchema::primitive(ConnectType::Int32, false) },
                ConnectField {
                    name: "amount".into(),
                    schema: ConnectSchema::primitive(ConnectType::Bytes, true)
                        .named(CONNECT_DECIMAL)
                        .with_parameter("scale", "4")
                        .with_parameter(PARAM_DECIMAL_PRECISION, "19"),
                },
                ConnectField {
                    name: "at".into(),
                    schema: ConnectSchema::primitive(ConnectType::Int64, true).named(MICRO_TIMESTAMP),
                },
            ],
            true,
        );
        let key = Arc::new(ConnectSchema::structure(
            Some("t.Key"),
            vec![ConnectField { name: "id".into(), schema: ConnectSchema::primitive(ConnectType::Int32, false) }],
            false,
        ));
        let value = Arc::new(row.clone());
        let cache = TableSchemaCache::default();
        let a = cache.get(&value, &row, Some(&key));
        let b = cache.get(&value, &row, Some(&key));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.primary_key, vec!["id".to_string()]);
        assert_eq!(
            a.column("amount").unwrap().column_type,
            ColumnType::Decimal { precision: Some(19), scale: Some(4) }
        );
        assert_eq!(a.column("at").unwrap().column_type, ColumnType::Timestamp { precision: 6 });
        assert!(!a.column("id").unwrap().optional);
    }
}
