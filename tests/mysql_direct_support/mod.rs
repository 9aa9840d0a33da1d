//! Support for the MySQL direct-mode tests: a fresh MariaDB database and
//! Postgres schema per test, a workload of multi-statement transactions
//! (bank transfers with a ledger, items with an added column, orders with a
//! composite key), `sluice source mysql` processes, per-table comparison of
//! source and target, and a concurrent repeatable-read checker of the bank
//! invariant in the target.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use rand::Rng;
use sqlx::PgPool;

pub const ACCOUNTS: i64 = 50;
pub const INITIAL_BALANCE: i64 = 1000;

/// One test's source database, target schema and source name.
pub struct Env {
    pub db: String,
    pub pg_schema: String,
    pub name: String,
    pub mysql: mysql_async::Pool,
    pub pg: PgPool,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

/// (table, MySQL row expression, Postgres row expression, key order).
pub fn tables() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        ("accounts", "CONCAT_WS('|', id, balance)", "concat_ws('|', id, balance)", "id"),
        (
            "ledger",
            "CONCAT_WS('|', id, from_id, to_id, amount, note)",
            "concat_ws('|', id, from_id, to_id, amount, note)",
            "id",
        ),
        (
            "items",
            "CONCAT_WS('|', id, name, price, qty, DATE_FORMAT(updated, '%Y-%m-%d %H:%i:%s.%f'), COALESCE(color, '~'))",
            "concat_ws('|', id, name, price, qty, to_char(updated, 'YYYY-MM-DD HH24:MI:SS.US'), COALESCE(color, '~'))",
            "id",
        ),
        (
            "orders",
            "CONCAT_WS('|', customer, seq, status, total)",
            "concat_ws('|', customer, seq, status, total)",
            "customer, seq",
        ),
    ]
}

