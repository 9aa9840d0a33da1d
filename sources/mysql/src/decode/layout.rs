//! Table layouts: how to decode the rows of one table, built from its
//! TABLE_MAP event with `binlog_row_metadata=FULL` (column names, types and
//! type metadata, signedness, charsets, enum/set values, geometry types,
//! nullability, primary key). Since every transaction's rows events are
//! preceded by the table maps in force when they were written, decoding
//! always uses the schema of that moment, whatever DDL came later.

use std::sync::Arc;

use mysql_common::binlog::events::{OptionalMetaExtractor, OptionalMetadataField, TableMapEvent};
use mysql_common::constants::ColumnType as MyType;
use sluice_sink_api::{ColumnSchema, ColumnType, TableId, TableSchema};

use super::charset::{BINARY_COLLATION, Charset, Charsets};
use crate::filter::Filters;

/// What a column holds, with what decoding needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// TINYINT(1 byte) … BIGINT(8 bytes).
    Int {
        bytes: u8,
        unsigned: bool,
    },
    Float,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Date,
    /// TIME(fsp); `legacy` for the pre-5.6 3-byte format.
    Time {
        fsp: u8,
        legacy: bool,
    },
    DateTime {
        fsp: u8,
        legacy: bool,
    },
    Timestamp {
        fsp: u8,
        legacy: bool,
    },
    Year,
    /// CHAR/VARCHAR/TEXT. `max_bytes` from the type metadata.
    Text {
        max_bytes: u32,
        fixed: bool,
        blob: bool,
    },
    /// BINARY/VARBINARY/BLOB.
    Binary {
        max_bytes: u32,
        fixed: bool,
        blob: bool,
    },
    Enum(Arc<[String]>),
    Set(Arc<[String]>),
    Bit {
        bits: u16,
    },
    Json,
    /// GEOMETRY and its subtypes; `subtype` from the table map (`point`...).
    Geometry {
        subtype: &'static str,
    },
}

/// One column of a table layout.
#[derive(Debug, Clone)]
pub struct ColumnLayout {
    pub name: Arc<str>,
    /// The binlog (real) type.
    pub my_type: MyType,
    /// The type metadata bytes from the table map.
    pub meta: Vec<u8>,
    pub kind: ColumnKind,
    pub nullable: bool,
    pub charset: Option<Charset>,
    /// Whether the column is emitted (column filters; key columns always are).
    pub included: bool,
}

impl ColumnLayout {
    /// The MySQL type as it would appear in `SHOW CREATE TABLE`
    /// (`varchar(255)`, `int unsigned`, `datetime(6)`).
    pub fn source_type(&self) -> String {
        let chars = |bytes: u32| bytes / u32::from(self.charset.as_ref().map(|c| c.max_len).unwrap_or(1).max(1));
        match &self.kind {
            ColumnKind::Int { bytes, unsigned } => {
                let base = match bytes {
                    1 => "tinyint",
                    2 => "smallint",
                    3 => "mediumint",
                    4 => "int",
                    _ => "bigint",
                };
                if *unsigned { format!("{base} unsigned") } else { base.to_string() }
            }
            ColumnKind::Float => "float".into(),
            ColumnKind::Double => "double".into(),
            ColumnKind::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            ColumnKind::Date => "date".into(),
            ColumnKind::Time { fsp, .. } => with_fsp("time", *fsp),
            ColumnKind::DateTime { fsp, .. } => with_fsp("datetime", *fsp),
            ColumnKind::Timestamp { fsp, .. } => with_fsp("timestamp", *fsp),
            ColumnKind::Year => "year".into(),
            ColumnKind::Text { max_bytes, fixed, blob } => match (blob, fixed) {
                (true, _) => blob_name("text", *max_bytes),
                (false, true) => format!("char({})", chars(*max_bytes)),
                (false, false) => format!("varchar({})", chars(*max_bytes)),
            },
            ColumnKind::Binary { max_bytes, fixed, blob } => match (blob, fixed) {
                (true, _) => blob_name("blob", *max_bytes),
                (false, true) => format!("binary({max_bytes})"),
                (false, false) => format!("varbinary({max_bytes})"),
            },
            ColumnKind::Enum(values) => format!("enum({})", quoted(values)),
            ColumnKind::Set(values) => format!("set({})", quoted(values)),
            ColumnKind::Bit { bits } => format!("bit({bits})"),
            ColumnKind::Json => "json".into(),
            ColumnKind::Geometry { subtype } => (*subtype).to_string(),
        }
    }

