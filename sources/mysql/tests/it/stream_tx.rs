//! Transaction boundaries, DDL mid-stream, GTID positions and reconnects.

use std::time::Duration;

use sluice_sink_api::{Op, TableId, Value};
use sluice_source_mysql::gtid::GtidSet;
use sluice_source_mysql::schema::DdlKind;
use sluice_source_mysql::{BinlogPosition, SourceItem, SourceStream};
use sluice_testkit::TcpProxy;

use super::common::{TestDb, collect};

#[tokio::test]
async fn multi_statement_transactions_keep_boundaries_and_counts() {
    let mut db = TestDb::new().await;
    db.exec("CREATE TABLE a (id INT PRIMARY KEY, v INT)").await;
    db.exec("CREATE TABLE b (id INT PRIMARY KEY, v INT)").await;
    db.exec("CREATE TABLE ignored (id INT PRIMARY KEY)").await;
    let start = db.position().await;
    db.exec("BEGIN; INSERT INTO a VALUES (1, 1), (2, 2); INSERT INTO b VALUES (1, 10); INSERT INTO ignored VALUES (1); UPDATE a SET v = 3 WHERE id = 1; COMMIT").await;
    db.exec("INSERT INTO b VALUES (2, 20)").await;
    db.exec("UPDATE a SET id = 5 WHERE id = 2").await;

    let mut config = db.config();
    config.table_exclude = vec![format!("{}\\.ignored", db.name)];
    let mut stream = SourceStream::connect(config, start.clone()).await.unwrap();
    let (txs, _) = collect(&mut stream, 3).await;
    let t1 = &txs[0];
    let ta = TableId::new(Some(&db.name), None, "a");
    let tb = TableId::new(Some(&db.name), None, "b");
    assert_eq!(t1.changes.len(), 4, "{:#?}", t1.changes);
    assert_eq!(t1.counts, vec![(ta.clone(), 3), (tb.clone(), 1)]);
    let orders: Vec<(u64, u64)> = t1
        .changes
        .iter()
        .map(|c| c.event.tx.as_ref().map(|t| (t.total_order, t.data_collection_order)).unwrap())
        .collect();
    assert_eq!(orders, vec![(1, 1), (2, 2), (3, 1), (4, 3)]);
    assert!(t1.changes.iter().all(|c| c.event.tx.as_ref().unwrap().id == t1.id));
    assert!(t1.gtid.as_deref().is_some_and(|g| g.split('-').count() == 3), "MariaDB GTID id: {}", t1.id);
    // Versions strictly increase in the transaction, rows of one event by row index.
    assert!(t1.changes.windows(2).all(|w| w[0].event.version < w[1].event.version));
    assert_eq!((t1.changes[0].row, t1.changes[1].row), (0, 1));
    assert_eq!(t1.changes[0].pos, t1.changes[1].pos);
    assert!(t1.end_position.order_key() > start.order_key());
    assert!(t1.end_position.order_key() < txs[1].end_position.order_key());
    // The end position carries the transaction's GTID.
    let Some(GtidSet::Mariadb(list)) = &t1.end_position.gtid else { panic!("no GTID state") };
    assert!(list.iter().any(|g| g.to_string() == *t1.gtid.as_ref().unwrap()));

    let t2 = &txs[1];
    assert_eq!(t2.counts, vec![(tb, 1)]);
    // A key change: delete of the old key and create of the new one.
    let t3 = &txs[2];
    let ops: Vec<Op> = t3.changes.iter().map(|c| c.event.op).collect();
    assert_eq!(ops, vec![Op::Delete, Op::Create]);
    assert_eq!(t3.changes[0].event.key.as_ref().unwrap().get("id"), Some(&Value::Int(2)));
    assert_eq!(t3.changes[1].event.key.as_ref().unwrap().get("id"), Some(&Value::Int(5)));
    db.drop().await;
}

