//! Value → bound parameter encoding.
//!
//! Each target column is sent as ONE array parameter of a wire type chosen
//! from the column's Postgres type ([`Wire`]): `int8[]`, `float8[]`, `bool[]`,
//! `bytea[]`, `timestamp[]`, `timestamptz[]` in binary, everything else as
//! `text[]` cast in the statement (`numeric`, `date`, `time`, `jsonb`, `uuid`,
//! `bit varying`, arrays...). Nothing is ever spliced into SQL text.
//!
//! Lossless rules (checked here, so a bad value is rejected with its table,
//! column and record instead of being silently changed by Postgres):
//! * integers are range-checked against `smallint`/`integer`;
//! * a decimal that would need rounding to fit `numeric(p,s)` is rejected, as
//!   is one with too many integer digits;
//! * text longer than `varchar(n)` is rejected; text containing NUL is rejected
//!   (Postgres cannot store it);
//! * timestamps and times are **truncated** (not rounded) to the column's
//!   precision, at most microseconds: `…:04.123456789` is stored as
//!   `…:04.123456`, so a value never moves into the next second or day;
//! * `time` values outside 00:00:00..24:00:00 (MySQL `TIME` can reach ±838h)
//!   are rejected for a `time` column.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use sluice_sink_api::canonical::value_to_json;
use sluice_sink_api::temporal::{format_offset, format_time};
use sluice_sink_api::{Decimal, Precision, Value};

use crate::pg_type::PgType;

/// A value that cannot be stored in its column; the message names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(pub String);

type Result<T> = std::result::Result<T, EncodeError>;

fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(EncodeError(message.into()))
}

/// How a column's values travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Int8,
    Float8,
    Bool,
    Text,
    Bytea,
    Timestamp,
    TimestampTz,
}

impl Wire {
    pub fn for_type(ty: &PgType) -> Wire {
        match ty {
            PgType::Int2 | PgType::Int4 | PgType::Int8 => Wire::Int8,
            PgType::Float4 | PgType::Float8 => Wire::Float8,
            PgType::Bool => Wire::Bool,
            PgType::Bytea => Wire::Bytea,
            PgType::Timestamp(_) => Wire::Timestamp,
            PgType::TimestampTz(_) => Wire::TimestampTz,
            _ => Wire::Text,
        }
    }

    /// The type of one value (a staging-table column).
    pub fn scalar_type(self) -> &'static str {
        self.array_type().trim_end_matches("[]")
    }

    /// The array type of the parameter.
    pub fn array_type(self) -> &'static str {
        match self {
            Wire::Int8 => "int8[]",
            Wire::Float8 => "float8[]",
            Wire::Bool => "bool[]",
            Wire::Text => "text[]",
            Wire::Bytea => "bytea[]",
            Wire::Timestamp => "timestamp[]",
            Wire::TimestampTz => "timestamptz[]",
        }
    }

    /// The cast applied to the unnested value, if the wire type is not the
    /// column type.
    pub fn cast(self, ty: &PgType) -> Option<String> {
        match (self, ty) {
            (Wire::Int8, PgType::Int8)
            | (Wire::Float8, PgType::Float8)
            | (Wire::Bool, PgType::Bool)
            | (Wire::Text, PgType::Text)
            | (Wire::Bytea, PgType::Bytea)
            | (Wire::Timestamp, PgType::Timestamp(6))
            | (Wire::TimestampTz, PgType::TimestampTz(6)) => None,
            _ => Some(ty.ddl()),
        }
    }
}

/// One column's values for one statement.
#[derive(Debug)]
pub enum ColumnValues<'a> {
    Int8(Vec<Option<i64>>),
    Float8(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<Cow<'a, str>>>),
    Bytea(Vec<Option<Vec<u8>>>),
    Timestamp(Vec<Option<NaiveDateTime>>),
    TimestampTz(Vec<Option<DateTime<Utc>>>),
}

