//! Benchmark of the Postgres sink (run by `bench/postgres-sink`).
//!
//! 1. Generates N changes (50% inserts, 40% updates, 10% deletes, ~200-byte
//!    rows) with increasing versions, in batches.
//! 2. Applies them through [`PostgresSink`] (one transaction per batch, the
//!    real apply path: compaction, encoding, statements, commit), once per
//!    write path asked for (`--paths auto,arrays,copy`), each into its own
//!    schema.
//! 3. In the same loop, batch by batch, the server-side limit: the same
//!    compacted rows, preloaded into an UNLOGGED staging table, written by
//!    the same statements (`INSERT … SELECT … ON CONFLICT … WHERE version <`,
//!    the truncate and tombstone guards, the versioned delete with its
//!    tombstone upsert, key texts computed in the statement) into tables of
//!    the same shape and indexes — no client data transfer, same
//!    transactions and commits. The variants take turns going first.
//! 4. Re-applies the same N changes through the first path (every one
//!    stale): the replay rate.
//! 5. Checks that every sink table equals the server-side table.
//!
//! `synchronous_commit` is left as the server has it (on) for every variant:
//! durable commits, as the sink's guarantee requires.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, ChangeEvent, ColumnSchema, ColumnType, Row, Sink, TableId, TableSchema};
use sluice_sink_postgres::{PostgresSink, PostgresSinkConfig, WritePath};
use sqlx::postgres::PgPoolOptions;

#[derive(Parser, Debug)]
#[command(about = "Postgres sink throughput versus the server-side limit")]
struct Args {
    /// Postgres URL (default: SLUICE_TEST_PG_URL or the local test server).
    #[arg(long)]
    url: Option<String>,
    /// Number of changes.
    #[arg(long, default_value_t = 1_000_000)]
    changes: usize,
    /// Events per batch (one transaction each).
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Sink write paths to measure, comma-separated: auto (the default
    /// behaviour), arrays, copy. The first one also runs the stale replay.
    #[arg(long, default_value = "auto", value_delimiter = ',')]
    paths: Vec<String>,
    /// Keep the bench schemas afterwards.
    #[arg(long)]
    keep: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Insert,
    Update,
    Delete,
}

struct Change {
    kind: Kind,
    id: i64,
    a: String,
    b: String,
    c: String,
    n: i64,
}

fn text(rng: &mut StdRng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// 50% inserts of new keys, 40% updates and 10% deletes of live keys.
fn workload(n: usize) -> Vec<Change> {
    let mut rng = StdRng::seed_from_u64(42);
    let mut live: Vec<i64> = Vec::new();
    let mut next = 1i64;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let roll = rng.random_range(0..10);
        let kind = if roll < 5 || live.is_empty() {
            Kind::Insert
        } else if roll < 9 {
            Kind::Update
        } else {
            Kind::Delete
        };
        let id = match kind {
            Kind::Insert => {
                next += 1;
                live.push(next - 1);
                next - 1
            }
            Kind::Update => live[rng.random_range(0..live.len())],
            Kind::Delete => live.swap_remove(rng.random_range(0..live.len())),
        };
        let (a, b, c) = (text(&mut rng, 60), text(&mut rng, 60), text(&mut rng, 60));
        out.push(Change { kind, id, a, b, c, n: rng.random_range(0..1_000_000) });
    }
    out
}

fn schema() -> Arc<TableSchema> {
    let col =
        |name: &str, column_type| ColumnSchema { name: name.into(), column_type, optional: true, source_type: None };
    Arc::new(TableSchema {
        columns: vec![
            col("id", ColumnType::Int64),
            col("a", ColumnType::Text { max_length: None }),
            col("b", ColumnType::Text { max_length: None }),
            col("c", ColumnType::Text { max_length: None }),
            col("n", ColumnType::Int64),
        ],
        primary_key: vec!["id".into()],
    })
}

fn events(changes: &[Change]) -> Vec<ChangeEvent> {
    let b = EventBuilder::new(TableId::new(Some("bench"), None, "sink_t"));
    let schema = schema();
    changes
        .iter()
        .enumerate()
        .map(|(i, ch)| {
            let version = i as u64 + 1;
            let mut e = match ch.kind {
                Kind::Delete => b.delete(ch.id, version),
                _ => {
                    let row = Row::new()
                        .with("id", ch.id)
                        .with("a", ch.a.as_str())
                        .with("b", ch.b.as_str())
                        .with("c", ch.c.as_str())
                        .with("n", ch.n);
                    let op =
                        if ch.kind == Kind::Insert { sluice_sink_api::Op::Create } else { sluice_sink_api::Op::Update };
                    b.event(op, ch.id, version, None, Some(row))
                }
            };
            e.schema = Some(schema.clone());
            e
        })
        .collect()
}

fn write_path(name: &str) -> Result<WritePath> {
    Ok(match name {
        "auto" => WritePath::Auto,
        "arrays" => WritePath::Arrays,
        "copy" => WritePath::Copy,
        other => anyhow::bail!("unknown write path {other:?} (auto, arrays, copy)"),
    })
}

/// CPU time of the calling thread in seconds (`/proc/thread-self/schedstat`,
/// nanoseconds on CPU). The runtime is single-threaded, so this is the
/// client's work: compaction, encoding, protocol.
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse::<f64>().ok()))
        .unwrap_or(0.0)
        / 1e9
}

