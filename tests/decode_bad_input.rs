//! Bad input: every failure is a permanent `DecodeError` naming the record
//! (topic/partition/offset) and the field, with what was expected and found.

use serde_json::json;
use sluice::decode::{DecodeError, Decoded, Decoder, DecoderOptions, RawRecord};
use sluice_sink_api::{ErrorClass, RejectKind, SinkError};

const TOPIC: &str = "shop.inventory.orders";

fn decode_bytes(value: Option<&[u8]>, key: Option<&[u8]>) -> Result<Decoded, DecodeError> {
    Decoder::new(DecoderOptions::default()).decode(&RawRecord::new(TOPIC, 3, 42, key, value))
}

fn decode_json(value: serde_json::Value, key: Option<serde_json::Value>) -> Result<Decoded, DecodeError> {
    let value = value.to_string();
    let key = key.map(|k| k.to_string());
    decode_bytes(Some(value.as_bytes()), key.as_deref().map(str::as_bytes))
}

/// Asserts the error's class, kind, origin and field; returns its message.
fn expect_error(result: Result<Decoded, DecodeError>, field: &str) -> String {
    let err = match result {
        Ok(decoded) => panic!("expected an error at {field}, decoded {decoded:?}"),
        Err(err) => err,
    };
    assert_eq!(err.field, field, "field of: {err}");
    assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
    assert_eq!(err.reject_kind(), RejectKind::Decode, "{err}");
    assert_eq!(&*err.origin.topic, TOPIC);
    assert_eq!(err.origin.partition, 3);
    assert_eq!(err.origin.offset, 42);
    let text = err.to_string();
    assert!(text.contains(TOPIC) && text.contains("partition 3") && text.contains("offset 42"), "{text}");
    assert!(text.contains(field), "{text}");
    let sink: SinkError = err.clone().into();
    assert!(sink.is_permanent() && sink.kind == RejectKind::Decode);
    err.message
}

fn source() -> serde_json::Value {
    json!({"connector": "mysql", "db": "inventory", "table": "orders", "file": "mysql-bin.000003", "pos": 10, "row": 0, "ts_ms": 1})
}

fn orders_schema(date_type: &str) -> serde_json::Value {
    let row = json!({"type": "struct", "optional": true, "name": "shop.inventory.orders.Value", "fields": [
        {"field": "id", "type": "int32", "optional": false},
        {"field": "order_date", "type": date_type, "optional": false, "name": "io.debezium.time.Date"}
    ]});
    let mut after = row.clone();
    after["field"] = json!("after");
    let mut before = row;
    before["field"] = json!("before");
    json!({"type": "struct", "name": "shop.inventory.orders.Envelope", "fields": [
        before, after,
        {"field": "source", "type": "struct", "optional": false, "fields": [
            {"field": "connector", "type": "string"}, {"field": "db", "type": "string"}, {"field": "table", "type": "string"},
            {"field": "file", "type": "string"}, {"field": "pos", "type": "int64"}, {"field": "row", "type": "int32"},
            {"field": "ts_ms", "type": "int64"}]},
        {"field": "op", "type": "string", "optional": false}
    ]})
}

#[test]
fn invalid_json_value_and_key() {
    let msg = expect_error(decode_bytes(Some(b"{\"op\": \"c\", "), None), "value");
    assert!(msg.starts_with("invalid JSON"), "{msg}");
    let good = json!({"op": "c", "after": {"id": 1}, "source": source()}).to_string();
    let msg = expect_error(decode_bytes(Some(good.as_bytes()), Some(b"{id: 1}")), "key");
    assert!(msg.starts_with("invalid JSON"), "{msg}");
    expect_error(decode_bytes(Some(&[0xff, 0xfe, 0x00]), None), "value");
}

#[test]
fn missing_payload() {
    let msg = expect_error(decode_json(json!({"schema": orders_schema("int32")}), None), "payload");
    assert!(msg.starts_with("missing"), "{msg}");
}

#[test]
fn payload_that_is_not_an_envelope() {
    let msg = expect_error(decode_json(json!([1, 2, 3]), None), "payload");
    assert!(msg.contains("expected the Debezium envelope"), "{msg}");
}

#[test]
fn missing_and_unknown_op() {
    let msg = expect_error(decode_json(json!({"after": {"id": 1}, "source": source()}), None), "payload.op");
    assert!(msg.starts_with("missing"), "{msg}");
    let msg = expect_error(decode_json(json!({"op": "x", "after": {"id": 1}, "source": source()}), None), "payload.op");
    assert!(msg.contains("unknown op \"x\""), "{msg}");
    let msg = expect_error(decode_json(json!({"op": 1, "after": {"id": 1}, "source": source()}), None), "payload.op");
    assert!(msg.contains("expected a string, found integer 1"), "{msg}");
}