    /// The sink-facing column type.
    pub fn column_type(&self) -> ColumnType {
        match &self.kind {
            ColumnKind::Int { bytes, unsigned } => match (bytes, unsigned) {
                (1, false) | (2, false) | (1, true) => ColumnType::Int16,
                (3, _) | (4, false) | (2, true) => ColumnType::Int32,
                (8, true) => ColumnType::UInt64,
                _ => ColumnType::Int64,
            },
            ColumnKind::Float => ColumnType::Float32,
            ColumnKind::Double => ColumnType::Float64,
            ColumnKind::Decimal { precision, scale } => {
                ColumnType::Decimal { precision: Some(u32::from(*precision)), scale: Some(u32::from(*scale)) }
            }
            ColumnKind::Date => ColumnType::Date,
            ColumnKind::Time { fsp, .. } => ColumnType::Time { precision: *fsp },
            ColumnKind::DateTime { fsp, .. } => ColumnType::Timestamp { precision: *fsp },
            ColumnKind::Timestamp { fsp, .. } => ColumnType::TimestampTz { precision: *fsp },
            ColumnKind::Year => ColumnType::Int32,
            ColumnKind::Text { max_bytes, blob, .. } => {
                let max_length = if *blob {
                    None
                } else {
                    Some(max_bytes / u32::from(self.charset.as_ref().map(|c| c.max_len).unwrap_or(1).max(1)))
                };
                ColumnType::Text { max_length }
            }
            ColumnKind::Binary { max_bytes, blob, .. } => {
                ColumnType::Bytes { max_length: if *blob { None } else { Some(*max_bytes) } }
            }
            ColumnKind::Enum(values) => ColumnType::Enum { allowed: values.to_vec() },
            ColumnKind::Set(values) => ColumnType::Set { allowed: values.to_vec() },
            ColumnKind::Bit { bits: 1 } => ColumnType::Bool,
            ColumnKind::Bit { bits } => ColumnType::Bits { length: u32::from(*bits) },
            ColumnKind::Json => ColumnType::Json,
            ColumnKind::Geometry { .. } => ColumnType::Geometry,
        }
    }
}

fn with_fsp(base: &str, fsp: u8) -> String {
    if fsp == 0 { base.to_string() } else { format!("{base}({fsp})") }
}

fn blob_name(base: &str, len_bytes: u32) -> String {
    match len_bytes {
        1 => format!("tiny{base}"),
        2 => base.to_string(),
        3 => format!("medium{base}"),
        _ => format!("long{base}"),
    }
}

fn quoted(values: &[String]) -> String {
    values.iter().map(|v| format!("'{}'", v.replace('\'', "''"))).collect::<Vec<_>>().join(",")
}

/// How to decode the rows of one table version.
#[derive(Debug, Clone)]
pub struct TableLayout {
    pub table: TableId,
    pub columns: Vec<ColumnLayout>,
    /// Indexes of the primary-key columns, in key order.
    pub primary_key: Vec<usize>,
    /// The schema of the emitted columns.
    pub schema: Arc<TableSchema>,
}

/// Why a table map cannot be turned into a layout.
#[derive(Debug, Clone, thiserror::Error)]
#[error("table map of {table}: {reason}")]
pub struct LayoutError {
    pub table: String,
    pub reason: String,
}

