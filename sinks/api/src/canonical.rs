//! The canonical JSON form of values and rows (documented in
//! `docs/canonical-form.md`).
//!
//! JSON's own types are used where they lose nothing (null, booleans,
//! integers, finite floats, text, arrays); every other value is a one-member
//! object naming its type, so the form is unambiguous and reversible:
//! `{"decimal":"12345.67"}`, `{"timestamp":"2014-09-08T17:51:04.780"}`,
//! `{"json":null}` (the JSON literal null, not SQL NULL).

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value as Json, json};

use crate::row::Row;
use crate::temporal::{format_naive, format_offset, format_time, format_utc};
use crate::value::{Bits, Decimal, Geometry, Precision, Value};

/// The canonical JSON form of one value.
pub fn value_to_json(value: &Value) -> Json {
    let tagged = |tag: &str, inner: Json| {
        let mut m = Map::with_capacity(1);
        m.insert(tag.to_string(), inner);
        Json::Object(m)
    };
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Float(f) => {
            if f.is_finite() {
                json!(f)
            } else {
                tagged("float", Json::String(f.to_string()))
            }
        }
        Value::Decimal(d) => tagged("decimal", Json::String(d.to_string())),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bytes(b) => tagged("bytes", Json::String(hex::encode(b))),
        Value::Date(d) => tagged("date", Json::String(d.format("%Y-%m-%d").to_string())),
        Value::Time { nanos, precision } => tagged("time", Json::String(format_time(*nanos, *precision))),
        Value::TimeTz { nanos, offset_seconds, precision } => tagged(
            "timetz",
            Json::String(format!("{}{}", format_time(*nanos, *precision), format_offset(*offset_seconds))),
        ),
        Value::Timestamp { value, precision } => tagged("timestamp", Json::String(format_naive(value, *precision))),
        Value::TimestampTz { value, precision } => tagged("timestamptz", Json::String(format_utc(value, *precision))),
        Value::Json(doc) => tagged("json", doc.clone()),
        Value::Uuid(u) => tagged("uuid", Json::String(u.to_string())),
        Value::Enum(s) => tagged("enum", Json::String(s.clone())),
        Value::Set(members) => tagged("set", Json::Array(members.iter().cloned().map(Json::String).collect())),
        Value::Bits(bits) => tagged("bits", Json::String(bits.to_bit_string())),
        Value::Geometry(g) => tagged("geometry", json!({"wkb": hex::encode(&g.wkb), "srid": g.srid})),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Unavailable => tagged("unavailable", Json::Bool(true)),
    }
}

/// The canonical JSON object of a row (columns in row order).
pub fn row_to_json(row: &Row) -> Json {
    let mut m = Map::with_capacity(row.len());
    for (name, value) in row.iter() {
        m.insert(name.to_string(), value_to_json(value));
    }
    Json::Object(m)
}

/// Why a canonical form could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a canonical value: {0}")]
pub struct CanonicalError(pub String);

fn precision_of(text: &str) -> Precision {
    // digits after the last '.' up to a zone designator
    match text.rfind('.') {
        Some(dot) => {
            let digits = text[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
            Precision::new(digits as u8)
        }
        None => Precision::SECONDS,
    }
}

fn parse_time(text: &str) -> Result<i64, CanonicalError> {
    let err = || CanonicalError(format!("bad time {text:?}"));
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 {
        return Err(err());
    }
    let h: i64 = parts[0].parse().map_err(|_| err())?;
    let m: i64 = parts[1].parse().map_err(|_| err())?;
    let s: i64 = parts[2].parse().map_err(|_| err())?;
    let frac_nanos: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}")[..9].parse().map_err(|_| err())? };
    let nanos = ((h * 3600 + m * 60 + s) * 1_000_000_000) + frac_nanos;
    Ok(if negative { -nanos } else { nanos })
}

fn parse_offset(text: &str) -> Result<i32, CanonicalError> {
    if text == "Z" {
        return Ok(0);
    }
    let err = || CanonicalError(format!("bad offset {text:?}"));
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let (h, m) = text[1..].split_once(':').ok_or_else(err)?;
    Ok(sign * (h.parse::<i32>().map_err(|_| err())? * 3600 + m.parse::<i32>().map_err(|_| err())? * 60))
}

