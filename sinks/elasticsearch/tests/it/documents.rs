//! Documents as stored: every value kind, `_id`s of composite keys,
//! per-table overrides, unavailable columns.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{
    Bits, ChangeBatch, ChangeEvent, ColumnSchema, ColumnType, Decimal, Geometry, Op, Precision, Row, Sink, TableId,
    TableSchema, Value,
};
use sluice_sink_elasticsearch::config::TableOverride;
use sluice_sink_elasticsearch::{DecimalMode, UnavailableMode};

use crate::common::{config, es_url, get_doc, sink, unique};

fn col(name: &str, column_type: ColumnType) -> ColumnSchema {
    ColumnSchema { name: name.into(), column_type, optional: true, source_type: None }
}

#[tokio::test]
async fn every_value_kind_is_indexed_with_a_derived_mapping() {
    let url = es_url().await;
    let sink = sink(config(&url));
    let b = EventBuilder::new(TableId::new(Some("docs"), None, &unique("kinds")));
    let ts = NaiveDate::from_ymd_opt(2014, 9, 8).unwrap().and_hms_nano_opt(17, 51, 4, 780_000_000).unwrap();
    let row = Row::new()
        .with("flag", true)
        .with("big", Value::UInt(u64::MAX))
        .with("ratio", Value::Float(0.25))
        .with("price", Value::Decimal(Decimal::parse("12345.67").unwrap()))
        .with("wide", Value::Decimal(Decimal::parse("123456789012345678901234567890.123").unwrap()))
        .with("raw", Value::Bytes(vec![0, 1, 255]))
        .with("day", Value::Date(NaiveDate::from_ymd_opt(2016, 1, 16).unwrap()))
        .with("at", Value::Time { nanos: 64_264_780_000_000, precision: Precision::MILLIS })
        .with("local", Value::Timestamp { value: ts, precision: Precision::MICROS })
        .with(
            "instant",
            Value::TimestampTz {
                value: Utc.timestamp_opt(1_294_764_030, 123_456_789).unwrap(),
                precision: Precision::NANOS,
            },
        )
        .with("doc", Value::Json(json!({"k": [1, 2], "s": "x"})))
        .with("uid", Value::Uuid(uuid::Uuid::nil()))
        .with("kind", Value::Enum("b".into()))
        .with("tags", Value::Set(vec!["a".into(), "b".into()]))
        .with("mask", Value::Bits(Bits::from_le_bytes(&[2], 2)))
        .with("shape", Value::Geometry(Geometry { wkb: vec![1, 2], srid: Some(4326) }))
        .with("ints", Value::Array(vec![Value::Int(1), Value::Int(2)]))
        .with("nothing", Value::Null);
    let schema = TableSchema {
        columns: vec![
            col("id", ColumnType::Int64),
            col("flag", ColumnType::Bool),
            col("big", ColumnType::UInt64),
            col("ratio", ColumnType::Float64),
            col("price", ColumnType::Decimal { precision: Some(10), scale: Some(2) }),
            col("wide", ColumnType::Decimal { precision: Some(33), scale: Some(3) }),
            col("raw", ColumnType::Bytes { max_length: None }),
            col("day", ColumnType::Date),
            col("at", ColumnType::Time { precision: 3 }),
            col("local", ColumnType::Timestamp { precision: 6 }),
            col("instant", ColumnType::TimestampTz { precision: 9 }),
            col("doc", ColumnType::Json),
            col("uid", ColumnType::Uuid),
            col("kind", ColumnType::Enum { allowed: vec!["a".into(), "b".into()] }),
            col("tags", ColumnType::Set { allowed: vec!["a".into(), "b".into()] }),
            col("mask", ColumnType::Bits { length: 2 }),
            col("shape", ColumnType::Geometry),
            col("ints", ColumnType::Array { element: Box::new(ColumnType::Int32) }),
            col("nothing", ColumnType::Text { max_length: None }),
        ],
        primary_key: vec!["id".into()],
    };
    let mut event = b.upsert_row(7, 1, row);
    event.schema = Some(Arc::new(schema));
    let report = sink.apply(&ChangeBatch::from_events(vec![event])).await.unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let index = sink.index_for(&b.table, "").unwrap();
    let (source, version) = get_doc(&url, &index, "7").await.unwrap().unwrap();
    assert_eq!(version, 1);
    assert_eq!(
        source,
        json!({
            "id": 7, "flag": true, "big": u64::MAX, "ratio": 0.25, "price": "12345.67",
            "wide": "123456789012345678901234567890.123", "raw": "AAH/", "day": "2016-01-16",
            "at": "17:51:04.780", "local": "2014-09-08T17:51:04.780000",
            "instant": "2011-01-11T16:40:30.123456789Z", "doc": {"k": [1, 2], "s": "x"},
            "uid": "00000000-0000-0000-0000-000000000000", "kind": "b", "tags": ["a", "b"], "mask": "10",
            "shape": {"wkb": "AQI=", "srid": 4326}, "ints": [1, 2], "nothing": null
        })
    );
    let mapping: serde_json::Value =
        reqwest::get(format!("{url}/{index}/_mapping")).await.unwrap().json().await.unwrap();
    let p = &mapping[&index]["mappings"]["properties"];
    assert_eq!(p["price"]["type"], "scaled_float");
    assert_eq!(p["wide"]["type"], "keyword");
    assert_eq!(p["instant"]["type"], "date");
    assert_eq!(p["big"]["type"], "unsigned_long");
    assert_eq!(p["uid"]["type"], "keyword");
}

