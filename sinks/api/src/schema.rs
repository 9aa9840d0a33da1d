//! Column types as the source declared them.
//!
//! Decoders build a [`TableSchema`] from the Debezium/Connect schema block (or
//! Avro writer schema, or the binlog table map); sinks use it to create tables,
//! add columns and derive index mappings. Events without a schema (schemaless
//! JSON) carry none, and sinks infer from values.

use serde::{Deserialize, Serialize};

/// A column type, independent of any sink.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnType {
    Bool,
    Int16,
    Int32,
    Int64,
    /// `BIGINT UNSIGNED` (sinks need 20 digits).
    UInt64,
    Float32,
    Float64,
    /// Exact numeric. `precision`/`scale` when the source declared them
    /// (`VariableScaleDecimal` declares neither).
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    /// Character data; `max_length` when declared (`VARCHAR(255)`).
    Text {
        max_length: Option<u32>,
    },
    Bytes {
        max_length: Option<u32>,
    },
    Date,
    Time {
        precision: u8,
    },
    TimeTz {
        precision: u8,
    },
    Timestamp {
        precision: u8,
    },
    TimestampTz {
        precision: u8,
    },
    Json,
    Uuid,
    Enum {
        allowed: Vec<String>,
    },
    Set {
        allowed: Vec<String>,
    },
    Bits {
        length: u32,
    },
    Geometry,
    Array {
        element: Box<ColumnType>,
    },
    /// A type sluice cannot map more precisely; sinks store it as text/JSON.
    Unknown {
        name: String,
    },
}

/// One column of a table schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    pub column_type: ColumnType,
    pub optional: bool,
    /// The source's own type name when known (`VARCHAR`, `int unsigned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
}

/// The shape of a table's rows and its primary key, as of one event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct TableSchema {
    pub columns: Vec<ColumnSchema>,
    /// Primary key column names, in key order (from the record key schema).
    pub primary_key: Vec<String>,
}

impl TableSchema {
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }
}
