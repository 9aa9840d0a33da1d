//! Corrupt Confluent Avro records: wrong magic byte, truncated schema id,
//! truncated body, a body that does not match its schema id, unknown ids and
//! arbitrary mutations (proptest) are permanent `decode` errors with a clear
//! message, never a panic; end to end they are dead-lettered and the stream
//! moves on.

mod avro_support;
mod dlq_support;
mod support;

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use sluice::decode::avro::{AvroConverter, WireFormat, avro_registry, wire};
use sluice::decode::{DecodeError, Decoded, Decoder, DecoderOptions, RawRecord};
use sluice::registry::{FetchedSchema, FixedSchemas};
use sluice_sink_api::{ErrorClass, RejectKind};

use avro_support::{KEY_ID, KEY_SCHEMA, VALUE_ID, VALUE_SCHEMA, record};

/// A decoder with both schemas (no network: a fixed set; other ids are
/// "not found", like the registry's 40403).
fn decoder(format: WireFormat) -> Decoder {
    let source = FixedSchemas::new()
        .with(KEY_ID, FetchedSchema::avro(KEY_SCHEMA))
        .with(VALUE_ID, FetchedSchema::avro(VALUE_SCHEMA));
    let registry = Arc::new(avro_registry(Arc::new(source), 16, avro_support::policy(std::time::Duration::ZERO)));
    let converter = AvroConverter::new(Some(registry)).with_formats(format, Default::default());
    Decoder::with_converter(DecoderOptions::default(), Arc::new(converter))
}

fn shared_decoder() -> &'static Decoder {
    static DECODER: OnceLock<Decoder> = OnceLock::new();
    DECODER.get_or_init(|| decoder(WireFormat::Avro))
}

