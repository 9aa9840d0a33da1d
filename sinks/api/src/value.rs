//! Lossless column values.
//!
//! A [`Value`] keeps everything the source said about a column value: exact
//! decimals keep their scale, temporal values keep the number of fraction
//! digits the source type carried, unsigned 64-bit integers stay unsigned, a
//! JSON document whose content is the literal `null` is not an SQL `NULL`, and
//! the Debezium TOAST placeholder (`__debezium_unavailable_value`) is an explicit
//! [`Value::Unavailable`] that sinks must never write.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use num_bigint::BigInt;

/// The placeholder Debezium writes for a column whose value it does not have
/// (PostgreSQL TOAST, MySQL `binlog_row_image=MINIMAL`, Oracle LOBs).
pub const UNAVAILABLE_PLACEHOLDER: &str = "__debezium_unavailable_value";

/// Number of fraction-of-second digits a temporal value carries (0..=9).
///
/// It is part of the value: `io.debezium.time.Timestamp` carries milliseconds
/// (3), `MicroTimestamp` microseconds (6), `NanoTimestamp` nanoseconds (9);
/// a zoned string carries as many digits as it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Precision(u8);

impl Precision {
    pub const SECONDS: Precision = Precision(0);
    pub const MILLIS: Precision = Precision(3);
    pub const MICROS: Precision = Precision(6);
    pub const NANOS: Precision = Precision(9);

    /// A precision of `digits` fraction digits, clamped to 0..=9.
    pub const fn new(digits: u8) -> Self {
        Precision(if digits > 9 { 9 } else { digits })
    }

    pub const fn digits(self) -> u8 {
        self.0
    }
}

/// An exact decimal number: `unscaled * 10^-scale`.
///
/// Arbitrary precision (MySQL `DECIMAL(65,30)`, PostgreSQL `numeric` without
/// precision). Its text form always shows exactly `scale` fraction digits, so
/// `12.30` stays `12.30`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    unscaled: BigInt,
    scale: u32,
}

impl Decimal {
    pub fn new(unscaled: BigInt, scale: u32) -> Self {
        Decimal { unscaled, scale }
    }

    /// From the big-endian two's-complement bytes Kafka Connect's `Decimal` uses.
    pub fn from_be_twos_complement(bytes: &[u8], scale: u32) -> Self {
        Decimal::new(BigInt::from_signed_bytes_be(bytes), scale)
    }

    pub fn unscaled(&self) -> &BigInt {
        &self.unscaled
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Number of significant digits of the unscaled value (at least 1).
    pub fn precision(&self) -> u32 {
        let digits = self.unscaled.magnitude().to_string().len() as u32;
        digits.max(1)
    }

    /// Parses a plain decimal literal (`-123.4500`, `7`, `.5`); the scale is the
    /// number of digits after the point. Exponents are rejected.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = if digits.is_empty() { "0".to_string() } else { digits };
        let mut unscaled: BigInt = digits.parse().ok()?;
        if negative {
            unscaled = -unscaled;
        }
        Some(Decimal::new(unscaled, frac_part.len() as u32))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.unscaled.sign() == num_bigint::Sign::Minus;
        let digits = self.unscaled.magnitude().to_string();
        let scale = self.scale as usize;
        if negative {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (i, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{i}.{frac}")
        } else {
            write!(f, "0.{}{}", "0".repeat(scale - digits.len()), digits)
        }
    }
}

/// A fixed-length bit string (MySQL `BIT(n)`, PostgreSQL `bit(n)`/`varbit`).
///
/// Bits are stored most significant first: `bits()[0]` is the leftmost bit of
/// the textual form `"0101"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bits {
    bits: Vec<bool>,
}

impl Bits {
    pub fn from_bools(bits: Vec<bool>) -> Self {
        Bits { bits }
    }

    /// From Debezium's `io.debezium.data.Bits` encoding: little-endian bytes,
    /// `length` significant bits.
    pub fn from_le_bytes(bytes: &[u8], length: usize) -> Self {
        let mut bits = Vec::with_capacity(length);
        for i in (0..length).rev() {
            let byte = bytes.get(i / 8).copied().unwrap_or(0);
            bits.push(byte >> (i % 8) & 1 == 1);
        }
        Bits { bits }
    }

    pub fn len(&self) -> usize {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    pub fn bits(&self) -> &[bool] {
        &self.bits
    }

    /// The bit string as `0`/`1` characters, most significant bit first.
    pub fn to_bit_string(&self) -> String {
        self.bits.iter().map(|b| if *b { '1' } else { '0' }).collect()
    }

    /// The unsigned integer value when it fits in 64 bits.
    pub fn to_u64(&self) -> Option<u64> {
        let significant = self.bits.iter().skip_while(|b| !**b).count();
        if significant > 64 {
            return None;
        }
        Some(self.bits.iter().fold(0u64, |acc, b| (acc << 1) | u64::from(*b)))
    }
}

/// A geometry as OGC well-known binary plus an optional SRID
/// (`io.debezium.data.geometry.Geometry`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Geometry {
    pub wkb: Vec<u8>,
    pub srid: Option<i32>,
}

