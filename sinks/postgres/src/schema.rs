//! Target tables: introspection, auto-create, evolution and quarantine.
//!
//! Before a batch's data is written, every target table it touches is made
//! ready in its own committed transaction (so a retried batch finds the DDL
//! done):
//! * a missing table is created from the events' schema (`auto_create`), with
//!   the key as primary key, every other column nullable, the version column
//!   (`numeric NOT NULL`) and, in soft-delete mode, the deleted flag;
//! * a new column is added (`auto_evolve`); a declared type that is wider
//!   than the column is applied with `ALTER COLUMN … TYPE` when the widening is
//!   safe (int→bigint, varchar(n)→varchar(m>n)/text, numeric precision or
//!   scale up, timestamp precision up, real→double);
//! * a change that cannot be applied safely — an incompatible type, a source
//!   type narrower than the one seen before, a different key — quarantines the
//!   table: its events are rejected with class `schema` (to the DLQ) and other
//!   tables continue. The quarantine is stored in `<sluice>.table_state` and
//!   survives restarts; an operator clears it (after fixing the table) with
//!   `DELETE FROM sluice.table_state WHERE table_name = 'schema.table'`
//!   (or `UPDATE … SET quarantine_reason = NULL`), and the sink picks that up
//!   on the next batch for the table, then the DLQ is replayed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use sluice_sink_api::{ChangeEvent, Row, SinkError};
use sqlx::{PgConnection, PgPool, Row as _};

use crate::client::sink_error;
use crate::config::{DeleteMode, KeyMode};
use crate::ident::{pg_name, quote};
use crate::mapping::{ROW_KEY_COLUMN, TableMapping};
use crate::pg_type::{Fit, PgType};
use crate::sluice_tables::SluiceTables;

/// A column of a target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    pub ty: PgType,
    pub not_null: bool,
}

/// What sluice knows about a target table.
#[derive(Debug, Clone, Default)]
pub struct TableInfo {
    pub columns: Vec<ColumnInfo>,
    pub index: HashMap<String, usize>,
    /// Unique keys (primary key first), each a list of column names.
    pub unique_keys: Vec<Vec<String>>,
    pub quarantine: Option<String>,
    /// Source column types last seen (column → DDL), to detect narrowing.
    pub source_types: BTreeMap<String, String>,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.index.get(name).map(|i| &self.columns[*i])
    }
}

/// A column the events of a batch need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededColumn {
    pub name: String,
    pub ty: PgType,
    /// From the event's schema (a declaration) rather than inferred from values.
    pub declared: bool,
}

/// The columns and key the events of one table need.
#[derive(Debug, Clone, Default)]
pub struct TableNeeds {
    pub key: Vec<NeededColumn>,
    pub columns: Vec<NeededColumn>,
}

impl TableNeeds {
    /// Collects the needs of `events` (all of one table).
    pub fn collect(mapping: &TableMapping, events: &[&ChangeEvent], postgis: bool) -> TableNeeds {
        let mut needs = TableNeeds::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut schemas_done: Vec<*const sluice_sink_api::TableSchema> = Vec::new();
        let mut last_schema: Option<&sluice_sink_api::TableSchema> = None;
        let mut pending_null: Vec<String> = Vec::new();
        for event in events {
            if let Some(schema) = &event.schema {
                let ptr = Arc::as_ptr(schema);
                if schemas_done.contains(&ptr) || last_schema == Some(schema.as_ref()) {
                    continue;
                }
                schemas_done.push(ptr);
                last_schema = Some(schema.as_ref());
                for column in &schema.columns {
                    if !mapping.writes(&column.name) {
                        continue;
                    }
                    let name = pg_name(&column.name);
                    let ty = PgType::for_column(&column.column_type, postgis);
                    // a later schema of the same batch wins (it is newer)
                    match needs.columns.iter_mut().find(|c| c.name == name) {
                        Some(existing) => {
                            existing.ty = ty;
                            existing.declared = true;
                        }
                        None => needs.columns.push(NeededColumn { name: name.clone(), ty, declared: true }),
                    }
                    seen.insert(name);
                }
            } else {
                for row in [event.after.as_ref(), event.before.as_ref(), event.key.as_ref()].into_iter().flatten() {
                    infer_columns(mapping, row, postgis, &mut needs, &mut seen, &mut pending_null);
                }
            }
        }
        for name in pending_null {
            if !needs.columns.iter().any(|c| c.name == name) {
                needs.columns.push(NeededColumn { name, ty: PgType::Text, declared: false });
            }
        }
        needs.key = key_needs(mapping, events, &needs);
        let key_names: HashSet<&str> = needs.key.iter().map(|k| k.name.as_str()).collect();
        needs.columns.retain(|c| !key_names.contains(c.name.as_str()));
        needs
    }
}

