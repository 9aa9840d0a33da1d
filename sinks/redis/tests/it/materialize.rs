//! Materialize mode details against the shared Redis: per-record rejections,
//! lossless JSON merges, TTLs and tombstones, versions beyond 2^53.

use std::collections::HashMap;

use redis::AsyncCommands;
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{
    ChangeBatch, Decimal, ErrorClass, Op, RejectKind, Row, Sink, TableId, Value, Version, VersionScheme,
};
use sluice_sink_redis::{MaterializeConfig, MaterializeFormat, RedisMode, RedisSink, RedisSinkConfig, TableConfig};

use crate::common::{cleanup, connect, materialize_config, prefix, shared_url, started};

fn builder() -> EventBuilder {
    EventBuilder::new(TableId::new(Some("shop"), None, "rows"))
}

fn with_template(mut config: RedisSinkConfig, template: &str) -> RedisSinkConfig {
    config
        .tables
        .insert("shop.rows".into(), TableConfig { keys: Some(vec![template.into()]), ..TableConfig::default() });
    config
}

#[tokio::test]
async fn a_bad_stored_value_rejects_only_its_record() {
    let url = shared_url().await;
    let prefix = prefix("materialize_reject");
    let mut conn = connect(&url).await;
    let b = builder();
    for format in [MaterializeFormat::Hash, MaterializeFormat::Json] {
        let p = format!("{prefix}{}:", format.as_str());
        let sink = started("m", with_template(materialize_config(&url, &p, format), "row:{id}")).await;
        // key 2 holds something sluice did not write
        match format {
            MaterializeFormat::Hash => {
                let _: () = conn.set(format!("{p}row:2"), "a plain string").await.unwrap();
            }
            MaterializeFormat::Json => {
                let _: () = conn.set(format!("{p}row:2"), "not json {").await.unwrap();
            }
        }
        let report = sink
            .apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "a"), b.upsert(2, 2, "b"), b.upsert(3, 3, "c")]))
            .await
            .unwrap();
        assert_eq!(report.applied, 2, "{report:?}");
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        let rejection = &report.rejected[0];
        assert_eq!((rejection.index, rejection.kind), (1, RejectKind::DataType));
        let code = if format == MaterializeFormat::Hash { "WRONGTYPE" } else { "SLUICEDATA" };
        assert!(rejection.message.contains(code), "{}", rejection.message);
        assert!(rejection.message.contains("shop.rows") && rejection.message.contains("@2"), "{}", rejection.message);
    }
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn unrenderable_keys_truncates_and_version_field_collisions_are_rejected() {
    let url = shared_url().await;
    let prefix = prefix("materialize_keys");
    let b = builder();
    let sink =
        started("m", with_template(materialize_config(&url, &prefix, MaterializeFormat::Hash), "row:{name}")).await;
    let report = sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "a")])).await.unwrap();
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].kind, RejectKind::Key);
    assert!(report.rejected[0].message.contains("only name primary-key columns"), "{}", report.rejected[0].message);

    let sink = started("m", materialize_config(&url, &prefix, MaterializeFormat::Hash)).await;
    let collision = b.upsert_row(1, 1, Row::new().with("_sluice_version", "x"));
    let truncate = b.event(Op::Truncate, 0, 2, None, None);
    let mut no_key = b.upsert(3, 3, "c");
    no_key.key = None;
    let report =
        sink.apply(&ChangeBatch::from_events(vec![collision, truncate, no_key, b.upsert(4, 4, "d")])).await.unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    let kinds: Vec<_> = report.rejected.iter().map(|r| (r.index, r.kind)).collect();
    assert_eq!(kinds, vec![(0, RejectKind::DataType), (1, RejectKind::Other), (2, RejectKind::Key)]);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn json_merge_keeps_unavailable_members_and_big_numbers_exact() {
    let url = shared_url().await;
    let prefix = prefix("materialize_json");
    let sink =
        started("m", with_template(materialize_config(&url, &prefix, MaterializeFormat::Json), "row:{id}")).await;
    let b = builder();
    let big = (1i64 << 53) + 1; // not representable as a double
    let first = Row::new()
        .with("name", "a \"quoted\" \\ name")
        .with("big", Value::Int(big))
        .with("huge", Value::UInt(u64::MAX))
        .with("price", Value::Decimal(Decimal::parse("12.30").unwrap()))
        .with("doc", Value::Json(serde_json::json!({"nested": [1, {"x": "}"}]})))
        .with("tricky", Value::Json(serde_json::json!({"s": "a,b]\\\"}{[", "e": [], "o": {}, "n": null})))
        .with("float", Value::Float(-1.5e-7))
        .with("unicode", "产品 ✓ \u{1f600}")
        .with("note", "long text");
    sink.apply(&ChangeBatch::from_events(vec![b.upsert_row(1, 1, first)])).await.unwrap();
    let mut second = Row::new().with("name", "b");
    second.insert("note", Value::Unavailable);
    second.insert("doc", Value::Unavailable);
    second.insert("price", Value::Null);
    let report = sink.apply(&ChangeBatch::from_events(vec![b.upsert_row(1, 2, second)])).await.unwrap();
    assert_eq!(report.applied, 1);

    let mut conn = connect(&url).await;
    let raw: String = conn.get(format!("{prefix}row:1")).await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(doc["name"], "b");
    assert_eq!(doc["note"], "long text", "unavailable member kept: {raw}");
    assert_eq!(doc["doc"], serde_json::json!({"nested": [1, {"x": "}"}]}), "{raw}");
    assert_eq!(doc["tricky"], serde_json::json!({"s": "a,b]\\\"}{[", "e": [], "o": {}, "n": null}), "{raw}");
    assert_eq!(doc["float"].as_f64(), Some(-1.5e-7), "{raw}");
    assert_eq!(doc["unicode"], "产品 ✓ \u{1f600}", "{raw}");
    assert_eq!(doc["big"].as_i64(), Some(big), "{raw}");
    assert_eq!(doc["huge"].as_u64(), Some(u64::MAX), "{raw}");
    assert!(doc["price"].is_null(), "{raw}");
    assert_eq!(doc["_sluice_version"], format!("{:039}", 2), "{raw}");
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn hash_fields_ttl_and_tombstones() {
    let url = shared_url().await;
    let prefix = prefix("materialize_ttl");
    let mut config = with_template(materialize_config(&url, &prefix, MaterializeFormat::Hash), "row:{id}");
    config.materialize = Some(MaterializeConfig {
        ttl: Some(std::time::Duration::from_secs(600)),
        tombstone_ttl: std::time::Duration::from_secs(3600),
        ..MaterializeConfig::default()
    });
    let sink = started("m", config).await;
    let b = builder();
    let mut conn = connect(&url).await;
    let first = Row::new().with("name", "a").with("note", "n");
    sink.apply(&ChangeBatch::from_events(vec![b.upsert_row(1, 5, first)])).await.unwrap();
    let mut second = Row::new().with("name", Value::Null);
    second.insert("note", Value::Unavailable);
    sink.apply(&ChangeBatch::from_events(vec![b.upsert_row(1, 6, second)])).await.unwrap();
    let fields: HashMap<String, String> = conn.hgetall(format!("{prefix}row:1")).await.unwrap();
    assert_eq!(fields.get("note").map(String::as_str), Some("n"), "unavailable field untouched: {fields:?}");
    assert!(!fields.contains_key("name"), "NULL removes the field: {fields:?}");
    assert_eq!(fields["_sluice_version"], format!("{:039}", 6));
    let ttl: i64 = conn.pttl(format!("{prefix}row:1")).await.unwrap();
    assert!(ttl > 590_000 && ttl <= 600_000, "live ttl {ttl}");
    // with a live TTL the version guard is kept too, for the tombstone TTL
    let guard = format!("{prefix}sluice:tombstone:row:1");
    let guard_ttl: i64 = conn.pttl(&guard).await.unwrap();
    assert!(guard_ttl > 3_590_000, "guard ttl {guard_ttl}");

    // a delete leaves a versioned tombstone; an older write is stale
    sink.apply(&ChangeBatch::from_events(vec![b.delete(1, 7)])).await.unwrap();
    let exists: bool = conn.exists(format!("{prefix}row:1")).await.unwrap();
    assert!(!exists);
    let tombstone: String = conn.get(&guard).await.unwrap();
    assert_eq!(tombstone, format!("{:039}", 7));
    let report = sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 6, "zombie")])).await.unwrap();
    assert_eq!((report.applied, report.stale), (0, 1));
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn versions_beyond_doubles_compare_exactly() {
    let url = shared_url().await;
    let prefix = prefix("materialize_u128");
    let sink = started("m", materialize_config(&url, &prefix, MaterializeFormat::Hash)).await;
    let b = builder();
    let at = |value: u128, name: &str| {
        let mut e = b.upsert(1, 1, name);
        e.version = Version::from_raw(VersionScheme::MysqlBinlog, value);
        e
    };
    let base = 1u128 << 53;
    for (value, name, applied) in [
        (base + 2, "b", 1),
        (base + 1, "a", 0), // equal as doubles, older as integers
        (u128::MAX - 1, "max-1", 1),
        (u128::MAX, "max", 1),
        (u128::MAX - 1, "late", 0),
    ] {
        let report = sink.apply(&ChangeBatch::from_events(vec![at(value, name)])).await.unwrap();
        assert_eq!(report.applied, applied, "version {value}: {report:?}");
    }
    let mut conn = connect(&url).await;
    let name: String = conn.hget(format!("{prefix}shop.rows:1"), "name").await.unwrap();
    assert_eq!(name, "max");
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn unreachable_redis_is_transient() {
    let port = sluice_testkit::free_port();
    let config = RedisSinkConfig::new(format!("redis://127.0.0.1:{port}"), RedisMode::Materialize);
    let sink = RedisSink::new("down", config).unwrap();
    let err = sink.startup().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{}", err.full_message());
    let err = sink.apply(&ChangeBatch::from_events(vec![builder().upsert(1, 1, "a")])).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{}", err.full_message());
    assert!(err.message.contains(&format!("127.0.0.1:{port}")), "{}", err.message);
    let err = sink.healthcheck().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient);
}

#[test]
fn invalid_config_is_fatal_and_names_the_field() {
    let mut config = RedisSinkConfig::new("redis://u:hunter2@h:1", RedisMode::Materialize);
    config.pipeline_size = 0;
    let err = RedisSink::new("cache", config).unwrap_err();
    assert_eq!(err.class, ErrorClass::Fatal);
    assert!(err.message.contains("cache.pipeline_size"), "{}", err.message);
    assert!(!err.message.contains("hunter2"));
}
