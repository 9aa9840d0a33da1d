//! The input of the decoder: one Kafka record, borrowed.

use sluice_sink_api::Origin;

/// One record header (Kafka headers may repeat a name and carry no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader<'a> {
    pub key: &'a str,
    pub value: Option<&'a [u8]>,
}

/// A Kafka record as consumed: nothing is copied until decoding needs it.
///
/// `value: None` is a Kafka tombstone; a zero-length value is treated the same
/// way (nothing else can be decoded from it). `key: None` or an empty key
/// means the record has no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// The record's Kafka timestamp (informational).
    pub timestamp_ms: Option<i64>,
    pub headers: &'a [RecordHeader<'a>],
}

impl<'a> RawRecord<'a> {
    /// A record without timestamp or headers.
    pub fn new(topic: &'a str, partition: i32, offset: i64, key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Self {
        RawRecord { topic, partition, offset, key, value, timestamp_ms: None, headers: &[] }
    }

    /// Where the record came from, for events and errors.
    pub fn origin(&self) -> Origin {
        Origin::new(self.topic, self.partition, self.offset)
    }
}
