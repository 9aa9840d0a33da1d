//! The batcher: groups units (whole source transactions, or single events)
//! into batches, compacting changes of the same key.
//!
//! # Contract
//!
//! * A batch is flushed on the first of: `max_events` events, `max_bytes`
//!   bytes (raw record sizes), `max_wait` since its first unit arrived. A unit
//!   is never split: a unit larger than the limits forms a batch of its own.
//! * Compaction: changes of the same key (table + key columns) are merged,
//!   highest version wins. Merging never crosses a unit boundary when units are
//!   source transactions (`compact_across_units = false`); without transaction
//!   metadata every event is its own unit and the whole batch is one compaction
//!   scope. Columns that are absent or [`Value::Unavailable`] in the winning
//!   image take the older image's value (TOAST, partial updates), so
//!   compaction never loses data. A truncate ends the compaction scope of its
//!   table. Events without a key are never compacted.
//! * Every consumed record stays accounted for: a merged event carries the
//!   sources of every change it absorbed, so acks and dead-lettering cover all
//!   of them.
//!
//! [`Value::Unavailable`]: sluice_sink_api::Value::Unavailable

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sluice_sink_api::{ChangeBatch, ChangeEvent, Op, TableId};

/// Flush limits.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_bytes: u64,
    pub max_wait: Duration,
}

/// One change and where it came from. `S` identifies a consumed record
/// (its ack token and raw bytes).
#[derive(Debug, Clone)]
pub struct Pending<S> {
    pub event: ChangeEvent,
    /// The records whose effect this (possibly merged) event carries.
    pub sources: Vec<S>,
    /// Raw size of those records, for the byte limits.
    pub bytes: u64,
}

/// A unit: one source transaction, or one event without transaction metadata.
#[derive(Debug, Clone)]
pub struct Unit<S> {
    pub events: Vec<Pending<S>>,
    /// Records that belong to the unit without producing a change
    /// (transaction markers): resolved with the unit.
    pub extra_sources: Vec<S>,
}

impl<S> Unit<S> {
    pub fn single(pending: Pending<S>) -> Self {
        Unit { events: vec![pending], extra_sources: Vec::new() }
    }

    fn bytes(&self) -> u64 {
        self.events.iter().map(|p| p.bytes).sum()
    }
}

/// A flushed batch: what goes to the sinks, and the sources of each event.
#[derive(Debug)]
pub struct Batch<S> {
    pub changes: ChangeBatch,
    /// `sources[i]` are the records behind `changes.events[i]`.
    pub sources: Vec<Vec<S>>,
    /// Records resolved with the batch that carry no change.
    pub extra_sources: Vec<S>,
    pub bytes: u64,
    /// Events before compaction.
    pub consumed_events: usize,
}

/// See the module docs.
#[derive(Debug)]
pub struct Batcher<S> {
    limits: BatchLimits,
    compact_across_units: bool,
    units: Vec<Unit<S>>,
    events: usize,
    bytes: u64,
    started: Option<Instant>,
}

impl<S> Batcher<S> {
    pub fn new(limits: BatchLimits, compact_across_units: bool) -> Self {
        Batcher { limits, compact_across_units, units: Vec::new(), events: 0, bytes: 0, started: None }
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    pub fn len(&self) -> usize {
        self.events
    }

    /// Adds a unit. Returns true when the batch should be flushed now.
    pub fn push(&mut self, unit: Unit<S>) -> bool {
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        self.events += unit.events.len();
        self.bytes += unit.bytes();
        self.units.push(unit);
        self.is_full()
    }

    /// Whether the next unit of `events` events and `bytes` bytes would
    /// overflow the current batch (flush first to keep batches within limits).
    pub fn would_overflow(&self, events: usize, bytes: u64) -> bool {
        !self.units.is_empty()
            && (self.events + events > self.limits.max_events || self.bytes + bytes > self.limits.max_bytes)
    }

    pub fn is_full(&self) -> bool {
        self.events >= self.limits.max_events || self.bytes >= self.limits.max_bytes
    }

    /// When the current batch must be flushed at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        self.started.map(|s| s + self.limits.max_wait)
    }