/// One measured variant: a sink write path or the server-side limit.
struct Variant {
    name: String,
    sink: Option<PostgresSink>,
    schema: String,
    batch_secs: Vec<f64>,
    cpu_secs: f64,
    applied: u64,
    stale: u64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let url = args.url.clone().unwrap_or_else(sluice_testkit::pg_url);
    let base = format!("bench_{:08x}", rand::random::<u32>());
    println!(
        "postgres-sink bench: {} changes (50% insert / 40% update / 10% delete, ~200-byte rows), batch {} events, \
         paths {}, schemas {base}*",
        args.changes,
        args.batch,
        args.paths.join(",")
    );
    let changes = workload(args.changes);
    // the batches are built before timing: the engine hands the sink batches it owns
    let batches: Vec<ChangeBatch> =
        events(&changes).chunks(args.batch).map(|c| ChangeBatch::from_events(c.to_vec())).collect();

    let mut variants: Vec<Variant> = Vec::new();
    for name in &args.paths {
        let schema = format!("{base}_{name}");
        let mut config = PostgresSinkConfig::new(url.clone());
        config.schema = schema.clone();
        config.sluice_schema = format!("{schema}_sluice");
        config.pool_size = 2;
        let sink = PostgresSink::new("bench", config)
            .map_err(|e| anyhow::anyhow!(e.full_message()))?
            .with_write_path(write_path(name)?);
        sink.startup().await.map_err(|e| anyhow::anyhow!(e.full_message()))?;
        variants.push(Variant {
            name: format!("sink ({name})"),
            sink: Some(sink),
            schema,
            batch_secs: Vec::new(),
            cpu_secs: 0.0,
            applied: 0,
            stale: 0,
        });
    }

