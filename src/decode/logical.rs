//! Connect values → lossless [`Value`]s, honouring the logical types.
//!
//! The schema's `name` selects the logical type (see [`names`](super::names));
//! without a schema, types are inferred from the value (integers, floats,
//! text, arrays; structs and maps become JSON documents). Every logical type
//! keeps its precision: `io.debezium.time.Timestamp` is milliseconds
//! ([`Precision::MILLIS`]), `MicroTimestamp` microseconds, a `ZonedTimestamp`
//! as many fraction digits as its text carries. The TOAST placeholder
//! `__debezium_unavailable_value` (as text, as its bytes, or as the single
//! element of an array) becomes [`Value::Unavailable`].

use base64::Engine as _;
use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value as Json};
use sluice_sink_api::{Bits, Geometry, Precision, UNAVAILABLE_PLACEHOLDER, Value};

use super::connect::{ConnectSchema, ConnectType, ConnectValue};
use super::error::{AtField, FieldError};
use super::names::*;
use super::numbers::{decimal_from_unscaled, pad_scale};
use super::zoned::{parse_zoned_time, parse_zoned_timestamp};

/// Most bits a `Bits` value may declare beyond its bytes (trailing zero bytes
/// are dropped by Java's `BitSet.toByteArray`, so `length` may exceed 8×bytes).
const MAX_IMPLICIT_BITS: usize = 1 << 20;

/// Converts one value. `schema` is the field's schema when the record had one.
pub fn to_value(schema: Option<&ConnectSchema>, value: ConnectValue) -> Result<Value, FieldError> {
    if is_placeholder(&value) {
        return Ok(Value::Unavailable);
    }
    match schema {
        None => Ok(infer_value(value)),
        Some(schema) => with_schema(schema, value),
    }
}

fn is_placeholder(value: &ConnectValue) -> bool {
    match value {
        ConnectValue::String(s) => s == UNAVAILABLE_PLACEHOLDER,
        ConnectValue::Bytes(b) => b.as_slice() == UNAVAILABLE_PLACEHOLDER.as_bytes(),
        ConnectValue::Array(items) => items.len() == 1 && is_placeholder(&items[0]),
        _ => false,
    }
}

/// Schemaless: the value's own shape decides.
pub fn infer_value(value: ConnectValue) -> Value {
    match value {
        ConnectValue::Null => Value::Null,
        ConnectValue::Bool(b) => Value::Bool(b),
        ConnectValue::Int(i) => Value::Int(i),
        ConnectValue::UInt(u) => Value::UInt(u),
        ConnectValue::Float(f) => Value::Float(f),
        ConnectValue::String(s) if s == UNAVAILABLE_PLACEHOLDER => Value::Unavailable,
        ConnectValue::String(s) => Value::Text(s),
        ConnectValue::Bytes(b) => Value::Bytes(b),
        ConnectValue::Decimal(d) => Value::Decimal(d),
        ConnectValue::Array(items) => Value::Array(items.into_iter().map(infer_value).collect()),
        other @ (ConnectValue::Map(_) | ConnectValue::Struct(_)) => Value::Json(to_plain_json(other)),
    }
}

/// A Connect value as plain JSON (nested structs and maps, schemaless documents).
pub fn to_plain_json(value: ConnectValue) -> Json {
    match value {
        ConnectValue::Null => Json::Null,
        ConnectValue::Bool(b) => Json::Bool(b),
        ConnectValue::Int(i) => Json::from(i),
        ConnectValue::UInt(u) => Json::from(u),
        ConnectValue::Float(f) => {
            serde_json::Number::from_f64(f).map(Json::Number).unwrap_or_else(|| Json::String(f.to_string()))
        }
        ConnectValue::String(s) => Json::String(s),
        ConnectValue::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        ConnectValue::Decimal(d) => Json::String(d.to_string()),
        ConnectValue::Array(items) => Json::Array(items.into_iter().map(to_plain_json).collect()),
        ConnectValue::Map(entries) => {
            let mut m = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let key = match k {
                    ConnectValue::String(s) => s,
                    other => to_plain_json(other).to_string(),
                };
                m.insert(key, to_plain_json(v));
            }
            Json::Object(m)
        }
        ConnectValue::Struct(fields) => Json::Object(fields.into_iter().map(|(k, v)| (k, to_plain_json(v))).collect()),
    }
}

fn expected(what: &str, schema: &ConnectSchema, found: &ConnectValue) -> FieldError {
    match schema.name() {
        Some(name) => FieldError::mismatch(format!("{what} ({name})"), found.describe()),
        None => FieldError::mismatch(what, found.describe()),
    }
}

fn int_of(schema: &ConnectSchema, value: &ConnectValue, what: &str) -> Result<i64, FieldError> {
    match value {
        ConnectValue::Int(i) => Ok(*i),
        other => Err(expected(what, schema, other)),
    }
}

