//! Transactional apply end to end (issue 5): the bank invariant, and
//! exactly-once offsets in Postgres.
//!
//! * `crash_bank_total_never_deviates_with_transactional_apply`: a generator
//!   emits Debezium-format (MySQL connector, schemaless JSON) transfers; each
//!   source transaction debits an account of `bank.accounts_a` and credits one
//!   of `bank.accounts_b` (two topics, two partitions each, plus the
//!   transaction metadata topic), so the sum of all balances is constant.
//!   While `sluice run` applies them to Postgres — killed with SIGKILL and
//!   restarted in between — a checker reads both replica tables in one
//!   REPEATABLE READ transaction as often as it can and records every
//!   snapshot whose total (or row count) is off. With transactional apply on,
//!   there must be none; the same records applied with it off (no
//!   `transaction_topic`) must show deviations, proving the checker can fail.
//! * `crash_exactly_once_applies_every_event_once`: with
//!   `commit.exactly_once_sink`, a trigger counts every row the sink delivers
//!   (a BEFORE INSERT trigger fires for stale re-deliveries too); across kill
//!   -9 restarts every event is delivered exactly once, and the stored offsets
//!   never move backwards.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_testkit::{kafka_brokers, pg_url, require, unique_name};
use support::{create_topic, kill9, log_tail, produce, spawn_sluice, terminate, wait_exit};

type Record = (Vec<u8>, Option<Vec<u8>>);

const ACCOUNTS: i64 = 20;
const OPENING: i64 = 1_000;

/// The generator: balances per table, binlog position, transaction count.
struct Bank {
    prefix: String,
    a: Vec<i64>,
    b: Vec<i64>,
    pos: i64,
    txs: u64,
    rng: u64,
}

/// What one round of transactions produces, per topic.
#[derive(Default)]
struct Round {
    a: Vec<Record>,
    b: Vec<Record>,
    tx: Vec<Record>,
}

impl Bank {
    fn new(prefix: &str, seed: u64) -> Self {
        Bank { prefix: prefix.to_string(), a: Vec::new(), b: Vec::new(), pos: 4, txs: 0, rng: seed | 1 }
    }

    fn rand(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }

    fn total(&self) -> i64 {
        self.a.iter().sum::<i64>() + self.b.iter().sum::<i64>()
    }

    fn change(&mut self, table: &str, id: i64, before: Option<i64>, after: i64, tx: &str, order: u64) -> Record {
        self.pos += 100;
        let ts = 1_750_000_000_000i64 + self.pos;
        let row = |bal: i64| json!({"id": id, "balance": bal});
        let value = json!({
            "before": before.map(row),
            "after": row(after),
            "source": {
                "version": "2.7.0.Final", "connector": "mysql", "name": self.prefix, "ts_ms": ts,
                "snapshot": "false", "db": "bank", "table": table, "server_id": 1, "gtid": null,
                "file": "mysql-bin.000001", "pos": self.pos, "row": 0
            },
            "op": if before.is_some() { "u" } else { "c" },
            "ts_ms": ts + 3,
            "transaction": {"id": tx, "total_order": order, "data_collection_order": 1}
        });
        (serde_json::to_vec(&json!({"id": id})).unwrap(), Some(serde_json::to_vec(&value).unwrap()))
    }

    fn marker(&self, tx: &str, end: Option<(u64, u64)>) -> Record {
        let value = match end {
            None => json!({"status": "BEGIN", "id": tx, "event_count": null, "data_collections": null, "ts_ms": 1}),
            Some((a, b)) => json!({
                "status": "END", "id": tx, "event_count": a + b, "ts_ms": 2,
                "data_collections": [
                    {"data_collection": "bank.accounts_a", "event_count": a},
                    {"data_collection": "bank.accounts_b", "event_count": b}
                ]
            }),
        };
        (serde_json::to_vec(&json!({"id": tx})).unwrap(), Some(serde_json::to_vec(&value).unwrap()))
    }

