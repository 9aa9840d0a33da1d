//! `sluice run`: build the pipeline from the configuration and run it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use sluice_sink_api::{MemorySink, MemorySinkOptions, Sink};
use sluice_sink_elasticsearch::ElasticsearchSink;
use sluice_sink_postgres::PostgresSink;
use sluice_sink_redis::RedisSink;

use crate::config::{self, LoadedConfig, SinkSettings};
use crate::consume::{ConsumerHandle, ConsumerSettings};
use crate::dlq::{DeadLetterStore, PostgresDeadLetters};
use crate::pipeline::assembler::{Assembler, PassThrough};
use crate::pipeline::batcher::BatchLimits;
use crate::pipeline::exactly_once::{CheckpointSpec, SinkOffsets};
use crate::pipeline::policy::TolerancePolicy;
use crate::pipeline::retry::Backoff;
use crate::pipeline::tx_buffer::{TxBuffer, TxLimits, collection_filter};
use crate::pipeline::work::{Src, WorkContext};
use crate::pipeline::{Engine, RunSummary};
use crate::telemetry::{self, Health};

use super::args::RunArgs;

/// How long a revoke waits for in-flight work before abandoning it.
pub const REVOKE_WAIT: Duration = Duration::from_secs(10);

/// Builds the sinks of the configuration (not started yet).
pub fn build_sinks(loaded: &LoadedConfig) -> anyhow::Result<Vec<Arc<dyn Sink>>> {
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
    for entry in &loaded.sinks {
        let sink: Arc<dyn Sink> = match &entry.settings {
            SinkSettings::Postgres(c) => Arc::new(
                PostgresSink::new(entry.name.clone(), (**c).clone())
                    .map_err(|e| anyhow::anyhow!("sink {}: {}", entry.name, e.full_message()))?,
            ),
            SinkSettings::Elasticsearch(c) => Arc::new(
                ElasticsearchSink::new(entry.name.clone(), (**c).clone())
                    .map_err(|e| anyhow::anyhow!("sink {}: {}", entry.name, e.full_message()))?,
            ),
            SinkSettings::Redis(c) => Arc::new(
                RedisSink::new(entry.name.clone(), (**c).clone())
                    .map_err(|e| anyhow::anyhow!("sink {}: {}", entry.name, e.full_message()))?,
            ),
            SinkSettings::Memory(m) => Arc::new(MemorySink::with_options(
                entry.name.clone(),
                MemorySinkOptions {
                    journal: m.journal.clone(),
                    fail_while_exists: m.fail_while_exists.clone(),
                    poison_column: m.poison_column.clone(),
                },
            )),
        };
        sinks.push(sink);
    }
    Ok(sinks)
}

/// Opens the dead-letter store: `dlq.url`, else the first Postgres sink's URL.
pub fn open_dlq(loaded: &LoadedConfig) -> anyhow::Result<PostgresDeadLetters> {
    let dlq = loaded.config.dlq.as_ref();
    let first_pg = loaded.sinks.iter().find_map(|s| match &s.settings {
        SinkSettings::Postgres(c) => Some(c),
        _ => None,
    });
    let (url, secret) = match (dlq.and_then(|d| d.url.clone()), first_pg) {
        (Some(url), _) => (url, dlq.and_then(|d| d.password.clone())),
        (None, Some(pg)) => (pg.url.clone(), pg.password.clone()),
        (None, None) => anyhow::bail!("dlq.url is required (no Postgres sink to default to)"),
    };
    let password = match secret {
        Some(p) => Some(p.expose().map_err(anyhow::Error::msg).context("dlq.password")?),
        None => None,
    };
    let schema = dlq.map(|d| d.schema.clone()).unwrap_or_else(config::default_sluice_schema);
    Ok(PostgresDeadLetters::connect_lazy(&url, password, &schema)?)
}

/// The transaction buffer when `kafka.transaction_topic` is set, else one unit per event.
fn assembler(
    kafka: &config::KafkaSection,
    tx: &config::TransactionsSection,
) -> anyhow::Result<Box<dyn Assembler<Src>>> {
    let Some(topic) = &kafka.transaction_topic else {
        return Ok(Box::new(PassThrough::default()));
    };
    let filter = collection_filter(topic, &kafka.topics, kafka.topic_regex.as_deref())
        .context("kafka.topic_regex is not a valid regular expression")?;
    let limits = TxLimits { max_events: tx.max_events, max_bytes: tx.max_bytes.0, max_wait: tx.max_wait };
    tracing::info!(transaction_topic = %topic, ?limits, "transactional apply: source transactions are applied whole");
    Ok(Box::new(TxBuffer::new(limits, filter)))
}

