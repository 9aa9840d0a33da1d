//! The neutral, Kafka Connect–shaped representation every wire format is
//! converted into before the envelope is interpreted.
//!
//! Debezium builds its records as Kafka Connect `Struct`s with a `Schema`;
//! the JSON converter, the Avro converter and sluice's own source all
//! serialize that same model. Decoding therefore runs in two steps:
//!
//! 1. a [`RecordConverter`](super::RecordConverter) turns the bytes into
//!    [`ConnectData`]: an optional [`ConnectSchema`] and a [`ConnectValue`]
//!    tree (JSON with or without schema, Avro with `connect.name` /
//!    `connect.parameters`);
//! 2. the envelope interpreter turns `ConnectData` into a
//!    [`Decoded`](super::Decoded), converting logical types
//!    (`org.apache.kafka.connect.data.Decimal`, `io.debezium.time.*`, …).
//!
//! Converters produce *primitive* values: a `Decimal` column is
//! [`ConnectValue::Bytes`] (or [`ConnectValue::Decimal`] when the wire format
//! already carries an exact decimal, e.g. JsonConverter `decimal.format=NUMERIC`
//! or an Avro `decimal`), a `io.debezium.time.Date` is an [`ConnectValue::Int`].
//! The logical meaning comes from the schema's `name` and `parameters` only.

use std::sync::Arc;

use sluice_sink_api::Decimal;

/// A Connect schema type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl ConnectType {
    /// The name JsonConverter writes (`int32`, `struct`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectType::Int8 => "int8",
            ConnectType::Int16 => "int16",
            ConnectType::Int32 => "int32",
            ConnectType::Int64 => "int64",
            ConnectType::Float32 => "float32",
            ConnectType::Float64 => "float64",
            ConnectType::Boolean => "boolean",
            ConnectType::String => "string",
            ConnectType::Bytes => "bytes",
            ConnectType::Array => "array",
            ConnectType::Map => "map",
            ConnectType::Struct => "struct",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "int8" => ConnectType::Int8,
            "int16" => ConnectType::Int16,
            "int32" => ConnectType::Int32,
            "int64" => ConnectType::Int64,
            "float32" => ConnectType::Float32,
            "float64" | "double" => ConnectType::Float64,
            "float" => ConnectType::Float32,
            "boolean" => ConnectType::Boolean,
            "string" => ConnectType::String,
            "bytes" => ConnectType::Bytes,
            "array" => ConnectType::Array,
            "map" => ConnectType::Map,
            "struct" => ConnectType::Struct,
            _ => return None,
        })
    }

    pub fn is_integer(self) -> bool {
        matches!(self, ConnectType::Int8 | ConnectType::Int16 | ConnectType::Int32 | ConnectType::Int64)
    }
}

/// One field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectField {
    pub name: String,
    pub schema: ConnectSchema,
}

/// A Kafka Connect schema: type, optional logical name and parameters,
/// struct fields, array items, map keys/values.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectSchema {
    pub kind: ConnectType,
    /// Logical or record name (`io.debezium.time.Date`, `…Envelope`).
    pub name: Option<String>,
    pub version: Option<i32>,
    /// Connect schema parameters (`scale`, `allowed`, `length`,
    /// `__debezium.source.column.type`, …), in declaration order.
    pub parameters: Vec<(String, String)>,
    pub optional: bool,
    /// Struct fields, in order (empty for other types).
    pub fields: Vec<ConnectField>,
    /// Array items, or map values.
    pub items: Option<Box<ConnectSchema>>,
    /// Map keys.
    pub keys: Option<Box<ConnectSchema>>,
}

impl ConnectSchema {
    /// A schema of `kind` with no name, parameters or children.
    pub fn primitive(kind: ConnectType, optional: bool) -> Self {
        ConnectSchema {
            kind,
            name: None,
            version: None,
            parameters: Vec::new(),
            optional,
            fields: Vec::new(),
            items: None,
            keys: None,
        }
    }

