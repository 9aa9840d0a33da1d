//! Decoder options (built by the engine from the pipeline config).

use std::collections::HashMap;

use super::version::VersionSource;

/// Debezium's default heartbeat topic prefix (`__debezium-heartbeat.<prefix>`).
pub const DEFAULT_HEARTBEAT_TOPIC_PREFIX: &str = "__debezium-heartbeat";

/// Largest key or value accepted, in bytes (a larger record is a decode error,
/// never an allocation of its size).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// How records are decoded. `Default` suits Debezium topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderOptions {
    /// Topics that carry transaction metadata (`<prefix>.transaction`).
    /// Records are told apart by content anyway; a record on one of these
    /// topics that is not a BEGIN/END marker is a decode error.
    pub transaction_topics: Vec<String>,
    /// Records on topics starting with this prefix are heartbeats.
    pub heartbeat_topic_prefix: String,
    /// Where versions come from, for topics not listed in `topic_versions`.
    pub version_source: VersionSource,
    /// Per-topic override of `version_source`.
    pub topic_versions: HashMap<String, VersionSource>,
    /// Largest key or value accepted, in bytes.
    pub max_record_bytes: usize,
}

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            transaction_topics: Vec::new(),
            heartbeat_topic_prefix: DEFAULT_HEARTBEAT_TOPIC_PREFIX.to_string(),
            version_source: VersionSource::Source,
            topic_versions: HashMap::new(),
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

impl DecoderOptions {
    /// The version source of `topic`.
    pub fn version_source_for(&self, topic: &str) -> VersionSource {
        self.topic_versions.get(topic).copied().unwrap_or(self.version_source)
    }

    pub fn is_transaction_topic(&self, topic: &str) -> bool {
        self.transaction_topics.iter().any(|t| t == topic)
    }

    pub fn is_heartbeat_topic(&self, topic: &str) -> bool {
        !self.heartbeat_topic_prefix.is_empty() && topic.starts_with(&self.heartbeat_topic_prefix)
    }
}
