//! Kafka Connect schemas (JsonConverter form) and value encodings of columns,
//! as Debezium's MySQL connector writes them with its defaults
//! (`decimal.handling.mode=precise`, `time.precision.mode=adaptive_time_microseconds`,
//! `bigint.unsigned.handling.mode=precise`, `binary.handling.mode=bytes`).
//!
//! | column | Connect type | schema name |
//! |---|---|---|
//! | TINYINT, SMALLINT, TINYINT UNSIGNED | int16 | |
//! | MEDIUMINT, INT, SMALLINT/MEDIUMINT UNSIGNED | int32 | |
//! | BIGINT, INT UNSIGNED | int64 | |
//! | BIGINT UNSIGNED, DECIMAL(p,s) | bytes | `org.apache.kafka.connect.data.Decimal` (scale, precision params) |
//! | FLOAT / DOUBLE | float32 / float64 | |
//! | DATE | int32 days | `io.debezium.time.Date` |
//! | TIME(fsp) | int64 µs | `io.debezium.time.MicroTime` |
//! | DATETIME(0–3) / (4–6) | int64 ms / µs | `io.debezium.time.Timestamp` / `MicroTimestamp` |
//! | TIMESTAMP(fsp) | string, UTC, fsp digits | `io.debezium.time.ZonedTimestamp` |
//! | YEAR | int32 | `io.debezium.time.Year` |
//! | CHAR/VARCHAR/TEXT | string | |
//! | BINARY/VARBINARY/BLOB | bytes (base64) | |
//! | ENUM / SET | string | `io.debezium.data.Enum` / `EnumSet` (allowed) |
//! | BIT(1) / BIT(n) | boolean / bytes little-endian | — / `io.debezium.data.Bits` (length) |
//! | JSON | string | `io.debezium.data.Json` |
//! | GEOMETRY (all kinds) | struct {wkb, srid} | `io.debezium.data.geometry.Geometry` |
//!
//! Every column schema also carries Debezium's `column.propagate.source.type`
//! parameters (`__debezium.source.column.type`, `…length`, `…scale`), which
//! let a consumer restore what Connect types cannot say (BIGINT UNSIGNED,
//! fractional-second precision).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{NaiveDate, Timelike};
use serde_json::{Map, Value as Json, json};
use sluice_sink_api::{ColumnSchema, ColumnType, Value};

fn field(mut schema: Map<String, Json>, name: &str, optional: bool) -> Json {
    schema.insert("optional".into(), Json::Bool(optional));
    schema.insert("field".into(), Json::String(name.to_string()));
    Json::Object(schema)
}

