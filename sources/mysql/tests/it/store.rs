//! The Postgres store: positions never move backwards; schema history is
//! idempotent by position.

use sluice_sink_api::TableId;
use sluice_source_mysql::BinlogPosition;
use sluice_source_mysql::config::StoreConfig;
use sluice_source_mysql::gtid::{Flavor, GtidSet};
use sluice_source_mysql::schema::{DdlKind, SchemaChange};
use sluice_source_mysql::store::OffsetStore;

#[tokio::test]
async fn positions_are_monotonic_and_history_is_idempotent() {
    let pg = sluice_testkit::pg_url();
    sluice_testkit::require("postgres", &pg).await;
    let schema = format!("sluice_t_{:016x}", rand::random::<u64>());
    let config = StoreConfig { url: pg, password: None, schema: schema.clone() };
    let store = OffsetStore::connect(&config, "src").await.unwrap();
    let later = BinlogPosition::new("mysql-bin.000007", 900)
        .with_gtid(Some(GtidSet::parse(Flavor::Mariadb, "0-1-42").unwrap()));
    let earlier = BinlogPosition::new("mysql-bin.000007", 100);
    assert_eq!(store.load().await.unwrap(), None);
    store.save(&later).await.unwrap();
    store.save(&earlier).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(later.clone()), "an older position never overwrites a newer one");
    let next_file = BinlogPosition::new("mysql-bin.000008", 4);
    store.save(&next_file).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(next_file.clone()));
    // Another owner is independent.
    let other = OffsetStore::connect(&config, "other").await.unwrap();
    assert_eq!(other.load().await.unwrap(), None);

    let change = SchemaChange {
        file: "mysql-bin.000008".into(),
        pos: 120,
        end_position: next_file,
        ts: chrono::Utc::now(),
        database: "shop".into(),
        ddl: "ALTER TABLE orders ADD COLUMN note TEXT".into(),
        kind: DdlKind::AlterTable,
        tables: vec![TableId::new(Some("shop"), None, "orders")],
        gtid: Some("0-1-43".into()),
        server_id: 1,
        thread: Some(9),
    };
    store.record_schema_change(&change).await.unwrap();
    store.record_schema_change(&change).await.unwrap();
    let history = store.schema_history().await.unwrap();
    assert_eq!(history, vec![("mysql-bin.000008".to_string(), 120, "shop".to_string(), change.ddl.clone())]);
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE")).execute(store.pool()).await.unwrap();
}
