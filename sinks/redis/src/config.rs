//! What the user writes: [`RedisSinkConfig`], its defaults and its pure
//! validation (no network, no files other than secret files).
//!
//! ```toml
//! url = "rediss://cache.internal:6380/0"
//! password = { env = "REDIS_PASSWORD" }
//! mode = "materialize"            # or "invalidate"
//! keys = ["{qualified}:{key}"]    # default key template(s)
//!
//! [materialize]
//! format = "hash"                 # or "json"
//! tombstone_ttl = "8d"
//!
//! [tables."shop.users"]
//! keys = ["user:{id}"]
//! ```
//!
//! The full reference is `docs/redis-sink.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use sluice_sink_api::config::redact_url;
use sluice_sink_api::{Problems, Secret};

use crate::template::KeyTemplate;

/// Default key template: the qualified table name and the escaped primary key.
pub const DEFAULT_KEY_TEMPLATE: &str = "{qualified}:{key}";
/// Default separator between primary-key values inside `{key}`.
pub const DEFAULT_KEY_SEPARATOR: &str = ":";
/// Default response timeout of one pipeline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default timeout of one connection attempt.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of commands per pipeline.
pub const DEFAULT_PIPELINE_SIZE: usize = 1000;
/// Default number of pipelines of one batch in flight at once: one, so a
/// batch's commands reach Redis strictly in batch order and a failure leaves
/// an applied prefix (see `docs/redis-sink.md`, "Ordering").
pub const DEFAULT_PIPELINES_IN_FLIGHT: usize = 1;
/// Default name of the hash field / JSON member that holds the version.
pub const DEFAULT_VERSION_FIELD: &str = "_sluice_version";
/// Default lifetime of a delete's tombstone: longer than Kafka's default
/// retention (7 days), so a replay of anything still in the topic cannot
/// resurrect a deleted key.
pub const DEFAULT_TOMBSTONE_TTL: Duration = Duration::from_secs(8 * 24 * 3600);
/// Default prefix of tombstone (version guard) keys, after `key_prefix`.
pub const DEFAULT_TOMBSTONE_PREFIX: &str = "sluice:tombstone:";
/// Largest accepted `pipeline_size`.
pub const MAX_PIPELINE_SIZE: usize = 100_000;

const fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}
const fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}
const fn default_pipeline_size() -> usize {
    DEFAULT_PIPELINE_SIZE
}
const fn default_in_flight() -> usize {
    DEFAULT_PIPELINES_IN_FLIGHT
}
const fn default_tombstone_ttl() -> Duration {
    DEFAULT_TOMBSTONE_TTL
}
fn default_keys() -> Vec<String> {
    vec![DEFAULT_KEY_TEMPLATE.to_string()]
}
fn default_separator() -> String {
    DEFAULT_KEY_SEPARATOR.to_string()
}
fn default_version_field() -> String {
    DEFAULT_VERSION_FIELD.to_string()
}
fn default_tombstone_prefix() -> String {
    DEFAULT_TOMBSTONE_PREFIX.to_string()
}

/// What the sink does with changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisMode {
    /// Delete the cache keys of every changed row (before and after image).
    Invalidate,
    /// Store every row under its key, guarded by version.
    Materialize,
}

impl RedisMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RedisMode::Invalidate => "invalidate",
            RedisMode::Materialize => "materialize",
        }
    }
}

/// What a NULL in a templated column means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NullKeys {
    /// The record is rejected (dead-lettered) naming table, template and column.
    #[default]
    Reject,
    /// The template renders no key for that image (there is no such cache
    /// entry to invalidate). Absent and unavailable columns are still rejected.
    Skip,
}

/// The command that removes keys in invalidate mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidateCommand {
    /// `UNLINK`: memory is reclaimed in the background (default).
    #[default]
    Unlink,
    /// `DEL`: synchronous delete (servers older than 4.0).
    Del,
}

