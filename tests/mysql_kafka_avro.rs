//! The Avro output of the MySQL source's Kafka mode, end to end against the
//! machine's MariaDB, tansu and Postgres, with the Schema Registry test double
//! (`sluice_testkit::schema_registry`).
//!
//! The same database is written twice: by a source with `format = "json"`
//! (JsonConverter) and by a source with `format = "avro"` (schemas registered
//! in the double) — a snapshot (including a table of every column kind), then
//! a live workload of multi-statement transactions with an `ALTER TABLE … ADD
//! COLUMN`. Then:
//!
//! * (a) every record of the Avro topics (row changes, tombstones, transaction
//!   markers, schema changes) is Confluent-framed and decodes, with sluice's
//!   own decoder, to the same result as its JSON twin (values, ops, versions,
//!   transactions, table schemas);
//! * (b) `sluice run --drain` reads the Avro topics into Postgres (schemas from
//!   the registry, transactional apply) and every table equals its source;
//! * (c) confluent-kafka's `AvroDeserializer` (Python, nothing of sluice)
//!   decodes a record fetched from an Avro topic to its JSON twin's payload.

mod avro_support;
mod mysql_direct_support;
mod mysql_kafka_support;
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use mysql_async::prelude::Queryable;
use mysql_direct_support::{Env, Workload};
use serde_json::Value as Json;
use sluice::decode::{Decoded, RawRecord, decoded_to_canonical_json};
use sluice_testkit::schema_registry::SchemaRegistryDouble;

/// The source configuration of `env` as server `name`, JSON or (with a registry URL) Avro.
fn write_source_config(env: &Env, name: &str, brokers: &str, registry: Option<&str>) {
    let format = match registry {
        Some(url) => format!("format = \"avro\"\n\n[source.mysql.kafka.schema_registry]\nurl = \"{url}\"\n"),
        None => "format = \"json\"\n".to_string(),
    };
    mysql_kafka_support::write_kafka_source_config(env, name, brokers, 100, &format);
}

/// The consumer pipeline reading the Avro topics of the four workload tables into `env`'s Postgres schema.
fn write_consumer_config(env: &Env, name: &str, brokers: &str, registry: &str) -> PathBuf {
    let regex = format!("^{name}\\.{}\\.(accounts|items|ledger|orders)$", env.db);
    let sections = format!("\n[schema_registry]\nurl = \"{registry}\"\n");
    mysql_kafka_support::consumer_config(env, name, brokers, &format!("{name}-pg"), &regex, &sections, "consumer.toml")
}

/// A table of every column kind, filled before the snapshot (its rows reach Kafka as snapshot reads).
async fn create_types_table(env: &Env) {
    let mut conn = env.mysql.get_conn().await.unwrap();
    conn.query_drop(format!(
        "CREATE TABLE `{}`.kinds (id INT PRIMARY KEY, t TINYINT, s SMALLINT UNSIGNED, m MEDIUMINT, \
         b BIGINT UNSIGNED, f FLOAT, d DOUBLE, dec0 DECIMAL(20,0), dec6 DECIMAL(30,6), dt DATE, tm TIME(3), \
         dtm DATETIME(2), ts TIMESTAMP(6) NULL, y YEAR, bin VARBINARY(8), bl BLOB, e ENUM('a','b c'), \
         st SET('x','y','z'), b1 BIT(1), b12 BIT(12), j JSON, g GEOMETRY, txt TEXT NOT NULL DEFAULT 'dflt')",
        env.db
    ))
    .await
    .unwrap();
    let rows = [
        "(1, -128, 65535, -8388608, 18446744073709551615, 1.5, -2.25e300, 12345678901234567890, -123456789012.345678, \
          '2024-02-29', '-838:59:58.999', '1999-12-31 23:59:59.99', '2038-01-19 03:14:07.123456', 2155, \
          x'00ff10', x'deadbeef', 'b c', 'x,z', b'1', b'101010101010', '{\"k\": [1, 2, null]}', \
          ST_GeomFromText('POINT(1 2)'), 'text é ✓')",
        "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
          NULL, NULL, NULL, NULL, DEFAULT)",
        "(3, 0, 0, 0, 0, 0, 0, 0, 0.000001, '1970-01-01', '00:00:00', '1970-01-01 00:00:00', NULL, 1901, x'', x'', \
          'a', '', b'0', b'0', '[]', ST_GeomFromText('LINESTRING(0 0, 1 1)'), '')",
    ];
    conn.query_drop(format!("INSERT INTO `{}`.kinds VALUES {}", env.db, rows.join(","))).await.unwrap();
}

