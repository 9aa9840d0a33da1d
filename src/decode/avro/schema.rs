//! Avro schema JSON → [`AvroSchema`]: the tree the datum reader walks, and
//! the Kafka Connect schema the envelope interpreter reads.
//!
//! Hand-written over `serde_json` rather than `apache_avro::Schema`, because
//! the Connect meaning of a field lives in properties `apache_avro` drops on
//! primitive types: Confluent's `AvroConverter` (which Debezium uses) writes
//! `{"type": "int", "connect.name": "io.debezium.time.Date"}`,
//! `connect.parameters` (`scale`, `allowed`, `length`, …), `connect.version`
//! and `connect.type` (`int8`/`int16`). The Connect schema follows
//! Confluent's `AvroData.toConnectSchema`:
//!
//! | Avro | Connect |
//! |---|---|
//! | `["null", T]`, `[T, "null"]` | `T`, optional |
//! | record | struct (name: `connect.name`, else the Avro full name) |
//! | int (`connect.type` int8/int16) / long / float / double / boolean / string / bytes | int32 (int8/int16) / int64 / float32 / float64 / boolean / string / bytes |
//! | fixed | bytes |
//! | enum | string named `io.debezium.data.Enum`, `allowed` = the symbols (unless `connect.name` says otherwise) |
//! | array / map | array / map with string keys |
//! | array of `io.confluent.connect.avro.MapEntry` records {key, value} | map with those keys |
//! | any other union | struct `io.confluent.connect.avro.Union`, one optional field per branch |
//!
//! Avro logical types without `connect.name` become the matching Connect or
//! Debezium logical type: `decimal` (bytes or fixed) → `Decimal` with
//! `scale` and `connect.decimal.precision`; `date` → `Date`; `time-millis` →
//! `Time`; `time-micros` → `io.debezium.time.MicroTime`; `timestamp-millis`
//! (and `local-`) → `Timestamp`; `timestamp-micros` → `MicroTimestamp`;
//! `timestamp-nanos` → `NanoTimestamp`; `uuid` (string) → `io.debezium.data.Uuid`.
//! A decimal `precision` of 64 is Confluent's placeholder for "none" (as in
//! `AvroData.toConnectSchema`) and is not kept as `connect.decimal.precision`.
//! With `connect.name`, the Connect name and parameters win (a Decimal's
//! `scale` is added from the logical type when `connect.parameters` lacks it).
//!
//! Named types are resolved with namespaces; a reference to a type that is
//! still being defined (a recursive type) is refused: Connect schemas cannot
//! be recursive. Schema references (named types defined in other registry
//! subjects) are parsed first, in any order.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::decode::connect::{ConnectField, ConnectSchema, ConnectType};
use crate::decode::names::{
    CONNECT_DATE, CONNECT_DECIMAL, CONNECT_TIME, CONNECT_TIMESTAMP, ENUM, MICRO_TIME, MICRO_TIMESTAMP, NANO_TIMESTAMP,
    PARAM_ALLOWED, PARAM_DECIMAL_PRECISION, PARAM_SCALE, UUID,
};

/// The Avro decimal precision Confluent's `AvroData` writes for a Connect
/// Decimal without `connect.decimal.precision` (and reads back as none).
const DEFAULT_DECIMAL_PRECISION: i64 = 64;

/// Connect's name of the struct standing for a general union.
pub const UNION_STRUCT: &str = "io.confluent.connect.avro.Union";
/// Full name of the records Confluent writes for Connect maps with non-string keys.
pub const MAP_ENTRY: &str = "io.confluent.connect.avro.MapEntry";

/// How the datum reader decodes one Avro type.
#[derive(Debug)]
pub enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(usize),
    Enum(Vec<String>),
    Array(Arc<Type>),
    Map(Arc<Type>),
    /// An array of MapEntry records: a Connect map with non-string keys.
    MapEntries {
        key: Arc<Type>,
        value: Arc<Type>,
    },
    Record(Vec<(String, Arc<Type>)>),
    /// `["null", T]` (`null_index` 0) or `[T, "null"]` (1).
    Nullable {
        null_index: u8,
        inner: Arc<Type>,
    },
    /// Any other union: branch names (for the Connect struct) and types.
    Union(Vec<(String, Arc<Type>)>),
}