fn obj(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

fn source_params(col: &ColumnSchema) -> Map<String, Json> {
    let mut p = Map::new();
    let source = col.source_type.clone().unwrap_or_default();
    let base = source.split('(').next().unwrap_or_default().to_ascii_uppercase();
    p.insert("__debezium.source.column.type".into(), Json::String(base));
    if let Some(args) = source.split_once('(').and_then(|(_, r)| r.split_once(')')).map(|(a, _)| a) {
        let mut parts = args.split(',');
        if let Some(len) = parts.next().filter(|l| l.trim().chars().all(|c| c.is_ascii_digit())) {
            p.insert("__debezium.source.column.length".into(), Json::String(len.trim().to_string()));
            if let Some(scale) = parts.next() {
                p.insert("__debezium.source.column.scale".into(), Json::String(scale.trim().to_string()));
            }
        }
    }
    if source.to_ascii_lowercase().ends_with("unsigned") {
        p.insert("__debezium.source.column.type".into(), Json::String(source.to_ascii_uppercase()));
    }
    p
}

fn with_params(mut m: Map<String, Json>, extra: Map<String, Json>) -> Map<String, Json> {
    let params = m.entry("parameters").or_insert_with(|| Json::Object(Map::new()));
    if let Json::Object(p) = params {
        p.extend(extra);
    }
    m
}

/// The Connect field schema of one column.
pub fn column_schema(col: &ColumnSchema) -> Json {
    let named = |t: &str, name: &str| obj(json!({"type": t, "name": name, "version": 1}));
    let base: Map<String, Json> = match &col.column_type {
        ColumnType::Bool => obj(json!({"type": "boolean"})),
        ColumnType::Int16 => obj(json!({"type": "int16"})),
        ColumnType::Int32 if col.source_type.as_deref() == Some("year") => named("int32", "io.debezium.time.Year"),
        ColumnType::Int32 => obj(json!({"type": "int32"})),
        ColumnType::Int64 => obj(json!({"type": "int64"})),
        ColumnType::UInt64 => {
            obj(json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
            "parameters": {"scale": "0", "connect.decimal.precision": "20"}}))
        }
        ColumnType::Float32 => obj(json!({"type": "float"})),
        ColumnType::Float64 => obj(json!({"type": "double"})),
        ColumnType::Decimal { precision, scale } => {
            let mut params = Map::new();
            params.insert("scale".into(), Json::String(scale.unwrap_or(0).to_string()));
            if let Some(p) = precision {
                params.insert("connect.decimal.precision".into(), Json::String(p.to_string()));
            }
            obj(
                json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": params}),
            )
        }
        ColumnType::Date => named("int32", "io.debezium.time.Date"),
        ColumnType::Time { .. } | ColumnType::TimeTz { .. } => named("int64", "io.debezium.time.MicroTime"),
        ColumnType::Timestamp { precision } if *precision <= 3 => named("int64", "io.debezium.time.Timestamp"),
        ColumnType::Timestamp { .. } => named("int64", "io.debezium.time.MicroTimestamp"),
        ColumnType::TimestampTz { .. } => named("string", "io.debezium.time.ZonedTimestamp"),
        ColumnType::Text { .. } | ColumnType::Uuid | ColumnType::Unknown { .. } => obj(json!({"type": "string"})),
        ColumnType::Bytes { .. } => obj(json!({"type": "bytes"})),
        ColumnType::Enum { allowed } => obj(json!({"type": "string", "name": "io.debezium.data.Enum", "version": 1,
            "parameters": {"allowed": allowed.join(",")}})),
        ColumnType::Set { allowed } => obj(json!({"type": "string", "name": "io.debezium.data.EnumSet", "version": 1,
            "parameters": {"allowed": allowed.join(",")}})),
        ColumnType::Bits { length } => obj(json!({"type": "bytes", "name": "io.debezium.data.Bits", "version": 1,
            "parameters": {"length": length.to_string()}})),
        ColumnType::Json => named("string", "io.debezium.data.Json"),
        ColumnType::Geometry => {
            obj(json!({"type": "struct", "name": "io.debezium.data.geometry.Geometry", "version": 1,
            "doc": "Geometry", "fields": [
                {"type": "bytes", "optional": false, "field": "wkb"},
                {"type": "int32", "optional": true, "field": "srid"}]}))
        }
        ColumnType::Array { .. } => obj(json!({"type": "string"})),
    };
    field(with_params(base, source_params(col)), &col.name, col.optional)
}

fn decimal_bytes(unscaled: &str) -> String {
    // Big-endian two's complement of a decimal integer string, minimal length.
    let negative = unscaled.starts_with('-');
    let digits = unscaled.trim_start_matches('-');
    // Repeated division by 256 on the decimal digit string.
    let mut num: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    let mut bytes: Vec<u8> = Vec::new();
    while !(num.is_empty() || num.iter().all(|d| *d == 0)) {
        let mut rem: u32 = 0;
        let mut next = Vec::with_capacity(num.len());
        for d in &num {
            let cur = rem * 10 + u32::from(*d);
            let q = cur / 256;
            rem = cur % 256;
            if !(next.is_empty() && q == 0) {
                next.push(q as u8);
            }
        }
        bytes.push(rem as u8);
        num = next;
    }
    if bytes.is_empty() {
        bytes.push(0);
    }
    bytes.reverse();
    if negative {
        // two's complement: invert and add one
        for b in bytes.iter_mut() {
            *b = !*b;
        }
        for b in bytes.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        if bytes[0] & 0x80 == 0 {
            bytes.insert(0, 0xff);
        }
    } else if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    B64.encode(bytes)
}

/// The unscaled digits of a decimal's text at `scale` (`-12.30`, 2 -> `-1230`).
fn unscaled_text(text: &str) -> String {
    let negative = text.starts_with('-');
    let body: String = text.trim_start_matches('-').chars().filter(|c| *c != '.').collect();
    let body = body.trim_start_matches('0');
    let body = if body.is_empty() { "0" } else { body };
    if negative && body != "0" { format!("-{body}") } else { body.to_string() }
}

