//! The transaction buffer: groups the changes of a source transaction and
//! releases whole transactions, in source commit order, as one unit each.
//!
//! # Contract
//!
//! * **Grouping.** Changes carrying a `transaction` block are held per
//!   transaction id. Changes without one (snapshot reads) are units of their own.
//! * **Completion.** A transaction is complete when its END marker arrived
//!   and, for every data collection of END's `data_collections` that the
//!   pipeline consumes, at least that many events arrived. Collections the
//!   pipeline does not consume are not waited for (`consumed` predicate; a
//!   collection an event was seen for counts as consumed). Without
//!   `data_collections`, END's `event_count` is the total to wait for.
//! * **Order.** Transactions are ordered by the arrival of their first marker
//!   on the transaction topic (Debezium writes markers in commit order; the
//!   topic must have one partition). A complete transaction is released only
//!   once every transaction before it was released; inside the unit, events
//!   are sorted by `total_order`. Data arriving before BEGIN, or END arriving
//!   before the data, only delays completion.
//! * **Offsets.** Buffered records are unresolved, so the ack tracker never
//!   commits a partition past an event (or marker) of an incomplete
//!   transaction. Markers are resolved with the unit that carries them.
//! * **Limits.** A transaction that exceeds `max_events` or `max_bytes`, or
//!   is not complete `max_wait` after its first record, is released in parts
//!   (what is buffered now; later records of it one by one), with a warning
//!   and `sluice_tx_split_total`. Nothing is ever dropped.
//! * **Duplicates.** Markers of a transaction already released (or split) in
//!   this run are resolved at once; its data events are released as single
//!   units (re-applying is harmless: the sinks count them stale). After a
//!   restart, records below the committed offsets are not delivered again,
//!   and a transaction whose markers are re-delivered without its data (its
//!   data partitions committed further) is released by the timeout path;
//!   since it was applied whole before, every re-applied part is stale.
//! * **Empty transactions** (DDL only, `event_count` 0): END completes them;
//!   their markers resolve at once.
//! * **Revoke** drops the records of revoked partitions from every
//!   transaction (they are read again by the next owner).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use sluice_sink_api::{ChangeEvent, Origin};

use super::assembler::Assembler;
use super::batcher::{Pending, Unit};
use crate::consume::TopicPartition;
use crate::decode::{TxMarker, TxStatus};
use crate::telemetry::names;

/// How many released transaction ids are remembered to recognise duplicates.
const RECENT_RELEASED: usize = 100_000;

/// Limits of one buffered transaction (`[transactions]`).
#[derive(Debug, Clone, Copy)]
pub struct TxLimits {
    pub max_events: usize,
    pub max_bytes: u64,
    pub max_wait: Duration,
}

/// Decides whether the pipeline consumes a data collection (`db.table` or
/// `schema.table`, as END's `data_collections` names it).
pub type CollectionFilter = Box<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Debug)]
struct HeldEvent<S> {
    pending: Pending<S>,
    tp: TopicPartition,
    collection: String,
}

#[derive(Debug)]
struct HeldMarker<S> {
    source: S,
    tp: TopicPartition,
    status: TxStatus,
}

#[derive(Debug, Clone)]
struct EndInfo {
    event_count: Option<u64>,
    collections: Vec<(String, u64)>,
}

#[derive(Debug)]
struct Tx<S> {
    events: Vec<HeldEvent<S>>,
    markers: Vec<HeldMarker<S>>,
    end: Option<EndInfo>,
    bytes: u64,
    deadline: Instant,
    queued: bool,
}

impl<S> Tx<S> {
    fn new(deadline: Instant) -> Self {
        Tx { events: Vec::new(), markers: Vec::new(), end: None, bytes: 0, deadline, queued: false }
    }

    fn received(&self, collection: &str) -> u64 {
        self.events.iter().filter(|e| e.collection == collection).count() as u64
    }
}

/// A bounded set of recently released transaction ids.
#[derive(Debug, Default)]
struct Recent {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Recent {
    fn insert(&mut self, id: String) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > RECENT_RELEASED
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }
}

/// See the module docs.
pub struct TxBuffer<S> {
    limits: TxLimits,
    consumed: CollectionFilter,
    txs: HashMap<String, Tx<S>>,
    /// Transactions with a marker, in marker arrival (commit) order.
    order: VecDeque<String>,
    /// Split transactions: later records pass through; forgotten after the instant.
    split: HashMap<String, Instant>,
    released: Recent,
    resolved: Vec<S>,
    seen_collections: HashSet<String>,
}

impl<S> std::fmt::Debug for TxBuffer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxBuffer")
            .field("limits", &self.limits)
            .field("buffered", &self.txs.len())
            .field("queued", &self.order.len())
            .finish_non_exhaustive()
    }
}

fn tp_of(origin: &Origin) -> TopicPartition {
    TopicPartition { topic: origin.topic.clone(), partition: origin.partition }
}

