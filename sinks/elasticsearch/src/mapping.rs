//! Settings and mappings of auto-created indexes, derived from the event's
//! [`TableSchema`].
//!
//! | column type | mapping |
//! |---|---|
//! | bool | `boolean` |
//! | int16 / int32 / int64 | `short` / `integer` / `long` |
//! | uint64 | `unsigned_long` (or `keyword` with `unsigned = "string"`) |
//! | float32 / float64 | `float` / `double` |
//! | decimal with declared precision ≤ 15 and scale | `scaled_float`, `scaling_factor` = 10^scale (the `_source` keeps the exact string; the index holds the number) |
//! | other decimals | `keyword` with `decimal = "string"` (exact), `double` with `decimal = "number"` |
//! | text | `keyword` when it is a primary-key column, else `text` with a `keyword` sub-field (`ignore_above` 256) |
//! | bytes | `binary` |
//! | date, timestamp, timestamptz | `date` (the `_source` keeps every fraction digit; the index keeps milliseconds) |
//! | time, timetz, uuid, enum, set, bits | `keyword` |
//! | json | not mapped (dynamic) with `json = "object"`, `text` with `json = "string"` |
//! | geometry | object `{wkb: binary, srid: integer}` |
//! | array | the element's mapping |
//! | unknown | not mapped (dynamic) |
//!
//! Events without a schema create the index with settings only (dynamic mappings).
//! Columns that appear later are mapped dynamically by the cluster.

use serde_json::{Map, Value as Json, json};
use sluice_sink_api::{ColumnType, TableSchema};

use crate::config::{DecimalMode, DeleteMode, JsonMode, UnsignedMode};
use crate::document::DELETED_FIELD;

/// The largest decimal precision mapped as `scaled_float` (a `double` holds
/// 15 significant digits exactly).
pub const MAX_SCALED_FLOAT_PRECISION: u32 = 15;

/// What decides the mapping of an index.
#[derive(Debug, Clone)]
pub struct MappingOptions {
    pub decimal: DecimalMode,
    pub unsigned: UnsignedMode,
    pub json: JsonMode,
    pub delete_mode: DeleteMode,
    /// `index.gc_deletes` in seconds; 0 leaves the cluster default.
    pub gc_deletes_secs: u64,
    pub extra_settings: Map<String, Json>,
}

fn keyword() -> Json {
    json!({"type": "keyword"})
}

/// The mapping of one column type, `None` to leave it to dynamic mapping.
pub fn field_mapping(column_type: &ColumnType, is_key: bool, options: &MappingOptions) -> Option<Json> {
    Some(match column_type {
        ColumnType::Bool => json!({"type": "boolean"}),
        ColumnType::Int16 => json!({"type": "short"}),
        ColumnType::Int32 => json!({"type": "integer"}),
        ColumnType::Int64 => json!({"type": "long"}),
        ColumnType::UInt64 => match options.unsigned {
            UnsignedMode::Number => json!({"type": "unsigned_long"}),
            UnsignedMode::String => keyword(),
        },
        ColumnType::Float32 => json!({"type": "float"}),
        ColumnType::Float64 => json!({"type": "double"}),
        ColumnType::Decimal { precision, scale } => match (precision, scale) {
            _ if is_key => keyword(),
            (Some(p), Some(s)) if *p <= MAX_SCALED_FLOAT_PRECISION && *s <= MAX_SCALED_FLOAT_PRECISION => {
                json!({"type": "scaled_float", "scaling_factor": 10u64.pow(*s)})
            }
            _ => match options.decimal {
                DecimalMode::String => keyword(),
                DecimalMode::Number => json!({"type": "double"}),
            },
        },
        ColumnType::Text { .. } => {
            if is_key {
                keyword()
            } else {
                json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
            }
        }
        ColumnType::Bytes { .. } => json!({"type": "binary"}),
        ColumnType::Date | ColumnType::Timestamp { .. } | ColumnType::TimestampTz { .. } => json!({"type": "date"}),
        ColumnType::Time { .. }
        | ColumnType::TimeTz { .. }
        | ColumnType::Uuid
        | ColumnType::Enum { .. }
        | ColumnType::Set { .. }
        | ColumnType::Bits { .. } => keyword(),
        ColumnType::Json => match options.json {
            JsonMode::Object => return None,
            JsonMode::String => json!({"type": "text"}),
        },
        ColumnType::Geometry => json!({"properties": {"wkb": {"type": "binary"}, "srid": {"type": "integer"}}}),
        ColumnType::Array { element } => return field_mapping(element, is_key, options),
        ColumnType::Unknown { .. } => return None,
    })
}

