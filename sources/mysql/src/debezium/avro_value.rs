//! A JsonConverter payload → `apache_avro` value, following the Connect
//! schema the same way [`super::avro_schema`] maps it, so the value fits the
//! Avro schema written for that Connect schema.
//!
//! # Contract
//!
//! * The payload is JsonConverter's: bytes and Decimals are base64 (a
//!   Decimal's bytes are the big-endian two's complement of the unscaled
//!   value, which is exactly Avro's `decimal` encoding), integers are JSON
//!   numbers, structs are objects keyed by Connect field name.
//! * Optional values are union branches: `["null", T]` → index 0 for null,
//!   1 for a value; `[T, "null"]` (optional with a non-null default) → 0 for
//!   a value, 1 for null.
//! * Record fields come in schema order under their adjusted Avro names
//!   ([`super::avro_schema::field_name`]); a member missing from the payload
//!   is null (its Connect default for a required field with a default).
//! * A null for a required float (JsonConverter writes NaN and infinities as
//!   null) is NaN; any other null for a required field, or a value of the
//!   wrong JSON kind, is an [`AvroValueError`] naming the path.

use std::collections::HashMap;

use apache_avro::types::Value as Avro;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value as Json;

use super::avro_schema::{DECIMAL, connect_default, field_name, is_optional, string_keyed};

/// A payload that does not fit its Connect schema.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("payload at {path}: {message}")]
pub struct AvroValueError {
    /// Where in the payload (`$.after.price`).
    pub path: String,
    pub message: String,
}

/// Where a value sits in the payload, rendered only for an error message
/// (building the text for every field of every record would cost more than
/// the conversion itself).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => f.write_str("$"),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn err(path: &Path<'_>, message: impl Into<String>) -> AvroValueError {
    AvroValueError { path: path.to_string(), message: message.into() }
}

/// Decodes JsonConverter base64 text.
pub fn base64_bytes(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    B64.decode(text)
}

/// Converts a whole payload (a record key or value) for its Connect schema.
pub fn to_avro_value(schema: &Json, payload: &Json) -> Result<Avro, AvroValueError> {
    value(schema, payload, &Path::Root)
}

fn value(s: &Json, v: &Json, path: &Path<'_>) -> Result<Avro, AvroValueError> {
    if !is_optional(s) {
        return if v.is_null() { required_null(s, path) } else { base(s, v, path) };
    }
    let default_first = connect_default(s).is_some();
    let (null_index, value_index) = if default_first { (1, 0) } else { (0, 1) };
    Ok(if v.is_null() {
        Avro::Union(null_index, Box::new(Avro::Null))
    } else {
        Avro::Union(value_index, Box::new(base(s, v, path)?))
    })
}

/// A null where the schema allows none: the Connect default, NaN for floats, else an error.
fn required_null(s: &Json, path: &Path<'_>) -> Result<Avro, AvroValueError> {
    if let Some(default) = connect_default(s) {
        return base(s, default, path);
    }
    match s.get("type").and_then(Json::as_str) {
        Some("float" | "float32") => Ok(Avro::Float(f32::NAN)),
        Some("double" | "float64") => Ok(Avro::Double(f64::NAN)),
        _ => Err(err(path, "null for a required (non-optional) field")),
    }
}

fn int(v: &Json, path: &Path<'_>) -> Result<i64, AvroValueError> {
    match v {
        Json::Number(n) => n.as_i64().ok_or_else(|| err(path, format!("{n} is not a 64-bit integer"))),
        Json::String(s) => s.trim().parse().map_err(|_| err(path, format!("{s:?} is not an integer"))),
        _ => Err(err(path, format!("expected an integer, found {v}"))),
    }
}

fn float(v: &Json, path: &Path<'_>) -> Result<f64, AvroValueError> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| err(path, format!("{n} is not a number"))),
        Json::String(s) => s.trim().parse().map_err(|_| err(path, format!("{s:?} is not a number"))),
        _ => Err(err(path, format!("expected a number, found {v}"))),
    }
}

fn bytes(v: &Json, path: &Path<'_>) -> Result<Vec<u8>, AvroValueError> {
    match v {
        Json::String(s) => base64_bytes(s).map_err(|e| err(path, format!("invalid base64: {e}"))),
        _ => Err(err(path, format!("expected base64 text, found {v}"))),
    }
}

