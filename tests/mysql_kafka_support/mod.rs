//! Support for the MySQL Kafka-mode tests: the source's `[source.mysql.kafka]`
//! configuration, the consumer pipeline reading its topics back into Postgres,
//! and the `sluice run --drain` summary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mysql_direct_support::Env;
use crate::support;

/// The Kafka output configuration of `env`'s source (replaces the direct-mode one).
pub fn write_source_config(env: &Env, brokers: &str) {
    write_kafka_source_config(env, &env.name, brokers, 500, "compression = \"lz4\"\n");
}

/// A Kafka-mode source configuration for `env`'s database as server `name`,
/// reading snapshot chunks of `chunk` rows; `kafka_extra` is added to
/// `[source.mysql.kafka]` (it may open sub-tables).
pub fn write_kafka_source_config(env: &Env, name: &str, brokers: &str, chunk: u64, kafka_extra: &str) {
    let server_id = 20_000 + rand::random::<u32>() % 1_000_000;
    let text = format!(
        r#"[source.mysql]
name = "{name}"
url = "{mysql}"
server_id = {server_id}
database_include = ["{db}"]
snapshot_chunk_size = {chunk}
heartbeat_interval = "1s"
reconnect_backoff_max = "1s"

[source.mysql.store]
url = "{pg}"

[source.mysql.kafka]
brokers = "{brokers}"
message_timeout = "120s"
{kafka_extra}
[metrics]
enabled = false

[log]
level = "info"
"#,
        mysql = sluice_testkit::mysql_url(),
        db = env.db,
        pg = sluice_testkit::pg_url(),
    );
    std::fs::write(&env.config, text).unwrap();
}

/// Records of `group` in the shared test dead-letter queue.
pub async fn dead_letters(env: &Env, group: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sluice_it.dead_letters WHERE consumer_group = $1")
        .bind(group)
        .fetch_one(&env.pg)
        .await
        .unwrap()
}

/// The consumer pipeline into the Postgres schema of `env`: the source's data
/// topics by `topic_regex` — `^<server>\.<db>\.` (`broad` false: the
/// transaction topic is subscribed only because `transaction_topic` names it)
/// or `^<server>\.` (`broad`: the regex matches the transaction topic too) —
/// with transactional apply on `<server>.transaction`.
pub fn write_consumer_config(env: &Env, brokers: &str, group: &str, broad: bool) -> PathBuf {
    let regex = if broad { format!("^{}\\.", env.name) } else { format!("^{}\\.{}\\.", env.name, env.db) };
    consumer_config(env, &env.name, brokers, group, &regex, "", &format!("consumer-{broad}.toml"))
}

/// A consumer pipeline of `group` for the topics of server `name` matching
/// `regex`, with transactional apply on `<name>.transaction`, into `env`'s
/// Postgres schema; `sections` adds TOML sections (e.g. `[schema_registry]`).
/// Written to `file` in the test directory.
pub fn consumer_config(
    env: &Env,
    name: &str,
    brokers: &str,
    group: &str,
    regex: &str,
    sections: &str,
    file: &str,
) -> PathBuf {
    let subscription = format!("topic_regex = '{regex}'\ntransaction_topic = \"{name}.transaction\"");
    let rest = format!(
        "{sections}\n[transactions]\nmax_wait = \"20s\"\n\n[[sink]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"\n",
        sluice_testkit::pg_url(),
        env.pg_schema
    );
    let text = support::pipeline_toml(brokers, group, &subscription, 2000, "20ms", &rest);
    let path = env.dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `sluice run --drain` (log `sluice-<n>.log`); panics with its log unless it exits 0.
pub fn consume(dir: &Path, config: &Path, n: usize) -> String {
    let mut child = support::spawn_sluice(dir, config, &["run", "--drain"], n);
    let status = support::wait_exit(&mut child, Duration::from_secs(300));
    let log = std::fs::read_to_string(dir.join(format!("sluice-{n}.log"))).unwrap_or_default();
    assert!(status.success(), "sluice run --drain failed ({status}):\n{log}");
    log
}

/// The summary line of a `sluice run --drain` log.
pub fn consumer_summary(log: &str) -> String {
    log.lines().find(|l| l.contains("records consumed")).unwrap_or("(no summary)").to_string()
}

/// (records consumed, events) of a `sluice run --drain` summary
/// (`sluice: N records consumed, M events in …`).
pub fn consumed_counts(log: &str) -> (u64, u64) {
    let line = consumer_summary(log);
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = |w: &str| {
        let i = words.iter().position(|x| x.trim_end_matches(',') == w).unwrap_or_else(|| panic!("{line}"));
        words[i - 1].parse::<u64>().unwrap_or_else(|_| panic!("{line}"))
    };
    (at("records"), at("events"))
}
