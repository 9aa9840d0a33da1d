//! Avro in the Confluent wire format, with schemas from a Schema Registry.
//!
//! [`AvroConverter`] is a [`RecordConverter`]: it turns a framed key or value
//! (magic byte 0, 4-byte big-endian schema id, Avro binary — see [`wire`])
//! into the same [`ConnectData`] the JSON converter produces, so Debezium's
//! Avro envelope decodes to the same change event as its JSON twin. Keys and
//! values are told apart independently: with `decode.format = "auto"` (the
//! default) a key or value starting with the magic byte is Avro and anything
//! else is JSON (a topic may have Avro values and JSON keys); `"avro"` or
//! `"json"` force one format for a topic.
//!
//! Decoding never waits on the network: each record is decoded with its own
//! writer schema (schema evolution needs no reader schema: a record written
//! with a newer version simply carries the new columns), which must already be
//! cached. The engine asks [`RecordConverter::missing_schema`] and awaits
//! [`RecordConverter::fetch_schema`] first (through
//! [`Decoder::resolve_schemas`](crate::decode::Decoder::resolve_schemas)),
//! following the registry's outage policy ([`crate::registry`]).
//!
//! Errors: bytes that are not a framed record, a truncated id, an Avro body
//! that is truncated or longer than its schema says, an id the registry does
//! not know, a schema that is not valid Avro → permanent `decode` errors; a
//! schema the registry could not serve in time → `schema_unavailable`.
//! `docs/decoding.md` (section "Avro via a Confluent Schema Registry") is the
//! operator's guide.

mod datum;
mod schema;
mod setup;
pub mod wire;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

pub use schema::{AvroSchema, MAP_ENTRY, Node, Type, UNION_STRUCT};
pub use setup::{DecoderSetupError, build_decoder, decoder_options, registry_from_config, wire_format};

use super::connect::ConnectData;
use super::converter::{RecordConverter, RecordPart};
use super::error::FieldError;
use super::json::JsonConverter;
use crate::registry::{FetchedSchema, OutagePolicy, ResolveError, SchemaRegistry, SchemaSource};

/// A schema registry whose schemas are parsed as Avro.
pub type AvroRegistry = SchemaRegistry<Arc<AvroSchema>>;

/// The wire format of a topic's keys and values (`decode.format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WireFormat {
    /// Avro when the first byte is the magic byte 0, JSON otherwise (per key and per value).
    #[default]
    Auto,
    Json,
    Avro,
}

/// Parses what the registry returned as an Avro schema (the [`AvroRegistry`]'s parser).
pub fn parse_registry_schema(schema: &FetchedSchema, references: &[FetchedSchema]) -> Result<Arc<AvroSchema>, String> {
    if !schema.schema_type().eq_ignore_ascii_case("AVRO") {
        return Err(format!(
            "it is a {} schema; sluice decodes Avro (and JSON without a registry)",
            schema.schema_type()
        ));
    }
    let texts: Vec<&str> = references.iter().map(|r| r.schema.as_str()).collect();
    AvroSchema::parse(&schema.schema, &texts).map(Arc::new).map_err(|e| format!("invalid Avro schema: {e}"))
}

/// An [`AvroRegistry`] over `source`.
pub fn avro_registry(source: Arc<dyn SchemaSource>, capacity: usize, policy: OutagePolicy) -> AvroRegistry {
    SchemaRegistry::new(source, capacity, policy, Box::new(parse_registry_schema))
}

/// Decodes Confluent-framed Avro through a schema registry, and JSON (see the module docs).
pub struct AvroConverter {
    registry: Option<Arc<AvroRegistry>>,
    json: JsonConverter,
    format: WireFormat,
    topics: HashMap<String, WireFormat>,
}

impl fmt::Debug for AvroConverter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvroConverter")
            .field("registry", &self.registry.as_ref().map(|r| r.describe()))
            .field("format", &self.format)
            .field("topics", &self.topics)
            .finish()
    }
}

impl AvroConverter {
    /// A converter detecting the format per record (`auto`). Without a
    /// registry, Avro records fail to decode (class `decode`).
    pub fn new(registry: Option<Arc<AvroRegistry>>) -> Self {
        AvroConverter { registry, json: JsonConverter::default(), format: WireFormat::Auto, topics: HashMap::new() }
    }

    /// Sets the default format and per-topic overrides.
    pub fn with_formats(mut self, format: WireFormat, topics: HashMap<String, WireFormat>) -> Self {
        self.format = format;
        self.topics = topics;
        self
    }

    pub fn registry(&self) -> Option<&Arc<AvroRegistry>> {
        self.registry.as_ref()
    }

    fn format_for(&self, topic: &str) -> WireFormat {
        if self.topics.is_empty() {
            return self.format;
        }
        self.topics.get(topic).copied().unwrap_or(self.format)
    }

    fn is_avro(&self, topic: &str, bytes: &[u8]) -> bool {
        match self.format_for(topic) {
            WireFormat::Json => false,
            WireFormat::Avro => true,
            WireFormat::Auto => wire::is_framed(bytes),
        }
    }

    fn convert_avro(&self, bytes: &[u8]) -> Result<ConnectData, FieldError> {
        let (id, body) = wire::split(bytes)?;
        let Some(registry) = &self.registry else {
            return Err(FieldError::whole(format!(
                "a Confluent Avro record (schema id {id}), but no schema registry is configured \
                 ([schema_registry] url; `sluice decode --registry URL`)"
            )));
        };
        match registry.cached(id) {
            Some(Ok(schema)) => datum::decode(&schema.root, id, body)
                .map(|value| ConnectData::new(Some(Arc::clone(&schema.connect)), value)),
            Some(Err(message)) => Err(FieldError::whole(format!("schema id {id} cannot be used: {message}"))),
            None => Err(FieldError::schema_unavailable(format!(
                "schema id {id} is not cached: it must be fetched from the registry ({}) before decoding",
                registry.describe()
            ))),
        }
    }
}

impl RecordConverter for AvroConverter {
    fn convert(&self, part: RecordPart, topic: &str, bytes: &[u8]) -> Result<ConnectData, FieldError> {
        if self.is_avro(topic, bytes) { self.convert_avro(bytes) } else { self.json.convert(part, topic, bytes) }
    }

    fn missing_schema(&self, _part: RecordPart, topic: &str, bytes: &[u8]) -> Option<u32> {
        let registry = self.registry.as_ref()?;
        if !self.is_avro(topic, bytes) {
            return None;
        }
        let id = wire::schema_id(bytes)?;
        (!registry.contains(id)).then_some(id)
    }

    fn fetch_schema(&self, id: u32) -> BoxFuture<'_, Result<(), FieldError>> {
        Box::pin(async move {
            let Some(registry) = &self.registry else { return Ok(()) };
            match registry.resolve(id).await {
                Ok(_) => Ok(()),
                Err(e @ ResolveError::Unavailable { .. }) => {
                    Err(FieldError::schema_unavailable(format!("{e} (registry {})", registry.describe())))
                }
                Err(e) => Err(FieldError::whole(format!("{e} (registry {})", registry.describe()))),
            }
        })
    }
}
