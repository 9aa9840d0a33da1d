//! The `COPY` path of a write round: the round's rows are streamed by binary
//! `COPY` into a session-local staging table, then the same versioned delete
//! and upsert statements as the array path ([`crate::upsert_sql`]) read them
//! from there, in the caller's transaction.
//!
//! Why: for large rounds the server ingests binary `COPY` rows faster than
//! it unnests array parameters (no parameter arrays to build and cut apart,
//! no text-to-numeric casts), and the client encodes the next chunk of rows
//! while the server is still reading the previous one, so the client's work
//! overlaps the server's instead of preceding it. Small rounds keep the
//! array path: it needs no staging table and two round trips fewer.
//!
//! The staging table (`pg_temp."sluice_stage_<hash>"`, one per column
//! layout, shared by every table of that layout) is a temporary table created
//! on first use in a session, `ON COMMIT DELETE ROWS`: it never leaves the
//! session, is never WAL-logged and is emptied by each commit. It is created
//! inside the batch transaction when missing, so it also works behind a
//! transaction-mode connection pooler. Each round tags its rows with a fresh
//! group number (`g`): statements read only their group, so rows of earlier
//! rounds, tables or bisection attempts of the same transaction are ignored.
//!
//! The binary COPY format is written here by hand: sqlx offers only the raw
//! `COPY FROM STDIN` protocol (`copy_in_raw`), and the format is small and
//! fixed (a header, per row a field count and length-prefixed fields, a
//! trailer); a crate would not spare the value conversions, which must stay
//! the ones of the array path ([`crate::encode::copy_field`]).

use std::sync::atomic::{AtomicI64, Ordering};

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use sqlx::postgres::PgCopyIn;

use crate::encode::{Wire, copy_bytes, copy_field, numeric_binary};
use crate::exec::{Counts, Failure, StatementError, column_sets, sql_columns};
use crate::ident::quote;
use crate::mapping::EventKey;
use crate::plan::{DeleteRow, UpsertRow};
use crate::schema::TableInfo;
use crate::upsert_sql::{Input, TableSql};

/// Bytes of encoded rows sent per `CopyData` message.
const CHUNK_BYTES: usize = 256 * 1024;

/// Binary COPY header: signature, flags, header extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Group numbers, unique in the process (and so in every transaction).
static NEXT_GROUP: AtomicI64 = AtomicI64::new(1);

/// The staging table of one round: its layout and name.
struct Stage {
    name: String,
    /// Column list of the `COPY` statement.
    copy_columns: String,
    ddl: String,
    /// Table column indices staged as `c<index>`, ascending.
    data: Vec<usize>,
    key_text: bool,
}

impl Stage {
    fn new(sql: &TableSql, info: &TableInfo, data: Vec<usize>) -> Stage {
        let mut columns: Vec<(String, &'static str)> = vec![("g".into(), "int8")];
        for (i, k) in sql.key.iter().enumerate() {
            columns.push((format!("k{i}"), Wire::for_type(&k.ty).scalar_type()));
        }
        for i in &data {
            columns.push((format!("c{i}"), Wire::for_type(&info.columns[*i].ty).scalar_type()));
        }
        columns.push(("v".into(), "numeric"));
        columns.push(("w".into(), "int4"));
        let key_text = sql.server_key_text().is_none();
        if key_text {
            columns.push(("kt".into(), "text"));
        }
        let spec: Vec<String> = columns.iter().map(|(name, ty)| format!("{name} {ty}")).collect();
        let spec = spec.join(", ");
        let digest = Sha256::digest(spec.as_bytes());
        let name = format!("sluice_stage_{}", &hex::encode(digest)[..16]);
        Stage {
            ddl: format!("CREATE TEMP TABLE IF NOT EXISTS {} ({spec}) ON COMMIT DELETE ROWS", quote(&name)),
            copy_columns: columns.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", "),
            name: format!("pg_temp.{}", quote(&name)),
            data,
            key_text,
        }
    }

    fn fields(&self, keys: usize) -> i16 {
        (1 + keys + self.data.len() + 2 + usize::from(self.key_text)) as i16
    }
}

