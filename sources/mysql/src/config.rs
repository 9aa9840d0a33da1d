//! `MysqlSourceConfig`: what the operator writes (TOML/serde), with a pure
//! [`MysqlSourceConfig::validate`] that reports every problem with its path.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use sluice_sink_api::{Problems, Secret};

use crate::filter::{FilterLists, Filters};
use crate::gtid::{Flavor, GtidSet};

pub const DEFAULT_SERVER_ID: u32 = 5400;
pub const DEFAULT_CHUNK_SIZE: u64 = 10_000;
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(30);
pub const DEFAULT_STORE_SCHEMA: &str = "sluice";

const fn default_server_id() -> u32 {
    DEFAULT_SERVER_ID
}
const fn default_chunk_size() -> u64 {
    DEFAULT_CHUNK_SIZE
}
const fn default_heartbeat() -> Duration {
    DEFAULT_HEARTBEAT
}
const fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}
const fn default_backoff_max() -> Duration {
    DEFAULT_RECONNECT_BACKOFF_MAX
}
fn default_store_schema() -> String {
    DEFAULT_STORE_SCHEMA.to_string()
}

/// When the initial snapshot runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// Snapshot when no position is stored (first start), and finish an
    /// interrupted snapshot; then stream.
    #[default]
    Initial,
    /// Like `initial`, and also when the stored position is no longer on the
    /// server (binlogs purged): a new snapshot instead of a fatal error.
    WhenNeeded,
    /// Never read table data: stream from the stored position, or the
    /// configured `start`, or the server's current position.
    Never,
    /// Record the schemas and the current position, emit no rows, then stream.
    SchemaOnly,
}

/// Where to start streaming when nothing is stored and no snapshot runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartPosition {
    /// Binlog file name (`mysql-bin.000042`).
    pub file: Option<String>,
    /// Position in `file` (default 4, the first event).
    pub pos: Option<u64>,
    /// GTID set (MySQL `uuid:1-100`) or MariaDB GTID list (`0-1-100`).
    pub gtid: Option<String>,
}

/// Whether positions are GTID based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GtidUse {
    /// GTIDs when the server has them (MariaDB always; MySQL with gtid_mode=ON).
    #[default]
    Auto,
    /// Always resume by GTID (fail when the server has none).
    On,
    /// Always resume by file/position.
    Off,
}

/// The Postgres store of positions, snapshot progress and schema history.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user@host:5432/db` (no password here).
    pub url: String,
    pub password: Option<Secret>,
    /// Schema of sluice's tables (default `sluice`).
    #[serde(default = "default_store_schema")]
    pub schema: String,
}

/// Kafka output mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaOutputConfig {
    /// `host:port[,host:port]`.
    pub brokers: String,
    /// `none`, `gzip`, `lz4` or `zstd` (default `lz4`).
    #[serde(default = "default_compression")]
    pub compression: String,
    /// How long a record may wait for acknowledgement before the producer
    /// reports a (transient) failure.
    #[serde(default = "default_message_timeout", with = "humantime_serde")]
    pub message_timeout: Duration,
    /// Extra librdkafka producer properties (`linger.ms`, `security.protocol`...).
    /// `enable.idempotence` and `acks` are fixed and cannot be overridden.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Emit transaction metadata records to `<name>.transaction` (default true).
    #[serde(default = "default_true")]
    pub transaction_topic: bool,
    /// Emit schema-change records to `<name>` (default true).
    #[serde(default = "default_true")]
    pub schema_change_topic: bool,
    /// Emit a tombstone (null value) after each delete (default true, as Debezium).
    #[serde(default = "default_true")]
    pub tombstones: bool,
    /// Create missing topics before producing to them (default true; brokers
    /// without auto-creation, such as tansu, need it).
    #[serde(default = "default_true")]
    pub create_topics: bool,
    /// Partitions of created topics (default 1: one partition keeps the
    /// transaction order across keys for consumers that need it).
    #[serde(default = "default_partitions")]
    pub topic_partitions: i32,
    /// Replication factor of created topics (default -1: the broker's default).
    #[serde(default = "default_replication")]
    pub topic_replication: i32,
    /// JsonConverter `schemas.enable`: records carry their Connect schema
    /// (`{"schema":…,"payload":…}`, default true) or only the payload.
    #[serde(default = "default_true")]
    pub schemas: bool,
    /// Record format: `json` (JsonConverter, the default) or `avro`
    /// (Confluent AvroConverter wire format, schemas registered in
    /// `schema_registry`, which is then required).
    #[serde(default)]
    pub format: OutputFormat,
    /// The Confluent Schema Registry of the `avro` format
    /// (`[source.mysql.kafka.schema_registry]`).
    pub schema_registry: Option<RegistryConfig>,
}