/// The JSON encoding of one value for the column's Connect schema.
pub fn encode_value(col: &ColumnSchema, value: &Value) -> Json {
    match value {
        Value::Null | Value::Unavailable => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => json!(i),
        Value::UInt(u) => match col.column_type {
            ColumnType::UInt64 => Json::String(decimal_bytes(&u.to_string())),
            _ => json!(u),
        },
        Value::Float(f) => match col.column_type {
            ColumnType::Float32 => json!(*f as f32),
            _ => json!(f),
        },
        Value::Decimal(d) => Json::String(decimal_bytes(&unscaled_text(&d.to_string()))),
        Value::Text(s) | Value::Enum(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(B64.encode(b)),
        Value::Date(d) => {
            json!((*d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days())
        }
        Value::Time { nanos, .. } | Value::TimeTz { nanos, .. } => json!(nanos / 1000),
        Value::Timestamp { value, .. } => {
            let t = value.and_utc();
            match col.column_type {
                ColumnType::Timestamp { precision } if precision <= 3 => json!(t.timestamp_millis()),
                _ => json!(t.timestamp_micros()),
            }
        }
        Value::TimestampTz { value, precision } => {
            let digits = usize::from(precision.digits());
            let base = value.format("%Y-%m-%dT%H:%M:%S").to_string();
            if digits == 0 {
                Json::String(format!("{base}Z"))
            } else {
                let frac = format!("{:09}", value.nanosecond() % 1_000_000_000);
                Json::String(format!("{base}.{}Z", &frac[..digits]))
            }
        }
        Value::Json(doc) => Json::String(doc.to_string()),
        Value::Uuid(u) => Json::String(u.to_string()),
        Value::Set(members) => Json::String(members.join(",")),
        Value::Bits(bits) => {
            let n = bits.len();
            let mut bytes = vec![0u8; n.div_ceil(8)];
            for (i, bit) in bits.bits().iter().rev().enumerate() {
                if *bit {
                    bytes[i / 8] |= 1 << (i % 8);
                }
            }
            Json::String(B64.encode(bytes))
        }
        Value::Geometry(g) => json!({"wkb": B64.encode(&g.wkb), "srid": g.srid}),
        Value::Array(items) => Json::Array(items.iter().map(|v| encode_value(col, v)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sink_api::{Bits, Decimal};

    fn col(t: ColumnType) -> ColumnSchema {
        ColumnSchema { name: "c".into(), column_type: t, optional: true, source_type: None }
    }

    #[test]
    fn decimal_and_bits_encodings_match_debezium() {
        // EXPECTED.md: `EtaH` -> 12345.67 for DECIMAL(7,2).
        let d = col(ColumnType::Decimal { precision: Some(7), scale: Some(2) });
        assert_eq!(encode_value(&d, &Value::Decimal(Decimal::parse("12345.67").unwrap())), json!("EtaH"));
        let back = Decimal::from_be_twos_complement(&B64.decode("EtaH").unwrap(), 2);
        assert_eq!(back.to_string(), "12345.67");
        for text in ["-0.01", "-128", "127", "128", "-129", "0.00", "-12345678901234.123450"] {
            let v = Decimal::parse(text).unwrap();
            let Json::String(b) = encode_value(&d, &Value::Decimal(v.clone())) else { panic!() };
            assert_eq!(Decimal::from_be_twos_complement(&B64.decode(b).unwrap(), v.scale()).to_string(), text);
        }
        // EXPECTED.md: `2w5uAQAAAAA=` -> 23989979 for BIT(64).
        let bits = Bits::from_le_bytes(&B64.decode("2w5uAQAAAAA=").unwrap(), 64);
        assert_eq!(encode_value(&col(ColumnType::Bits { length: 64 }), &Value::Bits(bits)), json!("2w5uAQAAAAA="));
        // BIGINT UNSIGNED max as Decimal scale 0.
        let u = encode_value(&col(ColumnType::UInt64), &Value::UInt(u64::MAX));
        let Json::String(b) = u else { panic!() };
        assert_eq!(Decimal::from_be_twos_complement(&B64.decode(b).unwrap(), 0).to_string(), u64::MAX.to_string());
    }

    #[test]
    fn temporal_encodings() {
        let dt = chrono::NaiveDate::from_ymd_opt(2014, 9, 8).unwrap().and_hms_milli_opt(17, 51, 4, 780).unwrap();
        let v = Value::Timestamp { value: dt, precision: sluice_sink_api::Precision::new(2) };
        // EXPECTED.md temporal_mysql: DATETIME(2) -> io.debezium.time.Timestamp 1410198664780.
        assert_eq!(encode_value(&col(ColumnType::Timestamp { precision: 2 }), &v), json!(1_410_198_664_780i64));
        let date = Value::Date(chrono::NaiveDate::from_ymd_opt(2014, 9, 8).unwrap());
        assert_eq!(encode_value(&col(ColumnType::Date), &date), json!(16321));
        let tz = Value::TimestampTz { value: dt.and_utc(), precision: sluice_sink_api::Precision::new(2) };
        assert_eq!(encode_value(&col(ColumnType::TimestampTz { precision: 2 }), &tz), json!("2014-09-08T17:51:04.78Z"));
    }
}