impl<S: Send> TxBuffer<S> {
    /// A buffer with `limits`; `consumed` tells which data collections the
    /// pipeline subscribes to (see [`collection_filter`]).
    pub fn new(limits: TxLimits, consumed: CollectionFilter) -> Self {
        TxBuffer {
            limits,
            consumed,
            txs: HashMap::new(),
            order: VecDeque::new(),
            split: HashMap::new(),
            released: Recent::default(),
            resolved: Vec::new(),
            seen_collections: HashSet::new(),
        }
    }

    /// Transactions currently buffered.
    pub fn buffered(&self) -> usize {
        self.txs.len()
    }

    fn is_consumed(&self, collection: &str) -> bool {
        self.seen_collections.contains(collection) || (self.consumed)(collection)
    }

    fn is_complete(&self, tx: &Tx<S>) -> bool {
        let Some(end) = &tx.end else { return false };
        if end.collections.is_empty() {
            return tx.events.len() as u64 >= end.event_count.unwrap_or(0);
        }
        end.collections.iter().all(|(c, n)| !self.is_consumed(c) || tx.received(c) >= *n)
    }

    fn tx_mut(&mut self, id: &str) -> &mut Tx<S> {
        let deadline = Instant::now() + self.limits.max_wait;
        self.txs.entry(id.to_string()).or_insert_with(|| Tx::new(deadline))
    }

    /// Turns a released transaction into its unit.
    fn unit_of(tx: Tx<S>) -> Unit<S> {
        let mut events = tx.events;
        events.sort_by_key(|e| e.pending.event.tx.as_ref().map_or(0, |t| t.total_order));
        Unit {
            events: events.into_iter().map(|e| e.pending).collect(),
            extra_sources: tx.markers.into_iter().map(|m| m.source).collect(),
        }
    }

    /// Releases complete transactions from the front of the commit order.
    fn release_ready(&mut self) -> Vec<Unit<S>> {
        let mut out = Vec::new();
        while let Some(id) = self.order.front() {
            let complete = self.txs.get(id).is_some_and(|tx| self.is_complete(tx));
            if !complete {
                break;
            }
            let id = self.order.pop_front().expect("front exists");
            if let Some(tx) = self.txs.remove(&id) {
                metrics::counter!(names::TX_APPLIED).increment(1);
                self.released.insert(id);
                out.push(Self::unit_of(tx));
            }
        }
        self.update_gauges();
        out
    }

    /// Releases what is buffered of `id` as a part; later records pass through.
    fn split(&mut self, id: &str, reason: &str, now: Instant) -> Option<Unit<S>> {
        let tx = self.txs.remove(id)?;
        self.order.retain(|o| o != id);
        metrics::counter!(names::TX_SPLIT).increment(1);
        tracing::warn!(
            tx = id,
            events = tx.events.len(),
            bytes = tx.bytes,
            has_end = tx.end.is_some(),
            reason,
            "source transaction applied in parts (readers may see it partially)"
        );
        self.split.insert(id.to_string(), now + self.limits.max_wait);
        Some(Self::unit_of(tx))
    }

    fn update_gauges(&self) {
        metrics::gauge!(names::TX_BUFFERED).set(self.txs.len() as f64);
        let events: usize = self.txs.values().map(|t| t.events.len()).sum();
        metrics::gauge!(names::TX_BUFFERED_EVENTS).set(events as f64);
    }
}

impl<S: Send> Assembler<S> for TxBuffer<S> {
    fn push_change(&mut self, event: ChangeEvent, source: S, bytes: u64) -> Vec<Unit<S>> {
        let Some(tx_ref) = event.tx.clone() else {
            return vec![Unit::single(Pending { event, sources: vec![source], bytes })];
        };
        let id = tx_ref.id;
        let collection = event.table.data_collection();
        self.seen_collections.insert(collection.clone());
        if self.split.contains_key(&id) {
            return vec![Unit::single(Pending { event, sources: vec![source], bytes })];
        }
        if self.released.contains(&id) {
            tracing::debug!(tx = %id, origin = %event.origin, "event of an already released transaction; applying alone");
            return vec![Unit::single(Pending { event, sources: vec![source], bytes })];
        }
        let tp = tp_of(&event.origin);
        let limits = self.limits;
        let tx = self.tx_mut(&id);
        tx.events.push(HeldEvent { pending: Pending { event, sources: vec![source], bytes }, tp, collection });
        tx.bytes += bytes;
        let oversized = tx.events.len() > limits.max_events || tx.bytes > limits.max_bytes;
        let mut out = Vec::new();
        if oversized {
            out.extend(self.split(&id, "transaction exceeds transactions.max_events/max_bytes", Instant::now()));
        }
        out.extend(self.release_ready());
        out
    }

