//! Reading the dead-letter table: listing, one entry, pages in record order
//! (for replay), statistics and the unresolved depth.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};

use super::entry::{DlqEntry, DlqSummary};
use super::filter::EntryFilter;
use super::letter::DlqError;
use super::store::PostgresDeadLetters;

const ENTRY_COLUMNS: &str = "id, topic, partition_num, offset_value, consumer_group, sink, table_name, error_class, \
     error_message, raw_key, raw_value, headers, schema_id, failed_at, retry_count, last_retry_at, last_error, \
     resolved_at, resolution";

const SUMMARY_COLUMNS: &str = "id, topic, partition_num, offset_value, consumer_group, sink, table_name, \
     error_class, error_message, octet_length(raw_key) AS key_bytes, octet_length(raw_value) AS value_bytes, \
     failed_at, retry_count, last_retry_at, last_error, resolved_at, resolution";

/// Where a walk in record order stopped: `(topic, partition, offset, id)`.
pub type RecordCursor = (String, i32, i64, i64);

/// Counts of one table and error class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StatsRow {
    /// `None` for records that failed before their table was known (decoding).
    pub table: Option<String>,
    pub class: String,
    pub unresolved: i64,
    pub resolved: i64,
    pub oldest_unresolved: Option<DateTime<Utc>>,
}

/// The unresolved backlog of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Depth {
    pub unresolved: i64,
    pub oldest_unresolved: Option<DateTime<Utc>>,
}

impl PostgresDeadLetters {
    /// Fails with an operator hint when the table does not exist (the
    /// migrations never ran against this database and schema).
    pub async fn ensure_ready(&self) -> Result<(), DlqError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(self.table())
            .fetch_one(self.pool())
            .await
            .map_err(|e| Self::error("connecting to the dead-letter database", e))?;
        if exists {
            Ok(())
        } else {
            Err(DlqError::new(format!(
                "{} does not exist: run `sluice migrate -c FILE` (or start `sluice run`) first",
                self.table()
            )))
        }
    }

    /// Number of entries matching `filter`.
    pub async fn count(&self, filter: &EntryFilter) -> Result<i64, DlqError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT count(*) FROM {}", self.table()));
        filter.push_where(&mut qb);
        qb.build_query_scalar().fetch_one(self.pool()).await.map_err(|e| Self::error("counting dead letters", e))
    }

    /// Entries matching `filter`, newest first, at most `limit`.
    pub async fn list(&self, filter: &EntryFilter, limit: i64) -> Result<Vec<DlqSummary>, DlqError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {SUMMARY_COLUMNS} FROM {}", self.table()));
        filter.push_where(&mut qb);
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        qb.build_query_as().fetch_all(self.pool()).await.map_err(|e| Self::error("listing dead letters", e))
    }

    /// One entry with its raw bytes.
    pub async fn get(&self, id: i64) -> Result<Option<DlqEntry>, DlqError> {
        sqlx::query_as(&format!("SELECT {ENTRY_COLUMNS} FROM {} WHERE id = $1", self.table()))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| Self::error(format!("reading dead letter {id}"), e))
    }

    /// The next `limit` entries matching `filter` after `after`, in record
    /// order `(topic, partition, offset, id)`: the order a replay applies them
    /// in, which keeps every key's entries in their original offset order
    /// (a key maps to one partition).
    pub async fn page_in_record_order(
        &self,
        filter: &EntryFilter,
        after: Option<&RecordCursor>,
        limit: i64,
    ) -> Result<Vec<DlqEntry>, DlqError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {ENTRY_COLUMNS} FROM {}", self.table()));
        filter.push_where(&mut qb);
        if let Some((topic, partition, offset, id)) = after {
            qb.push(" AND (topic, partition_num, offset_value, id) > (")
                .push_bind(topic)
                .push(", ")
                .push_bind(partition)
                .push(", ")
                .push_bind(offset)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        qb.push(" ORDER BY topic, partition_num, offset_value, id LIMIT ").push_bind(limit);
        qb.build_query_as().fetch_all(self.pool()).await.map_err(|e| Self::error("reading dead letters", e))
    }

    /// Counts by table and error class of the entries matching `filter`
    /// (most unresolved first).
    pub async fn stats(&self, filter: &EntryFilter) -> Result<Vec<StatsRow>, DlqError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT table_name AS \"table\", error_class AS class, \
             count(*) FILTER (WHERE resolved_at IS NULL) AS unresolved, \
             count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved, \
             min(failed_at) FILTER (WHERE resolved_at IS NULL) AS oldest_unresolved \
             FROM {}",
            self.table()
        ));
        filter.push_where(&mut qb);
        qb.push(" GROUP BY table_name, error_class ORDER BY unresolved DESC, resolved DESC, table_name, error_class");
        qb.build_query_as().fetch_all(self.pool()).await.map_err(|e| Self::error("counting dead letters", e))
    }

    /// Unresolved entries of `group` (every group when `None`).
    pub async fn depth(&self, group: Option<&str>) -> Result<Depth, DlqError> {
        let filter = EntryFilter::unresolved(group.map(str::to_string));
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT count(*) AS unresolved, min(failed_at) AS oldest_unresolved FROM {}",
            self.table()
        ));
        filter.push_where(&mut qb);
        qb.build_query_as().fetch_one(self.pool()).await.map_err(|e| Self::error("counting unresolved dead letters", e))
    }
}
