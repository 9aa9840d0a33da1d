//! Metric names of the MySQL/MariaDB source (documented in `docs/mysql-source.md`).
//!
//! Labels are low-cardinality: `source` (the configured server name) and,
//! where stated, `table` (`db.table`) or `op`.

/// Gauge: milliseconds between the source commit time (binlog event header
/// timestamp) of the last processed transaction and now; 0 after a heartbeat
/// when the stream has caught up. Labels: `source`.
pub const MILLIS_BEHIND_SOURCE: &str = "sluice_mysql_millis_behind_source";
/// Counter: row change events emitted from the binlog. Labels: `source`, `op` (c/u/d).
pub const EVENTS: &str = "sluice_mysql_events_total";
/// Counter: source transactions emitted. Labels: `source`.
pub const TRANSACTIONS: &str = "sluice_mysql_transactions_total";
/// Counter: DDL statements seen (schema changes). Labels: `source`.
pub const SCHEMA_CHANGES: &str = "sluice_mysql_schema_changes_total";
/// Counter: reconnects after a lost binlog connection. Labels: `source`.
pub const RECONNECTS: &str = "sluice_mysql_reconnects_total";
/// Gauge: numeric suffix of the binlog file last processed. Labels: `source`.
pub const BINLOG_FILE_SEQ: &str = "sluice_mysql_binlog_file_seq";
/// Gauge: binlog position after the last processed transaction. Labels: `source`.
pub const BINLOG_POSITION: &str = "sluice_mysql_binlog_position";
/// Counter: rows read by the snapshot. Labels: `source`, `table`.
pub const SNAPSHOT_ROWS: &str = "sluice_mysql_snapshot_rows_total";
/// Gauge: tables not yet completely snapshotted. Labels: `source`.
pub const SNAPSHOT_TABLES_REMAINING: &str = "sluice_mysql_snapshot_tables_remaining";
/// Gauge: 1 while a snapshot runs. Labels: `source`.
pub const SNAPSHOT_RUNNING: &str = "sluice_mysql_snapshot_running";
/// Counter: records produced to Kafka and acknowledged. Labels: `source`.
pub const KAFKA_RECORDS: &str = "sluice_mysql_kafka_records_total";

/// Every metric name above, for docs and tests.
pub const ALL: [&str; 11] = [
    MILLIS_BEHIND_SOURCE,
    EVENTS,
    TRANSACTIONS,
    SCHEMA_CHANGES,
    RECONNECTS,
    BINLOG_FILE_SEQ,
    BINLOG_POSITION,
    SNAPSHOT_ROWS,
    SNAPSHOT_TABLES_REMAINING,
    SNAPSHOT_RUNNING,
    KAFKA_RECORDS,
];
