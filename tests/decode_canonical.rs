//! The canonical JSON form (`sluice decode`) of each record kind, and
//! heartbeat recognition. The expected documents are the examples of
//! docs/canonical-form.md.

mod decode_support;

use decode_support::{decode, decode_with};
use serde_json::json;
use sluice::decode::{Decoded, Decoder, DecoderOptions, RawRecord, decoded_to_canonical_json};

fn canonical(topic: &str, value: &str, key: Option<&str>) -> serde_json::Value {
    decoded_to_canonical_json(&decode(topic, value, key).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn change_event() {
    let actual = canonical(
        "dbserver1.inventory.customers",
        "mysql/tutorial_update_with_schema.json",
        Some("mysql/tutorial_update_key.json"),
    );
    let expected = json!({
        "topic": "dbserver1.inventory.customers", "partition": 0, "offset": 7, "kind": "change",
        "table": {"database": "inventory", "schema": null, "table": "customers"},
        "op": "u",
        "key": {"id": 1004},
        "before": {"id": 1004, "first_name": "Anne", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        "after": {"id": 1004, "first_name": "Anne Marie", "last_name": "Kretchmar", "email": "annek@noanswer.org"},
        "version": {"value": "55340232221510336512", "scheme": "mysql_binlog"},
        "source_ts": "2017-02-07T21:04:46.000Z",
        "tx": null
    });
    assert_eq!(actual, expected, "{}", serde_json::to_string_pretty(&actual).unwrap());
}

#[test]
fn typed_values() {
    let actual = canonical(
        "redislabs.dbo.emp",
        "types/decimal_timestamp_sqlserver.json",
        Some("types/decimal_timestamp_sqlserver_key.json"),
    );
    assert_eq!(actual["op"], json!("d"));
    assert_eq!(actual["before"]["sal"], json!({"decimal": "200000.0000"}));
    assert_eq!(actual["before"]["hiredate"], json!({"timestamp": "2019-07-09T00:00:00.000"}));
    assert_eq!(actual["after"], json!(null));
    assert_eq!(actual["version"]["scheme"], json!("sql_server_lsn"));
    let temporal = canonical("engineering.regression_test.dbz_85_fractest", "types/temporal_mysql.json", None);
    assert_eq!(temporal["after"]["c4"], json!({"timestamptz": "2014-09-08T23:51:04.78Z"}));
    assert_eq!(temporal["key"], json!(null));
}

#[test]
fn transaction_reference() {
    let options =
        DecoderOptions { version_source: sluice::decode::VersionSource::KafkaOffset, ..DecoderOptions::default() };
    let decoded =
        decode_with(options, "mysql-server-1.s1.a", Some("tx/mysql_data_event_with_transaction.json"), None).unwrap();
    let actual = decoded_to_canonical_json(&decoded);
    assert_eq!(
        actual["tx"],
        json!({"id": "0e4d5dcd-a33b-11ea-80f1-02010a22a99e:10", "total_order": 1, "data_collection_order": 1})
    );
    assert_eq!(actual["version"], json!({"value": "7", "scheme": "kafka_offset"}));
    assert_eq!(actual["source_ts"], json!(null));
}

#[test]
fn other_kinds() {
    let tombstone = canonical(
        "dbserver1.inventory.customers",
        "tombstone/mysql_tutorial_tombstone.json",
        Some("tombstone/mysql_tutorial_tombstone_key.json"),
    );
    assert_eq!(
        tombstone,
        json!({"topic": "dbserver1.inventory.customers", "partition": 0, "offset": 7, "kind": "tombstone",
               "table": {"database": "inventory", "schema": null, "table": "customers"}, "key": {"id": 1004}})
    );
    let end = canonical("mysql-server-1.transaction", "tx/mysql_end.json", None);
    assert_eq!(
        end,
        json!({"topic": "mysql-server-1.transaction", "partition": 0, "offset": 7, "kind": "tx", "status": "END",
               "id": "0e4d5dcd-a33b-11ea-80f1-02010a22a99e:10", "event_count": 2,
               "data_collections": [{"data_collection": "s1.a", "event_count": 1}, {"data_collection": "s2.a", "event_count": 1}],
               "ts": "2017-02-07T20:49:37.691Z"})
    );
    let ddl = canonical("mysql-server-1", "schema_change/mysql_ddl.json", Some("schema_change/mysql_ddl_key.json"));
    assert_eq!(ddl["kind"], json!("schema_change"));
    assert_eq!(ddl["database"], json!("inventory"));
    assert_eq!(ddl["table_changes"], json!([{"type": "ALTER", "id": "\"inventory\".\"customers\""}]));
    assert_eq!(ddl["version"]["scheme"], json!("mysql_binlog"));
    let message = canonical("PostgreSQL_server.message", "postgres/message_nontransactional.json", None);
    assert_eq!(message["kind"], json!("message"));
    assert_eq!(message["content"], json!({"bytes": "6267f2"}));
    assert_eq!(message["content_utf8"], json!(null));
    assert_eq!(message["transactional"], json!(false));
}

#[test]
fn heartbeats() {
    let decoder = Decoder::new(DecoderOptions::default());
    let plain = br#"{"ts_ms": 1714558830123}"#;
    let with_schema = br#"{"schema":{"type":"struct","name":"io.debezium.connector.common.Heartbeat","fields":[{"field":"ts_ms","type":"int64"}]},"payload":{"ts_ms":1714558830123}}"#;
    let key = br#"{"serverName": "shop"}"#;
    for (topic, value) in [
        ("__debezium-heartbeat.shop", Some(&plain[..])),
        ("any.topic", Some(&with_schema[..])),
        ("any.topic", Some(&plain[..])),
        ("__debezium-heartbeat.shop", None),
    ] {
        let decoded = decoder.decode(&RawRecord::new(topic, 0, 1, Some(key), value)).unwrap();
        let Decoded::Heartbeat(h) = &decoded else { panic!("{topic}: {decoded:?}") };
        let canonical = decoded_to_canonical_json(&decoded);
        if value.is_some() {
            assert_eq!(canonical["ts"], json!("2024-05-01T10:20:30.123Z"), "{topic}");
        } else {
            assert_eq!(h.ts, None);
        }
    }
}
