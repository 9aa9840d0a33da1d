//! The ack tracker: which Kafka offsets are safe to commit.
//!
//! # Contract
//!
//! * Every consumed record — data, tombstone, transaction marker, heartbeat,
//!   decode failure — is [`AckTracker::register`]ed in arrival order per
//!   partition and later resolved exactly once: applied by every sink, found
//!   stale, or durably dead-lettered.
//! * The committable offset of a partition is `o + 1` where `o` is the last
//!   registered offset whose predecessors (in arrival order) are all resolved.
//!   There is no offset arithmetic across gaps: offsets that were never
//!   delivered (compaction, Kafka transaction markers) are simply not in the
//!   sequence.
//! * A record marked [`AckTracker::pin`] (its sinks failed fatally) never
//!   resolves: its partition cannot commit past it.
//! * Assignment epochs fence late acks: after a partition is revoked (or
//!   re-assigned), resolutions carrying an older [`AckToken`] are ignored.
//! * The tracker also counts the bytes of unresolved records, which bounds
//!   memory (the consumer pauses when the limit is reached).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: Arc<str>,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: &str, partition: i32) -> Self {
        TopicPartition { topic: Arc::from(topic), partition }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// Proof of registration; resolving needs it. Carries the assignment epoch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AckToken {
    pub tp: TopicPartition,
    pub offset: i64,
    pub epoch: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Pending,
    Resolved,
    Pinned,
}

#[derive(Debug)]
struct Slot {
    offset: i64,
    bytes: u64,
    state: SlotState,
}

