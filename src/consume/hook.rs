//! Hooks into partition assignment, for exactly-once mode (offsets stored in
//! a sink transactionally): the consumer starts a newly assigned partition at
//! the offset the hook returns instead of Kafka's committed offset.

use std::collections::HashMap;

use super::ack_tracker::TopicPartition;

/// Called on the consumer thread during a rebalance; must not block for long.
pub trait AssignmentHook: Send + Sync + std::fmt::Debug {
    /// Newly assigned partitions: returns the next offset to consume for the
    /// partitions it knows (others start from Kafka's committed offset).
    /// An error is fatal: consuming from the wrong offset could skip data.
    fn on_assign(&self, partitions: &[TopicPartition]) -> Result<HashMap<TopicPartition, i64>, String>;

    /// Partitions revoked from this process (fence further writes for them).
    fn on_revoke(&self, partitions: &[TopicPartition]) {
        let _ = partitions;
    }
}
