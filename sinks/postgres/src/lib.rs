//! # sluice-sink-postgres — the Postgres sink
//!
//! Applies [`ChangeBatch`](sluice_sink_api::ChangeBatch)es to Postgres with
//! the guarantees of the [`Sink`](sluice_sink_api::Sink) contract:
//!
//! * **Versioned, idempotent writes.** Every row carries its change's version
//!   in a `numeric` column (`_sluice_version`); one `INSERT … SELECT FROM
//!   unnest(…) ON CONFLICT (key) DO UPDATE … WHERE t.version < excluded.version`
//!   per table per batch. Stale writes are counted, never errors.
//! * **No resurrection.** Deletes leave a versioned tombstone (hard mode) or a
//!   soft-delete flag; truncates leave a table-level version. An upsert older
//!   than either is a no-op, checked in the same statement.
//! * **Whole transactions.** One database transaction per batch; poison records
//!   are isolated with savepoints without splitting a source transaction.
//! * **Schema.** Tables are created and evolved from the events' schemas; an
//!   unsafe change quarantines one table only.
//! * **Lossless types**, quoted identifiers, bound values.
//!
//! The engine builds a [`PostgresSink`] from a [`PostgresSinkConfig`];
//! `docs/postgres-sink.md` is the operator's reference.

mod bisect;
mod checkpoint;
pub mod client;
pub mod config;
mod copy;
pub mod encode;
mod exec;
pub mod ident;
pub mod mapping;
pub mod metrics;
pub mod pg_type;
mod plan;
pub mod schema;
mod sink;
pub mod sluice_tables;
pub mod tombstones;
pub mod upsert_sql;

pub use config::{DeleteMode, KeyMode, PostgresSinkConfig, TableOverride, TruncateMode};
pub use exec::{COPY_MIN_ROWS, WritePath};
pub use sink::{PostgresSink, target_column_name};
