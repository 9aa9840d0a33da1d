//! The Avro wire-format proof against an independent implementation:
//! Confluent's Python client (`confluent-kafka` `AvroSerializer`, driven by
//! `tests/avro_support/produce_avro.py`) registers the Avro twins of the
//! Debezium JSON fixtures in the registry test double and produces them into
//! a real Kafka-protocol broker (tansu); sluice consumes them back, fetches
//! the writer schemas from the double over HTTP, and must decode every record
//! to exactly the same `Decoded` value (change event, row values and types,
//! version, table schema, origin) as the JSON fixture it came from.

mod avro_support;
mod decode_support;
mod support;

use std::collections::BTreeMap;

use serde_json::Value as Json;
use sluice::decode::RawRecord;
use sluice_testkit::schema_registry::SchemaRegistryDouble;
use sluice_testkit::{kafka_brokers, kafka_topic, require};

/// How a case's key is produced.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Key {
    None,
    /// Avro (the key file is a JsonConverter record with a schema).
    Avro,
    /// The key file's JSON bytes as they are (an Avro value with a JSON key).
    Json,
}

/// (value fixture, key fixture, key format, the fixture's Kafka topic): every
/// fixture with a Connect schema, except `postgres/create_with_schema.json`,
/// whose payload has a member its schema does not declare (`source.sequence`,
/// a documentation quirk): an Avro record cannot carry it.
const CASES: &[(&str, Option<&str>, Key, &str)] = &[
    (
        "mysql/console_snapshot_read_with_schema.json",
        Some("mysql/console_snapshot_read_key.json"),
        Key::Avro,
        "inventory-connector-mysql.inventory.products_on_hand",
    ),
    ("mysql/create_with_schema.json", None, Key::None, "mysql-server-1.inventory.customers"),
    ("mysql/update_with_schema.json", None, Key::None, "mysql-server-1.inventory.customers"),
    ("mysql/delete_with_schema.json", None, Key::None, "mysql-server-1.inventory.customers"),
    ("mysql/truncate_with_schema.json", None, Key::None, "mysql-server-1.inventory.customers"),
    (
        "mysql/tutorial_read_with_schema.json",
        Some("mysql/tutorial_read_key.json"),
        Key::Avro,
        "dbserver1.inventory.customers",
    ),
    (
        "mysql/tutorial_update_with_schema.json",
        Some("mysql/tutorial_update_key.json"),
        Key::Json,
        "dbserver1.inventory.customers",
    ),
    (
        "mysql/tutorial_delete_with_schema.json",
        Some("mysql/tutorial_delete_key.json"),
        Key::Avro,
        "dbserver1.inventory.customers",
    ),
    ("mariadb/create_with_schema.json", None, Key::None, "mariadb-server-1.inventory.customers"),
    ("postgres/truncate_with_schema.json", None, Key::None, "PostgreSQL_server.public.customers"),
    ("sqlserver/create_with_schema.json", None, Key::None, "server1.testDB.dbo.customers"),
    ("sqlserver/update_with_schema.json", None, Key::None, "server1.testDB.dbo.customers"),
    ("sqlserver/delete_with_schema.json", None, Key::None, "server1.testDB.dbo.customers"),
    (
        "mongodb/create_with_schema.json",
        Some("mongodb/customers_key.json"),
        Key::Avro,
        "fulfillment.inventory.customers",
    ),
    (
        "mongodb/legacy_create_with_schema.json",
        Some("mongodb/customers_key.json"),
        Key::Avro,
        "fulfillment.inventory.customers",
    ),
    ("schema_change/drop_table_with_schema.json", None, Key::None, "filter"),
    (
        "schema_change/mysql_legacy_create_table.json",
        Some("schema_change/mysql_legacy_create_table_key.json"),
        Key::Avro,
        "engineering",
    ),
    ("serde/with_schema.json", None, Key::None, "mysql-server-1.inventory.customers"),
    ("types/bits.json", None, Key::None, "engineering.regression_test.dbz_123_bitvaluetest"),
    (
        "types/bytes_varbinary.json",
        Some("types/bytes_varbinary_key.json"),
        Key::Avro,
        "engineering.regression_test.t1464075356413_testtable6",
    ),
    (
        "types/charset_utf8.json",
        Some("types/charset_utf8_key.json"),
        Key::Avro,
        "engineering.regression_test.dbz_102_charsettest",
    ),
    ("types/date.json", Some("types/date_key.json"), Key::Avro, "engineering.connector_test.orders"),
    (
        "types/decimal.json",
        Some("types/decimal_key.json"),
        Key::Avro,
        "engineering.regression_test.dbz_147_decimalvalues",
    ),
    (
        "types/decimal_timestamp_sqlserver.json",
        Some("types/decimal_timestamp_sqlserver_key.json"),
        Key::Avro,
        "redislabs.dbo.emp",
    ),
    ("types/enum_set.json", None, Key::None, "engineering.regression_test.dbz_100_enumsettest"),
    ("types/int_widths_no_pk.json", None, Key::None, "engineering.regression_test.dbz84_integer_types_table"),
    (
        "types/json_literal_null.json",
        Some("types/json_literal_null_key.json"),
        Key::Avro,
        "engineering.json_test.dbz_126_jsontable",
    ),
    (
        "types/json_nested.json",
        Some("types/json_nested_key.json"),
        Key::Json,
        "engineering.json_test.dbz_126_jsontable",
    ),
    ("types/temporal_mysql.json", None, Key::None, "engineering.regression_test.dbz_85_fractest"),
    ("types/temporal_zero_values.json", None, Key::None, "engineering.regression_test.dbz_114_zerovaluetest"),
];