impl<'a> ColumnValues<'a> {
    pub fn new(wire: Wire, capacity: usize) -> Self {
        match wire {
            Wire::Int8 => ColumnValues::Int8(Vec::with_capacity(capacity)),
            Wire::Float8 => ColumnValues::Float8(Vec::with_capacity(capacity)),
            Wire::Bool => ColumnValues::Bool(Vec::with_capacity(capacity)),
            Wire::Text => ColumnValues::Text(Vec::with_capacity(capacity)),
            Wire::Bytea => ColumnValues::Bytea(Vec::with_capacity(capacity)),
            Wire::Timestamp => ColumnValues::Timestamp(Vec::with_capacity(capacity)),
            Wire::TimestampTz => ColumnValues::TimestampTz(Vec::with_capacity(capacity)),
        }
    }

    /// Appends `value` (absent = `None` = NULL) converted for a column of type `ty`.
    pub fn push(&mut self, value: Option<&'a Value>, ty: &PgType) -> Result<()> {
        let value = match value {
            None | Some(Value::Null) => {
                self.push_null();
                return Ok(());
            }
            Some(Value::Unavailable) => return err("the TOAST placeholder cannot be written"),
            Some(v) => v,
        };
        match self {
            ColumnValues::Int8(v) => v.push(Some(to_int(value, ty)?)),
            ColumnValues::Float8(v) => v.push(Some(to_float(value)?)),
            ColumnValues::Bool(v) => v.push(Some(to_bool(value)?)),
            ColumnValues::Text(v) => v.push(Some(to_text(value, ty)?)),
            ColumnValues::Bytea(v) => v.push(Some(to_bytes(value)?)),
            ColumnValues::Timestamp(v) => v.push(Some(to_timestamp(value, ty)?)),
            ColumnValues::TimestampTz(v) => v.push(Some(to_timestamptz(value, ty)?)),
        }
        Ok(())
    }

    /// Appends an owned text value (version and key columns).
    pub fn push_text(&mut self, text: String) {
        if let ColumnValues::Text(v) = self {
            v.push(Some(Cow::Owned(text)));
        }
    }

    fn push_null(&mut self) {
        match self {
            ColumnValues::Int8(v) => v.push(None),
            ColumnValues::Float8(v) => v.push(None),
            ColumnValues::Bool(v) => v.push(None),
            ColumnValues::Text(v) => v.push(None),
            ColumnValues::Bytea(v) => v.push(None),
            ColumnValues::Timestamp(v) => v.push(None),
            ColumnValues::TimestampTz(v) => v.push(None),
        }
    }

