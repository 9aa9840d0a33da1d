//! Schema evolution: added columns, safe widenings, and quarantine of unsafe
//! changes (one table only, remembered, cleared by an operator).

use std::sync::Arc;

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeEvent, ColumnSchema, ColumnType, Decimal, RejectKind, Row, TableId, TableSchema, Value};
use sqlx::Row as _;

use crate::common::World;

fn schema(columns: &[(&str, ColumnType)], pk: &[&str]) -> Arc<TableSchema> {
    Arc::new(TableSchema {
        columns: columns
            .iter()
            .map(|(n, t)| ColumnSchema {
                name: n.to_string(),
                column_type: t.clone(),
                optional: true,
                source_type: None,
            })
            .collect(),
        primary_key: pk.iter().map(|s| s.to_string()).collect(),
    })
}

fn with_schema(mut e: ChangeEvent, s: &Arc<TableSchema>) -> ChangeEvent {
    e.schema = Some(s.clone());
    e
}

async fn types(world: &World, table: &str) -> Vec<(String, String)> {
    sqlx::query(&format!(
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = '{}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        world.table(table)
    ))
    .fetch_all(&world.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn v1() -> Arc<TableSchema> {
    schema(
        &[
            ("id", ColumnType::Int64),
            ("name", ColumnType::Text { max_length: Some(10) }),
            ("qty", ColumnType::Int32),
            ("price", ColumnType::Decimal { precision: Some(8), scale: Some(2) }),
        ],
        &["id"],
    )
}

fn v2() -> Arc<TableSchema> {
    schema(
        &[
            ("id", ColumnType::Int64),
            ("name", ColumnType::Text { max_length: Some(20) }),
            ("qty", ColumnType::Int64),
            ("price", ColumnType::Decimal { precision: Some(12), scale: Some(4) }),
            ("extra", ColumnType::Text { max_length: None }),
        ],
        &["id"],
    )
}

#[tokio::test]
async fn add_and_widen_columns() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "evolve"));
    let r1 =
        Row::new().with("name", "short").with("qty", 5).with("price", Value::Decimal(Decimal::parse("1.50").unwrap()));
    world.apply(vec![with_schema(b.upsert_row(1, 1, r1), &v1())]).await;
    let r2 = Row::new()
        .with("name", "a much longer name")
        .with("qty", 5_000_000_000i64)
        .with("price", Value::Decimal(Decimal::parse("12345678.1234").unwrap()))
        .with("extra", "new");
    let report = world.apply(vec![with_schema(b.upsert_row(2, 2, r2), &v2())]).await;
    assert_eq!((report.applied, report.rejected.len()), (1, 0), "{report:?}");
    let types = types(&world, "evolve").await;
    let ty = |c: &str| types.iter().find(|(n, _)| n == c).map(|(_, t)| t.clone()).unwrap();
    assert_eq!(ty("name"), "character varying(20)");
    assert_eq!(ty("qty"), "bigint");
    assert_eq!(ty("price"), "numeric(12,4)");
    assert_eq!(ty("extra"), "text");
    let row = sqlx::query(&format!("SELECT qty, price::text, extra FROM {} WHERE id = 2", world.table("evolve")))
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>(0), 5_000_000_000);
    assert_eq!(row.get::<String, _>(1), "12345678.1234");
    // an event with the old (narrower) schema still applies: the old declaration is not a narrowing
    // of the column, only of the source — but it IS a source narrowing, see the next test.
    world.cleanup().await;
}

#[tokio::test]
async fn unsafe_changes_quarantine_one_table() {
    let world = World::new().await;
    let t1 = EventBuilder::new(TableId::new(Some("db"), None, "narrowed"));
    let t2 = EventBuilder::new(TableId::new(Some("db"), None, "healthy"));
    let t3 = EventBuilder::new(TableId::new(Some("db"), None, "rekeyed"));
    let row = || Row::new().with("name", "a").with("qty", 1);
    world
        .apply(vec![
            with_schema(t1.upsert_row(1, 1, row()), &v2()),
            with_schema(t2.upsert_row(1, 1, row()), &v1()),
            with_schema(t3.upsert_row(1, 1, row()), &v1()),
        ])
        .await;
    // qty int64 -> int32 at the source: a narrowing; the PK of `rekeyed` changes to (id, name)
    let rekeyed = schema(
        &[("id", ColumnType::Int64), ("name", ColumnType::Text { max_length: Some(10) }), ("qty", ColumnType::Int32)],
        &["id", "name"],
    );
    let mut rekey_event = with_schema(t3.upsert_row(2, 2, row()), &rekeyed);
    rekey_event.key = Some(Row::new().with("id", 2).with("name", "a"));
    let report = world
        .apply(vec![
            with_schema(t1.upsert_row(2, 2, row()), &v1()),
            with_schema(t2.upsert_row(2, 2, row()), &v1()),
            rekey_event,
        ])
        .await;
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(report.rejected.len(), 2, "{report:?}");
    assert!(report.rejected.iter().all(|r| r.kind == RejectKind::Schema));
    assert!(report.rejected[0].message.contains("narrowed"), "{}", report.rejected[0].message);
    assert!(report.rejected[1].message.contains("primary key"), "{}", report.rejected[1].message);
    assert_eq!(world.count("healthy").await, 2);

    // remembered: even an event with the old wide schema is rejected now
    let report = world.apply(vec![with_schema(t1.upsert_row(3, 3, row()), &v2())]).await;
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].kind, RejectKind::Schema);

    // remembered across a restart of the sink
    let config = world.sink.config().clone();
    let restarted = sluice_sink_postgres::PostgresSink::new("again", config).unwrap();
    sluice_sink_api::Sink::startup(&restarted).await.unwrap();
    let report = sluice_sink_api::Sink::apply(
        &restarted,
        &sluice_sink_api::ChangeBatch::from_events(vec![with_schema(t1.upsert_row(3, 3, row()), &v2())]),
    )
    .await
    .unwrap();
    assert_eq!(report.rejected.len(), 1);

    // the operator clears the quarantine (after deciding the narrowing is fine)
    sqlx::query(&format!("DELETE FROM \"{}_sluice\".table_state WHERE table_name = $1", world.schema))
        .bind(format!("{}.narrowed", world.schema))
        .execute(&world.pool)
        .await
        .unwrap();
    let report = world.apply(vec![with_schema(t1.upsert_row(3, 3, row()), &v1())]).await;
    assert_eq!((report.applied, report.rejected.len()), (1, 0), "{report:?}");
    assert_eq!(world.count("narrowed").await, 2);
    world.cleanup().await;
}

#[tokio::test]
async fn auto_create_off_rejects_as_schema() {
    let mut config = crate::common::config().await;
    config.auto_create = false;
    let world = World::with(config).await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "absent"));
    let report = world.apply(vec![b.upsert(1, 1, "a")]).await;
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].kind, RejectKind::Schema);
    assert!(report.rejected[0].message.contains("auto_create is off"));
    world.cleanup().await;
}
