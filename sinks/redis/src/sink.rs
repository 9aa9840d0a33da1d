//! [`RedisSink`]: the [`Sink`] implementation that drives both modes.
//!
//! `apply` plans the batch ([`crate::invalidate`] / [`crate::materialize`]),
//! sends it in pipelines ([`crate::pipeline`]), reloads the script and
//! resends after `NOSCRIPT`, then turns the replies into an [`ApplyReport`]:
//! records that could not be planned or whose command got a per-record error
//! reply are rejected, everything else is applied (or stale). A transient
//! reply or request failure fails the whole batch (the engine retries it;
//! every command is idempotent), a fatal one stops the pipeline.

use std::time::Instant;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{Cmd, Script, Value};
use sluice_sink_api::{ApplyReport, ChangeBatch, Problems, Sink, SinkError};
use tokio::sync::OnceCell;

use crate::config::{RedisMode, RedisSinkConfig};
use crate::errors::{RedisSinkError, ReplyClass, classify_reply};
use crate::invalidate::InvalidatePlanner;
use crate::materialize::{MaterializePlanner, Planned};
use crate::metrics::{BatchCounts, record_error, record_script_load};
use crate::pipeline::{self, PipelineShape};
use crate::plan::{BatchFailure, sort_replies};
use crate::tables::Tables;
use crate::{connection, materialize};

#[derive(Debug)]
enum Planner {
    Invalidate(InvalidatePlanner),
    Materialize(MaterializePlanner),
}

/// The Redis sink. Create it with [`RedisSink::new`], then call
/// [`Sink::startup`] before the first batch.
#[derive(Debug)]
pub struct RedisSink {
    name: String,
    url: String,
    config: RedisSinkConfig,
    tables: Tables,
    planner: Planner,
    script: Script,
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    shape: PipelineShape,
}

impl RedisSink {
    /// Validates `config` and prepares the client (reads the password and CA
    /// file); connects lazily. Every configuration problem is fatal.
    pub fn new(name: impl Into<String>, config: RedisSinkConfig) -> Result<Self, SinkError> {
        let name = name.into();
        let mut problems = Problems::default();
        config.validate(&name, &mut problems);
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(SinkError::fatal(format!("invalid redis sink config: {}", list.join("; "))));
        }
        let client = connection::client(&config, &name)?;
        let tables = Tables::new(&config)?;
        let script = materialize::script();
        let planner = match config.mode {
            RedisMode::Invalidate => Planner::Invalidate(InvalidatePlanner {
                command: config.invalidate_settings().command,
                key_prefix: config.key_prefix.clone(),
                separator: config.key_separator.clone(),
            }),
            RedisMode::Materialize => {
                let m = config.materialize_settings();
                Planner::Materialize(MaterializePlanner {
                    format: m.format,
                    version_field: m.version_field,
                    tombstone_ttl_ms: m.tombstone_ttl.as_millis().max(1) as u64,
                    tombstone_prefix: m.tombstone_prefix,
                    key_prefix: config.key_prefix.clone(),
                    separator: config.key_separator.clone(),
                    script_sha: script.get_hash().to_string(),
                })
            }
        };
        let shape = PipelineShape { size: config.pipeline_size, in_flight: config.pipelines_in_flight };
        Ok(RedisSink {
            url: config.redacted_url(),
            name,
            config,
            tables,
            planner,
            script,
            client,
            conn: OnceCell::new(),
            shape,
        })
    }

    /// The configuration this sink runs with.
    pub fn config(&self) -> &RedisSinkConfig {
        &self.config
    }

    async fn conn(&self) -> Result<ConnectionManager, SinkError> {
        let conn = self
            .conn
            .get_or_try_init(|| async { connection::manager(self.client.clone(), &self.config, &self.name) })
            .await?;
        Ok(conn.clone())
    }

    fn request_error(&self, context: &'static str, source: redis::RedisError) -> SinkError {
        RedisSinkError::Request { sink: self.name.clone(), url: self.url.clone(), context, source }.into()
    }

    fn reply_error(&self, failure: BatchFailure, batch: &ChangeBatch) -> SinkError {
        let event = &batch.events[failure.index];
        RedisSinkError::Reply {
            sink: self.name.clone(),
            url: self.url.clone(),
            reply: failure.reply,
            table: event.table.qualified(),
            origin: event.origin.to_string(),
            class: failure.class,
        }
        .into()
    }

    async fn load_script(&self, conn: &mut ConnectionManager) -> Result<(), SinkError> {
        self.script.load_async(conn).await.map_err(|e| self.request_error("loading the materialize script", e))?;
        Ok(())
    }

    /// Runs the commands. After `NOSCRIPT` replies it loads the script and
    /// resends every command from the first `NOSCRIPT` on, so the batch
    /// order is kept (a resent command that had succeeded is a stale no-op
    /// and keeps its first reply). Twice at most; a persisting `NOSCRIPT` is
    /// then classified transient by the caller.
    async fn execute(&self, commands: &[Cmd]) -> Result<Vec<Value>, SinkError> {
        let mut conn = self.conn().await?;
        let mut replies =
            pipeline::run(&conn, commands, self.shape).await.map_err(|e| self.request_error("applying a batch", e))?;
        let is_noscript = |r: &Value| matches!(r, Value::ServerError(e) if classify_reply(e) == ReplyClass::NoScript);
        for _ in 0..2 {
            let Some(first) = replies.iter().position(is_noscript) else { break };
            tracing::info!(sink = %self.name, from = first, "NOSCRIPT: loading the materialize script and resending");
            record_script_load(&self.name);
            self.load_script(&mut conn).await?;
            let again = pipeline::run(&conn, &commands[first..], self.shape)
                .await
                .map_err(|e| self.request_error("resending after NOSCRIPT", e))?;
            for (slot, reply) in replies[first..].iter_mut().zip(again) {
                if is_noscript(slot) {
                    *slot = reply;
                }
            }
        }
        Ok(replies)
    }

    async fn apply_invalidate(
        &self,
        planner: &InvalidatePlanner,
        batch: &ChangeBatch,
        counts: &mut BatchCounts,
    ) -> Result<ApplyReport, SinkError> {
        let (plan, per_event) = planner.plan(&batch.events, &self.tables);
        let replies = self.execute(&plan.commands).await?;
        let mut rejected = plan.rejections;
        sort_replies(&replies, &plan.owners, &batch.events, &mut rejected).map_err(|f| self.reply_error(f, batch))?;
        let mut report = ApplyReport::default();
        for (index, event) in batch.events.iter().enumerate() {
            let table = counts.table(&self.tables.plan(&event.table).label);
            if let Some(r) = rejected.iter().find(|r| r.index == index) {
                *table.rejected.entry(r.kind).or_default() += 1;
                continue;
            }
            report.applied += 1;
            table.applied += 1;
            table.invalidated_keys += per_event[index].keys;
            table.published += per_event[index].published;
        }
        rejected.sort_by_key(|r| r.index);
        report.rejected = rejected;
        Ok(report)
    }

    async fn apply_materialize(
        &self,
        planner: &MaterializePlanner,
        batch: &ChangeBatch,
        counts: &mut BatchCounts,
    ) -> Result<ApplyReport, SinkError> {
        let (plan, planned) = planner.plan(&batch.events, &self.tables);
        let replies = self.execute(&plan.commands).await?;
        let mut rejected = plan.rejections;
        sort_replies(&replies, &plan.owners, &batch.events, &mut rejected).map_err(|f| self.reply_error(f, batch))?;
        let mut report = ApplyReport::default();
        for (reply, &index) in replies.iter().zip(&plan.owners) {
            if rejected.iter().any(|r| r.index == index) {
                continue;
            }
            let event = &batch.events[index];
            let table = counts.table(&self.tables.plan(&event.table).label);
            match reply {
                Value::Int(1) => {
                    report.applied += 1;
                    table.applied += 1;
                    if planned[index] == Planned::Delete {
                        table.tombstones += 1;
                    }
                }
                Value::Int(0) => {
                    report.stale += 1;
                    table.stale += 1;
                }
                other => {
                    return Err(SinkError::fatal(format!(
                        "redis sink `{}`: the materialize script returned {other:?} for {} at {} (expected 0 or 1)",
                        self.name, event.table, event.origin
                    )));
                }
            }
        }
        for r in &rejected {
            let label = &self.tables.plan(&batch.events[r.index].table).label;
            *counts.table(label).rejected.entry(r.kind).or_default() += 1;
        }
        rejected.sort_by_key(|r| r.index);
        report.rejected = rejected;
        Ok(report)
    }
}

