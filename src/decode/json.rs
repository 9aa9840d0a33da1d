//! Kafka Connect `JsonConverter` output → [`ConnectData`].
//!
//! Two forms exist:
//! - `schemas.enable=true`: `{"schema": {...}, "payload": {...}}`. The payload
//!   is read *through* the schema: `bytes` are base64, `int64` may be written as
//!   a string (lenient), members the schema does not declare are kept with an
//!   inferred type (documentation examples carry such members, e.g.
//!   `source.sequence`). `{"schema": {}, ...}` (an empty schema object, a
//!   documentation elision) and `"schema": null` are read as schemaless.
//! - `schemas.enable=false`: the payload alone; types are inferred from JSON
//!   (integers, floats, strings, booleans, arrays, objects as structs).
//!
//! The schema text is cached: identical schema text yields the same
//! `Arc<ConnectSchema>` without being parsed again (bounded cache).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::Value as Json;
use serde_json::value::RawValue;

use super::connect::{ConnectData, ConnectField, ConnectSchema, ConnectType, ConnectValue};
use super::converter::{RecordConverter, RecordPart};
use super::error::{AtField, FieldError};
use super::json_payload::{ErrorSlot, Key, ValueSeed, fail, prefix};

/// Distinct schema texts kept by one converter; the cache is cleared when full.
pub const DEFAULT_SCHEMA_CACHE_ENTRIES: usize = 4096;

/// Decodes Kafka Connect JSON (with or without the schema block).
pub struct JsonConverter {
    schemas: RwLock<HashMap<Box<str>, Arc<ConnectSchema>>>,
    max_schemas: usize,
}

impl fmt::Debug for JsonConverter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.schemas.read().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("JsonConverter").field("cached_schemas", &cached).finish()
    }
}

impl Default for JsonConverter {
    fn default() -> Self {
        JsonConverter::new(DEFAULT_SCHEMA_CACHE_ENTRIES)
    }
}

impl JsonConverter {
    pub fn new(max_schemas: usize) -> Self {
        JsonConverter { schemas: RwLock::new(HashMap::new()), max_schemas: max_schemas.max(1) }
    }

    /// Number of distinct schemas currently cached.
    pub fn cached_schemas(&self) -> usize {
        self.schemas.read().map(|m| m.len()).unwrap_or(0)
    }

    fn schema_for(&self, raw: &RawValue) -> Result<Option<Arc<ConnectSchema>>, FieldError> {
        let text = raw.get();
        if text == "null" {
            return Ok(None);
        }
        if let Some(hit) = self.schemas.read().ok().and_then(|m| m.get(text).cloned()) {
            return Ok(Some(hit));
        }
        let json: Json = serde_json::from_str(text).map_err(|e| FieldError::at_field("schema", e.to_string()))?;
        if json.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(None);
        }
        let schema = Arc::new(parse_schema(&json).at("schema")?);
        if let Ok(mut map) = self.schemas.write() {
            if map.len() >= self.max_schemas {
                map.clear();
            }
            map.insert(text.into(), Arc::clone(&schema));
        }
        Ok(Some(schema))
    }
}

impl RecordConverter for JsonConverter {
    fn convert(&self, _part: RecordPart, _topic: &str, bytes: &[u8]) -> Result<ConnectData, FieldError> {
        let slot = ErrorSlot::default();
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let result = if first == Some(b'{') {
            let mut deserializer = serde_json::Deserializer::from_slice(bytes);
            TopSeed { converter: self, slot: &slot }.deserialize(&mut deserializer).and_then(|data| {
                deserializer.end()?;
                Ok(data)
            })
        } else {
            // A scalar or array key/value: schemaless.
            let mut deserializer = serde_json::Deserializer::from_slice(bytes);
            ValueSeed::new(None, &slot).deserialize(&mut deserializer).and_then(|value| {
                deserializer.end()?;
                Ok(ConnectData::schemaless(value))
            })
        };
        result.map_err(|e| match slot.into_inner() {
            Some(field_error) => field_error,
            None => FieldError::whole(format!("invalid JSON: {e}")),
        })
    }
}

/// Splits text holding one or more JSON documents (concatenated, or one per
/// line, as `sluice decode` accepts them) into the bytes of each document.
/// The error names the byte offset where the text stops being JSON.
pub fn split_json_documents(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut documents = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<&RawValue>();
    while let Some(item) = stream.next() {
        match item {
            Ok(raw) => documents.push(raw.get().as_bytes()),
            Err(e) => return Err(format!("invalid JSON at byte {}: {e}", stream.byte_offset())),
        }
    }
    Ok(documents)
}

