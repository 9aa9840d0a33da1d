//! Writing Debezium JSON straight into a byte buffer.
//!
//! The Kafka path serializes every row change; building a `serde_json::Value`
//! tree per record (and re-serializing a ~4.5 KB schema each time) capped it
//! at ~35k rows/s. Here values are written directly with the same encodings as
//! [`super::connect_schema::encode_value`] (a test checks that both agree on
//! every kind of value), strings are escaped by `serde_json`'s own escaper,
//! and numbers are formatted by `itoa`/`ryu` through `serde_json`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{NaiveDate, Timelike};
use sluice_sink_api::{ColumnSchema, ColumnType, Row, TableSchema, Value};

/// Appends `s` as a JSON string literal (quoted and escaped).
pub fn write_str(buf: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// Appends a JSON string or `null`.
pub fn write_opt_str(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
}

/// Appends an integer.
pub fn write_i64(buf: &mut Vec<u8>, v: i64) {
    let _ = serde_json::to_writer(&mut *buf, &v);
}

/// Appends an unsigned integer.
pub fn write_u64(buf: &mut Vec<u8>, v: u64) {
    let _ = serde_json::to_writer(&mut *buf, &v);
}

/// Appends `"name":` (the key of an object member), escaped.
pub fn write_key(buf: &mut Vec<u8>, name: &str) {
    write_str(buf, name);
    buf.push(b':');
}

fn write_base64(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.push(b'"');
    let start = buf.len();
    buf.resize(start + base64::encoded_len(bytes.len(), true).unwrap_or(0), 0);
    let written = B64.encode_slice(bytes, &mut buf[start..]).unwrap_or(0);
    buf.truncate(start + written);
    buf.push(b'"');
}

/// Connect `Decimal`: the unscaled value as big-endian two's complement
/// (minimal length, as Java's `BigInteger.toByteArray`), base64.
fn write_decimal_bytes(buf: &mut Vec<u8>, unscaled: &[u8]) {
    write_base64(buf, unscaled);
}

fn write_float(buf: &mut Vec<u8>, f: f64, single: bool) {
    if !f.is_finite() {
        buf.extend_from_slice(b"null");
    } else if single {
        // The shortest decimal of the f32 (what MySQL stored and Jackson prints).
        let _ = serde_json::to_writer(&mut *buf, &(f as f32));
    } else {
        let _ = serde_json::to_writer(&mut *buf, &f);
    }
}

/// Appends the JSON encoding of one value for the column's Connect schema
/// (see the module docs of [`super::connect_schema`]).
pub fn write_value(buf: &mut Vec<u8>, col: &ColumnSchema, value: &Value) {
    match value {
        Value::Null | Value::Unavailable => buf.extend_from_slice(b"null"),
        Value::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => write_i64(buf, *i),
        Value::UInt(u) => match col.column_type {
            ColumnType::UInt64 => {
                let mut bytes = u.to_be_bytes().to_vec();
                // minimal two's complement of a non-negative number
                while bytes.len() > 1 && bytes[0] == 0 && bytes[1] & 0x80 == 0 {
                    bytes.remove(0);
                }
                if bytes[0] & 0x80 != 0 {
                    bytes.insert(0, 0);
                }
                write_decimal_bytes(buf, &bytes);
            }
            _ => write_u64(buf, *u),
        },
        Value::Float(f) => write_float(buf, *f, matches!(col.column_type, ColumnType::Float32)),
        Value::Decimal(d) => write_decimal_bytes(buf, &d.unscaled().to_signed_bytes_be()),
        Value::Text(s) | Value::Enum(s) => write_str(buf, s),
        Value::Bytes(b) => write_base64(buf, b),
        Value::Date(d) => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            write_i64(buf, (*d - epoch).num_days());
        }
        Value::Time { nanos, .. } | Value::TimeTz { nanos, .. } => write_i64(buf, nanos / 1000),
        Value::Timestamp { value, .. } => {
            let t = value.and_utc();
            match col.column_type {
                ColumnType::Timestamp { precision } if precision <= 3 => write_i64(buf, t.timestamp_millis()),
                _ => write_i64(buf, t.timestamp_micros()),
            }
        }
        Value::TimestampTz { value, precision } => {
            use std::io::Write as _;
            let digits = usize::from(precision.digits());
            buf.push(b'"');
            let _ = write!(buf, "{}", value.format("%Y-%m-%dT%H:%M:%S"));
            if digits > 0 {
                let frac = format!("{:09}", value.nanosecond() % 1_000_000_000);
                buf.push(b'.');
                buf.extend_from_slice(&frac.as_bytes()[..digits]);
            }
            buf.extend_from_slice(b"Z\"");
        }
        Value::Json(doc) => write_str(buf, &doc.to_string()),
        Value::Uuid(u) => write_str(buf, &u.to_string()),
        Value::Set(members) => write_str(buf, &members.join(",")),
        Value::Bits(bits) => {
            let n = bits.len();
            let mut bytes = vec![0u8; n.div_ceil(8)];
            for (i, bit) in bits.bits().iter().rev().enumerate() {
                if *bit {
                    bytes[i / 8] |= 1 << (i % 8);
                }
            }
            write_base64(buf, &bytes);
        }
        Value::Geometry(g) => {
            buf.extend_from_slice(b"{\"wkb\":");
            write_base64(buf, &g.wkb);
            buf.extend_from_slice(b",\"srid\":");
            match g.srid {
                Some(s) => write_i64(buf, i64::from(s)),
                None => buf.extend_from_slice(b"null"),
            }
            buf.push(b'}');
        }
        Value::Array(items) => {
            buf.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_value(buf, col, v);
            }
            buf.push(b']');
        }
    }
}

