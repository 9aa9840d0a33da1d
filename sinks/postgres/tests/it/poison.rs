//! Poison isolation by bisection: one constraint-violating record in a batch
//! is rejected with table, column and offset; everything else applies, and a
//! source transaction's other changes still commit together.

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, RejectKind, Row, Sink, TableId, Value};

use crate::common::World;

#[tokio::test]
async fn one_bad_row_in_500() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "poison"));
    world.apply(vec![b.upsert(0, 1, "seed")]).await;
    // a constraint the source does not have
    sqlx::query(&format!("ALTER TABLE {} ALTER COLUMN name SET NOT NULL", world.table("poison")))
        .execute(&world.pool)
        .await
        .unwrap();
    let mut events: Vec<_> = (1..=500).map(|i| b.upsert(i, 100 + i as u64, &format!("n{i}"))).collect();
    events[316] = b.upsert_row(317, 417, Row::new().with("name", Value::Null));
    let report = world.apply(events).await;
    assert_eq!(report.applied, 499, "{report:?}");
    assert_eq!(report.rejected.len(), 1);
    let r = &report.rejected[0];
    assert_eq!((r.index, r.kind), (316, RejectKind::Constraint));
    assert!(r.message.contains(&format!("table {}.poison", world.schema)), "{}", r.message);
    assert!(r.message.contains("column name"), "{}", r.message);
    assert!(r.message.contains(&format!("{}/0@417", b.topic)), "{}", r.message);
    assert_eq!(world.count("poison").await, 500);
    world.cleanup().await;
}

#[tokio::test]
async fn poison_inside_a_transaction_keeps_the_rest_of_it() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "poison_tx"));
    world.apply(vec![b.upsert(0, 1, "seed")]).await;
    sqlx::query(&format!("ALTER TABLE {} ADD CONSTRAINT no_bad CHECK (name <> 'bad')", world.table("poison_tx")))
        .execute(&world.pool)
        .await
        .unwrap();
    let tx = |id: &str, events: Vec<sluice_sink_api::ChangeEvent>| {
        events.into_iter().enumerate().map(|(i, e)| EventBuilder::in_tx(e, id, i as u64 + 1)).collect::<Vec<_>>()
    };
    let batch = ChangeBatch::from_units(vec![
        tx("t1", vec![b.upsert(1, 10, "a"), b.upsert(2, 11, "b")]),
        tx("t2", vec![b.upsert(3, 12, "c"), b.upsert(4, 13, "bad"), b.upsert(5, 14, "e")]),
        tx("t3", vec![b.upsert(6, 15, "f")]),
    ]);
    let report = world.sink.apply(&batch).await.unwrap();
    assert_eq!(report.applied, 5, "{report:?}");
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].index, 3);
    assert!(report.rejected[0].message.contains("no_bad"), "{}", report.rejected[0].message);
    let names: Vec<i64> = world.names("poison_tx").await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(names, vec![0, 1, 2, 3, 5, 6]);
    world.cleanup().await;
}
