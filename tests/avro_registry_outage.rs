//! Schema Registry outages end to end: real `sluice run` processes consume
//! Confluent Avro (serialized by confluent-kafka's `AvroSerializer` against
//! the registry test double) from a real Kafka-protocol broker (tansu), apply
//! to the journaled memory sink and dead-letter into a real Postgres DLQ.
//!
//! * Registry down for 30 s mid-stream, every schema id cached: records keep
//!   flowing (everything is committed while the registry is still down), no
//!   dead letter.
//! * Registry down and a record with a new schema id: retried with backoff for
//!   `unavailable_retry`, then dead-lettered with class `schema_unavailable`
//!   (records with cached ids keep flowing meanwhile); once the registry is
//!   back, `sluice dlq replay` applies them.
//!
//! `outage_*` tests run one at a time (.config/nextest.toml).

mod avro_support;
mod dlq_support;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use sluice::cli::demo::generate;
use sluice::dlq::{EntryFilter, PostgresDeadLetters};
use sluice_sink_api::{Row, Value};
use sluice_testkit::schema_registry::SchemaRegistryDouble;
use sluice_testkit::{kafka_brokers, kafka_topic, require, unique_name};

type Records = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// A pipeline config for `topic` reading schemas from `registry_url`.
fn config(dir: &Path, topic: &str, group: &str, schema: &str, registry_url: &str, retry: &str) -> PathBuf {
    let extra = format!(
        "\n[schema_registry]\nurl = \"{registry_url}\"\nunavailable_retry = \"{retry}\"\nrequest_timeout = \"2s\"\n"
    );
    let path = support::write_config(dir, &kafka_brokers(), topic, group, &extra);
    let text =
        std::fs::read_to_string(&path).unwrap().replace("schema = \"sluice_it\"", &format!("schema = \"{schema}\""));
    std::fs::write(&path, text).unwrap();
    path
}

/// The JsonConverter demo records as Confluent Avro (keys and values), schemas
/// registered in `registry`. Values at `v2` indexes get a newer writer schema:
/// an added optional column `note`.
async fn to_avro(
    dir: &Path,
    registry: &SchemaRegistryDouble,
    json_records: &Records,
    v2: impl Fn(usize) -> bool,
) -> Records {
    let jobs: Vec<Json> = json_records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| {
            let key: Json = serde_json::from_slice(key).unwrap();
            let value = value.as_ref().map(|v| {
                let mut v: Json = serde_json::from_slice(v).unwrap();
                if v2(i) {
                    add_note_column(&mut v, &format!("note-{i}"));
                }
                avro_support::connect_part(&v)
            });
            avro_support::job("unused", Some(avro_support::connect_part(&key)), value)
        })
        .collect();
    avro_support::serialize_with_python(dir, &registry.url(), &jobs).await
}

/// Adds the optional column `note` to the row schemas and row images of a JsonConverter envelope.
fn add_note_column(envelope: &mut Json, note: &str) {
    for field in envelope["schema"]["fields"].as_array_mut().unwrap() {
        if field["field"] == "before" || field["field"] == "after" {
            field["fields"].as_array_mut().unwrap().push(json!({"type": "string", "optional": true, "field": "note"}));
        }
    }
    for image in ["before", "after"] {
        if let Some(row) = envelope["payload"][image].as_object_mut() {
            row.insert("note".into(), json!(note));
        }
    }
}

fn schema_id(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]])
}

