//! Builds the librdkafka configuration from `[kafka]`.
//!
//! sluice manages the settings its guarantees depend on (manual commits, no
//! automatic offset store, the group, assignment strategy); users pass any other
//! librdkafka property through `kafka.properties` (TLS, SASL, fetch tuning) and
//! secret ones through `kafka.secret_properties`.

use rdkafka::ClientConfig;

use crate::config::{Assignment, KafkaSection, OffsetReset};

/// Upper bound of librdkafka's local fetch queue per consumer, in KiB. With the
/// in-flight byte limit this bounds sluice's memory (DESIGN §1.6).
pub const DEFAULT_QUEUED_MAX_KBYTES: u32 = 16 * 1024;

/// Why the client configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[error("kafka.secret_properties.{key}: {message}")]
pub struct SecretError {
    pub key: String,
    pub message: String,
}

/// The consumer configuration. Secrets are resolved here and only handed to
/// librdkafka; the returned config must not be logged.
pub fn consumer_config(kafka: &KafkaSection) -> Result<ClientConfig, SecretError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &kafka.brokers)
        .set("group.id", &kafka.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set(
            "auto.offset.reset",
            match kafka.auto_offset_reset {
                OffsetReset::Earliest => "earliest",
                OffsetReset::Latest => "latest",
                OffsetReset::Error => "error",
            },
        )
        .set(
            "partition.assignment.strategy",
            match kafka.assignment {
                Assignment::CooperativeSticky => "cooperative-sticky",
                Assignment::Range => "range",
                Assignment::Roundrobin => "roundrobin",
            },
        )
        .set("session.timeout.ms", kafka.session_timeout.as_millis().to_string())
        .set("max.poll.interval.ms", kafka.max_poll_interval.as_millis().to_string())
        .set("queued.max.messages.kbytes", DEFAULT_QUEUED_MAX_KBYTES.to_string())
        .set("statistics.interval.ms", "5000")
        .set("client.id", format!("sluice-{}", kafka.group_id));
    for (key, value) in &kafka.properties {
        cfg.set(key, value);
    }
    for (key, secret) in &kafka.secret_properties {
        let value = secret.expose().map_err(|message| SecretError { key: key.clone(), message })?;
        cfg.set(key, value);
    }
    Ok(cfg)
}
