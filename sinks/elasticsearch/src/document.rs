//! Documents from rows: every [`Value`] as JSON (the table in
//! `docs/elasticsearch-sink.md`).
//!
//! | value | JSON |
//! |---|---|
//! | null, bool, int, float | as is; a non-finite float as the string `"NaN"`/`"inf"`/`"-inf"` |
//! | uint (`BIGINT UNSIGNED`) | number (default) or string ([`UnsignedMode`]) |
//! | decimal | string with every digit (default) or number via `f64` ([`DecimalMode`]) |
//! | text, enum, uuid | string |
//! | bytes | base64 string |
//! | date / time / timetz / timestamp / timestamptz | ISO-8601 string at the value's own precision (`2014-09-08`, `17:51:04.780`, `2014-09-08T17:51:04.780`, `...Z`) |
//! | json | nested JSON (default) or its compact text ([`JsonMode`]) |
//! | set | array of strings |
//! | bits | string of `0`/`1`, most significant first |
//! | geometry | `{"wkb": base64, "srid": n}` |
//! | array | array of the elements |
//! | unavailable (TOAST) | never written: the field is left out and listed in [`Document::missing`] |

use serde_json::{Map, Value as Json};
use sluice_sink_api::canonical::base64_encode;
use sluice_sink_api::temporal::{format_naive, format_offset, format_time, format_utc};
use sluice_sink_api::{Row, TableSchema, Value};

use crate::config::{DecimalMode, JsonMode, UnsignedMode};

/// The field soft deletes set to `true` in a tombstone document.
pub const DELETED_FIELD: &str = "_sluice_deleted";

/// How values are rendered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentOptions {
    pub decimal: DecimalMode,
    pub unsigned: UnsignedMode,
    pub json: JsonMode,
}

/// A document body and the columns it could not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub fields: Map<String, Json>,
    /// Columns whose value the source did not provide: present as
    /// [`Value::Unavailable`], or declared by the event schema but absent
    /// from the row. Never written with a placeholder.
    pub missing: Vec<String>,
}

/// One value as JSON. [`Value::Unavailable`] (only reachable inside arrays)
/// renders as `null`; top-level unavailable columns never get here.
pub fn value_to_json(value: &Value, options: &DocumentOptions) -> Json {
    match value {
        Value::Null | Value::Unavailable => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => match options.unsigned {
            UnsignedMode::Number => Json::from(*u),
            UnsignedMode::String => Json::String(u.to_string()),
        },
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None => Json::String(f.to_string()),
        },
        Value::Decimal(d) => match options.decimal {
            DecimalMode::String => Json::String(d.to_string()),
            DecimalMode::Number => {
                let text = d.to_string();
                match text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    Some(n) => Json::Number(n),
                    None => Json::String(text),
                }
            }
        },
        Value::Text(s) | Value::Enum(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64_encode(b)),
        Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
        Value::Time { nanos, precision } => Json::String(format_time(*nanos, *precision)),
        Value::TimeTz { nanos, offset_seconds, precision } => {
            Json::String(format!("{}{}", format_time(*nanos, *precision), format_offset(*offset_seconds)))
        }
        Value::Timestamp { value, precision } => Json::String(format_naive(value, *precision)),
        Value::TimestampTz { value, precision } => Json::String(format_utc(value, *precision)),
        Value::Json(doc) => match options.json {
            JsonMode::Object => doc.clone(),
            JsonMode::String => Json::String(doc.to_string()),
        },
        Value::Uuid(u) => Json::String(u.to_string()),
        Value::Set(members) => Json::Array(members.iter().cloned().map(Json::String).collect()),
        Value::Bits(bits) => Json::String(bits.to_bit_string()),
        Value::Geometry(g) => {
            let mut m = Map::with_capacity(2);
            m.insert("wkb".to_string(), Json::String(base64_encode(&g.wkb)));
            if let Some(srid) = g.srid {
                m.insert("srid".to_string(), Json::from(srid));
            }
            Json::Object(m)
        }
        Value::Array(items) => Json::Array(items.iter().map(|v| value_to_json(v, options)).collect()),
    }
}

/// The document of an upsert's after image.
pub fn build_document(after: &Row, schema: Option<&TableSchema>, options: &DocumentOptions) -> Document {
    let mut fields = Map::with_capacity(after.len());
    let mut missing = Vec::new();
    for (name, value) in after.iter() {
        if value.is_unavailable() {
            missing.push(name.to_string());
        } else {
            fields.insert(name.to_string(), value_to_json(value, options));
        }
    }
    if let Some(schema) = schema {
        for column in &schema.columns {
            if !after.contains(&column.name) {
                missing.push(column.name.clone());
            }
        }
    }
    Document { fields, missing }
}

