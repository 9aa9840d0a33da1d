//! Shared helpers: a fresh database per test, a stream limited to it, and
//! collecting items until a condition holds.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use sluice_source_mysql::stream::connect;
use sluice_source_mysql::{BinlogPosition, MysqlSourceConfig, SourceItem, SourceStream, SourceTransaction};

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub conn: mysql_async::Conn,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let url = sluice_testkit::mysql_url();
        sluice_testkit::require("mariadb", &url).await;
        let name = format!("sluice_t_{:016x}", rand::random::<u64>());
        let mut conn = mysql_async::Conn::from_url(&url).await.expect("connect to MariaDB");
        conn.query_drop(format!("CREATE DATABASE `{name}`")).await.unwrap();
        conn.query_drop(format!("USE `{name}`")).await.unwrap();
        conn.query_drop("SET time_zone = '+00:00'").await.unwrap();
        TestDb { name, url, conn }
    }

    pub async fn exec(&mut self, sql: &str) {
        self.conn.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// A config that captures only this database.
    pub fn config(&self) -> MysqlSourceConfig {
        let mut c = MysqlSourceConfig::new("testsrv", &self.url);
        c.server_id = 10_000 + (rand::random::<u32>() % 1_000_000);
        c.database_include = vec![regex_escape(&self.name)];
        c.heartbeat_interval = Duration::from_secs(1);
        c.reconnect_backoff_max = Duration::from_millis(500);
        c
    }

    pub async fn position(&mut self) -> BinlogPosition {
        let config = self.config();
        let mut conn = connect::open(&config).await.unwrap();
        let info = connect::server_info(&mut conn).await.unwrap();
        connect::current_position(&mut conn, &info).await.unwrap()
    }

    pub async fn drop(mut self) {
        let _ = self.conn.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name)).await;
        let _ = self.conn.disconnect().await;
    }
}

pub fn regex_escape(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_string() } else { format!("\\{c}") }).collect()
}

/// Reads items until `n` transactions were collected (schema changes too).
pub async fn collect(stream: &mut SourceStream, n_tx: usize) -> (Vec<SourceTransaction>, Vec<SourceItem>) {
    let mut txs = Vec::new();
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while txs.len() < n_tx {
        let item = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("timed out after {} of {n_tx} transactions", txs.len()))
            .expect("stream item");
        if let SourceItem::Transaction(tx) = &item {
            txs.push(tx.clone());
        }
        if !matches!(item, SourceItem::Progress { .. }) {
            all.push(item);
        }
    }
    (txs, all)
}