#[tokio::test]
async fn ddl_mid_stream_decodes_each_row_with_its_own_shape() {
    let mut db = TestDb::new().await;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))").await;
    let start = db.position().await;
    db.exec("INSERT INTO t VALUES (1, 'old')").await;
    db.exec("ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7 AFTER id").await;
    db.exec("INSERT INTO t VALUES (2, 8, 'new')").await;
    db.exec("ALTER TABLE t DROP COLUMN v").await;
    db.exec("INSERT INTO t VALUES (3, 9)").await;
    // Streamed after all of it happened: the table now has (id, extra) only.
    let mut stream = SourceStream::connect(db.config(), start).await.unwrap();
    let (txs, all) = collect(&mut stream, 3).await;
    let names =
        |i: usize| txs[i].changes[0].event.after.as_ref().unwrap().names().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(names(0), vec!["id", "v"]);
    assert_eq!(names(1), vec!["id", "extra", "v"]);
    assert_eq!(names(2), vec!["id", "extra"]);
    assert_eq!(txs[1].changes[0].event.after.as_ref().unwrap().get("v"), Some(&Value::Text("new".into())));
    let ddl: Vec<&SourceItem> = all.iter().filter(|i| matches!(i, SourceItem::SchemaChange(_))).collect();
    assert_eq!(ddl.len(), 2);
    let SourceItem::SchemaChange(change) = ddl[0] else { unreachable!() };
    assert_eq!(change.kind, DdlKind::AlterTable);
    assert_eq!(change.tables, vec![TableId::new(Some(&db.name), None, "t")]);
    assert!(change.ddl.contains("ADD COLUMN extra"));
    // The schema history has the three versions in binlog order.
    let history = stream.history();
    let versions = history.lock().versions(&TableId::new(Some(&db.name), None, "t")).len();
    assert_eq!(versions, 3);
    db.drop().await;
}

#[tokio::test]
async fn starts_from_a_mariadb_gtid_position() {
    let mut db = TestDb::new().await;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY)").await;
    db.exec("INSERT INTO t VALUES (1)").await;
    let after_first = db.position().await;
    db.exec("INSERT INTO t VALUES (2)").await;
    // Only the GTID list: the server finds the file and position itself.
    let start = BinlogPosition { file: String::new(), pos: 4, gtid: after_first.gtid.clone() };
    assert!(matches!(start.gtid, Some(GtidSet::Mariadb(_))));
    let mut config = db.config();
    config.gtid = sluice_source_mysql::config::GtidUse::On;
    let mut stream = SourceStream::connect(config, start).await.unwrap();
    let (txs, _) = collect(&mut stream, 1).await;
    assert_eq!(txs[0].changes[0].event.key.as_ref().unwrap().get("id"), Some(&Value::Int(2)));
    assert!(!txs[0].end_position.file.is_empty(), "file learnt from the server's rotate event");
    assert_eq!(txs[0].end_position.order_key(), db.position().await.order_key().min(txs[0].end_position.order_key()));
    db.drop().await;
}

#[tokio::test]
async fn reconnect_after_connection_loss_resumes_without_loss_or_duplicates() {
    let mut db = TestDb::new().await;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(100))").await;
    let start = db.position().await;
    let proxy = TcpProxy::start(&sluice_testkit::host_port(&db.url)).await;
    let mut config = db.config();
    config.url = format!("mysql://root@{}/", proxy.addr());
    let mut stream = SourceStream::connect(config, start).await.unwrap();

    let url = db.url.clone();
    let name = db.name.clone();
    let writer = tokio::spawn(async move {
        use mysql_async::prelude::Queryable;
        let mut conn = mysql_async::Conn::from_url(&url).await.unwrap();
        for i in 1..=200 {
            conn.query_drop(format!("INSERT INTO `{name}`.t VALUES ({i}, REPEAT('p', 100))")).await.unwrap();
            if i % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let mut seen = Vec::new();
    let mut cuts = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 200 {
        let item = tokio::time::timeout_at(deadline, stream.next()).await.expect("timed out").unwrap();
        if let SourceItem::Transaction(tx) = item {
            for c in &tx.changes {
                let Some(Value::Int(id)) = c.event.key.as_ref().unwrap().get("id") else { panic!() };
                seen.push(*id);
            }
            if seen.len() % 50 == 25 && cuts < 3 {
                proxy.cut();
                tokio::time::sleep(Duration::from_millis(300)).await;
                proxy.restore();
                cuts += 1;
            }
        }
    }
    writer.await.unwrap();
    assert_eq!(cuts, 3, "the connection was cut three times");
    let expected: Vec<i64> = (1..=200).collect();
    assert_eq!(seen, expected, "every row exactly once, in order");
    db.drop().await;
}