/// Reads the top-level object: `{"schema": …, "payload": …}` or a schemaless
/// payload. JsonConverter writes the schema first, so the payload is read
/// through it directly; a payload that comes first is kept raw and read
/// once the schema is known.
struct TopSeed<'a> {
    converter: &'a JsonConverter,
    slot: &'a ErrorSlot,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = ConnectData;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<ConnectData, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = ConnectData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConnectData, A::Error> {
        let mut schema: Option<Option<Arc<ConnectSchema>>> = None;
        let mut payload: Option<ConnectValue> = None;
        let mut pending: Option<&'de RawValue> = None;
        let mut members = Vec::new();
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            match name.as_ref() {
                "schema" => {
                    let raw: &'de RawValue = map.next_value()?;
                    schema = Some(self.converter.schema_for(raw).map_err(|e| fail::<A::Error>(self.slot, e))?);
                }
                "payload" => match &schema {
                    Some(known) => {
                        let seed = ValueSeed::new(known.as_deref(), self.slot);
                        payload = Some(map.next_value_seed(seed).map_err(|e| prefix(self.slot, "payload", e))?);
                    }
                    None => pending = Some(map.next_value()?),
                },
                _ => {
                    // Only kept if the record turns out to be schemaless.
                    let value = map
                        .next_value_seed(ValueSeed::new(None, self.slot))
                        .map_err(|e| prefix(self.slot, &name, e))?;
                    members.push((name.into_owned(), value));
                }
            }
        }
        if schema.is_none() && payload.is_none() && pending.is_none() {
            return Ok(ConnectData::schemaless(ConnectValue::Struct(members)));
        }
        let schema = schema.flatten();
        let value = match (payload, pending) {
            (Some(value), _) => value,
            (None, Some(raw)) => {
                let mut deserializer = serde_json::Deserializer::from_str(raw.get());
                ValueSeed::new(schema.as_deref(), self.slot)
                    .deserialize(&mut deserializer)
                    .map_err(|e| de::Error::custom(prefix(self.slot, "payload", e)))?
            }
            (None, None) => {
                return Err(fail(
                    self.slot,
                    FieldError::at_field("payload", "missing: the record has a `schema` but no `payload`"),
                ));
            }
        };
        Ok(ConnectData::new(schema, value))
    }
}

fn describe_json(json: &Json) -> String {
    let text = match json {
        Json::Null => return "null".into(),
        Json::Bool(b) => format!("boolean {b}"),
        Json::Number(n) => format!("number {n}"),
        Json::String(s) => format!("string {s:?}"),
        Json::Array(a) => return format!("array of {} items", a.len()),
        Json::Object(o) => return format!("object with {} members", o.len()),
    };
    if text.chars().count() > 56 { format!("{}…", text.chars().take(56).collect::<String>()) } else { text }
}

/// Parses a JsonConverter schema object.
pub fn parse_schema(json: &Json) -> Result<ConnectSchema, FieldError> {
    let obj = json.as_object().ok_or_else(|| FieldError::mismatch("a schema object", describe_json(json)))?;
    let type_name = match obj.get("type") {
        Some(Json::String(s)) => s.as_str(),
        Some(other) => {
            return Err(FieldError::at_field("type", format!("expected a type name, found {}", describe_json(other))));
        }
        None => return Err(FieldError::at_field("type", "missing")),
    };
    let kind = ConnectType::parse(type_name)
        .ok_or_else(|| FieldError::at_field("type", format!("unknown Connect type {type_name:?}")))?;
    let optional = match obj.get("optional") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) if s == "true" || s == "false" => s == "true",
        Some(other) => {
            return Err(FieldError::at_field(
                "optional",
                format!("expected a boolean, found {}", describe_json(other)),
            ));
        }
    };
    let name = obj.get("name").and_then(Json::as_str).map(str::to_string);
    let version = obj.get("version").and_then(Json::as_i64).and_then(|v| i32::try_from(v).ok());
    let parameters = match obj.get("parameters") {
        Some(Json::Object(params)) => params
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect(),
        _ => Vec::new(),
    };
    let mut schema = ConnectSchema { name, version, parameters, ..ConnectSchema::primitive(kind, optional) };
    match kind {
        ConnectType::Struct => {
            let fields = match obj.get("fields") {
                Some(Json::Array(fields)) => fields,
                None | Some(Json::Null) => return Ok(schema),
                Some(other) => {
                    return Err(FieldError::at_field(
                        "fields",
                        format!("expected an array, found {}", describe_json(other)),
                    ));
                }
            };
            schema.fields.reserve(fields.len());
            for (i, field) in fields.iter().enumerate() {
                let field_name = match field.get("field") {
                    Some(Json::String(s)) => s.clone(),
                    _ => {
                        return Err(FieldError::at_field("field", "missing field name")
                            .at(&i.to_string())
                            .at("fields"));
                    }
                };
                let field_schema = parse_schema(field).at(&field_name)?;
                schema.fields.push(ConnectField { name: field_name, schema: field_schema });
            }
        }
        ConnectType::Array => {
            if let Some(items) = obj.get("items").filter(|v| !v.is_null()) {
                schema.items = Some(Box::new(parse_schema(items).at("items")?));
            }
        }
        ConnectType::Map => {
            if let Some(keys) = obj.get("keys").filter(|v| !v.is_null()) {
                schema.keys = Some(Box::new(parse_schema(keys).at("keys")?));
            }
            if let Some(values) = obj.get("values").filter(|v| !v.is_null()) {
                schema.items = Some(Box::new(parse_schema(values).at("values")?));
            }
        }
        _ => {}
    }
    Ok(schema)
}

