//! Throughput of the Redis sink, per mode, against raw pipelined `SET`s
//! measured in the same run on the same server (run by `bench/redis-sink`).
//!
//! Every mode applies `--events` change events in batches of `--batch`
//! through [`Sink::apply`], exactly as the engine does, and prints events/s
//! and the ratio to the raw `SET` rate (same pipeline size, same connection
//! type). Keys live under a unique prefix and are removed afterwards.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use redis::AsyncCommands;
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, ChangeEvent, Op, Row, Sink, TableId, Value};
use sluice_sink_redis::{
    InvalidateConfig, MaterializeConfig, MaterializeFormat, RedisMode, RedisSink, RedisSinkConfig, TableConfig,
};

#[derive(Parser, Debug)]
#[command(about = "Redis sink throughput vs raw pipelined SET")]
struct Args {
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    url: String,
    /// Events per mode.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Events per batch handed to `apply`.
    #[arg(long, default_value_t = 2_000)]
    batch: usize,
    /// Commands per pipeline (sink and raw SET alike).
    #[arg(long, default_value_t = sluice_sink_redis::config::DEFAULT_PIPELINE_SIZE)]
    pipeline: usize,
    /// Rounds; the best rate of each measurement is reported (the machine may be busy).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Pipelines in flight (sink and raw SET alike).
    #[arg(long, default_value_t = sluice_sink_redis::config::DEFAULT_PIPELINES_IN_FLIGHT)]
    in_flight: usize,
}

fn table() -> TableId {
    TableId::new(Some("bench"), None, "users")
}

fn user(id: i64, version: u64) -> Row {
    Row::new()
        .with("id", id)
        .with("email", format!("user{id}.v{version}@example.com"))
        .with("name", format!("User number {id}"))
        .with("balance", Value::Int(version as i64 * 100))
        .with("active", true)
        .with("note", "a short note about this user")
}

/// Upserts of `n` distinct keys (versions 1..=n), each with a before image
/// whose email differs (so invalidation removes three keys per event).
fn events(n: usize) -> Vec<ChangeEvent> {
    let b = EventBuilder::new(table());
    (0..n)
        .map(|i| {
            let version = i as u64 + 1;
            let id = i as i64;
            b.event(Op::Update, id, version, Some(user(id, 0)), Some(user(id, version)))
        })
        .collect()
}

async fn cleanup(url: &str, prefix: &str) -> Result<()> {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(60)));
    let mut conn = redis::Client::open(url)?.get_multiplexed_async_connection_with_config(&config).await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(5000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = conn.unlink(&keys).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Raw pipelined SETs through the same connection type and pipeline shape.
async fn raw_set(args: &Args, prefix: &str) -> Result<Duration> {
    let client = redis::Client::open(args.url.as_str())?;
    let conn = client
        .get_connection_manager_with_config(
            redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    let value = "x".repeat(120);
    let started = Instant::now();
    for chunk_start in (0..args.events).step_by(args.batch) {
        let end = (chunk_start + args.batch).min(args.events);
        let commands: Vec<redis::Cmd> = (chunk_start..end)
            .map(|i| {
                let mut cmd = redis::cmd("SET");
                cmd.arg(format!("{prefix}raw:{i}")).arg(&value);
                cmd
            })
            .collect();
        let shape = sluice_sink_redis::pipeline::PipelineShape { size: args.pipeline, in_flight: args.in_flight };
        sluice_sink_redis::pipeline::run(&conn, &commands, shape).await?;
    }
    Ok(started.elapsed())
}

/// The floor of any Lua compare-and-set: a minimal versioned HSET script,
/// commands prebuilt (no planning), same pipeline shape.
async fn raw_lua(args: &Args, prefix: &str) -> Result<Duration> {
    let client = redis::Client::open(args.url.as_str())?;
    let mut conn = client
        .get_connection_manager_with_config(
            redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    let script = redis::Script::new(
        "local v = redis.call('HGET', KEYS[1], 'v') if v and v >= ARGV[1] then return 0 end \
         redis.call('HSET', KEYS[1], 'v', ARGV[1], 'id', ARGV[2], 'email', ARGV[3], 'name', ARGV[4], \
         'balance', ARGV[5], 'active', ARGV[6], 'note', ARGV[7]) return 1",
    );
    let sha = script.load_async(&mut conn).await?;
    let commands: Vec<Vec<redis::Cmd>> = (0..args.events)
        .collect::<Vec<_>>()
        .chunks(args.batch)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&i| {
                    let mut cmd = redis::cmd("EVALSHA");
                    cmd.arg(&sha).arg(1).arg(format!("{prefix}lua:{i}")).arg(format!("{:039}", i + 1));
                    cmd.arg(i).arg(format!("user{i}@example.com")).arg(format!("User number {i}"));
                    cmd.arg(i * 100).arg("true").arg("a short note about this user");
                    cmd
                })
                .collect()
        })
        .collect();
    let shape = sluice_sink_redis::pipeline::PipelineShape { size: args.pipeline, in_flight: args.in_flight };
    let started = Instant::now();
    for batch in &commands {
        sluice_sink_redis::pipeline::run(&conn, batch, shape).await?;
    }
    Ok(started.elapsed())
}

