//! Configuration: one TOML file per pipeline, `SLUICE_<SECTION>__<KEY>`
//! environment overrides, secrets from env or files, and pure validation that
//! reports every problem with its path (`sink[1].url: invalid URL`).
//!
//! Loading never touches the network. Each section is deserialized on its own
//! so that one mistake does not hide the others.

mod bytes;
mod env;
mod model;
mod sinks;
mod validate;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sluice_sink_api::{ConfigProblem, Problems};

pub use bytes::ByteSize;
pub use env::{AppliedOverride, apply_overrides};
pub use model::*;
pub use sinks::{MemorySinkConfig, SINK_KINDS, SinkEntry, SinkSettings};
pub use validate::{ERROR_CLASSES, MANAGED_KAFKA_PROPERTIES, is_identifier};

/// A configuration that parsed and validated.
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub sinks: Vec<SinkEntry>,
    pub overrides: Vec<AppliedOverride>,
    /// Where it came from (file path or `<string>`).
    pub origin: String,
}

impl LoadedConfig {
    /// The pipeline name: `[pipeline] name`, else the Kafka group id, else `sluice`.
    pub fn pipeline_name(&self) -> String {
        self.config
            .pipeline
            .name
            .clone()
            .or_else(|| self.config.kafka.as_ref().map(|k| k.group_id.clone()))
            .unwrap_or_else(|| "sluice".to_string())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: TOML syntax error: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: {}", render_problems(.problems))]
    Invalid { origin: String, problems: Vec<ConfigProblem> },
}

fn render_problems(problems: &[ConfigProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    format!("{} problem(s):\n{}", problems.len(), lines.join("\n"))
}

/// Loads `path`, applying overrides from the process environment.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    load_str(&text, &path.display().to_string(), std::env::vars())
}

const SECTIONS: &[&str] = &[
    "pipeline",
    "kafka",
    "decode",
    "schema_registry",
    "batch",
    "retry",
    "commit",
    "transactions",
    "dlq",
    "metrics",
    "log",
    "sink",
    "source",
];

fn section<T: for<'de> Deserialize<'de>>(root: &toml::Table, name: &str, problems: &mut Problems) -> Option<T> {
    let value = root.get(name)?.clone();
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let path = if inner == "." { name.to_string() } else { format!("{name}.{inner}") };
            problems.push(path, first_line(&e.into_inner().to_string()));
            None
        }
    }
}

/// serde/toml errors repeat the key path on following lines; the path is
/// already in the problem.
pub(crate) fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

fn section_or_default<T: for<'de> Deserialize<'de> + Default>(
    root: &toml::Table,
    name: &str,
    problems: &mut Problems,
) -> T {
    section(root, name, problems).unwrap_or_default()
}

/// Parses, overrides, types and validates a configuration text.
pub fn load_str(
    text: &str,
    origin: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ConfigError> {
    let mut root: toml::Value = toml::from_str::<toml::Table>(text)
        .map(toml::Value::Table)
        .map_err(|e| ConfigError::Syntax { origin: origin.to_string(), message: e.to_string() })?;
    let mut problems = Problems::default();
    let overrides = match apply_overrides(&mut root, vars) {
        Ok(o) => o,
        Err(message) => {
            problems.push("environment", message);
            Vec::new()
        }
    };
    let root = match root {
        toml::Value::Table(t) => t,
        _ => unreachable!("parsed as a table"),
    };
    for key in root.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            problems.push(key.clone(), format!("unknown section; expected one of {}", SECTIONS.join(", ")));
        }
    }
    let raw_sinks: Vec<toml::Table> = section(&root, "sink", &mut problems).unwrap_or_default();
    let config = Config {
        pipeline: section_or_default(&root, "pipeline", &mut problems),
        kafka: section(&root, "kafka", &mut problems),
        decode: section_or_default(&root, "decode", &mut problems),
        schema_registry: section(&root, "schema_registry", &mut problems),
        batch: section_or_default(&root, "batch", &mut problems),
        retry: section_or_default(&root, "retry", &mut problems),
        commit: section_or_default(&root, "commit", &mut problems),
        transactions: section_or_default(&root, "transactions", &mut problems),
        dlq: section(&root, "dlq", &mut problems),
        metrics: section_or_default(&root, "metrics", &mut problems),
        log: section_or_default(&root, "log", &mut problems),
        sinks: raw_sinks.clone(),
        source: section(&root, "source", &mut problems),
    };
    let sinks = sinks::type_sinks(&raw_sinks, &mut problems);
    validate::validate(&config, &sinks, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid { origin: origin.to_string(), problems: problems.0 });
    }
    Ok(LoadedConfig { config, sinks, overrides, origin: origin.to_string() })
}

#[cfg(test)]
mod tests;
