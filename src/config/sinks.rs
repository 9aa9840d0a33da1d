//! `[[sink]]` entries: a `name`, a `kind`, and the kind's own settings.
//!
//! Each kind's settings are deserialized by the sink crate's own config type
//! (`deny_unknown_fields`), so a typo names the sink and the key.

use std::path::PathBuf;

use serde::Deserialize;
use sluice_sink_api::Problems;
use sluice_sink_elasticsearch::ElasticsearchSinkConfig;
use sluice_sink_postgres::PostgresSinkConfig;
use sluice_sink_redis::RedisSinkConfig;

/// Settings of the in-memory sink (`kind = "memory"`): for demos and tests.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySinkConfig {
    /// Journal file that makes the memory sink durable across restarts.
    pub journal: Option<PathBuf>,
    /// Test hook: while this file exists, every apply fails transiently.
    pub fail_while_exists: Option<PathBuf>,
    /// Test hook: rows whose column of this name is `true` are rejected.
    pub poison_column: Option<String>,
}

/// A typed sink entry.
#[derive(Debug)]
pub struct SinkEntry {
    pub name: String,
    pub settings: SinkSettings,
}

/// The kind-specific settings.
#[derive(Debug)]
pub enum SinkSettings {
    Postgres(Box<PostgresSinkConfig>),
    Elasticsearch(Box<ElasticsearchSinkConfig>),
    Redis(Box<RedisSinkConfig>),
    Memory(MemorySinkConfig),
}

impl SinkSettings {
    pub fn kind(&self) -> &'static str {
        match self {
            SinkSettings::Postgres(_) => "postgres",
            SinkSettings::Elasticsearch(_) => "elasticsearch",
            SinkSettings::Redis(_) => "redis",
            SinkSettings::Memory(_) => "memory",
        }
    }

    /// The sink's own pure validation.
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        match self {
            SinkSettings::Postgres(c) => c.validate(path, problems),
            SinkSettings::Elasticsearch(c) => c.validate(path, problems),
            SinkSettings::Redis(c) => c.validate(path, problems),
            SinkSettings::Memory(_) => {}
        }
    }
}

/// The sink kinds this build knows.
pub const SINK_KINDS: &[&str] = &["postgres", "elasticsearch", "redis", "memory"];

fn typed<T: for<'de> Deserialize<'de>>(table: toml::Table, path: &str, problems: &mut Problems) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(toml::Value::Table(table)) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let at = if inner == "." { path.to_string() } else { format!("{path}.{inner}") };
            problems.push(at, super::first_line(&e.into_inner().to_string()));
            None
        }
    }
}

/// Types the raw `[[sink]]` tables; problems are reported with `sink[i]` paths.
pub fn type_sinks(raw: &[toml::Table], problems: &mut Problems) -> Vec<SinkEntry> {
    let mut out = Vec::with_capacity(raw.len());
    let mut seen = std::collections::HashSet::new();
    for (i, table) in raw.iter().enumerate() {
        let path = format!("sink[{i}]");
        let mut table = table.clone();
        let name = match table.remove("name") {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
            Some(_) => {
                problems.push(format!("{path}.name"), "must be a non-empty string");
                continue;
            }
            None => {
                problems.push(format!("{path}.name"), "missing: every sink needs a unique name");
                continue;
            }
        };
        if !seen.insert(name.clone()) {
            problems.push(format!("{path}.name"), format!("duplicate sink name {name:?}"));
        }
        let kind = match table.remove("kind") {
            Some(toml::Value::String(s)) => s,
            _ => {
                problems.push(format!("{path}.kind"), format!("missing: one of {}", SINK_KINDS.join(", ")));
                continue;
            }
        };
        let settings = match kind.as_str() {
            "postgres" => {
                typed::<PostgresSinkConfig>(table, &path, problems).map(|c| SinkSettings::Postgres(Box::new(c)))
            }
            "elasticsearch" | "opensearch" => typed::<ElasticsearchSinkConfig>(table, &path, problems)
                .map(|c| SinkSettings::Elasticsearch(Box::new(c))),
            "redis" => typed::<RedisSinkConfig>(table, &path, problems).map(|c| SinkSettings::Redis(Box::new(c))),
            "memory" => typed::<MemorySinkConfig>(table, &path, problems).map(SinkSettings::Memory),
            other => {
                problems.push(
                    format!("{path}.kind"),
                    format!("unknown sink kind {other:?}: one of {}", SINK_KINDS.join(", ")),
                );
                None
            }
        };
        if let Some(settings) = settings {
            out.push(SinkEntry { name, settings });
        }
    }
    out
}
