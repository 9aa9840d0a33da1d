//! [`PostgresSink`]: the [`Sink`] implementation.
//!
//! One `apply`:
//! 1. groups the batch's events by target table;
//! 2. makes every table ready (create / evolve / quarantine, see [`crate::schema`]),
//!    each in its own committed DDL transaction; events of quarantined tables
//!    are rejected with class `schema`;
//! 3. compacts each table's events ([`crate::plan`]); records that cannot be
//!    written (no key, a value that does not fit its column) are rejected
//!    with table, column and origin;
//! 4. writes everything in ONE transaction (the checkpoint first, when the
//!    batch carries one), one statement per table and kind, and commits;
//! 5. on a permanent error (constraint, data exception) rolls back and
//!    bisects inside one new transaction with savepoints ([`crate::bisect`]):
//!    by units (source transactions), then by event inside the failing unit,
//!    so only the poison record is rejected and every source transaction's
//!    other changes still commit together.
//!
//! Transient errors (connection loss, deadlock, serialization, timeouts)
//! return `Err(Transient)` with nothing committed; fatal ones (permission,
//! fencing) `Err(Fatal)`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use parking_lot::Mutex;
use sluice_sink_api::{
    ApplyReport, Capabilities, ChangeBatch, ChangeEvent, Checkpoint, ErrorClass, Problems, RejectKind, Rejection, Sink,
    SinkError, TableId,
};
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::client::{build_pool, classify, sink_error};
use crate::config::{DeleteMode, PostgresSinkConfig};
use crate::exec::{Counts, Failure, StatementError};
use crate::ident::pg_name;
use crate::mapping::TableMapping;
use crate::metrics as m;
use crate::plan::{self, TablePlan};
use crate::schema::{Readiness, SchemaManager, SchemaSettings, TableInfo, TableNeeds};
use crate::sluice_tables::SluiceTables;
use crate::upsert_sql::{SqlColumn, TableSql};

/// The Postgres sink. See the module and crate docs for the contract.
#[derive(Debug)]
pub struct PostgresSink {
    name: String,
    config: PostgresSinkConfig,
    pool: PgPool,
    schema: SchemaManager,
    tables: SluiceTables,
    mappings: Mutex<HashMap<TableId, Arc<TableMapping>>>,
    postgis: AtomicBool,
    gc_task: Mutex<Option<JoinHandle<()>>>,
    write_path: crate::exec::WritePath,
}

/// A table of the batch that can be written.
#[derive(Debug)]
pub(crate) struct ReadyTable {
    pub mapping: Arc<TableMapping>,
    pub info: Arc<TableInfo>,
    pub sql: TableSql,
    pub key: Vec<String>,
}

/// What one `apply` works with.
#[derive(Debug)]
pub(crate) struct BatchCtx<'b> {
    pub batch: &'b ChangeBatch,
    pub tables: Vec<ReadyTable>,
    /// Per event: the index of its ready table, or `None` once rejected.
    pub table_of: Vec<Option<usize>>,
}

/// A failed write, classified.
#[derive(Debug)]
pub(crate) struct WriteError {
    pub class: ErrorClass,
    pub kind: RejectKind,
    pub message: String,
    pub source: Option<sqlx::Error>,
}

impl WriteError {
    pub fn into_sink_error(self) -> SinkError {
        let mut error = match self.class {
            ErrorClass::Transient => SinkError::transient(self.message),
            ErrorClass::Permanent => SinkError::permanent(self.kind, self.message),
            ErrorClass::Fatal => SinkError::fatal(self.message),
        };
        if let Some(source) = self.source {
            error = error.with_source(source);
        }
        error
    }
}

/// Per ready-table counts of a write.
pub(crate) type TableCounts = HashMap<usize, Counts>;