fn infer_columns(
    mapping: &TableMapping,
    row: &Row,
    postgis: bool,
    needs: &mut TableNeeds,
    seen: &mut HashSet<String>,
    pending_null: &mut Vec<String>,
) {
    for (source, value) in row.iter() {
        if !mapping.writes(source) {
            continue;
        }
        let name = pg_name(source);
        if seen.contains(&name) {
            continue;
        }
        match PgType::infer(value, postgis) {
            Some(ty) => {
                seen.insert(name.clone());
                needs.columns.push(NeededColumn { name, ty, declared: false });
            }
            None if !pending_null.contains(&name) => pending_null.push(name),
            None => {}
        }
    }
}

fn key_needs(mapping: &TableMapping, events: &[&ChangeEvent], needs: &TableNeeds) -> Vec<NeededColumn> {
    let typed = |name: &str, sample: Option<&sluice_sink_api::Value>| {
        let pg = pg_name(name);
        let declared = needs.columns.iter().find(|c| c.name == pg);
        let ty = declared
            .map(|c| c.ty.clone())
            .or_else(|| sample.and_then(|v| PgType::infer(v, false)))
            .unwrap_or(PgType::Text);
        NeededColumn { name: pg, ty, declared: declared.is_some_and(|c| c.declared) }
    };
    match mapping.key_mode {
        KeyMode::FullRow => vec![NeededColumn { name: ROW_KEY_COLUMN.into(), ty: PgType::Text, declared: false }],
        KeyMode::Columns => mapping
            .key_columns
            .iter()
            .map(|name| {
                let sample = events.iter().find_map(|e| e.image().and_then(|r| r.get(name)).filter(|v| !v.is_null()));
                typed(name, sample)
            })
            .collect(),
        KeyMode::RecordKey => {
            let declared_pk = events.iter().find_map(|e| e.schema.as_ref().filter(|s| !s.primary_key.is_empty()));
            if let Some(schema) = declared_pk {
                let sample_key = events.iter().find_map(|e| e.key.as_ref());
                return schema.primary_key.iter().map(|n| typed(n, sample_key.and_then(|k| k.get(n)))).collect();
            }
            match events.iter().find_map(|e| e.key.as_ref().filter(|k| !k.is_empty())) {
                Some(key) => key.iter().map(|(n, v)| typed(n, Some(v))).collect(),
                None => Vec::new(),
            }
        }
    }
}

/// Whether a table can take the batch's events.
#[derive(Debug, Clone)]
pub enum Readiness {
    Ready(Arc<TableInfo>),
    /// Quarantined (now or before): reject the table's events with class `schema`.
    Quarantined(String),
    /// Cannot be written but not quarantined (e.g. missing and auto-create off).
    Unavailable(String),
    /// Missing, and the events give nothing to create it from (only truncates,
    /// or no key): truncates are no-ops, other events have no key.
    Absent,
}

/// Settings the schema manager needs.
#[derive(Debug, Clone)]
pub struct SchemaSettings {
    pub version_column: String,
    pub soft_delete_column: Option<String>,
    pub auto_create: bool,
    pub auto_evolve: bool,
    pub tables: SluiceTables,
}

impl SchemaSettings {
    pub fn new(config: &crate::config::PostgresSinkConfig) -> Self {
        SchemaSettings {
            version_column: pg_name(&config.version_column),
            soft_delete_column: (config.delete_mode == DeleteMode::Soft).then(|| pg_name(&config.soft_delete_column)),
            auto_create: config.auto_create,
            auto_evolve: config.auto_evolve,
            tables: SluiceTables::new(&pg_name(&config.sluice_schema)),
        }
    }
}

