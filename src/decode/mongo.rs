//! MongoDB: documents in extended JSON, partial updates, document keys.
//!
//! The Debezium MongoDB connector writes `after`/`before` (and the legacy
//! `patch`/`filter`, and `updateDescription.updatedFields`) as *strings* of
//! MongoDB extended JSON. A document becomes a [`Row`] whose columns are its
//! top-level fields:
//!
//! | extended JSON | value |
//! |---|---|
//! | `{"$numberLong": "n"}`, `{"$numberInt": "n"}`, plain integers | `Int` |
//! | `{"$numberDouble": "x"}`, plain floats | `Float` |
//! | `{"$numberDecimal": "x"}` | `Decimal` (exact) |
//! | `{"$oid": "hex"}` | `Text` (the 24 hex digits) |
//! | `{"$date": …}` (ms, `$numberLong`, or ISO string) | `TimestampTz` (ms) |
//! | `{"$binary": …}` subtype 3/4 with 16 bytes, `{"$uuid": …}` | `Uuid` |
//! | `{"$binary": …}` other subtypes | `Bytes` |
//! | sub-documents and arrays | `Json`, extended types unwrapped to relaxed JSON |
//!
//! Partial updates become a *partial* `after` row (absent columns are not
//! written by sinks): `$set` fields and `updateDescription.updatedFields` are
//! set, `$unset` fields and `removedFields` become NULL. A dotted path
//! (`address.city`) or a truncated array cannot be expressed as a column
//! write without the whole sub-document: such a record is rejected with an
//! error that says so (configure the connector to emit full documents).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};
use sluice_sink_api::{Precision, Row, Value};

use super::error::FieldError;
use super::numbers::parse_decimal_text;

/// The document id column (`_id`).
pub const ID_COLUMN: &str = "_id";

fn parse(text: &str) -> Result<Json, FieldError> {
    serde_json::from_str(text).map_err(|e| FieldError::new(format!("invalid MongoDB extended JSON: {e}")))
}

/// A document (extended JSON text) as a row of its top-level fields.
pub fn document_row(text: &str) -> Result<Row, FieldError> {
    match parse(text)? {
        Json::Object(members) => object_row(members),
        other => Err(FieldError::new(format!("expected a document (JSON object), found {}", kind(&other)))),
    }
}

fn object_row(members: Map<String, Json>) -> Result<Row, FieldError> {
    let mut row = Row::with_capacity(members.len());
    for (name, value) in members {
        let value = ext_to_value(value).map_err(|e| e.at(&name))?;
        row.insert(name, value);
    }
    Ok(row)
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The id of a document key: Debezium writes the key's `id` as the `_id`
/// value in extended JSON (`"1004"`, `"{\"$oid\": \"…\"}"`, `"\"text\""`).
/// Text that is not JSON is taken as a plain string id.
pub fn key_id(text: &str) -> Result<Value, FieldError> {
    match serde_json::from_str::<Json>(text) {
        Ok(json) => ext_to_value(json),
        Err(_) => Ok(Value::Text(text.to_string())),
    }
}

fn wrapper(members: &Map<String, Json>) -> Option<&str> {
    let first = members.keys().next()?;
    (first.starts_with('$') && members.len() <= 2).then_some(first.as_str())
}

fn text_of<'a>(json: &'a Json, what: &str) -> Result<&'a str, FieldError> {
    json.as_str().ok_or_else(|| FieldError::new(format!("expected a string in {what}, found {}", kind(json))))
}

fn date_from(json: &Json) -> Result<DateTime<Utc>, FieldError> {
    let bad = || FieldError::new(format!("invalid $date {json}"));
    let ms = match json {
        Json::Number(n) => n.as_i64().ok_or_else(bad)?,
        Json::Object(m) => match m.get("$numberLong") {
            Some(Json::String(s)) => s.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        },
        Json::String(s) => return DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).map_err(|_| bad()),
        _ => return Err(bad()),
    };
    DateTime::from_timestamp_millis(ms).ok_or_else(bad)
}