fn with_schema(schema: &ConnectSchema, value: ConnectValue) -> Result<Value, FieldError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let Some(name) = schema.name() else {
        return primitive(schema, value);
    };
    match name {
        CONNECT_DECIMAL => decimal(schema, value),
        VARIABLE_SCALE_DECIMAL => variable_scale_decimal(schema, value),
        DATE | CONNECT_DATE => {
            let days = int_of(schema, &value, "int32 days since 1970-01-01")?;
            NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|epoch| epoch.checked_add_signed(chrono::TimeDelta::try_days(days)?))
                .map(Value::Date)
                .ok_or_else(|| FieldError::new(format!("date {days} days since 1970-01-01 is out of range")))
        }
        TIME | CONNECT_TIME => time(schema, &value, "int32 milliseconds past midnight", 1_000_000, Precision::MILLIS),
        MICRO_TIME => time(schema, &value, "int64 microseconds past midnight", 1_000, Precision::MICROS),
        NANO_TIME => time(schema, &value, "int64 nanoseconds past midnight", 1, Precision::NANOS),
        TIMESTAMP | CONNECT_TIMESTAMP => {
            let ms = int_of(schema, &value, "int64 milliseconds since the epoch")?;
            let ts = DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| FieldError::new(format!("timestamp {ms} ms is out of range")))?;
            Ok(Value::Timestamp { value: ts.naive_utc(), precision: Precision::MILLIS })
        }
        MICRO_TIMESTAMP => {
            let us = int_of(schema, &value, "int64 microseconds since the epoch")?;
            let ts = DateTime::from_timestamp_micros(us)
                .ok_or_else(|| FieldError::new(format!("timestamp {us} µs is out of range")))?;
            Ok(Value::Timestamp { value: ts.naive_utc(), precision: Precision::MICROS })
        }
        NANO_TIMESTAMP => {
            let ns = int_of(schema, &value, "int64 nanoseconds since the epoch")?;
            Ok(Value::Timestamp { value: DateTime::from_timestamp_nanos(ns).naive_utc(), precision: Precision::NANOS })
        }
        ZONED_TIMESTAMP => {
            let text = value.as_str().ok_or_else(|| expected("an ISO-8601 timestamp string", schema, &value))?;
            let (instant, precision) = parse_zoned_timestamp(text)
                .ok_or_else(|| expected("an ISO-8601 timestamp with offset", schema, &value))?;
            Ok(Value::TimestampTz { value: instant, precision })
        }
        ZONED_TIME => {
            let text = value.as_str().ok_or_else(|| expected("an ISO-8601 time string", schema, &value))?;
            let (nanos, offset_seconds, precision) =
                parse_zoned_time(text).ok_or_else(|| expected("an ISO-8601 time with offset", schema, &value))?;
            Ok(Value::TimeTz { nanos, offset_seconds, precision })
        }
        YEAR => Ok(Value::Int(int_of(schema, &value, "int32 year")?)),
        JSON => match value {
            ConnectValue::String(text) => serde_json::from_str(&text)
                .map(Value::Json)
                .map_err(|e| FieldError::new(format!("invalid JSON document in an {JSON} field: {e}"))),
            other => Err(expected("a JSON document as a string", schema, &other)),
        },
        UUID => match &value {
            ConnectValue::String(text) => {
                uuid::Uuid::parse_str(text).map(Value::Uuid).map_err(|_| expected("a UUID string", schema, &value))
            }
            other => Err(expected("a UUID string", schema, other)),
        },
        ENUM => match value {
            ConnectValue::String(s) => Ok(Value::Enum(s)),
            other => Err(expected("a string", schema, &other)),
        },
        ENUM_SET => match value {
            ConnectValue::String(s) if s.is_empty() => Ok(Value::Set(Vec::new())),
            ConnectValue::String(s) => Ok(Value::Set(s.split(',').map(str::to_string).collect())),
            other => Err(expected("a comma-separated string", schema, &other)),
        },
        BITS => bits(schema, value),
        GEOMETRY | GEOGRAPHY | POINT => geometry(schema, value),
        _ => primitive(schema, value),
    }
}

fn time(
    schema: &ConnectSchema,
    value: &ConnectValue,
    what: &str,
    nanos_per_unit: i64,
    precision: Precision,
) -> Result<Value, FieldError> {
    let units = int_of(schema, value, what)?;
    let nanos =
        units.checked_mul(nanos_per_unit).ok_or_else(|| FieldError::new(format!("time {units} is out of range")))?;
    Ok(Value::Time { nanos, precision })
}

fn is_unsigned_bigint(schema: &ConnectSchema) -> bool {
    schema.parameter(PARAM_SOURCE_TYPE).is_some_and(|t| {
        let t = t.to_ascii_uppercase();
        t.starts_with("BIGINT") && t.contains("UNSIGNED")
    })
}

