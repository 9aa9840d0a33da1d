//! One column value of a rows event, from its binlog bytes to a lossless
//! [`Value`].
//!
//! Integers, floats, strings, enum/set, bit, year and geometry are read here;
//! the packed temporal formats, DECIMAL and MySQL's binary JSON use
//! `mysql_common`'s readers. Mapping (see docs/mysql-source.md):
//! BIGINT UNSIGNED -> `UInt`, other integers and YEAR -> `Int`, DECIMAL ->
//! `Decimal` (exact, declared scale), FLOAT -> `Float` (shortest decimal of the
//! `f32`), DATE -> `Date`, TIME(fsp) -> `Time`, DATETIME(fsp) -> `Timestamp`,
//! TIMESTAMP(fsp) -> `TimestampTz` (UTC), text by charset -> `Text`, binary ->
//! `Bytes`, ENUM -> `Enum`, SET -> `Set`, BIT(1) -> `Bool`, BIT(n) -> `Bits`,
//! JSON -> `Json`, GEOMETRY -> `Geometry` (WKB + SRID). Zero dates
//! (`0000-00-00`) become `Null`, as Debezium does.

use chrono::{DateTime, NaiveDate};
use mysql_common::binlog::{decimal, jsonb, misc};
use mysql_common::io::ParseBuf;
use sluice_sink_api::{Bits, Decimal, Geometry, Precision, Value};

use super::charset::decode_text;
use super::layout::{ColumnKind, ColumnLayout};

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if buf.len() < n {
        return Err(format!("needs {n} bytes, {} left", buf.len()));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn le_uint(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

fn length_prefixed<'a>(buf: &mut &'a [u8], len_bytes: usize) -> Result<&'a [u8], String> {
    let len = le_uint(take(buf, len_bytes)?) as usize;
    take(buf, len)
}

