//! The Postgres store of the source: positions (`source_offsets`, modelled on
//! Debezium's connector offsets), snapshot progress and schema history.
//!
//! # Contract
//!
//! * [`OffsetStore::save`] never moves a stored position backwards: a write
//!   older than the stored one (a replay, a zombie) is ignored.
//! * Callers save a position only after everything before it is durable
//!   downstream (Kafka acknowledged, or the sink committed).
//! * Identifiers (the schema name) are quoted; values are always bound.

use serde_json::Value as Json;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::StoreConfig;
use crate::error::{Result, SourceError};
use crate::position::BinlogPosition;
use crate::schema::SchemaChange;

fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Snapshot progress of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableProgress {
    pub database: String,
    pub table: String,
    pub done: bool,
    /// Canonical JSON of the last primary key read (keyset pagination).
    pub last_key: Option<Json>,
    pub rows: i64,
}

/// The snapshot's overall state.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotState {
    /// Position of the first snapshot epoch: streaming starts here.
    pub first_position: BinlogPosition,
    pub completed: bool,
    /// Counts the fresh snapshots of this source (1 for the first).
    pub generation: i64,
    pub tables: Vec<TableProgress>,
}

/// Positions, snapshot progress and schema history in Postgres.
#[derive(Debug, Clone)]
pub struct OffsetStore {
    pool: PgPool,
    schema: String,
    owner: String,
}

fn st(context: &'static str) -> impl Fn(sqlx::Error) -> SourceError {
    move |e| SourceError::from_store(context, e)
}

impl OffsetStore {
    /// Connects and creates the tables if needed. `owner` is the source name.
    pub async fn connect(config: &StoreConfig, owner: &str) -> Result<Self> {
        let mut options: PgConnectOptions =
            config.url.parse().map_err(|e| SourceError::Config(format!("store.url: {e}")))?;
        if let Some(secret) = &config.password {
            options =
                options.password(&secret.expose().map_err(|e| SourceError::Config(format!("store.password: {e}")))?);
        }
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(st("connecting to the store"))?;
        let store = OffsetStore { pool, schema: config.schema.clone(), owner: owner.to_string() };
        store.migrate().await?;
        Ok(store)
    }

