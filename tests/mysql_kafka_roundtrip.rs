//! Kafka mode end to end, against the machine's MariaDB, tansu and Postgres:
//! `sluice source mysql` (with `[source.mysql.kafka]`) writes the snapshot and
//! a live workload (multi-statement transactions, inserts/updates/deletes,
//! primary-key changes, `ALTER TABLE … ADD COLUMN`) as Debezium JSON topics
//! `<server>.<db>.<table>` plus `<server>.transaction`; `sluice run`, the
//! Kafka consumer pipeline, reads them back into Postgres with transactional
//! apply; every target table must then equal its MariaDB source row by row
//! (the comparison of `tests/mysql_direct.rs`).

mod mysql_direct_support;
mod mysql_kafka_support;
mod support;

use std::time::Duration;

use mysql_direct_support::{Env, Workload};
use mysql_kafka_support::{consume, consumed_counts, consumer_summary, write_consumer_config, write_source_config};

/// Snapshot → Kafka → Postgres, then a live workload with DDL → Kafka →
/// Postgres (the consumer resuming from its committed offsets): every table
/// equals its source after each round, every source transaction is applied
/// whole (its BEGIN/END markers consumed, none split), nothing is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_topics_read_back_into_postgres_match_source() {
    let brokers = sluice_testkit::kafka_brokers();
    sluice_testkit::require("tansu (Kafka protocol broker)", &brokers).await;
    let env = Env::new(2000, 1000, 500).await;
    write_source_config(&env, &brokers);
    let group = format!("{}-pg", env.name);
    let consumer = write_consumer_config(&env, &brokers, &group, false);

    // 1. the snapshot to Kafka (the source creates the topics: tansu does not auto-create)
    env.drain(1).await;
    let log = env.log(1);
    assert!(log.contains("Kafka output stopped cleanly") && log.contains("snapshot progress"), "source run 1:\n{log}");
    assert!(env.target_rows("items").await.is_empty(), "nothing may reach Postgres but through Kafka");
    let log = consume(env.dir.path(), &consumer, 1);
    let mismatches = env.mismatches().await;
    assert!(mismatches.is_empty(), "after the snapshot round: {mismatches:#?}\n{log}");
    eprintln!("round 1 (snapshot): {}", consumer_summary(&log));

    // 2. a live workload (bank transfers, item and order changes, ADD COLUMN) streamed by a
    //    running source that is stopped (SIGTERM) before the workload ends; a drain run resumes
    //    from the stored position
    let workload = Workload::start(&env, 60);
    let mut source = env.spawn(false, 2);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let status = support::terminate(&mut source, Duration::from_secs(60));
    assert!(status.success(), "the streaming source exited with {status}:\n{}", env.log(2));
    assert!(env.log(2).contains("Kafka output stopped cleanly"), "source run 2:\n{}", env.log(2));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let txs = workload.finish().await;
    assert!(txs > 100, "the workload ran only {txs} transactions");
    env.drain(3).await;
    assert!(env.log(3).contains("Kafka output stopped cleanly"), "source run 3:\n{}", env.log(3));
    assert!(!env.log(3).contains("snapshot progress"), "the restart must not snapshot again:\n{}", env.log(3));
    let log = consume(env.dir.path(), &consumer, 2);
    let mismatches = env.mismatches().await;
    assert!(mismatches.is_empty(), "after {txs} workload transactions: {mismatches:#?}\n{log}");
    assert!(log.contains("transactional apply"), "the transaction topic was not used:\n{log}");
    // records = events + tombstones + a BEGIN and an END per source transaction
    let (records, events) = consumed_counts(&log);
    assert!(records >= events + 2 * txs, "the transaction markers were not consumed: {}", consumer_summary(&log));
    assert!(!log.contains("applied in parts"), "a source transaction was split:\n{log}");
    eprintln!("round 2 ({txs} transactions): {}", consumer_summary(&log));

    // `sluice status` lists the transaction topic with the data topics, all committed to the end
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["status", "--json", "-c"])
        .arg(&consumer)
        .output()
        .unwrap();
    assert!(out.status.success(), "sluice status: {}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let topics: std::collections::BTreeSet<&str> =
        doc["partitions"].as_array().unwrap().iter().filter_map(|p| p["topic"].as_str()).collect();
    let expected: std::collections::BTreeSet<String> = ["accounts", "items", "ledger", "orders"]
        .iter()
        .map(|t| format!("{}.{}.{t}", env.name, env.db))
        .chain([format!("{}.transaction", env.name)])
        .collect();
    assert_eq!(topics, expected.iter().map(String::as_str).collect(), "{doc:#}");
    assert_eq!(doc["total_lag"].as_i64(), Some(0), "{doc:#}");

    // the ADD COLUMN reached the target through the events
    let color: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'items' AND column_name = 'color'",
    )
    .bind(&env.pg_schema)
    .fetch_one(&env.pg)
    .await
    .unwrap();
    assert_eq!(color, 1, "items.color was not added in the target");
    let colored: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{}\".items WHERE color IS NOT NULL", env.pg_schema))
            .fetch_one(&env.pg)
            .await
            .unwrap();
    assert!(colored > 0, "no row carries the added column's values");
    let letters = mysql_kafka_support::dead_letters(&env, &group).await;
    assert_eq!(letters, 0, "records were dead-lettered");

    // 3. nothing new: a third run, whose regex also matches the transaction topic
    //    (subscribed twice over), consumes nothing and changes nothing
    let broad = write_consumer_config(&env, &brokers, &group, true);
    let log = consume(env.dir.path(), &broad, 3);
    assert_eq!(consumed_counts(&log), (0, 0), "{log}");
    assert_eq!(env.mismatches().await, Vec::<String>::new(), "{log}");
    env.cleanup().await;
}