/// Infers a Connect value from schemaless JSON.
pub fn infer(json: Json) -> ConnectValue {
    match json {
        Json::Null => ConnectValue::Null,
        Json::Bool(b) => ConnectValue::Bool(b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                ConnectValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                ConnectValue::UInt(u)
            } else {
                ConnectValue::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => ConnectValue::String(s),
        Json::Array(items) => ConnectValue::Array(items.into_iter().map(infer).collect()),
        Json::Object(members) => ConnectValue::Struct(members.into_iter().map(|(k, v)| (k, infer(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(text: &str) -> Result<ConnectData, FieldError> {
        JsonConverter::default().convert(RecordPart::Value, "t", text.as_bytes())
    }

    #[test]
    fn wrapped_payload_is_read_through_the_schema() {
        let data = conv(
            r#"{"schema":{"type":"struct","fields":[{"field":"id","type":"int64","optional":false},
               {"field":"b","type":"bytes","optional":true}]},"payload":{"id":"12","b":"TXlTUUw=","extra":1.5}}"#,
        )
        .unwrap();
        assert!(data.schema.is_some());
        assert_eq!(
            data.value,
            ConnectValue::Struct(vec![
                ("id".into(), ConnectValue::Int(12)),
                ("b".into(), ConnectValue::Bytes(b"MySQL".to_vec())),
                ("extra".into(), ConnectValue::Float(1.5)),
            ])
        );
    }

    #[test]
    fn schema_text_is_cached_by_identity() {
        let c = JsonConverter::default();
        let rec = br#"{"schema":{"type":"int32"},"payload":5}"#;
        let a = c.convert(RecordPart::Value, "t", rec).unwrap();
        let b = c.convert(RecordPart::Value, "t", rec).unwrap();
        assert!(Arc::ptr_eq(a.schema.as_ref().unwrap(), b.schema.as_ref().unwrap()));
        assert_eq!(c.cached_schemas(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let err = conv(r#"{"schema":{"type":"struct","fields":[{"field":"n","type":"int16"}]},"payload":{"n":70000}}"#)
            .unwrap_err();
        assert_eq!(err.path(), "payload.n");
        assert!(err.message().contains("expected int16, found number 70000"), "{}", err.message());
        let err = conv(r#"{"schema":{"type":"struct","fields":[{"field":"n","type":"int16"}]}}"#).unwrap_err();
        assert_eq!(err.path(), "payload");
        let err = conv(r#"{"schema":{"type":"strukt"},"payload":1}"#).unwrap_err();
        assert_eq!(err.path(), "schema.type");
        let err = conv("{nope").unwrap_err();
        assert!(err.is_whole());
    }

    #[test]
    fn legacy_tombstone_and_empty_schema() {
        assert_eq!(conv(r#"{"schema":null,"payload":null}"#).unwrap(), ConnectData::schemaless(ConnectValue::Null));
        let data = conv(r#"{"schema":{},"payload":{"a":1}}"#).unwrap();
        assert!(data.schema.is_none());
    }

    #[test]
    fn documents_are_split() {
        let docs = split_json_documents(b"{\"a\": 1}\n{\"b\": [2]} null\n").unwrap();
        assert_eq!(docs, vec![&b"{\"a\": 1}"[..], &b"{\"b\": [2]}"[..], &b"null"[..]]);
        assert!(split_json_documents(b"{\"a\": 1} {").unwrap_err().starts_with("invalid JSON at byte"));
        assert!(split_json_documents(b"  ").unwrap().is_empty());
    }

    #[test]
    fn maps_in_both_forms() {
        let data =
            conv(r#"{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"string"}},"payload":[[1,"a"]]}"#)
                .unwrap();
        assert_eq!(data.value, ConnectValue::Map(vec![(ConnectValue::Int(1), ConnectValue::String("a".into()))]));
        let data =
            conv(r#"{"schema":{"type":"map","keys":{"type":"string"},"values":{"type":"int64"}},"payload":{"k":2}}"#)
                .unwrap();
        assert_eq!(data.value, ConnectValue::Map(vec![(ConnectValue::String("k".into()), ConnectValue::Int(2))]));
    }

    #[test]
    fn numeric_decimal_format() {
        let data = conv(
            r#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":12345.67}"#,
        )
        .unwrap();
        assert_eq!(data.value, ConnectValue::Decimal(sluice_sink_api::Decimal::parse("12345.67").unwrap()));
    }
}
