//! Table layouts for the snapshot, from `information_schema.COLUMNS`, built
//! to match what the binlog's table maps give for the same table (same
//! [`ColumnKind`]s, so snapshot and streamed rows have identical values and
//! schemas), and the conversion of result-set values to [`Value`]s.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use mysql_async::Value as MyValue;
use mysql_async::prelude::Queryable;
use mysql_common::constants::ColumnType as MyType;
use sluice_sink_api::{Bits, Geometry, Precision, TableId, Value};

use crate::decode::charset::{Charset, decode_text};
use crate::decode::value::decimal_with_scale;
use crate::decode::{ColumnKind, ColumnLayout, TableLayout};
use crate::error::{Result, SourceError};
use crate::filter::Filters;

/// Parses `enum('a','b''c')` / `set(...)` values.
pub fn parse_enum_values(column_type: &str) -> Vec<String> {
    let inner = column_type.split_once('(').map(|(_, r)| r).unwrap_or_default();
    let inner = inner.strip_suffix(')').unwrap_or(inner);
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                Some('\'') | None => break,
                Some('\\') => {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                }
                Some(ch) => value.push(ch),
            }
        }
        out.push(value);
    }
    out
}

type ColumnRow =
    (String, String, String, Option<u64>, Option<u64>, Option<u64>, Option<u64>, Option<String>, String, Option<u64>);