/// Writes one round (deletes, then upserts per column set) through `COPY`.
pub(crate) async fn write_round(
    conn: &mut PgConnection,
    sql: &TableSql,
    info: &TableInfo,
    state_key: &str,
    deletes: &[DeleteRow<'_>],
    upserts: &[UpsertRow<'_>],
    counts: &mut Counts,
) -> Result<(), StatementError> {
    let fail = |statement, error: sqlx::Error| StatementError {
        table: state_key.to_string(),
        statement,
        error: Failure::Sql(error),
    };
    let sets = column_sets(upserts);
    let mut data: Vec<usize> = sets.iter().flat_map(|(cols, _)| cols.iter().copied()).collect();
    data.sort_unstable();
    data.dedup();
    let stage = Stage::new(sql, info, data);
    let missing: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NULL")
        .bind(&stage.name)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| fail("staging", e))?;
    if missing {
        sqlx::query(&stage.ddl).execute(&mut *conn).await.map_err(|e| fail("staging", e))?;
    }
    // group numbers: `base` for the deletes, `base + 1 + i` for column set i
    let base = NEXT_GROUP.fetch_add(1 + sets.len() as i64, Ordering::Relaxed);
    let copy = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", stage.name, stage.copy_columns);
    let mut copy_in = conn.copy_in_raw(&copy).await.map_err(|e| fail("copy", e))?;
    let streamed = stream_rows(&mut copy_in, sql, info, &stage, base, deletes, &sets).await;
    let (delete_weight, upsert_weights) = match streamed {
        Ok(weights) => weights,
        Err(StreamError::Sql(e)) => {
            // the server's error (if any) is what finishing the COPY reports
            return Err(fail("copy", copy_in.finish().await.err().unwrap_or(e)));
        }
        Err(StreamError::Encode(message)) => {
            copy_in.abort(message.clone()).await.map_err(|e| fail("copy", e))?;
            return Err(StatementError {
                table: state_key.to_string(),
                statement: "copy",
                error: Failure::Encode(message),
            });
        }
    };
    copy_in.finish().await.map_err(|e| fail("copy", e))?;

    if !deletes.is_empty() {
        let text = sql.delete_from(Input::Stage { table: &stage.name, columns: &[] });
        let (_, applied): (i64, i64) = sqlx::query_as(&text)
            .bind(base)
            .bind(state_key)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| fail("delete", e))?;
        counts.applied += applied as u64;
        counts.stale += delete_weight - applied as u64;
    }
    for (i, ((cols, _), total)) in sets.iter().zip(upsert_weights).enumerate() {
        let columns = sql_columns(info, cols);
        let text = sql.upsert_from(&columns, Input::Stage { table: &stage.name, columns: cols });
        let (_, applied): (i64, i64) = sqlx::query_as(&text)
            .bind(base + 1 + i as i64)
            .bind(state_key)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| fail("upsert", e))?;
        counts.applied += applied as u64;
        counts.stale += total - applied as u64;
    }
    Ok(())
}

enum StreamError {
    Sql(sqlx::Error),
    Encode(String),
}