impl Env {
    /// Creates the database and schema (`items_rows` items, `orders_rows`
    /// orders, the accounts) and writes the config (`chunk` rows per snapshot chunk).
    pub async fn new(items_rows: i64, orders_rows: i64, chunk: u64) -> Env {
        let mysql_url = sluice_testkit::mysql_url();
        let pg_url = sluice_testkit::pg_url();
        sluice_testkit::require("mariadb", &mysql_url).await;
        sluice_testkit::require("postgres", &pg_url).await;
        let suffix = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
        let db = format!("sluice_direct_{suffix}");
        let pg_schema = format!("direct_{suffix}");
        let name = format!("direct_{suffix}");
        let mysql = mysql_async::Pool::new(mysql_url.as_str());
        let mut conn = mysql.get_conn().await.expect("connect to MariaDB");
        for sql in [
            format!("CREATE DATABASE `{db}`"),
            format!("CREATE TABLE `{db}`.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)"),
            format!(
                "CREATE TABLE `{db}`.ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, from_id INT NOT NULL, \
                 to_id INT NOT NULL, amount BIGINT NOT NULL, note VARCHAR(64))"
            ),
            format!(
                "CREATE TABLE `{db}`.items (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(12,2), \
                 qty INT NOT NULL, updated DATETIME(6) NOT NULL)"
            ),
            format!(
                "CREATE TABLE `{db}`.orders (customer INT NOT NULL, seq INT NOT NULL, status VARCHAR(20) NOT NULL, \
                 total DECIMAL(14,2) NOT NULL, PRIMARY KEY (customer, seq))"
            ),
        ] {
            conn.query_drop(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let values: Vec<String> = (1..=ACCOUNTS).map(|i| format!("({i}, {INITIAL_BALANCE})")).collect();
        conn.query_drop(format!("INSERT INTO `{db}`.accounts VALUES {}", values.join(","))).await.unwrap();
        for start in (0..items_rows).step_by(1000) {
            let values: Vec<String> = (start..(start + 1000).min(items_rows))
                .map(|i| {
                    format!(
                        "({}, 'item {i}', {}.{:02}, {}, '2024-01-02 03:04:05.{:06}')",
                        i + 1,
                        i % 997,
                        i % 100,
                        i % 50,
                        i % 1_000_000
                    )
                })
                .collect();
            conn.query_drop(format!("INSERT INTO `{db}`.items VALUES {}", values.join(","))).await.unwrap();
        }
        for start in (0..orders_rows).step_by(1000) {
            let values: Vec<String> = (start..(start + 1000).min(orders_rows))
                .map(|i| format!("({}, {}, 'new', {}.50)", i / 10 + 1, i % 10, i % 5000))
                .collect();
            conn.query_drop(format!("INSERT INTO `{db}`.orders VALUES {}", values.join(","))).await.unwrap();
        }
        drop(conn);
        let pg = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(&pg_url).await.expect("postgres");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("sluice.toml");
        let server_id = 20_000 + rand::random::<u32>() % 1_000_000;
        std::fs::write(
            &config,
            format!(
                r#"[source.mysql]
name = "{name}"
url = "{mysql_url}"
server_id = {server_id}
database_include = ["{db}"]
snapshot_chunk_size = {chunk}
heartbeat_interval = "1s"
reconnect_backoff_max = "1s"

[[sink]]
name = "pg"
kind = "postgres"
url = "{pg_url}"
schema = "{pg_schema}"

[retry]
initial_backoff = "50ms"
max_backoff = "1s"

[metrics]
enabled = false

[log]
level = "info"
"#
            ),
        )
        .unwrap();
        Env { db, pg_schema, name, mysql, pg, dir, config }
    }

    /// Starts `sluice source mysql` (stderr to a log file in the test dir).
    pub fn spawn(&self, drain: bool, run: usize) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("run{run}.log"))).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.args(["source", "mysql", "-c"]).arg(&self.config);
        if drain {
            cmd.arg("--drain");
        }
        let child = cmd.stdout(Stdio::null()).stderr(log).spawn().expect("spawn sluice");
        sluice_testkit::kill_on_panic(child.id());
        child
    }

    pub fn log(&self, run: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("run{run}.log"))).unwrap_or_default()
    }

    /// Runs `sluice source mysql --drain` to completion; panics with its log on failure.
    pub async fn drain(&self, run: usize) {
        let mut child = self.spawn(true, run);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "sluice --drain failed ({status}):\n{}", self.log(run));
                return;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("sluice --drain did not finish in 120 s:\n{}", self.log(run));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Rows of `table` in the source, as comparable strings in key order.
    pub async fn source_rows(&self, table: &str) -> Vec<String> {
        let (_, expr, _, order) = tables().into_iter().find(|t| t.0 == table).unwrap();
        let mut conn = self.mysql.get_conn().await.unwrap();
        let color: Option<i64> = conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'items' AND COLUMN_NAME = 'color'",
                (self.db.as_str(),),
            )
            .await
            .unwrap();
        let expr = if color == Some(1) { expr.to_string() } else { expr.replace("COALESCE(color, '~')", "'~'") };
        conn.query(format!("SELECT {expr} FROM `{}`.`{table}` ORDER BY {order}", self.db)).await.unwrap()
    }

    /// Rows of `table` in the target (empty when it does not exist yet).
    pub async fn target_rows(&self, table: &str) -> Vec<String> {
        let (_, _, expr, order) = tables().into_iter().find(|t| t.0 == table).unwrap();
        let items_has_color: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'items' AND column_name = 'color')",
        )
        .bind(&self.pg_schema)
        .fetch_one(&self.pg)
        .await
        .unwrap();
        let expr = if items_has_color { expr.to_string() } else { expr.replace("COALESCE(color, '~')", "'~'") };
        sqlx::query_scalar(&format!("SELECT {expr} FROM \"{}\".\"{table}\" ORDER BY {order}", self.pg_schema))
            .fetch_all(&self.pg)
            .await
            .unwrap_or_default()
    }

    /// Compares every table; returns the mismatches (table, source count,
    /// target count, first differing row).
    pub async fn mismatches(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (table, ..) in tables() {
            let s = self.source_rows(table).await;
            let t = self.target_rows(table).await;
            if s != t {
                let diff = s.iter().zip(&t).find(|(a, b)| a != b).map(|(a, b)| format!("{a} != {b}"));
                out.push(format!(
                    "{table}: source {} rows, target {} rows, first difference {diff:?}",
                    s.len(),
                    t.len()
                ));
            }
        }
        out
    }

    /// Waits until every target table equals its source.
    pub async fn wait_equal(&self, timeout: Duration) -> Result<(), Vec<String>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let m = self.mismatches().await;
            if m.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(m);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The checkpoint streams stored with the data: (stream, next_offset).
    pub async fn checkpoint(&self, stream: &str) -> Option<i64> {
        sqlx::query_scalar("SELECT next_offset FROM sluice.offsets WHERE owner = $1 AND stream = $2")
            .bind(&self.name)
            .bind(stream)
            .fetch_optional(&self.pg)
            .await
            .ok()
            .flatten()
    }

    /// Whether the source store says the snapshot completed.
    pub async fn snapshot_completed(&self) -> bool {
        sqlx::query_scalar::<_, bool>(
            "SELECT completed_at IS NOT NULL FROM sluice.source_snapshot WHERE connector_name = $1",
        )
        .bind(&self.name)
        .fetch_optional(&self.pg)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
    }

    pub async fn cleanup(self) {
        let mut conn = self.mysql.get_conn().await.unwrap();
        let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.db)).await;
        drop(conn);
        let _ = self.mysql.disconnect().await;
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.pg_schema)).execute(&self.pg).await;
    }
}

