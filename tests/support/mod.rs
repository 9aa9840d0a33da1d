//! Support for the engine's integration tests: topics and records in the
//! Kafka-protocol broker, `sluice` processes with generated configs, and the
//! memory sink's journal as the record of what was applied.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use sluice::cli::demo::DemoRow;
use sluice_sink_api::{MemorySink, Row, TableId, Value};

/// The demo table's id.
pub fn demo_table() -> TableId {
    TableId::new(Some("inventory"), None, "customers")
}

/// Creates a topic with `partitions` partitions (replication 1).
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .expect("create_topics request");
    for r in results {
        if let Err((name, code)) = r {
            panic!("creating topic {name}: {code}");
        }
    }
}

/// Produces records (key, value-or-tombstone) and waits for every ack.
pub async fn produce(brokers: &str, topic: &str, records: &[(Vec<u8>, Option<Vec<u8>>)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "10")
        .set("batch.num.messages", "10000")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "120000")
        .create()
        .expect("producer");
    let mut pending = Vec::new();
    for (key, value) in records {
        let mut record = FutureRecord::to(topic).key(key.as_slice());
        if let Some(v) = value {
            record = record.payload(v.as_slice());
        }
        pending.push(producer.send_result(record).map_err(|(e, _)| e).expect("enqueue"));
        if pending.len() >= 5000 {
            for d in pending.drain(..) {
                d.await.expect("delivery future").expect("delivered");
            }
        }
    }
    for d in pending.drain(..) {
        d.await.expect("delivery future").expect("delivered");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

/// What a consumed record means for the check: a change of a key at a
/// version, or a record without effect (tombstone).
#[derive(Debug, Clone, PartialEq)]
pub enum RecordFact {
    Change {
        key: Row,
        version: sluice_sink_api::Version,
    },
    NoEffect,
    /// Poison produced on purpose (the DLQ tests): the decoder refuses it.
    Undecodable,
}

/// Every record of a topic, decoded: `(partition, offset) -> fact`.
pub fn read_topic(brokers: &str, topic: &str, partitions: i32) -> BTreeMap<(i32, i64), RecordFact> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("reader-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    let mut highs = HashMap::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
        let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("watermarks");
        highs.insert(p, high);
    }
    consumer.assign(&tpl).expect("assign");
    let decoder = sluice::decode::Decoder::new(sluice::decode::DecoderOptions::default());
    let mut out = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let total: i64 = highs.values().sum();
    while (out.len() as i64) < total {
        assert!(Instant::now() < deadline, "reading {topic} back timed out at {} of {total}", out.len());
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let raw = sluice::decode::RawRecord::new(topic, m.partition(), m.offset(), m.key(), m.payload());
            let fact = match decoder.decode(&raw) {
                Ok(sluice::decode::Decoded::Change(e)) => {
                    RecordFact::Change { key: e.key.expect("demo records have keys"), version: e.version }
                }
                Ok(_) => RecordFact::NoEffect,
                Err(_) => RecordFact::Undecodable,
            };
            out.insert((m.partition(), m.offset()), fact);
        }
    }
    out
}

/// Committed offsets of `group` for the topic's partitions (-1 = none).
pub fn committed(brokers: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("offsets client");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let list = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("committed offsets");
    (0..partitions)
        .map(|p| match list.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1,
        })
        .collect()
}

/// The tests' `sluice run` configuration: `[kafka]` with `brokers`, `group`
/// and the `subscription` lines (`topics = [...]` or `topic_regex = '...'`, and
/// any other `[kafka]` keys), a 6 s session; batches of `max_events` /
/// `max_wait`; 200 ms commits; short retries; the shared test DLQ schema
/// `sluice_it`; metrics off; then `rest` (more sections and the `[[sink]]`s).
pub fn pipeline_toml(
    brokers: &str,
    group: &str,
    subscription: &str,
    max_events: usize,
    max_wait: &str,
    rest: &str,
) -> String {
    format!(
        r#"
[kafka]
brokers = "{brokers}"
group_id = "{group}"
{subscription}
session_timeout = "6s"
max_poll_interval = "30s"

[batch]
max_events = {max_events}
max_wait = "{max_wait}"

[commit]
interval = "200ms"

[retry]
initial_backoff = "50ms"
max_backoff = "1s"

[dlq]
url = "{pg}"
schema = "sluice_it"

[metrics]
enabled = false

[log]
level = "info,sluice=info,librdkafka=warn,rdkafka=warn"
{rest}
"#,
        pg = sluice_testkit::pg_url(),
    )
}

/// Writes a pipeline config for the demo topic into `dir` (the journaled
/// memory sink, `extra` appended to its section); returns its path.
pub fn write_config(dir: &Path, brokers: &str, topic: &str, group: &str, extra: &str) -> PathBuf {
    let journal = dir.join("journal.jsonl");
    let sink = format!("\n[[sink]]\nname = \"mem\"\nkind = \"memory\"\njournal = \"{}\"\n{extra}", journal.display());
    let text = pipeline_toml(brokers, group, &format!("topics = [\"{topic}\"]"), 2000, "20ms", &sink);
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Starts `sluice <args…> -c config`, logging to `dir/sluice-<n>.log`.
pub fn spawn_sluice(dir: &Path, config: &Path, args: &[&str], n: usize) -> Child {
    let log = std::fs::File::create(dir.join(format!("sluice-{n}.log"))).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args).arg("-c").arg(config).stdout(Stdio::null()).stderr(log);
    let child = cmd.spawn().expect("spawn sluice");
    kill_on_panic(child.id());
    child
}

