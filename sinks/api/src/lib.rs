//! # sluice-sink-api — the vocabulary of sluice
//!
//! Everything the engine and the sinks agree on:
//!
//! * [`ChangeEvent`]: one normalized row change (table, op, key, before/after
//!   [`Row`]s of lossless [`Value`]s, [`Version`], source commit time,
//!   transaction reference, Kafka [`Origin`]).
//! * [`ChangeBatch`]: whole source transactions in source order.
//! * [`Sink`]: the trait every target implements, with its contract
//!   (durable on `Ok`, idempotent by version, no resurrection, poison isolated).
//! * [`SinkError`] classified [`ErrorClass::Transient`] / [`ErrorClass::Permanent`] /
//!   [`ErrorClass::Fatal`], and [`RejectKind`] for what goes to the DLQ.
//! * [`MemorySink`]: a version-honouring in-memory (optionally journaled) sink.
//! * [`conformance`]: the suite every sink runs against its real target.
//!
//! Sink crates depend on this crate only; they never see the engine.

pub mod canonical;
pub mod config;
pub mod conformance;
mod error;
mod event;
mod memory;
mod row;
mod schema;
mod sink;
pub mod temporal;
pub mod testing;
mod value;
mod version;

pub use config::{ConfigProblem, Problems, Secret};
pub use error::{ErrorClass, RejectKind, SinkError};
pub use event::{ChangeBatch, ChangeEvent, Checkpoint, CheckpointPosition, Op, Origin, TableId, TxRef};
pub use memory::{KeyState, MemorySink, MemorySinkOptions};
pub use row::Row;
pub use schema::{ColumnSchema, ColumnType, TableSchema};
pub use sink::{ApplyReport, Capabilities, Rejection, Sink};
pub use value::{Bits, Decimal, Geometry, Precision, UNAVAILABLE_PLACEHOLDER, Value};
pub use version::{Version, VersionOverflow, VersionScheme};