    /// The opening transaction: every account of both tables.
    fn open(&mut self) -> Round {
        let mut r = Round::default();
        self.txs += 1;
        let tx = format!("tx-{}", self.txs);
        r.tx.push(self.marker(&tx, None));
        let mut order = 0;
        for id in 0..ACCOUNTS {
            order += 1;
            let rec = self.change("accounts_a", id, None, OPENING, &tx, order);
            r.a.push(rec);
            order += 1;
            let rec = self.change("accounts_b", id, None, OPENING, &tx, order);
            r.b.push(rec);
        }
        self.a = vec![OPENING; ACCOUNTS as usize];
        self.b = vec![OPENING; ACCOUNTS as usize];
        r.tx.push(self.marker(&tx, Some((ACCOUNTS as u64, ACCOUNTS as u64))));
        r
    }

    /// `n` transfers, each one source transaction across both tables.
    fn transfers(&mut self, n: usize) -> Round {
        let mut r = Round::default();
        for _ in 0..n {
            self.txs += 1;
            let tx = format!("tx-{}", self.txs);
            let i = self.rand(ACCOUNTS as u64) as usize;
            let j = self.rand(ACCOUNTS as u64) as usize;
            let amount = self.rand(100) as i64 + 1;
            let (da, db) = if self.rand(2) == 0 { (-amount, amount) } else { (amount, -amount) };
            r.tx.push(self.marker(&tx, None));
            let (old_a, old_b) = (self.a[i], self.b[j]);
            self.a[i] += da;
            self.b[j] += db;
            let (new_a, new_b) = (self.a[i], self.b[j]);
            let rec = self.change("accounts_a", i as i64, Some(old_a), new_a, &tx, 1);
            r.a.push(rec);
            let rec = self.change("accounts_b", j as i64, Some(old_b), new_b, &tx, 2);
            r.b.push(rec);
            r.tx.push(self.marker(&tx, Some((1, 1))));
        }
        r
    }
}

struct Topics {
    a: String,
    b: String,
    tx: String,
}

async fn produce_round(brokers: &str, topics: &Topics, r: &Round) {
    // the three topics concurrently: data may arrive before or after its markers
    tokio::join!(
        produce(brokers, &topics.tx, &r.tx),
        produce(brokers, &topics.a, &r.a),
        produce(brokers, &topics.b, &r.b)
    );
}

