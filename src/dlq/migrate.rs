//! sluice's own schema and its migrations (sqlx, embedded in the binary).
//!
//! # Contract
//!
//! * Everything lands in the configured schema (`dlq.schema`, default
//!   `sluice`), `_sqlx_migrations` included: the migrations run on a
//!   dedicated connection whose `search_path` is that schema alone, and their
//!   SQL uses unqualified names. Several pipelines with different schemas can
//!   share one database.
//! * Concurrent runs are safe: a session advisory lock (one per schema) is
//!   held around `CREATE SCHEMA` and the migrator, which itself holds sqlx's
//!   database-wide advisory lock while it applies migrations.
//! * Re-running is a no-op; each migration runs once, in a transaction, and
//!   applied migrations are checked against their checksums. Migrations a
//!   newer sluice applied are tolerated (`ignore_missing`), so an older
//!   binary keeps working after an additive upgrade.
//! * Runs automatically at the start of `sluice run`, and on demand with
//!   `sluice migrate -c FILE`.

use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection};

use super::letter::DlqError;
use super::store::{PostgresDeadLetters, quote_ident};

/// The migrations embedded in this binary (`migrations/*.sql`).
///
/// New migration files are picked up when this module is recompiled
/// (`touch src/dlq/migrate.rs` after adding one in a warm build directory).
pub fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
}

/// What a migration run found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub schema: String,
    /// Versions applied by this run, with their descriptions.
    pub applied_now: Vec<(i64, String)>,
    /// The highest version applied in the schema after the run.
    pub version: Option<i64>,
}

/// The advisory lock key of one schema's migrations (namespaced by a constant
/// so it cannot collide with other users of `hashtext` locks by accident).
const LOCK_SQL: &str = "SELECT pg_advisory_lock(hashtextextended('sluice.migrate:' || $1, 0))";
const UNLOCK_SQL: &str = "SELECT pg_advisory_unlock(hashtextextended('sluice.migrate:' || $1, 0))";

impl PostgresDeadLetters {
    /// Creates the schema if needed and applies pending migrations in it.
    /// See the module contract.
    pub async fn migrate(&self) -> Result<MigrationReport, DlqError> {
        let options = self.pool().connect_options();
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(|e| PostgresDeadLetters::error("connecting to the dead-letter database", e))?;
        let result = self.migrate_on(&mut conn).await;
        // The connection is dedicated: closing it also drops the session lock
        // and the search_path, whatever happened.
        let _ = conn.close().await;
        result
    }

    async fn migrate_on(&self, conn: &mut PgConnection) -> Result<MigrationReport, DlqError> {
        let schema = self.schema();
        let quoted = quote_ident(schema);
        let err = |what: &str, e: sqlx::Error| PostgresDeadLetters::error(format!("{what} (schema {schema})"), e);
        sqlx::query(LOCK_SQL)
            .bind(schema)
            .execute(&mut *conn)
            .await
            .map_err(|e| err("taking the migration lock", e))?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
            .execute(&mut *conn)
            .await
            .map_err(|e| err("creating the schema", e))?;
        sqlx::query(&format!("SET search_path TO {quoted}"))
            .execute(&mut *conn)
            .await
            .map_err(|e| err("setting search_path", e))?;
        let before = applied_versions(conn).await.map_err(|e| err("reading _sqlx_migrations", e))?;
        let migrator = migrator();
        migrator.run_direct(&mut *conn).await.map_err(|e| DlqError {
            message: format!("running sluice's migrations in schema {schema}: {e}"),
            source: Some(Box::new(e)),
        })?;
        let after = applied_versions(conn).await.map_err(|e| err("reading _sqlx_migrations", e))?;
        sqlx::query(UNLOCK_SQL).bind(schema).execute(&mut *conn).await.map_err(|e| err("releasing the lock", e))?;
        let applied_now = migrator
            .iter()
            .filter(|m| after.contains(&m.version) && !before.contains(&m.version))
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        Ok(MigrationReport { schema: schema.to_string(), applied_now, version: after.iter().copied().max() })
    }
}

/// Successfully applied versions, empty when `_sqlx_migrations` does not exist yet.
async fn applied_versions(conn: &mut PgConnection) -> Result<Vec<i64>, sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&mut *conn).await?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut *conn)
        .await
}