/// A running workload: transactions of every kind until stopped.
pub struct Workload {
    pub stop: Arc<AtomicBool>,
    pub transactions: Arc<AtomicU64>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Workload {
    /// Starts the workload on `env`'s database; `ddl_after` transactions in,
    /// it adds the `items.color` column (once).
    pub fn start(env: &Env, ddl_after: u64) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let transactions = Arc::new(AtomicU64::new(0));
        let pool = env.mysql.clone();
        let db = env.db.clone();
        let (s, n) = (stop.clone(), transactions.clone());
        let task = tokio::spawn(async move {
            let mut conn = pool.get_conn().await.unwrap();
            conn.query_drop(format!("USE `{db}`")).await.unwrap();
            let mut color = false;
            let mut next_item = 10_000_000i64;
            while !s.load(Ordering::SeqCst) {
                let i = n.load(Ordering::SeqCst);
                if i == ddl_after && !color {
                    conn.query_drop("ALTER TABLE items ADD COLUMN color VARCHAR(20) NULL").await.unwrap();
                    color = true;
                }
                let statements = workload_tx(i, color, &mut next_item);
                let mut tx = conn.start_transaction(Default::default()).await.unwrap();
                for sql in &statements {
                    tx.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
                }
                tx.commit().await.unwrap();
                n.fetch_add(1, Ordering::SeqCst);
            }
        });
        Workload { stop, transactions, task }
    }

    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("workload task");
        self.transactions.load(Ordering::SeqCst)
    }
}

/// The statements of workload transaction `i`.
fn workload_tx(i: u64, color: bool, next_item: &mut i64) -> Vec<String> {
    let mut rng = rand::rng();
    match i % 4 {
        // bank transfer with a ledger entry
        0 | 2 => {
            let from = rng.random_range(1..=ACCOUNTS);
            let to = (from % ACCOUNTS) + 1;
            let amount = rng.random_range(1..50);
            vec![
                format!("UPDATE accounts SET balance = balance - {amount} WHERE id = {from}"),
                format!("UPDATE accounts SET balance = balance + {amount} WHERE id = {to}"),
                format!("INSERT INTO ledger (from_id, to_id, amount, note) VALUES ({from}, {to}, {amount}, 'tx {i}')"),
            ]
        }
        // items: insert two, update a range, delete one
        1 => {
            *next_item += 2;
            let a = *next_item - 1;
            let b = *next_item;
            let lo = rng.random_range(1..500);
            let mut v = vec![
                format!(
                    "INSERT INTO items (id, name, price, qty, updated) VALUES ({a}, 'new {a}', 1.25, 1, NOW(6)), ({b}, 'new {b}', 2.50, 2, NOW(6))"
                ),
                format!(
                    "UPDATE items SET price = price + 0.01, qty = qty + 1, updated = NOW(6) WHERE id BETWEEN {lo} AND {}",
                    lo + 5
                ),
                format!("DELETE FROM items WHERE id = {}", rng.random_range(1..2000)),
            ];
            if color {
                v.push(format!("UPDATE items SET color = 'c{}' WHERE id = {a} OR id = {}", i % 7, lo));
            }
            v
        }
        // orders: insert, status change, delete, a key change
        _ => {
            let customer = rng.random_range(1..300);
            let seq = 100 + (i as i64);
            vec![
                format!("INSERT INTO orders VALUES ({customer}, {seq}, 'new', {}.25)", i % 900),
                format!("UPDATE orders SET status = 'paid', total = total + 1 WHERE customer = {customer} AND seq < 3"),
                format!("DELETE FROM orders WHERE customer = {} AND seq = 5", rng.random_range(1..300)),
                format!("UPDATE orders SET seq = seq + 1000000 WHERE customer = {customer} AND seq = {seq}"),
            ]
        }
    }
}

/// Checks the bank invariant in the target with repeatable-read snapshots:
/// whenever all accounts are present their sum is `ACCOUNTS * INITIAL_BALANCE`.
pub struct InvariantChecker {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u64, Vec<String>)>,
}

impl InvariantChecker {
    pub fn start(env: &Env) -> InvariantChecker {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let pg = env.pg.clone();
        let schema = env.pg_schema.clone();
        let task = tokio::spawn(async move {
            let mut checks = 0u64;
            let mut violations = Vec::new();
            while !s.load(Ordering::SeqCst) {
                if let Ok(mut tx) = pg.begin().await {
                    let _ = sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        .execute(&mut *tx)
                        .await;
                    let r: Result<(i64, i64), _> = sqlx::query_as(&format!(
                        "SELECT count(*), COALESCE(sum(balance), 0)::bigint FROM \"{schema}\".accounts"
                    ))
                    .fetch_one(&mut *tx)
                    .await;
                    let _ = tx.rollback().await;
                    if let Ok((count, sum)) = r {
                        if count > ACCOUNTS {
                            violations.push(format!("{count} accounts"));
                        } else if count == ACCOUNTS {
                            checks += 1;
                            if sum != ACCOUNTS * INITIAL_BALANCE {
                                violations.push(format!("sum of balances {sum}"));
                            }
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (checks, violations)
        });
        InvariantChecker { stop, task }
    }

    /// Stops; returns (checks with every account present, violations).
    pub async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap()
    }
}

/// Kills a child with SIGKILL and reaps it.
pub fn kill9(child: &mut Child) {
    child.kill().expect("kill -9 sluice");
    let _ = child.wait();
}
