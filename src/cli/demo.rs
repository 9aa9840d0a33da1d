//! `sluice demo generate`: a deterministic generator of Debezium-format change
//! events (MySQL connector shape, JsonConverter with schema) for the quick
//! start, tests and benchmarks.
//!
//! The demo table is `inventory.customers(id INT PK, name VARCHAR, qty INT,
//! price DECIMAL(10,2), updated_at DATETIME(6))`. Events are inserts, updates
//! and deletes of `keys` rows, each followed by a Kafka tombstone for deletes,
//! with binlog positions that grow, so versions are consistent. The expected
//! final table can be written as JSON lines for verification.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value as Json, json};

use super::args::DemoGenerateArgs;

/// One generated row.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRow {
    pub id: i64,
    pub name: String,
    pub qty: i64,
    /// Price in cents (DECIMAL(10,2) unscaled).
    pub price_cents: i64,
    pub updated_at_micros: i64,
}

/// A deterministic xorshift generator (reproducible by seed, no dependency).
#[derive(Debug)]
pub struct DemoRng(u64);

impl DemoRng {
    pub fn new(seed: u64) -> Self {
        DemoRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One generated change: `(key JSON, value JSON or None for a tombstone)`.
pub type DemoRecord = (Vec<u8>, Option<Vec<u8>>);

fn decimal_base64(cents: i64) -> String {
    let bytes = num_bigint_bytes(cents);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Big-endian two's complement, minimal length (what Kafka Connect writes).
fn num_bigint_bytes(v: i64) -> Vec<u8> {
    let full = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (full[start], full[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    full[start..].to_vec()
}

fn row_schema(name: &str) -> Json {
    json!({
        "type": "struct", "optional": true, "name": name,
        "fields": [
            {"type": "int32", "optional": false, "field": "id"},
            {"type": "string", "optional": false, "field": "name"},
            {"type": "int32", "optional": false, "field": "qty"},
            {"type": "bytes", "optional": false, "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
             "parameters": {"scale": "2", "connect.decimal.precision": "10"}, "field": "price"},
            {"type": "int64", "optional": false, "name": "io.debezium.time.MicroTimestamp", "version": 1, "field": "updated_at"}
        ]
    })
}

fn value_schema(server: &str) -> Json {
    json!({
        "type": "struct", "optional": false, "name": format!("{server}.inventory.customers.Envelope"),
        "fields": [
            row_field(server, "before"),
            row_field(server, "after"),
            {"type": "struct", "optional": false, "name": "io.debezium.connector.mysql.Source", "field": "source", "fields": [
                {"type": "string", "optional": false, "field": "version"},
                {"type": "string", "optional": false, "field": "connector"},
                {"type": "string", "optional": false, "field": "name"},
                {"type": "int64", "optional": false, "field": "ts_ms"},
                {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1, "parameters": {"allowed": "true,last,false,incremental"}, "default": "false", "field": "snapshot"},
                {"type": "string", "optional": false, "field": "db"},
                {"type": "string", "optional": true, "field": "table"},
                {"type": "int64", "optional": false, "field": "server_id"},
                {"type": "string", "optional": true, "field": "gtid"},
                {"type": "string", "optional": false, "field": "file"},
                {"type": "int64", "optional": false, "field": "pos"},
                {"type": "int32", "optional": false, "field": "row"}
            ]},
            {"type": "string", "optional": false, "field": "op"},
            {"type": "int64", "optional": true, "field": "ts_ms"}
        ]
    })
}

/// The `before`/`after` field: the row schema plus its field name.
fn row_field(server: &str, field: &str) -> Json {
    let mut schema = row_schema(&format!("{server}.inventory.customers.Value"));
    schema["field"] = Json::String(field.to_string());
    schema
}

fn row_json(r: &DemoRow) -> Json {
    json!({
        "id": r.id, "name": r.name, "qty": r.qty,
        "price": decimal_base64(r.price_cents), "updated_at": r.updated_at_micros
    })
}

fn key_json(server: &str, id: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schema": {"type": "struct", "optional": false, "name": format!("{server}.inventory.customers.Key"),
                   "fields": [{"type": "int32", "optional": false, "field": "id"}]},
        "payload": {"id": id}
    }))
    .expect("serialize key")
}

/// Generates `events` changes over `keys` rows. Returns the records in order
/// and the expected final table (`None` = deleted / never existed).
/// With `with_schema = false` values are written as JsonConverter with
/// `schemas.enable=false` (payload only, about a tenth of the size).
pub fn generate(
    server: &str,
    events: u64,
    keys: u64,
    delete_percent: u8,
    seed: u64,
    with_schema: bool,
) -> (Vec<DemoRecord>, BTreeMap<i64, Option<DemoRow>>) {
    let mut rng = DemoRng::new(seed);
    let mut table: BTreeMap<i64, Option<DemoRow>> = BTreeMap::new();
    let mut records = Vec::with_capacity(events as usize);
    let schema = value_schema(server);
    let base_ts_ms: i64 = 1_750_000_000_000;
    let mut pos: i64 = 4;
    for n in 0..events {
        let id = rng.below(keys) as i64 + 1;
        let ts_ms = base_ts_ms + n as i64;
        pos += 200 + rng.below(100) as i64;
        let before = table.get(&id).cloned().flatten();
        let (op, after) = match &before {
            None => {
                let row = DemoRow {
                    id,
                    name: format!("customer-{id}-{n}"),
                    qty: rng.below(100) as i64,
                    price_cents: rng.below(1_000_000) as i64 - 10_000,
                    updated_at_micros: ts_ms * 1000 + (n % 1000) as i64,
                };
                ("c", Some(row))
            }
            Some(_) if rng.below(100) < u64::from(delete_percent) => ("d", None),
            Some(old) => {
                let mut row = old.clone();
                row.name = format!("customer-{id}-{n}");
                row.qty += 1;
                row.price_cents += rng.below(500) as i64 - 250;
                row.updated_at_micros = ts_ms * 1000 + (n % 1000) as i64;
                ("u", Some(row))
            }
        };
        let payload = json!({
            "before": before.as_ref().map(row_json),
            "after": after.as_ref().map(row_json),
            "source": {
                "version": "2.7.0.Final", "connector": "mysql", "name": server, "ts_ms": ts_ms,
                "snapshot": "false", "db": "inventory", "table": "customers", "server_id": 1,
                "gtid": null, "file": "mysql-bin.000001", "pos": pos, "row": 0
            },
            "op": op,
            "ts_ms": ts_ms + 5
        });
        let (key, value) = if with_schema {
            (key_json(server, id), serde_json::to_vec(&json!({"schema": schema, "payload": payload})))
        } else {
            (serde_json::to_vec(&json!({"id": id})).expect("serialize key"), serde_json::to_vec(&payload))
        };
        let value = value.expect("serialize value");
        records.push((key.clone(), Some(value)));
        if op == "d" {
            records.push((key, None));
        }
        table.insert(id, after);
    }
    (records, table)
}

/// Creates `topic` with `partitions` partitions unless it exists.
pub async fn ensure_topic(brokers: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().context("creating the Kafka admin client")?;
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .with_context(|| format!("creating topic {topic} at {brokers}"))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}

/// Entry point of `sluice demo generate`.
pub async fn run(args: &DemoGenerateArgs) -> anyhow::Result<std::process::ExitCode> {
    ensure_topic(&args.brokers, &args.topic, args.partitions).await?;
    let server = args.topic.split('.').next().unwrap_or("demo").to_string();
    let (records, table) = generate(&server, args.events, args.keys, args.delete_percent, args.seed, !args.no_schema);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "120000")
        .create()
        .context("creating the Kafka producer")?;
    let started = std::time::Instant::now();
    let mut pending = Vec::with_capacity(4096);
    for (key, value) in &records {
        let mut record = FutureRecord::to(&args.topic).key(key.as_slice());
        if let Some(v) = value {
            record = record.payload(v.as_slice());
        }
        let delivery = producer.send_result(record).map_err(|(e, _)| anyhow::anyhow!("queueing a record: {e}"))?;
        pending.push(delivery);
        if pending.len() >= 4096 {
            for d in pending.drain(..) {
                d.await.context("producer dropped")?.map_err(|(e, _)| anyhow::anyhow!("delivery failed: {e}"))?;
            }
        }
    }
    for d in pending.drain(..) {
        d.await.context("producer dropped")?.map_err(|(e, _)| anyhow::anyhow!("delivery failed: {e}"))?;
    }
    let _ = tokio::task::spawn_blocking(move || {
        use rdkafka::producer::Producer;
        producer.flush(Duration::from_secs(30))
    })
    .await;
    if let Some(path) = &args.expect {
        let mut f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        for (id, row) in &table {
            let line = match row {
                Some(r) => {
                    json!({"id": id, "name": r.name, "qty": r.qty, "price_cents": r.price_cents, "updated_at_micros": r.updated_at_micros})
                }
                None => json!({"id": id, "deleted": true}),
            };
            writeln!(f, "{line}")?;
        }
    }
    let live = table.values().filter(|r| r.is_some()).count();
    eprintln!(
        "sluice demo: produced {} records ({} change events) to {} in {:.1}s; final table: {} live rows of {} keys",
        records.len(),
        args.events,
        args.topic,
        started.elapsed().as_secs_f64(),
        live,
        table.len()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_twos_complement() {
        assert_eq!(num_bigint_bytes(1_234_567), vec![0x12, 0xd6, 0x87]);
        assert_eq!(num_bigint_bytes(-1), vec![0xff]);
        assert_eq!(num_bigint_bytes(128), vec![0x00, 0x80]);
        assert_eq!(num_bigint_bytes(-129), vec![0xff, 0x7f]);
        assert_eq!(num_bigint_bytes(0), vec![0x00]);
    }

    #[test]
    fn deterministic_and_consistent() {
        let (a, ta) = generate("demo", 500, 50, 10, 7, true);
        let (b, tb) = generate("demo", 500, 50, 10, 7, true);
        let (c, _) = generate("demo", 500, 50, 10, 7, false);
        assert_eq!(a.len(), c.len());
        assert!(c[0].1.as_ref().unwrap().len() * 3 < a[0].1.as_ref().unwrap().len());
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        assert!(ta.values().any(Option::is_none), "some deletes");
        assert!(a.iter().any(|(_, v)| v.is_none()), "tombstones follow deletes");
    }
}
