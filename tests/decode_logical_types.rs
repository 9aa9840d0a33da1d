//! Every Connect/Debezium logical type decodes losslessly, with its
//! precision, into the value and the column type sinks see.

use serde_json::{Value as Json, json};
use sluice::decode::{Decoded, Decoder, DecoderOptions, RawRecord};
use sluice_sink_api::canonical::value_to_json;
use sluice_sink_api::{ChangeEvent, ColumnType, Value};

/// One column: its schema (without the field name), its JSON value, the
/// expected canonical value and column type.
struct Case {
    name: &'static str,
    schema: Json,
    value: Json,
    canonical: Json,
    column: ColumnType,
}

fn case(name: &'static str, schema: Json, value: Json, canonical: Json, column: ColumnType) -> Case {
    Case { name, schema, value, canonical, column }
}

fn decode_cases(cases: &[Case]) -> ChangeEvent {
    let fields: Vec<Json> = cases
        .iter()
        .map(|c| {
            let mut s = c.schema.clone();
            s["field"] = json!(c.name);
            s["optional"] = json!(true);
            s
        })
        .collect();
    let after: serde_json::Map<String, Json> = cases.iter().map(|c| (c.name.to_string(), c.value.clone())).collect();
    let record = json!({
        "schema": {"type": "struct", "name": "t.Envelope", "fields": [
            {"field": "after", "type": "struct", "optional": true, "name": "t.Value", "fields": fields},
            {"field": "source", "type": "struct", "fields": [
                {"field": "connector", "type": "string"}, {"field": "db", "type": "string"}, {"field": "table", "type": "string"},
                {"field": "file", "type": "string"}, {"field": "pos", "type": "int64"}, {"field": "row", "type": "int32"}]},
            {"field": "op", "type": "string"}]},
        "payload": {"after": after, "op": "c",
            "source": {"connector": "mysql", "db": "d", "table": "t", "file": "mysql-bin.000001", "pos": 4, "row": 0}}
    })
    .to_string();
    match Decoder::new(DecoderOptions::default()).decode(&RawRecord::new("s.d.t", 0, 0, None, Some(record.as_bytes())))
    {
        Ok(Decoded::Change(ev)) => ev,
        other => panic!("{other:?}"),
    }
}

