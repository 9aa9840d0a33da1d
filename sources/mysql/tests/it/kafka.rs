//! Kafka output mode against tansu: records land on the Debezium topics and
//! the position is stored only after Kafka acknowledged them.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde_json::Value as Json;
use sluice_source_mysql::config::{KafkaOutputConfig, StoreConfig};
use sluice_source_mysql::kafka::KafkaOutput;
use sluice_source_mysql::store::OffsetStore;
use sluice_source_mysql::{SourceItem, SourceStream};

use super::common::TestDb;

#[tokio::test]
async fn kafka_mode_produces_debezium_topics_and_stores_the_acknowledged_position() {
    let brokers = sluice_testkit::kafka_brokers();
    sluice_testkit::require("kafka (tansu)", &brokers).await;
    let pg = sluice_testkit::pg_url();
    sluice_testkit::require("postgres", &pg).await;
    let mut db = TestDb::new().await;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))").await;
    let start = db.position().await;
    db.exec("BEGIN; INSERT INTO t VALUES (1, 'a'), (2, 'b'); COMMIT").await;
    db.exec("DELETE FROM t WHERE id = 1").await;

    let mut config = db.config();
    config.name = format!("kt{}", &db.name[9..17]);
    config.store = Some(StoreConfig { url: pg, password: None, schema: db.name.clone() });
    config.kafka = Some(KafkaOutputConfig {
        brokers: brokers.clone(),
        compression: "lz4".into(),
        message_timeout: Duration::from_secs(30),
        properties: Default::default(),
        transaction_topic: true,
        schema_change_topic: true,
        tombstones: true,
        create_topics: true,
        topic_partitions: 1,
        topic_replication: -1,
        schemas: true,
        format: Default::default(),
        schema_registry: None,
    });
    let store = OffsetStore::connect(config.store.as_ref().unwrap(), &config.name).await.unwrap();
    assert_eq!(store.load().await.unwrap(), None);
    let mut output = KafkaOutput::new(&config, store.clone()).unwrap();
    let mut stream = SourceStream::connect(config.clone(), start).await.unwrap();
    let mut txs = 0;
    let mut last = None;
    while txs < 2 {
        let item = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.unwrap().unwrap();
        if matches!(item, SourceItem::Transaction(_)) {
            txs += 1;
        }
        output.deliver(&item).await.unwrap();
        last = Some(item.end_position().clone());
    }
    output.flush().await.unwrap();
    assert_eq!(store.load().await.unwrap(), last, "the acknowledged position is stored");
    // 2 BEGIN/END pairs + 2 inserts + delete + tombstone.
    assert_eq!(output.records(), 8);

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("{}-check", config.name))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let topic = format!("{}.{}.t", config.name, db.name);
    consumer.subscribe(&[&topic]).unwrap();
    let mut seen: Vec<(Json, Option<Json>)> = Vec::new();
    while seen.len() < 4 {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await.expect("records arrive").unwrap();
        let key: Json = serde_json::from_slice(m.key().unwrap()).unwrap();
        let value = m.payload().map(|p| serde_json::from_slice::<Json>(p).unwrap());
        seen.push((key["payload"].clone(), value));
    }
    // Per key, in order (keys may live on different partitions).
    let ops_of = |id: i64| -> Vec<String> {
        seen.iter()
            .filter(|(k, _)| *k == serde_json::json!({"id": id}))
            .map(|(_, v)| {
                v.as_ref().map(|v| v["payload"]["op"].as_str().unwrap().to_string()).unwrap_or("tombstone".into())
            })
            .collect()
    };
    assert_eq!(ops_of(1), vec!["c", "d", "tombstone"]);
    assert_eq!(ops_of(2), vec!["c"]);
    let pool = store.pool().clone();
    sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", db.name)).execute(&pool).await.unwrap();
    db.drop().await;
}
