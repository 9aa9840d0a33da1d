//! How values are stored in materialize mode, and how versions are written.
//!
//! | value | hash field (text) | JSON member |
//! |---|---|---|
//! | NULL | field removed (`HDEL`) | `null` |
//! | bool | `true` / `false` | `true` / `false` |
//! | int, unsigned | digits | number |
//! | float | shortest round-trip digits (`1.5`, `NaN`, `inf`) | number; `"NaN"`, `"inf"`, `"-inf"` as strings |
//! | decimal | digits with the source scale (`12.30`) | string `"12.30"` (exact) |
//! | text, enum | as is | string |
//! | bytes | lowercase hex | string, lowercase hex |
//! | date, time, timestamp | ISO-8601 at the source precision | string, same |
//! | timestamptz | ISO-8601 UTC with `Z` | string, same |
//! | json | compact JSON text | the document itself (embedded, not a string) |
//! | uuid | hyphenated | string |
//! | set | members joined by `,` | array of strings |
//! | bits | `0`/`1` string, most significant first | string, same |
//! | geometry | WKB as lowercase hex | `{"wkb": hex, "srid": n}` |
//! | array | JSON array (elements as in the JSON column) | array |
//! | unavailable (TOAST) | never written: the stored field is left untouched | never written: the stored member is kept |
//!
//! Versions are stored as 39-digit zero-padded decimal strings (the width of
//! `u128::MAX`): equal-width digit strings compare like the numbers, which Lua
//! can do exactly (Lua numbers are doubles and cannot hold a `u128`).

use serde_json::{Map, Value as Json, json};
use sluice_sink_api::{Value, Version};

/// Width of a stored version: the number of digits of `u128::MAX`.
pub const VERSION_DIGITS: usize = 39;

/// The stored form of a version: 39 digits, zero-padded.
pub fn version_string(version: &Version) -> String {
    format!("{:0width$}", version.value(), width = VERSION_DIGITS)
}

/// Reads a stored version back (`None` if it is not 39 digits).
pub fn parse_version(text: &str) -> Option<u128> {
    (text.len() == VERSION_DIGITS && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// The hash-field text of a value; `None` for NULL (the field is removed)
/// and for unavailable values (callers never pass them).
pub fn hash_field(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Unavailable => None,
        Value::Array(_) => Some(json_value(value).to_string()),
        other => other.to_plain_string(),
    }
}

/// The JSON member of a value (see the module table).
pub fn json_value(value: &Value) -> Json {
    match value {
        Value::Null | Value::Unavailable => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Float(f) if f.is_finite() => json!(f),
        Value::Json(doc) => doc.clone(),
        Value::Set(members) => Json::Array(members.iter().cloned().map(Json::String).collect()),
        Value::Geometry(g) => {
            let mut m = Map::with_capacity(2);
            m.insert("wkb".into(), Json::String(hex_of(&g.wkb)));
            m.insert("srid".into(), g.srid.map_or(Json::Null, |s| json!(s)));
            Json::Object(m)
        }
        Value::Array(items) => Json::Array(items.iter().map(json_value).collect()),
        other => Json::String(other.to_plain_string().unwrap_or_default()),
    }
}

fn hex_of(bytes: &[u8]) -> String {
    Value::Bytes(bytes.to_vec()).to_plain_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sink_api::{Decimal, Geometry, VersionScheme};

    #[test]
    fn versions_are_fixed_width_and_order_preserving() {
        let small = Version::from_raw(VersionScheme::KafkaOffset, 42);
        let big = Version::from_raw(VersionScheme::MysqlBinlog, u128::MAX);
        assert_eq!(version_string(&small), format!("{}42", "0".repeat(37)));
        assert_eq!(version_string(&big), u128::MAX.to_string());
        assert_eq!(version_string(&big).len(), VERSION_DIGITS);
        // 2^53 + 1 is where doubles stop being exact; the strings still order
        let a = Version::from_raw(VersionScheme::KafkaOffset, (1 << 53) + 1);
        let b = Version::from_raw(VersionScheme::KafkaOffset, (1 << 53) + 2);
        assert!(version_string(&a) < version_string(&b));
        assert_eq!(parse_version(&version_string(&big)), Some(u128::MAX));
        assert_eq!(parse_version("12"), None);
    }

    #[test]
    fn values_render_per_the_table() {
        assert_eq!(hash_field(&Value::Null), None);
        assert_eq!(hash_field(&Value::Int(-5)).unwrap(), "-5");
        assert_eq!(hash_field(&Value::Decimal(Decimal::parse("12.30").unwrap())).unwrap(), "12.30");
        assert_eq!(hash_field(&Value::Array(vec![Value::Int(1), Value::Text("a".into())])).unwrap(), "[1,\"a\"]");
        assert_eq!(json_value(&Value::Decimal(Decimal::parse("12.30").unwrap())), json!("12.30"));
        assert_eq!(json_value(&Value::UInt(u64::MAX)), json!(u64::MAX));
        assert_eq!(json_value(&Value::Float(f64::NAN)), json!("NaN"));
        assert_eq!(json_value(&Value::Json(json!({"a": [1]}))), json!({"a": [1]}));
        assert_eq!(json_value(&Value::Set(vec!["a".into(), "b".into()])), json!(["a", "b"]));
        assert_eq!(json_value(&Value::Bytes(vec![0xde, 0xad])), json!("dead"));
        assert_eq!(
            json_value(&Value::Geometry(Geometry { wkb: vec![1], srid: Some(4326) })),
            json!({"wkb": "01", "srid": 4326})
        );
    }
}