#[derive(Debug, Default)]
struct PartitionTrack {
    epoch: u64,
    pending: VecDeque<Slot>,
    /// Next offset to consume, as far as everything before it is resolved.
    safe_next: Option<i64>,
    /// Last next-offset handed out for commit.
    committed: Option<i64>,
    last_registered: Option<i64>,
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackError {
    #[error("partition {0} is not assigned")]
    NotAssigned(TopicPartition),
    #[error("offset {offset} on {tp} arrived after offset {last}: offsets must increase within an assignment")]
    OutOfOrder { tp: TopicPartition, offset: i64, last: i64 },
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct AckTracker {
    partitions: HashMap<TopicPartition, PartitionTrack>,
    next_epoch: u64,
    in_flight_bytes: u64,
    in_flight_records: u64,
}

impl AckTracker {
    pub fn new() -> Self {
        AckTracker::default()
    }

    /// Starts tracking a partition (a new epoch; forgets any previous state of it).
    pub fn assign(&mut self, tp: TopicPartition) -> u64 {
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        if let Some(old) = self.partitions.remove(&tp) {
            self.forget(&old);
        }
        self.partitions.insert(tp, PartitionTrack { epoch, ..Default::default() });
        epoch
    }

    fn forget(&mut self, track: &PartitionTrack) {
        for slot in &track.pending {
            if slot.state != SlotState::Resolved {
                self.in_flight_bytes = self.in_flight_bytes.saturating_sub(slot.bytes);
                self.in_flight_records = self.in_flight_records.saturating_sub(1);
            }
        }
    }

    /// Stops tracking a partition. Returns the next offset that is safe to
    /// commit for it (if it advanced beyond the last commit), to be committed
    /// synchronously by the caller before the partition is handed over.
    pub fn revoke(&mut self, tp: &TopicPartition) -> Option<i64> {
        let track = self.partitions.remove(tp)?;
        self.forget(&track);
        match (track.safe_next, track.committed) {
            (Some(next), Some(done)) if next <= done => None,
            (next, _) => next,
        }
    }

    /// The current assignment epoch of `tp`.
    pub fn epoch_of(&self, tp: &TopicPartition) -> Option<u64> {
        self.partitions.get(tp).map(|t| t.epoch)
    }

    pub fn is_assigned(&self, tp: &TopicPartition) -> bool {
        self.partitions.contains_key(tp)
    }

    pub fn assigned(&self) -> Vec<TopicPartition> {
        let mut v: Vec<_> = self.partitions.keys().cloned().collect();
        v.sort();
        v
    }

    /// Records the arrival of `offset` (with its size) on `tp`.
    pub fn register(&mut self, tp: &TopicPartition, offset: i64, bytes: u64) -> Result<AckToken, TrackError> {
        let track = self.partitions.get_mut(tp).ok_or_else(|| TrackError::NotAssigned(tp.clone()))?;
        if let Some(last) = track.last_registered
            && offset <= last
        {
            return Err(TrackError::OutOfOrder { tp: tp.clone(), offset, last });
        }
        track.last_registered = Some(offset);
        track.pending.push_back(Slot { offset, bytes, state: SlotState::Pending });
        self.in_flight_bytes += bytes;
        self.in_flight_records += 1;
        Ok(AckToken { tp: tp.clone(), offset, epoch: track.epoch })
    }

    fn slot_mut(track: &mut PartitionTrack, offset: i64) -> Option<&mut Slot> {
        let index = track.pending.binary_search_by_key(&offset, |s| s.offset).ok()?;
        track.pending.get_mut(index)
    }

    /// Marks a record resolved. Late acks (revoked partition or older epoch)
    /// and double resolutions are ignored; returns whether it counted.
    pub fn resolve(&mut self, token: &AckToken) -> bool {
        let Some(track) = self.partitions.get_mut(&token.tp) else { return false };
        if track.epoch != token.epoch {
            return false;
        }
        let Some(slot) = Self::slot_mut(track, token.offset) else { return false };
        if slot.state != SlotState::Pending {
            return false;
        }
        slot.state = SlotState::Resolved;
        let bytes = slot.bytes;
        while let Some(front) = track.pending.front() {
            if front.state != SlotState::Resolved {
                break;
            }
            track.safe_next = Some(front.offset + 1);
            track.pending.pop_front();
        }
        self.in_flight_bytes = self.in_flight_bytes.saturating_sub(bytes);
        self.in_flight_records = self.in_flight_records.saturating_sub(1);
        true
    }

    /// Pins a record: it will never resolve, so its partition never commits
    /// past it (a sink failed fatally on it).
    pub fn pin(&mut self, token: &AckToken) {
        let Some(track) = self.partitions.get_mut(&token.tp) else { return };
        if track.epoch != token.epoch {
            return;
        }
        if let Some(slot) = Self::slot_mut(track, token.offset)
            && slot.state == SlotState::Pending
        {
            slot.state = SlotState::Pinned;
        }
    }

    /// Partitions whose safe offset moved beyond the last commit, with the
    /// next offset to commit. Call [`AckTracker::mark_committed`] once the
    /// commit succeeded.
    pub fn committable(&self) -> Vec<(TopicPartition, i64)> {
        let mut out: Vec<_> = self
            .partitions
            .iter()
            .filter_map(|(tp, t)| match (t.safe_next, t.committed) {
                (Some(next), Some(done)) if next <= done => None,
                (Some(next), _) => Some((tp.clone(), next)),
                (None, _) => None,
            })
            .collect();
        out.sort();
        out
    }

    pub fn mark_committed(&mut self, tp: &TopicPartition, next_offset: i64) {
        if let Some(track) = self.partitions.get_mut(tp) {
            track.committed = Some(track.committed.map_or(next_offset, |c| c.max(next_offset)));
        }
    }

    /// The next offset safe to commit for `tp` (regardless of what was committed).
    pub fn safe_next(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).and_then(|t| t.safe_next)
    }

    /// The next offset of `tp` that would be safe to commit once the records
    /// at `offsets` (tokens of assignment `epoch`) are resolved too: every
    /// record before it is resolved or among `offsets`. `None` when the
    /// partition is not assigned in that epoch or the position would not
    /// move. Exactly-once mode stores it with the batch that resolves them.
    pub fn safe_next_with(&self, tp: &TopicPartition, epoch: u64, offsets: &[i64]) -> Option<i64> {
        let track = self.partitions.get(tp)?;
        if track.epoch != epoch {
            return None;
        }
        let mut next = None;
        for slot in &track.pending {
            if slot.state == SlotState::Resolved || offsets.binary_search(&slot.offset).is_ok() {
                next = Some(slot.offset + 1);
            } else {
                break;
            }
        }
        next
    }

    /// Whether `tp` has unresolved records.
    pub fn has_pending(&self, tp: &TopicPartition) -> bool {
        self.partitions.get(tp).is_some_and(|t| !t.pending.is_empty())
    }

    /// Whether a pinned record blocks `tp`.
    pub fn is_pinned(&self, tp: &TopicPartition) -> bool {
        self.partitions.get(tp).is_some_and(|t| t.pending.iter().any(|s| s.state == SlotState::Pinned))
    }

    pub fn in_flight_bytes(&self) -> u64 {
        self.in_flight_bytes
    }

    pub fn in_flight_records(&self) -> u64 {
        self.in_flight_records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn out_of_order_completion_commits_only_contiguous_prefix() {
        let mut t = AckTracker::new();
        t.assign(tp(0));
        let tokens: Vec<_> = (0..5).map(|o| t.register(&tp(0), o, 10).unwrap()).collect();
        assert!(t.resolve(&tokens[2]));
        assert!(t.resolve(&tokens[4]));
        assert_eq!(t.committable(), vec![]);
        assert!(t.resolve(&tokens[0]));
        assert_eq!(t.committable(), vec![(tp(0), 1)]);
        assert!(t.resolve(&tokens[1]));
        assert_eq!(t.committable(), vec![(tp(0), 3)]);
        t.mark_committed(&tp(0), 3);
        assert_eq!(t.committable(), vec![]);
        assert!(t.resolve(&tokens[3]));
        assert_eq!(t.committable(), vec![(tp(0), 5)]);
        assert_eq!(t.in_flight_bytes(), 0);
        assert_eq!(t.in_flight_records(), 0);
    }

    #[test]
    fn gaps_in_offsets_are_not_arithmetic() {
        let mut t = AckTracker::new();
        t.assign(tp(0));
        let a = t.register(&tp(0), 10, 1).unwrap();
        let b = t.register(&tp(0), 13, 1).unwrap(); // 11, 12 never delivered
        let c = t.register(&tp(0), 20, 1).unwrap();
        t.resolve(&b);
        assert_eq!(t.committable(), vec![], "10 is unresolved: nothing is safe");
        t.resolve(&a);
        assert_eq!(t.committable(), vec![(tp(0), 14)]);
        t.resolve(&c);
        assert_eq!(t.committable(), vec![(tp(0), 21)]);
    }

    #[test]
    fn revoke_during_in_flight_work_returns_safe_offset_and_ignores_late_acks() {
        let mut t = AckTracker::new();
        t.assign(tp(0));
        let a = t.register(&tp(0), 0, 5).unwrap();
        let b = t.register(&tp(0), 1, 5).unwrap();
        t.resolve(&a);
        assert_eq!(t.revoke(&tp(0)), Some(1));
        assert_eq!(t.in_flight_bytes(), 0, "revoked work no longer counts");
        assert!(!t.resolve(&b), "late ack after revoke is ignored");
        // re-assignment starts a new epoch: the old token stays dead
        t.assign(tp(0));
        let b2 = t.register(&tp(0), 1, 5).unwrap();
        assert!(!t.resolve(&b));
        assert_eq!(t.committable(), vec![]);
        assert!(t.resolve(&b2));
        assert_eq!(t.committable(), vec![(tp(0), 2)]);
    }

    #[test]
    fn revoke_with_nothing_new_returns_none() {
        let mut t = AckTracker::new();
        t.assign(tp(0));
        let a = t.register(&tp(0), 0, 1).unwrap();
        t.resolve(&a);
        t.mark_committed(&tp(0), 1);
        assert_eq!(t.revoke(&tp(0)), None);
        assert_eq!(t.revoke(&tp(1)), None, "unknown partition");
    }

    #[test]
    fn fatal_pin_blocks_the_partition_forever() {
        let mut t = AckTracker::new();
        t.assign(tp(0));
        t.assign(tp(1));
        let a = t.register(&tp(0), 0, 1).unwrap();
        let b = t.register(&tp(0), 1, 1).unwrap();
        let c = t.register(&tp(0), 2, 1).unwrap();
        let other = t.register(&tp(1), 0, 1).unwrap();
        t.resolve(&a);
        t.pin(&b);
        t.resolve(&c);
        assert!(!t.resolve(&b), "a pinned record cannot be resolved");
        t.resolve(&other);
        assert_eq!(t.committable(), vec![(tp(0), 1), (tp(1), 1)]);
        assert!(t.is_pinned(&tp(0)));
        assert!(!t.is_pinned(&tp(1)));
    }

    #[test]
    fn safe_next_with_counts_the_batch_as_resolved() {
        let mut t = AckTracker::new();
        let epoch = t.assign(tp(0));
        let tokens: Vec<_> = (0..5).map(|o| t.register(&tp(0), o, 1).unwrap()).collect();
        t.resolve(&tokens[0]);
        t.resolve(&tokens[2]);
        assert_eq!(t.safe_next_with(&tp(0), epoch, &[1]), Some(3), "0 resolved, 1 in the batch, 2 resolved");
        assert_eq!(t.safe_next_with(&tp(0), epoch, &[3, 4]), None, "1 is still pending: nothing moves");
        assert_eq!(t.safe_next_with(&tp(0), epoch + 1, &[1]), None, "stale epoch");
        assert_eq!(t.safe_next_with(&tp(1), epoch, &[1]), None, "not assigned");
    }

    #[test]
    fn double_resolution_and_unknown_offsets_are_ignored() {
        let mut t = AckTracker::new();
        t.assign(tp(0));
        let a = t.register(&tp(0), 0, 7).unwrap();
        assert!(t.resolve(&a));
        assert!(!t.resolve(&a));
        assert_eq!(t.in_flight_bytes(), 0);
        let bogus = AckToken { tp: tp(0), offset: 99, epoch: a.epoch };
        assert!(!t.resolve(&bogus));
    }

    #[test]
    fn registration_rules() {
        let mut t = AckTracker::new();
        assert!(matches!(t.register(&tp(0), 0, 1), Err(TrackError::NotAssigned(_))));
        t.assign(tp(0));
        t.register(&tp(0), 5, 1).unwrap();
        assert!(matches!(t.register(&tp(0), 5, 1), Err(TrackError::OutOfOrder { .. })));
        assert!(matches!(t.register(&tp(0), 4, 1), Err(TrackError::OutOfOrder { .. })));
    }

    proptest::proptest! {
        /// Whatever the completion order, the committed offset never passes an
        /// unresolved record, and ends at last+1 once everything resolved.
        #[test]
        fn never_commits_past_unresolved(order in proptest::collection::vec(0usize..64, 1..64), gaps in proptest::collection::vec(1i64..4, 64)) {
            let mut t = AckTracker::new();
            t.assign(tp(0));
            let mut offset = 0;
            let mut tokens = Vec::new();
            for g in gaps.iter() {
                offset += g;
                tokens.push(t.register(&tp(0), offset, 1).unwrap());
            }
            let mut resolved = std::collections::BTreeSet::new();
            for i in order {
                let i = i % tokens.len();
                t.resolve(&tokens[i]);
                resolved.insert(i);
                if let Some((_, next)) = t.committable().first() {
                    for (j, tok) in tokens.iter().enumerate() {
                        if tok.offset < *next {
                            proptest::prop_assert!(resolved.contains(&j), "committed {} past unresolved {}", next, tok.offset);
                        }
                    }
                }
            }
            for tok in &tokens {
                t.resolve(tok);
            }
            proptest::prop_assert_eq!(t.committable(), vec![(tp(0), tokens.last().unwrap().offset + 1)]);
        }
    }
}