    /// Builder: sets the logical name.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Builder: adds a parameter.
    pub fn with_parameter(mut self, key: &str, value: &str) -> Self {
        self.parameters.push((key.to_string(), value.to_string()));
        self
    }

    /// Builder: a struct with the given fields.
    pub fn structure(name: Option<&str>, fields: Vec<ConnectField>, optional: bool) -> Self {
        ConnectSchema {
            name: name.map(str::to_string),
            fields,
            ..ConnectSchema::primitive(ConnectType::Struct, optional)
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The schema of struct field `name`.
    pub fn field(&self, name: &str) -> Option<&ConnectSchema> {
        self.fields.iter().find(|f| f.name == name).map(|f| &f.schema)
    }
}

/// A Connect value, primitive (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectValue {
    Null,
    Bool(bool),
    /// Every integer width.
    Int(i64),
    /// An integer above `i64::MAX` (only from schemaless input or a
    /// non-Java producer; Connect itself has no unsigned type).
    UInt(u64),
    Float(f64),
    String(String),
    Bytes(Vec<u8>),
    /// An exact decimal the wire format already decoded.
    Decimal(Decimal),
    Array(Vec<ConnectValue>),
    /// Map entries in wire order.
    Map(Vec<(ConnectValue, ConnectValue)>),
    /// Struct fields in order: the schema's fields first, then any member the
    /// schema does not declare (tolerated, with an inferred type).
    Struct(Vec<(String, ConnectValue)>),
}

impl ConnectValue {
    /// A short description for error messages: the kind and a truncated rendering.
    pub fn describe(&self) -> String {
        const MAX: usize = 48;
        let cut = |s: String| {
            if s.chars().count() > MAX { format!("{}…", s.chars().take(MAX).collect::<String>()) } else { s }
        };
        match self {
            ConnectValue::Null => "null".to_string(),
            ConnectValue::Bool(b) => format!("boolean {b}"),
            ConnectValue::Int(i) => format!("integer {i}"),
            ConnectValue::UInt(u) => format!("integer {u}"),
            ConnectValue::Float(f) => format!("number {f}"),
            ConnectValue::String(s) => cut(format!("string {s:?}")),
            ConnectValue::Bytes(b) => format!("{} bytes", b.len()),
            ConnectValue::Decimal(d) => format!("decimal {d}"),
            ConnectValue::Array(a) => format!("array of {} items", a.len()),
            ConnectValue::Map(m) => format!("map of {} entries", m.len()),
            ConnectValue::Struct(f) => format!("struct of {} fields", f.len()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, ConnectValue::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            ConnectValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Removes and returns struct member `name` (None when absent or not a struct).
    pub fn take_field(&mut self, name: &str) -> Option<ConnectValue> {
        match self {
            ConnectValue::Struct(fields) => {
                let index = fields.iter().position(|(n, _)| n == name)?;
                Some(fields.remove(index).1)
            }
            _ => None,
        }
    }

    /// Borrows struct member `name`.
    pub fn field(&self, name: &str) -> Option<&ConnectValue> {
        match self {
            ConnectValue::Struct(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A converted key or value: its schema when the wire format carried one.
///
/// Schemas are shared (`Arc`): converters cache them by identity (the JSON
/// schema text, the registry schema id) so that repeated records hand the
/// same `Arc` to the interpreter, which caches the derived
/// [`TableSchema`](sluice_sink_api::TableSchema) by that identity.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectData {
    pub schema: Option<Arc<ConnectSchema>>,
    pub value: ConnectValue,
}

impl ConnectData {
    pub fn new(schema: Option<Arc<ConnectSchema>>, value: ConnectValue) -> Self {
        ConnectData { schema, value }
    }

    /// Schemaless data.
    pub fn schemaless(value: ConnectValue) -> Self {
        ConnectData { schema: None, value }
    }
}