impl InvalidateCommand {
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidateCommand::Unlink => "UNLINK",
            InvalidateCommand::Del => "DEL",
        }
    }
}

/// `[invalidate]`: settings of invalidate mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidateConfig {
    #[serde(default)]
    pub command: InvalidateCommand,
    /// Channel template for `PUBLISH` of one JSON message per invalidated key
    /// (`{db}`, `{schema}`, `{table}`, `{qualified}` allowed). None: no publish.
    #[serde(default)]
    pub channel: Option<String>,
}

/// How a materialized row is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterializeFormat {
    /// A Redis hash: one field per column, plain-text values.
    #[default]
    Hash,
    /// A string holding a JSON object.
    Json,
}

impl MaterializeFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            MaterializeFormat::Hash => "hash",
            MaterializeFormat::Json => "json",
        }
    }
}

/// `[materialize]`: settings of materialize mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterializeConfig {
    #[serde(default)]
    pub format: MaterializeFormat,
    /// Hash field / JSON member holding the 39-digit zero-padded version.
    #[serde(default = "default_version_field")]
    pub version_field: String,
    /// How long a delete's tombstone (version guard) lives. Must exceed the
    /// replay horizon (Kafka retention): see `docs/redis-sink.md`.
    #[serde(default = "default_tombstone_ttl", with = "humantime_serde")]
    pub tombstone_ttl: Duration,
    /// Prefix of tombstone keys (after `key_prefix`): `<key_prefix><tombstone_prefix><key>`.
    #[serde(default = "default_tombstone_prefix")]
    pub tombstone_prefix: String,
    /// Optional expiry of live keys, refreshed by every write.
    #[serde(default, with = "humantime_serde")]
    pub ttl: Option<Duration>,
}

impl Default for MaterializeConfig {
    fn default() -> Self {
        MaterializeConfig {
            format: MaterializeFormat::default(),
            version_field: default_version_field(),
            tombstone_ttl: DEFAULT_TOMBSTONE_TTL,
            tombstone_prefix: default_tombstone_prefix(),
            ttl: None,
        }
    }
}

/// `[tables."<name>"]`: per-table overrides. The name is matched against the
/// table's qualified name (`db.table`, `db.schema.table`), then
/// `schema.table`, then the bare table name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// Key templates (invalidate: any number; materialize: exactly one).
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    /// Invalidate mode: channel template for this table.
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub null_keys: Option<NullKeys>,
    /// Materialize mode: expiry of this table's live keys.
    #[serde(default, with = "humantime_serde")]
    pub ttl: Option<Duration>,
}

/// The configuration of one Redis sink. See the module docs and
/// `docs/redis-sink.md`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSinkConfig {
    /// `redis://[user[:password]@]host[:port][/db]`, `rediss://` for TLS
    /// (certificates always verified), or `unix:///path`. Never printed
    /// unredacted.
    pub url: String,
    /// ACL user name (overrides the URL's).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (overrides the URL's); plain, `{ env = ".." }` or `{ file = ".." }`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// PEM file with the CA certificate(s) for `rediss://` (instead of the
    /// bundled web PKI roots).
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    pub mode: RedisMode,
    /// Default key templates of tables without their own `keys`.
    #[serde(default = "default_keys")]
    pub keys: Vec<String>,
    /// Prepended to every key the sink writes or deletes (not to channels).
    #[serde(default)]
    pub key_prefix: String,
    /// Separator between primary-key values inside `{key}`.
    #[serde(default = "default_separator")]
    pub key_separator: String,
    #[serde(default)]
    pub null_keys: NullKeys,
    /// Response timeout of one pipeline (a timeout is transient).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Commands per pipeline.
    #[serde(default = "default_pipeline_size")]
    pub pipeline_size: usize,
    /// Pipelines of one batch sent concurrently on the multiplexed connection.
    /// Above 1, a reconnect can reorder pipelines: harmless for full row
    /// images, but a column only an older partial (TOAST) image carried can
    /// be lost. Keep 1 unless every source sends full images.
    #[serde(default = "default_in_flight")]
    pub pipelines_in_flight: usize,
    #[serde(default)]
    pub invalidate: Option<InvalidateConfig>,
    #[serde(default)]
    pub materialize: Option<MaterializeConfig>,
    #[serde(default)]
    pub tables: BTreeMap<String, TableConfig>,
}

