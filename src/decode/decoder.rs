//! The decoder: bytes of one Kafka record → [`Decoded`].

use std::sync::Arc;

use super::connect::ConnectData;
use super::converter::{RecordConverter, RecordPart};
use super::decoded::Decoded;
use super::envelope::Interpreter;
use super::error::{DecodeError, FieldError};
use super::json::JsonConverter;
use super::options::DecoderOptions;
use super::record::RawRecord;
use super::table_schema::TableSchemaCache;

/// Counter of decoded records, label `kind` (`change`, `tombstone`, `tx`,
/// `schema_change`, `heartbeat`, `message`).
pub const METRIC_DECODED_RECORDS: &str = "sluice_decode_records_total";
/// Counter of records that failed to decode (each is dead-lettered).
pub const METRIC_DECODE_ERRORS: &str = "sluice_decode_errors_total";

/// Decodes Debezium records. Shareable across threads (`&self`), synchronous,
/// never panics; every error is a permanent [`DecodeError`].
///
/// Schemas are cached (by schema text for JSON, by the converter's own
/// identity for other formats), so records of one table share one
/// `Arc<TableSchema>`.
#[derive(Debug)]
pub struct Decoder {
    options: DecoderOptions,
    converter: Arc<dyn RecordConverter>,
    tables: TableSchemaCache,
}

impl Decoder {
    /// A decoder for Kafka Connect JSON (with or without schemas).
    pub fn new(options: DecoderOptions) -> Self {
        Decoder::with_converter(options, Arc::new(JsonConverter::default()))
    }

    /// A decoder for another wire format (e.g. Avro via a schema registry).
    pub fn with_converter(options: DecoderOptions, converter: Arc<dyn RecordConverter>) -> Self {
        Decoder { options, converter, tables: TableSchemaCache::default() }
    }

    pub fn options(&self) -> &DecoderOptions {
        &self.options
    }

    fn convert(
        &self,
        record: &RawRecord<'_>,
        part: RecordPart,
        bytes: Option<&[u8]>,
    ) -> Result<Option<ConnectData>, DecodeError> {
        let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        if bytes.len() > self.options.max_record_bytes {
            let err = FieldError::whole(format!(
                "{} bytes exceed the limit of {} bytes (max_record_bytes)",
                bytes.len(),
                self.options.max_record_bytes
            ));
            return Err(err.into_decode_error(&record.origin(), part.as_str()));
        }
        self.converter
            .convert(part, record.topic, bytes)
            .map(Some)
            .map_err(|e| e.into_decode_error(&record.origin(), part.as_str()))
    }

    /// The registry schemas `record` refers to that are not cached yet
    /// (key, value), answered from memory. Empty for JSON and cached ids:
    /// then [`Decoder::decode`] can run at once.
    pub fn missing_schemas(&self, record: &RawRecord<'_>) -> Vec<(RecordPart, u32)> {
        let mut missing = Vec::new();
        for (part, bytes) in [(RecordPart::Key, record.key), (RecordPart::Value, record.value)] {
            if let Some(bytes) = bytes.filter(|b| !b.is_empty() && b.len() <= self.options.max_record_bytes)
                && let Some(id) = self.converter.missing_schema(part, record.topic, bytes)
                && !missing.iter().any(|(_, known)| *known == id)
            {
                missing.push((part, id));
            }
        }
        missing
    }

    /// Fetches the registry schemas `record` refers to that are not cached,
    /// so that [`Decoder::decode`] does not need the network. Returns at
    /// once (without awaiting anything) when nothing is missing. While the
    /// registry is unreachable the converter retries for its configured
    /// time; then the error is a [`DecodeError`] of kind `schema_unavailable`.
    /// An id the registry does not know is a `decode` error.
    pub async fn resolve_schemas(&self, record: &RawRecord<'_>) -> Result<(), DecodeError> {
        for (part, id) in self.missing_schemas(record) {
            if let Err(e) = self.converter.fetch_schema(id).await {
                metrics::counter!(METRIC_DECODE_ERRORS).increment(1);
                return Err(e.into_decode_error(&record.origin(), part.as_str()));
            }
        }
        Ok(())
    }

    /// [`Decoder::resolve_schemas`], then [`Decoder::decode`]: for callers
    /// outside the engine loop (`sluice decode`, DLQ replay).
    pub async fn decode_resolving(&self, record: &RawRecord<'_>) -> Result<Decoded, DecodeError> {
        self.resolve_schemas(record).await?;
        self.decode(record)
    }

    /// Decodes one record. Registry schemas must be cached (see
    /// [`Decoder::resolve_schemas`]); a missing one is a `schema_unavailable` error.
    pub fn decode(&self, record: &RawRecord<'_>) -> Result<Decoded, DecodeError> {
        let result = self
            .convert(record, RecordPart::Value, record.value)
            .and_then(|value| Ok((self.convert(record, RecordPart::Key, record.key)?, value)))
            .and_then(|(key, value)| self.decode_connect(record, key, value));
        match &result {
            Ok(decoded) => metrics::counter!(METRIC_DECODED_RECORDS, "kind" => decoded.kind()).increment(1),
            Err(err) => {
                metrics::counter!(METRIC_DECODE_ERRORS, "topic" => record.topic.to_string()).increment(1);
                tracing::debug!(error = %err, "record cannot be decoded");
            }
        }
        result
    }

    /// Interprets already converted data (for converters driven outside the
    /// decoder). `record` supplies the origin and topic; its bytes are unused.
    pub fn decode_connect(
        &self,
        record: &RawRecord<'_>,
        key: Option<ConnectData>,
        value: Option<ConnectData>,
    ) -> Result<Decoded, DecodeError> {
        Interpreter { options: &self.options, tables: &self.tables }.interpret(record, key, value)
    }
}