    /// Removes the last value (undoing a row whose later column failed).
    pub fn pop(&mut self) {
        match self {
            ColumnValues::Int8(v) => drop(v.pop()),
            ColumnValues::Float8(v) => drop(v.pop()),
            ColumnValues::Bool(v) => drop(v.pop()),
            ColumnValues::Text(v) => drop(v.pop()),
            ColumnValues::Bytea(v) => drop(v.pop()),
            ColumnValues::Timestamp(v) => drop(v.pop()),
            ColumnValues::TimestampTz(v) => drop(v.pop()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ColumnValues::Int8(v) => v.len(),
            ColumnValues::Float8(v) => v.len(),
            ColumnValues::Bool(v) => v.len(),
            ColumnValues::Text(v) => v.len(),
            ColumnValues::Bytea(v) => v.len(),
            ColumnValues::Timestamp(v) => v.len(),
            ColumnValues::TimestampTz(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Checks that `value` can be stored in a column of type `ty` (what
/// [`ColumnValues::push`] would do), without keeping the encoded value.
pub fn check(value: &Value, ty: &PgType) -> Result<()> {
    match value {
        Value::Null => return Ok(()),
        Value::Unavailable => return err("the TOAST placeholder cannot be written"),
        _ => {}
    }
    match Wire::for_type(ty) {
        Wire::Int8 => to_int(value, ty).map(drop),
        Wire::Float8 => to_float(value).map(drop),
        Wire::Bool => to_bool(value).map(drop),
        Wire::Text => to_text(value, ty).map(drop),
        Wire::Bytea => match value {
            Value::Bytes(_) | Value::Geometry(_) | Value::Text(_) | Value::Uuid(_) => Ok(()),
            other => mismatch(other, ty),
        },
        Wire::Timestamp => to_timestamp(value, ty).map(drop),
        Wire::TimestampTz => to_timestamptz(value, ty).map(drop),
    }
}

/// Appends `value`, converted for a column of type `ty` by exactly the rules
/// of [`ColumnValues::push`], as one field of the binary `COPY` format of the
/// column's [`Wire`] type: a big-endian `i32` length then the bytes (`-1` =
/// NULL). Text-wired types (numeric, date, uuid, jsonb...) travel as text and
/// are cast by the statement that reads the staging table, as with arrays.
pub fn copy_field(out: &mut Vec<u8>, value: Option<&Value>, ty: &PgType) -> Result<()> {
    let value = match value {
        None | Some(Value::Null) => {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return Ok(());
        }
        Some(Value::Unavailable) => return err("the TOAST placeholder cannot be written"),
        Some(v) => v,
    };
    match Wire::for_type(ty) {
        Wire::Int8 => copy_bytes(out, &to_int(value, ty)?.to_be_bytes()),
        Wire::Float8 => copy_bytes(out, &to_float(value)?.to_be_bytes()),
        Wire::Bool => copy_bytes(out, &[u8::from(to_bool(value)?)]),
        Wire::Text => copy_bytes(out, to_text(value, ty)?.as_bytes()),
        Wire::Bytea => match value {
            Value::Bytes(b) => copy_bytes(out, b),
            Value::Geometry(g) => copy_bytes(out, &g.wkb),
            Value::Text(s) => copy_bytes(out, s.as_bytes()),
            Value::Uuid(u) => copy_bytes(out, u.as_bytes()),
            other => return mismatch(other, ty),
        },
        Wire::Timestamp => copy_bytes(out, &pg_micros(&to_timestamp(value, ty)?)?.to_be_bytes()),
        Wire::TimestampTz => copy_bytes(out, &pg_micros(&to_timestamptz(value, ty)?.naive_utc())?.to_be_bytes()),
    }
    Ok(())
}

/// One length-prefixed COPY field.
pub fn copy_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A change version bound as Postgres `numeric` in binary form, so the
/// server does not parse a decimal text per row (sqlx has no `u128` type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgVersion(pub u128);

/// `numeric` and `numeric[]` type OIDs (fixed in every Postgres).
const NUMERIC_OID: u32 = 1700;
const NUMERIC_ARRAY_OID: u32 = 1231;

impl sqlx::Type<sqlx::Postgres> for PgVersion {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(NUMERIC_OID))
    }
}

impl sqlx::postgres::PgHasArrayType for PgVersion {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(NUMERIC_ARRAY_OID))
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for PgVersion {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        let mut bytes = Vec::with_capacity(24);
        numeric_binary(self.0, &mut bytes);
        buf.extend_from_slice(&bytes);
        Ok(sqlx::encode::IsNull::No)
    }

    fn size_hint(&self) -> usize {
        8 + 2 * 10
    }
}

/// Appends Postgres' binary `numeric` form of a non-negative integer:
/// digit count, weight, sign, display scale (all `i16`), then base-10000
/// digits, most significant first, without trailing zero digits.
pub fn numeric_binary(mut value: u128, out: &mut Vec<u8>) {
    let mut digits = [0i16; 10]; // u128 < 10000^10
    let mut n = 0;
    while value > 0 {
        digits[n] = (value % 10_000) as i16;
        value /= 10_000;
        n += 1;
    }
    let weight = n.saturating_sub(1) as i16;
    // drop low-order zero digits: the weight keeps the magnitude
    let low_zeros = digits[..n].iter().take_while(|d| **d == 0).count();
    let kept = &digits[low_zeros..n];
    out.extend_from_slice(&(kept.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes()); // sign: positive
    out.extend_from_slice(&0i16.to_be_bytes()); // dscale: integer
    for d in kept.iter().rev() {
        out.extend_from_slice(&d.to_be_bytes());
    }
}

/// Microseconds since 2000-01-01 00:00:00, Postgres' binary timestamp.
fn pg_micros(value: &NaiveDateTime) -> Result<i64> {
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default();
    (*value - epoch).num_microseconds().ok_or_else(|| EncodeError(format!("timestamp {value} is out of range")))
}

fn mismatch<T>(value: &Value, ty: &PgType) -> Result<T> {
    err(format!("a {} value cannot be stored in a column of type {}", value.kind(), ty.ddl()))
}

fn to_int(value: &Value, ty: &PgType) -> Result<i64> {
    let n: i64 = match value {
        Value::Int(i) => *i,
        Value::UInt(u) => i64::try_from(*u).or_else(|_| err(format!("{u} does not fit {}", ty.ddl())))?,
        Value::Bool(b) => i64::from(*b),
        Value::Decimal(d) => {
            let text = d.to_string();
            let integral = text.split_once('.').map(|(i, f)| (i, f.bytes().all(|b| b == b'0')));
            let digits = match integral {
                Some((i, true)) => i.to_string(),
                Some(_) => return err(format!("{text} is not an integer (column type {})", ty.ddl())),
                None => text.clone(),
            };
            digits.parse().or_else(|_| err(format!("{text} does not fit {}", ty.ddl())))?
        }
        Value::Text(s) => s.trim().parse().or_else(|_| err(format!("{s:?} is not an integer")))?,
        other => return mismatch(other, ty),
    };
    let (min, max) = match ty {
        PgType::Int2 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        PgType::Int4 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    if n < min || n > max {
        return err(format!("{n} is out of range for {}", ty.ddl()));
    }
    Ok(n)
}

fn to_float(value: &Value) -> Result<f64> {
    Ok(match value {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        Value::UInt(u) => *u as f64,
        Value::Decimal(d) => d.to_string().parse().or_else(|_| err("decimal out of float range"))?,
        Value::Text(s) => s.trim().parse().or_else(|_| err(format!("{s:?} is not a number")))?,
        other => return mismatch(other, &PgType::Float8),
    })
}

fn to_bool(value: &Value) -> Result<bool> {
    Ok(match value {
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" | "on" => true,
            "false" | "f" | "0" | "no" | "off" => false,
            _ => return err(format!("{s:?} is not a boolean")),
        },
        other => return mismatch(other, &PgType::Bool),
    })
}

fn to_bytes(value: &Value) -> Result<Vec<u8>> {
    Ok(match value {
        Value::Bytes(b) => b.clone(),
        Value::Geometry(g) => g.wkb.clone(),
        Value::Text(s) => s.as_bytes().to_vec(),
        Value::Uuid(u) => u.as_bytes().to_vec(),
        other => return mismatch(other, &PgType::Bytea),
    })
}

/// Nanoseconds kept by a column of `digits` fraction digits (≤ 6): truncation.
fn truncate_nanos(nanos: u32, digits: u8) -> u32 {
    let unit = 10u32.pow(9 - u32::from(digits.min(6)));
    nanos - nanos % unit
}

fn column_precision(ty: &PgType) -> u8 {
    match ty {
        PgType::Time(p) | PgType::TimeTz(p) | PgType::Timestamp(p) | PgType::TimestampTz(p) => *p,
        _ => 6,
    }
}

fn truncate_naive(value: &NaiveDateTime, ty: &PgType) -> NaiveDateTime {
    let nanos = truncate_nanos(value.nanosecond() % 1_000_000_000, column_precision(ty));
    value.with_nanosecond(nanos).unwrap_or(*value)
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

fn to_timestamp(value: &Value, ty: &PgType) -> Result<NaiveDateTime> {
    let naive = match value {
        Value::Timestamp { value, .. } => *value,
        Value::TimestampTz { value, .. } => value.naive_utc(),
        Value::Date(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default(),
        Value::Text(s) => parse_naive(s).ok_or_else(|| EncodeError(format!("{s:?} is not a timestamp")))?,
        other => return mismatch(other, ty),
    };
    Ok(truncate_naive(&naive, ty))
}

fn to_timestamptz(value: &Value, ty: &PgType) -> Result<DateTime<Utc>> {
    let naive = match value {
        Value::TimestampTz { value, .. } => value.naive_utc(),
        Value::Timestamp { value, .. } => *value,
        Value::Date(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default(),
        Value::Text(s) => match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(dt) => dt.naive_utc(),
            Err(_) => parse_naive(s).ok_or_else(|| EncodeError(format!("{s:?} is not a timestamp")))?,
        },
        other => return mismatch(other, ty),
    };
    Ok(truncate_naive(&naive, ty).and_utc())
}

fn format_date(d: &NaiveDate) -> String {
    if d.year() <= 0 {
        // ISO year 0 is 1 BC
        format!("{:04}-{:02}-{:02} BC", 1 - d.year(), d.month(), d.day())
    } else {
        d.format("%Y-%m-%d").to_string()
    }
}

const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

fn format_time_of_day(nanos: i64, ty: &PgType) -> Result<String> {
    if !(0..=DAY_NANOS).contains(&nanos) {
        return err(format!(
            "time {} is outside 00:00:00..24:00:00 and cannot be stored in {}",
            format_time(nanos, Precision::MICROS),
            ty.ddl()
        ));
    }
    let sub = (nanos % 1_000_000_000) as u32;
    let kept = i64::from(truncate_nanos(sub, column_precision(ty)));
    Ok(format_time(nanos - i64::from(sub) + kept, Precision::new(column_precision(ty))))
}

fn check_decimal_fits(d: &Decimal, p: u32, s: u32) -> Result<()> {
    let text = d.to_string();
    let unsigned = text.trim_start_matches('-');
    let (int_part, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int_digits = int_part.trim_start_matches('0').len() as u32;
    if frac.len() as u32 > s && frac[s as usize..].bytes().any(|b| b != b'0') {
        return err(format!("{text} has more than {s} fraction digits and would be rounded by numeric({p},{s})"));
    }
    if int_digits > p - s {
        return err(format!("{text} has too many integer digits for numeric({p},{s})"));
    }
    Ok(())
}

fn numeric_text(value: &Value, ty: &PgType) -> Result<String> {
    let text = match value {
        Value::Decimal(d) => {
            if let PgType::Numeric(Some((p, s))) = ty {
                check_decimal_fits(d, *p, *s)?;
            }
            return Ok(d.to_string());
        }
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) if f.is_nan() => "NaN".into(),
        Value::Float(f) if f.is_infinite() => (if *f > 0.0 { "Infinity" } else { "-Infinity" }).into(),
        Value::Float(f) => f.to_string(),
        Value::Text(s) => s.trim().to_string(),
        Value::Bool(b) => u8::from(*b).to_string(),
        other => return mismatch(other, ty),
    };
    if let (PgType::Numeric(Some((p, s))), Some(d)) = (ty, Decimal::parse(&text)) {
        check_decimal_fits(&d, *p, *s)?;
    }
    Ok(text)
}

fn no_nul(s: &str) -> Result<()> {
    if s.contains('\0') { err("text contains a NUL character, which Postgres cannot store") } else { Ok(()) }
}

fn plain_text<'a>(value: &'a Value) -> Cow<'a, str> {
    match value {
        Value::Text(s) | Value::Enum(s) => Cow::Borrowed(s.as_str()),
        Value::Set(members) => Cow::Owned(members.join(",")),
        Value::Json(j) => Cow::Owned(j.to_string()),
        Value::Bytes(b) => Cow::Owned(format!("\\x{}", hex::encode(b))),
        other => Cow::Owned(other.to_plain_string().unwrap_or_default()),
    }
}

fn check_length(s: &str, max: u32, ty: &PgType) -> Result<()> {
    // cheap bound first: bytes >= chars
    if s.len() > max as usize && s.chars().count() > max as usize {
        return err(format!("a value of {} characters does not fit {}", s.chars().count(), ty.ddl()));
    }
    Ok(())
}

fn to_text<'a>(value: &'a Value, ty: &PgType) -> Result<Cow<'a, str>> {
    let text: Cow<'a, str> = match ty {
        PgType::Numeric(_) => Cow::Owned(numeric_text(value, ty)?),
        PgType::Text | PgType::Varchar(_) | PgType::Char(_) => plain_text(value),
        PgType::Json | PgType::Jsonb => match value {
            Value::Json(j) => Cow::Owned(j.to_string()),
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            other => Cow::Owned(value_to_json(other).to_string()),
        },
        PgType::Date => match value {
            Value::Date(d) => Cow::Owned(format_date(d)),
            Value::Timestamp { value, .. } if value.time() == chrono::NaiveTime::MIN => {
                Cow::Owned(format_date(&value.date()))
            }
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            other => return mismatch(other, ty),
        },
        PgType::Time(_) => match value {
            Value::Time { nanos, .. } => Cow::Owned(format_time_of_day(*nanos, ty)?),
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            other => return mismatch(other, ty),
        },
        PgType::TimeTz(_) => match value {
            Value::TimeTz { nanos, offset_seconds, .. } => {
                let offset = match format_offset(*offset_seconds).as_str() {
                    "Z" => "+00:00".to_string(),
                    o => o.to_string(),
                };
                Cow::Owned(format!("{}{offset}", format_time_of_day(*nanos, ty)?))
            }
            Value::Time { nanos, .. } => Cow::Owned(format!("{}+00:00", format_time_of_day(*nanos, ty)?)),
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            other => return mismatch(other, ty),
        },
        PgType::Uuid => match value {
            Value::Uuid(u) => Cow::Owned(u.to_string()),
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            other => return mismatch(other, ty),
        },
        PgType::VarBit(_) | PgType::Bit(_) => {
            let bits = match value {
                Value::Bits(b) => b.to_bit_string(),
                Value::Bool(b) => (if *b { "1" } else { "0" }).to_string(),
                Value::Int(i) if *i >= 0 => format!("{i:b}"),
                Value::UInt(u) => format!("{u:b}"),
                Value::Text(s) => s.clone(),
                other => return mismatch(other, ty),
            };
            match ty {
                PgType::VarBit(Some(n)) if bits.len() > *n as usize => {
                    return err(format!("{} bits do not fit {}", bits.len(), ty.ddl()));
                }
                PgType::Bit(n) if bits.len() != *n as usize => {
                    return err(format!("{} bits do not match {}", bits.len(), ty.ddl()));
                }
                _ => Cow::Owned(bits),
            }
        }
        PgType::Geometry => match value {
            Value::Geometry(g) => Cow::Owned(hex::encode(ewkb(&g.wkb, g.srid))),
            Value::Bytes(b) => Cow::Owned(hex::encode(b)),
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            other => return mismatch(other, ty),
        },
        PgType::Array(element) => match value {
            Value::Array(items) => Cow::Owned(array_literal(items, element)?),
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            other => return mismatch(other, ty),
        },
        _ => plain_text(value),
    };
    no_nul(&text)?;
    match ty {
        PgType::Varchar(Some(n)) | PgType::Char(n) => check_length(&text, *n, ty)?,
        _ => {}
    }
    Ok(text)
}

/// A Postgres array literal (`{"a","b",NULL}`) of `items` for element type `element`.
fn array_literal(items: &[Value], element: &PgType) -> Result<String> {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = match item {
            Value::Null => {
                out.push_str("NULL");
                continue;
            }
            Value::Array(inner) => {
                out.push_str(&array_literal(inner, element)?);
                continue;
            }
            Value::Timestamp { value, .. } => {
                truncate_naive(value, element).format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            }
            Value::TimestampTz { value, .. } => {
                format!("{}+00", truncate_naive(&value.naive_utc(), element).format("%Y-%m-%d %H:%M:%S%.6f"))
            }
            other => to_text(other, element)?.into_owned(),
        };
        out.push('"');
        for c in text.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    Ok(out)
}

/// Extended WKB (PostGIS) from OGC WKB and an SRID: the SRID flag is set in
/// the geometry type word and the SRID follows it, in the WKB's byte order.
pub fn ewkb(wkb: &[u8], srid: Option<i32>) -> Vec<u8> {
    let Some(srid) = srid else { return wkb.to_vec() };
    if wkb.len() < 5 {
        return wkb.to_vec();
    }
    let little = wkb[0] == 1;
    let word: [u8; 4] = [wkb[1], wkb[2], wkb[3], wkb[4]];
    let kind = if little { u32::from_le_bytes(word) } else { u32::from_be_bytes(word) } | 0x2000_0000;
    let mut out = Vec::with_capacity(wkb.len() + 4);
    out.push(wkb[0]);
    if little {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&srid.to_le_bytes());
    } else {
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&srid.to_be_bytes());
    }
    out.extend_from_slice(&wkb[5..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &Value, ty: PgType) -> Result<String> {
        to_text(value, &ty).map(Cow::into_owned)
    }

    #[test]
    fn lossless_checks() {
        assert!(to_int(&Value::Int(40_000), &PgType::Int2).is_err());
        assert_eq!(to_int(&Value::Int(40_000), &PgType::Int4).unwrap(), 40_000);
        assert!(to_int(&Value::UInt(u64::MAX), &PgType::Int8).is_err());
        let d = Value::Decimal(Decimal::parse("123.450").unwrap());
        assert_eq!(text(&d, PgType::Numeric(Some((5, 2)))).unwrap(), "123.450");
        assert!(text(&Value::Decimal(Decimal::parse("1.239").unwrap()), PgType::Numeric(Some((5, 2)))).is_err());
        assert!(text(&Value::Decimal(Decimal::parse("1234.5").unwrap()), PgType::Numeric(Some((5, 2)))).is_err());
        assert_eq!(text(&Value::UInt(u64::MAX), PgType::Numeric(Some((20, 0)))).unwrap(), "18446744073709551615");
        assert!(text(&Value::Text("abcdef".into()), PgType::Varchar(Some(5))).is_err());
        assert!(text(&Value::Text("ééééé".into()), PgType::Varchar(Some(5))).is_ok());
        assert!(text(&Value::Text("a\0b".into()), PgType::Text).is_err());
    }

    #[test]
    fn temporal_truncation() {
        let t = Value::Time { nanos: 3_723_123_456_789, precision: Precision::NANOS };
        assert_eq!(text(&t, PgType::Time(6)).unwrap(), "01:02:03.123456");
        assert_eq!(text(&t, PgType::Time(3)).unwrap(), "01:02:03.123");
        assert!(text(&Value::Time { nanos: -1, precision: Precision::MICROS }, PgType::Time(6)).is_err());
        let ts = NaiveDate::from_ymd_opt(2020, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 999_999_999).unwrap();
        let v = Value::Timestamp { value: ts, precision: Precision::NANOS };
        assert_eq!(to_timestamp(&v, &PgType::Timestamp(6)).unwrap().nanosecond(), 999_999_000);
        assert_eq!(format_date(&NaiveDate::from_ymd_opt(0, 3, 1).unwrap()), "0001-03-01 BC");
    }

    #[test]
    fn array_and_ewkb() {
        let items = vec![Value::Text("a\"b".into()), Value::Null, Value::Text("c,d".into())];
        assert_eq!(array_literal(&items, &PgType::Text).unwrap(), r#"{"a\"b",NULL,"c,d"}"#);
        let point = [1u8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40];
        let e = ewkb(&point, Some(4326));
        assert_eq!(&e[1..5], &0x2000_0001u32.to_le_bytes());
        assert_eq!(&e[5..9], &4326i32.to_le_bytes());
        assert_eq!(e.len(), point.len() + 4);
    }
}