fn decode_with(decoder: &Decoder, key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Decoded, DecodeError> {
    futures::executor::block_on(decoder.decode_resolving(&RawRecord::new(
        "shop.inventory.customers",
        2,
        41,
        key,
        value,
    )))
}

fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Decoded, DecodeError> {
    decode_with(shared_decoder(), key, value)
}

/// A failure must be permanent, of kind decode, and name the record.
fn check(result: &Result<Decoded, DecodeError>) {
    if let Err(e) = result {
        assert_eq!(e.class(), ErrorClass::Permanent, "{e}");
        assert_eq!(e.reject_kind(), RejectKind::Decode, "{e}");
        assert_eq!(e.origin.offset, 41, "{e}");
        assert!(!e.field.is_empty(), "{e}");
    }
}

fn error(key: Option<&[u8]>, value: Option<&[u8]>) -> String {
    let result = decode(key, value);
    check(&result);
    match result {
        Err(e) => e.to_string(),
        Ok(d) => panic!("decoded a corrupt record: {d:?}"),
    }
}

#[test]
fn valid_records_decode() {
    let (key, value) = record(5, "Ann", &["a", "b"]);
    let Decoded::Change(event) = decode(Some(&key), Some(&value)).unwrap() else { panic!("a change") };
    let after = event.after.unwrap();
    assert_eq!(after.get("name"), Some(&sluice_sink_api::Value::Text("Ann".into())));
    assert_eq!(
        sluice_sink_api::canonical::value_to_json(after.get("price").unwrap()),
        serde_json::json!({"decimal": "1234.56"})
    );
}

#[test]
fn corrupt_inputs_are_permanent_decode_errors_with_clear_messages() {
    let (key, value) = record(5, "Ann", &["a", "b"]);

    // Wrong magic byte.
    let mut wrong_magic = value.clone();
    wrong_magic[0] = 1;
    let e = error(Some(&key), Some(&wrong_magic));
    assert!(e.contains("first byte is 0x01, expected the magic byte 0x00"), "{e}");
    // ... with format auto, a value not starting with 0 is read as JSON, and is not JSON.
    let auto = decoder(WireFormat::Auto);
    let e = decode_with(&auto, Some(&key), Some(&wrong_magic)).unwrap_err();
    assert_eq!((e.class(), e.reject_kind()), (ErrorClass::Permanent, RejectKind::Decode), "{e}");

    // Truncated schema id.
    for cut in 1..5 {
        let e = error(Some(&key), Some(&value[..cut]));
        assert!(e.contains("too short") && e.contains("4-byte schema id"), "{e}");
    }
    // Truncated body, at every length.
    for cut in 5..value.len() {
        let e = error(Some(&key), Some(&value[..cut]));
        assert!(
            e.contains("truncated") || e.contains("not written with schema id") || e.contains("cannot fit"),
            "cut at {cut}: {e}"
        );
    }
    // Body longer than its schema says.
    let mut longer = value.clone();
    longer.extend_from_slice(b"\x02\x04");
    let e = error(Some(&key), Some(&longer));
    assert!(e.contains("2 bytes left over") && e.contains(&format!("schema id {VALUE_ID}")), "{e}");
    // Id/body mismatch: the value's body framed with the key's schema id, and the other way.
    let swapped = wire::frame(KEY_ID, &value[5..]);
    let e = error(Some(&key), Some(&swapped));
    assert!(e.contains("not written with schema id 7"), "{e}");
    let e = error(Some(&wire::frame(VALUE_ID, &key[5..])), Some(&value));
    assert!(e.contains("field key") && e.contains(&format!("schema id {VALUE_ID}")), "{e}");
    // An id the registry does not know.
    let e = error(Some(&key), Some(&wire::frame(999_999, &value[5..])));
    assert!(e.contains("schema id 999999 does not exist"), "{e}");
    // A schema id that is not a valid Avro schema.
    let bad = FixedSchemas::new().with(1, FetchedSchema::avro(r#"{"type":"record","name":"x"}"#));
    let registry = Arc::new(avro_registry(Arc::new(bad), 4, avro_support::policy(std::time::Duration::ZERO)));
    let d = Decoder::with_converter(DecoderOptions::default(), Arc::new(AvroConverter::new(Some(registry))));
    let e = decode_with(&d, None, Some(&wire::frame(1, b"\x00"))).unwrap_err();
    assert!(e.to_string().contains("invalid Avro schema"), "{e}");
    assert_eq!((e.class(), e.reject_kind()), (ErrorClass::Permanent, RejectKind::Decode));
    // A huge array count cannot allocate beyond the input.
    let mut huge = value[..5].to_vec();
    huge.extend_from_slice(&[0x00, 0x02]); // before: null; after: the row
    huge.extend_from_slice(&[0x0a, 0x06, b'A', b'n', b'n', 0x0a]); // id 5, "Ann", qty 5
    huge.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0x0f]); // tags: 2^31-1 items
    let e = error(Some(&key), Some(&huge));
    assert!(e.contains("cannot fit"), "{e}");
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    SetId(u32),
    ReplaceBody(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        prop_oneof![Just(KEY_ID), Just(VALUE_ID), any::<u32>()].prop_map(Mutation::SetId),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Mutation::ReplaceBody),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Truncate(n) => bytes.truncate(n % (bytes.len() + 1)),
        Mutation::Flip(i, x) => {
            if !bytes.is_empty() {
                let i = i % bytes.len();
                bytes[i] ^= x;
            }
        }
        Mutation::Insert(i, b) => {
            let i = i % (bytes.len() + 1);
            bytes.splice(i..i, b.iter().copied());
        }
        Mutation::SetId(id) => {
            if bytes.len() >= 5 {
                bytes[1..5].copy_from_slice(&id.to_be_bytes());
            }
        }
        Mutation::ReplaceBody(b) => {
            bytes.truncate(5.min(bytes.len()));
            bytes.extend_from_slice(b);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Mutated keys and values never panic; failures are permanent decode errors.
    #[test]
    fn fuzz_mutated_avro_records(
        id in 0..1000i32,
        name in ".{0,20}",
        tags in proptest::collection::vec("[a-z]{0,5}", 0..5),
        key_mutations in proptest::collection::vec(mutation(), 0..3),
        value_mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        let (mut key, mut value) = record(id, &name, &tags);
        for m in &key_mutations {
            apply(&mut key, m);
        }
        for m in &value_mutations {
            apply(&mut value, m);
        }
        check(&decode(Some(&key), Some(&value)));
    }

    /// Arbitrary bytes after the magic byte and a known id.
    #[test]
    fn fuzz_arbitrary_bodies(body in proptest::collection::vec(any::<u8>(), 0..512), known in any::<bool>()) {
        let id = if known { VALUE_ID } else { KEY_ID };
        check(&decode(None, Some(&wire::frame(id, &body))));
    }
}

/// End to end: corrupt records between good ones in a real topic are parked
/// in the real DLQ with class `decode` (byte-exact, with the reason), every
/// good record is applied and the offsets reach the end.
#[tokio::test(flavor = "multi_thread")]
async fn avro_corrupt_records_in_a_stream_are_dead_lettered() {
    use sluice::dlq::{EntryFilter, PostgresDeadLetters};
    use sluice_testkit::schema_registry::SchemaRegistryDouble;
    use sluice_testkit::{kafka_brokers, kafka_topic, require, unique_name};

    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres (DLQ)", &sluice_testkit::pg_url()).await;
    let registry = SchemaRegistryDouble::start().await;
    let key_id = registry.register("shop.inventory.customers-key", KEY_SCHEMA);
    let value_id = registry.register("shop.inventory.customers-value", VALUE_SCHEMA);
    let reframe = |id: u32, framed: &[u8]| wire::frame(id, &framed[5..]);

    let mut records: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut corrupt: Vec<(i64, &str)> = Vec::new();
    for n in 1..=200i32 {
        let (key, value) = record(n, &format!("customer-{n}"), &["x"]);
        let (key, value) = (reframe(key_id, &key), reframe(value_id, &value));
        if n % 20 == 10 {
            let (bad, why) = match (n / 20) % 5 {
                0 => ([&[1u8][..], &value[1..]].concat(), "expected the magic byte 0x00"),
                1 => (value[..3].to_vec(), "too short"),
                2 => (value[..value.len() - 2].to_vec(), "truncated"),
                3 => (reframe(key_id, &value), "not written with schema id"),
                _ => (reframe(4_000_000, &value), "does not exist"),
            };
            corrupt.push((records.len() as i64, why));
            records.push((key.clone(), Some(bad)));
        }
        records.push((key, Some(value)));
    }
    let topic = kafka_topic("shop.inventory.customers");
    support::create_topic(&brokers, &topic, 1).await;
    support::produce(&brokers, &topic, &records).await;

    let dir = tempfile::tempdir().unwrap();
    let group = format!("g-{topic}");
    let schema = unique_name("avro_corrupt");
    let extra = format!(
        "\n[decode]\nformat = \"avro\"\n\n[schema_registry]\nurl = \"{}\"\nunavailable_retry = \"10s\"\n",
        registry.url()
    );
    let cfg = support::write_config(dir.path(), &brokers, &topic, &group, &extra);
    let text =
        std::fs::read_to_string(&cfg).unwrap().replace("schema = \"sluice_it\"", &format!("schema = \"{schema}\""));
    std::fs::write(&cfg, text).unwrap();
    let mut child = support::spawn_sluice(dir.path(), &cfg, &["run", "--drain"], 0);
    let status = support::wait_exit(&mut child, std::time::Duration::from_secs(120));
    assert!(status.success(), "sluice run --drain: {status}\n{}", support::log_tail(dir.path(), 0));

    assert_eq!(support::committed(&brokers, &group, &topic, 1), vec![records.len() as i64]);
    let sink = support::journal(dir.path());
    let table = sluice_sink_api::TableId::new(Some("inventory"), None, "customers");
    for n in 1..=200i64 {
        let row = sink.get(&table, &sluice_sink_api::Row::new().with("id", n));
        assert!(row.is_some(), "row {n} applied");
    }
    let store = PostgresDeadLetters::connect_lazy(&sluice_testkit::pg_url(), None, &schema).unwrap();
    let filter = EntryFilter { group: Some(group.clone()), ..EntryFilter::default() };
    let entries = store.page_in_record_order(&filter, None, 1000).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.offset).collect::<Vec<_>>(), corrupt.iter().map(|c| c.0).collect::<Vec<_>>());
    for (e, (offset, why)) in entries.iter().zip(&corrupt) {
        assert_eq!((e.class.as_str(), e.sink.as_str()), ("decode", "*"), "{e:?}");
        assert!(e.message.contains(why), "entry at {offset}: expected {why:?} in {:?}", e.message);
        assert_eq!(e.raw_value.as_deref(), records[*offset as usize].1.as_deref(), "raw bytes kept");
    }
}
