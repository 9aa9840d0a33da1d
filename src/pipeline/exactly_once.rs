//! Exactly-once mode (`commit.exactly_once_sink`): consumed offsets stored
//! with the data in the Postgres sink, read back on assignment, fenced.
//!
//! # Contract
//!
//! * Every batch carries a [`Checkpoint`] (owner = the consumer group): per
//!   partition of its records, the next offset that is safe once the batch is
//!   applied ([`ConsumerHandle::positions_after`]: every earlier record is
//!   resolved or in the batch). The sink writes it in the batch's database
//!   transaction, so data and positions commit or roll back together.
//! * On assignment, [`SinkOffsets`] (the consumer's [`AssignmentHook`])
//!   claims the partitions in the sink — a new epoch above every stored
//!   epoch of the group, stamped on them — and returns the stored offsets;
//!   the consumer starts there. Kafka's committed offsets are still written
//!   but only used for partitions the sink has no position for.
//! * Fencing: a writer whose partitions were claimed by another (a zombie
//!   after a rebalance) fails with a fatal `fenced` error and its batch rolls
//!   back. When the fenced batch's records all belong to assignments this
//!   process no longer holds (it re-claimed them itself after a revoke), the
//!   batch is abandoned instead: the records are read again.
//! * A failure to read or claim stored offsets is fatal: starting from the
//!   wrong offset could skip data.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sluice_sink_api::{Checkpoint, CheckpointPosition, Sink};

use crate::consume::{AckToken, AssignmentHook, ConsumerHandle, TopicPartition};

/// The checkpoint settings shared by the hook and the batches.
#[derive(Debug, Clone)]
pub struct CheckpointSpec {
    /// The owner of the stored positions: the consumer group.
    pub owner: String,
    /// The latest epoch claimed by this process (0 before the first claim).
    pub epoch: Arc<AtomicI64>,
}

impl CheckpointSpec {
    pub fn new(owner: impl Into<String>) -> Self {
        CheckpointSpec { owner: owner.into(), epoch: Arc::new(AtomicI64::new(0)) }
    }

    /// The checkpoint of a batch whose records are `tokens`.
    pub fn checkpoint(&self, consumer: &ConsumerHandle, tokens: &[AckToken]) -> Checkpoint {
        let positions = consumer
            .positions_after(tokens)
            .into_iter()
            .map(|(tp, next)| CheckpointPosition {
                stream: tp.topic.to_string(),
                partition: tp.partition,
                next_offset: next,
                detail: None,
            })
            .collect();
        Checkpoint { owner: self.owner.clone(), epoch: self.epoch.load(Ordering::SeqCst), positions }
    }
}

/// The [`AssignmentHook`] of exactly-once mode; see the module docs.
#[derive(Debug)]
pub struct SinkOffsets {
    pub sink: Arc<dyn Sink>,
    pub spec: CheckpointSpec,
    /// The runtime the sink's connections live on (the hook runs on the
    /// consumer thread, outside of it).
    pub runtime: tokio::runtime::Handle,
}

impl AssignmentHook for SinkOffsets {
    fn on_assign(&self, partitions: &[TopicPartition]) -> Result<HashMap<TopicPartition, i64>, String> {
        if partitions.is_empty() {
            return Ok(HashMap::new());
        }
        let streams: Vec<(String, i32)> = partitions.iter().map(|tp| (tp.topic.to_string(), tp.partition)).collect();
        let owner = self.spec.owner.clone();
        let sink = self.sink.clone();
        let (epoch, stored) = self.runtime.block_on(async move {
            let epoch = sink.claim_checkpoint(&owner, &streams).await.map_err(|e| e.full_message())?;
            let stored = sink.load_checkpoint(&owner).await.map_err(|e| e.full_message())?;
            Ok::<_, String>((epoch, stored))
        })?;
        let Some(epoch) = epoch else {
            return Err(format!("sink {} does not store checkpoints", self.sink.name()));
        };
        self.spec.epoch.fetch_max(epoch, Ordering::SeqCst);
        let mut offsets = HashMap::new();
        for p in stored.map(|c| c.positions).unwrap_or_default() {
            let tp = TopicPartition::new(&p.stream, p.partition);
            if p.next_offset >= 0 && partitions.contains(&tp) {
                offsets.insert(tp, p.next_offset);
            }
        }
        tracing::info!(
            epoch,
            stored = offsets.len(),
            assigned = partitions.len(),
            "exactly-once: partitions claimed; starting from the offsets stored with the data"
        );
        Ok(offsets)
    }
}