impl fmt::Debug for RedisSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSinkConfig")
            .field("url", &redact_url(&self.url))
            .field("username", &self.username)
            .field("password", &self.password)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("mode", &self.mode)
            .field("keys", &self.keys)
            .field("key_prefix", &self.key_prefix)
            .field("key_separator", &self.key_separator)
            .field("null_keys", &self.null_keys)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("pipeline_size", &self.pipeline_size)
            .field("pipelines_in_flight", &self.pipelines_in_flight)
            .field("invalidate", &self.invalidate)
            .field("materialize", &self.materialize)
            .field("tables", &self.tables)
            .finish()
    }
}

impl RedisSinkConfig {
    /// A config with every default, for `url` and `mode`.
    pub fn new(url: impl Into<String>, mode: RedisMode) -> Self {
        RedisSinkConfig {
            url: url.into(),
            username: None,
            password: None,
            tls_ca_file: None,
            mode,
            keys: default_keys(),
            key_prefix: String::new(),
            key_separator: default_separator(),
            null_keys: NullKeys::default(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pipeline_size: DEFAULT_PIPELINE_SIZE,
            pipelines_in_flight: DEFAULT_PIPELINES_IN_FLIGHT,
            invalidate: None,
            materialize: None,
            tables: BTreeMap::new(),
        }
    }

    /// The invalidate settings (defaults when the section is absent).
    pub fn invalidate_settings(&self) -> InvalidateConfig {
        self.invalidate.clone().unwrap_or_default()
    }

    /// The materialize settings (defaults when the section is absent).
    pub fn materialize_settings(&self) -> MaterializeConfig {
        self.materialize.clone().unwrap_or_default()
    }

    /// The URL for logs and errors (password replaced by `***`).
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Reports every problem with its path under `path` (e.g. `sink[2]`).
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        let at = |field: &str| format!("{path}.{field}");
        problems.check_url(&at("url"), &self.url, &["redis", "rediss", "unix", "redis+unix"]);
        if let Ok(url) = url::Url::parse(&self.url) {
            if url.password().is_some() && self.password.is_some() {
                problems.push(at("password"), "the URL already carries a password; give it in one place only");
            }
            if url.fragment() == Some("insecure") {
                problems.push(
                    at("url"),
                    "`#insecure` (no certificate checks) is not supported; trust a private CA with tls_ca_file",
                );
            }
            if self.tls_ca_file.is_some() && url.scheme() != "rediss" {
                problems.push(at("tls_ca_file"), "only meaningful with a `rediss://` URL");
            }
        }
        if let Some(password) = &self.password {
            password.validate(&at("password"), problems);
        }
        if self.key_separator.is_empty() || self.key_separator.contains('\\') {
            problems.push(at("key_separator"), "must be non-empty and must not contain `\\` (the escape character)");
        }
        if self.timeout.is_zero() {
            problems.push(at("timeout"), "must be greater than zero");
        }
        if self.connect_timeout.is_zero() {
            problems.push(at("connect_timeout"), "must be greater than zero");
        }
        if !(1..=MAX_PIPELINE_SIZE).contains(&self.pipeline_size) {
            problems.push(at("pipeline_size"), format!("must be between 1 and {MAX_PIPELINE_SIZE}"));
        }
        if !(1..=64).contains(&self.pipelines_in_flight) {
            problems.push(at("pipelines_in_flight"), "must be between 1 and 64");
        }
        self.validate_keys(&at("keys"), &self.keys, problems);
        match self.mode {
            RedisMode::Invalidate => {
                if self.materialize.is_some() {
                    problems.push(at("materialize"), "given but mode is `invalidate`");
                }
                if let Some(channel) = self.invalidate.as_ref().and_then(|i| i.channel.as_deref()) {
                    validate_channel(&at("invalidate.channel"), channel, problems);
                }
            }
            RedisMode::Materialize => {
                if self.invalidate.is_some() {
                    problems.push(at("invalidate"), "given but mode is `materialize`");
                }
                self.validate_materialize(&at("materialize"), problems);
            }
        }
        for (name, table) in &self.tables {
            let tpath = format!("{path}.tables.\"{name}\"");
            if name.is_empty() {
                problems.push(&tpath, "table name must not be empty");
            }
            if let Some(keys) = &table.keys {
                self.validate_keys(&format!("{tpath}.keys"), keys, problems);
            }
            match self.mode {
                RedisMode::Invalidate => {
                    if table.ttl.is_some() {
                        problems.push(format!("{tpath}.ttl"), "only meaningful in mode `materialize`");
                    }
                    if let Some(channel) = &table.channel {
                        validate_channel(&format!("{tpath}.channel"), channel, problems);
                    }
                }
                RedisMode::Materialize => {
                    if table.channel.is_some() {
                        problems.push(format!("{tpath}.channel"), "only meaningful in mode `invalidate`");
                    }
                    if table.ttl.is_some_and(|t| t < Duration::from_millis(1)) {
                        problems.push(format!("{tpath}.ttl"), "must be at least 1ms");
                    }
                }
            }
        }
    }