type Record = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record of partition 0 of `topic` (up to its high watermark).
fn read_topic(brokers: &str, topic: &str) -> Vec<Record> {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", sluice_testkit::unique_name("avro_out_reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let (_, high) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(30)).expect("watermarks");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while out.last().map(|(o, _, _): &Record| *o + 1 < high).unwrap_or(high > 0) {
        assert!(std::time::Instant::now() < deadline, "{topic}: read {} of {high} records", out.len());
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.expect("consume");
            out.push((m.offset(), m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
        }
    }
    out
}

/// The decoded record without its topic (the twins differ only there); changes
/// also carry their table schema.
async fn decode_all(decoder: &sluice::decode::Decoder, topic: &str, records: &[Record]) -> Vec<Json> {
    let mut out = Vec::with_capacity(records.len());
    for (offset, key, value) in records {
        let raw = RawRecord::new(topic, 0, *offset, key.as_deref(), value.as_deref());
        let decoded =
            decoder.decode_resolving(&raw).await.unwrap_or_else(|e| panic!("{topic}@{offset} does not decode: {e}"));
        let mut canonical = decoded_to_canonical_json(&decoded);
        if let Some(obj) = canonical.as_object_mut() {
            obj.remove("topic");
            if let Decoded::Change(e) = &decoded {
                obj.insert("schema".into(), Json::String(format!("{:?}", e.schema)));
            }
        }
        out.push(canonical);
    }
    out
}

fn is_framed(part: &Option<Vec<u8>>) -> bool {
    part.as_ref().is_none_or(|b| b.len() > 5 && b[0] == 0)
}

/// A JsonConverter payload with Decimals as their text, bytes as base64
/// (what `consume_avro.py` prints for the Avro record).
fn plain(schema: &Json, payload: &Json) -> Json {
    if payload.is_null() {
        return Json::Null;
    }
    match schema["type"].as_str() {
        Some("struct") => {
            let mut out = serde_json::Map::new();
            for f in schema["fields"].as_array().unwrap() {
                let name = f["field"].as_str().unwrap();
                out.insert(name.to_string(), plain(f, &payload[name]));
            }
            Json::Object(out)
        }
        Some("array") => Json::Array(payload.as_array().unwrap().iter().map(|v| plain(&schema["items"], v)).collect()),
        Some("bytes") if schema["name"] == "org.apache.kafka.connect.data.Decimal" => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(payload.as_str().unwrap()).unwrap();
            let scale: u32 = schema["parameters"]["scale"].as_str().unwrap().parse().unwrap();
            Json::String(sluice_sink_api::Decimal::from_be_twos_complement(&bytes, scale).to_string())
        }
        _ => payload.clone(),
    }
}

