//! What the consumer thread hands to the pipeline.

use super::ack_tracker::{AckToken, TopicPartition};

/// A record copied out of librdkafka, with its ack token.
#[derive(Debug, Clone)]
pub struct ConsumedRecord {
    pub token: AckToken,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp_ms: Option<i64>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl ConsumedRecord {
    pub fn topic(&self) -> &str {
        &self.token.tp.topic
    }

    pub fn partition(&self) -> i32 {
        self.token.tp.partition
    }

    pub fn offset(&self) -> i64 {
        self.token.offset
    }

    /// Approximate memory held by the record (payloads plus overhead).
    pub fn size(&self) -> u64 {
        let headers: usize = self.headers.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len)).sum();
        (self.key.as_ref().map_or(0, Vec::len) + self.value.as_ref().map_or(0, Vec::len) + headers + 96) as u64
    }
}

/// Events from the consumer thread, in the order they happened.
#[derive(Debug)]
pub enum ConsumerEvent {
    Record(ConsumedRecord),
    /// Partitions newly assigned to this process.
    Assigned(Vec<TopicPartition>),
    /// Partitions taken away: their buffered work must be dropped (acks for
    /// them are ignored from now on).
    Revoked(Vec<TopicPartition>),
    /// `--drain`: every subscribed partition is caught up (this member's
    /// applied and committed, the others committed by the group).
    Drained,
}
