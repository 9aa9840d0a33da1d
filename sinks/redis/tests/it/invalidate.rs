//! Invalidate mode against the shared Redis: before and after keys removed,
//! invalidations published to a real subscriber, rejections isolated.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use redis::AsyncCommands;
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, Op, RejectKind, Row, Sink, TableId, Value};
use sluice_sink_redis::invalidate::InvalidationMessage;
use sluice_sink_redis::{InvalidateCommand, InvalidateConfig, NullKeys, RedisMode, RedisSinkConfig, TableConfig};

use crate::common::{cleanup, connect, prefix, shared_url, started};

fn user(id: i64, email: Option<&str>) -> Row {
    let mut row = Row::new().with("id", id).with("name", format!("u{id}"));
    row.insert("email", email.map_or(Value::Null, |e| Value::Text(e.to_string())));
    row
}

fn config(url: &str, prefix: &str, channel: Option<String>) -> RedisSinkConfig {
    let mut config = RedisSinkConfig::new(url, RedisMode::Invalidate);
    config.key_prefix = prefix.to_string();
    config.invalidate = Some(InvalidateConfig { command: InvalidateCommand::Unlink, channel });
    config.tables.insert(
        "shop.users".into(),
        TableConfig { keys: Some(vec!["user:{id}".into(), "user:email:{email}".into()]), ..TableConfig::default() },
    );
    config
}

#[tokio::test]
async fn changed_indexed_field_invalidates_old_and_new_key_and_publishes() {
    let url = shared_url().await;
    let prefix = prefix("invalidate");
    let channel = format!("{prefix}invalidations:{{qualified}}");
    let sink = started("cache", config(&url, &prefix, Some(channel.clone()))).await;
    let mut conn = connect(&url).await;
    let cached = ["user:7", "user:email:old@x.io", "user:email:new@x.io", "user:9", "user:email:z@x.io", "user:8"];
    for key in cached {
        let _: () = conn.set(format!("{prefix}{key}"), "cached").await.unwrap();
    }

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut subscriber = client.get_async_pubsub().await.unwrap();
    let channel_name = format!("{prefix}invalidations:shop.users");
    subscriber.subscribe(&channel_name).await.unwrap();

    let b = EventBuilder::new(TableId::new(Some("shop"), None, "users"));
    let batch = ChangeBatch::from_events(vec![
        b.event(Op::Update, 7, 10, Some(user(7, Some("old@x.io"))), Some(user(7, Some("new@x.io")))),
        b.event(Op::Delete, 9, 11, Some(user(9, Some("z@x.io"))), None),
        // NULL email cannot be rendered: this record alone is rejected
        b.event(Op::Create, 10, 12, None, Some(user(10, None))),
    ]);
    let report = sink.apply(&batch).await.unwrap();
    assert_eq!(report.applied, 2, "{report:?}");
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].index, 2);
    assert_eq!(report.rejected[0].kind, RejectKind::Key);
    assert!(report.rejected[0].message.contains("`user:email:{email}`"), "{}", report.rejected[0].message);
    assert!(report.rejected[0].message.contains("column `email` is NULL"), "{}", report.rejected[0].message);

    for key in &cached[..5] {
        let exists: bool = conn.exists(format!("{prefix}{key}")).await.unwrap();
        assert!(!exists, "{key} must be invalidated");
    }
    let untouched: bool = conn.exists(format!("{prefix}user:8")).await.unwrap();
    assert!(untouched, "an unrelated key must stay");

    let mut messages = BTreeSet::new();
    let mut stream = subscriber.on_message();
    while messages.len() < 5 {
        let msg = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("the subscriber must receive 5 invalidations within 5s")
            .expect("subscription open");
        assert_eq!(msg.get_channel_name(), channel_name);
        let payload: String = msg.get_payload().unwrap();
        let parsed: InvalidationMessage = serde_json::from_str(&payload).unwrap();
        let object: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(object.as_object().unwrap().len(), 4, "exactly table, key, op, version: {payload}");
        messages.insert((parsed.table, parsed.key, parsed.op, parsed.version));
    }
    let expected: BTreeSet<_> = [
        ("user:7", "u", "10"),
        ("user:email:old@x.io", "u", "10"),
        ("user:email:new@x.io", "u", "10"),
        ("user:9", "d", "11"),
        ("user:email:z@x.io", "d", "11"),
    ]
    .into_iter()
    .map(|(k, op, v)| ("shop.users".to_string(), format!("{prefix}{k}"), op.to_string(), v.to_string()))
    .collect();
    assert_eq!(messages, expected);
    drop(stream);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn del_command_null_skip_and_key_only_tombstones() {
    let url = shared_url().await;
    let prefix = prefix("invalidate_del");
    let mut config = config(&url, &prefix, None);
    config.invalidate = Some(InvalidateConfig { command: InvalidateCommand::Del, channel: None });
    config.null_keys = NullKeys::Skip;
    let sink = started("cache", config).await;
    let mut conn = connect(&url).await;
    for key in ["user:1", "user:2", "user:email:b@x.io"] {
        let _: () = conn.set(format!("{prefix}{key}"), "cached").await.unwrap();
    }
    let b = EventBuilder::new(TableId::new(Some("shop"), None, "users"));
    let report = sink
        .apply(&ChangeBatch::from_events(vec![
            b.event(Op::Update, 1, 5, Some(user(1, None)), Some(user(1, None))),
            // a Kafka tombstone: no images, only the key
            b.event(Op::Delete, 2, 6, None, None),
        ]))
        .await
        .unwrap();
    assert_eq!((report.applied, report.rejected.len()), (2, 0), "{report:?}");
    for key in ["user:1", "user:2"] {
        let exists: bool = conn.exists(format!("{prefix}{key}")).await.unwrap();
        assert!(!exists, "{key} must be invalidated");
    }
    // the tombstone cannot know the email: that key is left to the delete event that carried it
    let exists: bool = conn.exists(format!("{prefix}user:email:b@x.io")).await.unwrap();
    assert!(exists);
    cleanup(&url, &prefix).await;
}
