//! `sluice dlq replay` on direct-mode dead letters (MariaDB → Postgres, no
//! Kafka): rows whose text holds a NUL byte, which a Postgres `text` column
//! cannot store, are parked with the change as a Debezium JSON record. The
//! operator's fix is on the target — the column becomes `bytea`, which stores
//! the bytes — and a replay with the same configuration then applies them.
//! Fixing the row at the source instead leaves an entry no replay can write,
//! which the operator resolves by hand.

mod mysql_direct_support;

use std::process::{Command, Output};

use mysql_async::prelude::Queryable;
use mysql_direct_support::Env;

/// `sluice dlq replay --all --json -c <direct config>`.
fn replay(env: &Env) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["dlq", "replay", "--all", "--json", "-c"])
        .arg(&env.config)
        .output()
        .expect("run sluice dlq replay")
}

/// (id, resolution, retry count, last error) of the source's dead letters.
async fn letters(env: &Env) -> Vec<(i64, Option<String>, i32, Option<String>)> {
    sqlx::query_as(
        "SELECT id, resolution, retry_count, last_error FROM sluice.dead_letters WHERE consumer_group = $1 ORDER BY id",
    )
    .bind(&env.name)
    .fetch_all(&env.pg)
    .await
    .unwrap()
}

/// Every item, `name` as hex bytes, source and target (the target column is `bytea`).
async fn items_as_bytes(env: &Env) -> (Vec<String>, Vec<String>) {
    let mut conn = env.mysql.get_conn().await.unwrap();
    let source: Vec<String> = conn
        .query(format!(
            "SELECT CONCAT_WS('|', id, LOWER(HEX(name)), price, qty, DATE_FORMAT(updated, '%Y-%m-%d %H:%i:%s.%f')) \
             FROM `{}`.items ORDER BY id",
            env.db
        ))
        .await
        .unwrap();
    let target: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT concat_ws('|', id, encode(name, 'hex'), price, qty, to_char(updated, 'YYYY-MM-DD HH24:MI:SS.US')) \
         FROM \"{}\".items ORDER BY id",
        env.pg_schema
    ))
    .fetch_all(&env.pg)
    .await
    .unwrap();
    (source, target)
}

/// A snapshot row and a streamed row with NUL text are parked; replay fails
/// (and records why) until the target column is `bytea`, then applies both,
/// resolves them, and the pipeline keeps applying into the changed column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_dead_letters_replay_after_the_target_column_is_fixed() {
    let env = Env::new(100, 100, 50).await;
    let mut conn = env.mysql.get_conn().await.unwrap();
    conn.query_drop(format!("UPDATE `{}`.items SET name = CONCAT('bad', CHAR(0)) WHERE id = 7", env.db)).await.unwrap();
    env.drain(1).await;
    conn.query_drop(format!(
        "INSERT INTO `{}`.items VALUES (500000, CONCAT('x', CHAR(0), 'y'), 1.00, 1, NOW(6)), (500001, 'fine', 2.00, 2, NOW(6))",
        env.db
    ))
    .await
    .unwrap();
    env.drain(2).await;
    let parked = letters(&env).await;
    assert_eq!(parked.len(), 2, "{parked:?}\n{}\n{}", env.log(1), env.log(2));
    assert!(parked.iter().all(|l| l.1.is_none()), "{parked:?}");

    // 1. replay before any fix: both fail again, the error is recorded, nothing else is touched
    let out = replay(&env);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "replay must fail:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, parked.iter().map(|l| l.0).collect::<Vec<_>>(), "only this source's entries:\n{stdout}");
    assert!(lines.iter().all(|l| l["outcome"] == "failed"), "{stdout}");
    for (_, resolution, retries, error) in letters(&env).await {
        assert_eq!((resolution, retries), (None, 1));
        assert!(error.as_deref().is_some_and(|e| e.contains("NUL")), "{error:?}");
    }

    // 2. the operator's fix: the target column stores bytes
    sqlx::query(&format!(
        "ALTER TABLE \"{}\".items ALTER COLUMN name TYPE bytea USING convert_to(name, 'UTF8')",
        env.pg_schema
    ))
    .execute(&env.pg)
    .await
    .unwrap();
    let out = replay(&env);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "replay after the fix:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for (id, resolution, retries, error) in letters(&env).await {
        assert_eq!(resolution.as_deref(), Some("replayed"), "entry {id}: {error:?}\n{stdout}");
        assert_eq!(retries, 2, "entry {id}");
    }
    let (source, target) = items_as_bytes(&env).await;
    assert_eq!(source, target);
    assert!(target.iter().any(|r| r.starts_with("7|62616400|")), "row 7 holds its NUL byte");
    assert!(target.iter().any(|r| r.starts_with("500000|780079|")), "row 500000 holds its NUL byte");

    // 3. the pipeline keeps applying into the bytea column; a second replay has nothing to do
    conn.query_drop(format!("UPDATE `{}`.items SET name = CONCAT('z', CHAR(0)) WHERE id = 8", env.db)).await.unwrap();
    conn.query_drop(format!("UPDATE `{}`.items SET name = 'plain' WHERE id = 7", env.db)).await.unwrap();
    drop(conn);
    env.drain(3).await;
    let (source, target) = items_as_bytes(&env).await;
    assert_eq!(source, target, "{}", env.log(3));
    assert!(env.log(3).contains(" 0 dead-lettered"), "{}", env.log(3));
    let out = replay(&env);
    assert!(out.status.success() && out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    for table in ["accounts", "orders"] {
        assert_eq!(env.source_rows(table).await, env.target_rows(table).await, "{table}");
    }
    env.cleanup().await;
}

/// Fixing the row at the source applies the newer change, but the parked
/// older change still cannot be written (the sink checks values before the
/// version decides): the replay keeps failing and the entry is resolved by
/// hand as discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_dead_letter_fixed_at_the_source_is_discarded_by_hand() {
    let env = Env::new(50, 50, 50).await;
    let mut conn = env.mysql.get_conn().await.unwrap();
    env.drain(1).await;
    conn.query_drop(format!("UPDATE `{}`.items SET name = CONCAT('bad', CHAR(0)) WHERE id = 7", env.db)).await.unwrap();
    env.drain(2).await;
    conn.query_drop(format!("UPDATE `{}`.items SET name = 'fixed' WHERE id = 7", env.db)).await.unwrap();
    drop(conn);
    env.drain(3).await;
    assert_eq!(env.mismatches().await, Vec::<String>::new(), "the source fix applied");
    let parked = letters(&env).await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    let out = replay(&env);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("\"outcome\":\"failed\"") && stdout.contains("NUL"), "{stdout}");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["dlq", "resolve", &parked[0].0.to_string(), "--resolution", "discarded", "-c"])
        .arg(&env.config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let parked = letters(&env).await;
    assert_eq!(parked[0].1.as_deref(), Some("discarded"), "{parked:?}");
    let out = replay(&env);
    assert!(out.status.success() && out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(env.mismatches().await, Vec::<String>::new());
    env.cleanup().await;
}
