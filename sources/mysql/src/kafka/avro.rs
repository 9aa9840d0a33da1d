//! The Avro form of the Kafka output: what Confluent's AvroConverter
//! (`connect.meta.data=true`) writes for the Connect schema and payload of
//! each JsonConverter record [`crate::debezium::DebeziumSerializer`] builds.
//!
//! # Contract
//!
//! * Input: a record whose key and value are `{"schema": …, "payload": …}`
//!   (the serializer runs with schemas in Avro mode); a missing key stays
//!   missing and a tombstone (no value) stays a tombstone.
//! * Output: the Confluent wire format — byte 0, the 4-byte big-endian schema
//!   id, the Avro binary datum — for keys and values alike
//!   (row-change, transaction and schema-change topics).
//! * Schemas are registered under `<topic>-key` / `<topic>-value`
//!   ([`super::registry`]) once per distinct Connect schema and subject: the
//!   cache is keyed by the schema's raw JSON text, so registration happens
//!   once per table version, not per record. Records of one table version
//!   start with the same `{"schema":…,"payload":` bytes (the serializer
//!   writes that prefix once per version), so a record whose bytes start
//!   with its topic's last prefix skips even the schema scan.
//! * Each distinct schema is parsed, resolved and given its Avro writer once
//!   and kept for the life of the process (schemas are immutable and few:
//!   one per table version and subject).
//! * A registry that is unavailable pauses the caller (retries); a refused
//!   schema or a payload that does not fit its schema is a fatal error naming
//!   the topic — the record is not sent and nothing after it is stored.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_json::value::RawValue;
use tracing::info;

use super::registry::Registry;
use crate::debezium::KafkaRecord;
use crate::debezium::avro_schema::to_avro_schema;
use crate::debezium::avro_value::to_avro_value;
use crate::error::SourceError;

/// Confluent's magic byte.
pub const MAGIC: u8 = 0;

/// A JsonConverter record, its schema kept as raw text.
#[derive(Deserialize)]
struct Connect<'a> {
    #[serde(borrow)]
    schema: &'a RawValue,
    payload: Json,
}

/// One registered schema, with its writer.
struct Prepared {
    id: u32,
    connect: Json,
    /// Resolving a schema's named types is most of the cost of building a
    /// writer, so the writer is built once. It borrows its schema: the schema
    /// is leaked to live as long as the process, which bounds the leak to one
    /// schema per distinct (subject, Connect schema) seen — never evicted.
    writer: apache_avro::writer::datum::GenericDatumWriter<'static>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The record prefix (`{"schema":<schema>,"payload":`) last seen for a
/// topic's key or value, and its schema.
#[derive(Debug)]
struct Recent {
    prefix: Vec<u8>,
    prepared: Arc<Prepared>,
}

/// Converts JsonConverter records to Avro (see the module docs).
#[derive(Debug)]
pub struct AvroEncoder {
    registry: Registry,
    /// subject → raw Connect schema text → registered schema.
    cache: HashMap<String, HashMap<Box<str>, Arc<Prepared>>>,
    /// topic → the last (key, value) prefixes.
    recent: HashMap<String, [Option<Recent>; 2]>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Key,
    Value,
}

impl Part {
    fn suffix(self) -> &'static str {
        match self {
            Part::Key => "key",
            Part::Value => "value",
        }
    }

    fn index(self) -> usize {
        match self {
            Part::Key => 0,
            Part::Value => 1,
        }
    }
}

impl AvroEncoder {
    pub fn new(registry: Registry) -> Self {
        AvroEncoder { registry, cache: HashMap::new(), recent: HashMap::new() }
    }

    /// The record with its key and value in the Avro wire format.
    pub async fn encode(&mut self, record: KafkaRecord) -> Result<KafkaRecord, SourceError> {
        let key = match &record.key {
            Some(k) => Some(self.encode_part(&record.topic, Part::Key, k).await?),
            None => None,
        };
        let value = match &record.value {
            Some(v) => Some(self.encode_part(&record.topic, Part::Value, v).await?),
            None => None,
        };
        Ok(KafkaRecord { topic: record.topic, key, value })
    }

    async fn prepared(&mut self, subject: &str, raw: &str) -> Result<Arc<Prepared>, SourceError> {
        if let Some(p) = self.cache.get(subject).and_then(|m| m.get(raw)) {
            return Ok(p.clone());
        }
        let connect: Json = serde_json::from_str(raw)
            .map_err(|e| SourceError::Avro(format!("subject {subject:?}: the Connect schema is not JSON: {e}")))?;
        let avro_json = to_avro_schema(&connect).map_err(|e| SourceError::Avro(format!("subject {subject:?}: {e}")))?;
        let text = avro_json.to_string();
        let avro = apache_avro::Schema::parse_str(&text)
            .map_err(|e| SourceError::Avro(format!("subject {subject:?}: the Avro schema is invalid: {e}")))?;
        let id = self.registry.register(subject, &text).await?;
        info!(subject, id, registry = self.registry.shown(), "Avro schema registered");
        let avro: &'static apache_avro::Schema = Box::leak(Box::new(avro));
        let writer = apache_avro::writer::datum::GenericDatumWriter::builder(avro)
            .build()
            .map_err(|e| SourceError::Avro(format!("subject {subject:?}: {e}")))?;
        let prepared = Arc::new(Prepared { id, connect, writer });
        self.cache.entry(subject.to_string()).or_default().insert(raw.into(), prepared.clone());
        Ok(prepared)
    }

    async fn encode_part(&mut self, topic: &str, part: Part, bytes: &[u8]) -> Result<Vec<u8>, SourceError> {
        let what = || format!("{} of a record for topic {topic}", part.suffix());
        // Fast path: the same schema prefix as this topic's last record.
        let recent = self
            .recent
            .get(topic)
            .and_then(|r| r[part.index()].as_ref())
            .filter(|r| bytes.len() > r.prefix.len() && bytes.starts_with(&r.prefix) && bytes.ends_with(b"}"));
        let fast = recent.and_then(|r| {
            let payload = serde_json::from_slice::<Json>(&bytes[r.prefix.len()..bytes.len() - 1]).ok()?;
            Some((r.prepared.clone(), payload))
        });
        let (prepared, payload) = match fast {
            Some(found) => found,
            None => {
                let record: Connect<'_> = serde_json::from_slice(bytes).map_err(|e| {
                    SourceError::Avro(format!("{}: not a JsonConverter record with schema: {e}", what()))
                })?;
                let subject = format!("{topic}-{}", part.suffix());
                let prepared = self.prepared(&subject, record.schema.get()).await?;
                // Remember the prefix when the record has the serializer's exact layout.
                let raw = record.schema.get().as_bytes();
                let end = raw.as_ptr() as usize - bytes.as_ptr() as usize + raw.len();
                let prefix = &bytes[..end];
                if prefix.starts_with(b"{\"schema\":") && bytes[end..].starts_with(b",\"payload\":") {
                    let prefix = [prefix, b",\"payload\":"].concat();
                    let slot = self.recent.entry(topic.to_string()).or_default();
                    slot[part.index()] = Some(Recent { prefix, prepared: prepared.clone() });
                }
                (prepared, record.payload)
            }
        };
        let value =
            to_avro_value(&prepared.connect, &payload).map_err(|e| SourceError::Avro(format!("{}: {e}", what())))?;
        let mut out = Vec::with_capacity(256);
        out.push(MAGIC);
        out.extend_from_slice(&prepared.id.to_be_bytes());
        prepared.writer.write_value(&mut out, value).map_err(|e| SourceError::Avro(format!("{}: {e}", what())))?;
        Ok(out)
    }
}
