//! Building the decoder from the configuration: the one place that knows
//! how records are decoded (`[decode]`, `[schema_registry]`, `[kafka]`).
//! `sluice run`, `sluice dlq show/replay` and `sluice decode` all call
//! [`build_decoder`], so a dead letter is re-decoded exactly as the pipeline
//! decodes a consumed record.

use std::collections::HashMap;
use std::sync::Arc;

use super::{AvroConverter, AvroRegistry, WireFormat, avro_registry};
use crate::config::{self, FormatConfig, LoadedConfig, RegistrySection, RetrySection};
use crate::decode::{Decoder, DecoderOptions, VersionSource};
use crate::pipeline::retry::Backoff;
use crate::registry::{HttpRegistry, HttpSettings, OutagePolicy, SetupError};

/// The configuration does not describe a usable decoder.
#[derive(Debug, thiserror::Error)]
pub enum DecoderSetupError {
    #[error(transparent)]
    Registry(#[from] SetupError),
    #[error("{0}")]
    Config(String),
}

/// Decoder options from `[decode]` and `[kafka]`.
pub fn decoder_options(loaded: &LoadedConfig) -> DecoderOptions {
    let c = &loaded.config;
    let vs = |v: config::VersionSourceConfig| match v {
        config::VersionSourceConfig::Source => VersionSource::Source,
        config::VersionSourceConfig::KafkaOffset => VersionSource::KafkaOffset,
    };
    DecoderOptions {
        transaction_topics: c.kafka.as_ref().and_then(|k| k.transaction_topic.clone()).into_iter().collect(),
        version_source: vs(c.decode.version_source),
        topic_versions: c
            .decode
            .topic
            .iter()
            .filter_map(|(t, o)| o.version_source.map(|v| (t.clone(), vs(v))))
            .collect(),
        ..DecoderOptions::default()
    }
}

/// `decode.format` as the converter's [`WireFormat`].
pub fn wire_format(format: FormatConfig) -> WireFormat {
    match format {
        FormatConfig::Auto => WireFormat::Auto,
        FormatConfig::Json => WireFormat::Json,
        FormatConfig::Avro => WireFormat::Avro,
    }
}

/// The registry client of `[schema_registry]` (no request is sent).
/// Unknown ids are retried with the `[retry]` backoff while the registry is
/// unavailable, for `unavailable_retry`.
pub fn registry_from_config(
    section: &RegistrySection,
    retry: &RetrySection,
) -> Result<Arc<AvroRegistry>, DecoderSetupError> {
    let http = HttpRegistry::new(&HttpSettings {
        url: section.url.clone(),
        username: section.username.clone(),
        password: section.password.clone(),
        ca_file: section.ca_file.clone(),
        request_timeout: section.request_timeout,
    })?;
    let policy = OutagePolicy { unavailable_retry: section.unavailable_retry, backoff: Backoff::from_config(retry) };
    // A record's key and value schemas must fit together.
    Ok(Arc::new(avro_registry(Arc::new(http), section.cache_capacity.max(2), policy)))
}

/// The decoder the configuration describes: JSON and Confluent Avro per
/// `decode.format` (and per-topic overrides), schemas from `[schema_registry]`.
/// A format of `avro` (default or for a topic) without `[schema_registry]` is
/// an error.
pub fn build_decoder(loaded: &LoadedConfig) -> Result<Decoder, DecoderSetupError> {
    let c = &loaded.config;
    let registry = match &c.schema_registry {
        Some(section) => Some(registry_from_config(section, &c.retry)?),
        None => None,
    };
    let topics: HashMap<String, WireFormat> =
        c.decode.topic.iter().filter_map(|(t, o)| o.format.map(|f| (t.clone(), wire_format(f)))).collect();
    let wants_avro = c.decode.format == FormatConfig::Avro || topics.values().any(|f| *f == WireFormat::Avro);
    if wants_avro && registry.is_none() {
        return Err(DecoderSetupError::Config(
            "decode.format = \"avro\" needs a [schema_registry] section (its url)".to_string(),
        ));
    }
    let converter = AvroConverter::new(registry).with_formats(wire_format(c.decode.format), topics);
    Ok(Decoder::with_converter(decoder_options(loaded), Arc::new(converter)))
}
