//! `sluice status`: lag per partition from the group's committed offsets
//! (read without joining the group) and the DLQ depth.

mod dlq_support;
mod support;

use std::time::Duration;

use dlq_support::*;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use sluice_sink_api::RejectKind;
use sluice_testkit::{kafka_brokers, kafka_topic, require};

fn commit(brokers: &str, group: &str, topic: &str, partition: i32, offset: i64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset)).unwrap();
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_status_shows_lag_per_partition_and_dlq_depth() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    let store = store("dlq_status").await;
    let topic = kafka_topic("status");
    support::create_topic(&brokers, &topic, 2).await;
    let records: Vec<(Vec<u8>, Option<Vec<u8>>)> =
        (0..40).map(|i| (format!("k{i}").into_bytes(), Some(b"{}".to_vec()))).collect();
    support::produce(&brokers, &topic, &records).await;
    let group = sluice_testkit::unique_name("g");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), store.schema(), &group, &topic, "");
    park(&store, &[letter(&group, &topic, 3, "mem", RejectKind::Constraint, None, Some(b"x".to_vec()))]).await;

    // Nothing committed yet: the whole partition is lag.
    let out = sluice(&config, &["status", "--json"]);
    expect_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let parts = doc["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| p["committed"].is_null()));
    assert_eq!(doc["total_lag"].as_i64(), Some(40));
    assert_eq!(doc["dlq"]["unresolved"].as_i64(), Some(1));

    let high0 = parts[0]["high_watermark"].as_i64().unwrap();
    assert!(high0 >= 2, "both partitions got records: {doc:#}");
    commit(&brokers, &group, &topic, 0, high0 - 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = sluice(&config, &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["partitions"][0]["committed"].as_i64(), Some(high0 - 2));
    assert_eq!(doc["partitions"][0]["lag"].as_i64(), Some(2));
    assert_eq!(doc["total_lag"].as_i64(), Some(40 - high0 + 2));

    let out = sluice(&config, &["status"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    for needle in
        ["TOPIC", "LAG", topic.as_str(), "none", &format!("consumer group {group}"), "dead-letter queue: 1 unresolved"]
    {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_status_reports_an_unreachable_dlq_and_fails() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    let topic = kafka_topic("status");
    support::create_topic(&brokers, &topic, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "sluice", "g", &topic, "");
    let port = sluice_testkit::free_port();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&sluice_testkit::pg_url(), &format!("postgres://postgres@127.0.0.1:{port}/test"));
    std::fs::write(&config, text).unwrap();
    let out = sluice(&config, &["status"]);
    expect_code(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("dead-letter queue: error:"), "{text}");
    assert!(text.contains(&topic), "lag still shown:\n{text}");
}
