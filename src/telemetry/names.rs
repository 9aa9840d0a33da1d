//! Metric names of the engine. Every metric sluice exports is a constant here
//! (sinks export their own from their crates) and is listed in
//! `docs/metrics.md`. Labels are low-cardinality: `topic`, `partition`,
//! `sink`, `table`, `class`.

/// Counter `{topic}`: records received from Kafka (every record, any kind).
pub const RECORDS_CONSUMED: &str = "sluice_records_consumed_total";
/// Counter `{topic}`: records that could not be decoded (incremented by the
/// decoder, see `crate::decode::METRIC_DECODE_ERRORS`).
pub const DECODE_ERRORS: &str = crate::decode::METRIC_DECODE_ERRORS;
/// Gauge `{topic,partition}`: high watermark minus the next offset to consume.
pub const CONSUMER_LAG: &str = "sluice_consumer_lag";
/// Gauge `{topic,partition}`: last committed offset (next offset to read).
pub const COMMITTED_OFFSET: &str = "sluice_committed_offset";
/// Gauge `{topic,partition}`: partition high watermark.
pub const HIGH_WATERMARK: &str = "sluice_high_watermark";
/// Gauge: number of partitions currently paused (back-pressure or retry).
pub const PARTITIONS_PAUSED: &str = "sluice_partitions_paused";
/// Gauge: number of partitions assigned to this process.
pub const PARTITIONS_ASSIGNED: &str = "sluice_partitions_assigned";
/// Gauge: bytes of consumed records not yet resolved.
pub const IN_FLIGHT_BYTES: &str = "sluice_in_flight_bytes";
/// Counter `{sink,table}`: events whose write took effect.
pub const EVENTS_APPLIED: &str = "sluice_events_applied_total";
/// Counter `{sink,table}`: events ignored because the target was newer.
pub const EVENTS_STALE: &str = "sluice_events_stale_total";
/// Counter `{sink,table,class}`: events a sink refused permanently.
pub const EVENTS_REJECTED: &str = "sluice_events_rejected_total";
/// Histogram: events per batch (after compaction).
pub const BATCH_SIZE: &str = "sluice_batch_events";
/// Histogram `{sink}`: seconds per successful apply call.
pub const APPLY_DURATION: &str = "sluice_apply_duration_seconds";
/// Histogram: seconds from source commit (`source.ts_ms`) to applied in every sink.
pub const END_TO_END_LATENCY: &str = "sluice_end_to_end_latency_seconds";
/// Counter `{sink}`: transient failures retried.
pub const SINK_RETRIES: &str = "sluice_sink_retries_total";
/// Counter: successful offset commits.
pub const COMMITS: &str = "sluice_commits_total";
/// Counter: failed offset commits (retried at the next interval).
pub const COMMIT_FAILURES: &str = "sluice_commit_failures_total";
/// Counter `{sink,table,class}`: records written to the dead-letter queue.
pub const DLQ_INSERTS: &str = "sluice_dlq_inserts_total";
/// Gauge: unresolved entries in the dead-letter queue for this group.
pub const DLQ_UNRESOLVED: &str = "sluice_dlq_unresolved";
/// Counter: transient failures writing to the dead-letter queue.
pub const DLQ_FAILURES: &str = "sluice_dlq_failures_total";
/// Gauge: source transactions buffered, waiting for completion.
pub const TX_BUFFERED: &str = "sluice_tx_buffered";
/// Gauge: events held in the transaction buffer.
pub const TX_BUFFERED_EVENTS: &str = "sluice_tx_buffered_events";
/// Counter: transactions applied in parts because they exceeded the limits.
pub const TX_SPLIT: &str = "sluice_tx_split_total";
/// Counter: transactions applied whole.
pub const TX_APPLIED: &str = "sluice_tx_applied_total";
/// Gauge: 1 while the pipeline is running and healthy, 0 otherwise.
pub const UP: &str = "sluice_up";

/// Counter: Avro keys/values whose schema came from the registry cache
/// (defined with the registry client, see `crate::registry`).
pub const REGISTRY_CACHE_HITS: &str = crate::registry::METRIC_CACHE_HITS;
/// Counter: schema ids that were not cached and had to be fetched.
pub const REGISTRY_CACHE_MISSES: &str = crate::registry::METRIC_CACHE_MISSES;
/// Counter: schema lookup attempts (each retry counts).
pub const REGISTRY_FETCHES: &str = crate::registry::METRIC_FETCHES;
/// Counter `{class}`: failed lookups (`unavailable`, `not_found`, `invalid`).
pub const REGISTRY_FETCH_ERRORS: &str = crate::registry::METRIC_FETCH_ERRORS;
/// Gauge: schemas in the registry cache.
pub const REGISTRY_CACHED_SCHEMAS: &str = crate::registry::METRIC_CACHED_SCHEMAS;
/// Gauge: 1 while the schema registry is in an outage.
pub const REGISTRY_UNAVAILABLE: &str = crate::registry::METRIC_UNAVAILABLE;
