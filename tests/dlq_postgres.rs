//! Poison refused by a real Postgres target: a CHECK constraint on the
//! replica rejects some rows; the real `sluice run` parks exactly those in the
//! DLQ (class `constraint`, sink `replica`) while everything else applies;
//! after the operator drops the constraint, `sluice dlq replay --all` brings
//! the replica to exactly the state of applying the whole history once —
//! including keys that received newer data after their rejected version
//! (the version guard keeps the newer data).

mod dlq_support;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sluice::cli::demo::{DemoRow, generate};
use sluice::dlq::{EntryFilter, PostgresDeadLetters};
use sluice_testkit::{kafka_brokers, kafka_topic, require, unique_name};
use sqlx::{Connection, PgConnection};

fn config(dir: &Path, topic: &str, group: &str, schema: &str) -> PathBuf {
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
schema = "{schema}_sluice"

[metrics]
enabled = false

[[sink]]
name = "replica"
kind = "postgres"
url = "{pg}"
schema = "{schema}"
table_template = "{{table}}"
"#,
        brokers = kafka_brokers(),
        pg = sluice_testkit::pg_url(),
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `id -> (name, qty, price in cents)` of the replica table.
async fn replica(conn: &mut PgConnection, schema: &str) -> BTreeMap<i64, (String, i64, i64)> {
    let rows: Vec<(i64, String, i64, i64)> =
        sqlx::query_as(&format!("SELECT id::int8, name, qty::int8, (price * 100)::int8 FROM \"{schema}\".customers"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    rows.into_iter().map(|(id, name, qty, cents)| (id, (name, qty, cents))).collect()
}

fn live(expected: &BTreeMap<i64, Option<DemoRow>>) -> BTreeMap<i64, (String, i64, i64)> {
    expected
        .iter()
        .filter_map(|(id, row)| row.as_ref().map(|r| (*id, (r.name.clone(), r.qty, r.price_cents))))
        .collect()
}

fn run_drain(dir: &Path, cfg: &Path, n: usize) {
    let mut child = support::spawn_sluice(dir, cfg, &["run", "--drain"], n);
    let status = support::wait_exit(&mut child, Duration::from_secs(180));
    assert!(status.success(), "sluice run --drain: {status}\n{}", support::log_tail(dir, n));
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_postgres_constraint_violations_are_parked_then_replayed_after_the_fix() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres", &sluice_testkit::pg_url()).await;
    let topic = kafka_topic("demo.inventory.customers");
    support::create_topic(&brokers, &topic, 2).await;
    // ~1 % of the generated prices are negative: those rows violate the constraint.
    let (records, expected) = generate("demo", 6_000, 600, 10, 20251121, true);
    let dir = tempfile::tempdir().unwrap();
    let schema = unique_name("dlq_pg");
    let group = format!("g-{topic}");
    let cfg = config(dir.path(), &topic, &group, &schema);
    let mut conn = PgConnection::connect(&sluice_testkit::pg_url()).await.unwrap();

    // 1. A first slice creates the table (auto-create); then the operator's
    //    constraint appears, and the rest of the stream arrives.
    support::produce(&brokers, &topic, &records[..50]).await;
    run_drain(dir.path(), &cfg, 0);
    sqlx::query(&format!(
        "ALTER TABLE \"{schema}\".customers ADD CONSTRAINT price_not_negative CHECK (price >= 0) NOT VALID"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    support::produce(&brokers, &topic, &records[50..]).await;
    run_drain(dir.path(), &cfg, 1);

    // 2. Only constraint violations were parked, for the replica, with their table;
    //    every key whose final state is valid is correct already.
    let store =
        PostgresDeadLetters::connect_lazy(&sluice_testkit::pg_url(), None, &format!("{schema}_sluice")).unwrap();
    let entries =
        store.list(&EntryFilter { group: Some(group.clone()), ..EntryFilter::default() }, 10_000).await.unwrap();
    let produced: std::collections::HashSet<Vec<u8>> = records.iter().filter_map(|(_, v)| v.clone()).collect();
    assert!(!entries.is_empty(), "the generator produced negative prices; some must have been refused");
    for e in &entries {
        assert_eq!((e.class.as_str(), e.sink.as_str()), ("constraint", "replica"), "{e:?}");
        assert_eq!(e.table.as_deref(), Some("inventory.customers"), "{e:?}");
        // Every record compaction merged into a refused change is parked with
        // it (creates, updates and deletes of that key in the batch), raw.
        let raw = store.get(e.id).await.unwrap().unwrap().raw_value.expect("raw value kept");
        assert!(produced.contains(&raw), "entry {} holds the produced bytes exactly", e.id);
        assert!(e.message.contains("price_not_negative"), "the error names the constraint: {}", e.message);
    }
    let want = live(&expected);
    let got = replica(&mut conn, &schema).await;
    for (id, row) in &want {
        if row.2 >= 0 {
            assert_eq!(got.get(id), Some(row), "key {id} (valid final state) applied despite the poison");
        }
    }
    let out = dlq_support::sluice(&cfg, &["dlq", "replay", "--all", "--dry-run"]);
    dlq_support::expect_code(&out, 0);
    assert_eq!(store.depth(Some(&group)).await.unwrap().unresolved as usize, entries.len(), "dry run changes nothing");

    // 3. Fix the cause, replay everything: the replica equals the history applied once.
    sqlx::query(&format!("ALTER TABLE \"{schema}\".customers DROP CONSTRAINT price_not_negative"))
        .execute(&mut conn)
        .await
        .unwrap();
    let out = dlq_support::sluice(&cfg, &["dlq", "replay", "--all"]);
    dlq_support::expect_code(&out, 0);
    assert_eq!(store.depth(Some(&group)).await.unwrap().unresolved, 0, "{}", dlq_support::stdout(&out));
    assert_eq!(replica(&mut conn, &schema).await, want, "replica equals the source history after the replay");
}