/// Encodes and sends every row, chunk by chunk. Returns the summed weights
/// of the deletes and of each column set.
async fn stream_rows(
    copy_in: &mut PgCopyIn<&mut PgConnection>,
    sql: &TableSql,
    info: &TableInfo,
    stage: &Stage,
    base: i64,
    deletes: &[DeleteRow<'_>],
    sets: &[(Vec<usize>, Vec<&UpsertRow<'_>>)],
) -> Result<(u64, Vec<u64>), StreamError> {
    let fields = stage.fields(sql.key.len()).to_be_bytes();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
    buf.extend_from_slice(HEADER);
    let mut delete_weight = 0u64;
    for row in deletes {
        buf.extend_from_slice(&fields);
        copy_bytes(&mut buf, &base.to_be_bytes());
        key_fields(&mut buf, sql, &row.key).map_err(StreamError::Encode)?;
        for _ in &stage.data {
            buf.extend_from_slice(&(-1i32).to_be_bytes());
        }
        tail_fields(&mut buf, stage, row.version.value(), row.members.len(), &row.key.text);
        delete_weight += row.members.len() as u64;
        flush_full(copy_in, &mut buf).await?;
    }
    let mut weights = Vec::with_capacity(sets.len());
    for (i, (_, rows)) in sets.iter().enumerate() {
        let group = (base + 1 + i as i64).to_be_bytes();
        let mut total = 0u64;
        for row in rows {
            buf.extend_from_slice(&fields);
            copy_bytes(&mut buf, &group);
            key_fields(&mut buf, sql, &row.key).map_err(StreamError::Encode)?;
            // the row's cells and the staged columns are both sorted by index
            let mut cells = row.cells.iter().peekable();
            for column in &stage.data {
                let value = match cells.peek() {
                    Some((index, value)) if index == column => {
                        cells.next();
                        Some(*value)
                    }
                    _ => None,
                };
                let target = &info.columns[*column];
                copy_field(&mut buf, value, &target.ty)
                    .map_err(|e| StreamError::Encode(format!("column {}: {}", target.name, e.0)))?;
            }
            tail_fields(&mut buf, stage, row.version.value(), row.members.len(), &row.key.text);
            total += row.members.len() as u64;
            flush_full(copy_in, &mut buf).await?;
        }
        weights.push(total);
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy_in.send(&buf[..]).await.map_err(StreamError::Sql)?;
    Ok((delete_weight, weights))
}

/// The key columns of a row, in the table's key order.
fn key_fields(buf: &mut Vec<u8>, sql: &TableSql, key: &EventKey<'_>) -> Result<(), String> {
    for column in &sql.key {
        let value = key
            .columns
            .iter()
            .position(|c| *c == column.name)
            .map(|i| key.values[i].as_ref())
            .ok_or_else(|| format!("key column {} missing from the change", column.name))?;
        copy_field(buf, Some(value), &column.ty).map_err(|e| format!("key column {}: {}", column.name, e.0))?;
    }
    Ok(())
}

/// Version, weight and (unless computed server-side) key text.
fn tail_fields(buf: &mut Vec<u8>, stage: &Stage, version: u128, weight: usize, key_text: &str) {
    let at = buf.len();
    buf.extend_from_slice(&0i32.to_be_bytes());
    numeric_binary(version, buf);
    let len = (buf.len() - at - 4) as i32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    copy_bytes(buf, &(weight as i32).to_be_bytes());
    if stage.key_text {
        copy_bytes(buf, key_text.as_bytes());
    }
}

/// Sends the buffer once it holds a chunk.
async fn flush_full(copy_in: &mut PgCopyIn<&mut PgConnection>, buf: &mut Vec<u8>) -> Result<(), StreamError> {
    if buf.len() >= CHUNK_BYTES {
        copy_in.send(&buf[..]).await.map_err(StreamError::Sql)?;
        buf.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg_type::PgType;
    use crate::upsert_sql::SqlColumn;

    #[test]
    fn numeric_versions() {
        let enc = |v: u128| {
            let mut out = Vec::new();
            numeric_binary(v, &mut out);
            out.chunks(2).map(|c| i16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>()
        };
        assert_eq!(enc(0), vec![0, 0, 0, 0]);
        assert_eq!(enc(7), vec![1, 0, 0, 0, 7]);
        assert_eq!(enc(10_000), vec![1, 1, 0, 0, 1]);
        assert_eq!(enc(123_456_789), vec![3, 2, 0, 0, 1, 2345, 6789]);
        assert_eq!(enc(u128::MAX).len(), 4 + 10);
    }

    #[test]
    fn stage_layout() {
        let sql = TableSql {
            table: "\"s\".\"t\"".into(),
            key: vec![SqlColumn { name: "id".into(), ty: PgType::Int4 }],
            version: "_sluice_version".into(),
            soft_delete: None,
            tombstones: Some("\"sluice\".\"tombstones\"".into()),
            table_state: "\"sluice\".\"table_state\"".into(),
        };
        let info = TableInfo {
            columns: vec![
                crate::schema::ColumnInfo { name: "id".into(), ty: PgType::Int4, not_null: true },
                crate::schema::ColumnInfo { name: "n".into(), ty: PgType::Numeric(None), not_null: false },
            ],
            index: Default::default(),
            unique_keys: vec![vec!["id".into()]],
            quarantine: None,
            source_types: Default::default(),
        };
        let stage = Stage::new(&sql, &info, vec![1]);
        assert!(
            stage.ddl.ends_with("(g int8, k0 int8, c1 text, v numeric, w int4) ON COMMIT DELETE ROWS"),
            "{}",
            stage.ddl
        );
        assert!(stage.name.starts_with("pg_temp.\"sluice_stage_"));
        assert_eq!(stage.copy_columns, "g, k0, c1, v, w");
        assert_eq!(stage.fields(1), 5);
    }
}
