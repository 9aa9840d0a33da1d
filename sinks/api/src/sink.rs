//! The [`Sink`] trait: the contract between the engine and every target.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::error::{RejectKind, SinkError};
use crate::event::ChangeBatch;

/// A record the sink refused permanently; the engine dead-letters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Index of the event in [`ChangeBatch::events`].
    pub index: usize,
    pub kind: RejectKind,
    /// Names the table, column/field and what was wrong. No secrets.
    pub message: String,
}

/// The outcome of a successful [`Sink::apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Events whose write took effect.
    pub applied: u64,
    /// Events ignored because the target already held this or a newer version.
    pub stale: u64,
    /// Events refused permanently; every other event is durable.
    pub rejected: Vec<Rejection>,
}

impl ApplyReport {
    pub fn merge(&mut self, other: ApplyReport) {
        self.applied += other.applied;
        self.stale += other.stale;
        self.rejected.extend(other.rejected);
    }
}

/// What a sink can do beyond the base contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Every unit of a batch becomes visible atomically (one database
    /// transaction per batch).
    pub atomic_batches: bool,
    /// The sink stores [`ChangeBatch::checkpoint`] in the same transaction as
    /// the data and can read it back ([`Sink::load_checkpoint`]).
    pub checkpoints: bool,
}

/// A target that change events are applied to.
///
/// # Contract
///
/// * **Durability.** `apply` returning `Ok(report)` means every event of the
///   batch not listed in `report.rejected` is durable in the target.
/// * **Idempotence.** Delivery is at-least-once. Applying any event again, any
///   prefix again, or events of one key out of order must converge to the state
///   of applying the history once in order: a write whose [`Version`](crate::Version)
///   is not newer than what the target holds for that key is a no-op counted
///   in `stale`, never an error.
/// * **No resurrection.** A delete is remembered (versioned tombstone or soft
///   delete) so that an older upsert of the same key cannot bring it back.
/// * **Isolation of poison.** A record that can never apply is returned in
///   `rejected` (bisect the batch to find it); the rest of the batch applies.
///   Returning `Err` with a [`Permanent`](crate::ErrorClass::Permanent) class
///   means the sink could not isolate the record and the whole batch is
///   bisected by the engine.
/// * **Transient errors** (`Err` with [`Transient`](crate::ErrorClass::Transient))
///   mean nothing of the batch may be assumed durable; the engine retries the
///   whole batch with backoff, which idempotence makes safe.
/// * **Fatal errors** stop the pipeline; nothing after the batch is committed.
/// * **Unavailable values** ([`Value::Unavailable`](crate::Value::Unavailable))
///   and columns absent from a row are never written.
#[async_trait]
pub trait Sink: Send + Sync + Debug {
    /// The configured name of this sink instance (used in metrics and the DLQ).
    fn name(&self) -> &str;

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Connects and creates or verifies what the sink needs (tables, scripts).
    async fn startup(&self) -> Result<(), SinkError>;

    /// Cheap liveness check of the target.
    async fn healthcheck(&self) -> Result<(), SinkError>;

    /// Applies a batch. See the trait docs for the contract.
    async fn apply(&self, batch: &ChangeBatch) -> Result<ApplyReport, SinkError>;

    /// Reads the checkpoint stored for `owner` (see [`Capabilities::checkpoints`]).
    async fn load_checkpoint(&self, owner: &str) -> Result<Option<crate::Checkpoint>, SinkError> {
        let _ = owner;
        Ok(None)
    }

    /// Takes over `streams` (topic, partition) for `owner` before reading
    /// them (exactly-once mode): returns a fencing epoch above every epoch
    /// stored for `owner`, recorded for those streams, so that a previous
    /// writer of them (a zombie after a rebalance) can no longer commit a
    /// checkpoint of them. `None` when the sink stores no checkpoints.
    async fn claim_checkpoint(&self, owner: &str, streams: &[(String, i32)]) -> Result<Option<i64>, SinkError> {
        let _ = (owner, streams);
        Ok(None)
    }

    /// Flushes and releases connections.
    async fn shutdown(&self) -> Result<(), SinkError>;
}
