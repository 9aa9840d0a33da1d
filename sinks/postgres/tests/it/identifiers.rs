//! Hostile identifiers: quotes, semicolons, comments, unicode, reserved
//! words and names over 63 bytes are plain names.

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{Row, TableId, Value};
use sluice_sink_postgres::ident::{pg_name, quote};
use sqlx::Row as _;

use crate::common::World;

#[tokio::test]
async fn hostile_table_and_column_names() {
    let world = World::new().await;
    let long_table = format!("t_{}", "x".repeat(70));
    let hostile_tables = ["we\"ird; DROP TABLE x; --".to_string(), "Ünïcødé 表".to_string(), long_table];
    let columns = [
        "\"quoted\"".to_string(),
        "semi;colon".to_string(),
        "--dash".to_string(),
        "select".to_string(),
        "ünï cødé".to_string(),
        format!("c_{}", "y".repeat(70)),
        format!("c_{}z", "y".repeat(70)),
    ];
    for table in &hostile_tables {
        let b = EventBuilder::new(TableId::new(Some("db"), None, table));
        let row = |n: i64| {
            let mut r = Row::new();
            for (i, c) in columns.iter().enumerate() {
                r.insert(c.clone(), Value::Text(format!("{n}-{i}")));
            }
            r
        };
        let mut events = vec![b.upsert_row(1, 1, row(1)), b.upsert_row(2, 2, row(2)), b.upsert_row(1, 3, row(3))];
        events.push(b.delete(2, 4));
        for e in &mut events {
            e.schema = None; // inferred from values
        }
        let report = world.apply(events).await;
        assert_eq!(report.applied + report.stale, 4, "{table}: {report:?}");
        assert!(report.rejected.is_empty(), "{report:?}");
        let target = world.table(&pg_name(table));
        let select: Vec<String> = columns.iter().map(|c| format!("{}::text", quote(&pg_name(c)))).collect();
        let rows = sqlx::query(&format!("SELECT id::int8, {} FROM {target} ORDER BY id", select.join(", ")))
            .fetch_all(&world.pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{table}");
        assert_eq!(rows[0].get::<i64, _>(0), 1);
        for (i, column) in columns.iter().enumerate() {
            assert_eq!(rows[0].get::<String, _>(i + 1), format!("3-{i}"), "{table} column {column}");
        }
    }
    // the two long column names stayed distinct, each within 63 bytes
    assert_ne!(pg_name(&columns[5]), pg_name(&columns[6]));
    assert!(pg_name(&columns[5]).len() <= 63);
    world.cleanup().await;
}
