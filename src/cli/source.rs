//! `sluice source mysql`: the built-in MySQL/MariaDB binlog source, in direct
//! mode (into the configuration's `[[sink]]`s, no Kafka) or in Kafka output
//! mode (`[source.mysql.kafka]`: Debezium-compatible topics).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use sluice_source_mysql::runner;
use sluice_source_mysql::store::OffsetStore;

use crate::config::{self, LoadedConfig};
use crate::dlq::DeadLetterStore;
use crate::pipeline::policy::TolerancePolicy;
use crate::pipeline::retry::Backoff;
use crate::source::mysql_direct::{self, DirectContext, DirectSettings, DirectSummary};
use crate::telemetry::{self, Health};

use super::args::{SourceCommand, SourceMysqlArgs};
use super::run::{build_sinks, open_dlq, shutdown_signal, start_sinks};

/// Entry point of `sluice source …`.
pub async fn run(command: &SourceCommand) -> anyhow::Result<ExitCode> {
    match command {
        SourceCommand::Mysql(args) => run_mysql(args).await,
    }
}

async fn run_mysql(args: &SourceMysqlArgs) -> anyhow::Result<ExitCode> {
    let loaded = config::load(&args.config.config)?;
    telemetry::logging::init(&loaded.config.log.level, loaded.config.log.format);
    let source = crate::source::mysql_config(&loaded.config)
        .map_err(|p| anyhow::anyhow!("{}", p.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")))?
        .context("[source.mysql] is required for `sluice source mysql`")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested: finishing the current batch");
        let _ = stop_tx.send(true);
    });
    if source.kafka.is_some() || args.kafka {
        if source.kafka.is_none() {
            bail!("--kafka needs [source.mysql.kafka] (brokers, ...) in the configuration");
        }
        runner::run_kafka(source, stop_rx, args.drain).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!("sluice: Kafka output stopped cleanly");
        return Ok(ExitCode::SUCCESS);
    }
    let summary = run_direct(&loaded, source, args.drain, stop_rx).await;
    match summary {
        Ok(s) => {
            print_summary(&s);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("sluice: direct mode stopped on a fatal error: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_summary(s: &DirectSummary) {
    let applied: Vec<String> = s.applied.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let stale: Vec<String> = s.stale.iter().map(|(k, v)| format!("{k}={v}")).collect();
    eprintln!(
        "sluice: {} snapshot rows, {} transactions, {} events in {} batches, applied [{}], stale [{}], {} dead-lettered, position {}, in {:.1}s",
        s.snapshot_rows,
        s.transactions,
        s.events,
        s.batches,
        applied.join(" "),
        stale.join(" "),
        s.dead_lettered,
        s.position.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
        s.elapsed.as_secs_f64()
    );
}

/// Runs direct mode with the configuration's sinks and DLQ.
pub async fn run_direct(
    loaded: &LoadedConfig,
    source: sluice_source_mysql::MysqlSourceConfig,
    drain: bool,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<DirectSummary> {
    let c = &loaded.config;
    let health = Health::default();
    if c.metrics.enabled {
        let addr = telemetry::serve(&c.metrics.listen, health.clone()).await?;
        tracing::info!(%addr, "serving /metrics, /health and /ready");
    }
    let (position_sink, store_config) = crate::source::position_sink(&source, &loaded.sinks)
        .context("direct mode needs a postgres [[sink]] to store the source position (source.mysql.position_sink)")?;
    let backoff = Backoff::from_config(&c.retry);
    let dlq = open_dlq(loaded)?;
    let mut attempt = 0;
    while let Err(e) = dlq.migrate().await {
        tracing::warn!(error = %e, "dead-letter database not reachable yet; retrying");
        tokio::time::sleep(backoff.delay(attempt)).await;
        attempt += 1;
    }
    let sinks = build_sinks(loaded)?;
    start_sinks(&sinks, &backoff).await?;
    let store = OffsetStore::connect(&store_config, &source.name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = DirectContext {
        sinks: sinks.clone(),
        position_sink,
        dlq: Arc::new(dlq) as Arc<dyn DeadLetterStore>,
        policy: TolerancePolicy::from_config(c.dlq.as_ref()),
        backoff,
        health: health.clone(),
    };
    let settings = DirectSettings { drain, max_batch_events: c.batch.max_events };
    metrics::gauge!(telemetry::names::UP).set(1.0);
    let result = mysql_direct::run(source, store, &ctx, &settings, stop).await;
    metrics::gauge!(telemetry::names::UP).set(0.0);
    for sink in &sinks {
        if let Err(e) = sink.shutdown().await {
            tracing::warn!(sink = sink.name(), error = %e.full_message(), "sink shutdown failed");
        }
    }
    if let Err(e) = &result {
        health.set_fatal(e.to_string());
    }
    Ok(result?)
}
