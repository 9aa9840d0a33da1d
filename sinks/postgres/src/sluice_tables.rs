//! sluice's own tables in the `sluice_schema` (default `sluice`):
//!
//! * `tombstones(table_name, key, version, deleted_at)` — versioned deletes
//!   (hard delete mode), garbage-collected after `tombstone_retention`;
//! * `table_state(table_name, truncated_version, truncated_at,
//!   quarantine_reason, quarantined_at, source_types)` — per target table: the
//!   version of the last applied truncate, the quarantine (see
//!   `docs/postgres-sink.md` to clear it) and the source column types last
//!   seen (to tell a source narrowing);
//! * `offsets(owner, stream, partition, next_offset, detail, epoch, updated_at)`
//!   — checkpoints written in the same transaction as the data.
//!
//! They are created at startup with `IF NOT EXISTS`, under a transaction-level
//! advisory lock so that several sinks starting at once do not race.

use sqlx::PgConnection;

use crate::ident::{qualified, quote};

/// Names of sluice's tables, quoted, for one sluice schema.
#[derive(Debug, Clone)]
pub struct SluiceTables {
    pub schema: String,
    pub tombstones: String,
    pub table_state: String,
    pub offsets: String,
}

impl SluiceTables {
    pub fn new(schema: &str) -> Self {
        SluiceTables {
            schema: schema.to_string(),
            tombstones: qualified(schema, "tombstones"),
            table_state: qualified(schema, "table_state"),
            offsets: qualified(schema, "offsets"),
        }
    }

    /// Creates the schema and tables if missing.
    pub async fn create(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let statements = [
            format!("CREATE SCHEMA IF NOT EXISTS {}", quote(&self.schema)),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (
                    table_name text NOT NULL,
                    key text NOT NULL,
                    version numeric NOT NULL,
                    deleted_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (table_name, key))",
                self.tombstones
            ),
            format!("CREATE INDEX IF NOT EXISTS tombstones_deleted_at ON {} (deleted_at)", self.tombstones),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (
                    table_name text PRIMARY KEY,
                    truncated_version numeric,
                    truncated_at timestamptz,
                    quarantine_reason text,
                    quarantined_at timestamptz,
                    source_types jsonb)",
                self.table_state
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (
                    owner text NOT NULL,
                    stream text NOT NULL,
                    partition integer NOT NULL,
                    next_offset bigint NOT NULL,
                    detail text,
                    epoch bigint NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (owner, stream, partition))",
                self.offsets
            ),
        ];
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("sluice bootstrap {}", self.schema))
            .execute(&mut *tx)
            .await?;
        for sql in statements {
            sqlx::query(&sql).execute(&mut *tx).await?;
        }
        tx.commit().await
    }
}