/// One column value, lossless.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    Bool(bool),
    /// Every signed integer width (tinyint … bigint), and `YEAR`.
    Int(i64),
    /// Unsigned 64-bit integers (`BIGINT UNSIGNED`), kept unsigned.
    UInt(u64),
    /// `float`/`double`/`real`.
    Float(f64),
    /// Exact numeric (`Decimal`, `VariableScaleDecimal`).
    Decimal(Decimal),
    Text(String),
    Bytes(Vec<u8>),
    Date(NaiveDate),
    /// Time of day as nanoseconds past midnight. May be negative or exceed 24h:
    /// MySQL `TIME` ranges over -838:59:59 … 838:59:59.
    Time {
        nanos: i64,
        precision: Precision,
    },
    /// Time of day with a UTC offset (`io.debezium.time.ZonedTime`).
    TimeTz {
        nanos: i64,
        offset_seconds: i32,
        precision: Precision,
    },
    /// A wall-clock date-time without zone (MySQL `DATETIME`, PostgreSQL `timestamp`).
    Timestamp {
        value: NaiveDateTime,
        precision: Precision,
    },
    /// An instant (MySQL `TIMESTAMP`, PostgreSQL `timestamptz`), normalized to UTC.
    TimestampTz {
        value: DateTime<Utc>,
        precision: Precision,
    },
    /// A JSON document. `Json(serde_json::Value::Null)` is the JSON literal `null`,
    /// distinct from [`Value::Null`].
    Json(serde_json::Value),
    Uuid(uuid::Uuid),
    Enum(String),
    /// A MySQL `SET`: the members, in definition order.
    Set(Vec<String>),
    Bits(Bits),
    Geometry(Geometry),
    /// An array column (PostgreSQL arrays).
    Array(Vec<Value>),
    /// The source did not provide this column's value (TOAST placeholder).
    /// Sinks never write it: the column is left out of that row's write.
    Unavailable,
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, Value::Unavailable)
    }

    /// A short name of the variant, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::UInt(_) => "uint",
            Value::Float(_) => "float",
            Value::Decimal(_) => "decimal",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Date(_) => "date",
            Value::Time { .. } => "time",
            Value::TimeTz { .. } => "timetz",
            Value::Timestamp { .. } => "timestamp",
            Value::TimestampTz { .. } => "timestamptz",
            Value::Json(_) => "json",
            Value::Uuid(_) => "uuid",
            Value::Enum(_) => "enum",
            Value::Set(_) => "set",
            Value::Bits(_) => "bits",
            Value::Geometry(_) => "geometry",
            Value::Array(_) => "array",
            Value::Unavailable => "unavailable",
        }
    }

    /// A plain-text rendering used for keys, templates and document ids:
    /// integers and decimals as digits, text as is, temporal values ISO-8601,
    /// bytes as lowercase hex, JSON compact. `None` for NULL and unavailable.
    pub fn to_plain_string(&self) -> Option<String> {
        Some(match self {
            Value::Null | Value::Unavailable => return None,
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Decimal(d) => d.to_string(),
            Value::Text(s) | Value::Enum(s) => s.clone(),
            Value::Bytes(b) => hex::encode(b),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Time { nanos, precision } => crate::temporal::format_time(*nanos, *precision),
            Value::TimeTz { nanos, offset_seconds, precision } => {
                format!(
                    "{}{}",
                    crate::temporal::format_time(*nanos, *precision),
                    crate::temporal::format_offset(*offset_seconds)
                )
            }
            Value::Timestamp { value, precision } => crate::temporal::format_naive(value, *precision),
            Value::TimestampTz { value, precision } => crate::temporal::format_utc(value, *precision),
            Value::Json(j) => j.to_string(),
            Value::Uuid(u) => u.to_string(),
            Value::Set(members) => members.join(","),
            Value::Bits(b) => b.to_bit_string(),
            Value::Geometry(g) => hex::encode(&g.wkb),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(|v| v.to_plain_string().unwrap_or_default()).collect();
                format!("[{}]", parts.join(","))
            }
        })
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_display_keeps_scale() {
        assert_eq!(Decimal::from_be_twos_complement(&[0x12, 0xd6, 0x87], 2).to_string(), "12345.67");
        assert_eq!(Decimal::new(BigInt::from(-5), 3).to_string(), "-0.005");
        assert_eq!(Decimal::new(BigInt::from(0), 2).to_string(), "0.00");
        assert_eq!(Decimal::new(BigInt::from(42), 0).to_string(), "42");
        assert_eq!(Decimal::parse("-123.4500").unwrap().to_string(), "-123.4500");
        assert_eq!(Decimal::parse("-123.4500").unwrap().scale(), 4);
        assert!(Decimal::parse("1e5").is_none());
        assert!(Decimal::parse("").is_none());
    }

    #[test]
    fn bits_little_endian() {
        // 23989979 = 0x016e0edb, little-endian bytes db 0e 6e 01 00 00 00 00
        let b = Bits::from_le_bytes(&[0xdb, 0x0e, 0x6e, 0x01, 0, 0, 0, 0], 64);
        assert_eq!(b.len(), 64);
        assert_eq!(b.to_u64(), Some(23_989_979));
        let two = Bits::from_le_bytes(&[0x02], 2);
        assert_eq!(two.to_bit_string(), "10");
    }
}
