//! Benchmark of the JSON decoder on one core: records/s and MB/s for
//! representative Debezium records. Run through `bench/decode-json`.
//!
//! Usage: decode_json_bench [RECORDS_PER_CASE]

use std::time::Instant;

use serde_json::json;
use sluice::decode::{Decoded, Decoder, DecoderOptions, RawRecord};

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

fn row(i: u64) -> serde_json::Value {
    json!({"id": i, "customer_id": (i % 1000) as i32, "status": "paid", "amount": "AeJA", "note": format!("order number {i}"),
           "created_at": "2024-05-01T10:20:30.123456Z", "updated_at": 1_714_558_830_123_456i64 + i as i64, "ship_date": 19_850,
           "attrs": "{\"gift\":true,\"tags\":[\"a\",\"b\"]}", "flags": true})
}

fn source(i: u64) -> serde_json::Value {
    json!({"version": "2.7.0.Final", "connector": "mysql", "name": "shop", "ts_ms": 1_714_558_830_000i64, "snapshot": "false",
           "db": "inventory", "sequence": null, "table": "orders", "server_id": 1, "gtid": null, "file": "mysql-bin.000042",
           "pos": 1000 + i * 300, "row": 0, "thread": 7, "query": null})
}

fn with_schema(i: u64) -> String {
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
    json!({"schema": schema, "payload": {"before": row(i), "after": row(i), "source": source(i), "op": "u", "ts_ms": 1_714_558_830_500i64}})
        .to_string()
}

fn schemaless(i: u64) -> String {
    json!({"before": null, "after": row(i), "source": source(i), "op": "c", "ts_ms": 1_714_558_830_500i64}).to_string()
}

fn mongo(i: u64) -> String {
    let doc = format!(
        "{{\"_id\": {{\"$numberLong\": \"{i}\"}}, \"status\": \"paid\", \"amount\": {{\"$numberDecimal\": \"123.45\"}}, \"items\": [1, 2, 3], \"at\": {{\"$date\": 1714558830123}}}}"
    );
    json!({"after": doc, "source": {"connector": "mongodb", "name": "shop", "ts_ms": 1_714_558_830_000i64, "db": "inventory",
            "collection": "orders", "ord": i % 1000}, "op": "c", "ts_ms": 1_714_558_830_500i64})
    .to_string()
}

fn run(name: &str, records: &[(String, String)]) {
    let decoder = Decoder::new(DecoderOptions::default());
    let bytes: usize = records.iter().map(|(k, v)| k.len() + v.len()).sum();
    // Warm up (fills the schema cache), then measure.
    for (k, v) in records.iter().take(1000) {
        let _ = decoder.decode(&RawRecord::new("shop.inventory.orders", 0, 0, Some(k.as_bytes()), Some(v.as_bytes())));
    }
    let start = Instant::now();
    let mut changes = 0usize;
    for (offset, (k, v)) in records.iter().enumerate() {
        match decoder.decode(&RawRecord::new(
            "shop.inventory.orders",
            0,
            offset as i64,
            Some(k.as_bytes()),
            Some(v.as_bytes()),
        )) {
            Ok(Decoded::Change(_)) => changes += 1,
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<28} {:>9} records  {:>10.0} records/s  {:>7.1} MB/s  ({} B/record)",
        changes,
        changes as f64 / secs,
        bytes as f64 / secs / 1e6,
        bytes / records.len().max(1)
    );
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let key_schema = |i: u64| {
        json!({"schema": {"type": "struct", "name": "shop.inventory.orders.Key", "fields": [{"field": "id", "type": "int64"}]},
               "payload": {"id": i}})
        .to_string()
    };
    println!("decode_json_bench: {n} records per case, one thread");
    run("mysql, with schema", &(0..n).map(|i| (key_schema(i), with_schema(i))).collect::<Vec<_>>());
    run("mysql, schemaless", &(0..n).map(|i| (json!({"id": i}).to_string(), schemaless(i))).collect::<Vec<_>>());
    run(
        "mongodb, schemaless",
        &(0..n).map(|i| (json!({"id": i.to_string()}).to_string(), mongo(i))).collect::<Vec<_>>(),
    );
}
