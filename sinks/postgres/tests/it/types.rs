//! Lossless type mapping, end to end: one column per source type, written
//! through the sink and read back from Postgres.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{
    Bits, ChangeEvent, ColumnSchema, ColumnType, Decimal, Geometry, Precision, RejectKind, Row, TableId, TableSchema,
    Value,
};
use sqlx::Row as _;

use crate::common::World;

fn col(name: &str, column_type: ColumnType) -> ColumnSchema {
    ColumnSchema { name: name.into(), column_type, optional: true, source_type: None }
}

/// (column, type, value, expected `::text` with TimeZone UTC, expected format_type)
fn cases() -> Vec<(&'static str, ColumnType, Value, &'static str, &'static str)> {
    let wkb = vec![1u8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40];
    vec![
        ("c_bool", ColumnType::Bool, Value::Bool(true), "true", "boolean"),
        ("c_i16", ColumnType::Int16, Value::Int(-32768), "-32768", "smallint"),
        ("c_i32", ColumnType::Int32, Value::Int(2_147_483_647), "2147483647", "integer"),
        ("c_i64", ColumnType::Int64, Value::Int(i64::MIN), "-9223372036854775808", "bigint"),
        ("c_u64", ColumnType::UInt64, Value::UInt(u64::MAX), "18446744073709551615", "numeric(20,0)"),
        ("c_f32", ColumnType::Float32, Value::Float(1.5), "1.5", "real"),
        ("c_f64", ColumnType::Float64, Value::Float(0.1), "0.1", "double precision"),
        (
            "c_dec",
            ColumnType::Decimal { precision: Some(10), scale: Some(2) },
            Value::Decimal(Decimal::parse("12345678.90").unwrap()),
            "12345678.90",
            "numeric(10,2)",
        ),
        (
            "c_vsdec",
            ColumnType::Decimal { precision: None, scale: None },
            Value::Decimal(Decimal::parse("-0.000000000000000000001234567890123456789").unwrap()),
            "-0.000000000000000000001234567890123456789",
            "numeric",
        ),
        (
            "c_varchar",
            ColumnType::Text { max_length: Some(5) },
            Value::Text("héllo".into()),
            "héllo",
            "character varying(5)",
        ),
        (
            "c_text",
            ColumnType::Text { max_length: None },
            Value::Text("產品 'q' \"dq\" \\ ; --".into()),
            "產品 'q' \"dq\" \\ ; --",
            "text",
        ),
        ("c_bytes", ColumnType::Bytes { max_length: None }, Value::Bytes(vec![0, 1, 255]), "\\x0001ff", "bytea"),
        ("c_date", ColumnType::Date, Value::Date(NaiveDate::from_ymd_opt(2016, 1, 16).unwrap()), "2016-01-16", "date"),
        (
            "c_time",
            ColumnType::Time { precision: 6 },
            // 17:51:04.780123456: the nanoseconds are truncated
            Value::Time { nanos: 64_264_780_123_456, precision: Precision::NANOS },
            "17:51:04.780123",
            "time(6) without time zone",
        ),
        (
            "c_timetz",
            ColumnType::TimeTz { precision: 6 },
            Value::TimeTz { nanos: 3_600_000_000_000, offset_seconds: -21600, precision: Precision::MICROS },
            "01:00:00-06",
            "time(6) with time zone",
        ),
        (
            "c_ts3",
            ColumnType::Timestamp { precision: 3 },
            Value::Timestamp {
                value: NaiveDate::from_ymd_opt(2014, 9, 8).unwrap().and_hms_milli_opt(17, 51, 4, 780).unwrap(),
                precision: Precision::MILLIS,
            },
            "2014-09-08 17:51:04.78",
            "timestamp(3) without time zone",
        ),
        (
            "c_ts_nanos",
            ColumnType::Timestamp { precision: 9 },
            Value::Timestamp {
                value: NaiveDate::from_ymd_opt(2020, 12, 31)
                    .unwrap()
                    .and_hms_nano_opt(23, 59, 59, 999_999_999)
                    .unwrap(),
                precision: Precision::NANOS,
            },
            "2020-12-31 23:59:59.999999",
            "timestamp(6) without time zone",
        ),
        (
            "c_tstz",
            ColumnType::TimestampTz { precision: 6 },
            Value::TimestampTz {
                value: Utc.timestamp_opt(1_294_764_030, 123_456_000).unwrap(),
                precision: Precision::MICROS,
            },
            "2011-01-11 16:40:30.123456+00",
            "timestamp(6) with time zone",
        ),
        (
            "c_json",
            ColumnType::Json,
            Value::Json(serde_json::json!({"a": [1, "x"], "b": null})),
            r#"{"a": [1, "x"], "b": null}"#,
            "jsonb",
        ),
        ("c_json_null", ColumnType::Json, Value::Json(serde_json::Value::Null), "null", "jsonb"),
        (
            "c_uuid",
            ColumnType::Uuid,
            Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".parse().unwrap()),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "uuid",
        ),
        (
            "c_enum",
            ColumnType::Enum { allowed: vec!["small".into(), "medium".into()] },
            Value::Enum("medium".into()),
            "medium",
            "text",
        ),
        (
            "c_set",
            ColumnType::Set { allowed: vec!["a".into(), "b".into(), "c".into()] },
            Value::Set(vec!["a".into(), "c".into()]),
            "a,c",
            "text",
        ),
        (
            "c_bits",
            ColumnType::Bits { length: 10 },
            Value::Bits(Bits::from_bools("1010000001".chars().map(|c| c == '1').collect())),
            "1010000001",
            "bit varying(10)",
        ),
        (
            "c_geometry",
            ColumnType::Geometry,
            Value::Geometry(Geometry { wkb: wkb.clone(), srid: Some(4326) }),
            "\\x0101000000000000000000f03f0000000000000040",
            "bytea",
        ),
        (
            "c_array",
            ColumnType::Array { element: Box::new(ColumnType::Int64) },
            Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)]),
            "{1,NULL,3}",
            "bigint[]",
        ),
        (
            "c_unknown",
            ColumnType::Unknown { name: "money2".into() },
            Value::Text("whatever".into()),
            "whatever",
            "text",
        ),
        ("c_null", ColumnType::Text { max_length: None }, Value::Null, "<null>", "text"),
    ]
}

