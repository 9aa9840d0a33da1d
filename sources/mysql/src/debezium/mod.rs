//! Debezium-compatible output (JsonConverter form, with or without schemas).

pub mod connect_schema;
pub mod envelope;
pub mod json_writer;

pub use envelope::{CONNECTOR_VERSION, DebeziumSerializer, KafkaRecord};
