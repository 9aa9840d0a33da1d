//! Dead letters: what the pipeline parks when a record can never apply.

use async_trait::async_trait;
use sluice_sink_api::RejectKind;

/// The `sink` value of dead letters that failed before any sink (decoding):
/// replaying them applies to every sink of the pipeline.
pub const ALL_SINKS: &str = "*";

/// One record that cannot apply to one sink (or to all, see [`ALL_SINKS`]).
///
/// The raw key and value are the record's bytes exactly as consumed, so a
/// replay re-decodes them with today's configuration and registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub consumer_group: String,
    pub sink: String,
    /// `db.table` (or `db.schema.table`) when known.
    pub table: Option<String>,
    pub class: RejectKind,
    /// Names the table, column/field and what was wrong; never secrets.
    pub message: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Confluent schema id of the value, when it was Avro.
    pub schema_id: Option<i32>,
}

/// Why parking failed. Always transient from the pipeline's point of view:
/// the record is not acknowledged, the pipeline retries with back-pressure.
#[derive(Debug, thiserror::Error)]
#[error("dead-letter queue unavailable: {message}")]
pub struct DlqError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DlqError {
    pub fn new(message: impl Into<String>) -> Self {
        DlqError { message: message.into(), source: None }
    }
}

/// Where dead letters go.
///
/// # Contract
/// `park` returns `Ok` only when every letter is durable. It is idempotent on
/// `(topic, partition, offset, consumer_group, sink)`: parking a letter again
/// (after a crash before the offset commit) must not create a duplicate.
#[async_trait]
pub trait DeadLetterStore: Send + Sync + std::fmt::Debug {
    async fn park(&self, letters: &[DeadLetter]) -> Result<(), DlqError>;
}

/// An in-memory store, for tests (optionally failing, to test DLQ outages).
#[derive(Debug, Default)]
pub struct MemoryDeadLetters {
    pub letters: parking_lot::Mutex<Vec<DeadLetter>>,
    pub failing: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl DeadLetterStore for MemoryDeadLetters {
    async fn park(&self, letters: &[DeadLetter]) -> Result<(), DlqError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DlqError::new("memory DLQ set to fail"));
        }
        let mut stored = self.letters.lock();
        for l in letters {
            let dup = stored.iter().any(|s| {
                s.topic == l.topic
                    && s.partition == l.partition
                    && s.offset == l.offset
                    && s.consumer_group == l.consumer_group
                    && s.sink == l.sink
            });
            if !dup {
                stored.push(l.clone());
            }
        }
        Ok(())
    }
}
