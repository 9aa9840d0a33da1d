//! Direct mode (`sluice source mysql` without Kafka) against the machine's
//! MariaDB and Postgres: snapshot + streaming of a workload of multi-statement
//! transactions (inserts, updates, deletes, key changes, ADD COLUMN) across
//! several tables; every target table must equal its source, and the bank
//! invariant (sum of balances constant) must hold in the target at all times,
//! also across kill -9 restarts during the snapshot and during streaming.

mod mysql_direct_support;

use std::time::Duration;

use mysql_direct_support::{Env, InvariantChecker, Workload, kill9};

/// Snapshot of seeded tables, then a live workload with DDL; the target
/// converges to the source, the invariant holds, and a restart is a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_workload_matches_source() {
    let env = Env::new(3000, 2000, 500).await;
    let checker = InvariantChecker::start(&env);
    let mut sluice = env.spawn(false, 1);
    let workload = Workload::start(&env, 150);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let txs = workload.finish().await;
    assert!(txs > 300, "the workload ran only {txs} transactions");
    let converged = env.wait_equal(Duration::from_secs(60)).await;
    // graceful stop (SIGTERM): exits 0 after the current batch
    let _ = std::process::Command::new("kill").args(["-TERM", &sluice.id().to_string()]).status();
    let status = sluice.wait().unwrap();
    if let Err(m) = converged {
        panic!("target differs from source after {txs} transactions: {m:#?}\n{}", env.log(1));
    }
    assert!(status.success(), "sluice exited with {status}:\n{}", env.log(1));
    // a restart resumes from the stored position and changes nothing
    env.drain(2).await;
    assert_eq!(env.mismatches().await, Vec::<String>::new());
    let (checks, violations) = checker.finish().await;
    assert!(violations.is_empty(), "bank invariant violated in the target: {violations:?}");
    assert!(checks > 10, "the invariant was checked only {checks} times with every account present");
    let log = env.log(2);
    eprintln!("{txs} workload transactions; invariant checked {checks} times; run 1: {}", summary_line(&env.log(1)));
    assert!(log.contains("0 snapshot rows"), "the restart must not snapshot again:\n{log}");
    env.cleanup().await;
}

