//! Benchmark of the Avro decoder against the JSON decoder on one core, for
//! the same events: a MySQL update (key + value, 10 columns of mixed logical
//! types, before and after) as Confluent Avro (schemas cached, as in a
//! running pipeline) and as JsonConverter JSON with the schema block (and
//! schemaless). Before timing, every Avro record is checked to decode to
//! exactly the same event as its JSON twin. Run through `bench/decode-avro`.
//!
//! Usage: decode_avro_bench [RECORDS_PER_CASE]

use std::sync::Arc;
use std::time::Instant;

use apache_avro::types::Value as Avro;
use serde_json::json;
use sluice::decode::avro::{AvroConverter, avro_registry, wire};
use sluice::decode::{Decoded, Decoder, DecoderOptions, RawRecord};
use sluice::pipeline::retry::Backoff;
use sluice::registry::{FetchedSchema, FixedSchemas, OutagePolicy};

const TOPIC: &str = "shop.inventory.orders";
const KEY_ID: u32 = 101;
const VALUE_ID: u32 = 102;

const KEY_SCHEMA: &str = r#"{"type":"record","name":"Key","namespace":"shop.inventory.orders",
  "connect.name":"shop.inventory.orders.Key","fields":[{"name":"id","type":"long"}]}"#;

const VALUE_SCHEMA: &str = r#"{"type":"record","name":"Envelope","namespace":"shop.inventory.orders",
 "connect.name":"shop.inventory.orders.Envelope","fields":[
 {"name":"before","type":["null",{"type":"record","name":"Value","connect.name":"shop.inventory.orders.Value","fields":[
   {"name":"id","type":"long"},
   {"name":"customer_id","type":"int"},
   {"name":"status","type":{"type":"string","connect.name":"io.debezium.data.Enum","connect.parameters":{"allowed":"new,paid,shipped"}}},
   {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2,
     "connect.name":"org.apache.kafka.connect.data.Decimal","connect.parameters":{"scale":"2","connect.decimal.precision":"10"}}},
   {"name":"note","type":["null","string"],"default":null},
   {"name":"created_at","type":{"type":"string","connect.name":"io.debezium.time.ZonedTimestamp"}},
   {"name":"updated_at","type":["null",{"type":"long","connect.name":"io.debezium.time.MicroTimestamp"}],"default":null},
   {"name":"ship_date","type":["null",{"type":"int","connect.name":"io.debezium.time.Date"}],"default":null},
   {"name":"attrs","type":["null",{"type":"string","connect.name":"io.debezium.data.Json"}],"default":null},
   {"name":"flags","type":"boolean"}]}],"default":null},
 {"name":"after","type":["null","Value"],"default":null},
 {"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.mysql",
   "connect.name":"io.debezium.connector.mysql.Source","fields":[
   {"name":"version","type":"string"},{"name":"connector","type":"string"},{"name":"name","type":"string"},
   {"name":"ts_ms","type":"long"},
   {"name":"snapshot","type":["null",{"type":"string","connect.name":"io.debezium.data.Enum"}],"default":null},
   {"name":"db","type":"string"},{"name":"sequence","type":["null","string"],"default":null},
   {"name":"table","type":["null","string"],"default":null},{"name":"server_id","type":"long"},
   {"name":"gtid","type":["null","string"],"default":null},{"name":"file","type":"string"},{"name":"pos","type":"long"},
   {"name":"row","type":"int"},{"name":"thread","type":["null","long"],"default":null},
   {"name":"query","type":["null","string"],"default":null}]}},
 {"name":"op","type":"string"},
 {"name":"ts_ms","type":["null","long"],"default":null}]}"#;

fn row_schema(name: &str) -> serde_json::Value {
    json!({"type": "struct", "optional": true, "name": "shop.inventory.orders.Value", "field": name, "fields": [
        {"field": "id", "type": "int64", "optional": false},
        {"field": "customer_id", "type": "int32", "optional": false},
        {"field": "status", "type": "string", "optional": false, "name": "io.debezium.data.Enum", "parameters": {"allowed": "new,paid,shipped"}},
        {"field": "amount", "type": "bytes", "optional": false, "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2", "connect.decimal.precision": "10"}},
        {"field": "note", "type": "string", "optional": true},
        {"field": "created_at", "type": "string", "optional": false, "name": "io.debezium.time.ZonedTimestamp"},
        {"field": "updated_at", "type": "int64", "optional": true, "name": "io.debezium.time.MicroTimestamp"},
        {"field": "ship_date", "type": "int32", "optional": true, "name": "io.debezium.time.Date"},
        {"field": "attrs", "type": "string", "optional": true, "name": "io.debezium.data.Json"},
        {"field": "flags", "type": "boolean", "optional": false}
    ]})
}

