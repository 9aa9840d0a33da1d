//! Semantic validation of a typed configuration: pure (no network, no files
//! except secret files), reporting every problem with its path.

use sluice_sink_api::Problems;

use super::model::{Config, Tolerance};
use super::sinks::{SinkEntry, SinkSettings};

/// librdkafka properties sluice manages itself; setting them is an error.
pub const MANAGED_KAFKA_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "max.poll.interval.ms",
];

/// Error classes accepted in `dlq.class_tolerance`.
pub const ERROR_CLASSES: &[&str] =
    &["decode", "schema", "schema_unavailable", "constraint", "data_type", "mapping", "version", "key", "other"];

fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Validates the typed config and sinks; appends to `problems`.
pub fn validate(config: &Config, sinks: &[SinkEntry], problems: &mut Problems) {
    if let Some(kafka) = &config.kafka {
        if kafka.brokers.trim().is_empty() {
            problems.push("kafka.brokers", "must list at least one host:port");
        } else {
            for broker in kafka.brokers.split(',') {
                let broker = broker.trim();
                let ok = broker.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
                if !ok {
                    problems.push("kafka.brokers", format!("invalid broker address {broker:?}: expected host:port"));
                }
            }
        }
        if kafka.group_id.trim().is_empty() {
            problems.push("kafka.group_id", "must not be empty");
        }
        match (kafka.topics.is_empty(), &kafka.topic_regex) {
            (true, None) => problems.push("kafka.topics", "set `topics` or `topic_regex`"),
            (false, Some(_)) => problems.push("kafka.topic_regex", "set either `topics` or `topic_regex`, not both"),
            _ => {}
        }
        for (i, topic) in kafka.topics.iter().enumerate() {
            if !valid_topic_name(topic) {
                problems.push(format!("kafka.topics[{i}]"), format!("invalid topic name {topic:?}"));
            }
        }
        if let Some(re) = &kafka.topic_regex
            && let Err(e) = regex::Regex::new(re)
        {
            problems.push("kafka.topic_regex", format!("invalid regular expression: {e}"));
        }
        if let Some(tx) = &kafka.transaction_topic
            && !valid_topic_name(tx)
        {
            problems.push("kafka.transaction_topic", format!("invalid topic name {tx:?}"));
        }
        for key in kafka.properties.keys().chain(kafka.secret_properties.keys()) {
            if MANAGED_KAFKA_PROPERTIES.contains(&key.as_str()) {
                problems.push(format!("kafka.properties.{key}"), "managed by sluice; use the [kafka] setting instead");
            }
        }
        for (key, secret) in &kafka.secret_properties {
            secret.validate(&format!("kafka.secret_properties.{key}"), problems);
        }
        if kafka.session_timeout.is_zero() {
            problems.push("kafka.session_timeout", "must be positive");
        }
    }

    if let Some(reg) = &config.schema_registry {
        problems.check_url("schema_registry.url", &reg.url, &["http", "https"]);
        if let Some(p) = &reg.password {
            p.validate("schema_registry.password", problems);
            if reg.username.is_none() {
                problems.push("schema_registry.username", "required when a password is set");
            }
        }
        if reg.cache_capacity == 0 {
            problems.push("schema_registry.cache_capacity", "must be at least 1");
        }
        if let Some(ca) = &reg.ca_file
            && !ca.exists()
        {
            problems.push("schema_registry.ca_file", format!("file {} does not exist", ca.display()));
        }
    }

    let b = &config.batch;
    if b.max_events == 0 {
        problems.push("batch.max_events", "must be at least 1");
    }
    if b.max_bytes.0 == 0 {
        problems.push("batch.max_bytes", "must be positive");
    }
    if b.max_in_flight_bytes < b.max_bytes {
        problems.push("batch.max_in_flight_bytes", "must be at least batch.max_bytes");
    }
    let r = &config.retry;
    if r.initial_backoff.is_zero() {
        problems.push("retry.initial_backoff", "must be positive");
    }
    if r.max_backoff < r.initial_backoff {
        problems.push("retry.max_backoff", "must be at least retry.initial_backoff");
    }
    if config.commit.interval.is_zero() {
        problems.push("commit.interval", "must be positive");
    }
    let t = &config.transactions;
    if t.max_events == 0 {
        problems.push("transactions.max_events", "must be at least 1");
    }

    crate::source::validate(config, sinks, problems);
    let kafka_source = crate::source::mysql_kafka_mode(config);
    if sinks.is_empty() && !kafka_source && problems.iter().all(|p| !p.path.starts_with("sink")) {
        problems.push("sink", "configure at least one [[sink]]");
    }
    for (i, sink) in sinks.iter().enumerate() {
        let path = format!("sink[{i}]");
        sink.settings.validate(&path, problems);
        match &sink.settings {
            SinkSettings::Postgres(_) | SinkSettings::Elasticsearch(_) | SinkSettings::Redis(_) => {}
            SinkSettings::Memory(m) => {
                if let Some(j) = &m.journal
                    && let Some(parent) = j.parent()
                    && !parent.as_os_str().is_empty()
                    && !parent.exists()
                {
                    problems.push(format!("{path}.journal"), format!("directory {} does not exist", parent.display()));
                }
            }
        }
    }

    if let Some(eo) = &config.commit.exactly_once_sink {
        match sinks.iter().find(|s| &s.name == eo) {
            None => problems.push("commit.exactly_once_sink", format!("no sink named {eo:?}")),
            Some(s) if s.settings.kind() != "postgres" => problems.push(
                "commit.exactly_once_sink",
                format!("sink {eo:?} is a {} sink; exactly-once offsets need a postgres sink", s.settings.kind()),
            ),
            Some(_) => {}
        }
    }

    if let Some(dlq) = &config.dlq {
        if let Some(url) = &dlq.url {
            problems.check_url("dlq.url", url, &["postgres", "postgresql"]);
        }
        if let Some(p) = &dlq.password {
            p.validate("dlq.password", problems);
        }
        if !is_identifier(&dlq.schema) {
            problems.push("dlq.schema", "must be a plain identifier ([a-z_][a-z0-9_]*)");
        }
        for class in dlq.class_tolerance.keys() {
            if !ERROR_CLASSES.contains(&class.as_str()) {
                problems.push(
                    format!("dlq.class_tolerance.{class}"),
                    format!("unknown error class; one of {}", ERROR_CLASSES.join(", ")),
                );
            }
        }
    }
    let dead_letters = config.dlq.as_ref().is_none_or(|d| {
        d.tolerance == Tolerance::All
            || d.table_tolerance.values().any(|t| *t == Tolerance::All)
            || d.class_tolerance.values().any(|t| *t == Tolerance::All)
    });
    if dead_letters
        && !kafka_source
        && config.dlq.as_ref().and_then(|d| d.url.as_ref()).is_none()
        && !has_postgres_sink(sinks)
    {
        problems.push("dlq.url", "required: records that cannot apply are dead-lettered to Postgres, and no Postgres sink provides a default URL");
    }
}

fn has_postgres_sink(sinks: &[SinkEntry]) -> bool {
    sinks.iter().any(|s| s.settings.kind() == "postgres")
}

/// `[a-z_][a-z0-9_]*`, at most 63 bytes.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}