async fn sink_run(args: &Args, name: &str, config: RedisSinkConfig, events: &[ChangeEvent]) -> Result<Duration> {
    let sink = RedisSink::new(name, config).map_err(|e| anyhow::anyhow!(e.full_message()))?;
    sink.startup().await.map_err(|e| anyhow::anyhow!(e.full_message()))?;
    let batches: Vec<ChangeBatch> =
        events.chunks(args.batch).map(|chunk| ChangeBatch::from_events(chunk.to_vec())).collect();
    let started = Instant::now();
    let mut applied = 0;
    for batch in &batches {
        let report = sink.apply(batch).await.map_err(|e| anyhow::anyhow!(e.full_message()))?;
        anyhow::ensure!(report.rejected.is_empty(), "rejections: {:?}", report.rejected.first());
        applied += report.applied;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(applied == events.len() as u64, "applied {applied} of {}", events.len());
    Ok(elapsed)
}

fn base(args: &Args, mode: RedisMode, prefix: &str) -> RedisSinkConfig {
    let mut config = RedisSinkConfig::new(&args.url, mode);
    config.key_prefix = prefix.to_string();
    config.pipeline_size = args.pipeline;
    config.pipelines_in_flight = args.in_flight;
    config.timeout = Duration::from_secs(30);
    config
}

/// One round: every measurement once, as (label, unit, rate).
async fn round(
    args: &Args,
    prefix: &str,
    events: &[ChangeEvent],
    updates: &[ChangeEvent],
) -> Result<Vec<(String, f64)>> {
    let rate = |d: Duration| args.events as f64 / d.as_secs_f64();
    let mut out = Vec::new();
    out.push(("raw pipelined SET (120 B values)".to_string(), rate(raw_set(args, prefix).await.context("raw SET")?)));
    cleanup(&args.url, prefix).await?;
    out.push((
        "raw EVALSHA, minimal versioned HSET".to_string(),
        rate(raw_lua(args, prefix).await.context("raw EVALSHA")?),
    ));
    cleanup(&args.url, prefix).await?;

    let mut invalidate = base(args, RedisMode::Invalidate, prefix);
    invalidate.tables.insert(
        "bench.users".into(),
        TableConfig { keys: Some(vec!["user:{id}".into(), "user:email:{email}".into()]), ..TableConfig::default() },
    );
    let mut publish = invalidate.clone();
    publish.invalidate =
        Some(InvalidateConfig { channel: Some(format!("{prefix}inv")), ..InvalidateConfig::default() });
    let mut hash = base(args, RedisMode::Materialize, prefix);
    hash.materialize = Some(MaterializeConfig { format: MaterializeFormat::Hash, ..MaterializeConfig::default() });
    let mut json = base(args, RedisMode::Materialize, prefix);
    json.materialize = Some(MaterializeConfig { format: MaterializeFormat::Json, ..MaterializeConfig::default() });
    let runs = [
        ("invalidate (UNLINK, 3 keys/event)", invalidate),
        ("invalidate + PUBLISH (3 msgs/event)", publish),
        ("materialize hash (6 columns)", hash.clone()),
        ("materialize json (6 columns)", json),
    ];
    for (label, config) in runs {
        let elapsed = sink_run(args, label, config, events).await.with_context(|| label.to_string())?;
        out.push((label.to_string(), rate(elapsed)));
        cleanup(&args.url, prefix).await?;
    }
    // Updates over existing rows (the stored version is read and compared).
    sink_run(args, "seed", hash.clone(), events).await?;
    let elapsed = sink_run(args, "materialize hash updates", hash.clone(), updates).await?;
    out.push(("materialize hash, updates".to_string(), rate(elapsed)));
    cleanup(&args.url, prefix).await?;

    // Client-side share: planning (rendering keys, encoding rows, building commands) alone.
    let tables = sluice_sink_redis::tables::Tables::new(&hash).map_err(|e| anyhow::anyhow!(e.full_message()))?;
    let planner = sluice_sink_redis::materialize::MaterializePlanner {
        format: MaterializeFormat::Hash,
        version_field: sluice_sink_redis::config::DEFAULT_VERSION_FIELD.into(),
        tombstone_ttl_ms: 1000,
        tombstone_prefix: "t:".into(),
        key_prefix: prefix.to_string(),
        separator: ":".into(),
        script_sha: sluice_sink_redis::materialize::script().get_hash().into(),
    };
    let started = Instant::now();
    for chunk in events.chunks(args.batch) {
        std::hint::black_box(planner.plan(chunk, &tables));
    }
    out.push(("(planning only, materialize hash, no I/O)".to_string(), rate(started.elapsed())));
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let prefix = format!("sluice-bench:{}:", std::process::id());
    let events = events(args.events);
    let b = EventBuilder::new(table());
    let updates: Vec<ChangeEvent> = (0..args.events)
        .map(|i| {
            let version = (args.events + i) as u64 + 1;
            b.event(Op::Update, (i % (args.events / 4).max(1)) as i64, version, None, Some(user(i as i64, version)))
        })
        .collect();
    println!(
        "redis sink benchmark: {} events per measurement, best of {} rounds, batches of {}, pipelines of {} x{} in \
         flight, server {}",
        args.events,
        args.rounds,
        args.batch,
        args.pipeline,
        args.in_flight,
        sluice_sink_api::config::redact_url(&args.url)
    );
    let mut best: Vec<(String, f64)> = Vec::new();
    for _ in 0..args.rounds.max(1) {
        let rates = round(&args, &prefix, &events, &updates).await?;
        if best.is_empty() {
            best = rates;
        } else {
            for (slot, (_, rate)) in best.iter_mut().zip(rates) {
                slot.1 = slot.1.max(rate);
            }
        }
    }
    let raw = best[0].1;
    for (i, (label, rate)) in best.iter().enumerate() {
        let unit = if i < 2 { "ops/s   " } else { "events/s" };
        println!("{label:<42} {rate:>10.0} {unit}   ratio to raw SET: {:.2}", rate / raw);
    }
    Ok(())
}
