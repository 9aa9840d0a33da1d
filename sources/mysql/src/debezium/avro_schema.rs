//! Kafka Connect schema (JsonConverter's JSON form) → Avro schema, as
//! Confluent's `AvroData.fromConnectSchema` writes it with
//! `connect.meta.data=true` (the AvroConverter default).
//!
//! # Contract
//!
//! | Connect | Avro |
//! |---|---|
//! | int8 / int16 | `{"type":"int","connect.type":"int8"/"int16"}` |
//! | int32 / int64 / float32 (`float`) / float64 (`double`) / boolean / string / bytes | int / long / float / double / boolean / string / bytes |
//! | `org.apache.kafka.connect.data.Decimal` | bytes, `logicalType: decimal`, `precision` (`connect.decimal.precision`, else 64), `scale` |
//! | `org.apache.kafka.connect.data.Date` / `Time` / `Timestamp` | int `date` / int `time-millis` / long `timestamp-millis` |
//! | struct | record: name and namespace split from the dotted Connect name; unnamed → `io.confluent.connect.avro.ConnectDefault` (then `ConnectDefault1`, …) |
//! | array | array |
//! | map with non-optional string keys | map |
//! | other maps | array of `io.confluent.connect.avro.MapEntry` records `{key, value}` |
//! | optional T | `["null", T]`, field `default: null`; with a non-null default `[T, "null"]` and that default |
//!
//! Every named/versioned/documented/parameterized schema carries
//! `connect.name`, `connect.version`, `connect.doc`, `connect.parameters`
//! (a string map), and a Connect default `connect.default` (the field gets
//! the Avro `default`). A named record that occurs again (the envelope's
//! `before` and `after`) is written once and referenced by its full name.
//!
//! # Name adjustment
//!
//! Avro names (records, namespaces segment by segment, and fields) must
//! match `[A-Za-z_][A-Za-z0-9_]*`. Like Debezium's
//! `schema.name.adjustment.mode=avro` and `field.name.adjustment.mode=avro`,
//! every other character becomes `_`; unlike Debezium (which replaces a
//! leading digit and checks only the first character of a full name), a
//! name or namespace segment starting with a digit gets a `_` prefix
//! (`my-db.2024 sales` → `my_db._2024_sales`), so `1st`/`2nd` stay distinct
//! and every segment is valid Avro. `connect.name`
//! keeps the original Connect name; adjusted field names are what consumers
//! see as column names ([`adjust_name`] is applied by the value encoder too).

use std::collections::HashSet;

use serde_json::{Map, Value as Json, json};

/// The namespace of Confluent's generated names (`ConnectDefault`, `MapEntry`).
pub const CONNECT_NAMESPACE: &str = "io.confluent.connect.avro";
/// Connect's Decimal logical type.
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// Connect's Date logical type.
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
/// Connect's Time logical type.
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
/// Connect's Timestamp logical type.
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
/// The precision AvroData gives a Decimal without `connect.decimal.precision`.
pub const DEFAULT_DECIMAL_PRECISION: u64 = 64;

/// A Connect schema that cannot be mapped to Avro.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Connect schema at {path}: {message}")]
pub struct AvroSchemaError {
    /// Where in the Connect schema (`$.fields[2].items`).
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> AvroSchemaError {
    AvroSchemaError { path: path.to_string(), message: message.into() }
}

/// One Avro name segment: invalid characters → `_`, a leading digit gets a `_` prefix.
pub fn adjust_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

/// Whether `name` is a valid Avro name segment already.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn adjust_segment(name: &str) -> String {
    if is_valid_name(name) { name.to_string() } else { adjust_name(name) }
}

/// A dotted full name, adjusted segment by segment: `(namespace, name)`.
pub fn split_full_name(full: &str) -> (Option<String>, String) {
    match full.rsplit_once('.') {
        Some((ns, simple)) => {
            let ns: Vec<String> = ns.split('.').map(adjust_segment).collect();
            (Some(ns.join(".")), adjust_segment(simple))
        }
        None => (None, adjust_segment(full)),
    }
}

/// The Avro field name of a Connect field (see the module docs).
pub fn field_name(connect: &str) -> String {
    adjust_segment(connect)
}

