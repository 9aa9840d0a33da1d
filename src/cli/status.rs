//! `sluice status -c FILE`: consumer lag per partition (the group's committed
//! offsets against the partitions' high watermarks) and the dead-letter
//! queue's depth.
//!
//! The Kafka client only reads metadata, watermarks and committed offsets:
//! it never subscribes, so it does not join the group or disturb a running
//! pipeline.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::Serialize;
use serde_json::json;

use super::args::StatusArgs;
use super::dlq::{fmt_opt_time, new_table};
use super::run::open_dlq;
use crate::config::{self, KafkaSection};
use crate::consume::client_config::consumer_config;
use crate::dlq::Depth;

/// Timeout of each Kafka request.
pub const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// One partition's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// The next offset the group will read; `None` when it never committed.
    pub committed: Option<i64>,
    pub low_watermark: i64,
    pub high_watermark: i64,
    /// Records not yet committed: `high - committed`, or `high - low` without a commit.
    pub lag: i64,
}

/// A topic the pipeline consumes: one of `topics`, the transaction topic, or
/// matched by `topic_regex` (anchored at the start, as the subscription is).
fn topic_selected(kafka: &KafkaSection, regex: Option<&regex::Regex>, topic: &str) -> bool {
    kafka.topics.iter().any(|t| t == topic)
        || kafka.transaction_topic.as_deref() == Some(topic)
        || regex.is_some_and(|r| r.is_match(topic))
}

/// Reads the lag of every partition of the configured topics (blocking).
pub fn read_lag(kafka: &KafkaSection) -> anyhow::Result<Vec<PartitionLag>> {
    let mut cfg = consumer_config(kafka)?;
    cfg.set("client.id", format!("sluice-status-{}", kafka.group_id)).set("statistics.interval.ms", "0");
    let consumer: BaseConsumer = cfg.create().context("creating the Kafka client")?;
    let regex = kafka
        .topic_regex
        .as_deref()
        .map(|r| {
            let anchored = if r.starts_with('^') { r.to_string() } else { format!("^{r}") };
            regex::Regex::new(&anchored).with_context(|| format!("kafka.topic_regex {r:?}"))
        })
        .transpose()?;
    let metadata = consumer
        .fetch_metadata(None, KAFKA_TIMEOUT)
        .with_context(|| format!("reading topic metadata from {}", kafka.brokers))?;
    let mut tpl = TopicPartitionList::new();
    let mut found = Vec::new();
    for topic in metadata.topics() {
        if topic_selected(kafka, regex.as_ref(), topic.name()) {
            found.push(topic.name().to_string());
            for p in topic.partitions() {
                tpl.add_partition(topic.name(), p.id());
            }
        }
    }
    for t in &kafka.topics {
        if !found.contains(t) {
            tracing::warn!(topic = %t, "configured topic does not exist (yet)");
        }
    }
    let committed = consumer
        .committed_offsets(tpl.clone(), KAFKA_TIMEOUT)
        .with_context(|| format!("reading the committed offsets of group {}", kafka.group_id))?;
    let mut out = Vec::new();
    for element in tpl.elements() {
        let (topic, partition) = (element.topic().to_string(), element.partition());
        let (low, high) = consumer
            .fetch_watermarks(&topic, partition, KAFKA_TIMEOUT)
            .with_context(|| format!("reading the watermarks of {topic}/{partition}"))?;
        let committed = match committed.find_partition(&topic, partition).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => Some(o),
            _ => None,
        };
        let lag = (high - committed.unwrap_or(low).max(low)).max(0);
        out.push(PartitionLag { topic, partition, committed, low_watermark: low, high_watermark: high, lag });
    }
    out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(out)
}

/// Entry point of `sluice status`.
pub async fn run(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let loaded = config::load(&args.config.config)?;
    crate::telemetry::logging::init("warn", loaded.config.log.format);
    let kafka = loaded.config.kafka.as_ref().context("[kafka] is required for `sluice status`")?;
    let group = kafka.group_id.clone();
    // librdkafka calls block: keep them off the async workers' queues.
    let lag = tokio::task::block_in_place(|| read_lag(kafka));
    let dlq: Result<Depth, String> = match open_dlq(&loaded) {
        Ok(store) => match store.ensure_ready().await {
            Ok(()) => store.depth(Some(&group)).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(format!("{e:#}")),
    };
    let failed = lag.is_err() || dlq.is_err();
    if args.json {
        let doc = json!({
            "group": group,
            "partitions": lag.as_ref().ok(),
            "total_lag": lag.as_ref().ok().map(|l| l.iter().map(|p| p.lag).sum::<i64>()),
            "kafka_error": lag.as_ref().err().map(|e| format!("{e:#}")),
            "dlq": dlq.as_ref().ok(),
            "dlq_error": dlq.as_ref().err(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("consumer group {group}");
        match &lag {
            Ok(partitions) => {
                let mut table = new_table(&["TOPIC", "PARTITION", "COMMITTED", "HIGH WATERMARK", "LAG"]);
                for p in partitions {
                    table.add_row(vec![
                        p.topic.clone(),
                        p.partition.to_string(),
                        p.committed.map(|c| c.to_string()).unwrap_or_else(|| "none".into()),
                        p.high_watermark.to_string(),
                        p.lag.to_string(),
                    ]);
                }
                let total: i64 = partitions.iter().map(|p| p.lag).sum();
                table.add_row(vec!["total".into(), String::new(), String::new(), String::new(), total.to_string()]);
                println!("{table}");
            }
            Err(e) => println!("kafka: error: {e:#}"),
        }
        match &dlq {
            Ok(d) => println!(
                "dead-letter queue: {} unresolved (oldest failed at {})",
                d.unresolved,
                fmt_opt_time(&d.oldest_unresolved)
            ),
            Err(e) => println!("dead-letter queue: error: {e}"),
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