    // server-side limit: same table shape and indexes as the sink's tables
    let pool = PgPoolOptions::new().max_connections(1).connect(&url).await?;
    let s = format!("\"{base}\"");
    let state_key = format!("{base}.server_t");
    let setup = [
        format!("CREATE SCHEMA IF NOT EXISTS {s}"),
        format!(
            "CREATE UNLOGGED TABLE {s}.stage (batch int NOT NULL, op \"char\" NOT NULL, id bigint NOT NULL, \
             a text, b text, c text, n bigint, v numeric NOT NULL)"
        ),
        format!(
            "CREATE TABLE {s}.server_t (id bigint PRIMARY KEY, a text, b text, c text, n bigint, \
             _sluice_version numeric NOT NULL DEFAULT 0)"
        ),
        format!(
            "CREATE TABLE {s}.server_tombstones (table_name text NOT NULL, key text NOT NULL, version numeric NOT NULL, \
             deleted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (table_name, key))"
        ),
        // the sink's tombstone table has this index (for garbage collection)
        format!("CREATE INDEX ON {s}.server_tombstones (deleted_at)"),
        format!("CREATE TABLE {s}.server_state (table_name text PRIMARY KEY, truncated_version numeric)"),
    ];
    for sql in setup {
        sqlx::query(&sql).execute(&pool).await?;
    }
    // stage the compacted winners of every batch (what the sink writes)
    for (bi, chunk) in changes.chunks(args.batch).enumerate() {
        let mut winners: HashMap<i64, usize> = HashMap::new();
        for (i, ch) in chunk.iter().enumerate() {
            winners.insert(ch.id, i);
        }
        let mut rows: Vec<usize> = winners.into_values().collect();
        rows.sort_unstable();
        let base = bi * args.batch;
        let op: Vec<String> =
            rows.iter().map(|i| if chunk[*i].kind == Kind::Delete { "d" } else { "u" }.to_string()).collect();
        let id: Vec<i64> = rows.iter().map(|i| chunk[*i].id).collect();
        let a: Vec<&str> = rows.iter().map(|i| chunk[*i].a.as_str()).collect();
        let b: Vec<&str> = rows.iter().map(|i| chunk[*i].b.as_str()).collect();
        let c: Vec<&str> = rows.iter().map(|i| chunk[*i].c.as_str()).collect();
        let n: Vec<i64> = rows.iter().map(|i| chunk[*i].n).collect();
        let v: Vec<String> = rows.iter().map(|i| (base + i + 1).to_string()).collect();
        sqlx::query(&format!(
            "INSERT INTO {s}.stage SELECT $1, u.op::\"char\", u.id, u.a, u.b, u.c, u.n, u.v::numeric \
             FROM unnest($2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[]) \
             AS u(op, id, a, b, c, n, v)"
        ))
        .bind(bi as i32)
        .bind(op)
        .bind(id)
        .bind(a)
        .bind(b)
        .bind(c)
        .bind(n)
        .bind(v)
        .execute(&pool)
        .await?;
    }
    sqlx::query(&format!("CREATE INDEX ON {s}.stage (batch, op)")).execute(&pool).await?;
    sqlx::query(&format!("ANALYZE {s}.stage")).execute(&pool).await?;
    let delete_sql = format!(
        "WITH s AS (SELECT id, v, id::text AS kt FROM {s}.stage WHERE batch = $1 AND op = 'd'), \
         d AS (DELETE FROM {s}.server_t AS t USING s WHERE t.id = s.id AND t._sluice_version < s.v), \
         tomb AS (INSERT INTO {s}.server_tombstones AS tb (table_name, key, version, deleted_at) \
           SELECT $2, s.kt, s.v, now() FROM s \
           WHERE NOT EXISTS (SELECT 1 FROM {s}.server_t AS t WHERE t.id = s.id AND t._sluice_version >= s.v) \
           ON CONFLICT (table_name, key) DO UPDATE SET version = excluded.version, deleted_at = excluded.deleted_at \
           WHERE tb.version < excluded.version RETURNING tb.key) \
         SELECT count(*) FROM tomb"
    );
    let upsert_sql = format!(
        "WITH w AS (INSERT INTO {s}.server_t AS t (id, a, b, c, n, _sluice_version) \
           SELECT s.id, s.a, s.b, s.c, s.n, s.v FROM {s}.stage s WHERE s.batch = $1 AND s.op = 'u' \
           AND s.v > COALESCE((SELECT st.truncated_version FROM {s}.server_state st WHERE st.table_name = $2), -1) \
           AND NOT EXISTS (SELECT 1 FROM {s}.server_tombstones tb WHERE tb.table_name = $2 \
             AND tb.key = s.id::text AND tb.version >= s.v) \
           ON CONFLICT (id) DO UPDATE SET a = excluded.a, b = excluded.b, c = excluded.c, n = excluded.n, \
             _sluice_version = excluded._sluice_version WHERE t._sluice_version < excluded._sluice_version \
           RETURNING t._sluice_version) \
         SELECT count(*) FROM w"
    );
    variants.push(Variant {
        name: "server-side limit".into(),
        sink: None,
        schema: base.clone(),
        batch_secs: Vec::new(),
        cpu_secs: 0.0,
        applied: 0,
        stale: 0,
    });
    let mut conn = pool.acquire().await?;
    // the same planning as the sink's connections: custom plans for per-batch statements
    sqlx::query("SET plan_cache_mode = force_custom_plan").execute(&mut *conn).await?;