fn row_json(i: u64) -> serde_json::Value {
    json!({"id": i, "customer_id": (i % 1000) as i32, "status": "paid", "amount": "AeJA", "note": format!("order number {i}"),
           "created_at": "2024-05-01T10:20:30.123456Z", "updated_at": 1_714_558_830_123_456i64 + i as i64, "ship_date": 19_850,
           "attrs": "{\"gift\":true,\"tags\":[\"a\",\"b\"]}", "flags": true})
}

fn source_json(i: u64) -> serde_json::Value {
    json!({"version": "2.7.0.Final", "connector": "mysql", "name": "shop", "ts_ms": 1_714_558_830_000i64, "snapshot": "false",
           "db": "inventory", "sequence": null, "table": "orders", "server_id": 1, "gtid": null, "file": "mysql-bin.000042",
           "pos": 1000 + i * 300, "row": 0, "thread": 7, "query": null})
}

fn json_with_schema(i: u64) -> (String, String) {
    let schema = json!({"type": "struct", "name": "shop.inventory.orders.Envelope", "optional": false, "fields": [
        row_schema("before"), row_schema("after"),
        {"field": "source", "type": "struct", "optional": false, "name": "io.debezium.connector.mysql.Source", "fields": [
            {"field": "version", "type": "string"}, {"field": "connector", "type": "string"}, {"field": "name", "type": "string"},
            {"field": "ts_ms", "type": "int64"}, {"field": "snapshot", "type": "string", "optional": true, "name": "io.debezium.data.Enum"},
            {"field": "db", "type": "string"}, {"field": "sequence", "type": "string", "optional": true},
            {"field": "table", "type": "string", "optional": true}, {"field": "server_id", "type": "int64"},
            {"field": "gtid", "type": "string", "optional": true}, {"field": "file", "type": "string"}, {"field": "pos", "type": "int64"},
            {"field": "row", "type": "int32"}, {"field": "thread", "type": "int64", "optional": true},
            {"field": "query", "type": "string", "optional": true}]},
        {"field": "op", "type": "string", "optional": false},
        {"field": "ts_ms", "type": "int64", "optional": true}
    ]});
    let key = json!({"schema": {"type": "struct", "name": "shop.inventory.orders.Key", "fields": [{"field": "id", "type": "int64"}]},
                     "payload": {"id": i}});
    let value = json!({"schema": schema, "payload": {"before": row_json(i), "after": row_json(i), "source": source_json(i),
                       "op": "u", "ts_ms": 1_714_558_830_500i64}});
    (key.to_string(), value.to_string())
}

fn json_schemaless(i: u64) -> (String, String) {
    let value = json!({"before": row_json(i), "after": row_json(i), "source": source_json(i), "op": "u", "ts_ms": 1_714_558_830_500i64});
    (json!({"id": i}).to_string(), value.to_string())
}

fn some<T: Into<Avro>>(v: T) -> Avro {
    Avro::Union(1, Box::new(v.into()))
}

fn none() -> Avro {
    Avro::Union(0, Box::new(Avro::Null))
}

fn row_avro(i: u64) -> Avro {
    Avro::Record(vec![
        ("id".into(), Avro::Long(i as i64)),
        ("customer_id".into(), Avro::Int((i % 1000) as i32)),
        ("status".into(), Avro::String("paid".into())),
        ("amount".into(), Avro::Decimal(apache_avro::Decimal::from(vec![0x01, 0xe2, 0x40]))),
        ("note".into(), some(Avro::String(format!("order number {i}")))),
        ("created_at".into(), Avro::String("2024-05-01T10:20:30.123456Z".into())),
        ("updated_at".into(), some(Avro::Long(1_714_558_830_123_456 + i as i64))),
        ("ship_date".into(), some(Avro::Int(19_850))),
        ("attrs".into(), some(Avro::String("{\"gift\":true,\"tags\":[\"a\",\"b\"]}".into()))),
        ("flags".into(), Avro::Boolean(true)),
    ])
}