/// Appends a row as a JSON object in the schema's column order (columns the
/// row lacks are left out), or `null`. `keys` are the pre-escaped `"name":`
/// prefixes of the schema's columns.
pub fn write_row(buf: &mut Vec<u8>, schema: &TableSchema, keys: &[Vec<u8>], row: Option<&Row>) {
    let Some(row) = row else {
        buf.extend_from_slice(b"null");
        return;
    };
    buf.push(b'{');
    let mut first = true;
    for (col, key) in schema.columns.iter().zip(keys) {
        if let Some(v) = row.get(&col.name) {
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.extend_from_slice(key);
            write_value(buf, col, v);
        }
    }
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debezium::connect_schema::encode_value;
    use chrono::{DateTime, NaiveDate};
    use sluice_sink_api::{Bits, Decimal, Geometry, Precision};

    fn col(t: ColumnType) -> ColumnSchema {
        ColumnSchema { name: "c".into(), column_type: t, optional: true, source_type: None }
    }

    #[test]
    fn agrees_with_the_value_tree_encoding() {
        let dt = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap().and_hms_micro_opt(23, 59, 58, 123_456).unwrap();
        let cases: Vec<(ColumnType, Value)> = vec![
            (ColumnType::Int64, Value::Null),
            (ColumnType::Bool, Value::Bool(true)),
            (ColumnType::Int64, Value::Int(i64::MIN)),
            (ColumnType::Int32, Value::Int(-5)),
            (ColumnType::UInt64, Value::UInt(u64::MAX)),
            (ColumnType::UInt64, Value::UInt(0)),
            (ColumnType::UInt64, Value::UInt(128)),
            (ColumnType::UInt64, Value::UInt(127)),
            (ColumnType::UInt64, Value::UInt(1 << 40)),
            (ColumnType::Float64, Value::Float(0.1)),
            (ColumnType::Float64, Value::Float(-1e300)),
            (ColumnType::Float32, Value::Float(1.1)),
            (ColumnType::Float32, Value::Float(3.4e38)),
            (
                ColumnType::Decimal { precision: Some(7), scale: Some(2) },
                Value::Decimal(Decimal::parse("12345.67").unwrap()),
            ),
            (
                ColumnType::Decimal { precision: Some(7), scale: Some(2) },
                Value::Decimal(Decimal::parse("-0.01").unwrap()),
            ),
            (
                ColumnType::Decimal { precision: Some(7), scale: Some(2) },
                Value::Decimal(Decimal::parse("-128").unwrap()),
            ),
            (
                ColumnType::Decimal { precision: Some(7), scale: Some(2) },
                Value::Decimal(Decimal::parse("0.00").unwrap()),
            ),
            (
                ColumnType::Decimal { precision: Some(65), scale: Some(30) },
                Value::Decimal(
                    Decimal::parse("-12345678901234567890123456789012345.123456789012345678901234567890").unwrap(),
                ),
            ),
            (
                ColumnType::Text { max_length: None },
                Value::Text("quote \" backslash \\ nl \n tab \t ctl \u{1} é 😀".into()),
            ),
            (ColumnType::Enum { allowed: vec![] }, Value::Enum("a".into())),
            (ColumnType::Bytes { max_length: None }, Value::Bytes(vec![0, 255, 1, 2, 3])),
            (ColumnType::Bytes { max_length: None }, Value::Bytes(vec![])),
            (ColumnType::Date, Value::Date(NaiveDate::from_ymd_opt(1969, 12, 31).unwrap())),
            (
                ColumnType::Time { precision: 6 },
                Value::Time { nanos: -3_020_399_000_000_000, precision: Precision::new(6) },
            ),
            (ColumnType::Timestamp { precision: 2 }, Value::Timestamp { value: dt, precision: Precision::new(2) }),
            (ColumnType::Timestamp { precision: 6 }, Value::Timestamp { value: dt, precision: Precision::new(6) }),
            (
                ColumnType::TimestampTz { precision: 0 },
                Value::TimestampTz { value: DateTime::from_timestamp(0, 0).unwrap(), precision: Precision::new(0) },
            ),
            (
                ColumnType::TimestampTz { precision: 6 },
                Value::TimestampTz { value: dt.and_utc(), precision: Precision::new(6) },
            ),
            (
                ColumnType::TimestampTz { precision: 3 },
                Value::TimestampTz { value: dt.and_utc(), precision: Precision::new(3) },
            ),
            (ColumnType::Json, Value::Json(serde_json::json!({"a": [1, "x\"y", null], "b": {"c": 1.5}}))),
            (ColumnType::Set { allowed: vec![] }, Value::Set(vec!["a".into(), "c".into()])),
            (ColumnType::Set { allowed: vec![] }, Value::Set(vec![])),
            (
                ColumnType::Bits { length: 10 },
                Value::Bits(Bits::from_bools(vec![true, false, true, true, false, false, false, false, false, true])),
            ),
            (ColumnType::Geometry, Value::Geometry(Geometry { wkb: vec![1, 1, 0, 0, 0], srid: Some(4326) })),
            (ColumnType::Geometry, Value::Geometry(Geometry { wkb: vec![1], srid: None })),
        ];
        for (t, v) in cases {
            let c = col(t);
            let mut buf = Vec::new();
            write_value(&mut buf, &c, &v);
            let direct = String::from_utf8(buf).unwrap();
            let tree = serde_json::to_string(&encode_value(&c, &v)).unwrap();
            if matches!(c.column_type, ColumnType::Float32) {
                // the tree widens the f32 to f64 digits; both parse to the same f32
                let a: f32 = direct.parse().unwrap();
                let b: f32 = tree.parse().unwrap();
                assert_eq!(a, b, "{v:?}");
                assert!(direct.len() <= tree.len(), "shortest form: {direct} vs {tree}");
            } else {
                assert_eq!(direct, tree, "{v:?}");
            }
        }
    }
}
