//! The Postgres dead-letter store: connection and parking.
//!
//! Letters are inserted with `ON CONFLICT DO NOTHING` on the record's unique
//! key `(topic, partition, offset, consumer_group, sink)`, in one statement per
//! batch, so parking again after a crash never duplicates (and never reopens
//! an entry that was resolved meanwhile). Any database error is transient for
//! the pipeline: the records stay unacknowledged and the pipeline retries with
//! back-pressure.
//!
//! The queries of the `sluice dlq` commands are in [`super::queries`] and
//! [`super::resolve`], the migrations in [`super::migrate`].

use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::entry::encode_headers;
use super::letter::{DeadLetter, DeadLetterStore, DlqError};

/// How long the store waits for a connection before an operation fails
/// (transiently, for the pipeline).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Postgres-backed [`DeadLetterStore`], also used by the `sluice dlq`
/// commands. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PostgresDeadLetters {
    pool: PgPool,
    schema: String,
}

/// `"ident"` with embedded quotes doubled.
pub(crate) fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl PostgresDeadLetters {
    /// Connects (lazily: the pool connects on first use, so an unreachable
    /// database shows up as transient park failures, not a start failure).
    pub fn connect_lazy(url: &str, password: Option<String>, schema: &str) -> Result<Self, DlqError> {
        let mut options: PgConnectOptions =
            url.parse().map_err(|e: sqlx::Error| DlqError::new(format!("invalid dlq.url: {e}")))?;
        if let Some(p) = password {
            options = options.password(&p);
        }
        options = options.application_name("sluice");
        let pool = PgPoolOptions::new().max_connections(4).acquire_timeout(ACQUIRE_TIMEOUT).connect_lazy_with(options);
        Ok(PostgresDeadLetters { pool, schema: schema.to_string() })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema holding sluice's tables (`dlq.schema`).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The quoted, schema-qualified dead-letter table.
    pub fn table(&self) -> String {
        format!("{}.dead_letters", quote_ident(&self.schema))
    }

    /// `error` as a [`DlqError`] whose message starts with `context`.
    pub(crate) fn error(context: impl std::fmt::Display, error: sqlx::Error) -> DlqError {
        DlqError { message: format!("{context}: {error}"), source: Some(Box::new(error)) }
    }
}

/// Postgres `text` and `jsonb` cannot hold NUL characters; an error message
/// quoting garbage input may contain some. They become U+FFFD so that parking
/// can never fail permanently (which would stall the stream). Raw bytes are
/// stored as `bytea` and stay exact.
pub(crate) fn pg_text(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

#[async_trait]
impl DeadLetterStore for PostgresDeadLetters {
    async fn park(&self, letters: &[DeadLetter]) -> Result<(), DlqError> {
        if letters.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {} (topic, partition_num, offset_value, consumer_group, sink, table_name, \
             error_class, error_message, raw_key, raw_value, headers, schema_id) \
             SELECT * FROM UNNEST($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::bytea[], $10::bytea[], $11::jsonb[], $12::int[]) \
             ON CONFLICT ON CONSTRAINT dead_letters_record_uniq DO NOTHING",
            self.table()
        );
        let headers: Vec<serde_json::Value> = letters
            .iter()
            .map(|l| {
                let named: Vec<(String, Option<Vec<u8>>)> =
                    l.headers.iter().map(|(k, v)| (pg_text(k), v.clone())).collect();
                encode_headers(&named)
            })
            .collect();
        sqlx::query(&sql)
            .bind(letters.iter().map(|l| l.topic.clone()).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| l.partition).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| l.offset).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| l.consumer_group.clone()).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| l.sink.clone()).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| l.table.as_deref().map(pg_text)).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| l.class.as_str().to_string()).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| pg_text(&l.message)).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| l.key.clone()).collect::<Vec<_>>())
            .bind(letters.iter().map(|l| l.value.clone()).collect::<Vec<_>>())
            .bind(headers)
            .bind(letters.iter().map(|l| l.schema_id).collect::<Vec<_>>())
            .execute(&self.pool)
            .await
            .map_err(|e| Self::error(format!("inserting {} dead letter(s)", letters.len()), e))?;
        Ok(())
    }
}
