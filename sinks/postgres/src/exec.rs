//! Executes one table's [`TablePlan`] inside the caller's transaction:
//! truncate first, then deletes, then upserts (one statement per column set;
//! normally one), and counts events applied or stale. Each row carries a
//! weight (the events it represents); a statement returns the summed weight of
//! the rows that took effect, computed server-side by joining the written rows
//! back to their inputs on key and version, so no per-row result crosses the wire.

use sqlx::PgConnection;

use sluice_sink_api::Version;

use crate::encode::{ColumnValues, PgVersion, Wire};
use crate::mapping::EventKey;
use crate::plan::{DeleteRow, TablePlan, UpsertRow};
use crate::schema::TableInfo;
use crate::upsert_sql::{SqlColumn, TableSql};

/// How a round's rows reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WritePath {
    /// Binary `COPY` into a staging table for rounds of at least
    /// [`COPY_MIN_ROWS`] rows, bound arrays below.
    Auto,
    /// Always bound arrays (`unnest`) — the default: `bench/postgres-sink`
    /// measured it ahead of `Auto` in total throughput (74–79 % against
    /// 63–66 % of the server-side limit; docs/postgres-sink.md).
    #[default]
    Arrays,
    /// Always `COPY` (tests and benchmarks).
    Copy,
}

/// Rows of one table and round from which `WritePath::Auto` stages by `COPY`.
pub const COPY_MIN_ROWS: usize = 1000;

impl WritePath {
    fn copies(self, rows: usize) -> bool {
        match self {
            WritePath::Auto => rows >= COPY_MIN_ROWS,
            WritePath::Arrays => false,
            WritePath::Copy => true,
        }
    }
}

/// Counts of one table's write.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub applied: u64,
    pub stale: u64,
}

/// A statement that failed, with what it was doing.
#[derive(Debug)]
pub struct StatementError {
    pub table: String,
    pub statement: &'static str,
    pub error: Failure,
}

/// Why a statement failed.
#[derive(Debug)]
pub enum Failure {
    Sql(sqlx::Error),
    /// A value could not be encoded for its column (names the column).
    Encode(String),
}

/// Writes `plan` for one table.
pub async fn execute(
    conn: &mut PgConnection,
    sql: &TableSql,
    info: &TableInfo,
    state_key: &str,
    plan: &TablePlan<'_>,
    path: WritePath,
) -> Result<Counts, StatementError> {
    let fail = |statement, error: sqlx::Error| StatementError {
        table: state_key.to_string(),
        statement,
        error: Failure::Sql(error),
    };
    let mut counts = Counts { applied: plan.ignored.len() as u64, stale: plan.duplicates.len() as u64 };
    if let Some(version) = plan.truncate {
        let raised = sqlx::query(&sql.record_truncate())
            .bind(state_key)
            .bind(version.value().to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| fail("truncate", e))?
            .is_some();
        if raised {
            sqlx::query(&sql.apply_truncate())
                .bind(version.value().to_string())
                .execute(&mut *conn)
                .await
                .map_err(|e| fail("truncate", e))?;
            counts.applied += plan.truncate_members.len() as u64;
        } else {
            counts.stale += plan.truncate_members.len() as u64;
        }
    }
    write_round(conn, sql, info, state_key, &plan.deletes, &plan.upserts, &mut counts, path).await?;
    for round in &plan.rounds {
        write_round(conn, sql, info, state_key, &round.deletes, &round.upserts, &mut counts, path).await?;
    }
    Ok(counts)
}