async fn wait_committed(brokers: &str, group: &str, topic: &str, end: i64, within: Duration, dir: &Path) {
    let deadline = Instant::now() + within;
    while support::committed(brokers, group, topic, 1)[0] < end {
        assert!(
            Instant::now() < deadline,
            "offset {end} not committed within {within:?} (committed {})\n{}",
            support::committed(brokers, group, topic, 1)[0],
            support::log_tail(dir, 0)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn outage_registry_down_30s_with_cached_ids_no_pause_no_dlq() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres (DLQ)", &sluice_testkit::pg_url()).await;
    let registry = SchemaRegistryDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (json_records, expected) = generate("demo", 4_000, 400, 10, 4242, true);
    let records = to_avro(dir.path(), &registry, &json_records, |_| false).await;
    assert!(records.iter().all(|(k, v)| k[0] == 0 && v.as_ref().is_none_or(|v| v[0] == 0)), "all Avro");

    let topic = kafka_topic("demo.inventory.customers");
    support::create_topic(&brokers, &topic, 1).await;
    let half = records.len() / 2;
    support::produce(&brokers, &topic, &records[..half]).await;
    let group = format!("g-{topic}");
    let schema = unique_name("avro_outage");
    let cfg = config(dir.path(), &topic, &group, &schema, &registry.url(), "60s");
    let mut child = support::spawn_sluice(dir.path(), &cfg, &["run"], 0);
    wait_committed(&brokers, &group, &topic, half as i64, Duration::from_secs(90), dir.path()).await;
    let lookups_before = registry.requests().len();

    // The registry goes away for 30 s; the second half uses the same (cached) schema ids.
    registry.refuse_connections();
    let down_at = Instant::now();
    support::produce(&brokers, &topic, &records[half..]).await;
    wait_committed(&brokers, &group, &topic, records.len() as i64, Duration::from_secs(25), dir.path()).await;
    let caught_up = down_at.elapsed();
    assert!(caught_up < Duration::from_secs(30), "the second half was committed while the registry was down");
    while down_at.elapsed() < Duration::from_secs(30) {
        assert!(child.try_wait().unwrap().is_none(), "sluice keeps running\n{}", support::log_tail(dir.path(), 0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    registry.accept_connections().await;

    let status = support::terminate(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status}\n{}", support::log_tail(dir.path(), 0));
    assert_eq!(support::mismatches(&support::journal(dir.path()), &expected), Vec::<String>::new(), "nothing lost");
    let store = PostgresDeadLetters::connect_lazy(&sluice_testkit::pg_url(), None, &schema).unwrap();
    assert_eq!(
        store.count(&EntryFilter { group: Some(group.clone()), ..EntryFilter::default() }).await.unwrap(),
        0,
        "no dead letter"
    );
    assert_eq!(registry.requests().len(), lookups_before, "no registry request after the first half");
    let log = std::fs::read_to_string(dir.path().join("sluice-0.log")).unwrap();
    assert!(!log.contains("schema registry unavailable"), "cached ids never touch the registry\n{log}");
    eprintln!("second half committed {caught_up:?} into the 30 s outage");
}

#[tokio::test(flavor = "multi_thread")]
async fn outage_registry_down_new_schema_id_retried_then_dead_lettered_then_replayed() {
    const RETRY: Duration = Duration::from_secs(5);
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres (DLQ)", &sluice_testkit::pg_url()).await;
    let registry = SchemaRegistryDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (json_records, expected) = generate("demo", 3_000, 300, 10, 777, true);
    let half = json_records.len() / 2;
    // In the second half, every 4th value is written with a newer schema (new id).
    let is_v2 = |i: usize| i >= half && i.is_multiple_of(4);
    let records = to_avro(dir.path(), &registry, &json_records, is_v2).await;
    let v2_offsets: Vec<i64> =
        (0..records.len()).filter(|i| is_v2(*i) && records[*i].1.is_some()).map(|i| i as i64).collect();
    let v1_id = schema_id(records[0].1.as_deref().unwrap());
    let v2_id = schema_id(records[v2_offsets[0] as usize].1.as_deref().unwrap());
    assert_ne!(v1_id, v2_id, "the newer writer schema has its own id");

    let topic = kafka_topic("demo.inventory.customers");
    support::create_topic(&brokers, &topic, 1).await;
    support::produce(&brokers, &topic, &records[..half]).await;
    let group = format!("g-{topic}");
    let schema = unique_name("avro_outage_new");
    let cfg = config(dir.path(), &topic, &group, &schema, &registry.url(), &format!("{}s", RETRY.as_secs()));
    let mut child = support::spawn_sluice(dir.path(), &cfg, &["run"], 0);
    wait_committed(&brokers, &group, &topic, half as i64, Duration::from_secs(90), dir.path()).await;
    assert_eq!(registry.id_lookups(v2_id), 0, "the newer schema was never fetched");

    // Registry down; the second half arrives with the new id mixed in.
    registry.refuse_connections();
    let down_at = Instant::now();
    support::produce(&brokers, &topic, &records[half..]).await;
    wait_committed(&brokers, &group, &topic, records.len() as i64, Duration::from_secs(60), dir.path()).await;
    let done = down_at.elapsed();
    assert!(done >= RETRY, "the unknown id was retried for {RETRY:?} before dead-lettering (done after {done:?})");
    let log = std::fs::read_to_string(dir.path().join("sluice-0.log")).unwrap();
    assert!(
        log.contains("schema registry unavailable; retrying"),
        "retries are logged\n{}",
        support::log_tail(dir.path(), 0)
    );
    let status = support::terminate(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status}\n{}", support::log_tail(dir.path(), 0));

    // Exactly the new-id records are parked, byte for byte, as schema_unavailable.
    let store = PostgresDeadLetters::connect_lazy(&sluice_testkit::pg_url(), None, &schema).unwrap();
    let filter = EntryFilter { group: Some(group.clone()), ..EntryFilter::default() };
    let entries = store.page_in_record_order(&filter, None, 100_000).await.unwrap();
    let parked: Vec<i64> = entries.iter().map(|e| e.offset).collect();
    assert_eq!(parked, v2_offsets, "the records with the new schema id, and only those, are parked");
    for e in &entries {
        assert_eq!((e.class.as_str(), e.sink.as_str()), ("schema_unavailable", "*"), "{e:?}");
        assert_eq!(e.raw_value.as_deref(), records[e.offset as usize].1.as_deref(), "raw value kept");
    }
    // The cached-id records of the second half were applied meanwhile.
    let sink = support::journal(dir.path());
    let last_v1 = (half..records.len()).rev().find(|i| !is_v2(*i) && records[*i].1.is_some()).unwrap();
    let last_v1_key: Json = serde_json::from_slice(&json_records[last_v1].0).unwrap();
    let id = last_v1_key["payload"]["id"].as_i64().unwrap();
    assert!(sink.key_state(&support::demo_table(), &Row::new().with("id", id)).is_some(), "key {id} applied");

    // Registry back: replay applies them; the target converges on the generator's table.
    registry.accept_connections().await;
    let out = dlq_support::sluice(&cfg, &["dlq", "replay", "--all"]);
    dlq_support::expect_code(&out, 0);
    assert_eq!(store.depth(Some(&group)).await.unwrap().unresolved, 0, "every entry resolved");
    let sink = support::journal(dir.path());
    assert_eq!(support::mismatches(&sink, &expected), Vec::<String>::new(), "replay completed the table");
    let with_note = expected
        .iter()
        .filter_map(|(id, row)| row.as_ref().map(|_| *id))
        .filter_map(|id| sink.get(&support::demo_table(), &Row::new().with("id", id)))
        .filter(|row| matches!(row.get("note"), Some(Value::Text(n)) if n.starts_with("note-")))
        .count();
    assert!(with_note > 0, "rows written with the newer schema carry the new column");
    assert!(registry.id_lookups(v2_id) >= 1, "the replay fetched the new schema");
}
