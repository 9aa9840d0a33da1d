//! Support of the Avro tests: the registry test double, sluice's Avro
//! decoder pointed at it, and `produce_avro.py` — Confluent's own Python
//! client (`confluent-kafka` `AvroSerializer`) as the independent producer.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use apache_avro::types::Value as Avro;
use serde_json::{Value as Json, json};
use sluice::decode::avro::{AvroConverter, AvroRegistry, avro_registry, wire};
use sluice::decode::{Decoder, DecoderOptions};
use sluice::pipeline::retry::Backoff;
use sluice::registry::{HttpRegistry, HttpSettings, OutagePolicy};

/// The venv's Python (confluent-kafka, fastavro); panics, saying how to get it, when missing.
pub fn python() -> PathBuf {
    let python = sluice_testkit::tools_dir().join("venv/bin/python");
    assert!(
        python.is_file(),
        "{} not found: the Avro wire-format tests need the test tools venv with confluent-kafka \
         (scripts/services creates it from scripts/requirements-test.txt)",
        python.display()
    );
    python
}

/// `tests/avro_support/produce_avro.py`.
pub fn producer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/avro_support/produce_avro.py")
}

/// One record for `produce_avro.py`: a part is `None`, Avro from a
/// JsonConverter record (`{"connect": …}`) or raw text (`{"raw": …}`).
pub fn job(topic: &str, key: Option<Json>, value: Option<Json>) -> Json {
    json!({"topic": topic, "key": key, "value": value})
}

/// An Avro part from a JsonConverter record `{schema, payload}`.
pub fn connect_part(record: &Json) -> Json {
    json!({"connect": record})
}

/// A raw part (produced as these bytes).
pub fn raw_part(text: &str) -> Json {
    json!({"raw": text})
}

/// Runs `produce_avro.py` for `jobs` (Confluent's serializer registers the
/// schemas in `registry_url`, the records go to `brokers`); returns its result list.
pub async fn produce_with_python(dir: &Path, registry_url: &str, brokers: &str, jobs: &[Json]) -> Vec<Json> {
    run_python(dir, registry_url, Some(brokers), jobs).await
}

/// Serializes `jobs` with Confluent's serializer (schemas registered in
/// `registry_url`) without producing them: `(key, value)` bytes per job.
pub async fn serialize_with_python(dir: &Path, registry_url: &str, jobs: &[Json]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let results = run_python(dir, registry_url, None, jobs).await;
    let bytes = |v: &Json| v.as_str().map(|h| hex::decode(h).expect("hex from produce_avro.py"));
    results.iter().map(|r| (bytes(&r["key_hex"]).unwrap_or_default(), bytes(&r["value_hex"]))).collect()
}

async fn run_python(dir: &Path, registry_url: &str, brokers: Option<&str>, jobs: &[Json]) -> Vec<Json> {
    let jobs_path = dir.join("jobs.json");
    let out_path = dir.join("produced.json");
    std::fs::write(&jobs_path, serde_json::to_vec(jobs).unwrap()).unwrap();
    let mut command = tokio::process::Command::new(python());
    command.arg(producer_script()).arg("--registry").arg(registry_url);
    if let Some(brokers) = brokers {
        command.arg("--brokers").arg(brokers);
    }
    command.arg("--jobs").arg(&jobs_path).arg("--out").arg(&out_path);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("produce_avro.py timed out")
        .expect("run produce_avro.py");
    assert!(
        output.status.success(),
        "produce_avro.py failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap()
}

/// An outage policy for tests: `window` of patience, fast backoff.
pub fn policy(window: Duration) -> OutagePolicy {
    OutagePolicy {
        unavailable_retry: window,
        backoff: Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(200), max_attempts: None },
    }
}

/// sluice's registry client for `url`.
pub fn registry(url: &str, window: Duration) -> Arc<AvroRegistry> {
    let http = HttpRegistry::new(&HttpSettings {
        url: url.to_string(),
        username: None,
        password: None,
        ca_file: None,
        request_timeout: Duration::from_secs(5),
    })
    .expect("registry client");
    Arc::new(avro_registry(Arc::new(http), 1000, policy(window)))
}

/// A decoder detecting JSON or Avro per key and value, schemas from `url`.
pub fn decoder(url: &str) -> Decoder {
    Decoder::with_converter(
        DecoderOptions::default(),
        Arc::new(AvroConverter::new(Some(registry(url, Duration::ZERO)))),
    )
}