/// Deletes then upserts of distinct keys, through the path `path` picks for
/// this many rows.
#[allow(clippy::too_many_arguments)]
async fn write_round(
    conn: &mut PgConnection,
    sql: &TableSql,
    info: &TableInfo,
    state_key: &str,
    deletes: &[DeleteRow<'_>],
    upserts: &[UpsertRow<'_>],
    counts: &mut Counts,
    path: WritePath,
) -> Result<(), StatementError> {
    if deletes.is_empty() && upserts.is_empty() {
        return Ok(());
    }
    if path.copies(deletes.len() + upserts.len()) {
        return crate::copy::write_round(conn, sql, info, state_key, deletes, upserts, counts).await;
    }
    let fail = |statement, error: sqlx::Error| StatementError {
        table: state_key.to_string(),
        statement,
        error: Failure::Sql(error),
    };
    let bad = |statement, message: String| StatementError {
        table: state_key.to_string(),
        statement,
        error: Failure::Encode(message),
    };
    if !deletes.is_empty() {
        let mut keys = KeyArrays::new(sql, deletes.len());
        let mut weights: Vec<i32> = Vec::with_capacity(deletes.len());
        for row in deletes {
            keys.push(sql, &row.key, row.version).map_err(|e| bad("delete", e))?;
            weights.push(row.members.len() as i32);
        }
        let total: u64 = weights.iter().map(|w| *w as u64).sum();
        let text = sql.delete();
        let query = keys.bind(sqlx::query_as::<_, (i64, i64)>(&text));
        let (_, applied) =
            query.bind(weights).bind(state_key).fetch_one(&mut *conn).await.map_err(|e| fail("delete", e))?;
        counts.applied += applied as u64;
        counts.stale += total - applied as u64;
    }
    for (cols, rows) in column_sets(upserts) {
        let columns = sql_columns(info, &cols);
        let mut keys = KeyArrays::new(sql, rows.len());
        let mut arrays: Vec<ColumnValues<'_>> =
            columns.iter().map(|c| ColumnValues::new(Wire::for_type(&c.ty), rows.len())).collect();
        // the rows standing for other than one event, for the tally
        let mut heavy = KeyArrays::new(sql, 0);
        let mut heavy_weights: Vec<i32> = Vec::new();
        let mut total = 0u64;
        for row in &rows {
            keys.push(sql, &row.key, row.version).map_err(|e| bad("upsert", e))?;
            for ((_, value), (array, column)) in row.cells.iter().zip(arrays.iter_mut().zip(&columns)) {
                array
                    .push(Some(*value), &column.ty)
                    .map_err(|e| bad("upsert", format!("column {}: {}", column.name, e.0)))?;
            }
            let weight = row.members.len();
            total += weight as u64;
            if weight != 1 {
                heavy.push(sql, &row.key, row.version).map_err(|e| bad("upsert", e))?;
                heavy_weights.push(weight as i32);
            }
        }
        let text = sql.upsert(&columns);
        // parameters: keys, columns, versions, key texts, state key, heavy rows
        let mut query = sqlx::query_as::<_, (i64, i64)>(&text);
        for array in keys.keys.into_iter().chain(arrays) {
            query = bind(query, array);
        }
        query = query.bind(keys.versions);
        if let Some(texts) = keys.texts {
            query = bind(query, texts);
        }
        query = heavy.bind(query.bind(state_key));
        let (_, applied) = query.bind(heavy_weights).fetch_one(&mut *conn).await.map_err(|e| fail("upsert", e))?;
        counts.applied += applied as u64;
        counts.stale += total - applied as u64;
    }
    Ok(())
}

/// The upserts grouped by their column set (normally a single group), in
/// first-seen order: (column indices, rows).
pub(crate) fn column_sets<'r, 'a>(upserts: &'r [UpsertRow<'a>]) -> Vec<(Vec<usize>, Vec<&'r UpsertRow<'a>>)> {
    let mut groups: Vec<(Vec<usize>, Vec<&UpsertRow<'_>>)> = Vec::new();
    for row in upserts {
        let set = row.cells.iter().map(|(i, _)| *i);
        match groups.iter_mut().find(|(cols, _)| cols.iter().copied().eq(set.clone())) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((set.collect(), vec![row])),
        }
    }
    groups
}

/// The statement columns of column indices `cols` of `info`.
pub(crate) fn sql_columns(info: &TableInfo, cols: &[usize]) -> Vec<SqlColumn> {
    cols.iter().map(|i| SqlColumn { name: info.columns[*i].name.clone(), ty: info.columns[*i].ty.clone() }).collect()
}

/// Key arrays, versions and (unless computed server-side) key texts of rows.
struct KeyArrays<'a> {
    keys: Vec<ColumnValues<'a>>,
    versions: Vec<PgVersion>,
    texts: Option<ColumnValues<'a>>,
}

impl<'a> KeyArrays<'a> {
    fn new(sql: &TableSql, capacity: usize) -> Self {
        KeyArrays {
            keys: sql.key.iter().map(|k| ColumnValues::new(Wire::for_type(&k.ty), capacity)).collect(),
            versions: Vec::with_capacity(capacity),
            texts: sql.server_key_text().is_none().then(|| ColumnValues::new(Wire::Text, capacity)),
        }
    }

    fn push(&mut self, sql: &TableSql, key: &'a EventKey<'_>, version: Version) -> Result<(), String> {
        push_key(&mut self.keys, sql, key)?;
        self.versions.push(PgVersion(version.value()));
        if let Some(texts) = &mut self.texts {
            texts.push_text(key.text.clone());
        }
        Ok(())
    }

    /// Binds keys, versions, key texts.
    fn bind<'q>(self, mut query: CountQuery<'q>) -> CountQuery<'q>
    where
        'a: 'q,
    {
        for array in self.keys {
            query = bind(query, array);
        }
        query = query.bind(self.versions);
        match self.texts {
            Some(texts) => bind(query, texts),
            None => query,
        }
    }
}

pub(crate) fn push_key<'a>(
    arrays: &mut [ColumnValues<'a>],
    sql: &TableSql,
    key: &'a EventKey<'_>,
) -> Result<(), String> {
    for (array, column) in arrays.iter_mut().zip(&sql.key) {
        let value = key
            .columns
            .iter()
            .position(|c| *c == column.name)
            .map(|i| key.values[i].as_ref())
            .ok_or_else(|| format!("key column {} missing from the change", column.name))?;
        array.push(Some(value), &column.ty).map_err(|e| format!("key column {}: {}", column.name, e.0))?;
    }
    Ok(())
}

type CountQuery<'q> = sqlx::query::QueryAs<'q, sqlx::Postgres, (i64, i64), sqlx::postgres::PgArguments>;

fn bind<'q>(query: CountQuery<'q>, array: ColumnValues<'q>) -> CountQuery<'q> {
    match array {
        ColumnValues::Int8(v) => query.bind(v),
        ColumnValues::Float8(v) => query.bind(v),
        ColumnValues::Bool(v) => query.bind(v),
        ColumnValues::Text(v) => query.bind(v),
        ColumnValues::Bytea(v) => query.bind(v),
        ColumnValues::Timestamp(v) => query.bind(v),
        ColumnValues::TimestampTz(v) => query.bind(v),
    }
}
