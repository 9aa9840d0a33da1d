//! `sluice dlq …`: the dead-letter commands. This module opens what every
//! subcommand needs (configuration, store, consumer group) and dispatches;
//! one module per subcommand does the work (`dlq_list`, `dlq_show`,
//! `dlq_replay`, `dlq_resolve`). docs/dlq.md documents them.
//!
//! Exit codes: 0 success; 1 failure (unreachable database, unknown id, a
//! replay that left entries unresolved); 2 bad arguments.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use comfy_table::{ContentArrangement, Table, presets};
use sluice_sink_api::config::redact_url;

use super::args::DlqCommand;
use super::dlq_filter::UsageError;
use super::run::open_dlq;
use crate::config::{self, LoadedConfig};
use crate::decode::Decoder;
use crate::dlq::PostgresDeadLetters;
use crate::telemetry;

/// What every `dlq` subcommand works with.
#[derive(Debug)]
pub struct DlqContext {
    pub loaded: LoadedConfig,
    pub store: PostgresDeadLetters,
    /// The configuration's consumer group (`kafka.group_id`, or in direct
    /// mode the `[source.mysql]` name): the entries of this pipeline. `None`
    /// with neither (every group).
    pub group: Option<String>,
}

impl DlqContext {
    /// Loads the configuration and opens the store, checking that the
    /// dead-letter table exists.
    pub async fn open(path: &Path) -> anyhow::Result<DlqContext> {
        let loaded = config::load(path)?;
        telemetry::logging::init("warn", loaded.config.log.format);
        let store = open_dlq(&loaded)?;
        let url = loaded.config.dlq.as_ref().and_then(|d| d.url.as_deref()).map(redact_url).unwrap_or_default();
        store.ensure_ready().await.with_context(|| format!("dead-letter queue {url} (schema {})", store.schema()))?;
        // Direct mode (`[source.mysql]` without `[kafka]`) dead-letters under the source name.
        let group = loaded.config.kafka.as_ref().map(|k| k.group_id.clone()).or_else(|| {
            crate::source::mysql_config(&loaded.config).ok().flatten().filter(|s| s.kafka.is_none()).map(|s| s.name)
        });
        Ok(DlqContext { loaded, store, group })
    }
}

/// Builds the decoder from the configuration exactly as `sluice run` does
/// ([`crate::decode::build_decoder`]: JSON and Confluent Avro with the
/// `[schema_registry]` of the configuration), shared by `dlq show` and
/// `dlq replay`.
pub fn build_decoder(loaded: &LoadedConfig) -> anyhow::Result<Decoder> {
    Ok(crate::decode::build_decoder(loaded)?)
}

/// Runs a `dlq` subcommand; bad arguments exit 2.
pub async fn run(command: &DlqCommand) -> anyhow::Result<ExitCode> {
    let result = match command {
        DlqCommand::List(args) => super::dlq_list::list(args).await,
        DlqCommand::Stats(args) => super::dlq_list::stats(args).await,
        DlqCommand::Show(args) => super::dlq_show::run(args).await,
        DlqCommand::Replay(args) => super::dlq_replay::run(args).await,
        DlqCommand::Resolve(args) => super::dlq_resolve::resolve(args).await,
        DlqCommand::Purge(args) => super::dlq_resolve::purge(args).await,
    };
    usage_errors_exit_2(result)
}

/// Maps a [`UsageError`] to exit code 2 (after printing it).
pub fn usage_errors_exit_2(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        other => other,
    }
}

/// `2025-06-10 12:00:00Z`
pub fn fmt_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `-` for nothing.
pub fn fmt_opt_time(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map(fmt_time).unwrap_or_else(|| "-".to_string())
}

/// One line of at most `max` characters (an ellipsis marks the cut).
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// A table for the terminal (wrapped to its width when there is one).
pub fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(header.to_vec());
    table
}