fn binary_from(members: &Map<String, Json>) -> Result<(Vec<u8>, String), FieldError> {
    let (data, subtype) = match members.get("$binary") {
        // Canonical v2: {"$binary": {"base64": "...", "subType": "04"}}
        Some(Json::Object(inner)) => (inner.get("base64"), inner.get("subType")),
        // Legacy: {"$binary": "...", "$type": "04"}
        Some(data @ Json::String(_)) => (Some(data), members.get("$type")),
        _ => (None, None),
    };
    let data = data.and_then(Json::as_str).ok_or_else(|| FieldError::new("invalid $binary: no base64 data"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| FieldError::new(format!("invalid $binary base64: {e}")))?;
    let subtype = subtype.and_then(Json::as_str).unwrap_or("00").to_ascii_lowercase();
    Ok((bytes, subtype))
}

/// One extended-JSON value as a column value.
pub fn ext_to_value(json: Json) -> Result<Value, FieldError> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Text(s),
        Json::Array(items) => Value::Json(Json::Array(items.into_iter().map(relaxed).collect::<Result<_, _>>()?)),
        Json::Object(members) => match wrapper(&members).map(str::to_owned).as_deref() {
            Some(tag @ ("$numberLong" | "$numberInt")) => {
                let text = text_of(&members[tag], tag)?;
                Value::Int(text.trim().parse().map_err(|_| FieldError::new(format!("invalid integer {text:?}")))?)
            }
            Some("$numberDouble") => Value::Float(match text_of(&members["$numberDouble"], "$numberDouble")? {
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                t => t.parse().map_err(|_| FieldError::new(format!("invalid $numberDouble {t:?}")))?,
            }),
            Some("$numberDecimal") => {
                let text = text_of(&members["$numberDecimal"], "$numberDecimal")?;
                match parse_decimal_text(text) {
                    Some(d) => Value::Decimal(d),
                    None => match text {
                        "NaN" => Value::Float(f64::NAN),
                        "Infinity" => Value::Float(f64::INFINITY),
                        "-Infinity" => Value::Float(f64::NEG_INFINITY),
                        _ => return Err(FieldError::new(format!("invalid $numberDecimal {text:?}"))),
                    },
                }
            }
            Some("$oid") => Value::Text(text_of(&members["$oid"], "$oid")?.to_string()),
            Some("$date") => Value::TimestampTz { value: date_from(&members["$date"])?, precision: Precision::MILLIS },
            Some("$uuid") => {
                let text = text_of(&members["$uuid"], "$uuid")?;
                Value::Uuid(
                    uuid::Uuid::parse_str(text).map_err(|_| FieldError::new(format!("invalid $uuid {text:?}")))?,
                )
            }
            Some("$binary") => {
                let (bytes, subtype) = binary_from(&members)?;
                match (subtype.as_str(), uuid::Uuid::from_slice(&bytes)) {
                    ("04" | "4" | "03" | "3", Ok(u)) => Value::Uuid(u),
                    _ => Value::Bytes(bytes),
                }
            }
            Some("$undefined") => Value::Null,
            _ => Value::Json(relaxed(Json::Object(members))?),
        },
    })
}

/// Unwraps extended-JSON type wrappers into relaxed JSON (numbers as numbers,
/// `$numberDecimal` as a string, dates as ISO-8601 strings, binary as base64).
pub fn relaxed(json: Json) -> Result<Json, FieldError> {
    Ok(match json {
        Json::Array(items) => Json::Array(items.into_iter().map(relaxed).collect::<Result<_, _>>()?),
        Json::Object(members) => match wrapper(&members).map(str::to_owned).as_deref() {
            Some(
                "$numberLong" | "$numberInt" | "$numberDouble" | "$numberDecimal" | "$oid" | "$date" | "$uuid"
                | "$binary",
            ) => match ext_to_value(Json::Object(members))? {
                Value::Int(i) => Json::from(i),
                Value::UInt(u) => Json::from(u),
                Value::Float(f) => {
                    serde_json::Number::from_f64(f).map(Json::Number).unwrap_or_else(|| Json::String(f.to_string()))
                }
                Value::Decimal(d) => Json::String(d.to_string()),
                Value::TimestampTz { value, precision } => {
                    Json::String(sluice_sink_api::temporal::format_utc(&value, precision))
                }
                Value::Uuid(u) => Json::String(u.to_string()),
                Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
                Value::Text(s) => Json::String(s),
                other => sluice_sink_api::canonical::value_to_json(&other),
            },
            _ => {
                Json::Object(members.into_iter().map(|(k, v)| Ok((k, relaxed(v)?))).collect::<Result<_, FieldError>>()?)
            }
        },
        other => other,
    })
}

fn plain_field_name(name: &str) -> Result<(), FieldError> {
    if name.contains('.') {
        return Err(FieldError::new(format!(
            "nested field path {name:?} cannot be applied as a column write without the whole sub-document; \
             configure the connector to emit full documents (capture.mode=change_streams_update_full)"
        )));
    }
    Ok(())
}

