//! What the user writes: the `[[sink]] kind = "postgres"` section.
//!
//! Every field has a documented default (`DEFAULT_*`); [`PostgresSinkConfig::validate`]
//! is pure (no network) and reports every problem with its path. The password
//! is a [`Secret`] (or part of the URL); neither ever reaches logs or `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use sluice_sink_api::config::redact_url;
use sluice_sink_api::{Problems, Secret};

pub const DEFAULT_POOL_SIZE: u32 = 4;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_SCHEMA: &str = "public";
pub const DEFAULT_TABLE_TEMPLATE: &str = "{table}";
pub const DEFAULT_VERSION_COLUMN: &str = "_sluice_version";
pub const DEFAULT_SOFT_DELETE_COLUMN: &str = "_sluice_deleted";
pub const DEFAULT_TOMBSTONE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_TOMBSTONE_GC_INTERVAL: Duration = Duration::from_secs(3600);
pub const DEFAULT_SLUICE_SCHEMA: &str = "sluice";
/// Placeholders a table template may use.
pub const TEMPLATE_PLACEHOLDERS: [&str; 3] = ["{db}", "{schema}", "{table}"];

/// How a delete is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteMode {
    /// The row is deleted and a versioned tombstone is written to
    /// `<sluice_schema>.tombstones`, kept for `tombstone_retention`.
    #[default]
    Hard,
    /// The row stays, `soft_delete_column` is set to `true` and the version
    /// column is raised; readers filter on the flag.
    Soft,
}

/// What a truncate event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruncateMode {
    /// Rows older than the truncate are deleted (or soft-deleted) and the
    /// table remembers the truncate's version: older upserts become no-ops.
    #[default]
    Apply,
    /// Truncates are acknowledged and do nothing.
    Ignore,
}

/// Where a table's primary key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    /// The record key (the source's primary key).
    #[default]
    RecordKey,
    /// Configured `key_columns` read from the row image (keyless source tables
    /// with a natural unique key).
    Columns,
    /// The whole row identifies itself (REPLICA IDENTITY FULL style): the
    /// target key is `_sluice_row_key`, a SHA-256 of the row's values.
    FullRow,
}

/// Per-source-table settings, keyed in [`PostgresSinkConfig::tables`] by the
/// source table's qualified name (`db.table`, `db.schema.table`) or bare name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableOverride {
    /// Target table name (instead of the template's).
    #[serde(default)]
    pub target: Option<String>,
    /// Target schema (instead of the sink's `schema`).
    #[serde(default)]
    pub schema: Option<String>,
    /// Only these source columns are written (key columns always are).
    #[serde(default)]
    pub include_columns: Option<Vec<String>>,
    /// These source columns are never written.
    #[serde(default)]
    pub exclude_columns: Vec<String>,
    #[serde(default)]
    pub key_mode: Option<KeyMode>,
    /// Key columns for [`KeyMode::Columns`].
    #[serde(default)]
    pub key_columns: Vec<String>,
}

/// The Postgres sink's configuration. See `docs/postgres-sink.md`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSinkConfig {
    /// `postgres://user[:password]@host:port/db?...`. A password in the URL is
    /// redacted in every log and error.
    pub url: String,
    /// The password, when not in the URL (literal, `{ env = ".." }` or `{ file = ".." }`).
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(default = "default_statement_timeout", with = "humantime_serde")]
    pub statement_timeout: Duration,
    /// Target schema of the data tables.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Target table name from the source table: `{db}`, `{schema}`, `{table}`.
    #[serde(default = "default_table_template")]
    pub table_template: String,
    #[serde(default)]
    pub tables: BTreeMap<String, TableOverride>,
    /// Default key mode of tables without an override.
    #[serde(default)]
    pub key_mode: KeyMode,
    /// The `numeric` column holding each row's version.
    #[serde(default = "default_version_column")]
    pub version_column: String,
    #[serde(default)]
    pub delete_mode: DeleteMode,
    #[serde(default = "default_soft_delete_column")]
    pub soft_delete_column: String,
    #[serde(default = "default_tombstone_retention", with = "humantime_serde")]
    pub tombstone_retention: Duration,
    #[serde(default = "default_tombstone_gc_interval", with = "humantime_serde")]
    pub tombstone_gc_interval: Duration,
    #[serde(default)]
    pub truncate: TruncateMode,
    #[serde(default = "default_true")]
    pub auto_create: bool,
    #[serde(default = "default_true")]
    pub auto_evolve: bool,
    /// Schema of sluice's own tables (tombstones, table_state, offsets).
    #[serde(default = "default_sluice_schema")]
    pub sluice_schema: String,
}