fn base(s: &Json, v: &Json, path: &Path<'_>) -> Result<Avro, AvroValueError> {
    let kind = s.get("type").and_then(Json::as_str).ok_or_else(|| err(path, "schema without `type`"))?;
    Ok(match kind {
        "int8" | "int16" | "int32" => {
            let i = int(v, path)?;
            Avro::Int(i32::try_from(i).map_err(|_| err(path, format!("{i} does not fit a 32-bit int")))?)
        }
        "int64" => Avro::Long(int(v, path)?),
        "float" | "float32" => Avro::Float(float(v, path)? as f32),
        "double" | "float64" => Avro::Double(float(v, path)?),
        "boolean" => match v {
            Json::Bool(b) => Avro::Boolean(*b),
            Json::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                Avro::Boolean(s.eq_ignore_ascii_case("true"))
            }
            _ => return Err(err(path, format!("expected a boolean, found {v}"))),
        },
        "string" => match v {
            Json::String(s) => Avro::String(s.clone()),
            other => Avro::String(other.to_string()),
        },
        "bytes" if s.get("name").and_then(Json::as_str) == Some(DECIMAL) => {
            Avro::Decimal(apache_avro::Decimal::from(bytes(v, path)?))
        }
        "bytes" => Avro::Bytes(bytes(v, path)?),
        "struct" => {
            let obj = v.as_object().ok_or_else(|| err(path, format!("expected an object, found {v}")))?;
            let fields = s.get("fields").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
            let mut out = Vec::with_capacity(fields.len());
            for f in fields {
                let name = f.get("field").and_then(Json::as_str).ok_or_else(|| err(path, "field without a name"))?;
                let at = Path::Field(path, name);
                let member = obj.get(name).unwrap_or(&Json::Null);
                out.push((field_name(name), value(f, member, &at)?));
            }
            Avro::Record(out)
        }
        "array" => {
            let items = s.get("items").ok_or_else(|| err(path, "array without `items`"))?;
            let list = v.as_array().ok_or_else(|| err(path, format!("expected an array, found {v}")))?;
            let mut out = Vec::with_capacity(list.len());
            for (i, item) in list.iter().enumerate() {
                out.push(value(items, item, &Path::Index(path, i))?);
            }
            Avro::Array(out)
        }
        "map" => {
            let keys = s.get("keys").ok_or_else(|| err(path, "map without `keys`"))?;
            let values = s.get("values").ok_or_else(|| err(path, "map without `values`"))?;
            if string_keyed(keys) {
                let obj = v.as_object().ok_or_else(|| err(path, format!("expected an object, found {v}")))?;
                let mut out = HashMap::with_capacity(obj.len());
                for (k, x) in obj {
                    out.insert(k.clone(), value(values, x, &Path::Field(path, k))?);
                }
                Avro::Map(out)
            } else {
                // JsonConverter writes such a map as an object (string keys) or an array of [key, value] pairs.
                let pairs: Vec<(Json, &Json)> = match v {
                    Json::Object(obj) => obj.iter().map(|(k, x)| (Json::String(k.clone()), x)).collect(),
                    Json::Array(list) => list
                        .iter()
                        .map(|pair| match pair.as_array().map(Vec::as_slice) {
                            Some([k, x]) => Ok((k.clone(), x)),
                            _ => Err(err(path, "a map entry is not a [key, value] pair")),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(err(path, format!("expected a map, found {v}"))),
                };
                let mut out = Vec::with_capacity(pairs.len());
                for (i, (k, x)) in pairs.iter().enumerate() {
                    let at = Path::Index(path, i);
                    out.push(Avro::Record(vec![
                        ("key".into(), value(keys, k, &at)?),
                        ("value".into(), value(values, x, &at)?),
                    ]));
                }
                Avro::Array(out)
            }
        }
        other => return Err(err(path, format!("unknown Connect type {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::super::avro_schema::to_avro_schema;
    use super::*;
    use serde_json::json;

    fn encode(schema: &Json, payload: &Json) -> Vec<u8> {
        let avro = apache_avro::Schema::parse_str(&to_avro_schema(schema).unwrap().to_string()).unwrap();
        let v = to_avro_value(schema, payload).unwrap();
        apache_avro::writer::datum::GenericDatumWriter::builder(&avro).build().unwrap().write_value_to_vec(v).unwrap()
    }

    fn decode(schema: &Json, bytes: &[u8]) -> Avro {
        let avro = apache_avro::Schema::parse_str(&to_avro_schema(schema).unwrap().to_string()).unwrap();
        apache_avro::reader::datum::GenericDatumReader::builder(&avro)
            .build()
            .unwrap()
            .read_value(&mut &bytes[..])
            .unwrap()
    }

    #[test]
    fn envelope_values_round_trip_through_apache_avro() {
        let row = |f: &str| {
            json!({"type": "struct", "optional": true, "name": "s.d.t.Value", "field": f, "fields": [
            {"type": "int16", "optional": false, "field": "id"},
            {"type": "bytes", "optional": true, "name": DECIMAL, "version": 1,
             "parameters": {"scale": "2", "connect.decimal.precision": "7"}, "field": "price"},
            {"type": "float", "optional": true, "field": "f"},
            {"type": "double", "optional": false, "field": "d"},
            {"type": "struct", "optional": true, "name": "io.debezium.data.geometry.Geometry", "field": "g", "fields": [
                {"type": "bytes", "optional": false, "field": "wkb"},
                {"type": "int32", "optional": true, "field": "srid"}]},
            {"type": "string", "optional": true, "default": "false", "field": "snap"}]})
        };
        let schema = json!({"type": "struct", "optional": false, "name": "s.d.t.Envelope", "fields": [
            row("before"), row("after"), {"type": "string", "optional": false, "field": "op"}]});
        let payload = json!({"before": null, "after": {"id": 7, "price": "EtaH", "f": 1.5, "d": null,
            "g": {"wkb": "AQE=", "srid": null}, "snap": null}, "op": "c"});
        let bytes = encode(&schema, &payload);
        let back = decode(&schema, &bytes);
        let Avro::Record(fields) = back else { panic!("{back:?}") };
        assert_eq!(fields[0], ("before".into(), Avro::Union(0, Box::new(Avro::Null))));
        let Avro::Union(1, after) = &fields[1].1 else { panic!("{:?}", fields[1]) };
        let Avro::Record(after) = after.as_ref() else { panic!() };
        assert_eq!(after[0], ("id".into(), Avro::Int(7)));
        // EXPECTED.md: `EtaH` is 12345.67 as DECIMAL(7,2): unscaled 1234567 big-endian.
        assert_eq!(
            after[1],
            (
                "price".into(),
                Avro::Union(1, Box::new(Avro::Decimal(apache_avro::Decimal::from(vec![0x12, 0xd6, 0x87]))))
            )
        );
        assert_eq!(after[2], ("f".into(), Avro::Union(1, Box::new(Avro::Float(1.5)))));
        assert!(matches!(after[3].1, Avro::Double(d) if d.is_nan()), "null for a required double is NaN");
        assert_eq!(
            after[4].1,
            Avro::Union(
                1,
                Box::new(Avro::Record(vec![
                    ("wkb".into(), Avro::Bytes(vec![1, 1])),
                    ("srid".into(), Avro::Union(0, Box::new(Avro::Null)))
                ]))
            )
        );
        // [T, "null"]: null is branch 1.
        assert_eq!(after[5].1, Avro::Union(1, Box::new(Avro::Null)));
        assert_eq!(fields[2], ("op".into(), Avro::String("c".into())));
    }

    #[test]
    fn arrays_maps_and_errors() {
        let schema = json!({"type": "struct", "optional": false, "fields": [
            {"type": "array", "optional": true, "field": "dc", "items": {"type": "struct", "optional": false,
                "name": "event.collection", "fields": [
                    {"type": "string", "optional": false, "field": "data_collection"},
                    {"type": "int64", "optional": false, "field": "event_count"}]}},
            {"type": "map", "optional": false, "field": "m", "keys": {"type": "string", "optional": false},
                "values": {"type": "int32", "optional": false}},
            {"type": "map", "optional": false, "field": "n", "keys": {"type": "int32", "optional": false},
                "values": {"type": "string", "optional": false}},
            {"type": "string", "optional": true, "default": "x", "field": "with-dash"}]});
        let payload = json!({"dc": [{"data_collection": "db.t", "event_count": 3}], "m": {"a": 1},
            "n": [[1, "one"]], "with-dash": "y"});
        let back = decode(&schema, &encode(&schema, &payload));
        let Avro::Record(fields) = back else { panic!() };
        assert_eq!(
            fields[0].1,
            Avro::Union(
                1,
                Box::new(Avro::Array(vec![Avro::Record(vec![
                    ("data_collection".into(), Avro::String("db.t".into())),
                    ("event_count".into(), Avro::Long(3))
                ])]))
            )
        );
        assert_eq!(fields[1].1, Avro::Map(HashMap::from([("a".to_string(), Avro::Int(1))])));
        assert_eq!(
            fields[2].1,
            Avro::Array(vec![Avro::Record(vec![
                ("key".into(), Avro::Int(1)),
                ("value".into(), Avro::String("one".into()))
            ])])
        );
        assert_eq!(fields[3], ("with_dash".into(), Avro::Union(0, Box::new(Avro::String("y".into())))));

        let bad = to_avro_value(&schema, &json!({"dc": null, "m": null, "n": []})).unwrap_err();
        assert_eq!(bad.path, "$.m");
        let s = json!({"type": "struct", "fields": [{"type": "int16", "field": "i"}]});
        let bad = to_avro_value(&s, &json!({"i": 1_000_000_000_000i64})).unwrap_err();
        assert!(bad.message.contains("32-bit"), "{bad}");
        let s = json!({"type": "struct", "fields": [{"type": "bytes", "field": "b"}]});
        assert!(to_avro_value(&s, &json!({"b": "!!"})).unwrap_err().message.contains("base64"));
    }
}