/// The record format of the Kafka output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// Kafka Connect JsonConverter records (`schemas` decides whether they carry the schema).
    #[default]
    Json,
    /// Confluent AvroConverter records: magic byte 0, 4-byte schema id, Avro binary.
    Avro,
}

/// `[source.mysql.kafka.schema_registry]`, spelled like the consumer's `[schema_registry]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// `http(s)://host:8081` (a path prefix is kept).
    pub url: String,
    /// Basic-auth user name (required when `password` is set).
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// PEM file of the CA that signs the registry's certificate.
    pub ca_file: Option<PathBuf>,
    /// Whole-request timeout (connect + answer), default 10s.
    #[serde(default = "default_registry_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long a registration is retried while the registry is unavailable
    /// (connection refused, timeouts, 5xx) before the source stops; the
    /// source pauses meanwhile. Default 5m.
    #[serde(default = "default_registry_unavailable_retry", with = "humantime_serde")]
    pub unavailable_retry: Duration,
}

impl RegistryConfig {
    /// A registry at `url` with defaults.
    pub fn new(url: &str) -> Self {
        RegistryConfig {
            url: url.to_string(),
            username: None,
            password: None,
            ca_file: None,
            request_timeout: default_registry_timeout(),
            unavailable_retry: default_registry_unavailable_retry(),
        }
    }
}

const fn default_registry_timeout() -> Duration {
    Duration::from_secs(10)
}
const fn default_registry_unavailable_retry() -> Duration {
    Duration::from_secs(300)
}

impl KafkaOutputConfig {
    /// A configuration with defaults, for tests and programmatic use.
    pub fn new(brokers: &str) -> Self {
        KafkaOutputConfig {
            brokers: brokers.to_string(),
            compression: default_compression(),
            message_timeout: default_message_timeout(),
            properties: BTreeMap::new(),
            transaction_topic: true,
            schema_change_topic: true,
            tombstones: true,
            create_topics: true,
            topic_partitions: default_partitions(),
            topic_replication: default_replication(),
            schemas: true,
            format: OutputFormat::Json,
            schema_registry: None,
        }
    }
}

const fn default_partitions() -> i32 {
    1
}
const fn default_replication() -> i32 {
    -1
}

fn default_compression() -> String {
    "lz4".into()
}
const fn default_message_timeout() -> Duration {
    Duration::from_secs(60)
}
const fn default_true() -> bool {
    true
}

/// Configuration of the MySQL/MariaDB binlog source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlSourceConfig {
    /// Logical server name: topic prefix (`<name>.<db>.<table>`), `source.name`,
    /// and the owner of the stored position.
    pub name: String,
    /// `mysql://user@host:3306` (no password here).
    pub url: String,
    pub password: Option<Secret>,
    /// The replica server id sluice registers with; unique among the
    /// server's replicas (default 5400).
    #[serde(default = "default_server_id")]
    pub server_id: u32,
    #[serde(default)]
    pub database_include: Vec<String>,
    #[serde(default)]
    pub database_exclude: Vec<String>,
    #[serde(default)]
    pub table_include: Vec<String>,
    #[serde(default)]
    pub table_exclude: Vec<String>,
    #[serde(default)]
    pub column_include: Vec<String>,
    #[serde(default)]
    pub column_exclude: Vec<String>,
    #[serde(default)]
    pub snapshot_mode: SnapshotMode,
    /// Rows per snapshot chunk (keyset pagination by primary key).
    #[serde(default = "default_chunk_size")]
    pub snapshot_chunk_size: u64,
    /// Position to stream from when none is stored and no snapshot runs.
    pub start: Option<StartPosition>,
    #[serde(default)]
    pub gtid: GtidUse,
    /// Heartbeat period asked from the server; the connection is considered
    /// lost after three periods of silence.
    #[serde(default = "default_heartbeat", with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Upper bound of the exponential reconnect backoff.
    #[serde(default = "default_backoff_max", with = "humantime_serde")]
    pub reconnect_backoff_max: Duration,
    /// Where positions, snapshot progress and schema history are stored.
    pub store: Option<StoreConfig>,
    /// Kafka output (Debezium-compatible topics). Without it the source runs
    /// in direct mode, applying to the pipeline's `[[sink]]`s.
    pub kafka: Option<KafkaOutputConfig>,
    /// Direct mode: the name of the Postgres sink that stores the source
    /// position in the same transaction as the data (default: the first
    /// Postgres sink). Checked against the sinks by the engine's validation.
    pub position_sink: Option<String>,
}

