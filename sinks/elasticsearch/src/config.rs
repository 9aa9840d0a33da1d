//! What the user writes: the `[[sink]]` settings of an Elasticsearch/OpenSearch
//! sink, their defaults, and a pure [`ElasticsearchSinkConfig::validate`]
//! (no network, no files other than secret files) that reports every problem
//! with its path.
//!
//! The reference with examples is `docs/elasticsearch-sink.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use sluice_sink_api::{Problems, Secret};

use crate::templates::{IdTemplate, IndexTemplate};

/// Default node list.
pub const DEFAULT_URL: &str = "http://localhost:9200";
/// Default maximum number of actions (index or delete) per `_bulk` request.
pub const DEFAULT_MAX_BULK_ACTIONS: usize = 1000;
/// Default maximum body size of one `_bulk` request (5 MiB).
pub const DEFAULT_MAX_BULK_BYTES: usize = 5 * 1024 * 1024;
/// Upper bound of `max_bulk_bytes`: Elasticsearch's default `http.max_content_length` is 100 MiB.
pub const MAX_BULK_BYTES_LIMIT: usize = 100 * 1024 * 1024;
/// Default timeout of one HTTP request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of `_bulk` requests of one batch in flight at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 2;
/// Default first pause before retrying failed items.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Default longest pause between two retries.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Default time the sink keeps retrying failed items of a batch before it
/// returns a transient error (the engine then pauses and retries the batch).
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(30);
/// Default index name template.
pub const DEFAULT_INDEX_TEMPLATE: &str = "{db}.{table}";
/// Default separator between the values of a composite primary key in `_id`.
pub const DEFAULT_ID_SEPARATOR: &str = "_";
/// Default `index.gc_deletes` of auto-created indexes (one day).
pub const DEFAULT_GC_DELETES: Duration = Duration::from_secs(24 * 3600);

/// Settings of one Elasticsearch/OpenSearch sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchSinkConfig {
    /// Node URLs (`http://` or `https://`); requests go round-robin over them.
    #[serde(default = "default_urls")]
    pub urls: Vec<String>,
    /// Basic or API-key authentication; none by default.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    #[serde(default)]
    pub tls: TlsConfig,
    /// Maximum actions per `_bulk` request.
    #[serde(default = "default_max_bulk_actions")]
    pub max_bulk_actions: usize,
    /// Maximum body bytes per `_bulk` request (a single larger document is
    /// still sent alone).
    #[serde(default = "default_max_bulk_bytes")]
    pub max_bulk_bytes: usize,
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// `_bulk` requests of one batch sent at once. Safe at any value: every
    /// write is guarded by its external version, so arrival order does not matter.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    #[serde(default)]
    pub retry: RetryConfig,
    /// Index name template (see [`IndexTemplate`]); the result is lowercased.
    #[serde(default = "default_index_template")]
    pub index: String,
    /// `_id` template over primary-key columns (see [`IdTemplate`]); by default
    /// the key values joined with `id_separator`, escaped.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default = "default_id_separator")]
    pub id_separator: String,
    /// Per-table overrides, keyed by the qualified table name
    /// (`db.table`, or `db.schema.table` for PostgreSQL).
    #[serde(default)]
    pub tables: BTreeMap<String, TableOverride>,
    /// Create missing indexes with settings and mappings derived from the
    /// event schema. When false, indexes must exist or be created by the
    /// cluster from index templates.
    #[serde(default = "default_true")]
    pub auto_create_indexes: bool,
    /// `index.gc_deletes` for auto-created indexes: how long delete tombstones
    /// are remembered (see the docs' resurrection caveat). `"0s"` leaves the
    /// cluster default (60s).
    #[serde(default = "default_gc_deletes", with = "humantime_serde")]
    pub gc_deletes: Duration,
    /// Extra index settings for auto-created indexes (`number_of_shards`, ...).
    #[serde(default)]
    pub index_settings: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub delete_mode: DeleteMode,
    #[serde(default)]
    pub unavailable: UnavailableMode,
    #[serde(default)]
    pub decimal: DecimalMode,
    #[serde(default)]
    pub unsigned: UnsignedMode,
    #[serde(default)]
    pub json: JsonMode,
}

/// Authentication.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// HTTP basic authentication.
    Basic { username: String, password: Secret },
    /// An API key: `key` is the encoded key (base64 of `id:api_key`, as
    /// Kibana shows it), or the raw secret when `id` is given.
    ApiKey {
        #[serde(default)]
        id: Option<String>,
        key: Secret,
    },
}

/// TLS for `https://` URLs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) that signed the cluster's certificates
    /// (added to the system roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// UNSAFE: accept any server certificate. Anyone on the network path can
    /// read and change the data. Only for throw-away test clusters.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// Retry of failed items inside one `apply`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(default = "default_initial_backoff", with = "humantime_serde")]
    pub initial_backoff: Duration,
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// After this long, `apply` returns a transient error.
    #[serde(default = "default_retry_for", with = "humantime_serde")]
    pub retry_for: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            retry_for: DEFAULT_RETRY_FOR,
        }
    }
}