/// Reads the layout of `database.table`. `json_columns` are MariaDB JSON
/// (LONGTEXT with a json_valid check) columns.
pub async fn table_layout(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
    filters: &Filters,
    json_columns: &[String],
) -> Result<TableLayout> {
    let rows: Vec<ColumnRow> = conn
        .exec(
            "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.CHARACTER_OCTET_LENGTH, c.NUMERIC_PRECISION, c.NUMERIC_SCALE, \
             c.DATETIME_PRECISION, c.CHARACTER_SET_NAME, c.IS_NULLABLE, cs.MAXLEN \
             FROM information_schema.COLUMNS c LEFT JOIN information_schema.CHARACTER_SETS cs \
             ON cs.CHARACTER_SET_NAME = c.CHARACTER_SET_NAME \
             WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| SourceError::from_mysql("reading table columns", e))?;
    let pk: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| SourceError::from_mysql("reading the primary key", e))?;
    let mut columns = Vec::with_capacity(rows.len());
    for (name, data_type, column_type, octets, precision, scale, dt_precision, charset, nullable, maxlen) in rows {
        let ct = column_type.to_ascii_lowercase();
        let unsigned = ct.contains("unsigned");
        let fsp = dt_precision.unwrap_or(0) as u8;
        let octets = octets.unwrap_or(0) as u32;
        let binary_cs = charset.is_none();
        let blob_len = |t: &str| match t {
            "tinytext" | "tinyblob" => 1,
            "text" | "blob" => 2,
            "mediumtext" | "mediumblob" => 3,
            _ => 4,
        };
        let (kind, my_type) = match data_type.to_ascii_lowercase().as_str() {
            "tinyint" => (ColumnKind::Int { bytes: 1, unsigned }, MyType::MYSQL_TYPE_TINY),
            "smallint" => (ColumnKind::Int { bytes: 2, unsigned }, MyType::MYSQL_TYPE_SHORT),
            "mediumint" => (ColumnKind::Int { bytes: 3, unsigned }, MyType::MYSQL_TYPE_INT24),
            "int" | "integer" => (ColumnKind::Int { bytes: 4, unsigned }, MyType::MYSQL_TYPE_LONG),
            "bigint" => (ColumnKind::Int { bytes: 8, unsigned }, MyType::MYSQL_TYPE_LONGLONG),
            "float" => (ColumnKind::Float, MyType::MYSQL_TYPE_FLOAT),
            "double" | "real" => (ColumnKind::Double, MyType::MYSQL_TYPE_DOUBLE),
            "decimal" | "numeric" => (
                ColumnKind::Decimal { precision: precision.unwrap_or(10) as u8, scale: scale.unwrap_or(0) as u8 },
                MyType::MYSQL_TYPE_NEWDECIMAL,
            ),
            "date" => (ColumnKind::Date, MyType::MYSQL_TYPE_DATE),
            "time" => (ColumnKind::Time { fsp, legacy: false }, MyType::MYSQL_TYPE_TIME2),
            "datetime" => (ColumnKind::DateTime { fsp, legacy: false }, MyType::MYSQL_TYPE_DATETIME2),
            "timestamp" => (ColumnKind::Timestamp { fsp, legacy: false }, MyType::MYSQL_TYPE_TIMESTAMP2),
            "year" => (ColumnKind::Year, MyType::MYSQL_TYPE_YEAR),
            "char" => (ColumnKind::Text { max_bytes: octets, fixed: true, blob: false }, MyType::MYSQL_TYPE_STRING),
            "varchar" => {
                (ColumnKind::Text { max_bytes: octets, fixed: false, blob: false }, MyType::MYSQL_TYPE_VARCHAR)
            }
            "binary" => (ColumnKind::Binary { max_bytes: octets, fixed: true, blob: false }, MyType::MYSQL_TYPE_STRING),
            "varbinary" => {
                (ColumnKind::Binary { max_bytes: octets, fixed: false, blob: false }, MyType::MYSQL_TYPE_VARCHAR)
            }
            t @ ("tinytext" | "text" | "mediumtext" | "longtext") => {
                if json_columns.contains(&name) {
                    (ColumnKind::Json, MyType::MYSQL_TYPE_BLOB)
                } else if binary_cs {
                    (ColumnKind::Binary { max_bytes: blob_len(t), fixed: false, blob: true }, MyType::MYSQL_TYPE_BLOB)
                } else {
                    (ColumnKind::Text { max_bytes: blob_len(t), fixed: false, blob: true }, MyType::MYSQL_TYPE_BLOB)
                }
            }
            t @ ("tinyblob" | "blob" | "mediumblob" | "longblob") => {
                (ColumnKind::Binary { max_bytes: blob_len(t), fixed: false, blob: true }, MyType::MYSQL_TYPE_BLOB)
            }
            "enum" => (ColumnKind::Enum(parse_enum_values(&column_type).into()), MyType::MYSQL_TYPE_ENUM),
            "set" => (ColumnKind::Set(parse_enum_values(&column_type).into()), MyType::MYSQL_TYPE_SET),
            "bit" => (ColumnKind::Bit { bits: precision.unwrap_or(1) as u16 }, MyType::MYSQL_TYPE_BIT),
            "json" => (ColumnKind::Json, MyType::MYSQL_TYPE_JSON),
            g @ ("geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" | "geomcollection") => {
                let subtype: &'static str = match g {
                    "point" => "point",
                    "linestring" => "linestring",
                    "polygon" => "polygon",
                    "multipoint" => "multipoint",
                    "multilinestring" => "multilinestring",
                    "multipolygon" => "multipolygon",
                    "geometrycollection" | "geomcollection" => "geometrycollection",
                    _ => "geometry",
                };
                (ColumnKind::Geometry { subtype }, MyType::MYSQL_TYPE_GEOMETRY)
            }
            other => {
                return Err(SourceError::Decode {
                    file: String::new(),
                    pos: 0,
                    message: format!("{database}.{table}.{name}: unsupported column type `{other}`"),
                });
            }
        };
        let charset = charset.map(|n| Charset { name: Arc::from(n.as_str()), max_len: maxlen.unwrap_or(1) as u8 });
        let included = pk.contains(&name) || filters.column(database, table, &name);
        columns.push(ColumnLayout {
            name: Arc::from(name.as_str()),
            my_type,
            meta: Vec::new(),
            kind,
            nullable: nullable.eq_ignore_ascii_case("YES"),
            charset,
            included,
        });
    }
    if columns.is_empty() {
        return Err(SourceError::Query {
            message: format!("table {database}.{table} has no columns or does not exist"),
            source: None,
        });
    }
    let primary_key = pk.iter().filter_map(|k| columns.iter().position(|c| &*c.name == k)).collect();
    Ok(TableLayout::assemble(TableId::new(Some(database), None, table), columns, primary_key))
}

fn bad(col: &ColumnLayout, v: &MyValue) -> String {
    format!("column `{}` ({}): unexpected result value {v:?}", col.name, col.source_type())
}