/// Caches table metadata and performs DDL. See the module docs.
#[derive(Debug)]
pub struct SchemaManager {
    settings: SchemaSettings,
    cache: Mutex<HashMap<String, Arc<TableInfo>>>,
}

impl SchemaManager {
    pub fn new(settings: SchemaSettings) -> Self {
        SchemaManager { settings, cache: Mutex::new(HashMap::new()) }
    }

    pub fn settings(&self) -> &SchemaSettings {
        &self.settings
    }

    /// Forgets what is cached about a table (after an error suggesting it changed).
    pub fn invalidate(&self, state_key: &str) {
        self.cache.lock().remove(state_key);
    }

    /// Number of tables currently known to be quarantined.
    pub fn quarantined_count(&self) -> usize {
        self.cache.lock().values().filter(|t| t.quarantine.is_some()).count()
    }

    /// Makes the table ready for events with `needs` (see the module docs).
    pub async fn prepare(
        &self,
        pool: &PgPool,
        mapping: &TableMapping,
        needs: &TableNeeds,
    ) -> Result<Readiness, SinkError> {
        let cached = self.cache.lock().get(&mapping.state_key).cloned();
        if let Some(info) = &cached
            && info.quarantine.is_none()
            && matches!(self.plan_changes(mapping, info, needs), Changes::None)
        {
            return Ok(Readiness::Ready(info.clone()));
        }
        let mut conn = pool.acquire().await.map_err(|e| sink_error("acquiring a connection", e))?;
        let info = match cached {
            Some(info) if info.quarantine.is_none() => info,
            _ => {
                // first sight, or quarantined: (re)read, so an operator's clearing is seen
                let fresh = self.introspect(&mut conn, mapping).await?;
                match fresh {
                    Some(info) => self.remember(mapping, info),
                    None => {
                        if needs.key.is_empty() {
                            return Ok(Readiness::Absent);
                        }
                        if !self.settings.auto_create {
                            return Ok(Readiness::Unavailable(format!(
                                "table {} does not exist and auto_create is off",
                                mapping.state_key
                            )));
                        }
                        self.create(&mut conn, mapping, needs).await?;
                        let info = self.introspect(&mut conn, mapping).await?.ok_or_else(|| {
                            SinkError::transient(format!("table {} vanished after creation", mapping.state_key))
                        })?;
                        self.remember(mapping, info)
                    }
                }
            }
        };
        if let Some(reason) = &info.quarantine {
            return Ok(Readiness::Quarantined(reason.clone()));
        }
        match self.plan_changes(mapping, &info, needs) {
            Changes::None => Ok(Readiness::Ready(info)),
            Changes::Quarantine(reason) => {
                self.quarantine(&mut conn, mapping, &reason).await?;
                Ok(Readiness::Quarantined(reason))
            }
            Changes::Apply { ddl, source_types } => {
                self.apply_ddl(&mut conn, mapping, &ddl, source_types.as_ref()).await?;
                let info = self
                    .introspect(&mut conn, mapping)
                    .await?
                    .ok_or_else(|| SinkError::transient(format!("table {} vanished", mapping.state_key)))?;
                Ok(Readiness::Ready(self.remember(mapping, info)))
            }
        }
    }

    fn remember(&self, mapping: &TableMapping, info: TableInfo) -> Arc<TableInfo> {
        let info = Arc::new(info);
        self.cache.lock().insert(mapping.state_key.clone(), info.clone());
        info
    }