    /// Takes the current batch (compacted), or `None` if empty.
    pub fn take(&mut self) -> Option<Batch<S>> {
        if self.units.is_empty() {
            return None;
        }
        let units = std::mem::take(&mut self.units);
        let bytes = std::mem::replace(&mut self.bytes, 0);
        let consumed_events = std::mem::replace(&mut self.events, 0);
        self.started = None;
        let mut batch = Batch {
            changes: ChangeBatch::default(),
            sources: Vec::new(),
            extra_sources: Vec::new(),
            bytes,
            consumed_events,
        };
        let mut scope: HashMap<(TableId, String), usize> = HashMap::new();
        for unit in units {
            if !self.compact_across_units {
                scope.clear();
            }
            let start = batch.changes.events.len();
            batch.extra_sources.extend(unit.extra_sources);
            for pending in unit.events {
                let Pending { event, sources, .. } = pending;
                if event.op == Op::Truncate {
                    let table = event.table.clone();
                    scope.retain(|(t, _), _| *t != table);
                } else if let Some(key) = event.key_identity() {
                    let slot = (event.table.clone(), key);
                    // `scope` only holds keys of the current compaction scope.
                    if let Some(&index) = scope.get(&slot) {
                        let existing = &mut batch.changes.events[index];
                        merge_into(existing, event);
                        batch.sources[index].extend(sources);
                        continue;
                    }
                    scope.insert(slot, batch.changes.events.len());
                }
                batch.changes.events.push(event);
                batch.sources.push(sources);
            }
            let end = batch.changes.events.len();
            if end > start {
                batch.changes.units.push(start..end);
            }
        }
        if self.compact_across_units {
            // Without transaction metadata, units are single events; after
            // compaction each remaining event is its own unit.
            batch.changes.units = (0..batch.changes.events.len()).map(|i| i..i + 1).collect();
        }
        Some(batch)
    }
}

/// Merges `incoming` into `existing` (same table and key): the higher version
/// wins; an upsert winner takes the loser's values for columns it lacks.
fn merge_into(existing: &mut ChangeEvent, incoming: ChangeEvent) {
    let (mut winner, loser) = if incoming.version >= existing.version {
        (incoming, std::mem::replace(existing, placeholder_like(existing)))
    } else {
        (std::mem::replace(existing, placeholder_like(existing)), incoming)
    };
    if winner.op.is_upsert()
        && loser.op.is_upsert()
        && let (Some(winner_after), Some(loser_after)) = (winner.after.as_mut(), loser.after.as_ref())
    {
        let mut merged = loser_after.clone();
        merged.overlay(winner_after);
        // keep the winner's own column order first
        *winner_after = merged;
    }
    if winner.before.is_none() {
        winner.before = loser.before;
    }
    *existing = winner;
}

