//! Benchmark of the binlog source: 1M row changes decoded and serialized as
//! Debezium JSON (no I/O besides the binlog), then produced to Kafka.
//!
//! Run with `bench/mysql-source` (release build). Needs MariaDB at
//! `SLUICE_TEST_MYSQL_URL` and, for the Kafka part, brokers at
//! `SLUICE_TEST_KAFKA_BROKERS` (tansu).

use std::time::{Duration, Instant};

use anyhow::Context;
use mysql_async::prelude::Queryable;
use sluice_source_mysql::debezium::DebeziumSerializer;
use sluice_source_mysql::stream::connect;
use sluice_source_mysql::{MysqlSourceConfig, SourceItem, SourceStream};

const ROWS_PER_TX: u64 = 10_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: u64 = std::env::var("ROWS").ok().and_then(|r| r.parse().ok()).unwrap_or(1_000_000);
    let url = sluice_testkit::mysql_url();
    let brokers = sluice_testkit::kafka_brokers();
    let db = format!("sluice_bench_{:08x}", rand::random::<u32>());
    let mut conn = mysql_async::Conn::from_url(&url).await.context("connect MariaDB")?;
    conn.query_drop(format!("CREATE DATABASE `{db}`")).await?;
    conn.query_drop(format!(
        "CREATE TABLE `{db}`.orders (id BIGINT PRIMARY KEY, customer INT NOT NULL, amount DECIMAL(12,2) NOT NULL, \
         status VARCHAR(16) NOT NULL, note VARCHAR(64), created DATETIME(6) NOT NULL)"
    ))
    .await?;
    let mut config = MysqlSourceConfig::new("bench", &url);
    config.server_id = 90_000 + rand::random::<u32>() % 10_000;
    config.database_include = vec![db.clone()];
    let start = {
        let mut c = connect::open(&config).await?;
        let info = connect::server_info(&mut c).await?;
        connect::current_position(&mut c, &info).await?
    };
    let t0 = Instant::now();
    let mut done = 0;
    while done < rows {
        let n = ROWS_PER_TX.min(rows - done);
        conn.query_drop(format!(
            "INSERT INTO `{db}`.orders SELECT seq, seq % 1000, seq / 100, 'new', CONCAT('note ', seq), NOW(6) \
             FROM seq_{}_to_{}",
            done + 1,
            done + n
        ))
        .await?;
        done += n;
    }
    println!("seeded {rows} inserts in {:.1}s", t0.elapsed().as_secs_f64());

    // 1. decode + Debezium serialization (binlog already written: pure read speed).
    let mut stream = SourceStream::connect(config.clone(), start.clone()).await?;
    let mut ser = DebeziumSerializer::new("bench");
    let t1 = Instant::now();
    let (mut seen, mut bytes) = (0u64, 0usize);
    let mut decode_only = Duration::ZERO;
    while seen < rows {
        let d = Instant::now();
        let item = stream.next().await?;
        decode_only += d.elapsed();
        if let SourceItem::Transaction(tx) = item {
            for c in &tx.changes {
                for r in ser.change_records(c, tx.gtid.as_deref(), "false", false) {
                    bytes += r.value.map(|v| v.len()).unwrap_or(0) + r.key.map(|k| k.len()).unwrap_or(0);
                }
            }
            seen += tx.changes.len() as u64;
        }
    }
    let el = t1.elapsed().as_secs_f64();
    println!(
        "binlog decode: {rows} rows in {:.2}s = {:.0} rows/s; decode+serialize: {el:.2}s = {:.0} rows/s ({} MB JSON)",
        decode_only.as_secs_f64(),
        rows as f64 / decode_only.as_secs_f64(),
        rows as f64 / el,
        bytes / 1_000_000
    );

    // 2. Kafka: the same rows produced with the idempotent producer, acks=all
    //    (skipped with KAFKA=0).
    if std::env::var("KAFKA").is_ok_and(|k| k == "0") {
        println!("binlog -> Kafka: skipped (KAFKA=0)");
        conn.query_drop(format!("DROP DATABASE `{db}`")).await?;
        return Ok(());
    }
    let kafka = sluice_source_mysql::config::KafkaOutputConfig {
        brokers,
        compression: "lz4".into(),
        message_timeout: Duration::from_secs(60),
        properties: Default::default(),
        transaction_topic: true,
        schema_change_topic: true,
        tombstones: true,
        schemas: true,
        create_topics: true,
        topic_partitions: 1,
        topic_replication: -1,
        format: Default::default(),
        schema_registry: None,
    };
    sluice_source_mysql::kafka::create_topics(&kafka, &[format!("bench.{db}.orders")]).await?;
    let producer = sluice_source_mysql::kafka::producer(&kafka)?;
    let mut stream = SourceStream::connect(config, start).await?;
    let t2 = Instant::now();
    let mut seen = 0u64;
    let mut acks = Vec::new();
    while seen < rows {
        if let SourceItem::Transaction(tx) = stream.next().await? {
            for c in &tx.changes {
                for r in ser.change_records(c, tx.gtid.as_deref(), "false", false) {
                    let mut fr: rdkafka::producer::FutureRecord<'_, [u8], [u8]> =
                        rdkafka::producer::FutureRecord::to(&r.topic);
                    if let Some(k) = &r.key {
                        fr = fr.key(k.as_slice());
                    }
                    if let Some(v) = &r.value {
                        fr = fr.payload(v.as_slice());
                    }
                    loop {
                        match producer.send_result(fr) {
                            Ok(a) => {
                                acks.push(a);
                                break;
                            }
                            Err((_, back)) => {
                                fr = back;
                                for a in acks.drain(..) {
                                    a.await?.map_err(|(e, _)| e)?;
                                }
                            }
                        }
                    }
                }
            }
            seen += tx.changes.len() as u64;
        }
    }
    for a in acks.drain(..) {
        a.await?.map_err(|(e, _)| e)?;
    }
    let el = t2.elapsed().as_secs_f64();
    println!(
        "binlog -> Kafka (decode, serialize, produce, all acked): {rows} rows in {el:.2}s = {:.0} rows/s",
        rows as f64 / el
    );
    conn.query_drop(format!("DROP DATABASE `{db}`")).await?;
    Ok(())
}