/// One resolved Avro type: how to read it and what it means in Connect terms.
#[derive(Debug)]
pub struct Type {
    pub node: Node,
    /// The Connect schema (required; a nullable union makes it optional).
    pub connect: ConnectSchema,
    /// Fewest bytes one value occupies (bounds array and map block counts).
    pub min_size: usize,
}

/// A parsed writer schema, shared by every record written with it.
#[derive(Debug)]
pub struct AvroSchema {
    pub root: Arc<Type>,
    /// The Connect schema of the whole key or value (the same `Arc` for every record).
    pub connect: Arc<ConnectSchema>,
}

impl AvroSchema {
    /// Parses `text`, after the schemas it references (`references`, any order).
    pub fn parse(text: &str, references: &[&str]) -> Result<AvroSchema, String> {
        let mut names = Names::default();
        let mut pending: Vec<(usize, Json)> = Vec::new();
        for (i, reference) in references.iter().enumerate() {
            let json: Json =
                serde_json::from_str(reference).map_err(|e| format!("referenced schema {} is not JSON: {e}", i + 1))?;
            pending.push((i, json));
        }
        // Referenced schemas may use each other: parse until no progress.
        while !pending.is_empty() {
            let before = pending.len();
            let mut failures = Vec::new();
            pending.retain(|(i, json)| {
                // A failed attempt must leave no half-defined names behind.
                let before_attempt = names.types.clone();
                match names.parse(json, "") {
                    Ok(_) => false,
                    Err(e) => {
                        names.types = before_attempt;
                        failures.push(format!("referenced schema {}: {e}", i + 1));
                        true
                    }
                }
            });
            if pending.len() == before {
                return Err(failures.join("; "));
            }
        }
        let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let root = names.parse(&json, "")?;
        let connect = Arc::new(root.connect.clone());
        Ok(AvroSchema { root, connect })
    }
}

/// Named types seen so far: `Some` once defined, `None` while being defined.
#[derive(Default)]
struct Names {
    types: HashMap<String, Option<Arc<Type>>>,
}

fn type_of(node: Node, kind: ConnectType, min_size: usize) -> Arc<Type> {
    Arc::new(Type { node, connect: ConnectSchema::primitive(kind, false), min_size })
}

fn full_name(name: &str, namespace: Option<&str>, enclosing: &str) -> String {
    if name.contains('.') {
        return name.to_string();
    }
    match namespace.unwrap_or(enclosing) {
        "" => name.to_string(),
        ns => format!("{ns}.{name}"),
    }
}

fn namespace_of(full: &str) -> &str {
    full.rsplit_once('.').map(|(ns, _)| ns).unwrap_or("")
}

fn simple_name(full: &str) -> &str {
    full.rsplit_once('.').map(|(_, n)| n).unwrap_or(full)
}