/// Whether a Connect schema is optional (`"optional": true`).
pub fn is_optional(s: &Json) -> bool {
    s.get("optional").and_then(Json::as_bool).unwrap_or(false)
}

/// The Connect default of a schema, if any (a JSON `null` default is none).
pub fn connect_default(s: &Json) -> Option<&Json> {
    s.get("default").filter(|d| !d.is_null())
}

/// Converts a whole Connect schema (a record key or value) to its Avro schema.
pub fn to_avro_schema(connect: &Json) -> Result<Json, AvroSchemaError> {
    Converter::default().schema(connect, "$")
}

#[derive(Default)]
struct Converter {
    /// Full names of the records written so far.
    defined: HashSet<String>,
    /// `ConnectDefault` records generated so far.
    default_names: usize,
}

fn primitive(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "int8" | "int16" | "int32" => "int",
        "int64" => "long",
        // JsonConverter spells Connect's float32/float64 `float`/`double`.
        "float" | "float32" => "float",
        "double" | "float64" => "double",
        "boolean" => "boolean",
        "string" => "string",
        "bytes" => "bytes",
        _ => return None,
    })
}

impl Converter {
    /// The schema with its optional wrapping.
    fn schema(&mut self, s: &Json, path: &str) -> Result<Json, AvroSchemaError> {
        let base = self.base(s, path)?;
        Ok(if !is_optional(s) {
            base
        } else if connect_default(s).is_some() {
            json!([base, "null"])
        } else {
            json!(["null", base])
        })
    }

