//! Version derivation per connector (DESIGN.md §5): versions agree with
//! commit order and, inside one source transaction, with change order, so two
//! changes of the same key in one transaction are told apart.

use serde_json::{Value as Json, json};
use sluice::decode::{DecodeError, Decoded, Decoder, DecoderOptions, RawRecord, VersionSource};
use sluice_sink_api::{ChangeEvent, Version, VersionScheme};

fn decode_at(options: &DecoderOptions, topic: &str, offset: i64, value: Json) -> Result<ChangeEvent, DecodeError> {
    let bytes = value.to_string();
    match Decoder::new(options.clone()).decode(&RawRecord::new(topic, 0, offset, None, Some(bytes.as_bytes())))? {
        Decoded::Change(ev) => Ok(ev),
        other => panic!("not a change: {other:?}"),
    }
}

fn version(value: Json) -> Version {
    decode_at(&DecoderOptions::default(), "s.d.t", 0, value).unwrap_or_else(|e| panic!("{e}")).version
}

fn mysql(file: &str, pos: u64, row: u64, id: i64, n: i64) -> Json {
    json!({"op": "u", "before": {"id": id, "n": n - 1}, "after": {"id": id, "n": n},
        "source": {"connector": "mysql", "db": "d", "table": "t", "file": file, "pos": pos, "row": row, "ts_ms": 1}})
}

fn postgres(commit: &str, lsn: u64, id: i64, n: i64) -> Json {
    json!({"op": "u", "before": {"id": id}, "after": {"id": id, "n": n},
        "source": {"connector": "postgresql", "db": "d", "schema": "public", "table": "t",
                   "sequence": format!("[{commit},\"{lsn}\"]"), "lsn": lsn, "txId": 7, "ts_ms": 1}})
}

#[test]
fn mysql_same_key_twice_in_one_transaction() {
    // One UPDATE touching the row twice is impossible, but one transaction can
    // change the same key in two rows events, or (multi-row events) two rows.
    let first = version(mysql("mysql-bin.000003", 1_000, 0, 1, 1));
    let same_event_next_row = version(mysql("mysql-bin.000003", 1_000, 1, 1, 2));
    let next_event = version(mysql("mysql-bin.000003", 1_200, 0, 1, 3));
    let next_file = version(mysql("mysql-bin.000004", 4, 0, 1, 4));
    assert!(first < same_event_next_row, "rows of one rows event");
    assert!(same_event_next_row < next_event, "successive rows events of one transaction");
    assert!(next_event < next_file, "binlog rotation");
    assert_eq!(first, Version::mysql(3, 1_000, 0));
    assert_eq!(first.scheme(), VersionScheme::MysqlBinlog);
    // The Elasticsearch mapping keeps the order.
    let es: Vec<i64> =
        [first, same_event_next_row, next_event, next_file].iter().map(|v| v.to_es_version().unwrap()).collect();
    assert!(es.windows(2).all(|w| w[0] < w[1]), "{es:?}");
}

#[test]
fn postgres_successive_lsns_in_one_transaction() {
    let a = version(postgres("\"500\"", 600, 1, 1));
    let b = version(postgres("\"500\"", 640, 1, 2));
    let next_tx = version(postgres("\"700\"", 650, 1, 3));
    assert!(a < b, "successive LSNs of one transaction");
    assert!(b < next_tx, "a later commit orders after, whatever its change LSN");
    assert_eq!(a, Version::postgres(500, 600));
    // A null last-commit LSN (first transaction after a restart) falls back to the change LSN.
    assert_eq!(version(postgres("null", 900, 1, 4)), Version::postgres(900, 900));
}

#[test]
fn mongodb_order_inside_a_transaction() {
    let doc = |ord: u32, tord: Option<u64>, total: Option<u64>| {
        let mut v = json!({"op": "u", "after": "{\"_id\": 1, \"n\": 2}",
            "source": {"connector": "mongodb", "db": "d", "collection": "c", "ts_ms": 1_558_965_508_000i64, "ord": ord}});
        if let Some(t) = tord {
            v["source"]["tord"] = json!(t);
        }
        if let Some(total) = total {
            v["transaction"] = json!({"id": "x", "total_order": total, "data_collection_order": total});
        }
        version(v)
    };
    assert!(doc(1, None, None) < doc(2, None, None));
    assert!(doc(1, Some(1), None) < doc(1, Some(2), None), "legacy tord");
    assert!(doc(1, None, Some(1)) < doc(1, None, Some(2)), "transaction.total_order");
    assert_eq!(doc(31, None, None), Version::mongo(1_558_965_508, 31, 0));
}

#[test]
fn sqlserver_commit_change_and_serial() {
    let ev = |commit: &str, change: &str, serial: u64| {
        version(json!({"op": "u", "after": {"id": 1},
            "source": {"connector": "sqlserver", "db": "d", "schema": "dbo", "table": "t",
                       "commit_lsn": commit, "change_lsn": change, "event_serial_no": serial}}))
    };
    let a = ev("00000027:00000758:0005", "00000027:00000758:0002", 1);
    let b = ev("00000027:00000758:0005", "00000027:00000758:0003", 1);
    let c = ev("00000027:00000758:0005", "00000027:00000758:0003", 2);
    let d = ev("00000027:00000ac0:0007", "00000027:00000ac0:0002", 1);
    assert!(a < b && b < c && c < d);
}

#[test]
fn kafka_offset_fallback_per_topic() {
    let mut options = DecoderOptions::default();
    options.topic_versions.insert("s.d.keyed".to_string(), VersionSource::KafkaOffset);
    let record = json!({"op": "c", "after": {"id": 1}, "source": {"connector": "oracle", "db": "d", "table": "t"}});
    let err = decode_at(&options, "s.d.t", 10, record.clone()).unwrap_err();
    assert_eq!(err.field, "payload.source.connector");
    assert!(err.message.contains("no version scheme for connector \"oracle\""), "{err}");
    let a = decode_at(&options, "s.d.keyed", 10, record.clone()).unwrap();
    let b = decode_at(&options, "s.d.keyed", 11, record).unwrap();
    assert_eq!(a.version, Version::kafka_offset(10));
    assert!(a.version < b.version);
    assert_eq!(a.version.scheme(), VersionScheme::KafkaOffset);
}

#[test]
fn connector_is_inferred_from_fields_when_absent() {
    let legacy = json!({"op": "c", "after": {"id": 1},
        "source": {"name": "engineering", "file": "mysql-bin.000002", "pos": 2_931_946, "row": 0, "ts_sec": 1}});
    assert_eq!(version(legacy), Version::mysql(2, 2_931_946, 0));
    let pg =
        json!({"op": "c", "after": {"id": 1}, "source": {"db": "d", "schema": "s", "table": "t", "lsn": "24023128"}});
    assert_eq!(version(pg), Version::postgres(24_023_128, 24_023_128));
}
