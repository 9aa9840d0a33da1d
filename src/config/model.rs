//! The configuration file's sections (one TOML file per pipeline).
//!
//! Every section has documented defaults (`DEFAULT_*`) so a minimal file names
//! only the brokers, group, topics and sinks. `README.md` ("Configuration
//! reference") documents each key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use sluice_sink_api::Secret;

use super::bytes::ByteSize;

pub const DEFAULT_BATCH_MAX_EVENTS: usize = 4096;
pub const DEFAULT_BATCH_MAX_BYTES: ByteSize = ByteSize::mib(8);
pub const DEFAULT_BATCH_MAX_WAIT: Duration = Duration::from_millis(50);
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: ByteSize = ByteSize::mib(256);
pub const DEFAULT_RETRY_INITIAL: Duration = Duration::from_millis(200);
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(30);
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_POLL_INTERVAL: Duration = Duration::from_secs(300);
pub const DEFAULT_TX_MAX_EVENTS: usize = 100_000;
pub const DEFAULT_TX_MAX_BYTES: ByteSize = ByteSize::mib(64);
pub const DEFAULT_TX_MAX_WAIT: Duration = Duration::from_secs(60);
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
pub const DEFAULT_SLUICE_SCHEMA: &str = "sluice";
pub const DEFAULT_REGISTRY_CACHE: usize = 10_000;
pub const DEFAULT_REGISTRY_UNAVAILABLE_RETRY: Duration = Duration::from_secs(300);
pub const DEFAULT_REGISTRY_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub pipeline: PipelineSection,
    pub kafka: Option<KafkaSection>,
    #[serde(default)]
    pub decode: DecodeSection,
    pub schema_registry: Option<RegistrySection>,
    #[serde(default)]
    pub batch: BatchSection,
    #[serde(default)]
    pub retry: RetrySection,
    #[serde(default)]
    pub commit: CommitSection,
    #[serde(default)]
    pub transactions: TransactionsSection,
    pub dlq: Option<DlqSection>,
    #[serde(default)]
    pub metrics: MetricsSection,
    #[serde(default)]
    pub log: LogSection,
    /// `[[sink]]` tables; typed by their `kind` in [`super::sinks`].
    #[serde(default, rename = "sink")]
    pub sinks: Vec<toml::Table>,
    /// `[source.mysql]` for the built-in binlog source (direct or Kafka mode).
    pub source: Option<toml::Table>,
}

/// `[pipeline]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Name used in logs and metrics; defaults to the Kafka group id.
    pub name: Option<String>,
}

/// `auto.offset.reset` for partitions without a committed offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    #[default]
    Earliest,
    Latest,
    /// Refuse to start a partition without a committed offset.
    Error,
}

/// `partition.assignment.strategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assignment {
    #[default]
    CooperativeSticky,
    Range,
    Roundrobin,
}

/// `[kafka]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSection {
    /// `host:port[,host:port…]`
    pub brokers: String,
    pub group_id: String,
    /// Topics by name (exclusive with `topic_regex`).
    #[serde(default)]
    pub topics: Vec<String>,
    /// Topics by regular expression (librdkafka `^…` subscription).
    pub topic_regex: Option<String>,
    /// Debezium transaction metadata topic (`<prefix>.transaction`): enables
    /// transaction-boundary buffering.
    pub transaction_topic: Option<String>,
    #[serde(default)]
    pub auto_offset_reset: OffsetReset,
    #[serde(default)]
    pub assignment: Assignment,
    #[serde(default = "default_session_timeout", with = "humantime_serde")]
    pub session_timeout: Duration,
    #[serde(default = "default_max_poll_interval", with = "humantime_serde")]
    pub max_poll_interval: Duration,
    /// librdkafka properties passed through (TLS/SASL for real clusters:
    /// `security.protocol`, `ssl.ca.location`, `sasl.mechanism`, …).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// librdkafka properties whose values are secrets (`sasl.password`,
    /// `ssl.key.password`): literal, `{ env = "VAR" }` or `{ file = "path" }`.
    #[serde(default)]
    pub secret_properties: BTreeMap<String, Secret>,
}

const fn default_session_timeout() -> Duration {
    DEFAULT_SESSION_TIMEOUT
}
const fn default_max_poll_interval() -> Duration {
    DEFAULT_MAX_POLL_INTERVAL
}

/// How to derive versions for a topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionSourceConfig {
    /// From the source position (binlog, LSN, oplog): DESIGN.md §5.
    #[default]
    Source,
    /// The Kafka offset: valid only while one key always maps to one partition.
    KafkaOffset,
}

/// Wire format of record keys or values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatConfig {
    /// Confluent Avro when the first byte is the magic 0, JSON otherwise.
    #[default]
    Auto,
    Json,
    Avro,
}

/// `[decode]` and `[decode.topic."name"]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeSection {
    #[serde(default)]
    pub version_source: VersionSourceConfig,
    #[serde(default)]
    pub format: FormatConfig,
    #[serde(default)]
    pub topic: BTreeMap<String, TopicDecodeOverride>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDecodeOverride {
    pub version_source: Option<VersionSourceConfig>,
    pub format: Option<FormatConfig>,
}

/// `[schema_registry]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySection {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// PEM file of the CA that signs the registry's certificate.
    pub ca_file: Option<std::path::PathBuf>,
    #[serde(default = "default_registry_cache")]
    pub cache_capacity: usize,
    /// How long an unknown schema id is retried while the registry is down
    /// before the record is dead-lettered with class `schema_unavailable`.
    #[serde(default = "default_registry_unavailable_retry", with = "humantime_serde")]
    pub unavailable_retry: Duration,
    #[serde(default = "default_registry_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
}