/// kill -9 during the snapshot and twice during streaming, with the workload
/// running throughout: the target still equals the source, and the bank
/// invariant never breaks in the target (every source transaction applied
/// whole, exactly once in effect).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_direct_kill9_in_snapshot_and_streaming() {
    let env = Env::new(40_000, 10_000, 200).await;
    let checker = InvariantChecker::start(&env);
    let workload = Workload::start(&env, 400);

    // 1. kill -9 in the middle of the snapshot
    let mut sluice = env.spawn(false, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(seq) = env.checkpoint("snapshot").await
            && (seq & ((1 << 40) - 1)) >= 5_000
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the snapshot made no progress:\n{}", env.log(1));
        assert!(sluice.try_wait().unwrap().is_none(), "sluice exited:\n{}", env.log(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at_kill = env.checkpoint("snapshot").await.unwrap_or(0) & ((1 << 40) - 1);
    kill9(&mut sluice);
    eprintln!("run 1 killed during the snapshot after {at_kill} rows");
    assert!(!env.snapshot_completed().await, "the snapshot finished before the kill; the test needs more rows");

    // 2. restart: the snapshot resumes; kill -9 twice while streaming
    for run in [2usize, 3] {
        let mut sluice = env.spawn(false, run);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        let mut first: Option<i64> = None;
        loop {
            let at = if env.snapshot_completed().await { env.checkpoint("binlog").await } else { None };
            match (first, at) {
                (None, Some(a)) => first = Some(a),
                (Some(f), Some(a)) if a > f => {
                    // a few more batches
                    tokio::time::sleep(Duration::from_millis(700)).await;
                    break;
                }
                _ => {}
            }
            assert!(tokio::time::Instant::now() < deadline, "run {run} did not stream:\n{}", env.log(run));
            assert!(sluice.try_wait().unwrap().is_none(), "sluice exited:\n{}", env.log(run));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        kill9(&mut sluice);
        eprintln!("run {run} killed while streaming (binlog checkpoint moved from {first:?})");
    }

    // 3. stop the workload, drain, compare
    let txs = workload.finish().await;
    env.drain(4).await;
    let mismatches = env.mismatches().await;
    let (checks, violations) = checker.finish().await;
    assert!(
        mismatches.is_empty(),
        "target differs from source after {txs} transactions and 3 kills: {mismatches:#?}\n{}",
        env.log(4)
    );
    assert!(violations.is_empty(), "bank invariant violated in the target: {violations:?}");
    assert!(checks > 10, "the invariant was checked only {checks} times with every account present");
    eprintln!("{txs} workload transactions; invariant checked {checks} times with every account present");
    for run in 1..=4 {
        eprintln!("run {run}: {}", summary_line(&env.log(run)));
    }
    let resumed = env.log(2);
    assert!(resumed.contains("resuming snapshot"), "run 2 did not resume the snapshot:\n{resumed}");
    env.cleanup().await;
}

/// The summary line a run printed (`sluice: …`), or `killed` when it was.
fn summary_line(log: &str) -> String {
    log.lines().find(|l| l.starts_with("sluice:")).unwrap_or("killed (no summary)").to_string()
}

/// (topic, partition, offset, error class, table, raw value) of a dead letter.
type Letter = (String, i32, i64, String, Option<String>, Vec<u8>);

/// Rows Postgres cannot store (text with a NUL byte), one read by the
/// snapshot and one streamed, are dead-lettered once each — with the change
/// as a Debezium JSON record — and everything else applies; restarts park
/// nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_dead_letters_poison_rows_once() {
    use mysql_async::prelude::Queryable;
    let env = Env::new(100, 100, 50).await;
    let mut conn = env.mysql.get_conn().await.unwrap();
    conn.query_drop(format!("UPDATE `{}`.items SET name = CONCAT('bad', CHAR(0)) WHERE id = 7", env.db)).await.unwrap();
    env.drain(1).await;
    conn.query_drop(format!(
        "INSERT INTO `{}`.items VALUES (500000, CONCAT('x', CHAR(0)), 1.00, 1, NOW(6)), (500001, 'fine', 2.00, 2, NOW(6))",
        env.db
    ))
    .await
    .unwrap();
    drop(conn);
    env.drain(2).await;
    env.drain(3).await;
    let letters: Vec<Letter> = sqlx::query_as(
        "SELECT topic, partition_num, offset_value, error_class, table_name, raw_value FROM sluice.dead_letters \
         WHERE consumer_group = $1 ORDER BY partition_num",
    )
    .bind(&env.name)
    .fetch_all(&env.pg)
    .await
    .unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}\n{}\n{}", env.log(1), env.log(2));
    for (topic, _, _, class, table, value) in &letters {
        assert_eq!(topic, &format!("{}.{}.items", env.name, env.db));
        assert_eq!(table.as_deref(), Some(format!("{}.items", env.db).as_str()));
        assert_eq!(class, "data_type");
        let value: serde_json::Value = serde_json::from_slice(value).expect("Debezium JSON value");
        assert!(value["payload"]["after"]["name"].as_str().is_some_and(|n| n.contains('\0')), "{value}");
    }
    assert!(letters[0].1 < 0, "the snapshot row's letter has partition -generation: {letters:?}");
    assert!(letters[1].1 > 0, "the streamed row's letter has partition = binlog file sequence: {letters:?}");
    let source: Vec<String> = env
        .source_rows("items")
        .await
        .into_iter()
        .filter(|r| !r.starts_with("7|") && !r.starts_with("500000|"))
        .collect();
    assert_eq!(source, env.target_rows("items").await);
    assert!(env.log(1).contains("1 dead-lettered"), "{}", env.log(1));
    env.cleanup().await;
}

/// `[source.mysql]` is validated with the rest of the configuration.
#[test]
fn source_config_is_validated() {
    let problems = |text: &str| match sluice::config::load_str(text, "<test>", Vec::<(String, String)>::new()) {
        Ok(_) => Vec::new(),
        Err(sluice::config::ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(|p| p.to_string()).collect::<Vec<_>>()
        }
        Err(e) => vec![e.to_string()],
    };
    let direct = r#"
[source.mysql]
name = "shop"
url = "mysql://root@127.0.0.1:3306"
[[sink]]
name = "replica"
kind = "postgres"
url = "postgres://postgres@127.0.0.1:5432/test"
"#;
    assert_eq!(problems(direct), Vec::<String>::new());
    let no_pg = r#"
[source.mysql]
name = "shop"
url = "mysql://root@127.0.0.1:3306"
[[sink]]
name = "cache"
kind = "redis"
url = "redis://127.0.0.1:6379"
mode = "invalidate"
[dlq]
url = "postgres://postgres@127.0.0.1:5432/test"
"#;
    assert!(problems(no_pg).iter().any(|p| p.contains("needs a postgres [[sink]]")), "{:?}", problems(no_pg));
    let kafka_only = r#"
[source.mysql]
name = "shop"
url = "mysql://root@127.0.0.1:3306"
[source.mysql.store]
url = "postgres://postgres@127.0.0.1:5432/test"
[source.mysql.kafka]
brokers = "127.0.0.1:19092"
"#;
    assert_eq!(problems(kafka_only), Vec::<String>::new());
    let bad = r#"
[source.mysql]
name = "shop"
url = "mysql://root@127.0.0.1:3306"
snapshot_mode = "sometimes"
[source.postgres]
[[sink]]
name = "replica"
kind = "postgres"
url = "postgres://postgres@127.0.0.1:5432/test"
"#;
    let p = problems(bad);
    assert!(p.iter().any(|p| p.starts_with("source.mysql.snapshot_mode")), "{p:?}");
    assert!(p.iter().any(|p| p.starts_with("source.postgres")), "{p:?}");
}

/// SIGTERM during the snapshot stops promptly (exit 0, snapshot unfinished);
/// the next start resumes it and the target converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_sigterm_during_snapshot_stops_and_resumes() {
    let env = Env::new(40_000, 1000, 200).await;
    let mut sluice = env.spawn(false, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while env.checkpoint("snapshot").await.is_none_or(|seq| (seq & ((1 << 40) - 1)) < 2_000) {
        assert!(tokio::time::Instant::now() < deadline, "the snapshot made no progress:\n{}", env.log(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &sluice.id().to_string()]).status();
    let stop = std::time::Instant::now();
    let status = sluice.wait().unwrap();
    assert!(status.success(), "sluice exited with {status}:\n{}", env.log(1));
    assert!(stop.elapsed() < Duration::from_secs(10), "stopping took {:?}", stop.elapsed());
    assert!(!env.snapshot_completed().await, "the snapshot finished before SIGTERM; the test needs more rows");
    env.drain(2).await;
    assert_eq!(env.mismatches().await, Vec::<String>::new());
    assert!(env.log(2).contains("resuming snapshot"), "{}", env.log(2));
    env.cleanup().await;
}