    fn push_marker(&mut self, marker: TxMarker, source: S) -> Vec<Unit<S>> {
        let id = marker.id.clone();
        if self.split.contains_key(&id) || self.released.contains(&id) {
            if marker.status == TxStatus::End {
                self.split.remove(&id);
            }
            self.resolved.push(source);
            return Vec::new();
        }
        let tp = tp_of(&marker.origin);
        let tx = self.tx_mut(&id);
        tx.markers.push(HeldMarker { source, tp, status: marker.status });
        if marker.status == TxStatus::End {
            tx.end = Some(EndInfo { event_count: marker.event_count, collections: marker.data_collections });
        }
        let newly_queued = !tx.queued;
        tx.queued = true;
        if newly_queued {
            self.order.push_back(id.clone());
        }
        // An empty transaction (DDL only) needs no application: resolve it now.
        let empty_complete = self.txs.get(&id).is_some_and(|tx| tx.events.is_empty() && self.is_complete(tx));
        if empty_complete && let Some(tx) = self.txs.remove(&id) {
            self.order.retain(|o| *o != id);
            self.released.insert(id);
            self.resolved.extend(tx.markers.into_iter().map(|m| m.source));
        }
        self.release_ready()
    }

    fn resolved_now(&mut self) -> Vec<S> {
        std::mem::take(&mut self.resolved)
    }

    fn tick(&mut self, now: Instant) -> Vec<Unit<S>> {
        self.split.retain(|_, forget| *forget > now);
        // Overdue transactions, in commit order first, then those without markers.
        let mut overdue: Vec<String> =
            self.order.iter().filter(|id| self.txs.get(*id).is_some_and(|t| t.deadline <= now)).cloned().collect();
        let mut unordered: Vec<(&String, &Tx<S>)> =
            self.txs.iter().filter(|(_, t)| !t.queued && t.deadline <= now).collect();
        unordered.sort_by_key(|(_, t)| t.deadline);
        overdue.extend(unordered.into_iter().map(|(id, _)| id.clone()));
        let mut out = Vec::new();
        for id in overdue {
            out.extend(self.split(&id, "transaction incomplete after transactions.max_wait", now));
            out.extend(self.release_ready());
        }
        self.update_gauges();
        out
    }

    fn revoke(&mut self, partitions: &[TopicPartition]) -> Vec<S> {
        let revoked: HashSet<&TopicPartition> = partitions.iter().collect();
        let mut dropped = Vec::new();
        let mut emptied = Vec::new();
        for (id, tx) in self.txs.iter_mut() {
            let (gone, kept): (Vec<_>, Vec<_>) = tx.events.drain(..).partition(|e| revoked.contains(&e.tp));
            tx.events = kept;
            for e in gone {
                tx.bytes = tx.bytes.saturating_sub(e.pending.bytes);
                dropped.extend(e.pending.sources);
            }
            let (gone, kept): (Vec<_>, Vec<_>) = tx.markers.drain(..).partition(|m| revoked.contains(&m.tp));
            tx.markers = kept;
            dropped.extend(gone.into_iter().map(|m| m.source));
            if !tx.markers.iter().any(|m| m.status == TxStatus::End) {
                tx.end = None;
            }
            if tx.markers.is_empty() {
                tx.queued = false;
            }
            if tx.events.is_empty() && tx.markers.is_empty() {
                emptied.push(id.clone());
            }
        }
        for id in emptied {
            self.txs.remove(&id);
        }
        let txs = &self.txs;
        self.order.retain(|id| txs.get(id).is_some_and(|t| t.queued));
        self.update_gauges();
        dropped
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.txs.values().map(|t| t.deadline).min()
    }

    fn units_are_transactions(&self) -> bool {
        true
    }

    fn drain_unresolved(&mut self) -> Vec<S> {
        self.order.clear();
        let mut left = Vec::new();
        for (_, tx) in self.txs.drain() {
            left.extend(tx.events.into_iter().flat_map(|e| e.pending.sources));
            left.extend(tx.markers.into_iter().map(|m| m.source));
        }
        self.update_gauges();
        left
    }
}

/// The default [`CollectionFilter`]: a data collection is consumed when the
/// topic Debezium names for it, `<prefix>.<collection>` (`prefix` = the
/// transaction topic without `.transaction`), is one of `topics` or matches
/// `topic_regex`.
pub fn collection_filter(
    transaction_topic: &str,
    topics: &[String],
    topic_regex: Option<&str>,
) -> Result<CollectionFilter, regex::Error> {
    let prefix = transaction_topic.strip_suffix(".transaction").unwrap_or(transaction_topic).to_string();
    let topics: HashSet<String> = topics.iter().cloned().collect();
    let regex = match topic_regex {
        Some(re) => {
            let anchored = if re.starts_with('^') { re.to_string() } else { format!("^{re}") };
            Some(regex::Regex::new(&anchored)?)
        }
        None => None,
    };
    Ok(Box::new(move |collection: &str| {
        let topic = format!("{prefix}.{collection}");
        topics.contains(&topic) || regex.as_ref().is_some_and(|r| r.is_match(&topic))
    }))
}

#[cfg(test)]
#[path = "tx_buffer_tests.rs"]
mod tests;
