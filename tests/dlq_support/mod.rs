//! Support for the dead-letter tests: a migrated store in a schema of its
//! own, configs for the CLI, Debezium records (JSON without schema) that the
//! memory sink's `poison` hook rejects, and running the real `sluice` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use sluice::dlq::{DeadLetter, DeadLetterStore, PostgresDeadLetters};
use sluice_sink_api::RejectKind;

/// A migrated store in a fresh schema.
pub async fn store(prefix: &str) -> PostgresDeadLetters {
    sluice_testkit::require("postgres (DLQ)", &sluice_testkit::pg_url()).await;
    let schema = sluice_testkit::unique_name(prefix);
    let store = PostgresDeadLetters::connect_lazy(&sluice_testkit::pg_url(), None, &schema).unwrap();
    store.migrate().await.expect("migrate");
    store
}

/// Writes a config using `schema` for the DLQ, `group` as consumer group and
/// a journaled memory sink `mem` (with `extra` appended to the sink table).
pub fn write_config(dir: &Path, schema: &str, group: &str, topic: &str, extra_sink: &str) -> PathBuf {
    let text = format!(
        r#"
[kafka]
brokers = "{brokers}"
group_id = "{group}"
topics = ["{topic}"]

[retry]
initial_backoff = "20ms"
max_backoff = "200ms"

[dlq]
url = "{pg}"
schema = "{schema}"

[metrics]
enabled = false

[[sink]]
name = "mem"
kind = "memory"
journal = "{journal}"
{extra_sink}
"#,
        brokers = sluice_testkit::kafka_brokers(),
        pg = sluice_testkit::pg_url(),
        journal = dir.join("journal.jsonl").display(),
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `sluice <args> -c config` to completion.
pub fn sluice(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .arg("-c")
        .arg(config)
        .env_remove("RUST_LOG")
        .output()
        .expect("run sluice")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Panics with both streams unless the exit code is `code`.
#[track_caller]
pub fn expect_code(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "exit code\nstdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
}

/// JSON lines of stdout.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o).lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect(l)).collect()
}

/// A Debezium MySQL change (JsonConverter without schema) of
/// `inventory.customers`: key `{"id": id}`, row `{id, name, poison}`,
/// version from binlog position `pos`.
pub fn change(id: i64, name: &str, poison: bool, pos: i64) -> (Vec<u8>, Vec<u8>) {
    let key = serde_json::to_vec(&json!({"id": id})).unwrap();
    let value = serde_json::to_vec(&json!({
        "before": null,
        "after": {"id": id, "name": name, "poison": poison},
        "source": {
            "version": "2.7.0.Final", "connector": "mysql", "name": "demo", "ts_ms": 1_750_000_000_000i64,
            "snapshot": "false", "db": "inventory", "table": "customers", "server_id": 1, "gtid": null,
            "file": "mysql-bin.000009", "pos": pos, "row": 0
        },
        "op": "c",
        "ts_ms": 1_750_000_000_005i64
    }))
    .unwrap();
    (key, value)
}

/// A letter as the pipeline parks it.
pub fn letter(
    group: &str,
    topic: &str,
    offset: i64,
    sink: &str,
    class: RejectKind,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
) -> DeadLetter {
    DeadLetter {
        topic: topic.to_string(),
        partition: 0,
        offset,
        consumer_group: group.to_string(),
        sink: sink.to_string(),
        table: (class != RejectKind::Decode).then(|| "inventory.customers".to_string()),
        class,
        message: format!("{class} failure at offset {offset}"),
        key,
        value,
        headers: vec![("trace".to_string(), Some(vec![1, 2, 3]))],
        schema_id: None,
    }
}

pub async fn park(store: &PostgresDeadLetters, letters: &[DeadLetter]) {
    store.park(letters).await.expect("park");
}

/// `id` of the entry parked for `(topic, offset)` in `group`.
pub async fn id_of(store: &PostgresDeadLetters, group: &str, offset: i64) -> i64 {
    sqlx::query_scalar(&format!("SELECT id FROM {} WHERE consumer_group = $1 AND offset_value = $2", store.table()))
        .bind(group)
        .bind(offset)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// `(resolution, retry_count, last_error)` of an entry.
pub async fn state_of(store: &PostgresDeadLetters, id: i64) -> (Option<String>, i32, Option<String>) {
    sqlx::query_as(&format!("SELECT resolution, retry_count, last_error FROM {} WHERE id = $1", store.table()))
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}
