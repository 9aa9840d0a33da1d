//! Schema evolution with Avro end to end: Debezium-shaped records serialized
//! by confluent-kafka's `AvroSerializer`, first with writer schema v1, then
//! with v2 (an added optional column `note`, a new schema id), go through
//! tansu and `sluice run` into a real Postgres sink, which creates the table
//! from v1 and adds the new column when v2 records arrive.

mod avro_support;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value as Json, json};
use sluice::cli::demo::generate;
use sluice_testkit::schema_registry::SchemaRegistryDouble;
use sluice_testkit::{kafka_brokers, kafka_topic, pg_url, require, unique_name};

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

#[tokio::test(flavor = "multi_thread")]
async fn avro_newer_writer_schema_adds_a_column_in_postgres() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres", &pg_url()).await;
    let registry = SchemaRegistryDouble::start().await;
    let dir = tempfile::tempdir().unwrap();

    // 600 changes over 60 keys, no deletes; the last 300 written with v2.
    let (json_records, expected) = generate("demo", 600, 60, 0, 99, true);
    let half = json_records.len() / 2;
    let jobs: Vec<Json> = json_records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| {
            let key: Json = serde_json::from_slice(key).unwrap();
            let mut value: Json = serde_json::from_slice(value.as_ref().unwrap()).unwrap();
            if i >= half {
                add_note_column(&mut value, &format!("note-{i}"));
            }
            avro_support::job(
                "unused",
                Some(avro_support::connect_part(&key)),
                Some(avro_support::connect_part(&value)),
            )
        })
        .collect();
    let records = avro_support::serialize_with_python(dir.path(), &registry.url(), &jobs).await;
    let id = |bytes: &[u8]| u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    let (v1, v2) = (id(records[0].1.as_deref().unwrap()), id(records[half].1.as_deref().unwrap()));
    assert_ne!(v1, v2, "v2 has its own schema id");

    let topic = kafka_topic("demo.inventory.customers");
    support::create_topic(&brokers, &topic, 1).await;
    support::produce(&brokers, &topic, &records).await;
    let schema = unique_name("avro_evo");
    let group = format!("g-{topic}");
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[kafka]
brokers = "{brokers}"
group_id = "{group}"
topics = ["{topic}"]
session_timeout = "6s"

[decode]
format = "avro"

[schema_registry]
url = "{registry}"

[batch]
max_wait = "20ms"

[commit]
interval = "200ms"

[dlq]
url = "{pg}"
schema = "{schema}_dlq"

[metrics]
enabled = false

[[sink]]
name = "pg"
kind = "postgres"
url = "{pg}"
schema = "{schema}"
sluice_schema = "{schema}_sluice"
"#,
            registry = registry.url(),
            pg = pg_url(),
        ),
    )
    .unwrap();
    let mut child = support::spawn_sluice(dir.path(), &config, &["run", "--drain"], 0);
    let status = support::wait_exit(&mut child, Duration::from_secs(120));
    assert!(status.success(), "sluice run --drain: {status}\n{}", support::log_tail(dir.path(), 0));

    let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'customers' \
         ORDER BY ordinal_position",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    for column in ["id", "name", "qty", "price", "updated_at", "note"] {
        assert!(columns.iter().any(|c| c == column), "column {column} in {columns:?}");
    }
    let rows: Vec<(i32, String, i32, Option<String>)> =
        sqlx::query_as(&format!("SELECT id, name, qty, note FROM \"{schema}\".customers ORDER BY id"))
            .fetch_all(&pool)
            .await
            .unwrap();
    let want: BTreeMap<i64, _> = expected.iter().filter_map(|(k, v)| v.clone().map(|r| (*k, r))).collect();
    assert_eq!(rows.len(), want.len(), "one row per key");
    // Which keys were last written by a v2 record (the generator's last change per key).
    let mut last_index: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, (key, _)) in json_records.iter().enumerate() {
        let key: Json = serde_json::from_slice(key).unwrap();
        last_index.insert(key["payload"]["id"].as_i64().unwrap(), i);
    }
    let mut with_note = 0;
    for (id, name, qty, note) in &rows {
        let w = &want[&i64::from(*id)];
        assert_eq!((name.as_str(), i64::from(*qty)), (w.name.as_str(), w.qty), "row {id}");
        let last = last_index[&i64::from(*id)];
        if last >= half {
            assert_eq!(note.as_deref(), Some(format!("note-{last}").as_str()), "row {id} written by v2");
            with_note += 1;
        } else {
            assert_eq!(note, &None, "row {id} last written by v1");
        }
    }
    assert!(with_note > 0, "some rows were written with v2");
    assert!(registry.id_lookups(v1) == 1 && registry.id_lookups(v2) == 1, "{:?}", registry.requests());
}