/// A consumed record: `(topic, offset, key, value)`.
pub type Consumed = (String, i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// Reads `count` records from each topic's partition 0, from the beginning:
/// `(topic, offset, key, value)`, in offset order per topic.
pub fn consume_all(brokers: &str, topics: &[String], count: usize) -> Vec<Consumed> {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", sluice_testkit::unique_name("avro_reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        tpl.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let want = topics.len() * count;
    while out.len() < want {
        assert!(std::time::Instant::now() < deadline, "consumed {} of {want} records", out.len());
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.expect("consume");
            out.push((m.topic().to_string(), m.offset(), m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
        }
    }
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out
}

/// Schema id of [`KEY_SCHEMA`] in the fixed-set tests.
pub const KEY_ID: u32 = 7;
/// Schema id of [`VALUE_SCHEMA`] in the fixed-set tests (every byte of the wire id set).
pub const VALUE_ID: u32 = 0x0102_0304;

/// A Debezium-shaped key schema (`shop.inventory.customers`).
pub const KEY_SCHEMA: &str =
    r#"{"type":"record","name":"Key","namespace":"shop.inventory.customers","fields":[{"name":"id","type":"int"}]}"#;

/// A Debezium-shaped MySQL envelope with a decimal column and an array column.
pub const VALUE_SCHEMA: &str = r#"{"type":"record","name":"Envelope","namespace":"shop.inventory.customers",
 "connect.name":"shop.inventory.customers.Envelope","fields":[
 {"name":"before","type":["null",{"type":"record","name":"Value","fields":[
    {"name":"id","type":"int"},{"name":"name","type":"string"},{"name":"qty","type":"long"},
    {"name":"tags","type":{"type":"array","items":"string"}},
    {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2,
      "connect.name":"org.apache.kafka.connect.data.Decimal","connect.parameters":{"scale":"2"}}}]}],"default":null},
 {"name":"after","type":["null","Value"],"default":null},
 {"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.mysql","fields":[
    {"name":"version","type":"string"},{"name":"connector","type":"string"},{"name":"name","type":"string"},
    {"name":"ts_ms","type":"long"},{"name":"db","type":"string"},{"name":"table","type":["null","string"],"default":null},
    {"name":"server_id","type":"long"},{"name":"file","type":"string"},{"name":"pos","type":"long"},{"name":"row","type":"int"}]}},
 {"name":"op","type":"string"},{"name":"ts_ms","type":["null","long"],"default":null}]}"#;

/// A framed key and value written by apache-avro (an encoder independent of sluice's reader).
pub fn record(id: i32, name: &str, tags: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let key_schema = apache_avro::Schema::parse_str(KEY_SCHEMA).unwrap();
    let value_schema = apache_avro::Schema::parse_str(VALUE_SCHEMA).unwrap();
    let key = avro_datum(&key_schema, Avro::Record(vec![("id".into(), Avro::Int(id))])).unwrap();
    let row = Avro::Record(vec![
        ("id".into(), Avro::Int(id)),
        ("name".into(), Avro::String(name.into())),
        ("qty".into(), Avro::Long(i64::from(id) * 3)),
        ("tags".into(), Avro::Array(tags.iter().map(|t| Avro::String((*t).into())).collect())),
        ("price".into(), Avro::Decimal(apache_avro::Decimal::from(vec![0x01, 0xe2, 0x40]))),
    ]);
    let source = Avro::Record(vec![
        ("version".into(), Avro::String("2.7.0.Final".into())),
        ("connector".into(), Avro::String("mysql".into())),
        ("name".into(), Avro::String("shop".into())),
        ("ts_ms".into(), Avro::Long(1_700_000_000_000)),
        ("db".into(), Avro::String("inventory".into())),
        ("table".into(), Avro::Union(1, Box::new(Avro::String("customers".into())))),
        ("server_id".into(), Avro::Long(1)),
        ("file".into(), Avro::String("mysql-bin.000003".into())),
        ("pos".into(), Avro::Long(4096 + i64::from(id))),
        ("row".into(), Avro::Int(0)),
    ]);
    let value = Avro::Record(vec![
        ("before".into(), Avro::Union(0, Box::new(Avro::Null))),
        ("after".into(), Avro::Union(1, Box::new(row))),
        ("source".into(), source),
        ("op".into(), Avro::String("c".into())),
        ("ts_ms".into(), Avro::Union(1, Box::new(Avro::Long(1_700_000_000_123)))),
    ]);
    let value = avro_datum(&value_schema, value).unwrap();
    (wire::frame(KEY_ID, &key), wire::frame(VALUE_ID, &value))
}

/// Encodes one Avro datum with apache-avro (validated against the schema).
fn avro_datum(schema: &apache_avro::Schema, value: Avro) -> apache_avro::AvroResult<Vec<u8>> {
    apache_avro::writer::datum::GenericDatumWriter::builder(schema).build()?.write_value_to_vec(value)
}