/// Runs `consume_avro.py` on one record; its JSON result.
async fn consume_with_python(dir: &std::path::Path, brokers: &str, registry: &str, topic: &str, offset: i64) -> Json {
    let out = dir.join("consumed.json");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/avro_support/consume_avro.py");
    let output = tokio::process::Command::new(avro_support::python())
        .arg(script)
        .args(["--brokers", brokers, "--registry", registry, "--topic", topic, "--offset", &offset.to_string()])
        .arg("--out")
        .arg(&out)
        .output()
        .await
        .expect("run consume_avro.py");
    assert!(
        output.status.success(),
        "consume_avro.py failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_output_decodes_like_json_and_reads_back_into_postgres() {
    let brokers = sluice_testkit::kafka_brokers();
    sluice_testkit::require("tansu (Kafka protocol broker)", &brokers).await;
    avro_support::python();
    let env = Env::new(300, 200, 100).await;
    create_types_table(&env).await;
    let registry = SchemaRegistryDouble::start().await;
    let json_name = format!("{}_json", env.name);
    let avro_name = format!("{}_avro", env.name);

    // 1. the snapshot, written by both sources (the binlog moves in between, as other tests
    //    may move it too: snapshot reads differ in their version only)
    write_source_config(&env, &json_name, &brokers, None);
    env.drain(1).await;
    let mut conn = env.mysql.get_conn().await.unwrap();
    let other = format!("{}_other", env.db);
    for sql in [
        format!("CREATE DATABASE `{other}`"),
        format!("CREATE TABLE `{other}`.t (id INT PRIMARY KEY)"),
        format!("INSERT INTO `{other}`.t VALUES (1)"),
        format!("DROP DATABASE `{other}`"),
    ] {
        conn.query_drop(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    drop(conn);
    write_source_config(&env, &avro_name, &brokers, Some(&registry.url()));
    env.drain(2).await;
    assert!(env.log(2).contains("Avro schema registered"), "{}", env.log(2));

    // 2. a live workload with an ADD COLUMN, streamed by both
    let workload = Workload::start(&env, 15);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let txs = workload.finish().await;
    assert!(txs > 20, "the workload ran only {txs} transactions");
    write_source_config(&env, &json_name, &brokers, None);
    env.drain(3).await;
    write_source_config(&env, &avro_name, &brokers, Some(&registry.url()));
    env.drain(4).await;
    // Registration happens per table version, not per record.
    let posts = registry.requests().iter().filter(|r| r.starts_with("POST")).count();
    assert!(posts < 40, "{posts} registrations: {:#?}", registry.requests());

    // The registered value schema of the table of every kind (fetched as any client would).
    let latest = format!("{}/subjects/{avro_name}.{}.kinds-value/versions/latest", registry.url(), env.db);
    let answer: Json = reqwest::get(&latest).await.unwrap().json().await.unwrap();
    let schema = answer["schema"].as_str().unwrap_or_else(|| panic!("{answer}"));
    for expected in [
        r#""connect.type":"int16""#,
        r#""logicalType":"decimal","precision":20,"scale":0"#,
        r#""name":"Geometry","namespace":"io.debezium.data.geometry""#,
        r#""connect.name":"io.debezium.time.MicroTime""#,
        r#""default":"false""#,
    ] {
        assert!(schema.contains(expected), "{expected} not in {schema}");
    }
    apache_avro::Schema::parse_str(schema).expect("the registered schema is valid Avro");

    // 3. (a) each Avro topic decodes like its JSON twin
    let decoder = avro_support::decoder(&registry.url());
    let suffixes: Vec<String> = ["accounts", "items", "ledger", "orders", "kinds"]
        .iter()
        .map(|t| format!(".{}.{t}", env.db))
        .chain([".transaction".to_string(), String::new()])
        .collect();
    let mut ops: BTreeMap<String, usize> = BTreeMap::new();
    for suffix in &suffixes {
        let (json_topic, avro_topic) = (format!("{json_name}{suffix}"), format!("{avro_name}{suffix}"));
        let json_records = read_topic(&brokers, &json_topic);
        let avro_records = read_topic(&brokers, &avro_topic);
        assert!(!json_records.is_empty(), "{json_topic} is empty");
        assert_eq!(avro_records.len(), json_records.len(), "{avro_topic} vs {json_topic}");
        for (offset, key, value) in &avro_records {
            assert!(is_framed(key) && is_framed(value), "{avro_topic}@{offset} is not Confluent-framed Avro");
        }
        let tombstones = avro_records.iter().filter(|r| r.2.is_none()).count();
        assert_eq!(tombstones, json_records.iter().filter(|r| r.2.is_none()).count(), "{avro_topic}");
        let from_json = decode_all(&decoder, &json_topic, &json_records).await;
        let from_avro = decode_all(&decoder, &avro_topic, &avro_records).await;
        for (j, a) in from_json.iter().zip(&from_avro) {
            let (mut j, mut a) = (j.clone(), a.clone());
            if a["op"] == "r" {
                // A snapshot read's version is the binlog position of its snapshot: the two
                // snapshots ran one after the other on a server other tests may write to.
                assert_eq!(a["version"]["scheme"], j["version"]["scheme"]);
                for v in [&mut a, &mut j] {
                    v.as_object_mut().map(|o| o.remove("version"));
                }
            }
            assert_eq!(a, j, "{avro_topic}: the Avro record decodes differently from its JSON twin");
            if let Some(op) = a["op"].as_str() {
                *ops.entry(op.to_string()).or_default() += 1;
            }
        }
    }
    for op in ["r", "c", "u", "d"] {
        assert!(ops.get(op).copied().unwrap_or(0) > 0, "no {op:?} events compared: {ops:?}");
    }
    eprintln!("compared events by op: {ops:?}");

    // `sluice decode` prints the same event for an Avro record (the table of every kind, row 1) as for its JSON twin.
    let kinds = format!(".{}.kinds", env.db);
    let decode_cli = |topic: String, record: Record, avro: bool| {
        let dir = env.dir.path().to_path_buf();
        let url = registry.url();
        async move {
            let tag = if avro { "avro" } else { "json" };
            let (key_file, value_file) = (dir.join(format!("key.{tag}")), dir.join(format!("value.{tag}")));
            std::fs::write(&key_file, record.1.unwrap()).unwrap();
            std::fs::write(&value_file, record.2.unwrap()).unwrap();
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
                .args(["decode", "--registry", &url, "--topic", &topic, "--key"])
                .arg(&key_file)
                .arg(&value_file)
                .output()
                .await
                .expect("run sluice decode");
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(out.status.success(), "sluice decode: {text}\n{}", String::from_utf8_lossy(&out.stderr));
            let mut event: Json = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
            if let Some(obj) = event.as_object_mut() {
                // a snapshot read: its version is its snapshot's binlog position (see above)
                obj.remove("topic");
                obj.remove("version");
            }
            event
        }
    };
    let first = |topic: &str| read_topic(&brokers, topic).into_iter().next().expect("a record");
    let (json_topic, avro_topic) = (format!("{json_name}{kinds}"), format!("{avro_name}{kinds}"));
    let from_json = decode_cli(json_topic.clone(), first(&json_topic), false).await;
    let from_avro = decode_cli(avro_topic.clone(), first(&avro_topic), true).await;
    assert_eq!(from_avro, from_json, "sluice decode of the Avro record differs from its JSON twin");
    assert!(from_avro.to_string().contains("18446744073709551615"), "{from_avro:#}");

    // 4. (c) an independent client decodes an updated items row (after the ADD COLUMN) like its JSON twin
    let items = format!(".{}.items", env.db);
    let json_items = read_topic(&brokers, &format!("{json_name}{items}"));
    let (offset, twin) = json_items
        .iter()
        .rev()
        .filter_map(|(o, _, v)| v.as_ref().map(|v| (*o, serde_json::from_slice::<Json>(v).unwrap())))
        .find(|(_, v)| v["payload"]["op"] == "u")
        .expect("an update of items");
    let key_twin: Json =
        serde_json::from_slice(json_items.iter().find(|r| r.0 == offset).unwrap().1.as_ref().unwrap()).unwrap();
    let python =
        consume_with_python(env.dir.path(), &brokers, &registry.url(), &format!("{avro_name}{items}"), offset).await;
    assert_eq!(python["key"], key_twin["payload"], "{python:#}");
    let value = &python["value"];
    let expected = plain(&twin["schema"], &twin["payload"]);
    for field in ["before", "after", "op", "transaction"] {
        assert_eq!(value[field], expected[field], "{field}: {python:#}\n{expected:#}");
    }
    assert_eq!(value["source"]["name"], avro_name, "{python:#}");
    for field in ["db", "table", "file", "pos", "row", "server_id", "gtid", "snapshot", "ts_ms"] {
        assert_eq!(value["source"][field], expected["source"][field], "source.{field}: {python:#}");
    }
    assert!(python["value_schema_id"].as_u64().is_some_and(|id| id > 0));

    // 5. (b) the Avro topics into Postgres through `sluice run --drain`
    let consumer = write_consumer_config(&env, &avro_name, &brokers, &registry.url());
    let dir = env.dir.path().to_path_buf();
    let log = tokio::task::spawn_blocking(move || {
        let mut child = support::spawn_sluice(&dir, &consumer, &["run", "--drain"], 1);
        let status = support::wait_exit(&mut child, Duration::from_secs(300));
        let log = std::fs::read_to_string(dir.join("sluice-1.log")).unwrap_or_default();
        assert!(status.success(), "sluice run --drain failed ({status}):\n{log}");
        log
    })
    .await
    .unwrap();
    let mismatches = env.mismatches().await;
    assert!(mismatches.is_empty(), "{mismatches:#?}\n{log}");
    assert!(log.contains("transactional apply"), "the transaction topic was not used:\n{log}");
    let letters = mysql_kafka_support::dead_letters(&env, &format!("{avro_name}-pg")).await;
    assert_eq!(letters, 0, "records were dead-lettered:\n{log}");
    let colored: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{}\".items WHERE color IS NOT NULL", env.pg_schema))
            .fetch_one(&env.pg)
            .await
            .unwrap();
    assert!(colored > 0, "no row carries the added column's values");
    env.cleanup().await;
}

/// The stored position of source `name` (`sluice.source_offsets`), if any.
async fn stored_position(env: &Env, name: &str) -> Option<Json> {
    sqlx::query_scalar("SELECT offset_value FROM sluice.source_offsets WHERE connector_name = $1")
        .bind(name)
        .fetch_optional(&env.pg)
        .await
        .unwrap()
}

/// Waits for a `sluice source mysql` child; its exit status.
async fn wait_child(child: &mut std::process::Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the source did not exit within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registry failures: while the registry answers 503 the source pauses (no
/// record sent, no position stored) and resumes when it is back; a refusal
/// (401 without the right credentials) stops it with an error naming the
/// subject and the registry's message; basic auth with a `Secret` works and
/// the password never reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_output_pauses_while_the_registry_is_down_and_stops_when_refused() {
    let brokers = sluice_testkit::kafka_brokers();
    sluice_testkit::require("tansu (Kafka protocol broker)", &brokers).await;
    let env = Env::new(20, 10, 100).await;
    let registry = SchemaRegistryDouble::start().await;

    // 1. unavailable (503): the source waits, then completes once the registry is back
    let paused = format!("{}_paused", env.name);
    registry.set_unavailable(true);
    write_source_config(&env, &paused, &brokers, Some(&registry.url()));
    let mut child = env.spawn(true, 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(child.try_wait().unwrap().is_none(), "the source must wait for the registry:\n{}", env.log(1));
    assert!(env.log(1).contains("schema registry unavailable"), "{}", env.log(1));
    assert_eq!(stored_position(&env, &paused).await, None, "a position was stored while the registry was down");
    registry.set_unavailable(false);
    let status = wait_child(&mut child, Duration::from_secs(120)).await;
    assert!(status.success(), "the source failed after the registry came back ({status}):\n{}", env.log(1));
    assert!(stored_position(&env, &paused).await.is_some());
    let accounts = read_topic(&brokers, &format!("{paused}.{}.accounts", env.db));
    assert_eq!(accounts.len(), mysql_direct_support::ACCOUNTS as usize);

    // 2. refused (401 without credentials): a fatal error naming the subject, nothing stored
    registry.require_basic_auth("sluice", "pw-s3cr3t");
    let refused = format!("{}_refused", env.name);
    write_source_config(&env, &refused, &brokers, Some(&registry.url()));
    let mut child = env.spawn(true, 2);
    let status = wait_child(&mut child, Duration::from_secs(60)).await;
    let log = env.log(2);
    assert!(!status.success(), "the source must stop when the registry refuses:\n{log}");
    assert!(log.contains("401") && log.contains(&format!("{refused}.")) && log.contains("-key"), "{log}");
    assert_eq!(stored_position(&env, &refused).await, None);

    // 3. with the credentials (the password a Secret): it works, and the password is never logged
    let text = std::fs::read_to_string(&env.config).unwrap().replace(
        "[source.mysql.kafka.schema_registry]\n",
        "[source.mysql.kafka.schema_registry]\nusername = \"sluice\"\npassword = \"pw-s3cr3t\"\n",
    );
    std::fs::write(&env.config, text).unwrap();
    env.drain(3).await;
    assert!(stored_position(&env, &refused).await.is_some());
    for run in 1..=3 {
        assert!(!env.log(run).contains("pw-s3cr3t"), "the password was logged:\n{}", env.log(run));
    }
    env.cleanup().await;
}
