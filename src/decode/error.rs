//! Decode errors.
//!
//! A record that cannot be decoded can never be applied as it is: every
//! [`DecodeError`] is [`ErrorClass::Permanent`] and goes to the dead-letter
//! queue, with [`RejectKind::Decode`] — or [`RejectKind::SchemaUnavailable`]
//! when the schema registry could not be reached for the record's schema id
//! (the bytes may well be fine: replay it once the registry is back). It names the record
//! (topic/partition/offset), the field (a dotted path such as
//! `payload.after.order_date`, `key.id` or `value` for the bytes as a whole)
//! and says what was expected and what was found.

use std::fmt;

use sluice_sink_api::{ErrorClass, Origin, RejectKind, SinkError};

/// A field-level failure, before the record it belongs to is known.
///
/// The path is built on the way *out* (each level prepends its segment), so
/// successful decoding never allocates path strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path segments, innermost first.
    segments: Vec<String>,
    message: String,
    /// The error is about the key or value bytes as a whole (not JSON, too large).
    whole: bool,
    /// The record's schema could not be fetched (registry unreachable).
    unavailable: bool,
}

impl FieldError {
    /// An error at the current position (the caller adds the path).
    pub fn new(message: impl Into<String>) -> Self {
        FieldError { segments: Vec::new(), message: message.into(), whole: false, unavailable: false }
    }

    /// An error at `field` below the current position.
    pub fn at_field(field: &str, message: impl Into<String>) -> Self {
        FieldError { segments: vec![field.to_string()], message: message.into(), whole: false, unavailable: false }
    }

    /// An error about the bytes of the key or value as a whole; its field is
    /// reported as `key` or `value`.
    pub fn whole(message: impl Into<String>) -> Self {
        FieldError { segments: Vec::new(), message: message.into(), whole: true, unavailable: false }
    }

    /// The schema registry could not be reached for the schema these bytes
    /// refer to: a whole-record error dead-lettered with class
    /// `schema_unavailable` (replayable once the registry is back).
    pub fn schema_unavailable(message: impl Into<String>) -> Self {
        FieldError { unavailable: true, ..FieldError::whole(message) }
    }

    pub fn is_whole(&self) -> bool {
        self.whole
    }

    pub fn is_schema_unavailable(&self) -> bool {
        self.unavailable
    }

    /// "expected …, found …".
    pub fn mismatch(expected: impl fmt::Display, found: impl fmt::Display) -> Self {
        FieldError::new(format!("expected {expected}, found {found}"))
    }

    /// Appends `text` to the message (context known only further out).
    pub fn append(mut self, text: &str) -> Self {
        self.message.push_str(text);
        self
    }

    /// Prepends a path segment (`err.at("after")` turns `id` into `after.id`).
    pub fn at(mut self, segment: &str) -> Self {
        self.segments.push(segment.to_string());
        self
    }

    /// The dotted path, outermost first.
    pub fn path(&self) -> String {
        let mut parts: Vec<&str> = self.segments.iter().rev().map(String::as_str).collect();
        parts.retain(|p| !p.is_empty());
        parts.join(".")
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Attaches the record. `part` (`key` or `value`) names whole-record
    /// errors; key field paths are prefixed with `key.`.
    pub fn into_decode_error(self, origin: &Origin, part: &str) -> DecodeError {
        let path = self.path();
        let field = if self.whole || path.is_empty() {
            part.to_string()
        } else if part == "key" {
            format!("key.{path}")
        } else {
            path
        };
        let kind = if self.unavailable { RejectKind::SchemaUnavailable } else { RejectKind::Decode };
        DecodeError { origin: origin.clone(), field, message: self.message, kind }
    }
}

/// Extension for `Result<T, FieldError>`: `.at("after")?`.
pub trait AtField<T> {
    fn at(self, segment: &str) -> Result<T, FieldError>;
}

impl<T> AtField<T> for Result<T, FieldError> {
    fn at(self, segment: &str) -> Result<T, FieldError> {
        self.map_err(|e| e.at(segment))
    }
}

/// A record that cannot be decoded. Always permanent (dead-lettered): see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot decode record topic {:?} partition {} offset {}: field {}: {}",
    origin.topic,
    origin.partition,
    origin.offset,
    field,
    message
)]
pub struct DecodeError {
    /// The Kafka record (or source position) that failed.
    pub origin: Origin,
    /// Dotted path of the offending field: `payload.after.order_date`,
    /// `payload.op`, `key.id`, `value` (the bytes as a whole), `key`.
    pub field: String,
    /// What was expected and what was found.
    pub message: String,
    /// The DLQ error class: [`RejectKind::Decode`], or
    /// [`RejectKind::SchemaUnavailable`] when the schema registry was unreachable.
    pub kind: RejectKind,
}

impl DecodeError {
    pub fn new(origin: &Origin, field: &str, message: impl Into<String>) -> Self {
        DecodeError {
            origin: origin.clone(),
            field: field.to_string(),
            message: message.into(),
            kind: RejectKind::Decode,
        }
    }

    /// The record's schema could not be fetched from the registry (class `schema_unavailable`).
    pub fn schema_unavailable(origin: &Origin, field: &str, message: impl Into<String>) -> Self {
        DecodeError { kind: RejectKind::SchemaUnavailable, ..DecodeError::new(origin, field, message) }
    }

    /// Always [`ErrorClass::Permanent`]: the record is dead-lettered (the same
    /// bytes never decode; a `schema_unavailable` record waits in the DLQ for
    /// the registry, it is never dropped).
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }

    /// The DLQ error class: [`RejectKind::Decode`] or [`RejectKind::SchemaUnavailable`].
    pub fn reject_kind(&self) -> RejectKind {
        self.kind
    }

    /// The same failure as a [`SinkError`] (permanent, of this error's kind).
    pub fn to_sink_error(&self) -> SinkError {
        SinkError::permanent(self.kind, self.to_string())
    }
}

impl From<DecodeError> for SinkError {
    fn from(err: DecodeError) -> Self {
        err.to_sink_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_is_built_outward() {
        let err = FieldError::at_field("order_date", "bad").at("after").at("payload");
        assert_eq!(err.path(), "payload.after.order_date");
        let decoded = err.clone().into_decode_error(&Origin::new("t", 1, 7), "value");
        assert_eq!(decoded.field, "payload.after.order_date");
        let text = decoded.to_string();
        assert!(text.contains("topic \"t\" partition 1 offset 7"), "{text}");
        assert!(text.contains("payload.after.order_date: bad"), "{text}");
        assert_eq!(decoded.class(), ErrorClass::Permanent);
        assert_eq!(decoded.to_sink_error().kind, RejectKind::Decode);
        assert_eq!(err.into_decode_error(&Origin::new("t", 1, 7), "key").field, "key.payload.after.order_date");
        assert_eq!(FieldError::whole("not JSON").into_decode_error(&Origin::new("t", 1, 7), "value").field, "value");
    }
}
