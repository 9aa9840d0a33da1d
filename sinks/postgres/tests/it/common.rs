//! Shared test support: a fresh schema per test on the shared Postgres.

use std::sync::Arc;

use async_trait::async_trait;
use sluice_sink_api::conformance::StateReader;
use sluice_sink_api::{ChangeBatch, ChangeEvent, Row, Sink, TableId, Value};
use sluice_sink_postgres::{PostgresSink, PostgresSinkConfig};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row as _};

/// One test's world: a sink writing into a fresh schema, and a plain pool to look.
pub struct World {
    pub sink: Arc<PostgresSink>,
    pub pool: PgPool,
    pub schema: String,
}

pub fn fresh_name(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

pub async fn pool() -> PgPool {
    let url = sluice_testkit::pg_url();
    sluice_testkit::require("postgres", &url).await;
    PgPoolOptions::new().max_connections(2).connect(&url).await.expect("connect to the test postgres")
}

/// A config for a fresh schema `t_<random>` (sluice's tables in `<schema>_sluice`).
pub async fn config() -> PostgresSinkConfig {
    let url = sluice_testkit::pg_url();
    sluice_testkit::require("postgres", &url).await;
    let schema = fresh_name("t");
    let mut config = PostgresSinkConfig::new(url);
    config.sluice_schema = format!("{schema}_sluice");
    config.schema = schema;
    config.pool_size = 2;
    config
}

impl World {
    pub async fn new() -> World {
        World::with(config().await).await
    }

    pub async fn with(config: PostgresSinkConfig) -> World {
        let schema = config.schema.clone();
        let sink = PostgresSink::new("pg-test", config).expect("valid config");
        sink.startup().await.expect("startup");
        World { sink: Arc::new(sink), pool: pool().await, schema }
    }

    pub async fn apply(&self, events: Vec<ChangeEvent>) -> sluice_sink_api::ApplyReport {
        self.sink.apply(&ChangeBatch::from_events(events)).await.expect("apply")
    }

    /// `"schema"."table"`.
    pub fn table(&self, name: &str) -> String {
        sluice_sink_postgres::ident::qualified(&self.schema, name)
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {}", self.table(table)))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// Rows of `table` as `id -> name` (ids as i64), ordered.
    pub async fn names(&self, table: &str) -> Vec<(i64, Option<String>)> {
        sqlx::query(&format!("SELECT id::int8, name FROM {} ORDER BY id", self.table(table)))
            .fetch_all(&self.pool)
            .await
            .expect("read rows")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    pub async fn cleanup(self) {
        let _ = self.sink.shutdown().await;
        for schema in [self.schema.clone(), format!("{}_sluice", self.schema)] {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&self.pool).await.ok();
        }
    }
}

/// Reads rows back for the conformance suite: `id`, `name`, `note`.
pub struct Reader {
    pub pool: PgPool,
    pub schema: String,
    /// Soft-delete mode: rows flagged deleted read as absent.
    pub soft_delete_column: Option<String>,
}

#[async_trait]
impl StateReader for Reader {
    async fn read(&self, table: &TableId, key: &Row) -> Result<Option<Row>, String> {
        let id = match key.get("id") {
            Some(Value::Int(i)) => *i,
            other => return Err(format!("unexpected key {other:?}")),
        };
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)",
        )
        .bind(&self.schema)
        .bind(&table.table)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| e.to_string())?;
        if !exists {
            return Ok(None);
        }
        let filter = match &self.soft_delete_column {
            Some(c) => format!(" AND NOT \"{c}\""),
            None => String::new(),
        };
        let sql = format!(
            "SELECT id::int8, name, note FROM {} WHERE id = $1{filter}",
            sluice_sink_postgres::ident::qualified(&self.schema, &table.table)
        );
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(|e| e.to_string())?;
        Ok(row.map(|r| {
            let mut out = Row::new().with("id", r.get::<i64, _>(0));
            if let Some(name) = r.get::<Option<String>, _>(1) {
                out.insert("name", Value::Text(name));
            }
            if let Some(note) = r.get::<Option<String>, _>(2) {
                out.insert("note", Value::Text(note));
            }
            out
        }))
    }
}
