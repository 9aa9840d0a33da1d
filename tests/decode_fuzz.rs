//! Property tests (the CI fuzzing): arbitrary bytes and mutated fixtures never
//! panic the decoder, and every failure is a permanent decode error that names
//! the record and a field.

mod decode_support;

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value as Json;
use sluice::decode::{DecodeError, Decoder, DecoderOptions, RawRecord};
use sluice_sink_api::{ErrorClass, RejectKind};

/// Every fixture file's bytes (values and keys).
fn corpus() -> &'static Vec<Vec<u8>> {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = decode_support::fixtures_dir();
        let mut files = Vec::new();
        for group in std::fs::read_dir(&dir).expect("fixtures") {
            let group = group.expect("entry").path();
            if group.is_dir() {
                for file in std::fs::read_dir(&group).expect("group") {
                    let path = file.expect("entry").path();
                    if path.extension().is_some_and(|e| e == "json") {
                        files.push(std::fs::read(&path).expect("read"));
                    }
                }
            }
        }
        assert!(files.len() > 50, "fixture corpus too small: {}", files.len());
        files
    })
}

fn check(result: Result<sluice::decode::Decoded, DecodeError>) {
    if let Err(err) = result {
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert_eq!(err.reject_kind(), RejectKind::Decode);
        assert!(!err.field.is_empty(), "{err}");
        assert_eq!(&*err.origin.topic, "fuzz.db.table");
        assert_eq!(err.origin.offset, 9);
    }
}

fn decode(key: Option<&[u8]>, value: Option<&[u8]>) {
    let decoder = Decoder::new(DecoderOptions::default());
    check(decoder.decode(&RawRecord::new("fuzz.db.table", 1, 9, key, value)));
}

/// A random JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null)),
        ".{0,12}".prop_map(Json::String),
        prop_oneof![
            Just("__debezium_unavailable_value"),
            Just("mysql-bin.000003"),
            Just("[\"1\",\"2\"]"),
            Just("2014-09-08T17:51:04.78-06:00"),
            Just("{\"$numberLong\": \"5\"}"),
            Just("AP//////////"),
            Just("c"),
            Just("d"),
            Just("BEGIN"),
        ]
        .prop_map(|s| Json::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..4).prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a random position of `node` (walking `path` choices).
fn mutate_json(node: &mut Json, path: &[usize], replacement: Json) {
    let Some((choice, rest)) = path.split_first() else {
        *node = replacement;
        return;
    };
    match node {
        Json::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(choice % m.len()).cloned().unwrap_or_default();
            match m.get_mut(&key) {
                Some(child) => mutate_json(child, rest, replacement),
                None => *node = replacement,
            }
        }
        Json::Array(a) if !a.is_empty() => {
            let len = a.len();
            mutate_json(&mut a[choice % len], rest, replacement);
        }
        _ => *node = replacement,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(value in prop::collection::vec(any::<u8>(), 0..512),
                                   key in prop::option::of(prop::collection::vec(any::<u8>(), 0..64))) {
        decode(key.as_deref(), Some(&value));
    }

    #[test]
    fn byte_mutations_of_fixtures_never_panic(index in any::<prop::sample::Index>(),
                                              edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
                                              cut in any::<prop::sample::Index>()) {
        let mut bytes = corpus()[index.index(corpus().len())].clone();
        for (at, byte, kind) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
        }
        let truncated = &bytes[..cut.index(bytes.len() + 1)];
        decode(None, Some(&bytes));
        decode(None, Some(truncated));
        decode(Some(&bytes), Some(truncated));
    }

    #[test]
    fn structural_mutations_of_fixtures_never_panic(index in any::<prop::sample::Index>(),
                                                    key_index in any::<prop::sample::Index>(),
                                                    path in prop::collection::vec(any::<usize>(), 0..6),
                                                    replacement in json_value()) {
        let corpus = corpus();
        let mut doc: Json = serde_json::from_slice(&corpus[index.index(corpus.len())]).expect("fixture JSON");
        mutate_json(&mut doc, &path, replacement);
        let value = doc.to_string();
        let key = &corpus[key_index.index(corpus.len())];
        decode(None, Some(value.as_bytes()));
        decode(Some(key), Some(value.as_bytes()));
    }

    #[test]
    fn random_envelopes_never_panic(doc in json_value(), op in prop_oneof![Just("c"), Just("u"), Just("d"), Just("r"), Just("t"), Just("m"), Just("z")]) {
        let mut envelope = serde_json::json!({"op": op, "source": {"connector": "mysql", "file": "mysql-bin.000001", "pos": 1, "row": 0}});
        envelope["after"] = doc.clone();
        envelope["before"] = doc.clone();
        envelope["message"] = doc;
        decode(None, Some(envelope.to_string().as_bytes()));
    }
}

#[test]
fn every_fixture_decodes_or_fails_cleanly_as_value_and_as_key() {
    let corpus = corpus();
    for value in corpus {
        decode(None, Some(value));
        for key in corpus.iter().take(10) {
            decode(Some(key), Some(value));
        }
    }
}
