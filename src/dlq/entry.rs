//! A stored dead letter as the `sluice dlq` commands see it, and how it was
//! resolved.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How a dead letter was resolved (`resolution` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// `sluice dlq replay` applied it (or found the target already newer).
    Replayed,
    /// An operator decided it must never apply (`dlq resolve --resolution discarded`).
    Discarded,
    /// An operator fixed the target by hand (`dlq resolve`, the default).
    Manual,
}

impl Resolution {
    /// The resolutions an operator may record by hand.
    pub const MANUAL_CHOICES: &'static [&'static str] = &["manual", "discarded"];

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Replayed => "replayed",
            Resolution::Discarded => "discarded",
            Resolution::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "replayed" => Some(Resolution::Replayed),
            "discarded" => Some(Resolution::Discarded),
            "manual" => Some(Resolution::Manual),
            _ => None,
        }
    }
}

impl std::fmt::Display for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `dead_letters`, raw bytes included.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DlqEntry {
    pub id: i64,
    pub topic: String,
    #[sqlx(rename = "partition_num")]
    pub partition: i32,
    #[sqlx(rename = "offset_value")]
    pub offset: i64,
    pub consumer_group: String,
    /// A sink name, or [`ALL_SINKS`](super::ALL_SINKS) for decode failures.
    pub sink: String,
    #[sqlx(rename = "table_name")]
    pub table: Option<String>,
    #[sqlx(rename = "error_class")]
    pub class: String,
    #[sqlx(rename = "error_message")]
    pub message: String,
    pub raw_key: Option<Vec<u8>>,
    pub raw_value: Option<Vec<u8>>,
    /// `[{"key": "...", "value_hex": "..." | null}, ...]`
    pub headers: serde_json::Value,
    pub schema_id: Option<i32>,
    pub failed_at: DateTime<Utc>,
    pub retry_count: i32,
    pub last_retry_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

impl DlqEntry {
    /// `topic/partition@offset`, as errors and logs name records.
    pub fn origin(&self) -> String {
        format!("{}/{}@{}", self.topic, self.partition, self.offset)
    }

    pub fn is_resolved(&self) -> bool {
        self.resolved_at.is_some()
    }

    /// The record headers as stored: `(name, value bytes)`.
    pub fn header_pairs(&self) -> Vec<(String, Option<Vec<u8>>)> {
        decode_headers(&self.headers)
    }
}

/// One row of `dead_letters` without the raw bytes (what `dlq list` needs);
/// serialized as such by `dlq list --json`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DlqSummary {
    pub id: i64,
    pub topic: String,
    #[sqlx(rename = "partition_num")]
    pub partition: i32,
    #[sqlx(rename = "offset_value")]
    pub offset: i64,
    pub consumer_group: String,
    pub sink: String,
    #[sqlx(rename = "table_name")]
    pub table: Option<String>,
    #[sqlx(rename = "error_class")]
    pub class: String,
    #[sqlx(rename = "error_message")]
    pub message: String,
    pub key_bytes: Option<i32>,
    pub value_bytes: Option<i32>,
    pub failed_at: DateTime<Utc>,
    pub retry_count: i32,
    pub last_retry_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

/// Headers as they are stored: a JSON array of `{key, value_hex}` (hex keeps
/// arbitrary header bytes exact inside JSON).
pub fn encode_headers(headers: &[(String, Option<Vec<u8>>)]) -> serde_json::Value {
    serde_json::Value::Array(
        headers.iter().map(|(k, v)| serde_json::json!({"key": k, "value_hex": v.as_ref().map(hex::encode)})).collect(),
    )
}

/// The inverse of [`encode_headers`]; entries that do not have that shape are skipped.
pub fn decode_headers(json: &serde_json::Value) -> Vec<(String, Option<Vec<u8>>)> {
    let Some(items) = json.as_array() else { return Vec::new() };
    items
        .iter()
        .filter_map(|h| {
            let key = h.get("key")?.as_str()?.to_string();
            let value = match h.get("value_hex") {
                Some(serde_json::Value::String(s)) => Some(hex::decode(s).ok()?),
                _ => None,
            };
            Some((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_bytes_exactly() {
        let headers = vec![
            ("a".to_string(), Some(vec![0u8, 255, 10])),
            ("a".to_string(), None),
            ("ü".to_string(), Some(Vec::new())),
        ];
        assert_eq!(decode_headers(&encode_headers(&headers)), headers);
    }

    #[test]
    fn resolutions_parse() {
        for r in [Resolution::Replayed, Resolution::Discarded, Resolution::Manual] {
            assert_eq!(Resolution::parse(r.as_str()), Some(r));
        }
        assert_eq!(Resolution::parse("done"), None);
    }
}
