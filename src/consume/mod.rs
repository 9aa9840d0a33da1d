//! Kafka consumption with manual commits: the consumer thread, the ack
//! tracker that decides which offsets are safe to commit, and rebalance
//! handling. A reader can follow a record from [`consumer`] (poll, register)
//! through the pipeline back to [`ack_tracker`] (resolve) and the commit.

pub mod ack_tracker;
pub mod client_config;
pub mod consumer;
pub mod context;
pub mod hook;
pub mod record;

pub use ack_tracker::{AckToken, AckTracker, TopicPartition};
pub use consumer::{ConsumerError, ConsumerHandle, ConsumerSettings};
pub use hook::AssignmentHook;
pub use record::{ConsumedRecord, ConsumerEvent};
