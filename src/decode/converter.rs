//! The boundary between wire formats and the envelope interpreter.
//!
//! A [`RecordConverter`] turns the serialized key or value of one record into
//! [`ConnectData`]. The JSON converter ([`JsonConverter`](super::json::JsonConverter))
//! is built in; the Avro converter (Confluent wire format) implements the
//! same trait. Conversion is synchronous: a converter that needs a schema
//! registry resolves the schema ids of a record *before* decoding (and keeps
//! them cached), so decoding one record never waits on the network.

use std::fmt;

use futures::future::BoxFuture;

use super::connect::ConnectData;
use super::error::FieldError;

/// Which part of the Kafka record is being converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordPart {
    Key,
    Value,
}

impl RecordPart {
    /// The field name used in error paths for the part as a whole.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordPart::Key => "key",
            RecordPart::Value => "value",
        }
    }
}

/// Converts serialized record keys and values into the neutral Connect form.
///
/// Contract:
/// - never panics, whatever the bytes;
/// - errors are [`FieldError`]s whose path names the failing member, rooted at
///   `payload` for the record's data (`payload.after.id`) or `schema` for a
///   schema carried in the record; [`FieldError::whole`] marks errors about the
///   bytes as a whole (not JSON, unknown magic byte, unknown schema id);
/// - a legacy JSON tombstone (`{"schema":null,"payload":null}`) converts to
///   [`ConnectValue::Null`](super::connect::ConnectValue::Null);
/// - schemas are returned as shared `Arc`s, the same `Arc` for the same schema.
pub trait RecordConverter: Send + Sync + fmt::Debug {
    fn convert(&self, part: RecordPart, topic: &str, bytes: &[u8]) -> Result<ConnectData, FieldError>;

    /// The registry schema id `bytes` refer to when the converter does not
    /// hold that schema yet: the caller awaits [`RecordConverter::fetch_schema`]
    /// before [`RecordConverter::convert`]. Answered from memory, never
    /// waits. Default: `None` (self-describing formats such as JSON).
    fn missing_schema(&self, _part: RecordPart, _topic: &str, _bytes: &[u8]) -> Option<u32> {
        None
    }

    /// Fetches and caches schema `id`, retrying while the registry is
    /// unavailable (per the converter's policy). Errors are whole-record
    /// [`FieldError`]s: an id the registry does not know is a plain decode
    /// error, a registry that stayed unreachable is
    /// [`FieldError::schema_unavailable`]. Default: nothing to fetch.
    fn fetch_schema(&self, _id: u32) -> BoxFuture<'_, Result<(), FieldError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}
