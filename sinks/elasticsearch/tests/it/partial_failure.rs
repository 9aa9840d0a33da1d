//! Per-item failures: one bad document in a batch of 500 is rejected alone.

use std::sync::Arc;

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{
    ChangeBatch, ColumnSchema, ColumnType, RejectKind, Row, Sink, TableId, TableSchema, Value, Version,
};

use crate::common::{config, es_url, get_doc, sink, unique};

fn schema_with_number() -> Arc<TableSchema> {
    let mut schema = (*EventBuilder::schema()).clone();
    schema.columns.push(ColumnSchema {
        name: "n".into(),
        column_type: ColumnType::Int64,
        optional: true,
        source_type: None,
    });
    Arc::new(schema)
}

#[tokio::test]
async fn one_bad_document_in_500_is_rejected_alone() {
    let url = es_url().await;
    let mut c = config(&url);
    c.max_bulk_actions = 128; // several chunks, sent concurrently
    let sink = sink(c);
    let b = EventBuilder::new(TableId::new(Some("partial"), None, &unique("t")));
    let schema = schema_with_number();
    let events: Vec<_> = (0..500)
        .map(|i| {
            let n = if i == 321 { Value::Text("not a number".into()) } else { Value::Int(i) };
            let mut e = b.upsert_row(i, i as u64 + 1, Row::new().with("name", format!("n{i}").as_str()).with("n", n));
            e.schema = Some(schema.clone());
            e
        })
        .collect();
    let report = sink.apply(&ChangeBatch::from_events(events)).await.unwrap();
    assert_eq!(report.applied, 499);
    assert_eq!(report.stale, 0);
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    let r = &report.rejected[0];
    assert_eq!((r.index, r.kind), (321, RejectKind::Mapping));
    let index = sink.index_for(&b.table, "").unwrap();
    for needle in [index.as_str(), "_id \"321\"", "[n]", "not a number", "@322"] {
        assert!(r.message.contains(needle), "{needle:?} not in {:?}", r.message);
    }
    // The index was created from the schema: `n` is a long, `name` text.
    let mapping: serde_json::Value =
        reqwest::get(format!("{url}/{index}/_mapping")).await.unwrap().json().await.unwrap();
    assert_eq!(mapping[&index]["mappings"]["properties"]["n"]["type"], "long");
    assert_eq!(mapping[&index]["mappings"]["properties"]["id"]["type"], "long");
    assert!(get_doc(&url, &index, "320").await.unwrap().is_some());
    assert!(get_doc(&url, &index, "321").await.unwrap().is_none());
    assert!(get_doc(&url, &index, "499").await.unwrap().is_some());
    // Re-applying the batch is harmless (equal versions overwrite with the
    // same content) and rejects the same event again.
    let again: Vec<_> = (0..500)
        .map(|i| {
            let n = if i == 321 { Value::Text("not a number".into()) } else { Value::Int(i) };
            let mut e = b.upsert_row(i, i as u64 + 1, Row::new().with("name", format!("n{i}").as_str()).with("n", n));
            e.schema = Some(schema.clone());
            e
        })
        .collect();
    let report = sink.apply(&ChangeBatch::from_events(again)).await.unwrap();
    assert_eq!(report.applied + report.stale, 499);
    assert_eq!(report.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), vec![321]);
}

#[tokio::test]
async fn unrepresentable_versions_and_keys_are_rejected_without_a_request() {
    let url = es_url().await;
    let sink = sink(config(&url));
    let b = EventBuilder::new(TableId::new(Some("partial"), None, &unique("v")));
    let mut too_big = b.upsert(1, 1, "a");
    too_big.version = Version::postgres(1, u64::MAX);
    let mut no_key = b.upsert(2, 2, "b");
    no_key.key = None;
    let ok = b.upsert(3, 3, "c");
    let report = sink.apply(&ChangeBatch::from_events(vec![too_big, no_key, ok])).await.unwrap();
    assert_eq!(report.applied, 1);
    assert_eq!(report.rejected.len(), 2);
    assert_eq!(report.rejected[0].kind, RejectKind::Version);
    assert!(report.rejected[0].message.contains("does not fit the Elasticsearch external version mapping"));
    assert!(report.rejected[0].message.contains("change LSN 18446744073709551615 >= 2^63"));
    assert_eq!(report.rejected[1].kind, RejectKind::Key);

    // A template needing a part the table lacks names both.
    let mut c = config(&url);
    c.index = "{db}.{schema}.{table}".into();
    let sink = crate::common::sink(c);
    let report = sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "a")])).await.unwrap();
    assert_eq!(report.rejected[0].kind, RejectKind::Key);
    assert!(report.rejected[0].message.contains("needs {schema}"), "{}", report.rejected[0].message);
}