    // interleaved, batch by batch, taking turns, so every variant sees the same machine load
    for (bi, batch) in batches.iter().enumerate() {
        let count = variants.len();
        for turn in 0..count {
            let variant = &mut variants[(bi + turn) % count];
            let cpu = thread_cpu_seconds();
            let started = Instant::now();
            match &variant.sink {
                Some(sink) => {
                    let report = sink.apply(batch).await.context("apply")?;
                    anyhow::ensure!(report.rejected.is_empty(), "rejections: {:?}", &report.rejected[..1]);
                    variant.applied += report.applied;
                    variant.stale += report.stale;
                }
                None => {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    sqlx::query(&delete_sql).bind(bi as i32).bind(&state_key).execute(&mut *tx).await?;
                    sqlx::query(&upsert_sql).bind(bi as i32).bind(&state_key).execute(&mut *tx).await?;
                    tx.commit().await?;
                }
            }
            variant.batch_secs.push(started.elapsed().as_secs_f64());
            variant.cpu_secs += thread_cpu_seconds() - cpu;
        }
    }
    let server_secs: f64 = variants.last().map(|v| v.batch_secs.iter().sum()).unwrap_or(f64::NAN);
    let server_rate = args.changes as f64 / server_secs;
    let server_batches = variants.last().map(|v| v.batch_secs.clone()).unwrap_or_default();
    for variant in &variants {
        let secs: f64 = variant.batch_secs.iter().sum();
        let rate = args.changes as f64 / secs;
        let mut per_batch = variant.batch_secs.clone();
        let med_ms = median(&mut per_batch) * 1e3;
        if variant.sink.is_none() {
            println!(
                "{:<18} {rate:>8.0} events/s  ({secs:.2} s; batch median {med_ms:.1} ms; same rows and statements \
                 from an UNLOGGED staging table)",
                format!("{}:", variant.name)
            );
            continue;
        }
        let mut ratios: Vec<f64> =
            server_batches.iter().zip(&variant.batch_secs).map(|(server, sink)| server / sink).collect();
        println!(
            "{:<18} {rate:>8.0} events/s  ({secs:.2} s; batch median {med_ms:.1} ms; applied {}, stale {}; \
             client CPU {:.1} µs/event)",
            format!("{}:", variant.name),
            variant.applied,
            variant.stale,
            variant.cpu_secs * 1e6 / args.changes as f64
        );
        println!(
            "  ratio to server:  {:>7.1} %  (per batch: median {:.1} %, p10 {:.1} %, p90 {:.1} %)",
            100.0 * rate / server_rate,
            100.0 * median(&mut ratios),
            100.0 * quantile(&mut ratios, 0.1),
            100.0 * quantile(&mut ratios, 0.9)
        );
    }

    if let Some(first) = variants.first().and_then(|v| v.sink.as_ref()) {
        let started = Instant::now();
        let (mut applied, mut stale) = (0, 0);
        for batch in &batches {
            let report = first.apply(batch).await.context("apply")?;
            anyhow::ensure!(report.rejected.is_empty(), "rejections: {:?}", &report.rejected[..1]);
            applied += report.applied;
            stale += report.stale;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "stale replay:      {:>8.0} events/s  ({secs:.2} s; {}; applied {applied}, stale {stale})",
            args.changes as f64 / secs,
            variants[0].name
        );
    }

    // every path must agree with the server-side table
    let mut differing = 0;
    for variant in variants.iter().filter(|v| v.sink.is_some()) {
        let t = format!("\"{}\".sink_t", variant.schema);
        let diff: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM ((SELECT id, a, b, c, n, _sluice_version FROM {t} EXCEPT \
               SELECT id, a, b, c, n, _sluice_version FROM {s}.server_t) UNION ALL \
              (SELECT id, a, b, c, n, _sluice_version FROM {s}.server_t EXCEPT \
               SELECT id, a, b, c, n, _sluice_version FROM {t})) x"
        ))
        .fetch_one(&mut *conn)
        .await?;
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}")).fetch_one(&mut *conn).await?;
        println!("check {}: {rows} live rows, {diff} rows differ from the server-side table", variant.name);
        differing += diff;
    }
    drop(conn);
    let mut schemas = vec![base.clone()];
    for variant in &variants {
        if let Some(sink) = &variant.sink {
            sink.shutdown().await.ok();
            schemas.push(variant.schema.clone());
            schemas.push(format!("{}_sluice", variant.schema));
        }
    }
    if !args.keep {
        for schema in schemas {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&pool).await?;
        }
    }
    anyhow::ensure!(differing == 0, "a sink's table differs from the server-side table");
    Ok(())
}
