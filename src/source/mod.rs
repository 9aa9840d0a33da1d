//! The built-in sources run by the engine.
//!
//! The MySQL/MariaDB binlog source itself lives in the `sluice-source-mysql`
//! crate (`sources/mysql`, see docs/mysql-source.md): snapshot, streaming,
//! Debezium serialization and the Kafka output mode. This module holds what
//! needs the engine: reading `[source.mysql]` from the configuration and the
//! **direct mode** ([`mysql_direct`]), which applies the source's
//! transactions straight to the configured sinks with the source position
//! stored in the same Postgres transaction as the data.

pub mod mysql_direct;

use sluice_sink_api::Problems;
use sluice_source_mysql::MysqlSourceConfig;
use sluice_source_mysql::config::StoreConfig;

use crate::config::{Config, SinkEntry, SinkSettings};

/// The `[source.mysql]` section, typed (`None` when absent). Problems carry
/// their path (`source.mysql.snapshot_mode: unknown variant ...`).
pub fn mysql_config(config: &Config) -> Result<Option<MysqlSourceConfig>, Problems> {
    let mut problems = Problems::default();
    let Some(source) = &config.source else { return Ok(None) };
    for key in source.keys() {
        if key != "mysql" {
            problems.push(format!("source.{key}"), "unknown source; expected `mysql`");
        }
    }
    let Some(value) = source.get("mysql") else {
        return if problems.is_empty() { Ok(None) } else { Err(problems) };
    };
    match serde_path_to_error::deserialize::<_, MysqlSourceConfig>(value.clone()) {
        Ok(c) => {
            if problems.is_empty() {
                Ok(Some(c))
            } else {
                Err(problems)
            }
        }
        Err(e) => {
            let inner = e.path().to_string();
            let path = if inner == "." { "source.mysql".to_string() } else { format!("source.mysql.{inner}") };
            problems.push(path, crate::config::first_line(&e.into_inner().to_string()));
            Err(problems)
        }
    }
}

/// Whether `[source.mysql.kafka]` is configured (Kafka output mode: the
/// pipeline's `[[sink]]`s are not used).
pub fn mysql_kafka_mode(config: &Config) -> bool {
    config
        .source
        .as_ref()
        .and_then(|s| s.get("mysql"))
        .and_then(|m| m.as_table())
        .is_some_and(|m| m.contains_key("kafka"))
}

/// Validates `[source.mysql]` against the rest of the configuration (pure).
pub fn validate(config: &Config, sinks: &[SinkEntry], problems: &mut Problems) {
    let source = match mysql_config(config) {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(p) => {
            problems.0.extend(p.0);
            return;
        }
    };
    source.validate("source.mysql", problems);
    if source.kafka.is_none() {
        match &source.position_sink {
            Some(name) => match sinks.iter().find(|s| &s.name == name) {
                None => problems.push("source.mysql.position_sink", format!("no sink named {name:?}")),
                Some(s) if s.settings.kind() != "postgres" => problems.push(
                    "source.mysql.position_sink",
                    format!("sink {name:?} is a {} sink; direct mode stores positions in a postgres sink", s.settings.kind()),
                ),
                Some(_) => {}
            },
            None if !sinks.iter().any(|s| s.settings.kind() == "postgres") => problems.push(
                "source.mysql",
                "direct mode (no [source.mysql.kafka]) needs a postgres [[sink]] to store the source position with the data",
            ),
            None => {}
        }
    } else if source.store.is_none() {
        problems.push("source.mysql.store", "required in Kafka output mode (where positions are stored)");
    }
}

/// Direct mode: the index of the sink that stores the position with the
/// data (`position_sink`, else the first Postgres sink) and the store
/// settings (`[source.mysql.store]`, else that sink's database and
/// `sluice_schema`).
pub fn position_sink(source: &MysqlSourceConfig, sinks: &[SinkEntry]) -> Option<(usize, StoreConfig)> {
    let index = match &source.position_sink {
        Some(name) => sinks.iter().position(|s| &s.name == name)?,
        None => sinks.iter().position(|s| s.settings.kind() == "postgres")?,
    };
    let SinkSettings::Postgres(pg) = &sinks[index].settings else { return None };
    let store = source.store.clone().unwrap_or_else(|| StoreConfig {
        url: pg.url.clone(),
        password: pg.password.clone(),
        schema: pg.sluice_schema.clone(),
    });
    Some((index, store))
}
