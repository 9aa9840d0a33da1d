//! # sluice
//!
//! Applies change-data-capture streams (Debezium-format Kafka topics, or
//! sluice's own MySQL/MariaDB binlog source) to the systems that serve reads —
//! Postgres, Elasticsearch/OpenSearch, Redis — as versioned, idempotent writes,
//! keeping source transactions whole and parking what cannot apply in a
//! Postgres dead-letter queue.
//!
//! Follow one record: [`consume`] (poll, register with the ack tracker) →
//! [`decode`] (bytes → change event) → [`pipeline`] (transaction buffer,
//! batcher, dispatch to the sinks, [`dlq`]) → back to the ack tracker, whose
//! contiguous watermark is committed.

pub mod cli;
pub mod config;
pub mod consume;
pub mod decode;
pub mod dlq;
pub mod pipeline;
pub mod registry;
pub mod source;
pub mod telemetry;