fn decimal(schema: &ConnectSchema, value: ConnectValue) -> Result<Value, FieldError> {
    let scale: i64 = match schema.parameter(PARAM_SCALE) {
        Some(s) => s.trim().parse().map_err(|_| FieldError::new(format!("invalid Decimal scale parameter {s:?}")))?,
        None => 0,
    };
    let decimal = match value {
        ConnectValue::Bytes(bytes) => decimal_from_unscaled(&bytes, scale)
            .ok_or_else(|| FieldError::new(format!("Decimal scale {scale} is out of range")))?,
        ConnectValue::Decimal(d) => pad_scale(d, scale.max(0) as u32),
        other => return Err(expected("base64 bytes of a big-endian unscaled integer", schema, &other)),
    };
    if decimal.scale() == 0
        && is_unsigned_bigint(schema)
        && let Ok(u) = decimal.to_string().parse::<u64>()
    {
        return Ok(Value::UInt(u));
    }
    Ok(Value::Decimal(decimal))
}

fn variable_scale_decimal(schema: &ConnectSchema, mut value: ConnectValue) -> Result<Value, FieldError> {
    if !matches!(value, ConnectValue::Struct(_)) {
        return Err(expected("a struct {scale, value}", schema, &value));
    }
    let scale = match value.take_field("scale") {
        Some(ConnectValue::Int(s)) => s,
        Some(other) => {
            return Err(FieldError::at_field("scale", format!("expected int32, found {}", other.describe())));
        }
        None => return Err(FieldError::at_field("scale", "missing")),
    };
    match value.take_field("value") {
        Some(ConnectValue::Bytes(bytes)) => decimal_from_unscaled(&bytes, scale)
            .map(Value::Decimal)
            .ok_or_else(|| FieldError::at_field("scale", format!("scale {scale} is out of range"))),
        Some(ConnectValue::Decimal(d)) => Ok(Value::Decimal(d)),
        Some(other) => Err(FieldError::at_field("value", format!("expected bytes, found {}", other.describe()))),
        None => Err(FieldError::at_field("value", "missing")),
    }
}

fn bits(schema: &ConnectSchema, value: ConnectValue) -> Result<Value, FieldError> {
    let bytes = match value {
        ConnectValue::Bytes(b) => b,
        // BIT(1) is a boolean in Debezium; tolerate it under the Bits name too.
        ConnectValue::Bool(b) => return Ok(Value::Bits(Bits::from_bools(vec![b]))),
        other => return Err(expected("little-endian bytes", schema, &other)),
    };
    let length = match schema.parameter(PARAM_LENGTH) {
        Some(l) => {
            l.trim().parse::<usize>().map_err(|_| FieldError::new(format!("invalid Bits length parameter {l:?}")))?
        }
        None => bytes.len() * 8,
    };
    if length > bytes.len() * 8 && length > MAX_IMPLICIT_BITS {
        return Err(FieldError::new(format!("Bits length {length} is far beyond its {} bytes", bytes.len())));
    }
    Ok(Value::Bits(Bits::from_le_bytes(&bytes, length)))
}

fn geometry(schema: &ConnectSchema, mut value: ConnectValue) -> Result<Value, FieldError> {
    if !matches!(value, ConnectValue::Struct(_)) {
        return Err(expected("a struct {wkb, srid}", schema, &value));
    }
    let srid = match value.take_field("srid") {
        None | Some(ConnectValue::Null) => None,
        Some(ConnectValue::Int(s)) => {
            Some(i32::try_from(s).map_err(|_| FieldError::at_field("srid", format!("SRID {s} out of range")))?)
        }
        Some(other) => return Err(FieldError::at_field("srid", format!("expected int32, found {}", other.describe()))),
    };
    let wkb = match value.take_field("wkb") {
        Some(ConnectValue::Bytes(b)) => b,
        None | Some(ConnectValue::Null) if schema.name() == Some(POINT) => {
            // PostgreSQL `point`: x/y without WKB; build a little-endian WKB point.
            let coord = |v: &mut ConnectValue, name: &str| match v.take_field(name) {
                Some(ConnectValue::Float(f)) => Ok(f),
                Some(ConnectValue::Int(i)) => Ok(i as f64),
                other => Err(FieldError::at_field(
                    name,
                    format!(
                        "expected float64, found {}",
                        other.map(|o| o.describe()).unwrap_or_else(|| "nothing".into())
                    ),
                )),
            };
            let x = coord(&mut value, "x")?;
            let y = coord(&mut value, "y")?;
            let mut wkb = Vec::with_capacity(21);
            wkb.push(1u8);
            wkb.extend_from_slice(&1u32.to_le_bytes());
            wkb.extend_from_slice(&x.to_le_bytes());
            wkb.extend_from_slice(&y.to_le_bytes());
            wkb
        }
        Some(other) => return Err(FieldError::at_field("wkb", format!("expected bytes, found {}", other.describe()))),
        None => return Err(FieldError::at_field("wkb", "missing")),
    };
    Ok(Value::Geometry(Geometry { wkb, srid }))
}

