//! The connection pool and the one place that classifies Postgres errors.
//!
//! | failure | class |
//! |---|---|
//! | connection lost / refused, I/O, TLS, pool timeout, protocol | Transient |
//! | `40001` serialization failure, `40P01` deadlock, `55P03` lock not available | Transient |
//! | `57014` statement timeout / cancel, `57P01..03` shutdown / starting up | Transient |
//! | `53xxx` insufficient resources (incl. `53300` too many connections), `08xxx` | Transient |
//! | `23xxx` integrity constraint violation | Permanent (`constraint`) for the record |
//! | `22xxx` data exception, `42804` datatype mismatch | Permanent (`data_type`) for the record |
//! | `42P01` undefined table, `42703` undefined column | Transient when auto-create/evolve can fix it on retry, else Permanent (`schema`) |
//! | `42501` insufficient privilege, `28xxx` authentication, `3D000` no such database | Fatal |
//! | `42601` syntax error, `42883` undefined function (a sluice bug) | Fatal |
//! | anything else | Transient (retried with backoff, visible in logs; never dead-lettered) |

use std::str::FromStr;

use sluice_sink_api::{ErrorClass, RejectKind, SinkError};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgPool, PgPoolOptions};

use crate::config::PostgresSinkConfig;

/// Builds the bounded pool without connecting (connections open on demand).
pub fn build_pool(config: &PostgresSinkConfig) -> Result<PgPool, SinkError> {
    let mut options = PgConnectOptions::from_str(&config.url)
        .map_err(|e| SinkError::fatal(format!("invalid postgres url {}: {e}", config.redacted_url())))?;
    if let Some(password) = &config.password {
        let password = password.expose().map_err(|e| SinkError::fatal(format!("postgres password: {e}")))?;
        options = options.password(&password);
    }
    let timeout_ms = config.statement_timeout.as_millis().to_string();
    options = options.application_name("sluice").options([
        ("statement_timeout", timeout_ms.as_str()),
        ("lock_timeout", timeout_ms.as_str()),
        // the batch statements unnest array parameters: a custom plan sees the
        // array lengths (rows), a generic plan would assume a handful of rows
        ("plan_cache_mode", "force_custom_plan"),
    ]);
    Ok(PgPoolOptions::new()
        .max_connections(config.pool_size)
        .min_connections(0)
        .acquire_timeout(config.connect_timeout)
        .test_before_acquire(true)
        .connect_lazy_with(options))
}

/// What Postgres said about a failed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub class: ErrorClass,
    pub kind: RejectKind,
    pub code: Option<String>,
    pub message: String,
    pub column: Option<String>,
    pub constraint: Option<String>,
}

/// Classifies a sqlx error (see the module table).
pub fn classify(err: &sqlx::Error) -> Classified {
    use sqlx::Error as E;
    let plain = |class| Classified {
        class,
        kind: RejectKind::Other,
        code: None,
        message: err.to_string(),
        column: None,
        constraint: None,
    };
    match err {
        E::Database(db) => {
            let pg = db.try_downcast_ref::<PgDatabaseError>();
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let (class, kind) = classify_code(&code);
            let mut message = db.message().to_string();
            if let Some(detail) = pg.and_then(|p| p.detail()) {
                message.push_str(": ");
                message.push_str(detail);
            }
            Classified {
                class,
                kind,
                message: format!("{message} (SQLSTATE {code})"),
                code: Some(code),
                column: pg.and_then(|p| p.column()).map(str::to_string),
                constraint: pg.and_then(|p| p.constraint()).map(str::to_string),
            }
        }
        E::Configuration(_) | E::InvalidArgument(_) => plain(ErrorClass::Fatal),
        // Io, Tls, Protocol, PoolTimedOut, PoolClosed, WorkerCrashed, decode of a
        // reply: the connection or the server is in trouble, not the record.
        _ => plain(ErrorClass::Transient),
    }
}

/// The class and reject kind of a SQLSTATE.
pub fn classify_code(code: &str) -> (ErrorClass, RejectKind) {
    use ErrorClass::*;
    match code {
        "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03" | "55006" => (Transient, RejectKind::Other),
        "42804" => (Permanent, RejectKind::DataType),
        "42P01" | "42703" => (Permanent, RejectKind::Schema),
        "42501" | "3D000" | "42601" | "42883" => (Fatal, RejectKind::Other),
        c if c.starts_with("23") => (Permanent, RejectKind::Constraint),
        c if c.starts_with("22") => (Permanent, RejectKind::DataType),
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("58") => (Transient, RejectKind::Other),
        c if c.starts_with("28") => (Fatal, RejectKind::Other),
        _ => (Transient, RejectKind::Other),
    }
}

/// A [`SinkError`] for a failed operation, with `context` saying what sluice was doing.
pub fn sink_error(context: &str, err: sqlx::Error) -> SinkError {
    let c = classify(&err);
    let message = format!("{context}: {}", c.message);
    let base = match c.class {
        ErrorClass::Transient => SinkError::transient(message),
        ErrorClass::Permanent => SinkError::permanent(c.kind, message),
        ErrorClass::Fatal => SinkError::fatal(message),
    };
    base.with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(classify_code("40001").0, ErrorClass::Transient);
        assert_eq!(classify_code("40P01").0, ErrorClass::Transient);
        assert_eq!(classify_code("53300").0, ErrorClass::Transient);
        assert_eq!(classify_code("57P01").0, ErrorClass::Transient);
        assert_eq!(classify_code("23505"), (ErrorClass::Permanent, RejectKind::Constraint));
        assert_eq!(classify_code("22001"), (ErrorClass::Permanent, RejectKind::DataType));
        assert_eq!(classify_code("42501").0, ErrorClass::Fatal);
        assert_eq!(classify(&sqlx::Error::PoolTimedOut).class, ErrorClass::Transient);
    }
}