    fn props(&self, s: &Json, out: &mut Map<String, Json>, path: &str) -> Result<(), AvroSchemaError> {
        if let Some(name) = s.get("name").and_then(Json::as_str) {
            out.insert("connect.name".into(), Json::String(name.to_string()));
        }
        if let Some(doc) = s.get("doc").and_then(Json::as_str) {
            out.insert("connect.doc".into(), Json::String(doc.to_string()));
        }
        if let Some(version) = s.get("version").filter(|v| !v.is_null()) {
            let v = version.as_i64().ok_or_else(|| err(path, "`version` is not an integer"))?;
            out.insert("connect.version".into(), json!(v));
        }
        if let Some(params) = s.get("parameters").and_then(Json::as_object).filter(|p| !p.is_empty()) {
            let strings: Map<String, Json> = params
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), Json::String(text))
                })
                .collect();
            out.insert("connect.parameters".into(), Json::Object(strings));
        }
        if let Some(default) = connect_default(s) {
            out.insert("connect.default".into(), self.default_value(s, default, path)?);
        }
        Ok(())
    }

    /// A Connect default in Avro's JSON default form (bytes as ISO-8859-1 text).
    fn default_value(&self, s: &Json, default: &Json, path: &str) -> Result<Json, AvroSchemaError> {
        Ok(match s.get("type").and_then(Json::as_str) {
            Some("bytes") => {
                let text = default.as_str().ok_or_else(|| err(path, "a bytes default must be base64 text"))?;
                let bytes = super::avro_value::base64_bytes(text).map_err(|e| err(path, e.to_string()))?;
                Json::String(bytes.iter().map(|b| char::from(*b)).collect())
            }
            _ => default.clone(),
        })
    }

    fn fields(&mut self, s: &Json, path: &str) -> Result<Vec<Json>, AvroSchemaError> {
        let Some(fields) = s.get("fields") else { return Ok(Vec::new()) };
        let fields = fields.as_array().ok_or_else(|| err(path, "`fields` is not an array"))?;
        let mut out = Vec::with_capacity(fields.len());
        let mut names = HashSet::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let at = format!("{path}.fields[{i}]");
            let connect_name = f.get("field").and_then(Json::as_str).ok_or_else(|| err(&at, "field without a name"))?;
            let name = field_name(connect_name);
            if !names.insert(name.clone()) {
                return Err(err(
                    &at,
                    format!("field {connect_name:?} collides with another field as Avro name {name:?}"),
                ));
            }
            let mut field = Map::new();
            field.insert("name".into(), Json::String(name));
            field.insert("type".into(), self.schema(f, &at)?);
            if let Some(default) = connect_default(f) {
                field.insert("default".into(), self.default_value(f, default, &at)?);
            } else if is_optional(f) {
                field.insert("default".into(), Json::Null);
            }
            out.push(Json::Object(field));
        }
        Ok(out)
    }

    fn base(&mut self, s: &Json, path: &str) -> Result<Json, AvroSchemaError> {
        let kind = s.get("type").and_then(Json::as_str).ok_or_else(|| err(path, "no `type`"))?;
        let name = s.get("name").and_then(Json::as_str);
        let mut out = Map::new();
        match kind {
            "struct" => {
                let full = match name {
                    Some(n) => {
                        let (ns, simple) = split_full_name(n);
                        match ns {
                            Some(ns) => format!("{ns}.{simple}"),
                            None => simple,
                        }
                    }
                    None => {
                        let n = self.default_names;
                        self.default_names += 1;
                        let suffix = if n == 0 { String::new() } else { n.to_string() };
                        format!("{CONNECT_NAMESPACE}.ConnectDefault{suffix}")
                    }
                };
                if !self.defined.insert(full.clone()) {
                    return Ok(Json::String(full));
                }
                let (namespace, simple) = match full.rsplit_once('.') {
                    Some((ns, simple)) => (Some(ns.to_string()), simple.to_string()),
                    None => (None, full.clone()),
                };
                out.insert("type".into(), json!("record"));
                out.insert("name".into(), Json::String(simple));
                if let Some(ns) = namespace {
                    out.insert("namespace".into(), Json::String(ns));
                }
                if let Some(doc) = s.get("doc").and_then(Json::as_str) {
                    out.insert("doc".into(), Json::String(doc.to_string()));
                }
                let fields = self.fields(s, path)?;
                out.insert("fields".into(), Json::Array(fields));
            }
            "array" => {
                let items = s.get("items").ok_or_else(|| err(path, "array without `items`"))?;
                out.insert("type".into(), json!("array"));
                out.insert("items".into(), self.schema(items, &format!("{path}.items"))?);
            }
            "map" => {
                let keys = s.get("keys").ok_or_else(|| err(path, "map without `keys`"))?;
                let values = s.get("values").ok_or_else(|| err(path, "map without `values`"))?;
                if string_keyed(keys) {
                    out.insert("type".into(), json!("map"));
                    out.insert("values".into(), self.schema(values, &format!("{path}.values"))?);
                } else {
                    let entry = format!("{CONNECT_NAMESPACE}.MapEntry");
                    let items = if self.defined.insert(entry.clone()) {
                        json!({"type": "record", "name": "MapEntry", "namespace": CONNECT_NAMESPACE, "fields": [
                            {"name": "key", "type": self.schema(keys, &format!("{path}.keys"))?},
                            {"name": "value", "type": self.schema(values, &format!("{path}.values"))?}]})
                    } else {
                        Json::String(entry)
                    };
                    out.insert("type".into(), json!("array"));
                    out.insert("items".into(), items);
                }
            }
            other => {
                let avro = primitive(other).ok_or_else(|| err(path, format!("unknown Connect type {other:?}")))?;
                out.insert("type".into(), json!(avro));
                if matches!(other, "int8" | "int16") {
                    out.insert("connect.type".into(), json!(other));
                }
                match (name, avro) {
                    (Some(DECIMAL), "bytes") => {
                        let params = s.get("parameters");
                        let param = |k: &str| params.and_then(|p| p.get(k)).and_then(param_u64);
                        let scale = param("scale").unwrap_or(0);
                        let precision = param("connect.decimal.precision").unwrap_or(DEFAULT_DECIMAL_PRECISION);
                        out.insert("logicalType".into(), json!("decimal"));
                        out.insert("precision".into(), json!(precision));
                        out.insert("scale".into(), json!(scale));
                    }
                    (Some(DATE), "int") => {
                        out.insert("logicalType".into(), json!("date"));
                    }
                    (Some(TIME), "int") => {
                        out.insert("logicalType".into(), json!("time-millis"));
                    }
                    (Some(TIMESTAMP), "long") => {
                        out.insert("logicalType".into(), json!("timestamp-millis"));
                    }
                    _ => {}
                }
            }
        }
        self.props(s, &mut out, path)?;
        if out.len() == 1
            && let Some(Json::String(t)) = out.get("type")
            && primitive_avro(t)
        {
            // A primitive without properties is written as its bare name, as Avro's Java `toString`.
            return Ok(Json::String(t.clone()));
        }
        Ok(Json::Object(out))
    }
}