    fn validate_keys(&self, path: &str, keys: &[String], problems: &mut Problems) {
        if keys.is_empty() {
            problems.push(path, "at least one key template is required");
        }
        if self.mode == RedisMode::Materialize && keys.len() > 1 {
            problems.push(path, "materialize mode stores each row under exactly one key template");
        }
        for (i, source) in keys.iter().enumerate() {
            match KeyTemplate::parse(source) {
                Err(e) => problems.push(format!("{path}[{i}]"), format!("template `{source}`: {e}")),
                Ok(t) if self.mode == RedisMode::Materialize && !t.is_row_specific() => problems.push(
                    format!("{path}[{i}]"),
                    format!("template `{source}` names no column and no `{{key}}`: every row would share one key"),
                ),
                Ok(_) => {}
            }
        }
    }

    fn validate_materialize(&self, path: &str, problems: &mut Problems) {
        let m = self.materialize_settings();
        if m.version_field.is_empty() {
            problems.push(format!("{path}.version_field"), "must not be empty");
        }
        if m.tombstone_prefix.is_empty() {
            problems.push(format!("{path}.tombstone_prefix"), "must not be empty (tombstones need their own keys)");
        }
        if m.tombstone_ttl < Duration::from_secs(1) {
            problems.push(
                format!("{path}.tombstone_ttl"),
                "must be at least 1s, and should exceed the replay horizon (Kafka retention)",
            );
        }
        if m.ttl.is_some_and(|t| t < Duration::from_millis(1)) {
            problems.push(format!("{path}.ttl"), "must be at least 1ms");
        }
    }
}

