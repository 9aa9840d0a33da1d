//! Assembling units: how decoded changes become the units the batcher takes.
//!
//! Without transaction metadata every change is its own unit
//! ([`PassThrough`]). With it, the transaction buffer groups the changes of a
//! source transaction and releases whole transactions in commit order.

use std::time::Instant;

use sluice_sink_api::ChangeEvent;

use super::batcher::{Pending, Unit};
use crate::consume::TopicPartition;
use crate::decode::TxMarker;

/// Turns decoded changes and transaction markers into units.
///
/// `S` is the source record handle. Every source handed in must come back
/// out exactly once: in a released unit (as an event source or an
/// `extra_sources` entry), or from [`Assembler::resolved_now`] /
/// [`Assembler::revoke`].
pub trait Assembler<S>: Send {
    /// A change arrived; returns units that became ready.
    fn push_change(&mut self, event: ChangeEvent, source: S, bytes: u64) -> Vec<Unit<S>>;

    /// A transaction marker arrived; returns units that became ready.
    fn push_marker(&mut self, marker: TxMarker, source: S) -> Vec<Unit<S>>;

    /// Sources that need no application and can be resolved at once.
    fn resolved_now(&mut self) -> Vec<S>;

    /// Time passed: units released by timeouts (split transactions).
    fn tick(&mut self, now: Instant) -> Vec<Unit<S>>;

    /// Partitions revoked: drop what is buffered for them; returns the
    /// dropped sources (their acks are ignored by the tracker anyway).
    fn revoke(&mut self, partitions: &[TopicPartition]) -> Vec<S>;

    /// When [`Assembler::tick`] should be called next at the latest.
    fn next_deadline(&self) -> Option<Instant>;

    /// Whether units are source transactions (compaction must not cross them).
    fn units_are_transactions(&self) -> bool;

    /// Everything still buffered, released as is (graceful shutdown). Returns
    /// the sources to leave unresolved instead (incomplete transactions stay
    /// uncommitted and are re-read after restart).
    fn drain_unresolved(&mut self) -> Vec<S>;
}

/// Each change is its own unit; markers are resolved at once.
#[derive(Debug)]
pub struct PassThrough<S> {
    resolved: Vec<S>,
}

impl<S> Default for PassThrough<S> {
    fn default() -> Self {
        PassThrough { resolved: Vec::new() }
    }
}

impl<S: Send> Assembler<S> for PassThrough<S> {
    fn push_change(&mut self, event: ChangeEvent, source: S, bytes: u64) -> Vec<Unit<S>> {
        vec![Unit::single(Pending { event, sources: vec![source], bytes })]
    }

    fn push_marker(&mut self, _marker: TxMarker, source: S) -> Vec<Unit<S>> {
        self.resolved.push(source);
        Vec::new()
    }

    fn resolved_now(&mut self) -> Vec<S> {
        std::mem::take(&mut self.resolved)
    }

    fn tick(&mut self, _now: Instant) -> Vec<Unit<S>> {
        Vec::new()
    }

    fn revoke(&mut self, _partitions: &[TopicPartition]) -> Vec<S> {
        Vec::new()
    }

    fn next_deadline(&self) -> Option<Instant> {
        None
    }

    fn units_are_transactions(&self) -> bool {
        false
    }

    fn drain_unresolved(&mut self) -> Vec<S> {
        Vec::new()
    }
}