/// A property as a string (`connect.parameters` values may be numbers).
fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn int_prop(obj: &Map<String, Json>, key: &str) -> Option<i64> {
    match obj.get(key)? {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Names {
    fn parse(&mut self, json: &Json, enclosing: &str) -> Result<Arc<Type>, String> {
        match json {
            Json::String(name) => self.named_or_primitive(name, enclosing),
            Json::Array(branches) => self.union(branches, enclosing),
            Json::Object(obj) => self.object(obj, enclosing),
            other => Err(format!("expected a type (a name, an object or a union), found {other}")),
        }
    }

    fn named_or_primitive(&self, name: &str, enclosing: &str) -> Result<Arc<Type>, String> {
        if let Some(t) = primitive(name) {
            return Ok(t);
        }
        let candidates = [full_name(name, None, enclosing), name.to_string()];
        for candidate in &candidates {
            match self.types.get(candidate) {
                Some(Some(t)) => return Ok(Arc::clone(t)),
                Some(None) => {
                    return Err(format!(
                        "type {candidate:?} refers to itself: recursive types cannot be represented as Connect schemas"
                    ));
                }
                None => {}
            }
        }
        Err(format!("unknown type {name:?}"))
    }

    fn define(&mut self, full: &str) -> Result<(), String> {
        if self.types.contains_key(full) {
            return Err(format!("type {full:?} is defined twice"));
        }
        self.types.insert(full.to_string(), None);
        Ok(())
    }

    fn union(&mut self, branches: &[Json], enclosing: &str) -> Result<Arc<Type>, String> {
        let mut types = Vec::with_capacity(branches.len());
        for (i, branch) in branches.iter().enumerate() {
            if branch.is_array() {
                return Err(format!("union branch {i} is itself a union"));
            }
            types.push(self.parse(branch, enclosing).map_err(|e| format!("union branch {i}: {e}"))?);
        }
        if types.is_empty() {
            return Err("empty union".into());
        }
        let nulls: Vec<usize> = (0..types.len()).filter(|i| matches!(types[*i].node, Node::Null)).collect();
        if types.len() == 2 && nulls.len() == 1 {
            let null_index = nulls[0] as u8;
            let inner = Arc::clone(&types[1 - nulls[0]]);
            let mut connect = inner.connect.clone();
            connect.optional = true;
            return Ok(Arc::new(Type { node: Node::Nullable { null_index, inner }, connect, min_size: 1 }));
        }
        if types.len() == 1 {
            // A one-branch union reads its index (0) then the branch.
            let only = Arc::clone(&types[0]);
            let connect = only.connect.clone();
            let name = branch_name(&only);
            return Ok(Arc::new(Type { node: Node::Union(vec![(name, only)]), connect, min_size: 1 }));
        }
        let mut fields = Vec::new();
        let mut named = Vec::with_capacity(types.len());
        for t in types {
            let name = branch_name(&t);
            if !matches!(t.node, Node::Null) {
                let mut schema = t.connect.clone();
                schema.optional = true;
                fields.push(ConnectField { name: name.clone(), schema });
            }
            named.push((name, t));
        }
        let connect = ConnectSchema::structure(Some(UNION_STRUCT), fields, !nulls.is_empty());
        Ok(Arc::new(Type { node: Node::Union(named), connect, min_size: 1 }))
    }

    fn object(&mut self, obj: &Map<String, Json>, enclosing: &str) -> Result<Arc<Type>, String> {
        let type_name = match obj.get("type") {
            Some(Json::String(t)) => t.as_str(),
            Some(nested @ (Json::Object(_) | Json::Array(_))) => return self.parse(nested, enclosing),
            Some(other) => return Err(format!("\"type\" must be a string, found {other}")),
            None => return Err("an object schema without \"type\"".into()),
        };
        // Named types apply their properties before they are registered, so
        // that later references see the same Connect schema.
        let parsed = match type_name {
            "record" | "error" => return self.record(obj, enclosing),
            "enum" => return self.enumeration(obj, enclosing),
            "fixed" => return self.fixed(obj, enclosing),
            "array" => {
                let items = obj.get("items").ok_or("an array without \"items\"")?;
                let items = self.parse(items, enclosing).map_err(|e| format!("items: {e}"))?;
                array_or_map_entries(items)
            }
            "map" => {
                let values = obj.get("values").ok_or("a map without \"values\"")?;
                let values = self.parse(values, enclosing).map_err(|e| format!("values: {e}"))?;
                let mut connect = ConnectSchema::primitive(ConnectType::Map, false);
                connect.keys = Some(Box::new(ConnectSchema::primitive(ConnectType::String, false)));
                connect.items = Some(Box::new(values.connect.clone()));
                Arc::new(Type { node: Node::Map(values), connect, min_size: 1 })
            }
            primitive_name => match primitive(primitive_name) {
                Some(t) => t,
                None => {
                    // `{"type": "SomeRecord"}`: a reference in object form.
                    return self.named_or_primitive(primitive_name, enclosing);
                }
            },
        };
        Ok(with_connect_properties(parsed, obj))
    }

    fn record(&mut self, obj: &Map<String, Json>, enclosing: &str) -> Result<Arc<Type>, String> {
        let name = obj.get("name").and_then(Json::as_str).ok_or("a record without a \"name\"")?;
        let full = full_name(name, obj.get("namespace").and_then(Json::as_str), enclosing);
        self.define(&full)?;
        let namespace = namespace_of(&full).to_string();
        let fields_json = match obj.get("fields") {
            Some(Json::Array(f)) => f,
            _ => return Err(format!("record {full:?} has no \"fields\" array")),
        };
        let mut fields = Vec::with_capacity(fields_json.len());
        let mut connect_fields = Vec::with_capacity(fields_json.len());
        let mut min_size = 0usize;
        for (i, field) in fields_json.iter().enumerate() {
            let field_name = field
                .get("name")
                .and_then(Json::as_str)
                .ok_or_else(|| format!("record {full:?}: field {i} has no \"name\""))?;
            if fields.iter().any(|(n, _): &(String, Arc<Type>)| n == field_name) {
                return Err(format!("record {full:?}: field {field_name:?} is declared twice"));
            }
            let field_type =
                field.get("type").ok_or_else(|| format!("record {full:?}: field {field_name:?} has no \"type\""))?;
            let t = self
                .parse(field_type, &namespace)
                .map_err(|e| format!("record {full:?}, field {field_name:?}: {e}"))?;
            min_size = min_size.saturating_add(t.min_size);
            connect_fields.push(ConnectField { name: field_name.to_string(), schema: t.connect.clone() });
            fields.push((field_name.to_string(), t));
        }
        let connect = ConnectSchema::structure(Some(&full), connect_fields, false);
        let t = with_connect_properties(Arc::new(Type { node: Node::Record(fields), connect, min_size }), obj);
        self.types.insert(full, Some(Arc::clone(&t)));
        Ok(t)
    }

    fn enumeration(&mut self, obj: &Map<String, Json>, enclosing: &str) -> Result<Arc<Type>, String> {
        let name = obj.get("name").and_then(Json::as_str).ok_or("an enum without a \"name\"")?;
        let full = full_name(name, obj.get("namespace").and_then(Json::as_str), enclosing);
        self.define(&full)?;
        let symbols: Vec<String> = match obj.get("symbols") {
            Some(Json::Array(s)) => s
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| format!("enum {full:?}: a symbol is not a string"))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(format!("enum {full:?} has no \"symbols\" array")),
        };
        let connect = ConnectSchema::primitive(ConnectType::String, false)
            .named(ENUM)
            .with_parameter(PARAM_ALLOWED, &symbols.join(","));
        let t = with_connect_properties(Arc::new(Type { node: Node::Enum(symbols), connect, min_size: 1 }), obj);
        self.types.insert(full, Some(Arc::clone(&t)));
        Ok(t)
    }

    fn fixed(&mut self, obj: &Map<String, Json>, enclosing: &str) -> Result<Arc<Type>, String> {
        let name = obj.get("name").and_then(Json::as_str).ok_or("a fixed without a \"name\"")?;
        let full = full_name(name, obj.get("namespace").and_then(Json::as_str), enclosing);
        self.define(&full)?;
        let size = match obj.get("size").and_then(Json::as_u64) {
            Some(size) if size <= (1 << 30) => size as usize,
            _ => return Err(format!("fixed {full:?} has no valid \"size\"")),
        };
        let t = Arc::new(Type {
            node: Node::Fixed(size),
            connect: ConnectSchema::primitive(ConnectType::Bytes, false),
            min_size: size,
        });
        let t = with_connect_properties(t, obj);
        self.types.insert(full, Some(Arc::clone(&t)));
        Ok(t)
    }
}

fn primitive(name: &str) -> Option<Arc<Type>> {
    Some(match name {
        "null" => type_of(Node::Null, ConnectType::String, 0),
        "boolean" => type_of(Node::Boolean, ConnectType::Boolean, 1),
        "int" => type_of(Node::Int, ConnectType::Int32, 1),
        "long" => type_of(Node::Long, ConnectType::Int64, 1),
        "float" => type_of(Node::Float, ConnectType::Float32, 4),
        "double" => type_of(Node::Double, ConnectType::Float64, 8),
        "bytes" => type_of(Node::Bytes, ConnectType::Bytes, 1),
        "string" => type_of(Node::String, ConnectType::String, 1),
        _ => return None,
    })
}

fn branch_name(t: &Type) -> String {
    match (&t.node, t.connect.name()) {
        (Node::Null, _) => "null".into(),
        (Node::Boolean, _) => "boolean".into(),
        (Node::Int, _) => "int".into(),
        (Node::Long, _) => "long".into(),
        (Node::Float, _) => "float".into(),
        (Node::Double, _) => "double".into(),
        (Node::Bytes, _) => "bytes".into(),
        (Node::String, _) => "string".into(),
        (Node::Array(_), _) => "array".into(),
        (Node::Map(_) | Node::MapEntries { .. }, _) => "map".into(),
        (_, Some(name)) => simple_name(name).to_string(),
        _ => t.connect.kind.as_str().to_string(),
    }
}

/// `array` items: a MapEntry record {key, value} turns the array into a Connect map.
fn array_or_map_entries(items: Arc<Type>) -> Arc<Type> {
    if let Node::Record(fields) = &items.node
        && items.connect.name() == Some(MAP_ENTRY)
        && fields.len() == 2
        && fields[0].0 == "key"
        && fields[1].0 == "value"
    {
        let (key, value) = (Arc::clone(&fields[0].1), Arc::clone(&fields[1].1));
        let mut connect = ConnectSchema::primitive(ConnectType::Map, false);
        connect.keys = Some(Box::new(key.connect.clone()));
        connect.items = Some(Box::new(value.connect.clone()));
        return Arc::new(Type { node: Node::MapEntries { key, value }, connect, min_size: 1 });
    }
    let mut connect = ConnectSchema::primitive(ConnectType::Array, false);
    connect.items = Some(Box::new(items.connect.clone()));
    Arc::new(Type { node: Node::Array(items), connect, min_size: 1 })
}

/// Rebuilds `t` with a new Connect schema (the node is shared through `Arc`s
/// below it; only the top level is copied).
fn with_connect(t: Arc<Type>, connect: ConnectSchema) -> Arc<Type> {
    match Arc::try_unwrap(t) {
        Ok(mut owned) => {
            owned.connect = connect;
            Arc::new(owned)
        }
        Err(shared) => {
            // A named type used again with extra properties: copy its node.
            let node = match &shared.node {
                Node::Null => Node::Null,
                Node::Boolean => Node::Boolean,
                Node::Int => Node::Int,
                Node::Long => Node::Long,
                Node::Float => Node::Float,
                Node::Double => Node::Double,
                Node::Bytes => Node::Bytes,
                Node::String => Node::String,
                Node::Fixed(n) => Node::Fixed(*n),
                Node::Enum(s) => Node::Enum(s.clone()),
                Node::Array(i) => Node::Array(Arc::clone(i)),
                Node::Map(v) => Node::Map(Arc::clone(v)),
                Node::MapEntries { key, value } => Node::MapEntries { key: Arc::clone(key), value: Arc::clone(value) },
                Node::Record(f) => Node::Record(f.clone()),
                Node::Nullable { null_index, inner } => {
                    Node::Nullable { null_index: *null_index, inner: Arc::clone(inner) }
                }
                Node::Union(b) => Node::Union(b.clone()),
            };
            Arc::new(Type { node, connect, min_size: shared.min_size })
        }
    }
}

/// Applies an Avro `logicalType` (when valid for the underlying type) as the
/// matching Connect/Debezium logical name.
fn with_logical_type(t: Arc<Type>, obj: &Map<String, Json>) -> Arc<Type> {
    let Some(logical) = obj.get("logicalType").and_then(Json::as_str) else {
        return t;
    };
    let base = t.connect.clone();
    let connect = match (logical, &t.node) {
        ("decimal", Node::Bytes | Node::Fixed(_)) => {
            let scale = int_prop(obj, "scale").unwrap_or(0);
            let mut schema = base.named(CONNECT_DECIMAL).with_parameter(PARAM_SCALE, &scale.to_string());
            // Confluent's AvroData writes precision 64 when the Connect
            // schema has none, and reads 64 back as "no precision".
            if let Some(precision) = int_prop(obj, "precision").filter(|p| *p != DEFAULT_DECIMAL_PRECISION) {
                schema = schema.with_parameter(PARAM_DECIMAL_PRECISION, &precision.to_string());
            }
            schema
        }
        ("date", Node::Int) => base.named(CONNECT_DATE),
        ("time-millis", Node::Int) => base.named(CONNECT_TIME),
        ("time-micros", Node::Long) => base.named(MICRO_TIME),
        ("timestamp-millis" | "local-timestamp-millis", Node::Long) => base.named(CONNECT_TIMESTAMP),
        ("timestamp-micros" | "local-timestamp-micros", Node::Long) => base.named(MICRO_TIMESTAMP),
        ("timestamp-nanos" | "local-timestamp-nanos", Node::Long) => base.named(NANO_TIMESTAMP),
        ("uuid", Node::String) => base.named(UUID),
        _ => return t,
    };
    with_connect(t, connect)
}

/// Applies the logical type, then the Connect properties (`connect.name`,
/// `connect.parameters`, `connect.version`, `connect.type`), which win.
fn with_connect_properties(t: Arc<Type>, obj: &Map<String, Json>) -> Arc<Type> {
    let t = with_logical_type(t, obj);
    let name = obj.get("connect.name").and_then(Json::as_str);
    let parameters = obj.get("connect.parameters").and_then(Json::as_object);
    let version = int_prop(obj, "connect.version").and_then(|v| i32::try_from(v).ok());
    let connect_type = obj.get("connect.type").and_then(Json::as_str).and_then(ConnectType::parse);
    if name.is_none() && parameters.is_none() && version.is_none() && connect_type.is_none() {
        return t;
    }
    let mut connect = t.connect.clone();
    if let Some(kind) = connect_type.filter(|k| k.is_integer() && connect.kind.is_integer()) {
        connect.kind = kind;
    }
    if let Some(name) = name {
        if connect.name() != Some(name) {
            // The Connect name replaces what the logical type implied, parameters included,
            // except a Decimal's scale, which the logical type also carries.
            let logical_scale = connect.parameter(PARAM_SCALE).map(str::to_string);
            connect.parameters.clear();
            if name == CONNECT_DECIMAL
                && let Some(scale) = logical_scale
            {
                connect.parameters.push((PARAM_SCALE.to_string(), scale));
            }
        }
        connect.name = Some(name.to_string());
    }
    if let Some(parameters) = parameters {
        if name.is_none() {
            connect.parameters.clear();
        }
        for (key, value) in parameters {
            let value = text(value);
            match connect.parameters.iter_mut().find(|(k, _)| k == key) {
                Some(existing) => existing.1 = value,
                None => connect.parameters.push((key.clone(), value)),
            }
        }
    }
    if version.is_some() {
        connect.version = version;
    }
    with_connect(t, connect)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_of(text: &str) -> ConnectSchema {
        (*AvroSchema::parse(text, &[]).unwrap().connect).clone()
    }

    #[test]
    fn debezium_envelope_with_a_shared_value_record() {
        let schema = AvroSchema::parse(
            r#"{"type":"record","name":"Envelope","namespace":"srv.inv.customers","connect.name":"srv.inv.customers.Envelope",
                "fields":[
                 {"name":"before","type":["null",{"type":"record","name":"Value","fields":[
                    {"name":"id","type":"int"},
                    {"name":"born","type":["null",{"type":"int","connect.version":1,"connect.name":"io.debezium.time.Date"}],"default":null},
                    {"name":"price","type":{"type":"bytes","scale":2,"precision":10,"connect.version":1,
                        "connect.parameters":{"scale":"2","connect.decimal.precision":"10"},
                        "connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}},
                    {"name":"small","type":{"type":"int","connect.type":"int16"}}],
                    "connect.name":"srv.inv.customers.Value"}],"default":null},
                 {"name":"after","type":["null","Value"],"default":null},
                 {"name":"op","type":"string"}]}"#,
            &[],
        )
        .unwrap();
        let c = &schema.connect;
        assert_eq!(c.name(), Some("srv.inv.customers.Envelope"));
        let after = c.field("after").unwrap();
        assert!(after.optional);
        assert_eq!(after.name(), Some("srv.inv.customers.Value"));
        assert_eq!(c.field("before").unwrap().fields, after.fields);
        let born = after.field("born").unwrap();
        assert_eq!(
            (born.kind, born.name(), born.optional, born.version),
            (ConnectType::Int32, Some("io.debezium.time.Date"), true, Some(1))
        );
        let price = after.field("price").unwrap();
        assert_eq!(price.name(), Some(CONNECT_DECIMAL));
        assert_eq!(price.parameter("scale"), Some("2"));
        assert_eq!(price.parameter(PARAM_DECIMAL_PRECISION), Some("10"));
        assert_eq!(after.field("small").unwrap().kind, ConnectType::Int16);
    }

    #[test]
    fn plain_avro_logical_types() {
        let c = connect_of(
            r#"{"type":"record","name":"r","fields":[
                {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":5,"scale":3}},
                {"name":"f","type":{"type":"fixed","name":"f8","size":8,"logicalType":"decimal","precision":18,"scale":4}},
                {"name":"day","type":{"type":"int","logicalType":"date"}},
                {"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
                {"name":"tu","type":{"type":"long","logicalType":"time-micros"}},
                {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
                {"name":"tsu","type":{"type":"long","logicalType":"timestamp-micros"}},
                {"name":"id","type":{"type":"string","logicalType":"uuid"}},
                {"name":"bad","type":{"type":"string","logicalType":"date"}},
                {"name":"e","type":{"type":"enum","name":"E","symbols":["a","b"]}}]}"#,
        );
        let name = |f: &str| c.field(f).unwrap().name().map(str::to_string);
        assert_eq!(name("d").as_deref(), Some(CONNECT_DECIMAL));
        assert_eq!(c.field("d").unwrap().parameter(PARAM_SCALE), Some("3"));
        assert_eq!(c.field("f").unwrap().parameter(PARAM_DECIMAL_PRECISION), Some("18"));
        assert_eq!(name("day").as_deref(), Some(CONNECT_DATE));
        assert_eq!(name("tm").as_deref(), Some(CONNECT_TIME));
        assert_eq!(name("tu").as_deref(), Some(MICRO_TIME));
        assert_eq!(name("ts").as_deref(), Some(CONNECT_TIMESTAMP));
        assert_eq!(name("tsu").as_deref(), Some(MICRO_TIMESTAMP));
        assert_eq!(name("id").as_deref(), Some(UUID));
        assert_eq!(name("bad"), None, "an invalid logical type is ignored");
        assert_eq!(c.field("e").unwrap().parameter(PARAM_ALLOWED), Some("a,b"));
    }

    #[test]
    fn bad_schemas_say_why() {
        let err = |t: &str| AvroSchema::parse(t, &[]).unwrap_err();
        assert!(err("{").starts_with("not JSON"));
        assert!(err(r#""Nope""#).contains("unknown type \"Nope\""));
        assert!(
            err(r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#).contains("recursive")
        );
        assert!(
            err(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#)
                .contains("declared twice")
        );
        assert!(err(r#"["null",["int"]]"#).contains("itself a union"));
    }

    #[test]
    fn references_in_any_order() {
        let a = r#"{"type":"record","name":"A","namespace":"n","fields":[{"name":"b","type":"n.B"}]}"#;
        let b = r#"{"type":"record","name":"B","namespace":"n","fields":[{"name":"x","type":"int"}]}"#;
        let main = r#"{"type":"record","name":"M","fields":[{"name":"a","type":"n.A"}]}"#;
        let schema = AvroSchema::parse(main, &[a, b]).unwrap();
        assert_eq!(schema.connect.field("a").unwrap().field("b").unwrap().field("x").unwrap().kind, ConnectType::Int32);
        assert!(AvroSchema::parse(main, &[a]).unwrap_err().contains("unknown type \"n.B\""));
    }
}