fn check(cases: Vec<Case>) {
    let ev = decode_cases(&cases);
    let after = ev.after.clone().expect("after");
    let schema = ev.schema.clone().expect("schema");
    let mut failures = Vec::new();
    for c in &cases {
        let actual = after.get(c.name).map(value_to_json);
        if actual.as_ref() != Some(&c.canonical) {
            failures.push(format!("{}: value {actual:?}, expected {}", c.name, c.canonical));
        }
        let column = schema.column(c.name).map(|col| col.column_type.clone());
        if column.as_ref() != Some(&c.column) {
            failures.push(format!("{}: column type {column:?}, expected {:?}", c.name, c.column));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn named(kind: &str, name: &str) -> Json {
    json!({"type": kind, "name": name})
}

fn with_params(kind: &str, name: &str, params: Json) -> Json {
    json!({"type": kind, "name": name, "parameters": params})
}

#[test]
fn decimals() {
    check(vec![
        case(
            "d",
            with_params("bytes", "org.apache.kafka.connect.data.Decimal", json!({"scale": "2"})),
            json!("EtaH"),
            json!({"decimal": "12345.67"}),
            ColumnType::Decimal { precision: None, scale: Some(2) },
        ),
        case(
            "negative",
            with_params(
                "bytes",
                "org.apache.kafka.connect.data.Decimal",
                json!({"scale": "3", "connect.decimal.precision": "10"}),
            ),
            json!("/w=="),
            json!({"decimal": "-0.001"}),
            ColumnType::Decimal { precision: Some(10), scale: Some(3) },
        ),
        case(
            "numeric_format",
            with_params("bytes", "org.apache.kafka.connect.data.Decimal", json!({"scale": "2"})),
            json!(10.5),
            json!({"decimal": "10.50"}),
            ColumnType::Decimal { precision: None, scale: Some(2) },
        ),
        case(
            "variable",
            json!({"type": "struct", "name": "io.debezium.data.VariableScaleDecimal", "fields": [
                {"field": "scale", "type": "int32"}, {"field": "value", "type": "bytes"}]}),
            json!({"scale": 4, "value": "AeJA"}),
            json!({"decimal": "12.3456"}),
            ColumnType::Decimal { precision: None, scale: None },
        ),
        case(
            "unsigned_precise",
            with_params(
                "bytes",
                "org.apache.kafka.connect.data.Decimal",
                json!({"scale": "0", "__debezium.source.column.type": "BIGINT UNSIGNED"}),
            ),
            json!("AP//////////"),
            json!(u64::MAX),
            ColumnType::UInt64,
        ),
        case(
            "unsigned_long",
            json!({"type": "int64", "parameters": {"__debezium.source.column.type": "BIGINT UNSIGNED"}}),
            json!(-2),
            json!(u64::MAX - 1),
            ColumnType::UInt64,
        ),
    ]);
}

#[test]
fn dates_and_times() {
    check(vec![
        case(
            "date",
            named("int32", "io.debezium.time.Date"),
            json!(16816),
            json!({"date": "2016-01-16"}),
            ColumnType::Date,
        ),
        case(
            "connect_date",
            named("int32", "org.apache.kafka.connect.data.Date"),
            json!(-1),
            json!({"date": "1969-12-31"}),
            ColumnType::Date,
        ),
        case(
            "time",
            named("int32", "io.debezium.time.Time"),
            json!(64_264_780),
            json!({"time": "17:51:04.780"}),
            ColumnType::Time { precision: 3 },
        ),
        case(
            "micro_time",
            named("int64", "io.debezium.time.MicroTime"),
            json!(64_264_780_123i64),
            json!({"time": "17:51:04.780123"}),
            ColumnType::Time { precision: 6 },
        ),
        case(
            "micro_time_negative",
            named("int64", "io.debezium.time.MicroTime"),
            json!(-3_600_000_000i64),
            json!({"time": "-01:00:00.000000"}),
            ColumnType::Time { precision: 6 },
        ),
        case(
            "nano_time",
            named("int64", "io.debezium.time.NanoTime"),
            json!(64_264_780_123_456i64),
            json!({"time": "17:51:04.780123456"}),
            ColumnType::Time { precision: 9 },
        ),
        case(
            "connect_time",
            named("int32", "org.apache.kafka.connect.data.Time"),
            json!(1_000),
            json!({"time": "00:00:01.000"}),
            ColumnType::Time { precision: 3 },
        ),
        case(
            "timestamp",
            named("int64", "io.debezium.time.Timestamp"),
            json!(1_410_198_664_780i64),
            json!({"timestamp": "2014-09-08T17:51:04.780"}),
            ColumnType::Timestamp { precision: 3 },
        ),
        // Documented vector: TIMESTAMP '2018-06-20 15:13:16.945104' = MicroTimestamp 1529507596945104.
        case(
            "micro_timestamp",
            named("int64", "io.debezium.time.MicroTimestamp"),
            json!(1_529_507_596_945_104i64),
            json!({"timestamp": "2018-06-20T15:13:16.945104"}),
            ColumnType::Timestamp { precision: 6 },
        ),
        case(
            "nano_timestamp",
            named("int64", "io.debezium.time.NanoTimestamp"),
            json!(1_529_507_596_945_104_001i64),
            json!({"timestamp": "2018-06-20T15:13:16.945104001"}),
            ColumnType::Timestamp { precision: 9 },
        ),
        case(
            "connect_timestamp",
            named("int64", "org.apache.kafka.connect.data.Timestamp"),
            json!(0),
            json!({"timestamp": "1970-01-01T00:00:00.000"}),
            ColumnType::Timestamp { precision: 3 },
        ),
        case(
            "zoned_timestamp",
            named("string", "io.debezium.time.ZonedTimestamp"),
            json!("2014-09-08T17:51:04.78-06:00"),
            json!({"timestamptz": "2014-09-08T23:51:04.78Z"}),
            ColumnType::TimestampTz { precision: 6 },
        ),
        case(
            "zoned_timestamp_scale",
            with_params("string", "io.debezium.time.ZonedTimestamp", json!({"__debezium.source.column.scale": "3"})),
            json!("2011-01-11T16:40:30.123Z"),
            json!({"timestamptz": "2011-01-11T16:40:30.123Z"}),
            ColumnType::TimestampTz { precision: 3 },
        ),
        case(
            "zoned_time",
            named("string", "io.debezium.time.ZonedTime"),
            json!("17:51:04.780123-06:00"),
            json!({"timetz": "17:51:04.780123-06:00"}),
            ColumnType::TimeTz { precision: 6 },
        ),
        case("year", named("int32", "io.debezium.time.Year"), json!(2024), json!(2024), ColumnType::Int32),
    ]);
}

#[test]
fn debezium_data_types() {
    check(vec![
        case(
            "json",
            named("string", "io.debezium.data.Json"),
            json!("{\"a\":[1,2]}"),
            json!({"json": {"a": [1, 2]}}),
            ColumnType::Json,
        ),
        case(
            "json_null_literal",
            named("string", "io.debezium.data.Json"),
            json!("null"),
            json!({"json": null}),
            ColumnType::Json,
        ),
        case(
            "uuid",
            named("string", "io.debezium.data.Uuid"),
            json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            json!({"uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}),
            ColumnType::Uuid,
        ),
        case(
            "enum",
            with_params("string", "io.debezium.data.Enum", json!({"allowed": "a,b,c"})),
            json!("b"),
            json!({"enum": "b"}),
            ColumnType::Enum { allowed: vec!["a".into(), "b".into(), "c".into()] },
        ),
        case(
            "set_empty",
            with_params("string", "io.debezium.data.EnumSet", json!({"allowed": "a,b"})),
            json!(""),
            json!({"set": []}),
            ColumnType::Set { allowed: vec!["a".into(), "b".into()] },
        ),
        case(
            "bits",
            with_params("bytes", "io.debezium.data.Bits", json!({"length": "2"})),
            json!("Ag=="),
            json!({"bits": "10"}),
            ColumnType::Bits { length: 2 },
        ),
        // Java's BitSet drops trailing zero bytes: length beyond the bytes is padded with zeros.
        case(
            "bits_short_bytes",
            with_params("bytes", "io.debezium.data.Bits", json!({"length": "12"})),
            json!("AQ=="),
            json!({"bits": "000000000001"}),
            ColumnType::Bits { length: 12 },
        ),
        case(
            "geometry",
            json!({"type": "struct", "name": "io.debezium.data.geometry.Geometry", "fields": [
                {"field": "wkb", "type": "bytes"}, {"field": "srid", "type": "int32", "optional": true}]}),
            json!({"wkb": "AQEAAAAAAAAAAADwPwAAAAAAAABA", "srid": 4326}),
            json!({"geometry": {"wkb": "0101000000000000000000f03f0000000000000040", "srid": 4326}}),
            ColumnType::Geometry,
        ),
        case(
            "point_xy",
            json!({"type": "struct", "name": "io.debezium.data.geometry.Point", "fields": [
                {"field": "x", "type": "float64"}, {"field": "y", "type": "float64"},
                {"field": "wkb", "type": "bytes", "optional": true}, {"field": "srid", "type": "int32", "optional": true}]}),
            json!({"x": 1.0, "y": 2.0, "wkb": null, "srid": null}),
            json!({"geometry": {"wkb": "0101000000000000000000f03f0000000000000040", "srid": null}}),
            ColumnType::Geometry,
        ),
        case(
            "xml",
            named("string", "io.debezium.data.Xml"),
            json!("<a/>"),
            json!("<a/>"),
            ColumnType::Text { max_length: None },
        ),
    ]);
}

#[test]
fn plain_connect_types() {
    check(vec![
        case("i8", json!({"type": "int8"}), json!(-5), json!(-5), ColumnType::Int16),
        case("i16", json!({"type": "int16"}), json!(300), json!(300), ColumnType::Int16),
        case("i32", json!({"type": "int32"}), json!(70000), json!(70000), ColumnType::Int32),
        case("i64", json!({"type": "int64"}), json!(i64::MIN), json!(i64::MIN), ColumnType::Int64),
        case(
            "i64_string",
            json!({"type": "int64"}),
            json!("9007199254740993"),
            json!(9_007_199_254_740_993i64),
            ColumnType::Int64,
        ),
        case("f32", json!({"type": "float32"}), json!(1.5), json!(1.5), ColumnType::Float32),
        case("f64_nan", json!({"type": "float64"}), json!("NaN"), json!({"float": "NaN"}), ColumnType::Float64),
        case("b", json!({"type": "boolean"}), json!(false), json!(false), ColumnType::Bool),
        case(
            "s",
            json!({"type": "string", "parameters": {"__debezium.source.column.length": "255"}}),
            json!("产品"),
            json!("产品"),
            ColumnType::Text { max_length: Some(255) },
        ),
        case(
            "bytes",
            json!({"type": "bytes"}),
            json!("TXlTUUw="),
            json!({"bytes": "4d7953514c"}),
            ColumnType::Bytes { max_length: None },
        ),
        case(
            "array",
            json!({"type": "array", "items": {"type": "int32"}}),
            json!([1, 2]),
            json!([1, 2]),
            ColumnType::Array { element: Box::new(ColumnType::Int32) },
        ),
        case(
            "map",
            json!({"type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}}),
            json!({"a": 1}),
            json!({"json": {"a": 1}}),
            ColumnType::Json,
        ),
        case(
            "nested",
            json!({"type": "struct", "name": "x.Nested", "fields": [{"field": "a", "type": "int32"}]}),
            json!({"a": 1}),
            json!({"json": {"a": 1}}),
            ColumnType::Json,
        ),
        case("null", json!({"type": "int32"}), json!(null), json!(null), ColumnType::Int32),
    ]);
}

#[test]
fn unavailable_placeholder() {
    check(vec![
        case(
            "text",
            json!({"type": "string"}),
            json!("__debezium_unavailable_value"),
            json!({"unavailable": true}),
            ColumnType::Text { max_length: None },
        ),
        case(
            "bytes_base64",
            json!({"type": "bytes"}),
            json!("X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="),
            json!({"unavailable": true}),
            ColumnType::Bytes { max_length: None },
        ),
        case(
            "bytes_text",
            json!({"type": "bytes"}),
            json!("__debezium_unavailable_value"),
            json!({"unavailable": true}),
            ColumnType::Bytes { max_length: None },
        ),
        case(
            "json",
            named("string", "io.debezium.data.Json"),
            json!("__debezium_unavailable_value"),
            json!({"unavailable": true}),
            ColumnType::Json,
        ),
        case(
            "array",
            json!({"type": "array", "items": {"type": "string"}}),
            json!(["__debezium_unavailable_value"]),
            json!({"unavailable": true}),
            ColumnType::Array { element: Box::new(ColumnType::Text { max_length: None }) },
        ),
    ]);
}

#[test]
fn schemaless_values_are_inferred() {
    let record = json!({"op": "c", "after": {"i": 1, "u": u64::MAX, "f": 1.25, "s": "x", "b": true, "n": null,
        "arr": [1, "a"], "obj": {"k": [1]}, "toast": "__debezium_unavailable_value"},
        "source": {"connector": "mysql", "db": "d", "table": "t", "file": "f.000001", "pos": 1, "row": 0}})
    .to_string();
    let Ok(Decoded::Change(ev)) =
        Decoder::new(DecoderOptions::default()).decode(&RawRecord::new("s.d.t", 0, 0, None, Some(record.as_bytes())))
    else {
        panic!("not a change");
    };
    let after = ev.after.expect("after");
    assert_eq!(after.get("i"), Some(&Value::Int(1)));
    assert_eq!(after.get("u"), Some(&Value::UInt(u64::MAX)));
    assert_eq!(after.get("f"), Some(&Value::Float(1.25)));
    assert_eq!(after.get("s"), Some(&Value::Text("x".into())));
    assert_eq!(after.get("b"), Some(&Value::Bool(true)));
    assert_eq!(after.get("n"), Some(&Value::Null));
    assert_eq!(after.get("arr"), Some(&Value::Array(vec![Value::Int(1), Value::Text("a".into())])));
    assert_eq!(after.get("obj"), Some(&Value::Json(json!({"k": [1]}))));
    assert_eq!(after.get("toast"), Some(&Value::Unavailable));
    assert!(ev.schema.is_none());
}
