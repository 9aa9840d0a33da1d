//! Every Connect/Debezium logical type round-trips through Avro: the cases of
//! `tests/decode_logical_types.rs` (one column each: Connect schema, JSON
//! value, expected value and column type) are written as one JsonConverter
//! record, serialized to Confluent Avro by confluent-kafka's `AvroSerializer`
//! (the Connect → Avro mapping of Confluent's `AvroData`: `connect.name`,
//! `connect.parameters`, `connect.type`, Decimal/Date/Time/Timestamp logical
//! types), registered in the registry test double, and decoded by sluice
//! through the registry. Each column must decode to the expected value and
//! column type, and the whole event must equal its JSON twin's. Plain Avro
//! logical types (without Connect properties, as non-Connect producers write
//! them) are covered with apache-avro as the encoder.

mod avro_support;

use serde_json::{Value as Json, json};
use sluice::decode::{Decoded, RawRecord, decoded_to_canonical_json};
use sluice_sink_api::ColumnType;
use sluice_sink_api::canonical::value_to_json;
use sluice_testkit::schema_registry::SchemaRegistryDouble;

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

fn named(kind: &str, name: &str) -> Json {
    json!({"type": kind, "name": name})
}

fn with_params(kind: &str, name: &str, params: Json) -> Json {
    json!({"type": kind, "name": name, "parameters": params})
}

/// JSON-only forms without an Avro twin: a Decimal written as a JSON number
/// (`decimal.format=NUMERIC`) and the TOAST placeholder written as text in a
/// `bytes` column (Avro bytes carry the placeholder's bytes: `bytes_base64`).
const JSON_ONLY: &[&str] = &["numeric_format", "bytes_text"];

fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(vec![
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
    all.extend(vec![
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
    all.extend(vec![
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
    all.extend(vec![
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
    all.extend(vec![
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
    all.retain(|c| !JSON_ONLY.contains(&c.name));
    // One record holds every case: names must be unique columns.
    let mut seen = std::collections::HashSet::new();
    for (i, c) in all.iter_mut().enumerate() {
        if !seen.insert(c.name) {
            c.name = Box::leak(format!("{}_{i}", c.name).into_boxed_str());
            seen.insert(c.name);
        }
    }
    all
}

/// The JsonConverter record holding every case as an optional column of `after`.
fn record(cases: &[Case]) -> Json {
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
    json!({
        "schema": {"type": "struct", "name": "t.Envelope", "fields": [
            {"field": "after", "type": "struct", "optional": true, "name": "t.Value", "fields": fields},
            {"field": "source", "type": "struct", "name": "t.Source", "fields": [
                {"field": "connector", "type": "string"}, {"field": "db", "type": "string"}, {"field": "table", "type": "string"},
                {"field": "file", "type": "string"}, {"field": "pos", "type": "int64"}, {"field": "row", "type": "int32"}]},
            {"field": "op", "type": "string"}]},
        "payload": {"after": after, "op": "c",
            "source": {"connector": "mysql", "db": "d", "table": "t", "file": "mysql-bin.000001", "pos": 4, "row": 0}}
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_logical_type_round_trips_through_confluent_avro() {
    let registry = SchemaRegistryDouble::start().await;
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let json_record = record(&cases);
    let dir = tempfile::tempdir().unwrap();
    let job = avro_support::job("s.d.t", None, Some(avro_support::connect_part(&json_record)));
    let avro = avro_support::serialize_with_python(dir.path(), &registry.url(), &[job]).await;
    let avro_value = avro[0].1.clone().expect("an Avro value");
    assert_eq!(avro_value[0], 0, "Confluent framing");

    let decoder = avro_support::decoder(&registry.url());
    let json_bytes = json_record.to_string().into_bytes();
    let from_json = decoder.decode(&RawRecord::new("s.d.t", 0, 0, None, Some(&json_bytes))).expect("json decodes");
    let from_avro = decoder.decode_resolving(&RawRecord::new("s.d.t", 0, 0, None, Some(&avro_value))).await;
    let Ok(Decoded::Change(event)) = &from_avro else { panic!("avro: {from_avro:?}") };
    let after = event.after.clone().expect("after");
    let schema = event.schema.clone().expect("schema");
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
    assert!(failures.is_empty(), "{} of {} columns differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    // The whole event equals its JSON twin's (canonical form: NaN is not equal to itself).
    let Decoded::Change(json_event) = &from_json else { panic!("json: {from_json:?}") };
    assert_eq!(event.schema, json_event.schema, "same table schema");
    assert_eq!(
        decoded_to_canonical_json(from_avro.as_ref().unwrap()),
        decoded_to_canonical_json(&from_json),
        "same event"
    );
}

/// Avro's own logical types, as a producer without Kafka Connect writes them
/// (no `connect.*` properties), encoded by apache-avro.
#[test]
fn plain_avro_logical_types_round_trip() {
    use apache_avro::types::Value as Avro;
    use sluice::decode::avro::{AvroConverter, avro_registry, wire};
    use sluice::decode::{Decoder, DecoderOptions};
    use sluice::registry::{FetchedSchema, FixedSchemas};
    use std::sync::Arc;

    let schema = r#"{"type":"record","name":"Envelope","namespace":"p","fields":[
      {"name":"after","type":["null",{"type":"record","name":"Row","fields":[
        {"name":"id","type":"long"},
        {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
        {"name":"dec_fixed","type":{"type":"fixed","name":"F8","size":8,"logicalType":"decimal","precision":18,"scale":4}},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"t_ms","type":{"type":"int","logicalType":"time-millis"}},
        {"name":"t_us","type":{"type":"long","logicalType":"time-micros"}},
        {"name":"ts_ms","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"ts_us","type":{"type":"long","logicalType":"timestamp-micros"}},
        {"name":"ts_ns","type":{"type":"long","logicalType":"timestamp-nanos"}},
        {"name":"lts_us","type":{"type":"long","logicalType":"local-timestamp-micros"}},
        {"name":"id_uuid","type":{"type":"string","logicalType":"uuid"}},
        {"name":"color","type":{"type":"enum","name":"Color","symbols":["red","green"]}},
        {"name":"f","type":"float"},
        {"name":"tags","type":{"type":"array","items":"string"}},
        {"name":"attrs","type":{"type":"map","values":"long"}}]}]},
      {"name":"source","type":{"type":"record","name":"Source","fields":[
        {"name":"connector","type":"string"},{"name":"db","type":"string"},{"name":"table","type":"string"},
        {"name":"file","type":"string"},{"name":"pos","type":"long"},{"name":"row","type":"int"}]}},
      {"name":"op","type":"string"}]}"#;
    let parsed = apache_avro::Schema::parse_str(schema).unwrap();
    let row = Avro::Record(vec![
        ("id".into(), Avro::Long(1)),
        ("dec".into(), Avro::Decimal(apache_avro::Decimal::from(vec![0xfe, 0x1d, 0xc0]))),
        ("dec_fixed".into(), Avro::Decimal(apache_avro::Decimal::from(vec![0, 0, 0, 0, 0, 0x01, 0xe2, 0x40]))),
        ("day".into(), Avro::Date(16_816)),
        ("t_ms".into(), Avro::TimeMillis(64_264_780)),
        ("t_us".into(), Avro::TimeMicros(64_264_780_123)),
        ("ts_ms".into(), Avro::TimestampMillis(1_410_198_664_780)),
        ("ts_us".into(), Avro::TimestampMicros(1_529_507_596_945_104)),
        ("ts_ns".into(), Avro::TimestampNanos(1_529_507_596_945_104_001)),
        ("lts_us".into(), Avro::LocalTimestampMicros(1_529_507_596_945_104)),
        ("id_uuid".into(), Avro::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".parse().unwrap())),
        ("color".into(), Avro::Enum(1, "green".into())),
        ("f".into(), Avro::Float(1.1)),
        ("tags".into(), Avro::Array(vec![Avro::String("a".into())])),
        ("attrs".into(), Avro::Map([("k".to_string(), Avro::Long(7))].into_iter().collect())),
    ]);
    let value = Avro::Record(vec![
        ("after".into(), Avro::Union(1, Box::new(row))),
        (
            "source".into(),
            Avro::Record(vec![
                ("connector".into(), Avro::String("mysql".into())),
                ("db".into(), Avro::String("d".into())),
                ("table".into(), Avro::String("t".into())),
                ("file".into(), Avro::String("mysql-bin.000001".into())),
                ("pos".into(), Avro::Long(4)),
                ("row".into(), Avro::Int(0)),
            ]),
        ),
        ("op".into(), Avro::String("c".into())),
    ]);
    let body = apache_avro::writer::datum::GenericDatumWriter::builder(&parsed)
        .build()
        .unwrap()
        .write_value_to_vec(value)
        .unwrap();
    let source = FixedSchemas::new().with(9, FetchedSchema::avro(schema));
    let registry = Arc::new(avro_registry(Arc::new(source), 4, avro_support::policy(std::time::Duration::ZERO)));
    let decoder = Decoder::with_converter(DecoderOptions::default(), Arc::new(AvroConverter::new(Some(registry))));
    let framed = wire::frame(9, &body);
    let decoded =
        futures::executor::block_on(decoder.decode_resolving(&RawRecord::new("p.d.t", 0, 0, None, Some(&framed))));
    let Ok(Decoded::Change(event)) = decoded else { panic!("{decoded:?}") };
    let after = event.after.unwrap();
    let schema = event.schema.unwrap();
    let expect = |column: &str, value: Json, column_type: ColumnType| {
        assert_eq!(after.get(column).map(value_to_json), Some(value), "{column}");
        assert_eq!(schema.column(column).map(|c| c.column_type.clone()), Some(column_type), "{column} type");
    };
    expect("dec", json!({"decimal": "-1234.56"}), ColumnType::Decimal { precision: Some(10), scale: Some(2) });
    expect("dec_fixed", json!({"decimal": "12.3456"}), ColumnType::Decimal { precision: Some(18), scale: Some(4) });
    expect("t_ms", value_to_json(after.get("t_ms").unwrap()), ColumnType::Time { precision: 3 });
    expect("t_us", value_to_json(after.get("t_us").unwrap()), ColumnType::Time { precision: 6 });
    expect("ts_ms", value_to_json(after.get("ts_ms").unwrap()), ColumnType::Timestamp { precision: 3 });
    expect("ts_us", value_to_json(after.get("ts_us").unwrap()), ColumnType::Timestamp { precision: 6 });
    expect("ts_ns", value_to_json(after.get("ts_ns").unwrap()), ColumnType::Timestamp { precision: 9 });
    expect("lts_us", value_to_json(after.get("lts_us").unwrap()), ColumnType::Timestamp { precision: 6 });
    expect("day", value_to_json(after.get("day").unwrap()), ColumnType::Date);
    expect("id_uuid", value_to_json(after.get("id_uuid").unwrap()), ColumnType::Uuid);
    expect(
        "color",
        value_to_json(after.get("color").unwrap()),
        ColumnType::Enum { allowed: vec!["red".into(), "green".into()] },
    );
    let text = |c: &str| value_to_json(after.get(c).unwrap()).to_string();
    assert!(text("day").contains("2016-01-16"), "{}", text("day"));
    assert!(text("t_ms").contains("17:51:04.78"), "{}", text("t_ms"));
    assert!(text("t_us").contains("17:51:04.780123"), "{}", text("t_us"));
    assert!(text("ts_ms").contains("2014-09-08T17:51:04.78"), "{}", text("ts_ms"));
    assert!(text("ts_us").contains("2018-06-20T15:13:16.945104"), "{}", text("ts_us"));
    assert!(text("ts_ns").contains("2018-06-20T15:13:16.945104001"), "{}", text("ts_ns"));
    assert!(text("id_uuid").contains("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "{}", text("id_uuid"));
    assert!(text("color").contains("green"), "{}", text("color"));
    assert_eq!(text("f"), "1.1", "float32 as written");
    assert!(text("attrs").contains("\"k\":7"), "{}", text("attrs"));
}
