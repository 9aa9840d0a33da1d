//! One place that decides what a Redis failure means.
//!
//! | failure | class | engine action |
//! |---|---|---|
//! | connection refused/reset/dropped, I/O error, timeout, protocol desync | transient | retry the batch with backoff |
//! | `LOADING`, `BUSY`, `TRYAGAIN`, `MASTERDOWN`, `READONLY` (failover), `CLUSTERDOWN`, `OOM`, `MISCONF`, `NOREPLICAS` | transient | retry |
//! | `NOSCRIPT` | handled here: `SCRIPT LOAD` and resend the affected commands | — |
//! | authentication (`NOAUTH`, `WRONGPASS`), `NOPERM`, `MOVED`/`ASK`/`CROSSSLOT` (a cluster behind a standalone URL) | fatal | stop: an operator must fix the config |
//! | any other error of one command (`WRONGTYPE`, a script error on a stored value sluice did not write) | permanent, that record only | dead-letter the record |
//!
//! A template that cannot be rendered is decided by the planners
//! ([`crate::invalidate`], [`crate::materialize`]): permanent for that record.

use redis::{ErrorKind, RedisError, ServerError, ServerErrorKind};
use sluice_sink_api::{ErrorClass, RejectKind, SinkError};

/// What to do with the error reply of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyClass {
    /// The script is not in the server's cache: load it and resend.
    NoScript,
    Transient,
    Fatal,
    /// This record can never apply as is.
    Permanent,
}

const TRANSIENT_CODES: &[&str] =
    &["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "OOM", "MISCONF", "NOREPLICAS"];
const FATAL_CODES: &[&str] = &["NOAUTH", "WRONGPASS", "NOPERM", "MOVED", "ASK", "CROSSSLOT"];

/// Classifies the error code of one command's reply (`LOADING`, `WRONGTYPE`, ...).
pub fn classify_code(code: &str) -> ReplyClass {
    if code == "NOSCRIPT" {
        ReplyClass::NoScript
    } else if TRANSIENT_CODES.contains(&code) {
        ReplyClass::Transient
    } else if FATAL_CODES.contains(&code) {
        ReplyClass::Fatal
    } else {
        ReplyClass::Permanent
    }
}

/// Classifies one command's error reply.
pub fn classify_reply(error: &ServerError) -> ReplyClass {
    classify_code(error.code())
}

/// `CODE detail` of an error reply, for messages.
pub fn reply_text(error: &ServerError) -> String {
    match error.details() {
        Some(detail) => format!("{} {detail}", error.code()),
        None => error.code().to_string(),
    }
}

/// Classifies an error of a whole request (connection level).
pub fn classify_request_error(error: &RedisError) -> ErrorClass {
    match error.kind() {
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidClientConfig => ErrorClass::Fatal,
        ErrorKind::Server(
            ServerErrorKind::NoPerm | ServerErrorKind::Moved | ServerErrorKind::Ask | ServerErrorKind::CrossSlot,
        ) => ErrorClass::Fatal,
        _ => match error.code().map(classify_code) {
            Some(ReplyClass::Fatal) => ErrorClass::Fatal,
            // Everything else at the request level is infrastructure: I/O,
            // timeouts, a dropped connection, a busy or loading server.
            _ => ErrorClass::Transient,
        },
    }
}

/// A failure of the Redis sink with its class.
#[derive(Debug, thiserror::Error)]
pub enum RedisSinkError {
    /// The request failed as a whole (connection, timeout, server state).
    #[error("redis sink `{sink}` at {url}: {context}: {source}")]
    Request {
        sink: String,
        url: String,
        context: &'static str,
        #[source]
        source: RedisError,
    },
    /// One command got an error reply that concerns the server, not the record.
    #[error("redis sink `{sink}` at {url}: {reply} (while applying {table} at {origin})")]
    Reply { sink: String, url: String, reply: String, table: String, origin: String, class: ErrorClass },
    /// The configuration cannot work (bad URL, unreadable secret or CA file).
    #[error("redis sink `{sink}`: {message}")]
    Config { sink: String, message: String },
}

impl RedisSinkError {
    pub fn class(&self) -> ErrorClass {
        match self {
            RedisSinkError::Request { source, .. } => classify_request_error(source),
            RedisSinkError::Reply { class, .. } => *class,
            RedisSinkError::Config { .. } => ErrorClass::Fatal,
        }
    }
}

impl From<RedisSinkError> for SinkError {
    fn from(error: RedisSinkError) -> Self {
        let class = error.class();
        let message = error.to_string();
        let sink_error = match class {
            ErrorClass::Transient => SinkError::transient(message),
            ErrorClass::Fatal => SinkError::fatal(message),
            ErrorClass::Permanent => SinkError::permanent(RejectKind::Other, message),
        };
        match error {
            RedisSinkError::Request { source, .. } => sink_error.with_source(source),
            _ => sink_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_are_classified() {
        for code in ["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "OOM"] {
            assert_eq!(classify_code(code), ReplyClass::Transient, "{code}");
        }
        for code in ["NOAUTH", "WRONGPASS", "NOPERM", "MOVED", "CROSSSLOT"] {
            assert_eq!(classify_code(code), ReplyClass::Fatal, "{code}");
        }
        assert_eq!(classify_code("NOSCRIPT"), ReplyClass::NoScript);
        assert_eq!(classify_code("WRONGTYPE"), ReplyClass::Permanent);
        assert_eq!(classify_code("ERR"), ReplyClass::Permanent);
        assert_eq!(classify_code("SLUICEDATA"), ReplyClass::Permanent);
    }

    #[test]
    fn request_errors_default_to_transient() {
        let io: RedisError = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused").into();
        assert_eq!(classify_request_error(&io), ErrorClass::Transient);
        let auth: RedisError = (ErrorKind::AuthenticationFailed, "bad password").into();
        assert_eq!(classify_request_error(&auth), ErrorClass::Fatal);
        let loading = redis::make_extension_error("LOADING".into(), None);
        assert_eq!(classify_request_error(&loading), ErrorClass::Transient);
        let wrongpass = redis::make_extension_error("WRONGPASS".into(), Some("invalid".into()));
        assert_eq!(classify_request_error(&wrongpass), ErrorClass::Fatal);
    }
}