/// Converts one binary-protocol result value (session `time_zone='+00:00'`,
/// `character_set_results=utf8mb4`) to the same [`Value`] the binlog decoder
/// gives for the column.
pub fn convert(col: &ColumnLayout, v: MyValue) -> std::result::Result<Value, String> {
    if v == MyValue::NULL {
        return Ok(Value::Null);
    }
    Ok(match (&col.kind, v) {
        (ColumnKind::Int { bytes: 8, unsigned: true }, MyValue::UInt(u)) => Value::UInt(u),
        (ColumnKind::Int { bytes: 8, unsigned: true }, MyValue::Int(i)) => Value::UInt(i as u64),
        (ColumnKind::Int { .. } | ColumnKind::Year, MyValue::Int(i)) => Value::Int(i),
        (ColumnKind::Int { .. } | ColumnKind::Year, MyValue::UInt(u)) => Value::Int(u as i64),
        (ColumnKind::Float, MyValue::Float(f)) => Value::Float(f.to_string().parse().unwrap_or(f64::from(f))),
        (ColumnKind::Float, MyValue::Double(f)) | (ColumnKind::Double, MyValue::Double(f)) => Value::Float(f),
        (ColumnKind::Decimal { scale, .. }, MyValue::Bytes(b)) => {
            let text = String::from_utf8_lossy(&b).into_owned();
            Value::Decimal(decimal_with_scale(&text, u32::from(*scale)).ok_or_else(|| format!("decimal `{text}`"))?)
        }
        (ColumnKind::Date, MyValue::Date(y, m, d, ..)) => {
            NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d)).map(Value::Date).unwrap_or(Value::Null)
        }
        (ColumnKind::Time { fsp, .. }, MyValue::Time(neg, days, h, m, s, us)) => {
            let secs = (i64::from(days) * 24 + i64::from(h)) * 3600 + i64::from(m) * 60 + i64::from(s);
            let nanos = secs * 1_000_000_000 + i64::from(us) * 1000;
            Value::Time { nanos: if neg { -nanos } else { nanos }, precision: Precision::new(*fsp) }
        }
        (ColumnKind::DateTime { fsp, .. }, MyValue::Date(y, mo, d, h, mi, s, us)) => {
            match NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d))
                .and_then(|date| date.and_hms_micro_opt(u32::from(h), u32::from(mi), u32::from(s), us))
            {
                Some(value) => Value::Timestamp { value, precision: Precision::new(*fsp) },
                None => Value::Null,
            }
        }
        (ColumnKind::Timestamp { fsp, .. }, MyValue::Date(y, mo, d, h, mi, s, us)) => {
            match NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d))
                .and_then(|date| date.and_hms_micro_opt(u32::from(h), u32::from(mi), u32::from(s), us))
            {
                Some(value) => Value::TimestampTz { value: value.and_utc(), precision: Precision::new(*fsp) },
                // Zero timestamp: the epoch, as the binlog carries it.
                None => Value::TimestampTz {
                    value: DateTime::from_timestamp(0, 0).unwrap_or_default(),
                    precision: Precision::new(*fsp),
                },
            }
        }
        (ColumnKind::Text { .. }, MyValue::Bytes(b)) => Value::Text(decode_text(&b, None)),
        (ColumnKind::Binary { .. }, MyValue::Bytes(b)) => Value::Bytes(b),
        (ColumnKind::Enum(_), MyValue::Bytes(b)) => Value::Enum(String::from_utf8_lossy(&b).into_owned()),
        (ColumnKind::Set(allowed), MyValue::Bytes(b)) => {
            let text = String::from_utf8_lossy(&b).into_owned();
            let members: Vec<&str> = text.split(',').filter(|m| !m.is_empty()).collect();
            Value::Set(allowed.iter().filter(|a| members.contains(&a.as_str())).cloned().collect())
        }
        (ColumnKind::Bit { bits }, MyValue::Bytes(b)) => {
            if *bits == 1 {
                Value::Bool(b.last().is_some_and(|x| x & 1 == 1))
            } else {
                let total = b.len() * 8;
                let all: Vec<bool> = (0..total).map(|i| b[i / 8] >> (7 - i % 8) & 1 == 1).collect();
                let n = usize::from(*bits).min(total);
                Value::Bits(Bits::from_bools(all[total - n..].to_vec()))
            }
        }
        (ColumnKind::Json, MyValue::Bytes(b)) => {
            let text = String::from_utf8_lossy(&b).into_owned();
            match serde_json::from_str(&text) {
                Ok(doc) => Value::Json(doc),
                Err(_) => Value::Text(text),
            }
        }
        (ColumnKind::Geometry { .. }, MyValue::Bytes(b)) if b.len() >= 4 => {
            let srid = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            Value::Geometry(Geometry { wkb: b[4..].to_vec(), srid: Some(srid) })
        }
        (_, other) => return Err(bad(col, &other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values() {
        assert_eq!(parse_enum_values("enum('a','b''c','d,e')"), vec!["a", "b'c", "d,e"]);
        assert_eq!(parse_enum_values("set('x')"), vec!["x"]);
    }
}
