//! Snapshot consistency (concurrent writes while it runs, snapshot + stream
//! applied to a MemorySink equal the source) and per-table resumability.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use sluice_sink_api::{ChangeBatch, MemorySink, Row, Sink, TableId, Value};
use sluice_source_mysql::config::StoreConfig;
use sluice_source_mysql::snapshot::{self, Chunk, Handler};
use sluice_source_mysql::store::OffsetStore;
use sluice_source_mysql::{BinlogPosition, Result, SourceChange, SourceError, SourceItem, SourceStream};

use super::common::TestDb;

struct ToMemory {
    sink: Arc<MemorySink>,
    chunks: usize,
    fail_after: Option<usize>,
}

impl Handler for ToMemory {
    async fn chunk(&mut self, chunk: Chunk<'_>) -> Result<()> {
        let changes: Vec<SourceChange> = chunk.changes;
        if self.fail_after == Some(self.chunks) {
            return Err(SourceError::Connection { message: "simulated crash".into(), source: None });
        }
        self.chunks += 1;
        let events = changes.into_iter().map(|c| c.event).collect();
        self.sink.apply(&ChangeBatch::from_events(events)).await.map_err(SourceError::Downstream)?;
        Ok(())
    }
}

async fn stream_until(db: &mut TestDb, sink: &MemorySink, from: BinlogPosition) {
    let target = db.position().await;
    let mut stream = SourceStream::connect(db.config(), from).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while stream.position().order_key() < target.order_key() {
        let item = tokio::time::timeout_at(deadline, stream.next()).await.expect("stream caught up in time").unwrap();
        if let SourceItem::Transaction(tx) = item {
            sink.apply(&ChangeBatch::from_units(vec![tx.changes.into_iter().map(|c| c.event).collect()]))
                .await
                .unwrap();
        }
    }
}

async fn source_rows(db: &mut TestDb) -> Vec<(i64, i64)> {
    db.conn.query(format!("SELECT id, v FROM `{}`.t ORDER BY id", db.name)).await.unwrap()
}

fn sink_rows(sink: &MemorySink, table: &TableId) -> Vec<(i64, i64)> {
    let mut rows: Vec<(i64, i64)> = sink
        .rows(table)
        .values()
        .map(|r: &Row| match (r.get("id"), r.get("v")) {
            (Some(Value::Int(id)), Some(Value::Int(v))) => (*id, *v),
            other => panic!("unexpected row {other:?}"),
        })
        .collect();
    rows.sort();
    rows
}

fn writer(url: String, db: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut conn = mysql_async::Conn::from_url(&url).await.unwrap();
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let id = (n * 7919) % 3000 + 1;
            let sql = match n % 4 {
                0 => format!("DELETE FROM `{db}`.t WHERE id = {id}"),
                1 => format!("INSERT INTO `{db}`.t VALUES ({id}, {n}) ON DUPLICATE KEY UPDATE v = {n}"),
                _ => format!("UPDATE `{db}`.t SET v = v + 1 WHERE id = {id}"),
            };
            conn.query_drop(sql).await.unwrap();
        }
        n
    })
}

#[tokio::test]
async fn snapshot_with_concurrent_writes_converges_with_the_stream() {
    let mut db = TestDb::new().await;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY, v BIGINT NOT NULL)").await;
    db.exec("INSERT INTO t SELECT seq, seq FROM seq_1_to_2000").await;
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(db.url.clone(), db.name.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut config = db.config();
    config.snapshot_chunk_size = 97;
    let sink = Arc::new(MemorySink::new("mem"));
    let mut handler = ToMemory { sink: sink.clone(), chunks: 0, fail_after: None };
    let mut progress = Vec::new();
    let outcome = snapshot::run(&config, None, &mut handler, |p| progress.push(p.clone())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let writes = w.await.unwrap();
    assert!(writes > 10, "writes ran concurrently with the snapshot ({writes})");
    assert!(handler.chunks > 10, "chunked reads ({} chunks)", handler.chunks);
    assert_eq!(outcome.tables, 1);
    assert_eq!(progress.last().unwrap().tables_remaining, 0);
    stream_until(&mut db, &sink, outcome.stream_from).await;
    let table = TableId::new(Some(&db.name), None, "t");
    assert_eq!(sink_rows(&sink, &table), source_rows(&mut db).await);
    db.drop().await;
}

#[tokio::test]
async fn interrupted_snapshot_resumes_per_table_and_converges() {
    let mut db = TestDb::new().await;
    let pg = sluice_testkit::pg_url();
    sluice_testkit::require("postgres", &pg).await;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY, v BIGINT NOT NULL)").await;
    db.exec("CREATE TABLE u (id INT PRIMARY KEY, v BIGINT NOT NULL)").await;
    db.exec("INSERT INTO t SELECT seq, seq FROM seq_1_to_1000").await;
    db.exec("INSERT INTO u SELECT seq, seq FROM seq_1_to_300").await;
    let mut config = db.config();
    config.snapshot_chunk_size = 100;
    config.store = Some(StoreConfig { url: pg.clone(), password: None, schema: db.name.clone() });
    let store = OffsetStore::connect(config.store.as_ref().unwrap(), &config.name).await.unwrap();
    let sink = Arc::new(MemorySink::new("mem"));
    // First run: crash after 4 delivered chunks of t.
    let mut handler = ToMemory { sink: sink.clone(), chunks: 0, fail_after: Some(4) };
    let err = snapshot::run(&config, Some(&store), &mut handler, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("simulated crash"));
    let state = store.snapshot_state().await.unwrap().unwrap();
    assert!(!state.completed);
    let t = state.tables.iter().find(|p| p.table == "t").unwrap();
    assert_eq!((t.rows, t.done), (400, false));
    let first = state.first_position.clone();
    // Writes between the two runs.
    db.exec("UPDATE t SET v = -v WHERE id IN (1, 500, 999)").await;
    db.exec("DELETE FROM t WHERE id = 700").await;
    db.exec("INSERT INTO u VALUES (301, 301)").await;
    // Second run resumes after the last delivered key.
    let mut handler = ToMemory { sink: sink.clone(), chunks: 0, fail_after: None };
    let outcome = snapshot::run(&config, Some(&store), &mut handler, |_| {}).await.unwrap();
    assert_eq!(outcome.stream_from, first, "streaming starts at the first epoch");
    assert_eq!(handler.chunks, 6 + 4, "6 remaining chunks of t, then 4 of u");
    assert_eq!(store.load().await.unwrap(), Some(first.clone()));
    assert!(store.snapshot_state().await.unwrap().unwrap().completed);
    stream_until(&mut db, &sink, outcome.stream_from).await;
    assert_eq!(sink_rows(&sink, &TableId::new(Some(&db.name), None, "t")), source_rows(&mut db).await);
    let u: Vec<(i64, i64)> = db.conn.query(format!("SELECT id, v FROM `{}`.u ORDER BY id", db.name)).await.unwrap();
    assert_eq!(sink_rows(&sink, &TableId::new(Some(&db.name), None, "u")), u);
    let pool = store.pool().clone();
    sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", db.name)).execute(&pool).await.unwrap();
    db.drop().await;
}