fn schema(cases: &[(&str, ColumnType, Value, &str, &str)]) -> Arc<TableSchema> {
    let mut columns =
        vec![ColumnSchema { name: "id".into(), column_type: ColumnType::Int64, optional: false, source_type: None }];
    columns.extend(cases.iter().map(|(n, t, ..)| col(n, t.clone())));
    Arc::new(TableSchema { columns, primary_key: vec!["id".into()] })
}

#[tokio::test]
async fn every_type_round_trips() {
    let world = World::new().await;
    let cases = cases();
    let b = EventBuilder::new(TableId::new(Some("db"), None, "types"));
    let mut row = Row::new();
    for (name, _, value, ..) in &cases {
        row.insert(*name, value.clone());
    }
    let mut event = b.upsert_row(1, 1, row);
    event.schema = Some(schema(&cases));
    let report = world.apply(vec![event]).await;
    assert_eq!((report.applied, report.rejected.len()), (1, 0), "{report:?}");

    let mut conn = world.pool.acquire().await.unwrap();
    sqlx::query("SET TIME ZONE 'UTC'").execute(&mut *conn).await.unwrap();
    for (name, _, _, expected, ddl) in &cases {
        let sql = format!(
            "SELECT coalesce({c}::text, '<null>'), format_type(a.atttypid, a.atttypmod) FROM {t},
               pg_attribute a WHERE a.attrelid = '{t}'::regclass AND a.attname = '{name}' AND id = 1",
            c = format_args!("\"{name}\""),
            t = world.table("types"),
        );
        let r = sqlx::query(&sql).fetch_one(&mut *conn).await.unwrap();
        let (text, ty): (String, String) = (r.get(0), r.get(1));
        assert_eq!(&text, expected, "value of {name}");
        assert_eq!(&ty, ddl, "type of {name}");
    }
    drop(conn);
    world.cleanup().await;
}

/// Bad input is permanent for that record only, naming table, column and offset.
#[tokio::test]
async fn bad_values_reject_only_their_record() {
    let world = World::new().await;
    let table = TableId::new(Some("db"), None, "bad");
    let b = EventBuilder::new(table);
    let schema = Arc::new(TableSchema {
        columns: vec![
            ColumnSchema { name: "id".into(), column_type: ColumnType::Int64, optional: false, source_type: None },
            col("small", ColumnType::Int16),
            col("code", ColumnType::Text { max_length: Some(3) }),
            col("amount", ColumnType::Decimal { precision: Some(5), scale: Some(2) }),
        ],
        primary_key: vec!["id".into()],
    });
    let ev = |id: i64, version: u64, row: Row| -> ChangeEvent {
        let mut e = b.upsert_row(id, version, row);
        e.schema = Some(schema.clone());
        e
    };
    let good = ev(1, 1, Row::new().with("small", 1).with("code", "abc"));
    let too_big = ev(2, 2, Row::new().with("small", 70_000));
    let too_long = ev(3, 3, Row::new().with("code", "abcd"));
    let rounded = ev(4, 4, Row::new().with("amount", Value::Decimal(Decimal::parse("1.234").unwrap())));
    let mut null_key = ev(5, 5, Row::new());
    null_key.key = Some(Row::new().with("id", Value::Null));
    let mut no_key = ev(6, 6, Row::new());
    no_key.key = None;
    let also_good = ev(7, 7, Row::new().with("small", -5));
    let report = world.apply(vec![good, too_big, too_long, rounded, null_key, no_key, also_good]).await;
    assert_eq!(report.applied, 2, "{report:?}");
    let rejected: Vec<(usize, RejectKind)> = report.rejected.iter().map(|r| (r.index, r.kind)).collect();
    assert_eq!(
        rejected,
        vec![
            (1, RejectKind::DataType),
            (2, RejectKind::DataType),
            (3, RejectKind::DataType),
            (4, RejectKind::Key),
            (5, RejectKind::Key)
        ]
    );
    let topic = &b.topic;
    for (r, column, offset) in
        [(&report.rejected[0], "small", 2), (&report.rejected[1], "code", 3), (&report.rejected[2], "amount", 4)]
    {
        assert!(r.message.contains(&format!("{}.bad", world.schema)), "{}", r.message);
        assert!(r.message.contains(&format!("column {column}")), "{}", r.message);
        assert!(r.message.contains(&format!("{topic}/0@{offset}")), "{}", r.message);
    }
    assert!(report.rejected[3].message.contains("NULL in a primary key column"), "{}", report.rejected[3].message);
    assert!(report.rejected[4].message.contains("no key"), "{}", report.rejected[4].message);
    assert_eq!(world.count("bad").await, 2);
    world.cleanup().await;
}