/// Per-table settings that replace the sink-wide ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableOverride {
    #[serde(default)]
    pub index: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// What a delete event writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteMode {
    /// A versioned `delete` action. The cluster remembers the tombstone for
    /// `index.gc_deletes` only.
    #[default]
    Delete,
    /// Index a tombstone document (`_sluice_deleted: true` plus the key
    /// columns) with the delete's version. Never forgotten; readers filter it out.
    Soft,
}

/// What happens to columns whose value the source did not provide (TOAST).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnavailableMode {
    /// Read the stored document and carry its value of those columns over.
    #[default]
    Merge,
    /// Leave the fields out of the document (the stored value is lost).
    Omit,
}

/// Rendering of exact decimals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecimalMode {
    /// A JSON string with every digit (`"12345.670"`): lossless.
    #[default]
    String,
    /// A JSON number through `f64` (exact up to 15 significant digits).
    Number,
}

/// Rendering of unsigned 64-bit integers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsignedMode {
    /// A JSON number (mapped `unsigned_long`). JavaScript readers lose
    /// precision above 2^53.
    #[default]
    Number,
    /// A JSON string of digits (mapped `keyword`).
    String,
}

/// Rendering of JSON columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonMode {
    /// Nested JSON (dynamically mapped).
    #[default]
    Object,
    /// The compact JSON text as a string (mapped `text`): never a mapping conflict.
    String,
}

fn default_urls() -> Vec<String> {
    vec![DEFAULT_URL.to_string()]
}
const fn default_max_bulk_actions() -> usize {
    DEFAULT_MAX_BULK_ACTIONS
}
const fn default_max_bulk_bytes() -> usize {
    DEFAULT_MAX_BULK_BYTES
}
const fn default_request_timeout() -> Duration {
    DEFAULT_REQUEST_TIMEOUT
}
const fn default_max_concurrent_requests() -> usize {
    DEFAULT_MAX_CONCURRENT_REQUESTS
}
const fn default_initial_backoff() -> Duration {
    DEFAULT_INITIAL_BACKOFF
}
const fn default_max_backoff() -> Duration {
    DEFAULT_MAX_BACKOFF
}
const fn default_retry_for() -> Duration {
    DEFAULT_RETRY_FOR
}
fn default_index_template() -> String {
    DEFAULT_INDEX_TEMPLATE.to_string()
}
fn default_id_separator() -> String {
    DEFAULT_ID_SEPARATOR.to_string()
}
const fn default_true() -> bool {
    true
}
const fn default_gc_deletes() -> Duration {
    DEFAULT_GC_DELETES
}

impl ElasticsearchSinkConfig {
    /// A configuration with every default and the given node URLs.
    pub fn new(urls: Vec<String>) -> Self {
        ElasticsearchSinkConfig {
            urls,
            auth: None,
            tls: TlsConfig::default(),
            max_bulk_actions: DEFAULT_MAX_BULK_ACTIONS,
            max_bulk_bytes: DEFAULT_MAX_BULK_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            retry: RetryConfig::default(),
            index: default_index_template(),
            id: None,
            id_separator: default_id_separator(),
            tables: BTreeMap::new(),
            auto_create_indexes: true,
            gc_deletes: DEFAULT_GC_DELETES,
            index_settings: serde_json::Map::new(),
            delete_mode: DeleteMode::default(),
            unavailable: UnavailableMode::default(),
            decimal: DecimalMode::default(),
            unsigned: UnsignedMode::default(),
            json: JsonMode::default(),
        }
    }

