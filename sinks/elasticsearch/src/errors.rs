//! Every error of the sink and the one place that classifies them.
//!
//! Whole requests ([`EsError`], [`status_class`]):
//!
//! | failure | class | why |
//! |---|---|---|
//! | connection refused/reset, timeout, DNS | transient | the cluster is down or unreachable |
//! | 408, 429, 5xx, other unexpected statuses | transient | busy or failing; retried |
//! | 401, 403, 404 | fatal | wrong credentials, privileges or URL: retrying cannot help |
//! | 400, 413 | permanent | the request itself is refused; the engine bisects the batch down to the event |
//!
//! Per `_bulk` item ([`classify_item`]):
//!
//! | item status | outcome |
//! |---|---|
//! | 2xx; 404 `not_found` of a delete (tombstone written) | applied |
//! | 409 `version_conflict_engine_exception` | stale (the index holds this version or a newer one) |
//! | 429, 5xx, 408, 403 (cluster blocks), 404 missing index, other 409 | retry this item with backoff |
//! | 400 (mapping / parse errors, invalid index name) and 413 | rejected, [`RejectKind::Mapping`] |
//! | other 4xx | rejected, [`RejectKind::Other`] |

use sluice_sink_api::{ErrorClass, RejectKind, SinkError};

/// A failed request to the cluster.
#[derive(Debug, thiserror::Error)]
pub enum EsError {
    /// No HTTP response: connection refused or reset, timeout, TLS failure.
    #[error("{what}: cannot reach the cluster: {source}")]
    Transport {
        what: String,
        #[source]
        source: elasticsearch::Error,
    },
    /// An HTTP response with an error status.
    #[error("{what}: HTTP {status}: {reason}")]
    Status { what: String, status: u16, reason: String },
    /// A response that could not be understood.
    #[error("{what}: unexpected response: {reason}")]
    Protocol { what: String, reason: String },
    /// The client could not be built (bad URL, unreadable CA file).
    #[error("elasticsearch client setup: {0}")]
    Setup(String),
}

/// The class of a whole-request HTTP error status.
pub fn status_class(status: u16) -> ErrorClass {
    match status {
        401 | 403 | 404 => ErrorClass::Fatal,
        400 | 413 => ErrorClass::Permanent,
        _ => ErrorClass::Transient,
    }
}

impl EsError {
    pub fn class(&self) -> ErrorClass {
        match self {
            EsError::Transport { .. } | EsError::Protocol { .. } => ErrorClass::Transient,
            EsError::Status { status, .. } => status_class(*status),
            EsError::Setup(_) => ErrorClass::Fatal,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// The [`SinkError`] the engine sees.
    pub fn into_sink_error(self) -> SinkError {
        let message = self.to_string();
        let error = match self.class() {
            ErrorClass::Transient => SinkError::transient(message),
            ErrorClass::Permanent => SinkError::permanent(RejectKind::Other, message),
            ErrorClass::Fatal => SinkError::fatal(message),
        };
        // Keep the chain (e.g. the socket error under a transport error) for `full_message`.
        match self {
            EsError::Transport { source, .. } => error.with_source(source),
            _ => error,
        }
    }
}

impl From<EsError> for SinkError {
    fn from(e: EsError) -> Self {
        e.into_sink_error()
    }
}

/// What an action asked for (decides how a 404 reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Index,
    Delete,
}

/// The outcome of one `_bulk` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    Applied,
    Stale,
    /// Retry this item (the reason names the status and error type).
    Retry(String),
    /// Never applies: dead-letter the event.
    Reject(RejectKind, String),
}

/// Classifies one item of a `_bulk` response (see the module table).
/// `error_type` and `reason` come from the item's `error` object.
pub fn classify_item(action: ActionKind, status: u16, error_type: Option<&str>, reason: &str) -> ItemOutcome {
    let described = || match error_type {
        Some(t) => format!("{t}: {reason}"),
        None => format!("HTTP {status}: {reason}"),
    };
    match status {
        200..=299 => ItemOutcome::Applied,
        404 if action == ActionKind::Delete && error_type.is_none() => ItemOutcome::Applied,
        409 if error_type == Some("version_conflict_engine_exception") => ItemOutcome::Stale,
        404 | 408 | 409 | 429 | 403 | 500..=599 => ItemOutcome::Retry(format!("HTTP {status} {}", described())),
        400 | 413 => ItemOutcome::Reject(RejectKind::Mapping, described()),
        _ => ItemOutcome::Reject(RejectKind::Other, described()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items() {
        use ActionKind::*;
        assert_eq!(classify_item(Index, 201, None, ""), ItemOutcome::Applied);
        assert_eq!(classify_item(Delete, 404, None, ""), ItemOutcome::Applied);
        assert!(matches!(
            classify_item(Index, 404, Some("index_not_found_exception"), "no such index"),
            ItemOutcome::Retry(_)
        ));
        assert_eq!(classify_item(Index, 409, Some("version_conflict_engine_exception"), "x"), ItemOutcome::Stale);
        assert_eq!(classify_item(Delete, 409, Some("version_conflict_engine_exception"), "x"), ItemOutcome::Stale);
        assert!(
            matches!(classify_item(Index, 429, Some("es_rejected_execution_exception"), "queue full"), ItemOutcome::Retry(r) if r.contains("429"))
        );
        assert!(matches!(classify_item(Index, 503, None, ""), ItemOutcome::Retry(_)));
        assert!(matches!(
            classify_item(Index, 403, Some("cluster_block_exception"), "read-only"),
            ItemOutcome::Retry(_)
        ));
        assert_eq!(
            classify_item(Index, 400, Some("mapper_parsing_exception"), "failed to parse field [n]"),
            ItemOutcome::Reject(RejectKind::Mapping, "mapper_parsing_exception: failed to parse field [n]".into())
        );
        assert!(matches!(classify_item(Index, 422, None, "?"), ItemOutcome::Reject(RejectKind::Other, _)));
    }

    #[test]
    fn statuses() {
        assert_eq!(status_class(503), ErrorClass::Transient);
        assert_eq!(status_class(429), ErrorClass::Transient);
        assert_eq!(status_class(401), ErrorClass::Fatal);
        assert_eq!(status_class(400), ErrorClass::Permanent);
        let e = EsError::Status { what: "_bulk".into(), status: 502, reason: "bad gateway".into() };
        let s = e.into_sink_error();
        assert!(s.is_transient() && s.message.contains("_bulk: HTTP 502"));
    }
}
