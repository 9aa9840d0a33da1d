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
//!   id, the Avro binary datum ([`frame`]) — for keys and values alike
//!   (row-change, transaction and schema-change topics).
//! * Schemas are registered under `<topic>-key` / `<topic>-value`
//!   ([`super::registry`]) once per distinct Connect schema and subject: the
//!   cache is keyed by the schema's raw JSON text (never reparsed on a hit),
//!   so registration happens once per table version, not per record.
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

/// Frames an Avro datum: magic byte, big-endian schema id, datum.
pub fn frame(id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(datum.len() + 5);
    out.push(MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(datum);
    out
}

/// A JsonConverter record, its schema kept as raw text.
#[derive(Deserialize)]
struct Connect<'a> {
    #[serde(borrow)]
    schema: &'a RawValue,
    payload: Json,
}

/// One registered schema.
#[derive(Debug)]
struct Prepared {
    id: u32,
    connect: Json,
    avro: apache_avro::Schema,
}

/// Converts JsonConverter records to Avro (see the module docs).
#[derive(Debug)]
pub struct AvroEncoder {
    registry: Registry,
    /// subject → raw Connect schema text → registered schema.
    cache: HashMap<String, HashMap<Box<str>, Arc<Prepared>>>,
}

/// Distinct schemas kept per subject (older ones are registered again — an
/// idempotent request — if they come back).
const SCHEMAS_PER_SUBJECT: usize = 16;

#[derive(Clone, Copy)]
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
}

impl AvroEncoder {
    pub fn new(registry: Registry) -> Self {
        AvroEncoder { registry, cache: HashMap::new() }
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
        let prepared = Arc::new(Prepared { id, connect, avro });
        let entries = self.cache.entry(subject.to_string()).or_default();
        if entries.len() >= SCHEMAS_PER_SUBJECT {
            entries.clear();
        }
        entries.insert(raw.into(), prepared.clone());
        Ok(prepared)
    }

    async fn encode_part(&mut self, topic: &str, part: Part, bytes: &[u8]) -> Result<Vec<u8>, SourceError> {
        let what = || format!("{} of a record for topic {topic}", part.suffix());
        let record: Connect<'_> = serde_json::from_slice(bytes)
            .map_err(|e| SourceError::Avro(format!("{}: not a JsonConverter record with schema: {e}", what())))?;
        let subject = format!("{topic}-{}", part.suffix());
        let prepared = self.prepared(&subject, record.schema.get()).await?;
        let value = to_avro_value(&prepared.connect, &record.payload)
            .map_err(|e| SourceError::Avro(format!("{}: {e}", what())))?;
        let datum = apache_avro::writer::datum::GenericDatumWriter::builder(&prepared.avro)
            .build()
            .and_then(|w| w.write_value_to_vec(value))
            .map_err(|e| SourceError::Avro(format!("{}: {e}", what())))?;
        Ok(frame(prepared.id, &datum))
    }
}