impl TableLayout {
    /// Builds the layout of a TABLE_MAP event. `json_columns` names columns
    /// to treat as JSON although the binlog says text (MariaDB's JSON alias
    /// is a LONGTEXT with a `json_valid` check). `geometry_has_charset`:
    /// MariaDB counts GEOMETRY columns among the character columns of the
    /// charset metadata (its geometry field derives from BLOB); MySQL does not.
    pub fn from_table_map(
        tme: &TableMapEvent<'_>,
        charsets: &Charsets,
        filters: &Filters,
        json_columns: &[String],
        geometry_has_charset: bool,
    ) -> Result<Self, LayoutError> {
        let database = tme.database_name().into_owned();
        let table_name = tme.table_name().into_owned();
        let err = |reason: String| LayoutError { table: format!("{database}.{table_name}"), reason };
        let count = tme.columns_count() as usize;
        let extractor = OptionalMetaExtractor::new(tme.iter_optional_meta()).map_err(|e| err(e.to_string()))?;
        let names: Vec<String> = extractor
            .iter_column_name()
            .map(|n| n.map(|n| n.name().into_owned()))
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("column names: {e}")))?;
        if names.len() != count {
            return Err(err(format!(
                "carries {} column names for {count} columns: the server must log binlog_row_metadata=FULL",
                names.len()
            )));
        }
        let mut signedness = extractor.iter_signedness();
        let mut charset_iter = extractor.iter_charset();
        let mut enum_set_charset_iter = extractor.iter_enum_and_set_charset();
        let mut enum_values: Vec<Arc<[String]>> = Vec::new();
        let mut set_values: Vec<Arc<[String]>> = Vec::new();
        let mut geometry_types: Vec<&'static str> = Vec::new();
        for field in tme.iter_optional_meta() {
            match field.map_err(|e| err(format!("optional metadata: {e}")))? {
                OptionalMetadataField::EnumStrValue(values) => {
                    for v in values.iter_values() {
                        let v = v.map_err(|e| err(format!("enum values: {e}")))?;
                        enum_values.push(v.values().iter().map(|s| s.value().into_owned()).collect());
                    }
                }
                OptionalMetadataField::SetStrValue(values) => {
                    for v in values.iter_values() {
                        let v = v.map_err(|e| err(format!("set values: {e}")))?;
                        set_values.push(v.values().iter().map(|s| s.value().into_owned()).collect());
                    }
                }
                OptionalMetadataField::GeometryType(types) => {
                    for t in types.iter_geometry_types() {
                        geometry_types.push(match t.map_err(|e| err(format!("geometry types: {e}")))? as u8 {
                            1 => "point",
                            2 => "linestring",
                            3 => "polygon",
                            4 => "multipoint",
                            5 => "multilinestring",
                            6 => "multipolygon",
                            7 => "geometrycollection",
                            _ => "geometry",
                        });
                    }
                }
                _ => {}
            }
        }
        let primary_key: Vec<usize> = extractor
            .iter_primary_key()
            .map(|i| i.map(|i| i as usize))
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("primary key: {e}")))?;
        let (mut enums, mut sets, mut geoms) =
            (enum_values.into_iter(), set_values.into_iter(), geometry_types.into_iter());
        let nulls = tme.null_bitmask();
        let mut columns = Vec::with_capacity(count);
        for (i, name) in names.into_iter().enumerate() {
            let my_type = tme
                .get_column_type(i)
                .map_err(|e| err(format!("column {name}: {e}")))?
                .ok_or_else(|| err(format!("column {name}: no type")))?;
            let meta = tme.get_column_metadata(i).unwrap_or(&[]).to_vec();
            let unsigned = if my_type.is_numeric_type() { signedness.next().unwrap_or(false) } else { false };
            let collation =
                if my_type.is_character_type() || (geometry_has_charset && my_type == MyType::MYSQL_TYPE_GEOMETRY) {
                    Some(charset_iter.next().transpose().map_err(|e| err(e.to_string()))?.unwrap_or(0))
                } else if my_type.is_enum_or_set_type() {
                    Some(enum_set_charset_iter.next().transpose().map_err(|e| err(e.to_string()))?.unwrap_or(0))
                } else {
                    None
                };
            let binary = collation == Some(BINARY_COLLATION);
            let charset = collation.and_then(|c| charsets.get(c).cloned());
            let m = |k: usize| meta.get(k).copied().unwrap_or(0);
            let kind = match my_type {
                MyType::MYSQL_TYPE_TINY => ColumnKind::Int { bytes: 1, unsigned },
                MyType::MYSQL_TYPE_SHORT => ColumnKind::Int { bytes: 2, unsigned },
                MyType::MYSQL_TYPE_INT24 => ColumnKind::Int { bytes: 3, unsigned },
                MyType::MYSQL_TYPE_LONG => ColumnKind::Int { bytes: 4, unsigned },
                MyType::MYSQL_TYPE_LONGLONG => ColumnKind::Int { bytes: 8, unsigned },
                MyType::MYSQL_TYPE_FLOAT => ColumnKind::Float,
                MyType::MYSQL_TYPE_DOUBLE => ColumnKind::Double,
                MyType::MYSQL_TYPE_NEWDECIMAL => ColumnKind::Decimal { precision: m(0), scale: m(1) },
                MyType::MYSQL_TYPE_DATE | MyType::MYSQL_TYPE_NEWDATE => ColumnKind::Date,
                MyType::MYSQL_TYPE_TIME => ColumnKind::Time { fsp: 0, legacy: true },
                MyType::MYSQL_TYPE_TIME2 => ColumnKind::Time { fsp: m(0), legacy: false },
                MyType::MYSQL_TYPE_DATETIME => ColumnKind::DateTime { fsp: 0, legacy: true },
                MyType::MYSQL_TYPE_DATETIME2 => ColumnKind::DateTime { fsp: m(0), legacy: false },
                MyType::MYSQL_TYPE_TIMESTAMP => ColumnKind::Timestamp { fsp: 0, legacy: true },
                MyType::MYSQL_TYPE_TIMESTAMP2 => ColumnKind::Timestamp { fsp: m(0), legacy: false },
                MyType::MYSQL_TYPE_YEAR => ColumnKind::Year,
                MyType::MYSQL_TYPE_ENUM => ColumnKind::Enum(
                    enums.next().ok_or_else(|| err(format!("column {name}: no enum values in the table map")))?,
                ),
                MyType::MYSQL_TYPE_SET => ColumnKind::Set(
                    sets.next().ok_or_else(|| err(format!("column {name}: no set values in the table map")))?,
                ),
                MyType::MYSQL_TYPE_BIT => ColumnKind::Bit { bits: u16::from(m(1)) * 8 + u16::from(m(0)) },
                MyType::MYSQL_TYPE_JSON => ColumnKind::Json,
                MyType::MYSQL_TYPE_GEOMETRY => ColumnKind::Geometry { subtype: geoms.next().unwrap_or("geometry") },
                MyType::MYSQL_TYPE_BLOB
                | MyType::MYSQL_TYPE_TINY_BLOB
                | MyType::MYSQL_TYPE_MEDIUM_BLOB
                | MyType::MYSQL_TYPE_LONG_BLOB => {
                    let len_bytes = u32::from(m(0));
                    if json_columns.iter().any(|j| j == &name) {
                        ColumnKind::Json
                    } else if binary {
                        ColumnKind::Binary { max_bytes: len_bytes, fixed: false, blob: true }
                    } else {
                        ColumnKind::Text { max_bytes: len_bytes, fixed: false, blob: true }
                    }
                }
                MyType::MYSQL_TYPE_VARCHAR | MyType::MYSQL_TYPE_VAR_STRING => {
                    let max_bytes = u32::from(m(0)) | (u32::from(m(1)) << 8);
                    if binary {
                        ColumnKind::Binary { max_bytes, fixed: false, blob: false }
                    } else {
                        ColumnKind::Text { max_bytes, fixed: false, blob: false }
                    }
                }
                MyType::MYSQL_TYPE_STRING => {
                    let (b0, b1) = (u32::from(m(0)), u32::from(m(1)));
                    let max_bytes = if b0 & 0x30 != 0x30 { b1 | (((b0 & 0x30) ^ 0x30) << 4) } else { b1 };
                    if binary {
                        ColumnKind::Binary { max_bytes, fixed: true, blob: false }
                    } else {
                        ColumnKind::Text { max_bytes, fixed: true, blob: false }
                    }
                }
                other => return Err(err(format!("column {name}: unsupported binlog column type {other:?}"))),
            };
            let nullable = nulls.get(i).map(|b| *b).unwrap_or(true);
            let included = primary_key.contains(&i) || filters.column(&database, &table_name, &name);
            columns.push(ColumnLayout { name: name.into(), my_type, meta, kind, nullable, charset, included });
        }
        let table = TableId::new(Some(&database), None, &table_name);
        Ok(Self::assemble(table, columns, primary_key))
    }

    /// Builds the layout from already decoded columns (snapshot, tests).
    pub fn assemble(table: TableId, columns: Vec<ColumnLayout>, primary_key: Vec<usize>) -> Self {
        let schema = TableSchema {
            columns: columns
                .iter()
                .filter(|c| c.included)
                .map(|c| ColumnSchema {
                    name: c.name.to_string(),
                    column_type: c.column_type(),
                    optional: c.nullable,
                    source_type: Some(c.source_type()),
                })
                .collect(),
            primary_key: primary_key.iter().map(|&i| columns[i].name.to_string()).collect(),
        };
        TableLayout { table, columns, primary_key, schema: Arc::new(schema) }
    }

    /// Whether two layouts decode and emit the same way (a new schema version otherwise).
    pub fn same_shape(&self, other: &TableLayout) -> bool {
        self.schema == other.schema
            && self.columns.len() == other.columns.len()
            && self.columns.iter().zip(&other.columns).all(|(a, b)| a.my_type == b.my_type && a.meta == b.meta)
    }
}