/// The tombstone document of a soft delete: the key columns and
/// `_sluice_deleted: true`.
pub fn tombstone_document(key: &Row, options: &DocumentOptions) -> Map<String, Json> {
    let mut fields = Map::with_capacity(key.len() + 1);
    for (name, value) in key.available() {
        fields.insert(name.to_string(), value_to_json(value, options));
    }
    fields.insert(DELETED_FIELD.to_string(), Json::Bool(true));
    fields
}

/// True when a stored `_source` is a soft-delete tombstone.
pub fn is_tombstone(source: &Map<String, Json>) -> bool {
    source.get(DELETED_FIELD) == Some(&Json::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};
    use serde_json::json;
    use sluice_sink_api::{Bits, ColumnSchema, ColumnType, Decimal, Geometry, Precision};

    #[test]
    fn every_kind_renders() {
        let o = DocumentOptions::default();
        let ts = NaiveDate::from_ymd_opt(2014, 9, 8).unwrap().and_hms_nano_opt(17, 51, 4, 780_000_000).unwrap();
        let cases: Vec<(Value, Json)> = vec![
            (Value::Null, Json::Null),
            (Value::Bool(true), json!(true)),
            (Value::Int(-5), json!(-5)),
            (Value::UInt(u64::MAX), json!(u64::MAX)),
            (Value::Float(1.5), json!(1.5)),
            (Value::Float(f64::NAN), json!("NaN")),
            (Value::Decimal(Decimal::parse("12345.670").unwrap()), json!("12345.670")),
            (Value::Text("产品".into()), json!("产品")),
            (Value::Bytes(vec![0, 1, 255]), json!("AAH/")),
            (Value::Date(NaiveDate::from_ymd_opt(2016, 1, 16).unwrap()), json!("2016-01-16")),
            (Value::Time { nanos: 64_264_780_000_000, precision: Precision::MILLIS }, json!("17:51:04.780")),
            (
                Value::TimeTz { nanos: 3_600_000_000_000, offset_seconds: -21600, precision: Precision::SECONDS },
                json!("01:00:00-06:00"),
            ),
            (Value::Timestamp { value: ts, precision: Precision::MICROS }, json!("2014-09-08T17:51:04.780000")),
            (
                Value::TimestampTz {
                    value: Utc.timestamp_opt(1_294_764_030, 123_456_789).unwrap(),
                    precision: Precision::NANOS,
                },
                json!("2011-01-11T16:40:30.123456789Z"),
            ),
            (Value::Json(json!({"k": [1, "a"]})), json!({"k": [1, "a"]})),
            (Value::Json(Json::Null), Json::Null),
            (Value::Uuid(uuid::Uuid::nil()), json!("00000000-0000-0000-0000-000000000000")),
            (Value::Enum("b".into()), json!("b")),
            (Value::Set(vec!["a".into(), "b".into()]), json!(["a", "b"])),
            (Value::Bits(Bits::from_le_bytes(&[2], 2)), json!("10")),
            (Value::Geometry(Geometry { wkb: vec![1, 2], srid: Some(4326) }), json!({"wkb": "AQI=", "srid": 4326})),
            (Value::Array(vec![Value::Int(1), Value::Null]), json!([1, null])),
        ];
        for (value, want) in cases {
            assert_eq!(value_to_json(&value, &o), want, "{value:?}");
        }
    }

    #[test]
    fn modes() {
        let o =
            DocumentOptions { decimal: DecimalMode::Number, unsigned: UnsignedMode::String, json: JsonMode::String };
        assert_eq!(value_to_json(&Value::Decimal(Decimal::parse("12.50").unwrap()), &o), json!(12.5));
        assert_eq!(value_to_json(&Value::UInt(18_446_744_073_709_551_615), &o), json!("18446744073709551615"));
        assert_eq!(value_to_json(&Value::Json(json!({"a": 1})), &o), json!("{\"a\":1}"));
    }

    #[test]
    fn unavailable_and_absent_columns_are_missing_never_written() {
        let schema = TableSchema {
            columns: ["id", "name", "note", "extra"]
                .iter()
                .map(|n| ColumnSchema {
                    name: n.to_string(),
                    column_type: ColumnType::Text { max_length: None },
                    optional: true,
                    source_type: None,
                })
                .collect(),
            primary_key: vec!["id".into()],
        };
        let mut row = Row::new().with("id", 1).with("name", "b");
        row.insert("note", Value::Unavailable);
        let doc = build_document(&row, Some(&schema), &DocumentOptions::default());
        assert_eq!(Json::Object(doc.fields.clone()), json!({"id": 1, "name": "b"}));
        assert_eq!(doc.missing, vec!["note".to_string(), "extra".to_string()]);
        assert!(!serde_json::to_string(&doc.fields).unwrap().contains(sluice_sink_api::UNAVAILABLE_PLACEHOLDER));
    }

    #[test]
    fn tombstones() {
        let t = tombstone_document(&Row::new().with("id", 3), &DocumentOptions::default());
        assert_eq!(Json::Object(t.clone()), json!({"id": 3, "_sluice_deleted": true}));
        assert!(is_tombstone(&t));
    }
}
