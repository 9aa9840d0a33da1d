//! `sluice migrate -c FILE`: create or upgrade sluice's own tables (the DLQ)
//! in `dlq.schema`. `sluice run` does the same at start; this command is for
//! operators who run migrations separately (e.g. with a more privileged role).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use sluice_sink_api::config::redact_url;

use super::args::ConfigArg;
use super::run::open_dlq;
use crate::config;

/// How long `sluice migrate` waits for the database (connecting, the lock).
pub const MIGRATE_TIMEOUT: Duration = Duration::from_secs(60);

/// Entry point of `sluice migrate`.
pub async fn run(args: &ConfigArg) -> anyhow::Result<ExitCode> {
    let loaded = config::load(&args.config)?;
    crate::telemetry::logging::init("warn", loaded.config.log.format);
    let store = open_dlq(&loaded)?;
    let url = loaded.config.dlq.as_ref().and_then(|d| d.url.as_deref()).map(redact_url).unwrap_or_default();
    let report = tokio::time::timeout(MIGRATE_TIMEOUT, store.migrate())
        .await
        .with_context(|| format!("migrating {url}: no answer within {MIGRATE_TIMEOUT:?}"))?
        .with_context(|| format!("migrating {url}"))?;
    let version = report.version.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    if report.applied_now.is_empty() {
        println!("schema {} is up to date (version {version})", report.schema);
    } else {
        for (v, description) in &report.applied_now {
            println!("applied {v:04} {description}");
        }
        println!("schema {} is now at version {version}", report.schema);
    }
    Ok(ExitCode::SUCCESS)
}