impl MysqlSourceConfig {
    /// A configuration with defaults, for tests and programmatic use.
    pub fn new(name: &str, url: &str) -> Self {
        MysqlSourceConfig {
            name: name.to_string(),
            url: url.to_string(),
            password: None,
            server_id: DEFAULT_SERVER_ID,
            database_include: Vec::new(),
            database_exclude: Vec::new(),
            table_include: Vec::new(),
            table_exclude: Vec::new(),
            column_include: Vec::new(),
            column_exclude: Vec::new(),
            snapshot_mode: SnapshotMode::Initial,
            snapshot_chunk_size: DEFAULT_CHUNK_SIZE,
            start: None,
            gtid: GtidUse::Auto,
            heartbeat_interval: DEFAULT_HEARTBEAT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            reconnect_backoff_max: DEFAULT_RECONNECT_BACKOFF_MAX,
            store: None,
            kafka: None,
            position_sink: None,
        }
    }

    /// The compiled include/exclude filters.
    pub fn filters(&self) -> Result<Filters, String> {
        Filters::new(&FilterLists {
            database_include: &self.database_include,
            database_exclude: &self.database_exclude,
            table_include: &self.table_include,
            table_exclude: &self.table_exclude,
            column_include: &self.column_include,
            column_exclude: &self.column_exclude,
        })
    }