const fn default_registry_cache() -> usize {
    DEFAULT_REGISTRY_CACHE
}
const fn default_registry_unavailable_retry() -> Duration {
    DEFAULT_REGISTRY_UNAVAILABLE_RETRY
}
const fn default_registry_timeout() -> Duration {
    DEFAULT_REGISTRY_TIMEOUT
}

/// `[batch]`: a batch is flushed on the first limit reached.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSection {
    #[serde(default = "default_batch_max_events")]
    pub max_events: usize,
    #[serde(default = "default_batch_max_bytes")]
    pub max_bytes: ByteSize,
    #[serde(default = "default_batch_max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
    /// Bytes of consumed but unresolved records; reaching it pauses consumption.
    #[serde(default = "default_max_in_flight_bytes")]
    pub max_in_flight_bytes: ByteSize,
}

impl Default for BatchSection {
    fn default() -> Self {
        BatchSection {
            max_events: DEFAULT_BATCH_MAX_EVENTS,
            max_bytes: DEFAULT_BATCH_MAX_BYTES,
            max_wait: DEFAULT_BATCH_MAX_WAIT,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
        }
    }
}

const fn default_batch_max_events() -> usize {
    DEFAULT_BATCH_MAX_EVENTS
}
const fn default_batch_max_bytes() -> ByteSize {
    DEFAULT_BATCH_MAX_BYTES
}
const fn default_batch_max_wait() -> Duration {
    DEFAULT_BATCH_MAX_WAIT
}
const fn default_max_in_flight_bytes() -> ByteSize {
    DEFAULT_MAX_IN_FLIGHT_BYTES
}

/// `[retry]`: transient failures (a sink or the DLQ down).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySection {
    #[serde(default = "default_retry_initial", with = "humantime_serde")]
    pub initial_backoff: Duration,
    #[serde(default = "default_retry_max", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Give up (stop the pipeline, committing nothing past the failure) after
    /// this many attempts; unset = retry forever.
    pub max_attempts: Option<u32>,
}

impl Default for RetrySection {
    fn default() -> Self {
        RetrySection { initial_backoff: DEFAULT_RETRY_INITIAL, max_backoff: DEFAULT_RETRY_MAX, max_attempts: None }
    }
}

const fn default_retry_initial() -> Duration {
    DEFAULT_RETRY_INITIAL
}
const fn default_retry_max() -> Duration {
    DEFAULT_RETRY_MAX
}

/// `[commit]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitSection {
    #[serde(default = "default_commit_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Exactly-once mode: the name of a Postgres sink that stores consumed
    /// offsets in the same transaction as the data; on assignment the consumer
    /// seeks to them (Kafka's committed offsets become advisory).
    pub exactly_once_sink: Option<String>,
}

impl Default for CommitSection {
    fn default() -> Self {
        CommitSection { interval: DEFAULT_COMMIT_INTERVAL, exactly_once_sink: None }
    }
}

const fn default_commit_interval() -> Duration {
    DEFAULT_COMMIT_INTERVAL
}

/// `[transactions]`: limits of the transaction buffer (active when
/// `kafka.transaction_topic` is set).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionsSection {
    #[serde(default = "default_tx_max_events")]
    pub max_events: usize,
    #[serde(default = "default_tx_max_bytes")]
    pub max_bytes: ByteSize,
    #[serde(default = "default_tx_max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for TransactionsSection {
    fn default() -> Self {
        TransactionsSection {
            max_events: DEFAULT_TX_MAX_EVENTS,
            max_bytes: DEFAULT_TX_MAX_BYTES,
            max_wait: DEFAULT_TX_MAX_WAIT,
        }
    }
}

const fn default_tx_max_events() -> usize {
    DEFAULT_TX_MAX_EVENTS
}
const fn default_tx_max_bytes() -> ByteSize {
    DEFAULT_TX_MAX_BYTES
}
const fn default_tx_max_wait() -> Duration {
    DEFAULT_TX_MAX_WAIT
}

/// What to do with a record that can never apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tolerance {
    /// Dead-letter it and move on (`errors.tolerance=all`).
    #[default]
    All,
    /// Stop the pipeline without committing past it (`errors.tolerance=none`).
    None,
}

/// `[dlq]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqSection {
    /// Postgres URL of the DLQ; defaults to the first Postgres sink's URL.
    pub url: Option<String>,
    pub password: Option<Secret>,
    /// Schema of sluice's own tables.
    #[serde(default = "default_sluice_schema")]
    pub schema: String,
    /// Default policy for permanent failures.
    #[serde(default)]
    pub tolerance: Tolerance,
    /// Per-table policy (`"db.table" = "none"`).
    #[serde(default)]
    pub table_tolerance: BTreeMap<String, Tolerance>,
    /// Per-error-class policy (`schema = "none"`): decode, schema,
    /// schema_unavailable, constraint, data_type, mapping, version, key, other.
    #[serde(default)]
    pub class_tolerance: BTreeMap<String, Tolerance>,
}

pub fn default_sluice_schema() -> String {
    DEFAULT_SLUICE_SCHEMA.to_string()
}

/// `[metrics]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address of the HTTP listener serving `/metrics`, `/health`, `/ready`.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection { enabled: true, listen: DEFAULT_METRICS_LISTEN.to_string() }
    }
}

fn default_metrics_listen() -> String {
    DEFAULT_METRICS_LISTEN.to_string()
}
const fn default_true() -> bool {
    true
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[log]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `tracing` filter, e.g. `info,sluice=debug`; `RUST_LOG` wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection { level: default_log_level(), format: LogFormat::Text }
    }
}

fn default_log_level() -> String {
    "info".to_string()
}