#[tokio::test]
async fn composite_keys_overrides_and_decimal_numbers() {
    let url = es_url().await;
    let table = TableId::new(Some("Docs"), None, &unique("Composite"));
    let mut c = config(&url);
    c.decimal = DecimalMode::Number;
    let custom = unique("custom");
    c.tables.insert(table.qualified(), TableOverride { index: Some(format!("{custom}-{{table}}")), id: None });
    let sink = sink(c);
    let key = |a: &str, b: &str| Row::new().with("a", a).with("b", b);
    let event = |k: Row, version: u64| {
        let mut after = k.clone();
        after.insert("price", Value::Decimal(Decimal::parse("12.50").unwrap()));
        ChangeEvent {
            key: Some(k),
            after: Some(after),
            ..EventBuilder::new(table.clone()).event(Op::Create, 0, version, None, None)
        }
    };
    // ("x_y", "z") and ("x", "y_z") would collide without escaping.
    let report = sink
        .apply(&ChangeBatch::from_events(vec![event(key("x_y", "z"), 1), event(key("x", "y_z"), 2)]))
        .await
        .unwrap();
    assert_eq!(report.applied, 2);
    let index = sink.index_for(&table, "").unwrap();
    assert_eq!(index, format!("{custom}-{}", table.table.to_lowercase()));
    let one = get_doc(&url, &index, "x%5C_y_z").await.unwrap().expect("x\\_y_z");
    let two = get_doc(&url, &index, "x_y%5C_z").await.unwrap().expect("x_y\\_z");
    assert_eq!((one.0["a"].clone(), two.0["a"].clone()), (json!("x_y"), json!("x")));
    assert_eq!(one.0["price"], json!(12.5));
}

/// Merge carries the stored value of an unavailable column; omit drops it.
#[tokio::test]
async fn unavailable_columns_merge_or_omit() {
    let url = es_url().await;
    for mode in [UnavailableMode::Merge, UnavailableMode::Omit] {
        let mut c = config(&url);
        c.unavailable = mode;
        let sink = sink(c);
        let b = EventBuilder::new(TableId::new(Some("toast"), None, &unique("t")));
        let mut toasted = Row::new().with("name", "b");
        toasted.insert("note", Value::Unavailable);
        // key 1: stored earlier; key 2: full image earlier in the same batch.
        sink.apply(&ChangeBatch::from_events(vec![b.upsert_row(
            1,
            1,
            Row::new().with("name", "a").with("note", "big"),
        )]))
        .await
        .unwrap();
        let report = sink
            .apply(&ChangeBatch::from_events(vec![
                b.upsert_row(1, 2, toasted.clone()),
                b.upsert_row(2, 4, toasted.clone()),
                b.upsert_row(2, 3, Row::new().with("name", "a").with("note", "in-batch")),
            ]))
            .await
            .unwrap();
        assert_eq!(report.applied + report.stale, 3);
        let index = sink.index_for(&b.table, "").unwrap();
        let one = get_doc(&url, &index, "1").await.unwrap().unwrap().0;
        let two = get_doc(&url, &index, "2").await.unwrap().unwrap().0;
        assert_eq!((&one["name"], &two["name"]), (&json!("b"), &json!("b")));
        match mode {
            UnavailableMode::Merge => {
                assert_eq!(one["note"], "big");
                assert_eq!(two["note"], "in-batch");
            }
            UnavailableMode::Omit => {
                assert!(one.get("note").is_none() && two.get("note").is_none(), "{one} {two}");
            }
        }
        assert!(!one.to_string().contains(sluice_sink_api::UNAVAILABLE_PLACEHOLDER));
    }
}