const fn default_pool_size() -> u32 {
    DEFAULT_POOL_SIZE
}
const fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}
const fn default_statement_timeout() -> Duration {
    DEFAULT_STATEMENT_TIMEOUT
}
fn default_schema() -> String {
    DEFAULT_SCHEMA.to_string()
}
fn default_table_template() -> String {
    DEFAULT_TABLE_TEMPLATE.to_string()
}
fn default_version_column() -> String {
    DEFAULT_VERSION_COLUMN.to_string()
}
fn default_soft_delete_column() -> String {
    DEFAULT_SOFT_DELETE_COLUMN.to_string()
}
const fn default_tombstone_retention() -> Duration {
    DEFAULT_TOMBSTONE_RETENTION
}
const fn default_tombstone_gc_interval() -> Duration {
    DEFAULT_TOMBSTONE_GC_INTERVAL
}
const fn default_true() -> bool {
    true
}
fn default_sluice_schema() -> String {
    DEFAULT_SLUICE_SCHEMA.to_string()
}

impl fmt::Debug for PostgresSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSinkConfig")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("schema", &self.schema)
            .field("table_template", &self.table_template)
            .field("tables", &self.tables)
            .field("key_mode", &self.key_mode)
            .field("version_column", &self.version_column)
            .field("delete_mode", &self.delete_mode)
            .field("soft_delete_column", &self.soft_delete_column)
            .field("tombstone_retention", &self.tombstone_retention)
            .field("tombstone_gc_interval", &self.tombstone_gc_interval)
            .field("truncate", &self.truncate)
            .field("auto_create", &self.auto_create)
            .field("auto_evolve", &self.auto_evolve)
            .field("sluice_schema", &self.sluice_schema)
            .finish()
    }
}

impl PostgresSinkConfig {
    /// A config with every default and the given URL.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresSinkConfig {
            url: url.into(),
            password: None,
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            schema: default_schema(),
            table_template: default_table_template(),
            tables: BTreeMap::new(),
            key_mode: KeyMode::default(),
            version_column: default_version_column(),
            delete_mode: DeleteMode::default(),
            soft_delete_column: default_soft_delete_column(),
            tombstone_retention: DEFAULT_TOMBSTONE_RETENTION,
            tombstone_gc_interval: DEFAULT_TOMBSTONE_GC_INTERVAL,
            truncate: TruncateMode::default(),
            auto_create: true,
            auto_evolve: true,
            sluice_schema: default_sluice_schema(),
        }
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Checks the config without touching the network; every problem is
    /// pushed with its path below `path` (e.g. `sink[0].pool_size`).
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        let at = |field: &str| format!("{path}.{field}");
        problems.check_url(&at("url"), &self.url, &["postgres", "postgresql"]);
        if let Some(password) = &self.password {
            password.validate(&at("password"), problems);
        }
        if self.pool_size == 0 || self.pool_size > 1024 {
            problems.push(at("pool_size"), format!("must be between 1 and 1024, got {}", self.pool_size));
        }
        for (field, value) in [("connect_timeout", self.connect_timeout), ("statement_timeout", self.statement_timeout)]
        {
            if value.is_zero() {
                problems.push(at(field), "must be greater than zero");
            }
        }
        for (field, value) in [
            ("schema", &self.schema),
            ("version_column", &self.version_column),
            ("soft_delete_column", &self.soft_delete_column),
            ("sluice_schema", &self.sluice_schema),
        ] {
            check_identifier(&at(field), value, problems);
        }
        if self.version_column == self.soft_delete_column {
            problems.push(at("soft_delete_column"), "must differ from version_column");
        }
        check_template(&at("table_template"), &self.table_template, problems);
        if self.tombstone_retention.is_zero() {
            problems.push(at("tombstone_retention"), "must be greater than zero");
        }
        if self.tombstone_gc_interval.is_zero() {
            problems.push(at("tombstone_gc_interval"), "must be greater than zero");
        }
        for (name, table) in &self.tables {
            let tpath = format!("{path}.tables.\"{name}\"");
            table.validate(&tpath, self.key_mode, problems);
        }
    }

    /// The override for a source table: by `db.schema.table`, `db.table`,
    /// `schema.table`, then bare `table`.
    pub fn override_for(&self, table: &sluice_sink_api::TableId) -> Option<&TableOverride> {
        let mut names = vec![table.qualified()];
        if let (Some(db), Some(_)) = (&table.database, &table.schema) {
            names.push(format!("{db}.{}", table.table));
        }
        names.push(table.data_collection());
        names.push(table.table.clone());
        names.iter().find_map(|n| self.tables.get(n))
    }
}

