//! Keyless source tables: configured key columns, and the whole-row key.

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeEvent, Op, Row, TableId};
use sluice_sink_postgres::{KeyMode, TableOverride};
use sqlx::Row as _;

use crate::common::{World, config};

fn keyless(b: &EventBuilder, op: Op, version: u64, before: Option<Row>, after: Option<Row>) -> ChangeEvent {
    let mut e = b.event(op, 0, version, before, after);
    e.key = None;
    e.schema = None;
    e
}

#[tokio::test]
async fn configured_key_columns() {
    let mut config = config().await;
    config.tables.insert(
        "db.items".into(),
        TableOverride { key_mode: Some(KeyMode::Columns), key_columns: vec!["sku".into()], ..Default::default() },
    );
    let world = World::with(config).await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "items"));
    let item = |sku: &str, qty: i64| Row::new().with("sku", sku).with("qty", qty);
    let report = world
        .apply(vec![
            keyless(&b, Op::Create, 1, None, Some(item("a", 1))),
            keyless(&b, Op::Create, 2, None, Some(item("b", 2))),
            keyless(&b, Op::Update, 3, Some(item("a", 1)), Some(item("a", 5))),
            keyless(&b, Op::Delete, 4, Some(item("b", 2)), None),
            keyless(&b, Op::Update, 2, None, Some(item("b", 9))), // older than the delete
            keyless(&b, Op::Create, 5, None, Some(Row::new().with("qty", 1))), // no key column
        ])
        .await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(report.rejected[0].message.contains("column sku"), "{}", report.rejected[0].message);
    let rows = sqlx::query(&format!("SELECT sku, qty FROM {} ORDER BY sku", world.table("items")))
        .fetch_all(&world.pool)
        .await
        .unwrap();
    let rows: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(rows, vec![("a".to_string(), 5)]);
    world.cleanup().await;
}

#[tokio::test]
async fn whole_row_key() {
    let mut config = config().await;
    config.key_mode = KeyMode::FullRow;
    let world = World::with(config).await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "log"));
    let line = |msg: &str, n: i64| Row::new().with("msg", msg).with("n", n);
    let events = vec![
        keyless(&b, Op::Create, 1, None, Some(line("x", 1))),
        keyless(&b, Op::Create, 2, None, Some(line("y", 2))),
        keyless(&b, Op::Update, 3, Some(line("x", 1)), Some(line("x", 10))),
        keyless(&b, Op::Delete, 4, Some(line("y", 2)), None),
    ];
    world.apply(events.clone()).await;
    // a replay changes nothing
    let report = world.apply(events).await;
    assert_eq!(report.applied, 0, "{report:?}");
    let rows = sqlx::query(&format!("SELECT msg, n FROM {} ORDER BY msg", world.table("log")))
        .fetch_all(&world.pool)
        .await
        .unwrap();
    let rows: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(rows, vec![("x".to_string(), 10)]);
    world.cleanup().await;
}