#[test]
fn logical_type_value_mismatch() {
    let payload =
        json!({"before": null, "after": {"id": 1, "order_date": "2016-01-16"}, "source": source(), "op": "c"});
    let msg = expect_error(
        decode_json(json!({"schema": orders_schema("int32"), "payload": payload}), None),
        "payload.after.order_date",
    );
    assert_eq!(msg, r#"expected int32 (io.debezium.time.Date), found string "2016-01-16""#);
    // The same value through a schema whose type matches but whose logical check fails.
    let payload =
        json!({"before": null, "after": {"id": 1, "order_date": 99_999_999_999i64}, "source": source(), "op": "c"});
    let msg = expect_error(
        decode_json(json!({"schema": orders_schema("int64"), "payload": payload}), None),
        "payload.after.order_date",
    );
    assert!(msg.contains("out of range"), "{msg}");
}

#[test]
fn required_field_null_or_missing() {
    let payload = json!({"before": null, "after": {"id": null, "order_date": 1}, "source": source(), "op": "c"});
    let msg = expect_error(
        decode_json(json!({"schema": orders_schema("int32"), "payload": payload}), None),
        "payload.after.id",
    );
    assert!(msg.contains("null for a required int32 field"), "{msg}");
    let payload = json!({"before": null, "after": {"order_date": 1}, "source": source(), "op": "c"});
    let msg = expect_error(
        decode_json(json!({"schema": orders_schema("int32"), "payload": payload}), None),
        "payload.after.id",
    );
    assert!(msg.contains("missing required int32 field"), "{msg}");
}

#[test]
fn key_that_does_not_match_the_primary_key() {
    let value = json!({"op": "u", "before": {"id": 5}, "after": {"id": 5, "n": 1}, "source": source()});
    let msg = expect_error(decode_json(value.clone(), Some(json!({"id": 6}))), "payload.after.id");
    assert!(msg.starts_with("key does not match the value's primary key"), "{msg}");
    assert!(msg.contains("id = 6") && msg.contains("has 5"), "{msg}");
    // Deletes compare with the before image.
    let value = json!({"op": "d", "before": {"id": 5}, "after": null, "source": source()});
    expect_error(decode_json(value, Some(json!({"id": 6}))), "payload.before.id");
    // A key whose columns are absent from the image is not a mismatch.
    let value = json!({"op": "c", "after": {"n": 1}, "source": source()});
    assert!(decode_json(value, Some(json!({"id": 6}))).is_ok());
}

#[test]
fn key_that_is_not_a_struct() {
    let value = json!({"op": "c", "after": {"id": 1}, "source": source()});
    let msg = expect_error(decode_json(value, Some(json!("just-a-string"))), "key.payload");
    assert!(msg.contains("expected a struct of key columns"), "{msg}");
}

#[test]
fn key_field_type_mismatch() {
    let key =
        json!({"schema": {"type": "struct", "fields": [{"field": "id", "type": "int32"}]}, "payload": {"id": "abc"}});
    let value = json!({"op": "c", "after": {"id": 1}, "source": source()});
    let msg = expect_error(decode_json(value, Some(key)), "key.payload.id");
    assert!(msg.contains("expected int32"), "{msg}");
}

#[test]
fn bad_schema_block() {
    let msg = expect_error(decode_json(json!({"schema": {"type": "structure"}, "payload": {}}), None), "schema.type");
    assert!(msg.contains("unknown Connect type"), "{msg}");
    let schema = json!({"type": "struct", "fields": [{"type": "int32"}]});
    expect_error(decode_json(json!({"schema": schema, "payload": {}}), None), "schema.fields.0.field");
}

#[test]
fn bad_bytes_and_integers() {
    let schema = json!({"type": "struct", "fields": [
        {"field": "after", "type": "struct", "optional": true, "fields": [
            {"field": "b", "type": "bytes", "optional": true}, {"field": "s", "type": "int16", "optional": true}]},
        {"field": "source", "type": "struct", "optional": true, "fields": []},
        {"field": "op", "type": "string"}]});
    let record = |after: serde_json::Value| json!({"schema": schema, "payload": {"after": after, "source": source(), "op": "c"}});
    let msg = expect_error(decode_json(record(json!({"b": "not base64!"})), None), "payload.after.b");
    assert!(msg.contains("expected base64"), "{msg}");
    let msg = expect_error(decode_json(record(json!({"s": 40000})), None), "payload.after.s");
    assert_eq!(msg, "expected int16, found number 40000");
    let msg = expect_error(decode_json(record(json!({"s": "12x"})), None), "payload.after.s");
    assert!(msg.contains("found string \"12x\""), "{msg}");
}

#[test]
fn missing_version_inputs_are_named() {
    let mut s = source();
    s.as_object_mut().unwrap().remove("pos");
    let msg =
        expect_error(decode_json(json!({"op": "c", "after": {"id": 1}, "source": s}), None), "payload.source.pos");
    assert!(msg.starts_with("missing"), "{msg}");
    let mut s = source();
    s["file"] = json!("binlog-without-number");
    expect_error(decode_json(json!({"op": "c", "after": {"id": 1}, "source": s}), None), "payload.source.file");
    let s = json!({"connector": "postgresql", "db": "d", "schema": "public", "table": "t", "sequence": "[1,2"});
    expect_error(decode_json(json!({"op": "c", "after": {"id": 1}, "source": s}), None), "payload.source.sequence");
    let s = json!({"connector": "sqlserver", "db": "d", "schema": "dbo", "table": "t", "commit_lsn": "zz"});
    expect_error(decode_json(json!({"op": "c", "after": {"id": 1}, "source": s}), None), "payload.source.commit_lsn");
    let s = json!({"connector": "mongodb", "db": "d", "collection": "c", "ord": 1});
    expect_error(decode_json(json!({"op": "c", "after": "{\"_id\": 1}", "source": s}), None), "payload.source.ts_ms");
}

#[test]
fn missing_images() {
    let msg = expect_error(decode_json(json!({"op": "c", "after": null, "source": source()}), None), "payload.after");
    assert!(msg.contains("needs the after image"), "{msg}");
    let msg = expect_error(decode_json(json!({"op": "d", "before": null, "source": source()}), None), "payload.before");
    assert!(msg.contains("before image or a record key"), "{msg}");
    let msg = expect_error(decode_json(json!({"op": "c", "after": [1], "source": source()}), None), "payload.after");
    assert!(msg.contains("expected a row image"), "{msg}");
}

#[test]
fn bad_mongodb_documents() {
    let s = json!({"connector": "mongodb", "db": "d", "collection": "c", "ord": 1, "ts_ms": 1000});
    let msg = expect_error(decode_json(json!({"op": "c", "after": "{not json", "source": s}), None), "payload.after");
    assert!(msg.contains("invalid MongoDB extended JSON"), "{msg}");
    expect_error(
        decode_json(json!({"op": "c", "after": "{\"n\": {\"$numberLong\": \"x\"}}", "source": s}), None),
        "payload.after.n",
    );
    let msg = expect_error(
        decode_json(json!({"op": "u", "patch": "{\"$set\": {\"a.b\": 1}}", "source": s}), Some(json!({"id": "1"}))),
        "payload.patch.$set.a.b",
    );
    assert!(msg.contains("nested field path"), "{msg}");
}

#[test]
fn bad_transaction_blocks_and_markers() {
    let value = json!({"op": "c", "after": {"id": 1}, "source": source(), "transaction": {"id": "t1", "total_order": "x", "data_collection_order": 1}});
    expect_error(decode_json(value, None), "payload.transaction.total_order");
    let msg = expect_error(decode_json(json!({"status": "COMMIT", "id": "t1"}), None), "payload.status");
    assert!(msg.contains("expected BEGIN or END"), "{msg}");
    let options = DecoderOptions { transaction_topics: vec![TOPIC.to_string()], ..DecoderOptions::default() };
    let value = json!({"op": "c", "after": {"id": 1}, "source": source()}).to_string();
    let err = Decoder::new(options).decode(&RawRecord::new(TOPIC, 3, 42, None, Some(value.as_bytes()))).unwrap_err();
    assert_eq!(err.field, "payload.status");
}

#[test]
fn oversized_records_are_refused_without_reading_them() {
    let options = DecoderOptions { max_record_bytes: 16, ..DecoderOptions::default() };
    let big = vec![b' '; 17];
    let err = Decoder::new(options).decode(&RawRecord::new(TOPIC, 3, 42, None, Some(&big))).unwrap_err();
    assert_eq!(err.field, "value");
    assert!(err.message.contains("exceed the limit"), "{err}");
}

#[test]
fn deeply_nested_input_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    expect_error(decode_bytes(Some(deep.as_bytes()), None), "value");
    let deep = format!("{{\"op\":\"c\",\"after\":{{\"a\":{}1{}}}}}", "[".repeat(5_000), "]".repeat(5_000));
    assert!(decode_bytes(Some(deep.as_bytes()), None).is_err());
    let absurd_scale = json!({"schema": {"type": "struct", "fields": [
        {"field": "after", "type": "struct", "optional": true, "fields": [
            {"field": "d", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2000000000"}}]},
        {"field": "op", "type": "string"}]},
        "payload": {"after": {"d": "AQ=="}, "op": "c", "source": source()}});
    expect_error(decode_json(absurd_scale, None), "payload.after.d");
}
