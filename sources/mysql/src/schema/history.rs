//! The schema history: every table's schema versions and the DDL statements
//! that produced them, in binlog order.
//!
//! With `binlog_row_metadata=FULL` each transaction's table maps carry the
//! shape its rows were written with, so decoding never depends on this
//! history; the history records, per table, each distinct shape with the
//! binlog position from which it applied, and each DDL statement, so that
//! callers can emit schema-change records, answer "which schema was in force
//! at version v", and persist it ([`crate::store`]) for audit and restart.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sluice_sink_api::{TableId, TableSchema, Version};

use super::ddl::DdlKind;
use crate::position::BinlogPosition;

/// One DDL statement seen in the binlog.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaChange {
    /// File and start offset of the QUERY event.
    pub file: String,
    pub pos: u64,
    /// The position right after the statement (resume point).
    pub end_position: BinlogPosition,
    pub ts: DateTime<Utc>,
    /// The session's default database when the statement ran.
    pub database: String,
    pub ddl: String,
    pub kind: DdlKind,
    /// Tables the statement names (database resolved against `database`).
    pub tables: Vec<TableId>,
    pub gtid: Option<String>,
    pub server_id: u32,
    pub thread: Option<u32>,
}

/// One schema version of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaVersion {
    /// The first version (binlog position) this schema decoded.
    pub since: Version,
    pub schema: Arc<TableSchema>,
}

/// In-memory schema history. See the module docs.
#[derive(Debug, Default)]
pub struct SchemaHistory {
    tables: HashMap<TableId, Vec<SchemaVersion>>,
    changes: Vec<SchemaChange>,
}

/// Changes kept in memory (the persisted history keeps all).
const MAX_CHANGES_IN_MEMORY: usize = 10_000;

impl SchemaHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `schema` decoded `table` at `at`. Returns true when it is
    /// a new version (the shape differs from the one in force before `at`).
    pub fn observe(&mut self, table: &TableId, at: Version, schema: &Arc<TableSchema>) -> bool {
        let versions = self.tables.entry(table.clone()).or_default();
        let current = versions.iter().rev().find(|v| v.since <= at);
        if current.is_some_and(|v| Arc::ptr_eq(&v.schema, schema) || v.schema == *schema) {
            return false;
        }
        let index = versions.partition_point(|v| v.since <= at);
        versions.insert(index, SchemaVersion { since: at, schema: schema.clone() });
        true
    }

    /// The schema of `table` in force at `at`.
    pub fn schema_at(&self, table: &TableId, at: Version) -> Option<Arc<TableSchema>> {
        self.tables.get(table)?.iter().rev().find(|v| v.since <= at).map(|v| v.schema.clone())
    }

    /// All versions of `table`, oldest first.
    pub fn versions(&self, table: &TableId) -> &[SchemaVersion] {
        self.tables.get(table).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Records a DDL statement.
    pub fn record_ddl(&mut self, change: SchemaChange) {
        if matches!(change.kind, DdlKind::DropTable) {
            // The next CREATE of the same name starts a fresh history.
            for table in &change.tables {
                self.tables.remove(table);
            }
        }
        self.changes.push(change);
        if self.changes.len() > MAX_CHANGES_IN_MEMORY {
            self.changes.drain(..self.changes.len() - MAX_CHANGES_IN_MEMORY);
        }
    }

    /// DDL statements recorded, oldest first (the most recent ones in memory).
    pub fn changes(&self) -> &[SchemaChange] {
        &self.changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sink_api::{ColumnSchema, ColumnType};

    fn schema(cols: &[&str]) -> Arc<TableSchema> {
        Arc::new(TableSchema {
            columns: cols
                .iter()
                .map(|c| ColumnSchema {
                    name: c.to_string(),
                    column_type: ColumnType::Int32,
                    optional: false,
                    source_type: None,
                })
                .collect(),
            primary_key: vec!["id".into()],
        })
    }

    #[test]
    fn versions_by_position() {
        let t = TableId::new(Some("db"), None, "t");
        let mut h = SchemaHistory::new();
        assert!(h.observe(&t, Version::mysql(1, 100, 0), &schema(&["id"])));
        assert!(!h.observe(&t, Version::mysql(1, 200, 0), &schema(&["id"])));
        assert!(h.observe(&t, Version::mysql(1, 300, 0), &schema(&["id", "x"])));
        assert_eq!(h.schema_at(&t, Version::mysql(1, 250, 0)).unwrap().columns.len(), 1);
        assert_eq!(h.schema_at(&t, Version::mysql(2, 4, 0)).unwrap().columns.len(), 2);
        assert!(h.schema_at(&t, Version::mysql(1, 50, 0)).is_none());
        // Replaying an older position (after a restart) does not add a version.
        assert!(!h.observe(&t, Version::mysql(1, 150, 0), &schema(&["id"])));
        assert_eq!(h.versions(&t).len(), 2);
    }
}