/// Decodes one non-NULL value of `col` from the front of `buf`, advancing it.
pub fn decode_value(col: &ColumnLayout, buf: &mut &[u8]) -> Result<Value, String> {
    let m = |k: usize| col.meta.get(k).copied().unwrap_or(0);
    Ok(match &col.kind {
        ColumnKind::Int { bytes, unsigned } => {
            let n = usize::from(*bytes);
            let raw = le_uint(take(buf, n)?);
            if *unsigned {
                if n == 8 { Value::UInt(raw) } else { Value::Int(raw as i64) }
            } else {
                let shift = 64 - 8 * n as u32;
                Value::Int(((raw << shift) as i64) >> shift)
            }
        }
        ColumnKind::Float => {
            let f = f32::from_le_bytes(take(buf, 4)?.try_into().map_err(|_| "float")?);
            // The shortest decimal that round-trips the f32 (what was written, and
            // what Debezium's float32 shows), not the widened binary value.
            Value::Float(f.to_string().parse::<f64>().unwrap_or(f64::from(f)))
        }
        ColumnKind::Double => Value::Float(f64::from_le_bytes(take(buf, 8)?.try_into().map_err(|_| "double")?)),
        ColumnKind::Decimal { precision, scale } => {
            let size = decimal::decimal_bin_size(usize::from(*precision), usize::from(*scale));
            let mut bytes = take(buf, size)?;
            let d = decimal::Decimal::read_bin(&mut bytes, usize::from(*precision), usize::from(*scale), false)
                .map_err(|e| format!("decimal: {e}"))?;
            let text = d.to_string();
            Value::Decimal(
                decimal_with_scale(&text, u32::from(*scale)).ok_or_else(|| format!("decimal text `{text}`"))?,
            )
        }
        ColumnKind::Date => {
            let v = le_uint(take(buf, 3)?) as u32;
            let (y, mo, d) = (v >> 9, (v >> 5) & 15, v & 31);
            NaiveDate::from_ymd_opt(y as i32, mo, d).map(Value::Date).unwrap_or(Value::Null)
        }
        ColumnKind::Time { fsp, legacy } => {
            let (neg, h, mi, s, us) = if *legacy {
                let v = le_uint(take(buf, 3)?) as i64;
                let v = ((v << 40) >> 40) as i32; // signed 24-bit HHMMSS
                let a = v.unsigned_abs();
                (v < 0, a / 10000, (a / 100) % 100, a % 100, 0u32)
            } else {
                let packed =
                    misc::my_time_packed_from_binary(&mut *buf, u32::from(*fsp)).map_err(|e| format!("time: {e}"))?;
                let neg = packed < 0;
                let abs = packed.unsigned_abs();
                let hms = abs >> 24;
                let us = (abs % (1 << 24)) as u32;
                (neg, ((hms >> 12) % (1 << 10)) as u32, ((hms >> 6) % (1 << 6)) as u32, (hms % (1 << 6)) as u32, us)
            };
            let nanos =
                (i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * 1_000_000_000 + i64::from(us) * 1000;
            Value::Time { nanos: if neg { -nanos } else { nanos }, precision: Precision::new(*fsp) }
        }
        ColumnKind::DateTime { fsp, legacy } => {
            let (y, mo, d, h, mi, s, us) = if *legacy {
                let raw = le_uint(take(buf, 8)?);
                let (dp, tp) = (raw / 1_000_000, raw % 1_000_000);
                (dp / 10000, (dp / 100) % 100, dp % 100, tp / 10000, (tp / 100) % 100, tp % 100, 0)
            } else {
                let packed = misc::my_datetime_packed_from_binary(&mut *buf, u32::from(*fsp))
                    .map_err(|e| format!("datetime: {e}"))?;
                let abs = packed.unsigned_abs();
                let us = abs % (1 << 24);
                let ymdhms = abs >> 24;
                let ymd = ymdhms >> 17;
                let ym = ymd >> 5;
                let hms = ymdhms % (1 << 17);
                (ym / 13, ym % 13, ymd % (1 << 5), hms >> 12, (hms >> 6) % (1 << 6), hms % (1 << 6), us)
            };
            match NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32)
                .and_then(|date| date.and_hms_micro_opt(h as u32, mi as u32, s as u32, us as u32))
            {
                Some(value) => Value::Timestamp { value, precision: Precision::new(*fsp) },
                None => Value::Null,
            }
        }
        ColumnKind::Timestamp { fsp, legacy } => {
            let (secs, usec) = if *legacy {
                (le_uint(take(buf, 4)?) as i64, 0i64)
            } else {
                let (s, u) = misc::my_timestamp_from_binary(&mut *buf, *fsp).map_err(|e| format!("timestamp: {e}"))?;
                (i64::from(s as u32), i64::from(u))
            };
            let value =
                DateTime::from_timestamp(secs, (usec * 1000) as u32).ok_or_else(|| format!("timestamp {secs}"))?;
            Value::TimestampTz { value, precision: Precision::new(*fsp) }
        }
        ColumnKind::Year => {
            let y = take(buf, 1)?[0];
            Value::Int(if y == 0 { 0 } else { 1900 + i64::from(y) })
        }
        ColumnKind::Text { max_bytes, blob, .. } | ColumnKind::Binary { max_bytes, blob, .. } => {
            let len_bytes = if *blob {
                usize::from(m(0))
            } else if *max_bytes < 256 {
                1
            } else {
                2
            };
            let bytes = length_prefixed(buf, len_bytes)?;
            match &col.kind {
                ColumnKind::Text { .. } => Value::Text(decode_text(bytes, col.charset.as_ref())),
                ColumnKind::Binary { fixed: true, max_bytes, .. } => {
                    // BINARY(n) is padded with 0x00 to n bytes; the binlog drops the padding.
                    let mut v = bytes.to_vec();
                    v.resize((*max_bytes as usize).max(v.len()), 0);
                    Value::Bytes(v)
                }
                _ => Value::Bytes(bytes.to_vec()),
            }
        }
        ColumnKind::Enum(values) => {
            let index = le_uint(take(buf, usize::from(m(1)).max(1))?) as usize;
            // Index 0 is the empty string MySQL stores for an invalid value.
            Value::Enum(if index == 0 { String::new() } else { values.get(index - 1).cloned().unwrap_or_default() })
        }
        ColumnKind::Set(values) => {
            let bits = le_uint(take(buf, usize::from(m(1)).max(1))?);
            Value::Set(values.iter().enumerate().filter(|(i, _)| bits >> i & 1 == 1).map(|(_, v)| v.clone()).collect())
        }
        ColumnKind::Bit { bits } => {
            let n = usize::from(*bits).div_ceil(8);
            let bytes = take(buf, n)?; // big-endian
            if *bits == 1 {
                Value::Bool(bytes[0] & 1 == 1)
            } else {
                let total = n * 8;
                let all: Vec<bool> = (0..total).map(|i| bytes[i / 8] >> (7 - i % 8) & 1 == 1).collect();
                Value::Bits(Bits::from_bools(all[total - usize::from(*bits)..].to_vec()))
            }
        }
        ColumnKind::Json => {
            if col.my_type == mysql_common::constants::ColumnType::MYSQL_TYPE_JSON {
                let bytes = length_prefixed(buf, usize::from(m(0)).max(1))?;
                let parsed: jsonb::Value<'_> = ParseBuf(bytes).parse(()).map_err(|e| format!("binary JSON: {e}"))?;
                let dom = parsed.parse().map_err(|e| format!("binary JSON: {e}"))?;
                Value::Json(serde_json::Value::from(dom))
            } else {
                // MariaDB: JSON is LONGTEXT with a json_valid() check.
                let bytes = length_prefixed(buf, usize::from(m(0)).max(1))?;
                let text = decode_text(bytes, col.charset.as_ref());
                match serde_json::from_str(&text) {
                    Ok(doc) => Value::Json(doc),
                    Err(_) => Value::Text(text),
                }
            }
        }
        ColumnKind::Geometry { .. } => {
            let bytes = length_prefixed(buf, usize::from(m(0)).max(1))?;
            if bytes.len() < 4 {
                return Err(format!("geometry of {} bytes", bytes.len()));
            }
            let srid = u32::from_le_bytes(bytes[0..4].try_into().map_err(|_| "srid")?);
            Value::Geometry(Geometry { wkb: bytes[4..].to_vec(), srid: Some(srid as i32) })
        }
    })
}

/// Pads a decimal literal to exactly `scale` fraction digits (`12.3` -> `12.30`)
/// and parses it.
pub fn decimal_with_scale(text: &str, scale: u32) -> Option<Decimal> {
    let frac = text.split_once('.').map(|(_, f)| f.len()).unwrap_or(0) as u32;
    if frac >= scale {
        return Decimal::parse(text);
    }
    let mut padded = text.to_string();
    if frac == 0 {
        padded.push('.');
    }
    padded.extend(std::iter::repeat_n('0', (scale - frac) as usize));
    Decimal::parse(&padded)
}