    /// Reports every problem under `path` (e.g. `sink[1]`). Pure: reads
    /// nothing but secret files/env.
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        if self.urls.is_empty() {
            problems.push(format!("{path}.urls"), "at least one node URL is required");
        }
        for (i, url) in self.urls.iter().enumerate() {
            problems.check_url(&format!("{path}.urls[{i}]"), url, &["http", "https"]);
            if let Ok(u) = url::Url::parse(url)
                && (u.password().is_some() || !u.username().is_empty())
            {
                problems.push(format!("{path}.urls[{i}]"), "credentials in the URL are not allowed: use `auth`");
            }
        }
        match &self.auth {
            Some(AuthConfig::Basic { username, password }) => {
                if username.is_empty() {
                    problems.push(format!("{path}.auth.username"), "must not be empty");
                }
                password.validate(&format!("{path}.auth.password"), problems);
            }
            Some(AuthConfig::ApiKey { id, key }) => {
                if id.as_deref() == Some("") {
                    problems.push(format!("{path}.auth.id"), "must not be empty when given");
                }
                key.validate(&format!("{path}.auth.key"), problems);
            }
            None => {}
        }
        if self.tls.insecure_skip_verify && self.tls.ca_file.is_some() {
            problems.push(format!("{path}.tls"), "`ca_file` and `insecure_skip_verify` exclude each other");
        }
        if self.max_bulk_actions == 0 || self.max_bulk_actions > 100_000 {
            problems.push(format!("{path}.max_bulk_actions"), "must be between 1 and 100000");
        }
        if self.max_bulk_bytes < 1024 || self.max_bulk_bytes > MAX_BULK_BYTES_LIMIT {
            problems.push(format!("{path}.max_bulk_bytes"), format!("must be between 1024 and {MAX_BULK_BYTES_LIMIT}"));
        }
        if self.request_timeout.is_zero() {
            problems.push(format!("{path}.request_timeout"), "must be positive");
        }
        if self.max_concurrent_requests == 0 || self.max_concurrent_requests > 64 {
            problems.push(format!("{path}.max_concurrent_requests"), "must be between 1 and 64");
        }
        if self.retry.initial_backoff.is_zero() || self.retry.initial_backoff > self.retry.max_backoff {
            problems.push(format!("{path}.retry.initial_backoff"), "must be positive and at most `max_backoff`");
        }
        if let Err(e) = IndexTemplate::parse(&self.index) {
            problems.push(format!("{path}.index"), e);
        }
        if let Some(id) = &self.id
            && let Err(e) = IdTemplate::parse(id)
        {
            problems.push(format!("{path}.id"), e);
        }
        if self.id_separator.is_empty() || self.id_separator.contains('\\') {
            problems.push(format!("{path}.id_separator"), "must be non-empty and must not contain `\\`");
        }
        for (table, over) in &self.tables {
            let at = format!("{path}.tables.\"{table}\"");
            if table.is_empty() {
                problems.push(at.clone(), "table name must not be empty");
            }
            if let Some(index) = &over.index
                && let Err(e) = IndexTemplate::parse(index)
            {
                problems.push(format!("{at}.index"), e);
            }
            if let Some(id) = &over.id
                && let Err(e) = IdTemplate::parse(id)
            {
                problems.push(format!("{at}.id"), e);
            }
        }
        for key in self.index_settings.keys() {
            if key.trim_start_matches("index.") == "gc_deletes" {
                problems.push(format!("{path}.index_settings.{key}"), "use the `gc_deletes` setting");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(toml_text: &str) -> Vec<String> {
        let config: ElasticsearchSinkConfig = toml::from_str(toml_text).expect("parse");
        let mut problems = Problems::default();
        config.validate("sink[0]", &mut problems);
        problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(problems_of(""), Vec::<String>::new());
        let c: ElasticsearchSinkConfig = toml::from_str("").unwrap();
        assert_eq!(c.urls, vec![DEFAULT_URL.to_string()]);
        assert_eq!(c.index, "{db}.{table}");
        assert_eq!(c.delete_mode, DeleteMode::Delete);
        assert_eq!(c.gc_deletes, DEFAULT_GC_DELETES);
    }

    #[test]
    fn full_config_parses() {
        let c: ElasticsearchSinkConfig = toml::from_str(
            r#"
            urls = ["https://es1:9200", "https://es2:9200"]
            auth = { method = "basic", username = "elastic", password = "hunter2" }
            tls = { ca_file = "/etc/ca.pem" }
            max_bulk_actions = 500
            max_bulk_bytes = 1048576
            request_timeout = "10s"
            retry = { initial_backoff = "50ms", max_backoff = "2s", retry_for = "1m" }
            index = "cdc-{db}-{table}"
            id = "{tenant}:{id}"
            delete_mode = "soft"
            unavailable = "omit"
            decimal = "number"
            unsigned = "string"
            json = "string"
            gc_deletes = "7d"
            index_settings = { number_of_replicas = 0 }
            [tables."shop.orders"]
            index = "orders"
            "#,
        )
        .unwrap();
        assert_eq!(c.urls.len(), 2);
        assert!(!format!("{c:?}").contains("hunter2"), "secrets never print");
        assert_eq!(c.tables["shop.orders"].index.as_deref(), Some("orders"));
        assert_eq!(c.gc_deletes, Duration::from_secs(7 * 86400));
        let mut problems = Problems::default();
        c.validate("s", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn problems_name_their_path() {
        let got = problems_of(
            r#"
            urls = ["ftp://x", "http://u:p@h:9200"]
            max_bulk_actions = 0
            index = "{nope}"
            id_separator = ""
            tls = { ca_file = "/x", insecure_skip_verify = true }
            auth = { method = "api_key", key = { env = "SLUICE_TEST_NO_SUCH_VAR" } }
            [tables."a.b"]
            id = "{unclosed"
            "#,
        );
        let joined = got.join("\n");
        for needle in [
            "sink[0].urls[0]: invalid URL",
            "sink[0].urls[1]: credentials in the URL",
            "sink[0].max_bulk_actions",
            "sink[0].index: unknown placeholder {nope}",
            "sink[0].id_separator",
            "sink[0].tls",
            "sink[0].auth.key: environment variable SLUICE_TEST_NO_SUCH_VAR",
            "sink[0].tables.\"a.b\".id",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in\n{joined}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(toml::from_str::<ElasticsearchSinkConfig>("url = \"http://x\"").is_err());
        assert!(
            toml::from_str::<ElasticsearchSinkConfig>(
                "auth = { method = \"basic\", username = \"u\", password = \"p\", x = 1 }"
            )
            .is_err()
        );
    }
}