fn write_config(
    dir: &Path,
    name: &str,
    group: &str,
    topics: &Topics,
    schema: &str,
    extra_kafka: &str,
    extra: &str,
) -> std::path::PathBuf {
    let subscription = format!("topics = [\"{}\", \"{}\"]\n{extra_kafka}", topics.a, topics.b);
    let sink = format!(
        "\n[[sink]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"{pg}\"\nschema = \"{schema}\"\nsluice_schema = \"{schema}_sluice\"\n{extra}",
        pg = pg_url()
    );
    let text = support::pipeline_toml(&kafka_brokers(), group, &subscription, 1, "5ms", &sink);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

/// What the checker saw.
#[derive(Debug, Default)]
struct Seen {
    snapshots: u64,
    /// Snapshots with some but not all accounts.
    partial: u64,
    /// Snapshots with all accounts whose total is off.
    off: u64,
    examples: Vec<String>,
}

/// Reads the replica in REPEATABLE READ transactions until `stop`.
async fn checker(schema: String, total: i64, stop: Arc<AtomicBool>) -> Seen {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&pg_url()).await.expect("checker pool");
    let sql = format!(
        "SELECT (SELECT count(*) FROM \"{schema}\".accounts_a) + (SELECT count(*) FROM \"{schema}\".accounts_b),
                (SELECT coalesce(sum(balance), 0) FROM \"{schema}\".accounts_a)::int8
                + (SELECT coalesce(sum(balance), 0) FROM \"{schema}\".accounts_b)::int8"
    );
    let mut seen = Seen::default();
    while !stop.load(Ordering::SeqCst) {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await.expect("isolation");
        let row: Result<(i64, i64), _> = sqlx::query_as(&sql).fetch_one(&mut *tx).await;
        let _ = tx.rollback().await;
        let Ok((rows, sum)) = row else {
            // the tables do not exist yet
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        if rows == 0 {
            continue;
        }
        seen.snapshots += 1;
        if rows != 2 * ACCOUNTS {
            seen.partial += 1;
        } else if sum != total {
            seen.off += 1;
        } else {
            continue;
        }
        if seen.examples.len() < 5 {
            seen.examples.push(format!("rows={rows} total={sum} (want {} rows, total {total})", 2 * ACCOUNTS));
        }
    }
    seen
}

/// The replica's balances: `(table, id) -> balance`.
async fn balances(pool: &sqlx::PgPool, schema: &str) -> BTreeMap<(String, i64), i64> {
    let mut out = BTreeMap::new();
    for table in ["accounts_a", "accounts_b"] {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as(&format!("SELECT id::int8, balance::int8 FROM \"{schema}\".{table}"))
                .fetch_all(pool)
                .await
                .unwrap_or_default();
        for (id, bal) in rows {
            out.insert((table.to_string(), id), bal);
        }
    }
    out
}

/// The highest versions applied so far (changes whenever a transaction is applied).
async fn progress(pool: &sqlx::PgPool, schema: &str) -> String {
    sqlx::query_scalar::<_, String>(&format!(
        "SELECT ((SELECT coalesce(max(_sluice_version), 0) FROM \"{schema}\".accounts_a)
               + (SELECT coalesce(max(_sluice_version), 0) FROM \"{schema}\".accounts_b))::text"
    ))
    .fetch_one(pool)
    .await
    .unwrap_or_default()
}

fn expected(bank: &Bank) -> BTreeMap<(String, i64), i64> {
    let mut out = BTreeMap::new();
    for (i, bal) in bank.a.iter().enumerate() {
        out.insert(("accounts_a".to_string(), i as i64), *bal);
    }
    for (i, bal) in bank.b.iter().enumerate() {
        out.insert(("accounts_b".to_string(), i as i64), *bal);
    }
    out
}

async fn wait_converged(pool: &sqlx::PgPool, schema: &str, bank: &Bank, dir: &Path, n: usize, timeout: Duration) {
    let want = expected(bank);
    let deadline = Instant::now() + timeout;
    loop {
        let got = balances(pool, schema).await;
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            let diff = want.iter().filter(|(k, v)| got.get(*k) != Some(*v)).count();
            panic!("{schema}: not converged after {timeout:?}: {diff} accounts differ\nlog:\n{}", log_tail(dir, n));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_bank_total_never_deviates_with_transactional_apply() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres", &pg_url()).await;
    let prefix = unique_name("bank");
    let topics = Topics {
        a: format!("{prefix}.bank.accounts_a"),
        b: format!("{prefix}.bank.accounts_b"),
        tx: format!("{prefix}.transaction"),
    };
    create_topic(&brokers, &topics.a, 2).await;
    create_topic(&brokers, &topics.b, 2).await;
    create_topic(&brokers, &topics.tx, 1).await;
    let seed = seed();
    eprintln!("bank seed {seed}");
    let mut bank = Bank::new(&prefix, seed);
    let pool = sqlx::PgPool::connect(&pg_url()).await.expect("connect");
    let dir = tempfile::tempdir().unwrap();

    // --- transactional apply on, with kill -9 restarts ---
    let schema_on = unique_name("bank_on");
    let config_on = write_config(
        dir.path(),
        "on",
        &format!("{prefix}-on"),
        &topics,
        &schema_on,
        &format!("transaction_topic = \"{}\"", topics.tx),
        "",
    );
    let opening = bank.open();
    produce_round(&brokers, &topics, &opening).await;
    let total = bank.total();
    let stop = Arc::new(AtomicBool::new(false));
    let check_on = tokio::spawn(checker(schema_on.clone(), total, stop.clone()));
    let mut n = 0;
    let mut child: Child = spawn_sluice(dir.path(), &config_on, &["run"], n);
    let mut last_progress = progress(&pool, &schema_on).await;
    const ROUNDS: usize = 8;
    const PER_ROUND: usize = 250;
    for round in 0..ROUNDS {
        let r = bank.transfers(PER_ROUND);
        produce_round(&brokers, &topics, &r).await;
        assert_eq!(bank.total(), total, "the generator keeps the total");
        if round % 2 == 1 {
            // kill the process while it is applying: once it committed something new
            // A restarted member may wait for the killed one's session to expire
            // and for the coordinator's rebalance timeout (`max_poll_interval`)
            // before it is assigned anything: allow several of those.
            let deadline = Instant::now() + Duration::from_secs(150);
            while progress(&pool, &schema_on).await == last_progress {
                assert!(Instant::now() < deadline, "process {n} applies nothing\n{}", log_tail(dir.path(), n));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis((seed >> (round * 4)) % 300)).await;
            kill9(&mut child);
            last_progress = progress(&pool, &schema_on).await;
            n += 1;
            child = spawn_sluice(dir.path(), &config_on, &["run"], n);
        }
    }
    wait_converged(&pool, &schema_on, &bank, dir.path(), n, Duration::from_secs(180)).await;
    let status = terminate(&mut child, Duration::from_secs(60));
    assert!(status.success(), "sluice exited with {status}\n{}", log_tail(dir.path(), n));
    stop.store(true, Ordering::SeqCst);
    let on = check_on.await.unwrap();
    let mut splits = 0;
    for i in 0..=n {
        let log = std::fs::read_to_string(dir.path().join(format!("sluice-{i}.log"))).unwrap_or_default();
        splits += log.matches("applied in parts").count();
    }
    eprintln!("transactional apply on: {on:?}, {n} kill -9 restarts, {splits} split transactions");
    assert!(on.snapshots >= 100, "the checker must have read many snapshots: {on:?}");
    assert_eq!((on.partial, on.off), (0, 0), "a reader saw half of a source transaction: {on:?}");

    // --- the same records with transactional apply off: the checker must see deviations ---
    let schema_off = unique_name("bank_off");
    let config_off = write_config(dir.path(), "off", &format!("{prefix}-off"), &topics, &schema_off, "", "");
    let stop = Arc::new(AtomicBool::new(false));
    let check_off = tokio::spawn(checker(schema_off.clone(), total, stop.clone()));
    n += 1;
    let mut child = spawn_sluice(dir.path(), &config_off, &["run", "--drain"], n);
    let status = wait_exit(&mut child, Duration::from_secs(180));
    assert!(status.success(), "sluice run --drain failed: {status}\n{}", log_tail(dir.path(), n));
    wait_converged(&pool, &schema_off, &bank, dir.path(), n, Duration::from_secs(30)).await;
    stop.store(true, Ordering::SeqCst);
    let off = check_off.await.unwrap();
    eprintln!("transactional apply off: {off:?}");
    assert!(off.off > 0, "without transactional apply the checker must see a deviating total: {off:?}");

    for schema in [&schema_on, &schema_off] {
        for s in [schema.clone(), format!("{schema}_sluice")] {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE")).execute(&pool).await;
        }
    }
}

/// One Debezium-format insert of `eo.events` (no transaction metadata).
fn eo_event(prefix: &str, id: i64) -> Record {
    let pos = 4 + id * 100;
    let ts = 1_750_000_000_000i64 + id;
    let value = json!({
        "before": null,
        "after": {"id": id, "n": id * 2},
        "source": {
            "version": "2.7.0.Final", "connector": "mysql", "name": prefix, "ts_ms": ts,
            "snapshot": "false", "db": "eo", "table": "events", "server_id": 1, "gtid": null,
            "file": "mysql-bin.000001", "pos": pos, "row": 0
        },
        "op": "c",
        "ts_ms": ts + 3
    });
    (serde_json::to_vec(&json!({"id": id})).unwrap(), Some(serde_json::to_vec(&value).unwrap()))
}

/// Stored offsets of `owner`: `(stream, partition) -> (next_offset, epoch)`.
async fn stored_offsets(pool: &sqlx::PgPool, sluice_schema: &str, owner: &str) -> BTreeMap<(String, i32), (i64, i64)> {
    let rows: Vec<(String, i32, i64, i64)> = sqlx::query_as(&format!(
        "SELECT stream, partition, next_offset, epoch FROM \"{sluice_schema}\".offsets WHERE owner = $1"
    ))
    .bind(owner)
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    rows.into_iter().map(|(s, p, o, e)| ((s, p), (o, e))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_exactly_once_applies_every_event_once() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres", &pg_url()).await;
    let prefix = unique_name("eo");
    let topic = format!("{prefix}.eo.events");
    const PARTITIONS: i32 = 3;
    create_topic(&brokers, &topic, PARTITIONS).await;
    let pool = sqlx::PgPool::connect(&pg_url()).await.expect("connect");
    let schema = unique_name("eo");
    let sluice_schema = format!("{schema}_sluice");
    // The target table, pre-created with a trigger that counts every row the
    // sink delivers (BEFORE INSERT fires for stale re-deliveries too).
    for sql in [
        format!("CREATE SCHEMA \"{schema}\""),
        format!("CREATE TABLE \"{schema}\".events (id bigint PRIMARY KEY, n bigint)"),
        format!("CREATE TABLE \"{schema}\".deliveries (id bigint PRIMARY KEY, n int NOT NULL)"),
        format!(
            "CREATE FUNCTION \"{schema}\".count_delivery() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             INSERT INTO \"{schema}\".deliveries AS d VALUES (NEW.id, 1) ON CONFLICT (id) DO UPDATE SET n = d.n + 1; \
             RETURN NEW; END $$"
        ),
        format!(
            "CREATE TRIGGER count_delivery BEFORE INSERT ON \"{schema}\".events \
             FOR EACH ROW EXECUTE FUNCTION \"{schema}\".count_delivery()"
        ),
    ] {
        sqlx::query(&sql).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let group = format!("{prefix}-group");
    let topics = Topics { a: topic.clone(), b: topic.clone(), tx: String::new() };
    // Kafka commits once an hour: a restart that trusted them would re-deliver everything.
    let config = write_config(dir.path(), "eo", &group, &topics, &schema, "", "");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text
        .replace(&format!("topics = [\"{topic}\", \"{topic}\"]"), &format!("topics = [\"{topic}\"]"))
        .replace("interval = \"200ms\"", "interval = \"1h\"\nexactly_once_sink = \"pg\"")
        .replace("max_events = 1\n", "max_events = 50\n");
    std::fs::write(&config, text).unwrap();

    // Watch the stored offsets: they must never move backwards.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (pool, sluice_schema, group, stop) = (pool.clone(), sluice_schema.clone(), group.clone(), stop.clone());
        tokio::spawn(async move {
            let mut last: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
            let mut backwards = Vec::new();
            let mut reads = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let now = stored_offsets(&pool, &sluice_schema, &group).await;
                reads += 1;
                for (k, (offset, epoch)) in &now {
                    if let Some((o, e)) = last.get(k)
                        && (offset < o || epoch < e)
                    {
                        backwards.push(format!("{k:?}: ({o}, epoch {e}) -> ({offset}, epoch {epoch})"));
                    }
                }
                last = now;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (reads, backwards)
        })
    };

    const ROUNDS: i64 = 6;
    const PER_ROUND: i64 = 500;
    let mut n = 0;
    let mut child = spawn_sluice(dir.path(), &config, &["run"], n);
    let count_sql = format!("SELECT count(*) FROM \"{schema}\".events");
    let mut applied_before: i64 = 0;
    for round in 0..ROUNDS {
        let records: Vec<Record> =
            (round * PER_ROUND..(round + 1) * PER_ROUND).map(|id| eo_event(&prefix, id)).collect();
        produce(&brokers, &topic, &records).await;
        if round % 2 == 1 {
            // kill the process while it is applying: as soon as it committed something new
            // (a restarted member may first wait out the killed one's session and a rebalance)
            let deadline = Instant::now() + Duration::from_secs(150);
            loop {
                let applied: i64 = sqlx::query_scalar(&count_sql).fetch_one(&pool).await.unwrap();
                if applied > applied_before {
                    break;
                }
                assert!(Instant::now() < deadline, "process {n} applies nothing\n{}", log_tail(dir.path(), n));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(10 * round as u64)).await;
            kill9(&mut child);
            applied_before = sqlx::query_scalar(&count_sql).fetch_one(&pool).await.unwrap();
            eprintln!("killed process {n} with {applied_before} of {} events applied", (round + 1) * PER_ROUND);
            n += 1;
            child = spawn_sluice(dir.path(), &config, &["run"], n);
        }
    }
    let total = ROUNDS * PER_ROUND;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let applied: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".events")).fetch_one(&pool).await.unwrap();
        if applied == total {
            break;
        }
        assert!(Instant::now() < deadline, "only {applied} of {total} events applied\n{}", log_tail(dir.path(), n));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The last process claims a partition when the group gives it to it, which
    // may be a rebalance after everything was applied (a killed member's session
    // expiring): wait for every claim before the final kill.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = stored_offsets(&pool, &sluice_schema, &group).await;
        if stored.len() == PARTITIONS as usize && stored.values().all(|(_, e)| *e > n as i64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "process {n} did not claim every partition: {stored:?}\n{}",
            log_tail(dir.path(), n)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give a stray re-delivery the chance to show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    kill9(&mut child);
    stop.store(true, Ordering::SeqCst);
    let (reads, backwards) = watcher.await.unwrap();

    let counts: Vec<(i64, i32)> = sqlx::query_as(&format!("SELECT id, n FROM \"{schema}\".deliveries ORDER BY id"))
        .fetch_all(&pool)
        .await
        .unwrap();
    let dups: Vec<&(i64, i32)> = counts.iter().filter(|(_, c)| *c != 1).collect();
    eprintln!("exactly-once: {} events, {} delivered, {n} kill -9 restarts, {reads} offset reads", total, counts.len());
    assert_eq!(counts.len() as i64, total, "every event delivered");
    assert!(dups.is_empty(), "events delivered more than once: {} e.g. {:?}", dups.len(), &dups[..dups.len().min(5)]);
    assert!(reads > 50, "the offsets watcher ran");
    assert!(backwards.is_empty(), "stored offsets moved backwards: {backwards:?}");
    let stored = stored_offsets(&pool, &sluice_schema, &group).await;
    let next: i64 = stored.values().map(|(o, _)| o).sum();
    assert_eq!(next, total, "stored offsets cover every record: {stored:?}");
    let epochs: Vec<i64> = stored.values().map(|(_, e)| *e).collect();
    assert!(epochs.iter().all(|e| *e > n as i64), "every restart claimed a newer epoch: {stored:?}");
    for s in [&schema, &sluice_schema] {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE")).execute(&pool).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn incomplete_transaction_is_applied_in_parts_after_max_wait() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres", &pg_url()).await;
    let prefix = unique_name("split");
    let topics = Topics {
        a: format!("{prefix}.bank.accounts_a"),
        b: format!("{prefix}.bank.accounts_b"),
        tx: format!("{prefix}.transaction"),
    };
    for t in [&topics.a, &topics.b, &topics.tx] {
        create_topic(&brokers, t, 1).await;
    }
    let mut bank = Bank::new(&prefix, 7);
    let mut r = Round::default();
    // tx-1: END announces an accounts_b event that never comes
    r.tx.push(bank.marker("tx-1", None));
    let rec = bank.change("accounts_a", 0, None, 10, "tx-1", 1);
    r.a.push(rec);
    r.tx.push(bank.marker("tx-1", Some((1, 1))));
    // tx-2: complete, but after tx-1 in commit order
    r.tx.push(bank.marker("tx-2", None));
    let rec = bank.change("accounts_a", 1, None, 20, "tx-2", 1);
    r.a.push(rec);
    let rec = bank.change("accounts_b", 1, None, 30, "tx-2", 2);
    r.b.push(rec);
    r.tx.push(bank.marker("tx-2", Some((1, 1))));
    produce_round(&brokers, &topics, &r).await;

    let dir = tempfile::tempdir().unwrap();
    let schema = unique_name("split");
    let config = write_config(
        dir.path(),
        "split",
        &format!("{prefix}-g"),
        &topics,
        &schema,
        &format!("transaction_topic = \"{}\"", topics.tx),
        "\n[transactions]\nmax_wait = \"2s\"\n",
    );
    let started = Instant::now();
    let mut child = spawn_sluice(dir.path(), &config, &["run", "--drain"], 0);
    let status = wait_exit(&mut child, Duration::from_secs(90));
    assert!(status.success(), "sluice run --drain failed: {status}\n{}", log_tail(dir.path(), 0));
    assert!(started.elapsed() >= Duration::from_secs(2), "tx-1 waited for transactions.max_wait");
    let pool = sqlx::PgPool::connect(&pg_url()).await.expect("connect");
    let got = balances(&pool, &schema).await;
    let want: BTreeMap<(String, i64), i64> =
        [(("accounts_a".to_string(), 0), 10), (("accounts_a".to_string(), 1), 20), (("accounts_b".to_string(), 1), 30)]
            .into_iter()
            .collect();
    assert_eq!(got, want, "nothing dropped: tx-1's part and tx-2 whole");
    let log = std::fs::read_to_string(dir.path().join("sluice-0.log")).unwrap();
    assert_eq!(log.matches("applied in parts").count(), 1, "one split, logged:\n{log}");
    for s in [schema.clone(), format!("{schema}_sluice")] {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE")).execute(&pool).await;
    }
}