#[async_trait]
impl Sink for RedisSink {
    fn name(&self) -> &str {
        &self.name
    }

    /// Connects, refuses a Redis Cluster (not supported: fatal), and loads
    /// the materialize script.
    async fn startup(&self) -> Result<(), SinkError> {
        let mut conn = self.conn().await?;
        let _: String =
            redis::cmd("PING").query_async(&mut conn).await.map_err(|e| self.request_error("connecting", e))?;
        let info: Result<String, redis::RedisError> = redis::cmd("INFO").arg("cluster").query_async(&mut conn).await;
        let info = match info {
            Ok(info) => info,
            // The server answered but refuses INFO (ACL without +info, a managed
            // service that renames it): skip the check, writes will tell.
            Err(e) if e.code().is_some() && !e.is_io_error() => {
                tracing::debug!(sink = %self.name, error = %e, "INFO cluster refused; cluster check skipped");
                String::new()
            }
            Err(e) => return Err(self.request_error("connecting", e)),
        };
        if info.lines().any(|l| l.trim() == "cluster_enabled:1") {
            return Err(SinkError::fatal(format!(
                "redis sink `{}`: {} is a Redis Cluster node; cluster mode is not supported (see docs/redis-sink.md)",
                self.name, self.url
            )));
        }
        if let Planner::Materialize(_) = self.planner {
            self.load_script(&mut conn).await?;
        }
        tracing::info!(sink = %self.name, url = %self.url, mode = self.config.mode.as_str(), "redis sink started");
        Ok(())
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        let mut conn = self.conn().await?;
        let _: String =
            redis::cmd("PING").query_async(&mut conn).await.map_err(|e| self.request_error("health check", e))?;
        Ok(())
    }

    async fn apply(&self, batch: &ChangeBatch) -> Result<ApplyReport, SinkError> {
        let started = Instant::now();
        let mut counts = BatchCounts::default();
        let result = match &self.planner {
            Planner::Invalidate(p) => self.apply_invalidate(p, batch, &mut counts).await,
            Planner::Materialize(p) => self.apply_materialize(p, batch, &mut counts).await,
        };
        match &result {
            Ok(_) => counts.emit(&self.name, self.config.mode.as_str(), started.elapsed()),
            Err(e) => {
                record_error(&self.name, e.class);
                tracing::warn!(sink = %self.name, class = %e.class, error = %e.full_message(), "redis apply failed");
            }
        }
        result
    }

    async fn shutdown(&self) -> Result<(), SinkError> {
        // Every apply awaited its replies: nothing is buffered.
        Ok(())
    }
}
