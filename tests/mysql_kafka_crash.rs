//! Kafka mode under kill -9, against the machine's MariaDB, tansu and Postgres:
//! `sluice source mysql` with `[source.mysql.kafka]` is killed in the middle
//! of its snapshot and twice while streaming a live workload; its position is
//! stored only after Kafka acknowledged everything before it, so the restarts
//! re-send (duplicates) but never skip. `sluice run` then reads the topics back
//! into Postgres (versioned, transactional apply): every table equals its
//! source, nothing is dead-lettered.

mod mysql_direct_support;
mod mysql_kafka_support;
mod support;

use std::time::Duration;

use mysql_direct_support::{Env, Workload, kill9};
use mysql_kafka_support::{consume, consumer_summary, write_consumer_config, write_source_config};

/// Rows the snapshot has delivered to Kafka (and recorded) so far.
async fn snapshot_rows(env: &Env) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>(
        "SELECT sum(rows_read)::int8 FROM sluice.source_snapshot_tables WHERE connector_name = $1",
    )
    .bind(&env.name)
    .fetch_one(&env.pg)
    .await
    .ok()
    .flatten()
    .unwrap_or(0)
}

/// The stored streaming position (`offset_value` as text), once there is one.
async fn stored_position(env: &Env) -> Option<String> {
    sqlx::query_scalar("SELECT offset_value::text FROM sluice.source_offsets WHERE connector_name = $1")
        .bind(&env.name)
        .fetch_optional(&env.pg)
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_kafka_mode_kill9_in_snapshot_and_streaming() {
    let brokers = sluice_testkit::kafka_brokers();
    sluice_testkit::require("tansu (Kafka protocol broker)", &brokers).await;
    let env = Env::new(6_000, 2_000, 200).await;
    write_source_config(&env, &brokers);
    let group = format!("{}-pg", env.name);
    let consumer = write_consumer_config(&env, &brokers, &group, false);
    let workload = Workload::start(&env, 300);

    // 1. kill -9 in the middle of the snapshot
    let mut source = env.spawn(false, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while snapshot_rows(&env).await < 1_000 {
        assert!(tokio::time::Instant::now() < deadline, "the snapshot made no progress:\n{}", env.log(1));
        assert!(source.try_wait().unwrap().is_none(), "the source exited:\n{}", env.log(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill9(&mut source);
    let at_kill = snapshot_rows(&env).await;
    assert!(!env.snapshot_completed().await, "the snapshot finished before the kill; the test needs more rows");
    eprintln!("run 1 killed during the snapshot after {at_kill} rows");

    // 2. restart: the snapshot resumes; kill -9 twice once the stored position moved
    for run in [2usize, 3] {
        let mut source = env.spawn(false, run);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let mut first: Option<String> = None;
        loop {
            let at = if env.snapshot_completed().await { stored_position(&env).await } else { None };
            match (&first, at) {
                (None, Some(a)) => first = Some(a),
                (Some(f), Some(a)) if *f != a => break,
                _ => {}
            }
            assert!(tokio::time::Instant::now() < deadline, "run {run} did not stream:\n{}", env.log(run));
            assert!(source.try_wait().unwrap().is_none(), "the source exited:\n{}", env.log(run));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        kill9(&mut source);
        eprintln!("run {run} killed while streaming");
    }

    // 3. stop the workload; a drain run delivers the rest; the consumer reads everything back
    let txs = workload.finish().await;
    env.drain(4).await;
    assert!(env.log(2).contains("resuming snapshot"), "run 2 did not resume the snapshot:\n{}", env.log(2));
    let log = consume(env.dir.path(), &consumer, 1);
    let mismatches = env.mismatches().await;
    assert!(
        mismatches.is_empty(),
        "target differs from source after {txs} transactions and 3 kills: {mismatches:#?}\n{log}"
    );
    let letters = mysql_kafka_support::dead_letters(&env, &group).await;
    assert_eq!(letters, 0, "records were dead-lettered:\n{log}");
    eprintln!("{txs} workload transactions, 3 kills: {}", consumer_summary(&log));
    env.cleanup().await;
}
