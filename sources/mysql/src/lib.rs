//! # sluice-source-mysql — the built-in MySQL/MariaDB binlog source
//!
//! Reads a MySQL or MariaDB server as a replica and turns its row-based
//! binlog into sluice [`ChangeEvent`](sluice_sink_api::ChangeEvent)s, whole
//! source transactions at a time, each with the position to resume from.
//!
//! * [`stream`]: registers as a replica (`server_id`), streams from a file/pos
//!   or GTID position (both flavours), decodes rows with the table maps'
//!   full metadata, groups them into transactions, tracks DDL, sends
//!   heartbeats, and reconnects from the last fully processed transaction.
//! * [`snapshot`]: consistent initial snapshot, chunked by primary key,
//!   resumable per table.
//! * [`debezium`]: Debezium-compatible JSON (with schema) for row changes,
//!   keys, transaction metadata and schema changes.
//! * [`kafka`]: Kafka output mode (idempotent producer, acks=all), the
//!   position stored only after Kafka acknowledged everything up to it.
//! * [`store`]: the Postgres tables for positions, snapshot progress and
//!   schema history.
//!
//! Guarantees: a transaction is emitted only whole and only once per
//! connection; after a reconnect or restart streaming resumes right after the
//! last transaction the caller confirmed (at-least-once end to end, exactly
//! once in effect through versioned sinks). Versions: binlog file sequence,
//! rows-event position, row index ([`sluice_sink_api::Version::mysql`]);
//! snapshot rows carry the snapshot position's version (see
//! [`position::BinlogPosition::snapshot_version`]).

pub mod binlog;
pub mod config;
pub mod debezium;
pub mod decode;
pub mod error;
pub mod filter;
pub mod gtid;
pub mod kafka;
pub mod metrics;
pub mod position;
pub mod runner;
pub mod schema;
pub mod server_check;
pub mod snapshot;
pub mod store;
pub mod stream;

pub use config::{MysqlSourceConfig, SnapshotMode};
pub use error::{Result, SourceError};
pub use gtid::{Flavor, GtidSet};
pub use position::BinlogPosition;
pub use stream::{SourceChange, SourceItem, SourceStream, SourceTransaction};