    fn t(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(table))
    }

    async fn migrate(&self) -> Result<()> {
        let statements = [
            format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&self.schema)),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (connector_name text PRIMARY KEY, offset_value jsonb NOT NULL, \
                 position_order numeric NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())",
                self.t("source_offsets")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (connector_name text PRIMARY KEY, first_position jsonb NOT NULL, \
                 started_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz)",
                self.t("source_snapshot")
            ),
            format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT 1",
                self.t("source_snapshot")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (connector_name text NOT NULL, table_db text NOT NULL, table_name text NOT NULL, \
                 done boolean NOT NULL DEFAULT false, last_key jsonb, rows_read bigint NOT NULL DEFAULT 0, \
                 updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (connector_name, table_db, table_name))",
                self.t("source_snapshot_tables")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (connector_name text NOT NULL, file text NOT NULL, pos bigint NOT NULL, \
                 gtid text, ts timestamptz NOT NULL, database_name text NOT NULL, ddl text NOT NULL, tables jsonb NOT NULL, \
                 recorded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (connector_name, file, pos))",
                self.t("source_schema_history")
            ),
        ];
        for sql in statements {
            // Concurrent first starts may race on CREATE: retry once.
            if sqlx::query(&sql).execute(&self.pool).await.is_err() {
                sqlx::query(&sql).execute(&self.pool).await.map_err(st("creating store tables"))?;
            }
        }
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The stored position to resume from.
    pub async fn load(&self) -> Result<Option<BinlogPosition>> {
        let row =
            sqlx::query(&format!("SELECT offset_value FROM {} WHERE connector_name = $1", self.t("source_offsets")))
                .bind(&self.owner)
                .fetch_optional(&self.pool)
                .await
                .map_err(st("loading the source position"))?;
        row.map(|r| {
            let v: Json = r.get(0);
            serde_json::from_value(v).map_err(|e| SourceError::Config(format!("stored position is invalid: {e}")))
        })
        .transpose()
    }

    /// Stores `position` unless a later one is stored already.
    pub async fn save(&self, position: &BinlogPosition) -> Result<()> {
        let value = serde_json::to_value(position).map_err(|e| SourceError::Config(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO {t} (connector_name, offset_value, position_order) VALUES ($1, $2, $3::numeric) \
             ON CONFLICT (connector_name) DO UPDATE SET offset_value = EXCLUDED.offset_value, \
             position_order = EXCLUDED.position_order, updated_at = now() \
             WHERE {t}.position_order <= EXCLUDED.position_order",
            t = self.t("source_offsets")
        ))
        .bind(&self.owner)
        .bind(value)
        .bind(position.order_key().to_string())
        .execute(&self.pool)
        .await
        .map_err(st("saving the source position"))?;
        Ok(())
    }

    /// The snapshot state, if a snapshot was ever started.
    pub async fn snapshot_state(&self) -> Result<Option<SnapshotState>> {
        let row = sqlx::query(&format!(
            "SELECT first_position, completed_at IS NOT NULL, generation FROM {} WHERE connector_name = $1",
            self.t("source_snapshot")
        ))
        .bind(&self.owner)
        .fetch_optional(&self.pool)
        .await
        .map_err(st("loading the snapshot state"))?;
        let Some(row) = row else { return Ok(None) };
        let first: Json = row.get(0);
        let first_position = serde_json::from_value(first).map_err(|e| SourceError::Config(e.to_string()))?;
        let rows = sqlx::query(&format!(
            "SELECT table_db, table_name, done, last_key, rows_read FROM {} WHERE connector_name = $1 ORDER BY table_db, table_name",
            self.t("source_snapshot_tables")
        ))
        .bind(&self.owner)
        .fetch_all(&self.pool)
        .await
        .map_err(st("loading snapshot progress"))?;
        let tables = rows
            .into_iter()
            .map(|r| TableProgress {
                database: r.get(0),
                table: r.get(1),
                done: r.get(2),
                last_key: r.get(3),
                rows: r.get(4),
            })
            .collect();
        Ok(Some(SnapshotState { first_position, completed: row.get(1), generation: row.get(2), tables }))
    }

    /// Starts a snapshot (first epoch at `position`) over `tables`; returns
    /// its generation (1 for the first snapshot of this source, then +1).
    pub async fn begin_snapshot(&self, position: &BinlogPosition, tables: &[(String, String)]) -> Result<i64> {
        let mut tx = self.pool.begin().await.map_err(st("starting the snapshot state"))?;
        sqlx::query(&format!("DELETE FROM {} WHERE connector_name = $1", self.t("source_snapshot_tables")))
            .bind(&self.owner)
            .execute(&mut *tx)
            .await
            .map_err(st("resetting snapshot progress"))?;
        let generation: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO {t} AS s (connector_name, first_position) VALUES ($1, $2) ON CONFLICT (connector_name) \
             DO UPDATE SET first_position = EXCLUDED.first_position, started_at = now(), completed_at = NULL, \
             generation = s.generation + 1 RETURNING generation",
            t = self.t("source_snapshot")
        ))
        .bind(&self.owner)
        .bind(serde_json::to_value(position).map_err(|e| SourceError::Config(e.to_string()))?)
        .fetch_one(&mut *tx)
        .await
        .map_err(st("recording the snapshot start"))?;
        for (db, table) in tables {
            sqlx::query(&format!(
                "INSERT INTO {} (connector_name, table_db, table_name) VALUES ($1, $2, $3)",
                self.t("source_snapshot_tables")
            ))
            .bind(&self.owner)
            .bind(db)
            .bind(table)
            .execute(&mut *tx)
            .await
            .map_err(st("recording snapshot tables"))?;
        }
        tx.commit().await.map_err(st("committing the snapshot start"))?;
        Ok(generation)
    }

    /// Records a delivered chunk of `database.table`.
    pub async fn save_chunk(
        &self,
        database: &str,
        table: &str,
        last_key: Option<&Json>,
        rows: i64,
        done: bool,
    ) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE {} SET last_key = COALESCE($4, last_key), rows_read = rows_read + $5, done = $6, updated_at = now() \
             WHERE connector_name = $1 AND table_db = $2 AND table_name = $3",
            self.t("source_snapshot_tables")
        ))
        .bind(&self.owner)
        .bind(database)
        .bind(table)
        .bind(last_key)
        .bind(rows)
        .bind(done)
        .execute(&self.pool)
        .await
        .map_err(st("saving snapshot progress"))?;
        Ok(())
    }

    /// Marks the snapshot complete.
    pub async fn complete_snapshot(&self) -> Result<()> {
        sqlx::query(&format!(
            "UPDATE {} SET completed_at = now() WHERE connector_name = $1",
            self.t("source_snapshot")
        ))
        .bind(&self.owner)
        .execute(&self.pool)
        .await
        .map_err(st("completing the snapshot"))?;
        Ok(())
    }

    /// Appends a DDL statement to the persisted schema history (idempotent by position).
    pub async fn record_schema_change(&self, change: &SchemaChange) -> Result<()> {
        let tables: Vec<String> = change.tables.iter().map(|t| t.qualified()).collect();
        sqlx::query(&format!(
            "INSERT INTO {} (connector_name, file, pos, gtid, ts, database_name, ddl, tables) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            self.t("source_schema_history")
        ))
        .bind(&self.owner)
        .bind(&change.file)
        .bind(change.pos as i64)
        .bind(&change.gtid)
        .bind(change.ts)
        .bind(&change.database)
        .bind(&change.ddl)
        .bind(serde_json::json!(tables))
        .execute(&self.pool)
        .await
        .map_err(st("recording the schema history"))?;
        Ok(())
    }

    /// The persisted DDL statements, oldest first: `(file, pos, database, ddl)`.
    pub async fn schema_history(&self) -> Result<Vec<(String, i64, String, String)>> {
        let rows = sqlx::query(&format!(
            "SELECT file, pos, database_name, ddl FROM {} WHERE connector_name = $1 ORDER BY file, pos",
            self.t("source_schema_history")
        ))
        .bind(&self.owner)
        .fetch_all(&self.pool)
        .await
        .map_err(st("reading the schema history"))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }
}
