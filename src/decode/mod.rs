//! Debezium decoding: Kafka record bytes → [`Decoded`] (change events for the
//! sinks, and the records that are acknowledged without being applied).
//!
//! Two steps, so that every wire format shares one interpretation:
//! 1. a [`RecordConverter`] turns key and value bytes into [`ConnectData`]
//!    (a Kafka Connect–shaped schema and value tree). [`JsonConverter`] reads
//!    JsonConverter output with and without the schema block;
//!    [`avro::AvroConverter`] reads Confluent-framed Avro through a schema
//!    registry (and JSON, detected per key and value);
//! 2. the envelope interpreter turns `ConnectData` into [`Decoded`]: it tells
//!    change events, tombstones, transaction markers, schema changes,
//!    heartbeats and logical decoding messages apart, converts logical types
//!    losslessly, derives the [`Version`](sluice_sink_api::Version) per
//!    connector, builds the [`TableSchema`](sluice_sink_api::TableSchema), and
//!    checks the record key against the row image.
//!
//! [`build_decoder`] builds the decoder a configuration describes (the one
//! place `sluice run`, `sluice decode` and the DLQ commands get it from).
//! Registry schemas are fetched *before* decoding
//! ([`Decoder::resolve_schemas`]); decoding itself never waits on the network.
//!
//! Guarantees: decoding is synchronous, never panics and never allocates
//! beyond a bound of the input size ([`DecoderOptions::max_record_bytes`],
//! bounded decimal scales, JSON nesting limited by serde_json). Every failure
//! is a [`DecodeError`]: permanent, dead-lettered with kind `decode`, naming
//! the record (topic/partition/offset), the field (`payload.after.order_date`)
//! and what was expected and found. `docs/decoding.md` lists what is decoded
//! and the leniency rules; `docs/versions.md` the version derivation;
//! `docs/canonical-form.md` the form [`decoded_to_canonical_json`] prints.

pub mod avro;
mod canonical;
mod connect;
mod converter;
mod decoded;
mod decoder;
mod envelope;
mod error;
mod json;
mod json_payload;
mod logical;
mod markers;
mod mongo;
pub mod names;
mod numbers;
mod options;
mod record;
mod source_info;
mod table_schema;
mod version;
mod zoned;

pub use avro::{DecoderSetupError, build_decoder, decoder_options};
pub use canonical::{decoded_to_canonical_json, instant_to_json};
pub use connect::{ConnectData, ConnectField, ConnectSchema, ConnectType, ConnectValue};
pub use converter::{RecordConverter, RecordPart};
pub use decoded::{Decoded, Heartbeat, LogicalMessage, SchemaChange, TableChange, Tombstone, TxMarker, TxStatus};
pub use decoder::{Decoder, METRIC_DECODE_ERRORS, METRIC_DECODED_RECORDS};
pub use error::{AtField, DecodeError, FieldError};
pub use json::{JsonConverter, infer as infer_json, parse_schema as parse_json_schema, split_json_documents};
pub use logical::to_value;
pub use options::{DEFAULT_HEARTBEAT_TOPIC_PREFIX, DEFAULT_MAX_RECORD_BYTES, DecoderOptions};
pub use record::{RawRecord, RecordHeader};
pub use table_schema::{build_table_schema, column_type};
pub use version::{Connector, VersionSource, binlog_file_sequence, detect_connector, sqlserver_lsn};
