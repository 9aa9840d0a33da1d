//! Sink errors and their classification.
//!
//! Every failure is one of three classes, and the class alone decides what the
//! engine does:
//!
//! | class | meaning | engine action |
//! |---|---|---|
//! | [`ErrorClass::Transient`] | the target is unavailable or busy | retry with backoff, pause the partitions, never dead-letter |
//! | [`ErrorClass::Permanent`] | this record can never apply as is | dead-letter the record, move on |
//! | [`ErrorClass::Fatal`] | continuing would be unsafe (misconfiguration, lost fencing) | stop the pipeline without committing past the failure |

use std::fmt;

/// What the engine does with a failure. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    Transient,
    Permanent,
    Fatal,
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Fatal => "fatal",
        })
    }
}

/// Why a record was rejected; stored as the DLQ's `error_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// The record's bytes could not be decoded.
    Decode,
    /// The table is quarantined after an unsafe schema change (narrowing, PK change).
    Schema,
    /// The record's schema id was unknown while the registry was unreachable.
    SchemaUnavailable,
    /// A constraint of the target refused the row (NOT NULL, CHECK, FK, unique).
    Constraint,
    /// A value does not fit the target column or field.
    DataType,
    /// The target's mapping refused the document (Elasticsearch mapping/parse errors).
    Mapping,
    /// The change's version cannot be represented by the target.
    Version,
    /// The row has no key but the target needs one; or a key/template cannot be rendered.
    Key,
    /// Anything else the target called permanent.
    Other,
}

impl RejectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::Decode => "decode",
            RejectKind::Schema => "schema",
            RejectKind::SchemaUnavailable => "schema_unavailable",
            RejectKind::Constraint => "constraint",
            RejectKind::DataType => "data_type",
            RejectKind::Mapping => "mapping",
            RejectKind::Version => "version",
            RejectKind::Key => "key",
            RejectKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "decode" => RejectKind::Decode,
            "schema" => RejectKind::Schema,
            "schema_unavailable" => RejectKind::SchemaUnavailable,
            "constraint" => RejectKind::Constraint,
            "data_type" => RejectKind::DataType,
            "mapping" => RejectKind::Mapping,
            "version" => RejectKind::Version,
            "key" => RejectKind::Key,
            "other" => RejectKind::Other,
            _ => return None,
        })
    }

    pub const ALL: [RejectKind; 9] = [
        RejectKind::Decode,
        RejectKind::Schema,
        RejectKind::SchemaUnavailable,
        RejectKind::Constraint,
        RejectKind::DataType,
        RejectKind::Mapping,
        RejectKind::Version,
        RejectKind::Key,
        RejectKind::Other,
    ];
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error returned by a sink. Its [`ErrorClass`] drives retry, dead-lettering
/// or stopping; the message is for operators and must never contain secrets.
#[derive(Debug, thiserror::Error)]
#[error("{class} error: {message}")]
pub struct SinkError {
    pub class: ErrorClass,
    /// For permanent errors: what kind of rejection this is.
    pub kind: RejectKind,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl SinkError {
    pub fn transient(message: impl Into<String>) -> Self {
        SinkError { class: ErrorClass::Transient, kind: RejectKind::Other, message: message.into(), source: None }
    }

    pub fn permanent(kind: RejectKind, message: impl Into<String>) -> Self {
        SinkError { class: ErrorClass::Permanent, kind, message: message.into(), source: None }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        SinkError { class: ErrorClass::Fatal, kind: RejectKind::Other, message: message.into(), source: None }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }

    pub fn is_permanent(&self) -> bool {
        self.class == ErrorClass::Permanent
    }

    pub fn is_fatal(&self) -> bool {
        self.class == ErrorClass::Fatal
    }

    /// The message followed by the chain of sources, for logs and the DLQ.
    pub fn full_message(&self) -> String {
        let mut out = self.message.clone();
        let mut source: Option<&(dyn std::error::Error + 'static)> = self.source.as_deref().map(|e| e as _);
        while let Some(err) = source {
            let text = err.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            source = err.source();
        }
        out
    }
}