/// Decoder options from `[decode]` and `[kafka]` (see [`crate::decode::build_decoder`]).
pub use crate::decode::decoder_options;

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Retries `startup` of every sink until it succeeds (transient errors are
/// logged with the reason), failing on permanent/fatal ones.
pub async fn start_sinks(sinks: &[Arc<dyn Sink>], backoff: &Backoff) -> anyhow::Result<()> {
    for sink in sinks {
        let mut attempt = 0;
        loop {
            match sink.startup().await {
                Ok(()) => break,
                Err(e) if e.is_transient() => {
                    tracing::warn!(sink = sink.name(), error = %e.full_message(), "sink not reachable yet; retrying");
                    tokio::time::sleep(backoff.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) => bail!("sink {} cannot start: {}", sink.name(), e.full_message()),
            }
        }
    }
    Ok(())
}

/// Runs the pipeline; returns the summary (the caller prints it).
pub async fn run_pipeline(
    loaded: LoadedConfig,
    drain: bool,
    metrics_listen: Option<String>,
) -> anyhow::Result<RunSummary> {
    let c = &loaded.config;
    let kafka = c.kafka.as_ref().context("[kafka] is required for `sluice run`")?;
    let health = Health::default();
    if c.metrics.enabled {
        let listen = metrics_listen.unwrap_or_else(|| c.metrics.listen.clone());
        let addr = telemetry::serve(&listen, health.clone()).await?;
        tracing::info!(%addr, "serving /metrics, /health and /ready");
    }
    let backoff = Backoff::from_config(&c.retry);
    let decoder = Arc::new(crate::decode::build_decoder(&loaded)?);
    let dlq = open_dlq(&loaded)?;
    let mut attempt = 0;
    while let Err(e) = dlq.migrate().await {
        tracing::warn!(error = %e, "dead-letter database not reachable yet; retrying");
        tokio::time::sleep(backoff.delay(attempt)).await;
        attempt += 1;
    }
    let _dlq_depth = crate::dlq::spawn_depth_gauge(dlq.clone(), kafka.group_id.clone());
    let sinks = build_sinks(&loaded)?;
    start_sinks(&sinks, &backoff).await?;

    let checkpoint = c.commit.exactly_once_sink.as_ref().map(|_| CheckpointSpec::new(kafka.group_id.clone()));
    let hook = match (&c.commit.exactly_once_sink, &checkpoint) {
        (Some(name), Some(spec)) => {
            let sink = sinks
                .iter()
                .find(|s| s.name() == name)
                .with_context(|| format!("commit.exactly_once_sink: no sink named {name:?}"))?;
            if !sink.capabilities().checkpoints {
                bail!("commit.exactly_once_sink: sink {name:?} cannot store offsets with the data");
            }
            tracing::info!(sink = %name, "exactly-once mode: offsets are stored with the data");
            Some(Arc::new(SinkOffsets {
                sink: sink.clone(),
                spec: spec.clone(),
                runtime: tokio::runtime::Handle::current(),
            }) as Arc<dyn crate::consume::AssignmentHook>)
        }
        _ => None,
    };
    let (consumer, events) = ConsumerHandle::start(
        kafka,
        ConsumerSettings {
            commit_interval: c.commit.interval,
            max_in_flight_bytes: c.batch.max_in_flight_bytes.0,
            revoke_wait: REVOKE_WAIT,
            drain,
        },
        hook,
    )?;
    let consumer = Arc::new(consumer);
    let ctx = Arc::new(WorkContext {
        sinks: sinks.clone(),
        dlq: Arc::new(dlq) as Arc<dyn DeadLetterStore>,
        policy: TolerancePolicy::from_config(c.dlq.as_ref()),
        backoff,
        consumer: consumer.clone(),
        group: kafka.group_id.clone(),
        health: health.clone(),
        checkpoint,
    });
    let limits =
        BatchLimits { max_events: c.batch.max_events, max_bytes: c.batch.max_bytes.0, max_wait: c.batch.max_wait };
    let engine = Engine::new(events, decoder, assembler(kafka, &c.transactions)?, limits, ctx.clone());
    health.set_started();
    metrics::gauge!(telemetry::names::UP).set(1.0);
    let summary = engine.run(shutdown_signal()).await;
    drop(ctx);
    match Arc::try_unwrap(consumer) {
        Ok(consumer) => consumer.shutdown(),
        Err(_) => tracing::warn!("consumer still referenced at shutdown; committing through drop"),
    }
    for sink in &sinks {
        if let Err(e) = sink.shutdown().await {
            tracing::warn!(sink = sink.name(), error = %e.full_message(), "sink shutdown failed");
        }
    }
    metrics::gauge!(telemetry::names::UP).set(0.0);
    if let Some(reason) = &summary.fatal {
        health.set_fatal(reason.clone());
    }
    Ok(summary)
}

/// Entry point of `sluice run`.
pub async fn run(args: &RunArgs) -> anyhow::Result<std::process::ExitCode> {
    let loaded = config::load(&args.config.config)?;
    telemetry::logging::init(&loaded.config.log.level, loaded.config.log.format);
    let summary = run_pipeline(loaded, args.drain, args.metrics_listen.clone()).await?;
    let applied: Vec<String> = summary.applied.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let stale: Vec<String> = summary.stale.iter().map(|(k, v)| format!("{k}={v}")).collect();
    eprintln!(
        "sluice: {} records consumed, {} events in {} batches, applied [{}], stale [{}], {} dead-lettered, in {:.1}s",
        summary.records,
        summary.events,
        summary.batches,
        applied.join(" "),
        stale.join(" "),
        summary.dead_lettered,
        summary.elapsed.as_secs_f64()
    );
    match summary.fatal {
        Some(reason) => {
            eprintln!("sluice: stopped on a fatal error: {reason}");
            Ok(std::process::ExitCode::FAILURE)
        }
        None => Ok(std::process::ExitCode::SUCCESS),
    }
}
