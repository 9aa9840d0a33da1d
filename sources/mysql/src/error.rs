//! The source's error type and its classification.
//!
//! Every error is [`ErrorClass::Transient`] (the server or a store is
//! unreachable: reconnect and resume from the last fully processed
//! transaction), [`ErrorClass::Permanent`] (one record cannot be decoded) or
//! [`ErrorClass::Fatal`] (misconfiguration, a server without row binlog, a
//! position that no longer exists: stop and tell the operator).

use sluice_sink_api::{ErrorClass, RejectKind, SinkError};

/// An error of the MySQL/MariaDB source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The server's configuration cannot feed a row-based CDC stream. The
    /// message names every offending setting and the value found.
    #[error("the MySQL/MariaDB server is not configured for row-based CDC: {0}")]
    ServerSettings(String),
    /// The configuration is invalid (the message names the field).
    #[error("invalid MySQL source configuration: {0}")]
    Config(String),
    /// Connection or protocol failure talking to the server (retried).
    #[error("MySQL connection error: {message}")]
    Connection {
        message: String,
        #[source]
        source: Option<mysql_async::Error>,
    },
    /// A query failed for a reason that retrying will not fix (privileges, syntax).
    #[error("MySQL query failed: {message}")]
    Query {
        message: String,
        #[source]
        source: Option<mysql_async::Error>,
    },
    /// A binlog event could not be decoded. Names the file/position.
    #[error("cannot decode binlog event at {file}:{pos}: {message}")]
    Decode { file: String, pos: u64, message: String },
    /// The requested binlog position or GTID is no longer on the server.
    #[error("binlog position unavailable: {0}")]
    PositionLost(String),
    /// The Postgres position/schema store failed.
    #[error("position store error: {message}")]
    Store {
        message: String,
        #[source]
        source: Option<sqlx::Error>,
    },
    /// Kafka production failed.
    #[error("Kafka error: {message}")]
    Kafka { message: String, transient: bool },
    /// The Schema Registry of the Avro output failed: unavailable (transient,
    /// already retried for `unavailable_retry`) or refusing a schema (fatal).
    #[error("Schema Registry error: {message}")]
    Registry { message: String, transient: bool },
    /// A record could not be converted to Avro (a bug: the message names the record).
    #[error("Avro encoding error: {0}")]
    Avro(String),
    /// The consumer of the stream (a callback) failed.
    #[error("downstream error: {0}")]
    Downstream(#[from] SinkError),
}

/// Shorthand result type.
pub type Result<T, E = SourceError> = std::result::Result<T, E>;

impl SourceError {
    /// The class that decides what the caller does: retry, dead-letter, or stop.
    pub fn class(&self) -> ErrorClass {
        match self {
            SourceError::ServerSettings(_) | SourceError::Config(_) | SourceError::PositionLost(_) => ErrorClass::Fatal,
            SourceError::Connection { .. } => ErrorClass::Transient,
            SourceError::Query { .. } => ErrorClass::Fatal,
            SourceError::Decode { .. } => ErrorClass::Permanent,
            SourceError::Store { .. } => ErrorClass::Transient,
            SourceError::Avro(_) => ErrorClass::Fatal,
            SourceError::Kafka { transient, .. } | SourceError::Registry { transient, .. } => {
                if *transient {
                    ErrorClass::Transient
                } else {
                    ErrorClass::Fatal
                }
            }
            SourceError::Downstream(e) => e.class,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// Classifies a `mysql_async` error: I/O and connection drops are
    /// transient; a server error is fatal unless it is a known transient code
    /// (lock wait timeout, too many connections, server shutdown).
    pub fn from_mysql(context: &str, error: mysql_async::Error) -> Self {
        let transient = match &error {
            mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
            mysql_async::Error::Server(server) => {
                // 1040 too many connections, 1053 shutdown, 1205 lock wait, 1213 deadlock,
                // 2013 lost connection, 1927 connection killed, 1317 query interrupted
                matches!(server.code, 1040 | 1053 | 1205 | 1213 | 1317 | 1927 | 2006 | 2013)
            }
            _ => false,
        };
        let lost = matches!(&error, mysql_async::Error::Server(s) if s.code == 1236);
        let message = format!("{context}: {error}");
        if lost {
            SourceError::PositionLost(message)
        } else if transient {
            SourceError::Connection { message, source: Some(error) }
        } else {
            SourceError::Query { message, source: Some(error) }
        }
    }

    /// Wraps a Postgres store error (transient when the database is unreachable).
    pub fn from_store(context: &str, error: sqlx::Error) -> Self {
        SourceError::Store { message: format!("{context}: {error}"), source: Some(error) }
    }

    /// Converts into the engine's [`SinkError`] vocabulary.
    pub fn into_sink_error(self) -> SinkError {
        match self {
            SourceError::Downstream(e) => e,
            other => {
                let message = other.to_string();
                match other.class() {
                    ErrorClass::Transient => SinkError::transient(message),
                    ErrorClass::Permanent => SinkError::permanent(RejectKind::Decode, message),
                    ErrorClass::Fatal => SinkError::fatal(message),
                }
            }
        }
    }
}