fn placeholder_like(e: &ChangeEvent) -> ChangeEvent {
    ChangeEvent {
        table: e.table.clone(),
        op: e.op,
        key: None,
        before: None,
        after: None,
        version: e.version,
        source_ts: None,
        tx: None,
        origin: e.origin.clone(),
        schema: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sink_api::testing::EventBuilder;
    use sluice_sink_api::{Row, Value};

    fn limits(n: usize) -> BatchLimits {
        BatchLimits { max_events: n, max_bytes: 1 << 30, max_wait: Duration::from_secs(60) }
    }

    fn pending(e: ChangeEvent, src: u32) -> Pending<u32> {
        Pending { event: e, sources: vec![src], bytes: 100 }
    }

    fn b() -> EventBuilder {
        EventBuilder::new(TableId::new(Some("db"), None, "t"))
    }

    #[test]
    fn flushes_on_max_events_and_bytes() {
        let mut batcher = Batcher::new(limits(3), true);
        assert!(!batcher.push(Unit::single(pending(b().upsert(1, 1, "a"), 1))));
        assert!(!batcher.push(Unit::single(pending(b().upsert(2, 2, "a"), 2))));
        assert!(batcher.push(Unit::single(pending(b().upsert(3, 3, "a"), 3))));
        let mut by_bytes =
            Batcher::new(BatchLimits { max_events: 100, max_bytes: 150, max_wait: Duration::from_secs(1) }, true);
        assert!(!by_bytes.push(Unit::single(pending(b().upsert(1, 1, "a"), 1))));
        assert!(by_bytes.would_overflow(1, 100));
        assert!(by_bytes.push(Unit::single(pending(b().upsert(2, 2, "a"), 2))));
        assert!(by_bytes.deadline().is_some());
    }

    #[test]
    fn compacts_same_key_highest_version_wins_and_keeps_all_sources() {
        let mut batcher = Batcher::new(limits(100), true);
        batcher.push(Unit::single(pending(b().upsert(1, 1, "a"), 1)));
        batcher.push(Unit::single(pending(b().upsert(2, 2, "x"), 2)));
        batcher.push(Unit::single(pending(b().upsert(1, 5, "c"), 3)));
        batcher.push(Unit::single(pending(b().upsert(1, 3, "b"), 4))); // late, older
        let batch = batcher.take().unwrap();
        assert_eq!(batch.changes.events.len(), 2);
        assert_eq!(batch.consumed_events, 4);
        let e = &batch.changes.events[0];
        assert_eq!(e.after.as_ref().unwrap().get("name"), Some(&Value::Text("c".into())));
        assert_eq!(batch.sources[0], vec![1, 3, 4]);
        assert_eq!(batch.changes.units, vec![0..1, 1..2]);
    }

    #[test]
    fn delete_wins_over_older_upserts_and_reinsert_wins_over_delete() {
        let mut batcher = Batcher::new(limits(100), true);
        batcher.push(Unit::single(pending(b().upsert(1, 1, "a"), 1)));
        batcher.push(Unit::single(pending(b().delete(1, 2), 2)));
        let batch = batcher.take().unwrap();
        assert_eq!(batch.changes.events[0].op, Op::Delete);
        batcher.push(Unit::single(pending(b().delete(1, 2), 1)));
        batcher.push(Unit::single(pending(b().upsert(1, 3, "again"), 2)));
        let batch = batcher.take().unwrap();
        assert_eq!(batch.changes.events[0].op, Op::Update);
        assert_eq!(batch.changes.events[0].version, EventBuilder::version(3));
    }

    #[test]
    fn unavailable_columns_take_the_older_value() {
        let mut batcher = Batcher::new(limits(100), true);
        batcher.push(Unit::single(pending(b().upsert_row(1, 1, Row::new().with("name", "a").with("note", "big")), 1)));
        let mut toasted = Row::new().with("name", "b");
        toasted.insert("note", Value::Unavailable);
        batcher.push(Unit::single(pending(b().upsert_row(1, 2, toasted), 2)));
        let batch = batcher.take().unwrap();
        let after = batch.changes.events[0].after.as_ref().unwrap();
        assert_eq!(after.get("name"), Some(&Value::Text("b".into())));
        assert_eq!(after.get("note"), Some(&Value::Text("big".into())));
    }

    #[test]
    fn never_merges_across_transaction_units() {
        let mut batcher = Batcher::new(limits(100), false);
        let tx1 = Unit {
            events: vec![
                pending(EventBuilder::in_tx(b().upsert(1, 1, "a"), "tx1", 1), 1),
                pending(EventBuilder::in_tx(b().upsert(1, 2, "b"), "tx1", 2), 2),
            ],
            extra_sources: vec![100],
        };
        let tx2 = Unit {
            events: vec![pending(EventBuilder::in_tx(b().upsert(1, 3, "c"), "tx2", 1), 3)],
            extra_sources: vec![],
        };
        batcher.push(tx1);
        batcher.push(tx2);
        let batch = batcher.take().unwrap();
        assert_eq!(batch.changes.events.len(), 2, "merged inside tx1 only");
        assert_eq!(batch.changes.units, vec![0..1, 1..2]);
        assert_eq!(batch.sources, vec![vec![1, 2], vec![3]]);
        assert_eq!(batch.extra_sources, vec![100]);
    }

    #[test]
    fn truncate_ends_the_compaction_scope() {
        let mut batcher = Batcher::new(limits(100), true);
        batcher.push(Unit::single(pending(b().upsert(1, 1, "a"), 1)));
        let mut truncate = b().upsert(0, 2, "");
        truncate.op = Op::Truncate;
        truncate.key = None;
        batcher.push(Unit::single(pending(truncate, 2)));
        batcher.push(Unit::single(pending(b().upsert(1, 3, "c"), 3)));
        let batch = batcher.take().unwrap();
        assert_eq!(batch.changes.events.len(), 3);
        assert_eq!(batch.changes.events[1].op, Op::Truncate);
    }
}