impl PostgresSink {
    /// Validates `config` and builds the sink; no connection is opened
    /// before [`Sink::startup`]. An invalid config is a Fatal error listing
    /// every problem.
    pub fn new(name: impl Into<String>, config: PostgresSinkConfig) -> Result<Self, SinkError> {
        let name = name.into();
        let mut problems = Problems::default();
        config.validate(&format!("sink.{name}"), &mut problems);
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(SinkError::fatal(format!("invalid postgres sink config: {}", list.join("; "))));
        }
        let pool = build_pool(&config)?;
        let settings = SchemaSettings::new(&config);
        let tables = settings.tables.clone();
        Ok(PostgresSink {
            name,
            pool,
            schema: SchemaManager::new(settings),
            tables,
            mappings: Mutex::new(HashMap::new()),
            postgis: AtomicBool::new(false),
            gc_task: Mutex::new(None),
            write_path: crate::exec::WritePath::default(),
            config,
        })
    }

    /// Forces how rows reach the server (default [`WritePath::Arrays`]; [`WritePath::Auto`]: binary
    /// `COPY` for large rounds, bound arrays for small ones). For tests and
    /// benchmarks; both paths write exactly the same.
    ///
    /// [`WritePath::Auto`]: crate::WritePath::Auto
    /// [`WritePath::Arrays`]: crate::WritePath::Arrays
    pub fn with_write_path(mut self, path: crate::exec::WritePath) -> Self {
        self.write_path = path;
        self
    }

    pub fn config(&self) -> &PostgresSinkConfig {
        &self.config
    }

    /// The connection pool (for tools and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs tombstone garbage collection now; returns how many were removed.
    pub async fn collect_tombstones(&self) -> Result<u64, SinkError> {
        crate::tombstones::collect(&self.pool, &self.tables.tombstones, self.config.tombstone_retention).await
    }

    fn mapping(&self, table: &TableId) -> Arc<TableMapping> {
        let mut mappings = self.mappings.lock();
        mappings.entry(table.clone()).or_insert_with(|| Arc::new(TableMapping::resolve(&self.config, table))).clone()
    }

    fn table_sql(&self, mapping: &TableMapping, info: &TableInfo, key: &[String]) -> TableSql {
        let settings = self.schema.settings();
        TableSql {
            table: mapping.qualified.clone(),
            key: key
                .iter()
                .map(|k| SqlColumn {
                    name: k.clone(),
                    ty: info.column(k).map(|c| c.ty.clone()).unwrap_or(crate::pg_type::PgType::Text),
                })
                .collect(),
            version: settings.version_column.clone(),
            soft_delete: settings.soft_delete_column.clone(),
            tombstones: (self.config.delete_mode == DeleteMode::Hard).then(|| self.tables.tombstones.clone()),
            table_state: self.tables.table_state.clone(),
        }
    }

    /// Schema phase: ready tables, and rejections for events of tables that are not.
    async fn prepare<'b>(&self, batch: &'b ChangeBatch, report: &mut ApplyReport) -> Result<BatchCtx<'b>, SinkError> {
        let mut order: Vec<(Arc<TableMapping>, Vec<usize>)> = Vec::new();
        let mut slot: HashMap<&TableId, usize> = HashMap::new();
        for (index, event) in batch.events.iter().enumerate() {
            let i = *slot.entry(&event.table).or_insert_with(|| {
                order.push((self.mapping(&event.table), Vec::new()));
                order.len() - 1
            });
            order[i].1.push(index);
        }
        // a stable table order: concurrent sinks lock tables in the same order
        order.sort_by(|a, b| a.0.state_key.cmp(&b.0.state_key));
        let mut ctx = BatchCtx { batch, tables: Vec::new(), table_of: vec![None; batch.len()] };
        let postgis = self.postgis.load(Ordering::Relaxed);
        for (mapping, indices) in order {
            let events: Vec<&ChangeEvent> = indices.iter().map(|i| &batch.events[*i]).collect();
            let needs = TableNeeds::collect(&mapping, &events, postgis);
            let readiness = self.schema.prepare(&self.pool, &mapping, &needs).await?;
            match readiness {
                Readiness::Absent => {
                    for i in indices {
                        let event = &batch.events[i];
                        if event.op == sluice_sink_api::Op::Truncate {
                            report.applied += 1;
                        } else {
                            report.rejected.push(Rejection {
                                index: i,
                                kind: RejectKind::Key,
                                message: format!(
                                    "table {}: the record has no key, but the table needs one (configure key_mode \
                                     = \"columns\" or \"full_row\" for keyless tables) (at {})",
                                    mapping.state_key, event.origin
                                ),
                            });
                        }
                    }
                }
                Readiness::Ready(info) => {
                    let key = if needs.key.is_empty() {
                        info.unique_keys.first().cloned().unwrap_or_default()
                    } else {
                        let wanted: Vec<&str> = needs.key.iter().map(|k| k.name.as_str()).collect();
                        info.unique_keys
                            .iter()
                            .find(|k| k.len() == wanted.len() && k.iter().all(|c| wanted.contains(&c.as_str())))
                            .cloned()
                            .unwrap_or_else(|| wanted.iter().map(|s| s.to_string()).collect())
                    };
                    let sql = self.table_sql(&mapping, &info, &key);
                    let t = ctx.tables.len();
                    for i in &indices {
                        ctx.table_of[*i] = Some(t);
                    }
                    ctx.tables.push(ReadyTable { mapping, info, sql, key });
                }
                Readiness::Quarantined(reason) | Readiness::Unavailable(reason) => {
                    let quarantined = self.schema.quarantined_count();
                    metrics::gauge!(m::QUARANTINED_TABLES, "sink" => self.name.clone()).set(quarantined as f64);
                    for i in indices {
                        let event = &batch.events[i];
                        report.rejected.push(Rejection {
                            index: i,
                            kind: RejectKind::Schema,
                            message: format!("table {}: {reason} (at {})", mapping.state_key, event.origin),
                        });
                    }
                }
            }
        }
        Ok(ctx)
    }

    /// Builds the plans of `indices` (grouped per table).
    pub(crate) fn plans<'b>(&self, ctx: &BatchCtx<'b>, indices: &[usize]) -> Vec<(usize, TablePlan<'b>)> {
        let mut per_table: Vec<Vec<(usize, &'b ChangeEvent)>> = vec![Vec::new(); ctx.tables.len()];
        for &i in indices {
            if let Some(t) = ctx.table_of[i] {
                per_table[t].push((i, &ctx.batch.events[i]));
            }
        }
        let sluice_columns: Vec<String> =
            [Some(self.schema.settings().version_column.clone()), self.schema.settings().soft_delete_column.clone()]
                .into_iter()
                .flatten()
                .collect();
        per_table
            .into_iter()
            .enumerate()
            .filter(|(_, events)| !events.is_empty())
            .map(|(t, events)| {
                let table = &ctx.tables[t];
                (
                    t,
                    plan::build(
                        &table.mapping,
                        &table.info,
                        &table.key,
                        &sluice_columns,
                        self.config.truncate,
                        &events,
                    ),
                )
            })
            .collect()
    }

    /// Executes plans in the connection's current transaction.
    pub(crate) async fn execute(
        &self,
        conn: &mut sqlx::PgConnection,
        ctx: &BatchCtx<'_>,
        plans: &[(usize, TablePlan<'_>)],
    ) -> Result<TableCounts, WriteError> {
        let mut counts = TableCounts::new();
        for (t, plan) in plans {
            let table = &ctx.tables[*t];
            match crate::exec::execute(conn, &table.sql, &table.info, &table.mapping.state_key, plan, self.write_path)
                .await
            {
                Ok(c) => {
                    let entry = counts.entry(*t).or_default();
                    entry.applied += c.applied;
                    entry.stale += c.stale;
                }
                Err(e) => return Err(self.classify_write(e)),
            }
        }
        Ok(counts)
    }

    /// Writes the events `indices` (plans built fresh).
    pub(crate) async fn write(
        &self,
        conn: &mut sqlx::PgConnection,
        ctx: &BatchCtx<'_>,
        indices: &[usize],
    ) -> Result<TableCounts, WriteError> {
        let plans = self.plans(ctx, indices);
        self.execute(conn, ctx, &plans).await
    }

    fn classify_write(&self, e: StatementError) -> WriteError {
        match e.error {
            Failure::Encode(message) => WriteError {
                class: ErrorClass::Permanent,
                kind: RejectKind::DataType,
                message: format!("table {}, {message}", e.table),
                source: None,
            },
            Failure::Sql(error) => {
                let c = classify(&error);
                let mut class = c.class;
                match c.code.as_deref() {
                    Some("42P01") => {
                        self.schema.invalidate(&e.table);
                        if self.config.auto_create {
                            class = ErrorClass::Transient;
                        }
                    }
                    Some("42703") => {
                        self.schema.invalidate(&e.table);
                        if self.config.auto_evolve {
                            class = ErrorClass::Transient;
                        }
                    }
                    _ => {}
                }
                let column = c.column.map(|col| format!(", column {col}")).unwrap_or_default();
                let constraint = c.constraint.map(|k| format!(" [constraint {k}]")).unwrap_or_default();
                WriteError {
                    class,
                    kind: c.kind,
                    message: format!("table {}{column}: {} {}{constraint}", e.table, e.statement, c.message),
                    source: Some(error),
                }
            }
        }
    }

    fn record_metrics(&self, ctx: &BatchCtx<'_>, counts: &TableCounts, report: &ApplyReport, started: Instant) {
        for (t, c) in counts {
            let table = ctx.tables[*t].mapping.state_key.clone();
            metrics::counter!(m::APPLIED_TOTAL, "sink" => self.name.clone(), "table" => table.clone())
                .increment(c.applied);
            metrics::counter!(m::STALE_TOTAL, "sink" => self.name.clone(), "table" => table).increment(c.stale);
        }
        for r in &report.rejected {
            let table =
                ctx.batch.events.get(r.index).map(|e| self.mapping(&e.table).state_key.clone()).unwrap_or_default();
            metrics::counter!(m::REJECTED_TOTAL, "sink" => self.name.clone(), "table" => table, "class" => r.kind.as_str())
                .increment(1);
        }
        metrics::histogram!(m::APPLY_DURATION_SECONDS, "sink" => self.name.clone())
            .record(started.elapsed().as_secs_f64());
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, SinkError> {
        self.pool.begin().await.map_err(|e| sink_error("starting a transaction", e))
    }

    async fn write_checkpoint(
        &self,
        conn: &mut sqlx::PgConnection,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), SinkError> {
        match checkpoint {
            Some(cp) => crate::checkpoint::write(conn, &self.tables.offsets, cp).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Sink for PostgresSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { atomic_batches: true, checkpoints: true }
    }

    async fn startup(&self) -> Result<(), SinkError> {
        m::describe();
        let mut conn = self.pool.acquire().await.map_err(|e| sink_error("connecting to postgres", e))?;
        self.tables.create(&mut conn).await.map_err(|e| sink_error("creating sluice's tables", e))?;
        let postgis: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| sink_error("checking for PostGIS", e))?;
        self.postgis.store(postgis, Ordering::Relaxed);
        if self.config.delete_mode == DeleteMode::Hard {
            let mut task = self.gc_task.lock();
            if task.is_none() {
                *task = Some(crate::tombstones::spawn_gc(
                    self.name.clone(),
                    self.pool.clone(),
                    self.tables.tombstones.clone(),
                    self.config.tombstone_retention,
                    self.config.tombstone_gc_interval,
                ));
            }
        }
        tracing::info!(sink = %self.name, url = %self.config.redacted_url(), postgis, "postgres sink ready");
        Ok(())
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(|e| sink_error("postgres healthcheck", e))?;
        Ok(())
    }

    async fn apply(&self, batch: &ChangeBatch) -> Result<ApplyReport, SinkError> {
        let started = Instant::now();
        let mut report = ApplyReport::default();
        let mut ctx = self.prepare(batch, &mut report).await?;
        // pre-pass: plans of every event of ready tables; their rejections are final
        let all: Vec<usize> = (0..batch.len()).filter(|i| ctx.table_of[*i].is_some()).collect();
        let plans = self.plans(&ctx, &all);
        let mut rejected_now = Vec::new();
        for (_, plan) in &plans {
            for (index, kind, message) in &plan.rejected {
                rejected_now.push(Rejection { index: *index, kind: *kind, message: message.clone() });
            }
        }
        let plans = if rejected_now.is_empty() {
            plans
        } else {
            drop(plans);
            for r in &rejected_now {
                ctx.table_of[r.index] = None;
            }
            report.rejected.extend(rejected_now);
            let live: Vec<usize> = (0..batch.len()).filter(|i| ctx.table_of[*i].is_some()).collect();
            self.plans(&ctx, &live)
        };

        let mut tx = self.begin().await?;
        self.write_checkpoint(&mut tx, batch.checkpoint.as_ref()).await?;
        let counts = match self.execute(&mut tx, &ctx, &plans).await {
            Ok(counts) => {
                tx.commit().await.map_err(|e| sink_error("committing the batch", e))?;
                counts
            }
            Err(e) if e.class != ErrorClass::Permanent => return Err(e.into_sink_error()),
            Err(e) => {
                drop(plans);
                let _ = tx.rollback().await;
                tracing::warn!(sink = %self.name, error = %e.message, "permanent error; bisecting the batch");
                metrics::counter!(m::BISECTIONS_TOTAL, "sink" => self.name.clone()).increment(1);
                let mut tx = self.begin().await?;
                self.write_checkpoint(&mut tx, batch.checkpoint.as_ref()).await?;
                let mut outcome = crate::bisect::Outcome::default();
                crate::bisect::run(self, &mut tx, &ctx, &mut outcome).await?;
                tx.commit().await.map_err(|e| sink_error("committing the batch", e))?;
                report.rejected.extend(outcome.rejected);
                outcome.counts
            }
        };
        for c in counts.values() {
            report.applied += c.applied;
            report.stale += c.stale;
        }
        report.rejected.sort_by_key(|r| r.index);
        self.record_metrics(&ctx, &counts, &report, started);
        Ok(report)
    }

    async fn load_checkpoint(&self, owner: &str) -> Result<Option<Checkpoint>, SinkError> {
        crate::checkpoint::load(&self.pool, &self.tables.offsets, owner).await
    }

    async fn claim_checkpoint(&self, owner: &str, streams: &[(String, i32)]) -> Result<Option<i64>, SinkError> {
        crate::checkpoint::claim(&self.pool, &self.tables.offsets, owner, streams).await.map(Some)
    }

    async fn shutdown(&self) -> Result<(), SinkError> {
        if let Some(task) = self.gc_task.lock().take() {
            task.abort();
        }
        self.pool.close().await;
        Ok(())
    }
}

/// The Postgres name of a source column under this sink's rules (for tools and tests).
pub fn target_column_name(source: &str) -> String {
    pg_name(source)
}