/// Reads a canonical form back into a [`Value`] (inverse of [`value_to_json`]).
pub fn value_from_json(json: &Json) -> Result<Value, CanonicalError> {
    let err = |what: &str| CanonicalError(format!("{what}: {json}"));
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().ok_or_else(|| err("number"))?)
            }
        }
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(value_from_json).collect::<Result<_, _>>()?),
        Json::Object(m) => {
            let (tag, inner) = m.iter().next().filter(|_| m.len() == 1).ok_or_else(|| err("tagged object"))?;
            let text = || inner.as_str().ok_or_else(|| err(tag));
            match tag.as_str() {
                "float" => Value::Float(text()?.parse().map_err(|_| err("float"))?),
                "decimal" => Value::Decimal(Decimal::parse(text()?).ok_or_else(|| err("decimal"))?),
                "bytes" => Value::Bytes(hex::decode(text()?).map_err(|_| err("bytes"))?),
                "date" => Value::Date(NaiveDate::parse_from_str(text()?, "%Y-%m-%d").map_err(|_| err("date"))?),
                "time" => {
                    let t = text()?;
                    Value::Time { nanos: parse_time(t)?, precision: precision_of(t) }
                }
                "timetz" => {
                    let t = text()?;
                    let split = t.rfind(['+', '-', 'Z']).filter(|i| *i > 0).ok_or_else(|| err("timetz"))?;
                    let (time, offset) = t.split_at(split);
                    Value::TimeTz {
                        nanos: parse_time(time)?,
                        offset_seconds: parse_offset(offset)?,
                        precision: precision_of(time),
                    }
                }
                "timestamp" => {
                    let t = text()?;
                    Value::Timestamp {
                        value: NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                            .map_err(|_| err("timestamp"))?,
                        precision: precision_of(t),
                    }
                }
                "timestamptz" => {
                    let t = text()?;
                    Value::TimestampTz {
                        value: DateTime::parse_from_rfc3339(t).map_err(|_| err("timestamptz"))?.with_timezone(&Utc),
                        precision: precision_of(t.trim_end_matches('Z')),
                    }
                }
                "json" => Value::Json(inner.clone()),
                "uuid" => Value::Uuid(text()?.parse().map_err(|_| err("uuid"))?),
                "enum" => Value::Enum(text()?.to_string()),
                "set" => Value::Set(
                    inner
                        .as_array()
                        .ok_or_else(|| err("set"))?
                        .iter()
                        .map(|m| m.as_str().map(str::to_string).ok_or_else(|| err("set member")))
                        .collect::<Result<_, _>>()?,
                ),
                "bits" => Value::Bits(Bits::from_bools(text()?.chars().map(|c| c == '1').collect())),
                "geometry" => Value::Geometry(Geometry {
                    wkb: hex::decode(inner["wkb"].as_str().ok_or_else(|| err("geometry"))?)
                        .map_err(|_| err("geometry"))?,
                    srid: inner["srid"].as_i64().map(|s| s as i32),
                }),
                "unavailable" => Value::Unavailable,
                _ => return Err(err("unknown tag")),
            }
        }
    })
}

/// Reads a canonical row object back.
pub fn row_from_json(json: &Json) -> Result<Row, CanonicalError> {
    let obj = json.as_object().ok_or_else(|| CanonicalError(format!("row must be an object: {json}")))?;
    let mut row = Row::with_capacity(obj.len());
    for (name, value) in obj {
        row.insert(name.clone(), value_from_json(value)?);
    }
    Ok(row)
}

/// Standard base64 (used by sinks that must carry bytes in JSON documents).
pub fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn round_trips_every_kind() {
        let ts = NaiveDate::from_ymd_opt(2014, 9, 8).unwrap().and_hms_nano_opt(17, 51, 4, 780_000_000).unwrap();
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-5),
            Value::UInt(u64::MAX),
            Value::Float(1.5),
            Value::Float(f64::INFINITY),
            Value::Decimal(Decimal::parse("12345.67").unwrap()),
            Value::Text("产品".into()),
            Value::Bytes(b"MySQL".to_vec()),
            Value::Date(NaiveDate::from_ymd_opt(2016, 1, 16).unwrap()),
            Value::Time { nanos: 64_264_780_000_000, precision: Precision::MILLIS },
            Value::Time { nanos: -1_000_000_000, precision: Precision::SECONDS },
            Value::TimeTz { nanos: 3_600_000_000_000, offset_seconds: -21600, precision: Precision::MICROS },
            Value::Timestamp { value: ts, precision: Precision::new(2) },
            Value::TimestampTz {
                value: Utc.timestamp_opt(1_294_764_030, 123_456_789).unwrap(),
                precision: Precision::NANOS,
            },
            Value::Json(Json::Null),
            Value::Json(json!({"k": [1, "a"]})),
            Value::Uuid(uuid::Uuid::nil()),
            Value::Enum("b".into()),
            Value::Set(vec!["a".into(), "b".into()]),
            Value::Bits(Bits::from_le_bytes(&[2], 2)),
            Value::Geometry(Geometry { wkb: vec![1, 2], srid: Some(4326) }),
            Value::Array(vec![Value::Int(1), Value::Text("x".into())]),
            Value::Unavailable,
        ];
        for v in values {
            let j = value_to_json(&v);
            assert_eq!(value_from_json(&j).unwrap(), v, "round trip of {j}");
        }
    }
}
