//! Kafka output mode: Debezium-compatible topics from the binlog.
//!
//! # Contract
//!
//! * The producer is idempotent with `acks=all` (no duplicates from producer
//!   retries, no loss on leader failover); records of one key keep their order.
//! * Records are sent without waiting (bounded in flight); the source position
//!   of an item is stored in Postgres only after Kafka acknowledged every
//!   record of that item **and of every item before it** (contiguous
//!   watermark). A crash re-sends at most what was not yet stored: consumers
//!   see duplicates, never gaps, and sluice's versioned sinks make them no-ops.
//! * A record Kafka refuses permanently (message too large, topic authorization)
//!   stops the source with a fatal error: nothing after it is stored.
//! * With `format = "avro"` every record is converted by [`avro::AvroEncoder`]
//!   before it is sent; its schema registration happens first (the source
//!   pauses while the registry is unavailable; a refused schema is fatal),
//!   so the same position contract holds.

pub mod avro;
pub mod registry;

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use tracing::info;

use crate::config::{KafkaOutputConfig, MysqlSourceConfig, OutputFormat};
use crate::debezium::{DebeziumSerializer, KafkaRecord};
use crate::error::{Result, SourceError};
use crate::metrics;
use crate::position::BinlogPosition;
use crate::store::OffsetStore;
use crate::stream::{SourceChange, SourceItem};

/// Items in flight before `deliver` waits for acknowledgements.
pub const MAX_PENDING_ITEMS: usize = 10_000;
/// How often the acknowledged position is stored while streaming.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(1);

fn client_config(config: &KafkaOutputConfig) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.brokers);
    for (k, v) in &config.properties {
        if !k.starts_with("linger") && !k.starts_with("queue.") && !k.starts_with("compression") {
            cc.set(k, v);
        }
    }
    cc
}

/// Creates `topics` that do not exist yet (an existing topic is fine).
pub async fn create_topics(config: &KafkaOutputConfig, topics: &[String]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(config)
        .create()
        .map_err(|e| SourceError::Kafka { message: format!("creating the admin client: {e}"), transient: false })?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, config.topic_partitions, TopicReplication::Fixed(config.topic_replication)))
        .collect();
    let results = admin
        .create_topics(&new, &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))))
        .await
        .map_err(kafka_err)?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(SourceError::Kafka {
                    message: format!("creating topic {topic}: {code}"),
                    transient: false,
                });
            }
        }
    }
    Ok(())
}

/// Builds the idempotent producer.
pub fn producer(config: &KafkaOutputConfig) -> Result<FutureProducer> {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "5")
        .set("compression.type", &config.compression)
        .set("message.timeout.ms", config.message_timeout.as_millis().to_string())
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "500000")
        // Same partition for a key as Java clients (Debezium/Kafka Connect).
        .set("partitioner", "murmur2_random");
    for (k, v) in &config.properties {
        cc.set(k, v);
    }
    cc.create().map_err(|e| SourceError::Kafka { message: format!("creating the producer: {e}"), transient: false })
}

fn kafka_err(e: KafkaError) -> SourceError {
    let transient = matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::MessageTimedOut | RDKafkaErrorCode::QueueFull | RDKafkaErrorCode::AllBrokersDown)
    );
    SourceError::Kafka { message: e.to_string(), transient }
}

struct Pending {
    acks: Vec<DeliveryFuture>,
    position: Option<BinlogPosition>,
}

/// See the module docs.
pub struct KafkaOutput {
    name: String,
    producer: FutureProducer,
    serializer: DebeziumSerializer,
    /// Set with `format = "avro"`.
    avro: Option<avro::AvroEncoder>,
    config: KafkaOutputConfig,
    store: OffsetStore,
    pending: VecDeque<Pending>,
    topics: HashSet<String>,
    acked: Option<BinlogPosition>,
    saved_at: Instant,
    records: u64,
}

impl std::fmt::Debug for KafkaOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaOutput").field("name", &self.name).field("pending", &self.pending.len()).finish()
    }
}

impl KafkaOutput {
    pub fn new(config: &MysqlSourceConfig, store: OffsetStore) -> Result<Self> {
        let kafka = config.kafka.clone().ok_or_else(|| SourceError::Config("kafka: not configured".into()))?;
        let avro = match (kafka.format, &kafka.schema_registry) {
            (OutputFormat::Json, _) => None,
            (OutputFormat::Avro, Some(registry)) => Some(avro::AvroEncoder::new(registry::Registry::new(registry)?)),
            (OutputFormat::Avro, None) => {
                return Err(SourceError::Config("kafka.schema_registry.url: required with format = \"avro\"".into()));
            }
        };
        // The Avro form is built from the Connect schema of each record.
        let schemas = kafka.schemas || avro.is_some();
        Ok(KafkaOutput {
            name: config.name.clone(),
            producer: producer(&kafka)?,
            serializer: DebeziumSerializer::with_schemas(&config.name, schemas),
            avro,
            config: kafka,
            store,
            pending: VecDeque::new(),
            topics: HashSet::new(),
            acked: None,
            saved_at: Instant::now(),
            records: 0,
        })
    }