/// Schemaless JSON values with an Avro key (a topic may mix formats per part),
/// and a tombstone (no value) with an Avro key.
const AVRO_KEY_ONLY: &[(Option<&str>, &str, &str)] = &[
    (Some("schema_change/mysql_ddl.json"), "schema_change/mysql_ddl_key.json", "mysql-server-1"),
    (Some("schema_change/sqlserver_create_table.json"), "schema_change/sqlserver_create_table_key.json", "server1"),
    (None, "tombstone/mysql_tutorial_tombstone_key.json", "dbserver1.inventory.customers"),
];

fn fixture_json(rel: &str) -> Json {
    serde_json::from_slice(&decode_support::load(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What one case produced and how its JSON twin reads.
struct Case {
    name: String,
    topic: String,
    json_key: Option<Vec<u8>>,
    json_value: Option<Vec<u8>>,
}

#[tokio::test(flavor = "multi_thread")]
async fn avro_from_confluent_python_serializer_decodes_like_the_json_fixtures() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    // Ids above 2^24, so that every byte of the 4-byte wire id matters.
    let registry = SchemaRegistryDouble::start_with_first_id(0x0102_0304).await;

    let mut cases = Vec::new();
    let mut jobs = Vec::new();
    for (value, key, key_format, fixture_topic) in CASES {
        let topic = kafka_topic(fixture_topic);
        let key_part = match (key, key_format) {
            (Some(k), Key::Avro) => Some(avro_support::connect_part(&fixture_json(k))),
            (Some(k), Key::Json) => {
                Some(avro_support::raw_part(std::str::from_utf8(&decode_support::load(k)).unwrap().trim()))
            }
            _ => None,
        };
        jobs.push(avro_support::job(&topic, key_part, Some(avro_support::connect_part(&fixture_json(value)))));
        cases.push(Case {
            name: format!("{value} (key {key:?}, {key_format:?})"),
            topic,
            json_key: key.map(decode_support::load),
            json_value: Some(decode_support::load(value)),
        });
    }
    for (value, key, fixture_topic) in AVRO_KEY_ONLY {
        let topic = kafka_topic(fixture_topic);
        let value_part = value.map(|v| avro_support::raw_part(std::str::from_utf8(&decode_support::load(v)).unwrap()));
        jobs.push(avro_support::job(&topic, Some(avro_support::connect_part(&fixture_json(key))), value_part));
        cases.push(Case {
            name: format!("{value:?} (Avro key {key})"),
            topic,
            json_key: Some(decode_support::load(key)),
            json_value: value.map(decode_support::load),
        });
    }
    for case in &cases {
        support::create_topic(&brokers, &case.topic, 1).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let produced = avro_support::produce_with_python(dir.path(), &registry.url(), &brokers, &jobs).await;
    assert_eq!(produced.len(), cases.len());
    for p in &produced {
        assert_eq!(p["dropped"], serde_json::json!([]), "every payload member is in the Avro record: {p}");
    }
    // Confluent's client registered every schema through the REST API.
    let registered = registry.requests().iter().filter(|r| r.starts_with("POST /subjects/")).count();
    assert!(registered >= cases.len(), "schemas registered over HTTP: {:?}", registry.requests());

    let topics: Vec<String> = cases.iter().map(|c| c.topic.clone()).collect();
    let records = avro_support::consume_all(&brokers, &topics, 1);
    let by_topic: BTreeMap<&str, _> = records.iter().map(|r| (r.0.as_str(), r)).collect();
    let decoder = avro_support::decoder(&registry.url());
    let mut failures = Vec::new();
    let mut avro_values = 0;
    let mut avro_keys = 0;
    for case in &cases {
        let (topic, offset, key, value) = by_topic[case.topic.as_str()];
        avro_values += usize::from(value.as_deref().is_some_and(|v| v.first() == Some(&0)));
        avro_keys += usize::from(key.as_deref().is_some_and(|k| k.first() == Some(&0)));
        let from_avro =
            decoder.decode_resolving(&RawRecord::new(topic, 0, *offset, key.as_deref(), value.as_deref())).await;
        let from_json =
            decoder.decode(&RawRecord::new(topic, 0, *offset, case.json_key.as_deref(), case.json_value.as_deref()));
        match (from_avro, from_json) {
            (Ok(a), Ok(j)) if a == j => {}
            (Ok(a), Ok(j)) => failures.push(format!("{}:\n  avro: {a:?}\n  json: {j:?}", case.name)),
            (a, j) => failures.push(format!("{}:\n  avro: {a:?}\n  json: {j:?}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert_eq!(avro_values, CASES.len(), "every value in CASES was produced as Confluent Avro");
    assert!(avro_keys >= 15, "Avro keys: {avro_keys}");
    // sluice fetched each schema once by id (cached afterwards).
    let requests = registry.requests();
    let lookups: Vec<&String> = requests.iter().filter(|r| r.starts_with("GET /schemas/ids/")).collect();
    let distinct: std::collections::BTreeSet<&String> = lookups.iter().copied().collect();
    assert_eq!(lookups.len(), distinct.len(), "each schema id fetched once: {lookups:?}");
    eprintln!("{} records compared ({avro_values} Avro values, {avro_keys} Avro keys)", cases.len());
}
