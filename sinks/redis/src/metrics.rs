//! Metrics of the Redis sink (names are part of the operator interface; they
//! are listed in `docs/redis-sink.md`). Labels: `sink` (configured name),
//! `table` (qualified source table), `mode`, `kind` (rejection kind),
//! `class` (error class) — all low-cardinality.

use std::collections::HashMap;
use std::time::Duration;

use sluice_sink_api::{ErrorClass, RejectKind};

/// Counter: events whose write took effect (`sink`, `table`, `mode`).
pub const APPLIED_TOTAL: &str = "sluice_redis_applied_total";
/// Counter: materialize events ignored because Redis held this or a newer
/// version (`sink`, `table`).
pub const STALE_TOTAL: &str = "sluice_redis_stale_total";
/// Counter: events rejected permanently (dead-lettered) (`sink`, `table`, `kind`).
pub const REJECTED_TOTAL: &str = "sluice_redis_rejected_total";
/// Counter: keys deleted by invalidate mode (`UNLINK`/`DEL` arguments) (`sink`, `table`).
pub const INVALIDATED_KEYS_TOTAL: &str = "sluice_redis_invalidated_keys_total";
/// Counter: invalidation messages published (`sink`, `table`).
pub const PUBLISHED_TOTAL: &str = "sluice_redis_published_total";
/// Counter: materialize tombstones written by deletes (`sink`, `table`).
pub const TOMBSTONES_TOTAL: &str = "sluice_redis_tombstones_total";
/// Counter: failed `apply` calls (`sink`, `class` = transient | fatal | permanent).
pub const ERRORS_TOTAL: &str = "sluice_redis_errors_total";
/// Counter: `SCRIPT LOAD`s after `NOSCRIPT` (a restarted or flushed server) (`sink`).
pub const SCRIPT_LOADS_TOTAL: &str = "sluice_redis_script_loads_total";
/// Histogram (seconds): duration of one successful `apply` (`sink`, `mode`).
pub const APPLY_DURATION_SECONDS: &str = "sluice_redis_apply_duration_seconds";

/// Counts of one batch, per table, emitted once per `apply`.
#[derive(Debug, Default)]
pub struct BatchCounts {
    tables: HashMap<String, TableCounts>,
}

/// Counts of one table in one batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableCounts {
    pub applied: u64,
    pub stale: u64,
    pub invalidated_keys: u64,
    pub published: u64,
    pub tombstones: u64,
    pub rejected: HashMap<RejectKind, u64>,
}

impl BatchCounts {
    /// The counts of `table` (created on first use).
    pub fn table(&mut self, table: &str) -> &mut TableCounts {
        if !self.tables.contains_key(table) {
            self.tables.insert(table.to_string(), TableCounts::default());
        }
        self.tables.get_mut(table).expect("inserted above")
    }

    /// Emits every counter and the duration.
    pub fn emit(&self, sink: &str, mode: &'static str, elapsed: Duration) {
        for (table, c) in &self.tables {
            let labels = [("sink", sink.to_string()), ("table", table.clone())];
            let add = |name: &'static str, n: u64| {
                if n > 0 {
                    metrics::counter!(name, &labels).increment(n);
                }
            };
            if c.applied > 0 {
                metrics::counter!(APPLIED_TOTAL, "sink" => sink.to_string(), "table" => table.clone(), "mode" => mode)
                    .increment(c.applied);
            }
            add(STALE_TOTAL, c.stale);
            add(INVALIDATED_KEYS_TOTAL, c.invalidated_keys);
            add(PUBLISHED_TOTAL, c.published);
            add(TOMBSTONES_TOTAL, c.tombstones);
            for (kind, n) in &c.rejected {
                metrics::counter!(REJECTED_TOTAL, "sink" => sink.to_string(), "table" => table.clone(), "kind" => kind.as_str())
                    .increment(*n);
            }
        }
        metrics::histogram!(APPLY_DURATION_SECONDS, "sink" => sink.to_string(), "mode" => mode)
            .record(elapsed.as_secs_f64());
    }
}

/// Counts one failed `apply`.
pub fn record_error(sink: &str, class: ErrorClass) {
    let class = match class {
        ErrorClass::Transient => "transient",
        ErrorClass::Permanent => "permanent",
        ErrorClass::Fatal => "fatal",
    };
    metrics::counter!(ERRORS_TOTAL, "sink" => sink.to_string(), "class" => class).increment(1);
}

/// Counts one script reload.
pub fn record_script_load(sink: &str) {
    metrics::counter!(SCRIPT_LOADS_TOTAL, "sink" => sink.to_string()).increment(1);
}