fn primitive_avro(t: &str) -> bool {
    matches!(t, "int" | "long" | "float" | "double" | "boolean" | "string" | "bytes")
}

/// Whether a map's keys are non-optional strings (an Avro `map`).
pub fn string_keyed(keys: &Json) -> bool {
    keys.get("type").and_then(Json::as_str) == Some("string") && !is_optional(keys)
}

fn param_u64(v: &Json) -> Option<u64> {
    match v {
        Json::String(s) => s.trim().parse().ok(),
        other => other.as_u64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(avro: &Json) -> apache_avro::Schema {
        apache_avro::Schema::parse_str(&avro.to_string()).unwrap_or_else(|e| panic!("{e}: {avro:#}"))
    }

    #[test]
    fn decimal_maps_to_bytes_with_logical_type_and_connect_props() {
        let s = json!({"type": "bytes", "optional": false, "name": DECIMAL, "version": 1,
            "parameters": {"scale": "2", "connect.decimal.precision": "7"}});
        let avro = to_avro_schema(&s).unwrap();
        assert_eq!(
            avro,
            json!({"type": "bytes", "logicalType": "decimal", "precision": 7, "scale": 2,
                "connect.name": DECIMAL, "connect.version": 1,
                "connect.parameters": {"scale": "2", "connect.decimal.precision": "7"}})
        );
        parse(&avro);
        // Without connect.decimal.precision: AvroData's default precision 64.
        let s = json!({"type": "bytes", "name": DECIMAL, "parameters": {"scale": "0"}});
        assert_eq!(to_avro_schema(&s).unwrap()["precision"], json!(64));
    }

    #[test]
    fn int16_and_optional_fields() {
        let s = json!({"type": "struct", "name": "a.b.Value", "optional": false, "fields": [
            {"type": "int16", "optional": false, "field": "small"},
            {"type": "int8", "optional": true, "field": "tiny"},
            {"type": "int64", "optional": true, "field": "big"},
            {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
             "parameters": {"allowed": "true,last,false"}, "default": "false", "field": "snapshot"}]});
        let avro = to_avro_schema(&s).unwrap();
        assert_eq!(avro["name"], "Value");
        assert_eq!(avro["namespace"], "a.b");
        assert_eq!(avro["connect.name"], "a.b.Value");
        let f = avro["fields"].as_array().unwrap();
        assert_eq!(f[0], json!({"name": "small", "type": {"type": "int", "connect.type": "int16"}}));
        assert_eq!(
            f[1],
            json!({"name": "tiny", "type": ["null", {"type": "int", "connect.type": "int8"}], "default": null})
        );
        assert_eq!(f[2], json!({"name": "big", "type": ["null", "long"], "default": null}));
        // An optional field with a non-null default: [T, "null"] and that default (Debezium's source.snapshot).
        assert_eq!(
            f[3],
            json!({"name": "snapshot", "type": [{"type": "string", "connect.name": "io.debezium.data.Enum",
                "connect.version": 1, "connect.parameters": {"allowed": "true,last,false"}, "connect.default": "false"}, "null"],
                "default": "false"})
        );
        parse(&avro);
    }

    #[test]
    fn geometry_struct_and_repeated_records() {
        let geometry = json!({"type": "struct", "name": "io.debezium.data.geometry.Geometry", "version": 1,
            "doc": "Geometry", "optional": true, "field": "g", "fields": [
                {"type": "bytes", "optional": false, "field": "wkb"},
                {"type": "int32", "optional": true, "field": "srid"}]});
        let row = |f: &str| json!({"type": "struct", "optional": true, "name": "srv.db.t.Value", "field": f, "fields": [geometry]});
        let s = json!({"type": "struct", "optional": false, "name": "srv.db.t.Envelope", "version": 2,
            "fields": [row("before"), row("after")]});
        let avro = to_avro_schema(&s).unwrap();
        let f = avro["fields"].as_array().unwrap();
        let before = &f[0]["type"][1];
        assert_eq!(before["name"], "Value");
        let g = &before["fields"][0];
        assert_eq!(g["type"][0], "null");
        assert_eq!(
            g["type"][1],
            json!({"type": "record", "name": "Geometry", "namespace": "io.debezium.data.geometry", "doc": "Geometry",
                "fields": [{"name": "wkb", "type": "bytes"}, {"name": "srid", "type": ["null", "int"], "default": null}],
                "connect.name": "io.debezium.data.geometry.Geometry", "connect.doc": "Geometry", "connect.version": 1})
        );
        // The second use of srv.db.t.Value is a reference.
        assert_eq!(f[1], json!({"name": "after", "type": ["null", "srv.db.t.Value"], "default": null}));
        assert_eq!(avro["connect.version"], 2);
        parse(&avro);
    }

    #[test]
    fn transaction_topic_arrays_and_maps() {
        let s = json!({"type": "struct", "optional": false, "name": "io.debezium.connector.common.TransactionMetadataValue",
            "version": 1, "fields": [
                {"type": "string", "optional": false, "field": "status"},
                {"type": "array", "optional": true, "field": "data_collections", "items": {"type": "struct",
                    "optional": false, "name": "event.collection", "version": 1, "fields": [
                        {"type": "string", "optional": false, "field": "data_collection"},
                        {"type": "int64", "optional": false, "field": "event_count"}]}},
                {"type": "map", "optional": false, "field": "m", "keys": {"type": "string", "optional": false},
                    "values": {"type": "int32", "optional": true}},
                {"type": "map", "optional": false, "field": "n", "keys": {"type": "int32", "optional": false},
                    "values": {"type": "string", "optional": false}}]});
        let avro = to_avro_schema(&s).unwrap();
        let f = avro["fields"].as_array().unwrap();
        assert_eq!(
            f[1]["type"][1],
            json!({"type": "array", "items": {"type": "record", "name": "collection", "namespace": "event",
                "fields": [{"name": "data_collection", "type": "string"}, {"name": "event_count", "type": "long"}],
                "connect.name": "event.collection", "connect.version": 1}})
        );
        assert_eq!(f[2]["type"], json!({"type": "map", "values": ["null", "int"]}));
        assert_eq!(f[3]["type"]["items"]["name"], "MapEntry");
        assert_eq!(f[3]["type"]["items"]["namespace"], CONNECT_NAMESPACE);
        parse(&avro);
    }

    #[test]
    fn unnamed_structs_and_name_adjustment() {
        let s = json!({"type": "struct", "optional": false, "name": "my-srv.2024 db.t-1.Value", "fields": [
            {"type": "string", "optional": false, "field": "1st col"},
            {"type": "struct", "optional": false, "field": "inner", "fields": [
                {"type": "struct", "optional": false, "field": "deeper", "fields": []}]}]});
        let avro = to_avro_schema(&s).unwrap();
        assert_eq!(avro["namespace"], "my_srv._2024_db.t_1");
        assert_eq!(avro["name"], "Value");
        assert_eq!(avro["connect.name"], "my-srv.2024 db.t-1.Value");
        assert_eq!(avro["fields"][0]["name"], "_1st_col");
        assert_eq!(avro["fields"][1]["type"]["name"], "ConnectDefault");
        assert_eq!(avro["fields"][1]["type"]["namespace"], CONNECT_NAMESPACE);
        assert_eq!(avro["fields"][1]["type"]["fields"][0]["type"]["name"], "ConnectDefault1");
        parse(&avro);
        // Two fields whose names collide once adjusted are refused.
        let s = json!({"type": "struct", "fields": [
            {"type": "string", "field": "a-b"}, {"type": "string", "field": "a_b"}]});
        let e = to_avro_schema(&s).unwrap_err();
        assert!(e.message.contains("collides"), "{e}");
        assert_eq!(adjust_name("ok_1"), "ok_1");
        assert_eq!(adjust_name("9lives"), "_9lives");
    }
}