impl TableOverride {
    fn validate(&self, path: &str, default_mode: KeyMode, problems: &mut Problems) {
        if let Some(target) = &self.target {
            check_identifier(&format!("{path}.target"), target, problems);
        }
        if let Some(schema) = &self.schema {
            check_identifier(&format!("{path}.schema"), schema, problems);
        }
        let mode = self.key_mode.unwrap_or(default_mode);
        match mode {
            KeyMode::Columns if self.key_columns.is_empty() => {
                problems.push(format!("{path}.key_columns"), "key_mode = \"columns\" needs at least one key column")
            }
            KeyMode::RecordKey | KeyMode::FullRow if !self.key_columns.is_empty() => problems.push(
                format!("{path}.key_columns"),
                "key_columns are only used with key_mode = \"columns\"; set key_mode or remove them",
            ),
            _ => {}
        }
        for key in &self.key_columns {
            if self.exclude_columns.contains(key) {
                problems.push(format!("{path}.exclude_columns"), format!("excludes key column `{key}`"));
            }
        }
        if let Some(include) = &self.include_columns {
            for excluded in &self.exclude_columns {
                if include.contains(excluded) {
                    problems.push(format!("{path}.exclude_columns"), format!("`{excluded}` is also included"));
                }
            }
        }
    }
}

fn check_identifier(path: &str, value: &str, problems: &mut Problems) {
    if value.is_empty() {
        problems.push(path, "must not be empty");
    } else if value.contains('\0') {
        problems.push(path, "must not contain NUL characters");
    }
}

fn check_template(path: &str, template: &str, problems: &mut Problems) {
    if template.is_empty() {
        problems.push(path, "must not be empty");
        return;
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            problems.push(path, format!("unclosed placeholder in `{template}`"));
            return;
        };
        let placeholder = &rest[open..open + close + 1];
        if !TEMPLATE_PLACEHOLDERS.contains(&placeholder) {
            problems
                .push(path, format!("unknown placeholder `{placeholder}`; use {}", TEMPLATE_PLACEHOLDERS.join(", ")));
        }
        rest = &rest[open + close + 1..];
    }
    if !template.contains("{table}") {
        problems.push(path, "must contain `{table}` (otherwise every source table maps to one target)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_full_form() {
        let c: PostgresSinkConfig = toml::from_str("url = \"postgres://u:pw@h/db\"").unwrap();
        assert_eq!(c, PostgresSinkConfig::new("postgres://u:pw@h/db"));
        assert!(!format!("{c:?}").contains("pw@"));
        let c: PostgresSinkConfig = toml::from_str(
            r#"
            url = "postgres://h/db"
            password = { env = "PGPASS_NOT_SET_FOR_TEST" }
            pool_size = 8
            statement_timeout = "30s"
            table_template = "{db}_{table}"
            delete_mode = "soft"
            truncate = "ignore"
            tombstone_retention = "2days"
            [tables."inventory.orders"]
            target = "orders_v2"
            key_mode = "columns"
            key_columns = ["order_no"]
            exclude_columns = ["secret"]
            "#,
        )
        .unwrap();
        assert_eq!(c.delete_mode, DeleteMode::Soft);
        assert_eq!(c.tombstone_retention, Duration::from_secs(2 * 86400));
        let mut problems = Problems::default();
        c.validate("sink[0]", &mut problems);
        // only the unset env var
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems.0[0].path, "sink[0].password");
        let t = sluice_sink_api::TableId::new(Some("inventory"), None, "orders");
        assert_eq!(c.override_for(&t).unwrap().target.as_deref(), Some("orders_v2"));
    }

    #[test]
    fn rejects_unknown_fields_and_reports_each_problem() {
        assert!(toml::from_str::<PostgresSinkConfig>("url = \"postgres://h/db\"\nbogus = 1").is_err());
        let mut c = PostgresSinkConfig::new("mysql://h/db");
        c.pool_size = 0;
        c.table_template = "{database}".into();
        c.soft_delete_column = c.version_column.clone();
        c.tables.insert("t".into(), TableOverride { key_mode: Some(KeyMode::Columns), ..Default::default() });
        let mut problems = Problems::default();
        c.validate("sink[1]", &mut problems);
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"sink[1].url"));
        assert!(paths.contains(&"sink[1].pool_size"));
        assert!(paths.contains(&"sink[1].table_template"));
        assert!(paths.contains(&"sink[1].soft_delete_column"));
        assert!(paths.contains(&"sink[1].tables.\"t\".key_columns"));
    }
}