pub use sluice_testkit::kill_on_panic;

/// Tail of a sluice log, for assertion messages.
pub fn log_tail(dir: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(dir.join(format!("sluice-{n}.log"))).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// SIGKILL.
pub fn kill9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERM, then wait for the exit status.
pub fn terminate(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    wait_exit(child, timeout)
}

/// Waits for the process to exit; panics after `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sluice did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The memory sink's state as rebuilt from its journal.
pub fn journal(dir: &Path) -> MemorySink {
    MemorySink::read_journal(&dir.join("journal.jsonl")).expect("read journal")
}

/// Checks the sink's state against the generator's expected table; returns
/// the list of mismatches (empty when equal).
pub fn mismatches(sink: &MemorySink, expected: &BTreeMap<i64, Option<DemoRow>>) -> Vec<String> {
    let table = demo_table();
    let mut out = Vec::new();
    for (id, want) in expected {
        let key = Row::new().with("id", *id);
        let got = sink.get(&table, &key);
        match (want, got) {
            (None, None) => {}
            (Some(w), Some(g)) => {
                if g.get("name") != Some(&Value::Text(w.name.clone())) || g.get("qty") != Some(&Value::Int(w.qty)) {
                    out.push(format!("key {id}: want {w:?}, got {g:?}"));
                }
            }
            (w, g) => out.push(format!("key {id}: want {w:?}, got {g:?}")),
        }
    }
    out
}

/// Asserts that the effect of every record below each committed offset is in
/// the sink: its key holds that record's version or a newer one (compaction
/// and later changes supersede; nothing older may remain).
pub fn assert_commits_covered(
    committed: &[i64],
    records: &BTreeMap<(i32, i64), RecordFact>,
    sink: &MemorySink,
    context: &str,
) {
    let table = demo_table();
    for (p, &c) in committed.iter().enumerate() {
        if c < 0 {
            continue;
        }
        for ((_, offset), fact) in records.range((p as i32, 0)..(p as i32, c)) {
            if let RecordFact::Change { key, version } = fact {
                let state = sink.key_state(&table, key);
                assert!(
                    state.as_ref().is_some_and(|s| s.version >= *version),
                    "{context}: partition {p} committed {c} but the change at offset {offset} (key {key:?}, version {version}) is not in the sink (it holds {state:?})"
                );
            }
        }
    }
}

/// Asserts that every change record's effect is in the sink (applied or superseded).
pub fn assert_all_applied(records: &BTreeMap<(i32, i64), RecordFact>, sink: &MemorySink, context: &str) {
    let table = demo_table();
    for ((p, o), fact) in records {
        if let RecordFact::Change { key, version } = fact {
            let state = sink.key_state(&table, key);
            assert!(
                state.as_ref().is_some_and(|s| s.version >= *version),
                "{context}: change at {p}@{o} missing: {state:?}"
            );
        }
    }
}

/// The generator's expected final table.
pub type Expected = BTreeMap<i64, Option<DemoRow>>;

/// Merges the journals of several processes: per key, the highest version wins.
pub async fn merge_journals(dirs: &[&Path]) -> MemorySink {
    use sluice_sink_api::{ChangeBatch, ChangeEvent, Op, Origin};
    let merged = MemorySink::new("merged");
    let table = demo_table();
    for dir in dirs {
        let sink = journal(dir);
        // Re-apply each key's final state with its version: the merged sink keeps the highest.
        let mut batch = Vec::new();
        for id in 0..100_000i64 {
            let key = Row::new().with("id", id);
            if let Some(state) = sink.key_state(&table, &key) {
                batch.push(ChangeEvent {
                    table: table.clone(),
                    op: if state.row.is_some() { Op::Update } else { Op::Delete },
                    key: Some(key.clone()),
                    before: Some(key.clone()),
                    after: state.row.clone(),
                    version: state.version,
                    source_ts: None,
                    tx: None,
                    origin: Origin::new("merge", 0, 0),
                    schema: None,
                });
            }
        }
        sluice_sink_api::Sink::apply(&merged, &ChangeBatch::from_events(batch)).await.unwrap();
    }
    merged
}

/// Fetches `/metrics` from a local port.
pub async fn scrape(port: u16) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.ok()?;
    Some(buf)
}

/// The value of an unlabelled metric (or the first sample of a labelled one).
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && (l[name.len()..].starts_with(' ') || l[name.len()..].starts_with('{')))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The sum of every sample of a metric.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && (l[name.len()..].starts_with(' ') || l[name.len()..].starts_with('{')))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// Dead letters of a consumer group in the test DLQ schema.
pub async fn dlq_count(group: &str) -> i64 {
    let pool = sqlx::PgPool::connect(&sluice_testkit::pg_url()).await.expect("connect to postgres");
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sluice_it.dead_letters WHERE consumer_group = $1")
        .bind(group)
        .fetch_one(&pool)
        .await
        .expect("count dead letters")
}
