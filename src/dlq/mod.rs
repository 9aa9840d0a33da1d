//! The dead-letter queue: records that can never apply are parked in
//! Postgres with their raw bytes, and the `sluice dlq` commands list, show,
//! replay, resolve and purge them (docs/dlq.md).
//!
//! * [`letter`](DeadLetter): what the pipeline parks and the store contract;
//! * [`PostgresDeadLetters`]: the store ([`store`](PostgresDeadLetters::park)),
//!   its migrations ([`PostgresDeadLetters::migrate`]), queries and updates;
//! * [`Replayer`]: re-decoding and re-applying entries;
//! * [`spawn_depth_gauge`]: the `sluice_dlq_unresolved` gauge.

mod depth;
mod entry;
mod filter;
mod letter;
mod migrate;
mod queries;
mod replay;
mod resolve;
mod store;

pub use depth::{DEPTH_REFRESH, DepthGauge, spawn_depth_gauge, spawn_depth_gauge_every};
pub use entry::{DlqEntry, DlqSummary, Resolution, decode_headers, encode_headers};
pub use filter::{EntryFilter, EntryState};
pub use letter::{ALL_SINKS, DeadLetter, DeadLetterStore, DlqError, MemoryDeadLetters};
pub use migrate::{MigrationReport, migrator};
pub use queries::{Depth, RecordCursor, StatsRow};
pub use replay::{EntryResult, Outcome, Replayer, decode_entry, fetch_entry_schemas};
pub use resolve::HandResolution;
pub use store::PostgresDeadLetters;
