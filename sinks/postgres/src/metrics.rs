//! Metric names of the Postgres sink (Prometheus, via the `metrics` crate).
//!
//! Labels are low-cardinality: `sink` (the configured sink name), `table`
//! (target `schema.table`), `class` (reject kind).

/// Counter: events whose write took effect. Labels: sink, table.
pub const APPLIED_TOTAL: &str = "sluice_pg_sink_applied_total";
/// Counter: events ignored because the target held the same or a newer version. Labels: sink, table.
pub const STALE_TOTAL: &str = "sluice_pg_sink_stale_total";
/// Counter: events rejected (dead-lettered by the engine). Labels: sink, table, class.
pub const REJECTED_TOTAL: &str = "sluice_pg_sink_rejected_total";
/// Histogram (seconds): duration of one `apply` (schema phase, transaction, commit). Labels: sink.
pub const APPLY_DURATION_SECONDS: &str = "sluice_pg_sink_apply_duration_seconds";
/// Gauge: tables currently quarantined by an unsafe schema change. Labels: sink.
pub const QUARANTINED_TABLES: &str = "sluice_pg_sink_quarantined_tables";
/// Counter: batches whose permanent failure was bisected to isolate poison records. Labels: sink.
pub const BISECTIONS_TOTAL: &str = "sluice_pg_sink_bisections_total";
/// Counter: DDL statements run by auto-create/evolve. Labels: table.
pub const DDL_TOTAL: &str = "sluice_pg_sink_ddl_total";
/// Counter: tombstones removed by garbage collection. Labels: sink.
pub const TOMBSTONES_COLLECTED_TOTAL: &str = "sluice_pg_sink_tombstones_collected_total";

/// Every metric name with its description, for docs and registration.
pub const ALL: [(&str, &str); 8] = [
    (APPLIED_TOTAL, "events applied, per sink and table"),
    (STALE_TOTAL, "events ignored as stale (replays, duplicates), per sink and table"),
    (REJECTED_TOTAL, "events rejected to the DLQ, per sink, table and class"),
    (APPLY_DURATION_SECONDS, "duration of one batch apply"),
    (QUARANTINED_TABLES, "tables quarantined by an unsafe schema change"),
    (BISECTIONS_TOTAL, "batches bisected to isolate poison records"),
    (DDL_TOTAL, "DDL statements run by auto-create and auto-evolve, per table"),
    (TOMBSTONES_COLLECTED_TOTAL, "tombstones removed after the retention"),
];

/// Registers descriptions of every metric with the installed recorder.
pub fn describe() {
    for (name, help) in ALL {
        match name {
            APPLY_DURATION_SECONDS => metrics::describe_histogram!(name, metrics::Unit::Seconds, help),
            QUARANTINED_TABLES => metrics::describe_gauge!(name, help),
            _ => metrics::describe_counter!(name, help),
        }
    }
}