fn avro_record(i: u64, key_schema: &apache_avro::Schema, value_schema: &apache_avro::Schema) -> (Vec<u8>, Vec<u8>) {
    let source = Avro::Record(vec![
        ("version".into(), Avro::String("2.7.0.Final".into())),
        ("connector".into(), Avro::String("mysql".into())),
        ("name".into(), Avro::String("shop".into())),
        ("ts_ms".into(), Avro::Long(1_714_558_830_000)),
        ("snapshot".into(), some(Avro::String("false".into()))),
        ("db".into(), Avro::String("inventory".into())),
        ("sequence".into(), none()),
        ("table".into(), some(Avro::String("orders".into()))),
        ("server_id".into(), Avro::Long(1)),
        ("gtid".into(), none()),
        ("file".into(), Avro::String("mysql-bin.000042".into())),
        ("pos".into(), Avro::Long(1000 + i as i64 * 300)),
        ("row".into(), Avro::Int(0)),
        ("thread".into(), some(Avro::Long(7))),
        ("query".into(), none()),
    ]);
    let value = Avro::Record(vec![
        ("before".into(), some(row_avro(i))),
        ("after".into(), some(row_avro(i))),
        ("source".into(), source),
        ("op".into(), Avro::String("u".into())),
        ("ts_ms".into(), some(Avro::Long(1_714_558_830_500))),
    ]);
    let key = Avro::Record(vec![("id".into(), Avro::Long(i as i64))]);
    let key = avro_datum(key_schema, key).expect("encode key");
    let value = avro_datum(value_schema, value).expect("encode value");
    (wire::frame(KEY_ID, &key), wire::frame(VALUE_ID, &value))
}

fn avro_decoder() -> Decoder {
    let source = FixedSchemas::new()
        .with(KEY_ID, FetchedSchema::avro(KEY_SCHEMA))
        .with(VALUE_ID, FetchedSchema::avro(VALUE_SCHEMA));
    let policy = OutagePolicy {
        unavailable_retry: std::time::Duration::ZERO,
        backoff: Backoff { initial: std::time::Duration::ZERO, max: std::time::Duration::ZERO, max_attempts: Some(1) },
    };
    let registry = Arc::new(avro_registry(Arc::new(source), 16, policy));
    for id in [KEY_ID, VALUE_ID] {
        futures::executor::block_on(registry.resolve(id)).expect("schema parses");
    }
    Decoder::with_converter(DecoderOptions::default(), Arc::new(AvroConverter::new(Some(registry))))
}

fn run(name: &str, decoder: &Decoder, records: &[(Vec<u8>, Vec<u8>)]) -> f64 {
    let bytes: usize = records.iter().map(|(k, v)| k.len() + v.len()).sum();
    for (k, v) in records.iter().take(1000) {
        let _ = decoder.decode(&RawRecord::new(TOPIC, 0, 0, Some(k), Some(v)));
    }
    let start = Instant::now();
    let mut changes = 0usize;
    for (offset, (k, v)) in records.iter().enumerate() {
        match decoder.decode(&RawRecord::new(TOPIC, 0, offset as i64, Some(k), Some(v))) {
            Ok(Decoded::Change(_)) => changes += 1,
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = changes as f64 / secs;
    println!(
        "{name:<28} {changes:>9} records  {rate:>10.0} records/s  {:>7.1} MB/s  ({} B/record)",
        bytes as f64 / secs / 1e6,
        bytes / records.len().max(1)
    );
    rate
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let key_schema = apache_avro::Schema::parse_str(KEY_SCHEMA).expect("key schema");
    let value_schema = apache_avro::Schema::parse_str(VALUE_SCHEMA).expect("value schema");
    let avro: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|i| avro_record(i, &key_schema, &value_schema)).collect();
    let bytes = |(k, v): (String, String)| (k.into_bytes(), v.into_bytes());
    let with_schema: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|i| bytes(json_with_schema(i))).collect();
    let schemaless: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|i| bytes(json_schemaless(i))).collect();

    let avro_decoder = avro_decoder();
    let json_decoder = Decoder::new(DecoderOptions::default());
    // The same events: every Avro record decodes exactly like its JSON twin.
    for (i, ((ak, av), (jk, jv))) in avro.iter().zip(&with_schema).enumerate().take(1000) {
        let a = avro_decoder.decode(&RawRecord::new(TOPIC, 0, i as i64, Some(ak), Some(av))).expect("avro decodes");
        let j = json_decoder.decode(&RawRecord::new(TOPIC, 0, i as i64, Some(jk), Some(jv))).expect("json decodes");
        assert_eq!(a, j, "record {i}: Avro and JSON decode to different events");
    }

    println!("decode_avro_bench: {n} records per case, one thread (same MySQL update events)");
    let a = run("avro (registry, cached)", &avro_decoder, &avro);
    let j = run("json, with schema", &json_decoder, &with_schema);
    let s = run("json, schemaless", &json_decoder, &schemaless);
    println!("avro / json-with-schema: {:.2}x   avro / json-schemaless: {:.2}x", a / j, a / s);
}

/// Encodes one Avro datum with apache-avro (validated against the schema).
fn avro_datum(schema: &apache_avro::Schema, value: Avro) -> apache_avro::AvroResult<Vec<u8>> {
    apache_avro::writer::datum::GenericDatumWriter::builder(schema).build()?.write_value_to_vec(value)
}
