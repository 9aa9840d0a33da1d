//! Benchmark of the binlog source: 1M row changes decoded and serialized as
//! Debezium JSON (no I/O besides the binlog), then delivered to Kafka through
//! the Kafka output mode (`KAFKA=mock`: librdkafka's in-process mock cluster).
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

    // 2. Kafka: the same rows through the Kafka output mode's `KafkaOutput`
    //    (idempotent producer, acks=all, transaction metadata records, the
    //    position stored in Postgres once acknowledged). KAFKA=0 skips it;
    //    KAFKA=mock produces to librdkafka's in-process mock cluster (the real
    //    Kafka protocol over loopback TCP, in memory) to measure sluice's side
    //    without a broker's storage in the way; otherwise the brokers at
    //    SLUICE_TEST_KAFKA_BROKERS (tansu).
    let mode = std::env::var("KAFKA").unwrap_or_default();
    if mode == "0" {
        println!("binlog -> Kafka: skipped (KAFKA=0)");
        conn.query_drop(format!("DROP DATABASE `{db}`")).await?;
        return Ok(());
    }
    let mock = if mode == "mock" { Some(rdkafka::mocking::MockCluster::new(1)?) } else { None };
    let (brokers, broker_name) = match &mock {
        Some(cluster) => (cluster.bootstrap_servers(), "librdkafka mock cluster, in memory".to_string()),
        None => (brokers.clone(), format!("{brokers} (SLUICE_TEST_KAFKA_BROKERS)")),
    };
    let mut kafka = sluice_source_mysql::config::KafkaOutputConfig::new(&brokers);
    kafka.message_timeout = Duration::from_secs(120);
    // FORMAT=avro: Confluent Avro through the registry test double (testkit).
    let registry = if std::env::var("FORMAT").is_ok_and(|f| f == "avro") {
        let registry = sluice_testkit::schema_registry::SchemaRegistryDouble::start().await;
        kafka.format = sluice_source_mysql::config::OutputFormat::Avro;
        kafka.schema_registry = Some(sluice_source_mysql::config::RegistryConfig::new(&registry.url()));
        Some(registry)
    } else {
        None
    };
    let format = if registry.is_some() { "Avro" } else { "JSON" };
    let store_config = sluice_source_mysql::config::StoreConfig {
        url: sluice_testkit::pg_url(),
        password: None,
        schema: "sluice_bench".into(),
    };
    let mut source_config = config.clone();
    source_config.name = format!("bench_{db}");
    source_config.kafka = Some(kafka.clone());
    let topic = format!("{}.{db}.orders", source_config.name);
    let tx_topic = format!("{}.transaction", source_config.name);
    match &mock {
        // The mock cluster does not serve CreateTopics: create them directly.
        Some(cluster) => {
            for t in [&topic, &tx_topic] {
                cluster.create_topic(t, 1, 1)?;
            }
            kafka.create_topics = false;
            source_config.kafka = Some(kafka.clone());
        }
        None => sluice_source_mysql::kafka::create_topics(&kafka, &[topic, tx_topic]).await?,
    }
    let store = sluice_source_mysql::store::OffsetStore::connect(&store_config, &source_config.name).await?;
    let mut output = sluice_source_mysql::kafka::KafkaOutput::new(&source_config, store)?;
    let mut stream = SourceStream::connect(config, start).await?;
    let t2 = Instant::now();
    let mut seen = 0u64;
    while seen < rows {
        let item = stream.next().await?;
        output.deliver(&item).await?;
        if let SourceItem::Transaction(tx) = &item {
            seen += tx.changes.len() as u64;
        }
    }
    output.flush().await?;
    let el = t2.elapsed().as_secs_f64();
    let records = output.records();
    output.close().await?;
    println!(
        "binlog -> Kafka via KafkaOutput ({format}, {broker_name}; decode, serialize, produce, all acked, position \
         stored): {rows} rows ({records} records) in {el:.2}s = {:.0} rows/s",
        rows as f64 / el
    );
    conn.query_drop(format!("DROP DATABASE `{db}`")).await?;
    Ok(())
}