    /// Pure validation (no network): every problem with its path under `path`
    /// (e.g. `source.mysql`).
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        let p = |field: &str| format!("{path}.{field}");
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            problems.push(
                p("name"),
                "must be non-empty and use only letters, digits, `.`, `_`, `-` (it prefixes topic names)",
            );
        }
        match url::Url::parse(&self.url) {
            Ok(u) if u.scheme() == "mysql" || u.scheme() == "mariadb" => {
                if u.password().is_some() {
                    problems.push(p("url"), "must not contain a password: use `password` (env or file secret)");
                }
                if u.host_str().is_none() {
                    problems.push(p("url"), "has no host");
                }
            }
            Ok(u) => problems.push(p("url"), format!("scheme `{}` is not mysql://", u.scheme())),
            Err(e) => problems.push(p("url"), format!("invalid URL: {e}")),
        }
        if let Some(secret) = &self.password {
            secret.validate(&p("password"), problems);
        }
        if self.server_id == 0 {
            problems.push(p("server_id"), "must be a non-zero replica id, unique among the server's replicas");
        }
        let lists: [(&str, &Vec<String>); 6] = [
            ("database_include", &self.database_include),
            ("database_exclude", &self.database_exclude),
            ("table_include", &self.table_include),
            ("table_exclude", &self.table_exclude),
            ("column_include", &self.column_include),
            ("column_exclude", &self.column_exclude),
        ];
        for (field, patterns) in lists {
            for (i, pattern) in patterns.iter().enumerate() {
                if let Err(e) = regex::Regex::new(pattern) {
                    problems.push(format!("{path}.{field}[{i}]"), format!("invalid regular expression: {e}"));
                }
            }
        }
        if self.snapshot_chunk_size == 0 {
            problems.push(p("snapshot_chunk_size"), "must be at least 1");
        }
        if self.heartbeat_interval < Duration::from_millis(100) || self.heartbeat_interval > Duration::from_secs(4294) {
            problems.push(p("heartbeat_interval"), "must be between 100ms and 4294s");
        }
        if let Some(start) = &self.start {
            if start.file.is_none() && start.gtid.is_none() {
                problems.push(p("start"), "needs `file` (and `pos`) or `gtid`");
            }
            if start.pos.is_some() && start.file.is_none() {
                problems.push(p("start.pos"), "needs `start.file`");
            }
            if let Some(gtid) = &start.gtid
                && GtidSet::parse(Flavor::Mysql, gtid).is_err()
                && GtidSet::parse(Flavor::Mariadb, gtid).is_err()
            {
                problems
                    .push(p("start.gtid"), "is neither a MySQL GTID set (uuid:1-5) nor a MariaDB GTID list (0-1-5)");
            }
        }
        if let Some(store) = &self.store {
            problems.check_url(&p("store.url"), &store.url, &["postgres", "postgresql"]);
            if let Some(secret) = &store.password {
                secret.validate(&p("store.password"), problems);
            }
            if store.schema.is_empty() {
                problems.push(p("store.schema"), "must not be empty");
            }
        } else if self.kafka.is_some() {
            problems.push(p("store"), "Kafka output mode needs a Postgres `store` for the source position");
        }
        if self.kafka.is_some() && self.position_sink.is_some() {
            problems.push(
                p("position_sink"),
                "only used in direct mode; in Kafka mode the position is kept in `store` (remove one of them)",
            );
        }
        if let Some(kafka) = &self.kafka {
            if kafka.brokers.trim().is_empty() {
                problems.push(p("kafka.brokers"), "must list at least one broker");
            }
            if !["none", "gzip", "lz4", "zstd", "snappy"].contains(&kafka.compression.as_str()) {
                problems.push(p("kafka.compression"), "must be one of none, gzip, lz4, zstd, snappy");
            }
            for fixed in ["enable.idempotence", "acks", "transactional.id"] {
                if kafka.properties.contains_key(fixed) {
                    problems.push(
                        format!("{path}.kafka.properties.\"{fixed}\""),
                        "is fixed by sluice (idempotent producer, acks=all) and cannot be set",
                    );
                }
            }
            match (&kafka.format, &kafka.schema_registry) {
                (OutputFormat::Avro, None) => problems.push(
                    p("kafka.schema_registry.url"),
                    "required with format = \"avro\" (add [source.mysql.kafka.schema_registry] with its url)",
                ),
                (_, Some(reg)) => {
                    problems.check_url(&p("kafka.schema_registry.url"), &reg.url, &["http", "https"]);
                    if let Some(secret) = &reg.password {
                        secret.validate(&p("kafka.schema_registry.password"), problems);
                        if reg.username.is_none() {
                            problems.push(p("kafka.schema_registry.username"), "required when a password is set");
                        }
                    }
                    if let Some(ca) = &reg.ca_file
                        && !ca.exists()
                    {
                        problems
                            .push(p("kafka.schema_registry.ca_file"), format!("file {} does not exist", ca.display()));
                    }
                    if reg.request_timeout.is_zero() {
                        problems.push(p("kafka.schema_registry.request_timeout"), "must be positive");
                    }
                }
                (OutputFormat::Json, None) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let text = r#"
            name = "dbserver1"
            url = "mysql://repl@db:3306"
            password = { env = "SLUICE_TEST_UNSET_PASSWORD_VAR" }
            server_id = 0
            table_include = ["shop\\.orders", "("]
            snapshot_mode = "when_needed"
            heartbeat_interval = "5s"
            start = { pos = 4 }
            kafka = { brokers = "", properties = { acks = "1" } }
        "#;
        let cfg: MysqlSourceConfig = toml::from_str(text).unwrap();
        assert_eq!(cfg.snapshot_mode, SnapshotMode::WhenNeeded);
        assert_eq!(cfg.heartbeat_interval, Duration::from_secs(5));
        let mut problems = Problems::default();
        cfg.validate("source.mysql", &mut problems);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "source.mysql.password",
            "source.mysql.server_id",
            "source.mysql.table_include[1]",
            "source.mysql.start",
            "source.mysql.start.pos",
            "source.mysql.store",
            "source.mysql.kafka.brokers",
            "source.mysql.kafka.properties.\"acks\"",
        ] {
            assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
        }
        let mut with_secret = cfg.clone();
        with_secret.password = Some(Secret::literal("hunter2"));
        assert!(!format!("{with_secret:?}").contains("hunter2"), "secrets never print");
    }

    #[test]
    fn avro_format_needs_a_registry() {
        let base = "name = 'a'\nurl = 'mysql://root@h:3306'\nstore = { url = 'postgres://p@h/db' }\n";
        let cfg: MysqlSourceConfig =
            toml::from_str(&format!("{base}kafka = {{ brokers = 'k:9092', format = 'avro' }}")).unwrap();
        let mut problems = Problems::default();
        cfg.validate("source.mysql", &mut problems);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["source.mysql.kafka.schema_registry.url"], "{problems:?}");
        let text = format!(
            "{base}[kafka]\nbrokers = 'k:9092'\nformat = 'avro'\n[kafka.schema_registry]\nurl = 'ftp://r'\n\
             password = 'hunter2'\nrequest_timeout = '3s'\n"
        );
        let cfg: MysqlSourceConfig = toml::from_str(&text).unwrap();
        let reg = cfg.kafka.as_ref().unwrap().schema_registry.as_ref().unwrap();
        assert_eq!(reg.request_timeout, Duration::from_secs(3));
        assert!(!format!("{cfg:?}").contains("hunter2"), "secrets never print");
        let mut problems = Problems::default();
        cfg.validate("source.mysql", &mut problems);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["source.mysql.kafka.schema_registry.url", "source.mysql.kafka.schema_registry.username"],
            "{problems:?}"
        );
        assert!(
            toml::from_str::<MysqlSourceConfig>(&format!("{base}kafka = {{ brokers = 'k', format = 'xml' }}")).is_err()
        );
    }

    #[test]
    fn rejects_unknown_fields_and_password_in_url() {
        assert!(toml::from_str::<MysqlSourceConfig>("name='a'\nurl='mysql://h'\nbogus=1").is_err());
        let cfg = MysqlSourceConfig::new("a", "mysql://u:pw@h:3306");
        let mut problems = Problems::default();
        cfg.validate("s", &mut problems);
        assert_eq!(problems.iter().next().unwrap().path, "s.url");
        let ok = MysqlSourceConfig::new("a", "mysql://root@127.0.0.1:3306");
        let mut problems = Problems::default();
        ok.validate("s", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
