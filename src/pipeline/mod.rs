//! The pipeline between the consumer and the sinks: assembling units
//! (transaction buffer), batching with per-key compaction, dispatch with retry
//! and bisection, dead-letter routing, and the engine loop that ties them.

pub mod assembler;
pub mod batcher;
pub mod dispatch;
pub mod engine;
pub mod exactly_once;
pub mod policy;
pub mod retry;
pub mod tx_buffer;
pub mod work;

pub use engine::{Engine, RunSummary};