/// A legacy oplog `patch` as a partial row. Returns the row and whether it
/// is a whole replacement document (no update operators).
pub fn patch_row(text: &str) -> Result<(Row, bool), FieldError> {
    let members = match parse(text)? {
        Json::Object(m) => m,
        other => return Err(FieldError::new(format!("expected a patch document, found {}", kind(&other)))),
    };
    if !members.keys().any(|k| k.starts_with('$')) {
        return Ok((object_row(members)?, true));
    }
    let mut row = Row::new();
    for (op, body) in members {
        match op.as_str() {
            "$v" if body.as_i64() == Some(1) || body.get("$numberInt").and_then(Json::as_str) == Some("1") => {}
            "$set" | "$unset" => {
                let Json::Object(fields) = body else {
                    return Err(FieldError::at_field(&op, format!("expected an object, found {}", kind(&body))));
                };
                for (name, value) in fields {
                    plain_field_name(&name).map_err(|e| e.at(&name).at(&op))?;
                    let value =
                        if op == "$set" { ext_to_value(value).map_err(|e| e.at(&name).at(&op))? } else { Value::Null };
                    row.insert(name, value);
                }
            }
            other => {
                return Err(FieldError::at_field(
                    other,
                    "unsupported update operator in patch (only $set/$unset oplog patches can be applied)",
                ));
            }
        }
    }
    Ok((row, false))
}

/// `updateDescription` (change streams) as a partial row.
pub fn update_description_row(
    updated: Option<&str>,
    removed: &[String],
    truncated_arrays: usize,
) -> Result<Row, FieldError> {
    if truncated_arrays > 0 {
        return Err(FieldError::at_field(
            "truncatedArrays",
            "truncated arrays cannot be applied as a partial row; configure the connector to emit full documents",
        ));
    }
    let mut row = match updated {
        Some(text) => match parse(text).map_err(|e| e.at("updatedFields"))? {
            Json::Object(m) => {
                for name in m.keys() {
                    plain_field_name(name).map_err(|e| e.at(name).at("updatedFields"))?;
                }
                object_row(m).map_err(|e| e.at("updatedFields"))?
            }
            Json::Null => Row::new(),
            other => {
                return Err(FieldError::at_field(
                    "updatedFields",
                    format!("expected a document, found {}", kind(&other)),
                ));
            }
        },
        None => Row::new(),
    };
    for name in removed {
        plain_field_name(name).map_err(|e| e.at("removedFields"))?;
        row.insert(name.clone(), Value::Null);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_with_extended_types() {
        let row = document_row(
            r#"{"_id": {"$oid": "5f1f1f1f1f1f1f1f1f1f1f1f"}, "n": {"$numberLong": "1004"}, "d": {"$numberDecimal": "1.50"},
                "t": {"$date": {"$numberLong": "1558965508000"}}, "u": {"$binary": "FA7YEzXgQXSX9OxmzllH2w==", "$type": "04"},
                "b": {"$binary": {"base64": "AQI=", "subType": "00"}}, "sub": {"a": {"$numberLong": "1"}}, "arr": [1, {"$numberInt": "2"}]}"#,
        )
        .unwrap();
        assert_eq!(row.get("_id"), Some(&Value::Text("5f1f1f1f1f1f1f1f1f1f1f1f".into())));
        assert_eq!(row.get("n"), Some(&Value::Int(1004)));
        assert_eq!(row.get("d").unwrap().to_plain_string().as_deref(), Some("1.50"));
        assert_eq!(row.get("t").unwrap().to_plain_string().as_deref(), Some("2019-05-27T13:58:28.000Z"));
        assert_eq!(row.get("u").unwrap().to_plain_string().as_deref(), Some("140ed813-35e0-4174-97f4-ec66ce5947db"));
        assert_eq!(row.get("b"), Some(&Value::Bytes(vec![1, 2])));
        assert_eq!(row.get("sub"), Some(&Value::Json(serde_json::json!({"a": 1}))));
        assert_eq!(row.get("arr"), Some(&Value::Json(serde_json::json!([1, 2]))));
    }

    #[test]
    fn patches_and_update_descriptions() {
        let (row, full) =
            patch_row(r#"{"$v": 1, "$set": {"first_name": "Anne Marie"}, "$unset": {"x": true}}"#).unwrap();
        assert!(!full);
        assert_eq!(row.get("first_name"), Some(&Value::Text("Anne Marie".into())));
        assert_eq!(row.get("x"), Some(&Value::Null));
        let (row, full) = patch_row(r#"{"_id": 1, "a": 2}"#).unwrap();
        assert!(full);
        assert_eq!(row.len(), 2);
        assert!(patch_row(r#"{"$set": {"a.b": 1}}"#).unwrap_err().message().contains("nested field path"));
        assert!(patch_row(r#"{"$inc": {"a": 1}}"#).is_err());
        let row = update_description_row(Some(r#"{"first_name": "Anne Marie"}"#), &["gone".into()], 0).unwrap();
        assert_eq!(row.get("gone"), Some(&Value::Null));
        assert!(update_description_row(None, &[], 1).is_err());
    }

    #[test]
    fn key_ids() {
        assert_eq!(key_id("1004").unwrap(), Value::Int(1004));
        assert_eq!(key_id(r#"{"$oid": "abc"}"#).unwrap(), Value::Text("abc".into()));
        assert_eq!(key_id("\"text\"").unwrap(), Value::Text("text".into()));
        assert_eq!(key_id("plain").unwrap(), Value::Text("plain".into()));
    }
}