    /// Records sent and acknowledged so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    async fn send(&mut self, record: KafkaRecord, acks: &mut Vec<DeliveryFuture>) -> Result<()> {
        let record = match &mut self.avro {
            Some(encoder) => encoder.encode(record).await?,
            None => record,
        };
        if self.config.create_topics && !self.topics.contains(&record.topic) {
            create_topics(&self.config, std::slice::from_ref(&record.topic)).await?;
            self.topics.insert(record.topic.clone());
        }
        loop {
            let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&record.topic);
            if let Some(k) = &record.key {
                fr = fr.key(k.as_slice());
            }
            if let Some(v) = &record.value {
                fr = fr.payload(v.as_slice());
            }
            match self.producer.send_result(fr) {
                Ok(ack) => {
                    acks.push(ack);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // Local queue full: wait for the oldest item's acknowledgements.
                    if !self.settle_one().await? {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                Err((e, _)) => return Err(kafka_err(e)),
            }
        }
    }

    fn records_of(&mut self, item: &SourceItem) -> Vec<KafkaRecord> {
        let tombstones = self.config.tombstones;
        match item {
            SourceItem::Transaction(tx) => {
                let mut out = Vec::with_capacity(tx.changes.len() + 2);
                if self.config.transaction_topic {
                    out.push(self.serializer.transaction_begin(tx));
                }
                for change in &tx.changes {
                    out.extend(self.serializer.change_records(change, tx.gtid.as_deref(), "false", tombstones));
                }
                if self.config.transaction_topic {
                    out.push(self.serializer.transaction_end(tx));
                }
                out
            }
            SourceItem::SchemaChange(change) if self.config.schema_change_topic => {
                let tables: Vec<_> = change.tables.iter().map(|t| (t.clone(), None)).collect();
                vec![self.serializer.schema_change(change, &tables)]
            }
            _ => Vec::new(),
        }
    }

    /// Sends every record of `item`; its position is stored once it and all
    /// earlier items are acknowledged.
    pub async fn deliver(&mut self, item: &SourceItem) -> Result<()> {
        if let SourceItem::SchemaChange(change) = item {
            self.store.record_schema_change(change).await?;
        }
        let records = self.records_of(item);
        let mut acks = Vec::with_capacity(records.len());
        for record in records {
            self.send(record, &mut acks).await?;
        }
        self.pending.push_back(Pending { acks, position: Some(item.end_position().clone()) });
        while self.pending.len() > MAX_PENDING_ITEMS {
            self.settle_one().await?;
        }
        self.settle_ready().await?;
        if self.saved_at.elapsed() >= SAVE_INTERVAL {
            // Once a second: wait for what is in flight (normally acknowledged
            // already) and store the position, so a quiet stream is checkpointed too.
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends a snapshot chunk (`source.snapshot` = `true`, `last` on the final one).
    pub async fn deliver_snapshot(&mut self, changes: &[SourceChange], last: bool) -> Result<()> {
        let mut acks = Vec::with_capacity(changes.len());
        for (i, change) in changes.iter().enumerate() {
            let marker = if last && i + 1 == changes.len() { "last" } else { "true" };
            for record in self.serializer.change_records(change, None, marker, false) {
                self.send(record, &mut acks).await?;
            }
        }
        self.pending.push_back(Pending { acks, position: None });
        self.flush().await
    }

    /// Waits for the oldest pending item; false when nothing is pending.
    async fn settle_one(&mut self) -> Result<bool> {
        let Some(front) = self.pending.pop_front() else { return Ok(false) };
        let n = front.acks.len() as u64;
        for ack in front.acks {
            match ack.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(kafka_err(e)),
                Err(_) => {
                    return Err(SourceError::Kafka { message: "the producer was dropped".into(), transient: true });
                }
            }
        }
        self.records += n;
        ::metrics::counter!(metrics::KAFKA_RECORDS, "source" => self.name.clone()).increment(n);
        if let Some(p) = front.position {
            self.acked = Some(p);
        }
        Ok(true)
    }

    /// Settles leading items whose records are all acknowledged already.
    async fn settle_ready(&mut self) -> Result<()> {
        // DeliveryFuture has no cheap "is ready" check; settle everything older than
        // the newest few items, which are almost always acknowledged by now.
        while self.pending.len() > 1000 {
            self.settle_one().await?;
        }
        Ok(())
    }

    async fn save_acked(&mut self) -> Result<()> {
        if let Some(p) = &self.acked {
            self.store.save(p).await?;
        }
        self.saved_at = Instant::now();
        Ok(())
    }

    /// Waits for every pending acknowledgement and stores the position.
    pub async fn flush(&mut self) -> Result<()> {
        while self.settle_one().await? {}
        self.save_acked().await
    }

    /// Flushes and closes the producer.
    pub async fn close(mut self) -> Result<()> {
        self.flush().await?;
        self.producer.flush(Duration::from_secs(10)).map_err(kafka_err)?;
        info!(source = %self.name, records = self.records, "kafka output closed");
        Ok(())
    }
}