    fn plan_changes(&self, mapping: &TableMapping, info: &TableInfo, needs: &TableNeeds) -> Changes {
        let table = &mapping.qualified;
        let mut ddl = Vec::new();
        // the key
        let wanted: HashSet<&str> = needs.key.iter().map(|k| k.name.as_str()).collect();
        if !wanted.is_empty()
            && !info
                .unique_keys
                .iter()
                .any(|k| k.len() == wanted.len() && k.iter().all(|c| wanted.contains(c.as_str())))
        {
            let have = info.unique_keys.first().map(|k| k.join(", ")).unwrap_or_else(|| "none".into());
            let want: Vec<&str> = needs.key.iter().map(|k| k.name.as_str()).collect();
            return Changes::Quarantine(format!(
                "primary key change: target {} has key ({have}) but changes are keyed by ({})",
                mapping.state_key,
                want.join(", ")
            ));
        }
        // sluice's own columns (always needed, even with auto_evolve off)
        if info.column(&self.settings.version_column).is_none() {
            ddl.push(format!(
                "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} numeric NOT NULL DEFAULT 0",
                quote(&self.settings.version_column)
            ));
        }
        if let Some(deleted) = &self.settings.soft_delete_column
            && info.column(deleted).is_none()
        {
            ddl.push(format!(
                "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} boolean NOT NULL DEFAULT false",
                quote(deleted)
            ));
        }
        let mut source_types = info.source_types.clone();
        for need in needs.key.iter().chain(&needs.columns) {
            if need.name == self.settings.version_column
                || Some(&need.name) == self.settings.soft_delete_column.as_ref()
            {
                return Changes::Quarantine(format!(
                    "column {} of {} collides with a sluice column; rename it or change version_column/soft_delete_column",
                    need.name, mapping.state_key
                ));
            }
            let Some(column) = info.column(&need.name) else {
                if self.settings.auto_evolve {
                    ddl.push(format!(
                        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} {}",
                        quote(&need.name),
                        need.ty.ddl()
                    ));
                }
                if need.declared {
                    source_types.insert(need.name.clone(), need.ty.ddl());
                }
                continue;
            };
            if !need.declared {
                continue;
            }
            let previous = info.source_types.get(&need.name).map(|d| PgType::parse(d));
            if let Some(previous) = &previous
                && need.ty.narrower_than(previous)
            {
                return Changes::Quarantine(format!(
                    "column {} of {}: the source narrowed its type from {} to {}",
                    need.name,
                    mapping.state_key,
                    previous.ddl(),
                    need.ty.ddl()
                ));
            }
            match column.ty.fit(&need.ty) {
                Fit::Holds => {}
                Fit::Widen(to) if self.settings.auto_evolve => {
                    ddl.push(format!("ALTER TABLE {table} ALTER COLUMN {} TYPE {}", quote(&need.name), to.ddl()))
                }
                Fit::Widen(_) => {}
                Fit::Incompatible => {
                    return Changes::Quarantine(format!(
                        "column {} of {}: type {} cannot safely take values of {}",
                        need.name,
                        mapping.state_key,
                        column.ty.ddl(),
                        need.ty.ddl()
                    ));
                }
            }
            source_types.insert(need.name.clone(), need.ty.ddl());
        }
        let types_changed = source_types != info.source_types;
        if ddl.is_empty() && !types_changed {
            return Changes::None;
        }
        Changes::Apply { ddl, source_types: types_changed.then_some(source_types) }
    }

    async fn create(
        &self,
        conn: &mut PgConnection,
        mapping: &TableMapping,
        needs: &TableNeeds,
    ) -> Result<(), SinkError> {
        let mut columns: Vec<String> =
            needs.key.iter().map(|k| format!("{} {} NOT NULL", quote(&k.name), k.ty.ddl())).collect();
        columns.extend(needs.columns.iter().map(|c| format!("{} {}", quote(&c.name), c.ty.ddl())));
        columns.push(format!("{} numeric NOT NULL DEFAULT 0", quote(&self.settings.version_column)));
        if let Some(deleted) = &self.settings.soft_delete_column {
            columns.push(format!("{} boolean NOT NULL DEFAULT false", quote(deleted)));
        }
        let pk: Vec<String> = needs.key.iter().map(|k| quote(&k.name)).collect();
        columns.push(format!("PRIMARY KEY ({})", pk.join(", ")));
        let ddl = vec![
            format!("CREATE SCHEMA IF NOT EXISTS {}", quote(&mapping.schema)),
            format!("CREATE TABLE IF NOT EXISTS {} ({})", mapping.qualified, columns.join(", ")),
        ];
        let declared: BTreeMap<String, String> = needs
            .key
            .iter()
            .chain(&needs.columns)
            .filter(|c| c.declared)
            .map(|c| (c.name.clone(), c.ty.ddl()))
            .collect();
        tracing::info!(table = %mapping.state_key, "creating target table");
        self.apply_ddl(conn, mapping, &ddl, Some(&declared)).await
    }

    async fn apply_ddl(
        &self,
        conn: &mut PgConnection,
        mapping: &TableMapping,
        ddl: &[String],
        source_types: Option<&BTreeMap<String, String>>,
    ) -> Result<(), SinkError> {
        let context = format!("changing the schema of {}", mapping.state_key);
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(|e| sink_error(&context, e))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("sluice ddl {}", mapping.state_key))
            .execute(&mut *tx)
            .await
            .map_err(|e| sink_error(&context, e))?;
        for statement in ddl {
            tracing::info!(table = %mapping.state_key, %statement, "schema change");
            metrics::counter!(crate::metrics::DDL_TOTAL, "table" => mapping.state_key.clone()).increment(1);
            sqlx::query(statement).execute(&mut *tx).await.map_err(|e| sink_error(&context, e))?;
        }
        if let Some(types) = source_types {
            let json = serde_json::to_string(types).unwrap_or_else(|_| "{}".into());
            sqlx::query(&format!(
                "INSERT INTO {} (table_name, source_types) VALUES ($1, $2::jsonb)
                 ON CONFLICT (table_name) DO UPDATE SET source_types = excluded.source_types",
                self.settings.tables.table_state
            ))
            .bind(&mapping.state_key)
            .bind(json)
            .execute(&mut *tx)
            .await
            .map_err(|e| sink_error(&context, e))?;
        }
        tx.commit().await.map_err(|e| sink_error(&context, e))
    }

    async fn quarantine(&self, conn: &mut PgConnection, mapping: &TableMapping, reason: &str) -> Result<(), SinkError> {
        tracing::error!(table = %mapping.state_key, %reason, "table quarantined; its events go to the DLQ");
        sqlx::query(&format!(
            "INSERT INTO {} (table_name, quarantine_reason, quarantined_at) VALUES ($1, $2, now())
             ON CONFLICT (table_name) DO UPDATE SET quarantine_reason = excluded.quarantine_reason,
                 quarantined_at = excluded.quarantined_at",
            self.settings.tables.table_state
        ))
        .bind(&mapping.state_key)
        .bind(reason)
        .execute(&mut *conn)
        .await
        .map_err(|e| sink_error("recording a quarantine", e))?;
        let mut cache = self.cache.lock();
        if let Some(info) = cache.get(&mapping.state_key) {
            let mut info = (**info).clone();
            info.quarantine = Some(reason.to_string());
            cache.insert(mapping.state_key.clone(), Arc::new(info));
        }
        Ok(())
    }

    /// Reads a table's columns, unique keys and sluice state; `None` if it does not exist.
    async fn introspect(
        &self,
        conn: &mut PgConnection,
        mapping: &TableMapping,
    ) -> Result<Option<TableInfo>, SinkError> {
        let ctx = |e| sink_error(&format!("reading the definition of {}", mapping.state_key), e);
        let rows = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
               AND c.relkind IN ('r', 'p')
             ORDER BY a.attnum",
        )
        .bind(&mapping.schema)
        .bind(&mapping.name)
        .fetch_all(&mut *conn)
        .await
        .map_err(ctx)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut info = TableInfo::default();
        for row in rows {
            let name: String = row.get(0);
            let ty: String = row.get(1);
            info.index.insert(name.clone(), info.columns.len());
            info.columns.push(ColumnInfo { name, ty: PgType::parse(&ty), not_null: row.get(2) });
        }
        let keys = sqlx::query(
            "SELECT array_agg(a.attname::text ORDER BY k.ord)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
             WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
             GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indisprimary DESC",
        )
        .bind(&mapping.schema)
        .bind(&mapping.name)
        .fetch_all(&mut *conn)
        .await
        .map_err(ctx)?;
        info.unique_keys = keys.iter().map(|r| r.get::<Vec<String>, _>(0)).collect();
        let state = sqlx::query(&format!(
            "SELECT quarantine_reason, source_types::text FROM {} WHERE table_name = $1",
            self.settings.tables.table_state
        ))
        .bind(&mapping.state_key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(ctx)?;
        if let Some(state) = state {
            info.quarantine = state.get(0);
            let types: Option<String> = state.get(1);
            info.source_types = types.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        }
        Ok(Some(info))
    }
}

enum Changes {
    None,
    Quarantine(String),
    Apply { ddl: Vec<String>, source_types: Option<BTreeMap<String, String>> },
}