fn validate_channel(path: &str, channel: &str, problems: &mut Problems) {
    match KeyTemplate::parse(channel) {
        Err(e) => problems.push(path, format!("template `{channel}`: {e}")),
        Ok(t) if !t.is_table_only() => problems.push(
            path,
            format!("template `{channel}`: channels may only use {{db}}, {{schema}}, {{table}}, {{qualified}}"),
        ),
        Ok(_) if channel.is_empty() => problems.push(path, "must not be empty"),
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(toml_text: &str) -> Vec<String> {
        let config: RedisSinkConfig = toml::from_str(toml_text).unwrap();
        let mut problems = Problems::default();
        config.validate("sink[0]", &mut problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c: RedisSinkConfig = toml::from_str("url = \"redis://127.0.0.1:6379\"\nmode = \"materialize\"").unwrap();
        assert_eq!(c.keys, vec![DEFAULT_KEY_TEMPLATE]);
        assert_eq!(c.pipeline_size, DEFAULT_PIPELINE_SIZE);
        assert_eq!(c.materialize_settings().tombstone_ttl, DEFAULT_TOMBSTONE_TTL);
        assert_eq!(c.materialize_settings().format, MaterializeFormat::Hash);
        assert!(problems_of("url = \"redis://127.0.0.1:6379\"\nmode = \"invalidate\"").is_empty());
    }

    #[test]
    fn full_config_parses() {
        let c: RedisSinkConfig = toml::from_str(
            r#"
            url = "rediss://cache:6380/2"
            username = "sluice"
            password = { env = "SLUICE_TEST_REDIS_PW_NONE" }
            mode = "invalidate"
            keys = ["{qualified}:{key}"]
            key_prefix = "app:"
            timeout = "2s"
            pipeline_size = 200
            [invalidate]
            command = "del"
            channel = "inv:{qualified}"
            [tables."shop.users"]
            keys = ["user:{id}", "user:email:{email}"]
            null_keys = "skip"
            "#,
        )
        .unwrap();
        assert_eq!(c.invalidate_settings().command, InvalidateCommand::Del);
        assert_eq!(c.tables["shop.users"].keys.as_ref().unwrap().len(), 2);
        assert_eq!(c.timeout, Duration::from_secs(2));
        let mut problems = Problems::default();
        c.validate("s", &mut problems);
        // only the unresolvable env secret
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems.0[0].path == "s.password");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err =
            toml::from_str::<RedisSinkConfig>("url = \"redis://h\"\nmode = \"invalidate\"\nkeyz = []").unwrap_err();
        assert!(err.to_string().contains("keyz"), "{err}");
        assert!(toml::from_str::<RedisSinkConfig>("url = \"redis://h\"\nmode = \"cache\"").is_err());
    }

    #[test]
    fn every_problem_names_its_path() {
        let p = problems_of(
            r#"
            url = "http://h:1"
            mode = "materialize"
            keys = ["a:{id}", "b:{id}"]
            key_separator = ""
            pipeline_size = 0
            timeout = "0s"
            [invalidate]
            [materialize]
            tombstone_ttl = "0s"
            version_field = ""
            [tables.t]
            keys = ["const", "x{"]
            channel = "c"
            "#,
        );
        let joined = p.join("\n");
        for needle in [
            "sink[0].url: invalid URL: scheme `http`",
            "sink[0].keys: materialize mode stores each row under exactly one key template",
            "sink[0].key_separator",
            "sink[0].pipeline_size",
            "sink[0].timeout",
            "sink[0].invalidate: given but mode is `materialize`",
            "sink[0].materialize.tombstone_ttl",
            "sink[0].materialize.version_field",
            "sink[0].tables.\"t\".keys[0]: template `const` names no column",
            "sink[0].tables.\"t\".keys[1]: template `x{`: unclosed",
            "sink[0].tables.\"t\".channel: only meaningful in mode `invalidate`",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
    }

    #[test]
    fn channel_templates_are_table_only_and_passwords_not_twice() {
        let p = problems_of(
            r#"
            url = "redis://:pw@h:1/#insecure"
            password = "pw2"
            mode = "invalidate"
            [invalidate]
            channel = "inv:{id}"
            "#,
        );
        let joined = p.join("\n");
        assert!(joined.contains("sink[0].password: the URL already carries a password"), "{joined}");
        assert!(joined.contains("sink[0].url: `#insecure`"), "{joined}");
        assert!(joined.contains("sink[0].invalidate.channel: template `inv:{id}`: channels may only use"), "{joined}");
    }

    #[test]
    fn debug_redacts_url_and_password() {
        let c: RedisSinkConfig =
            toml::from_str("url = \"redis://u:hunter2@h:1\"\nmode = \"invalidate\"\npassword = \"s3cret\"").unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("redis://u:***@h:1"), "{printed}");
    }
}