/// The body of `PUT /<index>`: settings, and mappings when the schema is known.
pub fn create_index_body(schema: Option<&TableSchema>, options: &MappingOptions) -> Json {
    let mut settings = options.extra_settings.clone();
    if options.gc_deletes_secs > 0 {
        settings.insert("index.gc_deletes".to_string(), Json::String(format!("{}s", options.gc_deletes_secs)));
    }
    let mut properties = Map::new();
    if let Some(schema) = schema {
        for column in &schema.columns {
            let is_key = schema.primary_key.iter().any(|k| k == &column.name);
            if let Some(mapping) = field_mapping(&column.column_type, is_key, options) {
                properties.insert(column.name.clone(), mapping);
            }
        }
    }
    if options.delete_mode == DeleteMode::Soft {
        properties.insert(DELETED_FIELD.to_string(), json!({"type": "boolean"}));
    }
    let mut body = Map::new();
    body.insert("settings".to_string(), Json::Object(settings));
    if !properties.is_empty() {
        body.insert("mappings".to_string(), json!({ "properties": properties }));
    }
    Json::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sink_api::ColumnSchema;

    fn options() -> MappingOptions {
        MappingOptions {
            decimal: DecimalMode::String,
            unsigned: UnsignedMode::Number,
            json: JsonMode::Object,
            delete_mode: DeleteMode::Delete,
            gc_deletes_secs: 86400,
            extra_settings: Map::new(),
        }
    }

    fn col(name: &str, column_type: ColumnType) -> ColumnSchema {
        ColumnSchema { name: name.into(), column_type, optional: true, source_type: None }
    }

    #[test]
    fn derives_mappings() {
        let schema = TableSchema {
            columns: vec![
                col("code", ColumnType::Text { max_length: Some(10) }),
                col("title", ColumnType::Text { max_length: None }),
                col("price", ColumnType::Decimal { precision: Some(10), scale: Some(2) }),
                col("huge", ColumnType::Decimal { precision: Some(40), scale: Some(2) }),
                col("anyscale", ColumnType::Decimal { precision: None, scale: None }),
                col("at", ColumnType::TimestampTz { precision: 6 }),
                col("doc", ColumnType::Json),
                col("tags", ColumnType::Array { element: Box::new(ColumnType::Int32) }),
                col("n", ColumnType::UInt64),
            ],
            primary_key: vec!["code".into()],
        };
        let body = create_index_body(Some(&schema), &options());
        assert_eq!(body["settings"]["index.gc_deletes"], json!("86400s"));
        let p = &body["mappings"]["properties"];
        assert_eq!(p["code"], json!({"type": "keyword"}));
        assert_eq!(p["title"]["type"], json!("text"));
        assert_eq!(p["price"], json!({"type": "scaled_float", "scaling_factor": 100}));
        assert_eq!(p["huge"], json!({"type": "keyword"}));
        assert_eq!(p["anyscale"], json!({"type": "keyword"}));
        assert_eq!(p["at"], json!({"type": "date"}));
        assert!(p.get("doc").is_none());
        assert_eq!(p["tags"], json!({"type": "integer"}));
        assert_eq!(p["n"], json!({"type": "unsigned_long"}));
    }

    #[test]
    fn soft_delete_and_no_schema() {
        let mut o = options();
        o.delete_mode = DeleteMode::Soft;
        o.gc_deletes_secs = 0;
        let body = create_index_body(None, &o);
        assert!(body["settings"].get("index.gc_deletes").is_none());
        assert_eq!(body["mappings"]["properties"][DELETED_FIELD], json!({"type": "boolean"}));
        o.delete_mode = DeleteMode::Delete;
        assert!(create_index_body(None, &o).get("mappings").is_none());
    }
}
