//! Debezium-compatible output: JsonConverter form (with or without schemas),
//! and the Avro form of the same Connect schema and payload.

pub mod avro_schema;
pub mod avro_value;
pub mod connect_schema;
pub mod envelope;
pub mod json_writer;

pub use envelope::{CONNECTOR_VERSION, DebeziumSerializer, KafkaRecord};