fn primitive(schema: &ConnectSchema, value: ConnectValue) -> Result<Value, FieldError> {
    match (schema.kind, value) {
        (ConnectType::Int64, ConnectValue::Int(i)) if is_unsigned_bigint(schema) => Ok(Value::UInt(i as u64)),
        (k, ConnectValue::Int(i)) if k.is_integer() => Ok(Value::Int(i)),
        (ConnectType::Int64, ConnectValue::UInt(u)) => Ok(Value::UInt(u)),
        (ConnectType::Float32 | ConnectType::Float64, ConnectValue::Float(f)) => Ok(Value::Float(f)),
        (ConnectType::Float32 | ConnectType::Float64, ConnectValue::Int(i)) => Ok(Value::Float(i as f64)),
        (ConnectType::Boolean, ConnectValue::Bool(b)) => Ok(Value::Bool(b)),
        (ConnectType::String, ConnectValue::String(s)) => Ok(Value::Text(s)),
        (ConnectType::Bytes, ConnectValue::Bytes(b)) => Ok(Value::Bytes(b)),
        (ConnectType::Bytes, ConnectValue::Decimal(d)) => Ok(Value::Decimal(d)),
        (ConnectType::Array, ConnectValue::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                out.push(to_value(schema.items.as_deref(), item).at(&i.to_string())?);
            }
            Ok(Value::Array(out))
        }
        (ConnectType::Map, v @ ConnectValue::Map(_)) | (ConnectType::Struct, v @ ConnectValue::Struct(_)) => {
            Ok(Value::Json(to_plain_json(v)))
        }
        (_, other) => Err(expected(schema.kind.as_str(), schema, &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(kind: ConnectType, name: &str) -> ConnectSchema {
        ConnectSchema::primitive(kind, true).named(name)
    }

    fn text(v: &Value) -> String {
        sluice_sink_api::canonical::value_to_json(v).to_string()
    }

    #[test]
    fn decimal_from_base64_bytes() {
        let s = named(ConnectType::Bytes, CONNECT_DECIMAL).with_parameter("scale", "2");
        let v = to_value(Some(&s), ConnectValue::Bytes(vec![0x12, 0xd6, 0x87])).unwrap();
        assert_eq!(text(&v), r#"{"decimal":"12345.67"}"#);
        let unsigned = named(ConnectType::Bytes, CONNECT_DECIMAL)
            .with_parameter("scale", "0")
            .with_parameter(PARAM_SOURCE_TYPE, "BIGINT UNSIGNED");
        let v =
            to_value(Some(&unsigned), ConnectValue::Bytes(vec![0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
                .unwrap();
        assert_eq!(v, Value::UInt(u64::MAX));
    }

    #[test]
    fn unsigned_bigint_in_long_mode() {
        let s = ConnectSchema::primitive(ConnectType::Int64, true).with_parameter(PARAM_SOURCE_TYPE, "BIGINT UNSIGNED");
        assert_eq!(to_value(Some(&s), ConnectValue::Int(-1)).unwrap(), Value::UInt(u64::MAX));
    }

    #[test]
    fn placeholder_in_every_form() {
        let bytes = ConnectSchema::primitive(ConnectType::Bytes, true);
        let p = UNAVAILABLE_PLACEHOLDER;
        assert_eq!(to_value(Some(&bytes), ConnectValue::Bytes(p.as_bytes().to_vec())).unwrap(), Value::Unavailable);
        assert_eq!(to_value(Some(&bytes), ConnectValue::String(p.into())).unwrap(), Value::Unavailable);
        let json = named(ConnectType::String, JSON);
        assert_eq!(to_value(Some(&json), ConnectValue::String(p.into())).unwrap(), Value::Unavailable);
        assert_eq!(
            to_value(None, ConnectValue::Array(vec![ConnectValue::String(p.into())])).unwrap(),
            Value::Unavailable
        );
    }

    #[test]
    fn mismatches_say_what_was_expected() {
        let s = named(ConnectType::Int32, DATE);
        let err = to_value(Some(&s), ConnectValue::String("x".into())).unwrap_err();
        assert_eq!(err.message(), r#"expected int32 days since 1970-01-01 (io.debezium.time.Date), found string "x""#);
        let err = to_value(Some(&named(ConnectType::String, JSON)), ConnectValue::String("{".into())).unwrap_err();
        assert!(err.message().starts_with("invalid JSON document"), "{}", err.message());
    }
}
