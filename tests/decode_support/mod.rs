//! Shared helpers of the decode tests: fixture loading and a fact checker
//! that reports every failed fact with its fixture.

#![allow(dead_code)]

use std::fmt::Debug;
use std::path::PathBuf;

use serde_json::Value as Json;
use sluice::decode::{DecodeError, Decoded, Decoder, DecoderOptions, RawRecord, instant_to_json};
use sluice_sink_api::canonical::value_to_json;
use sluice_sink_api::{ChangeEvent, Row};

/// The Debezium fixture directory: `$SLUICE_DEBEZIUM_FIXTURES`, else
/// `../shared/fixtures/debezium` next to the repository, else the verbatim
/// copy in `tests/fixtures/debezium`. Panics (the test
/// fails) when it cannot be found: the fixtures are required.
pub fn fixtures_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SLUICE_DEBEZIUM_FIXTURES") {
        let dir = PathBuf::from(dir);
        assert!(dir.join("EXPECTED.md").is_file(), "SLUICE_DEBEZIUM_FIXTURES={} has no EXPECTED.md", dir.display());
        return dir;
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../shared/fixtures/debezium"),
        manifest.join("shared/fixtures/debezium"),
        manifest.join("../../shared/fixtures/debezium"),
        // The verbatim copy kept in the repository, for clones without `../shared`
        // (`vendored_fixtures_equal_the_shared_ones` keeps it identical).
        manifest.join("tests/fixtures/debezium"),
    ];
    for candidate in &candidates {
        if candidate.join("EXPECTED.md").is_file() {
            return candidate.canonicalize().unwrap_or_else(|_| candidate.clone());
        }
    }
    panic!(
        "Debezium fixtures not found: looked in {:?}; set SLUICE_DEBEZIUM_FIXTURES to the fixtures/debezium directory",
        candidates
    );
}

pub fn load(rel: &str) -> Vec<u8> {
    let path = fixtures_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Decodes fixture `value` (and `key`) as a record of `topic` at offset 7.
pub fn decode_with(
    options: DecoderOptions,
    topic: &str,
    value: Option<&str>,
    key: Option<&str>,
) -> Result<Decoded, DecodeError> {
    let value = value.map(load);
    let key = key.map(load);
    let decoder = Decoder::new(options);
    decoder.decode(&RawRecord::new(topic, 0, 7, key.as_deref(), value.as_deref()))
}

pub fn decode(topic: &str, value: &str, key: Option<&str>) -> Result<Decoded, DecodeError> {
    decode_with(DecoderOptions::default(), topic, Some(value), key)
}

/// Decodes and expects a change event.
pub fn change(topic: &str, value: &str, key: Option<&str>) -> ChangeEvent {
    match decode(topic, value, key) {
        Ok(Decoded::Change(event)) => event,
        Ok(other) => panic!("{value}: expected a change event, decoded {other:?}"),
        Err(err) => panic!("{value}: {err}"),
    }
}

/// Collects fact checks of one fixture; `finish` fails the test listing
/// every fact that did not hold.
pub struct Facts {
    fixture: String,
    checked: usize,
    failures: Vec<String>,
}

impl Facts {
    pub fn new(fixture: &str) -> Self {
        Facts { fixture: fixture.to_string(), checked: 0, failures: Vec::new() }
    }

    /// One fact: `actual == expected`.
    pub fn eq<T: PartialEq + Debug>(&mut self, fact: &str, actual: T, expected: T) {
        self.checked += 1;
        if actual != expected {
            self.failures.push(format!("{}: {fact}: expected {expected:?}, decoded {actual:?}", self.fixture));
        }
    }

    /// One fact: a condition.
    pub fn holds(&mut self, fact: &str, condition: bool) {
        self.checked += 1;
        if !condition {
            self.failures.push(format!("{}: {fact}: does not hold", self.fixture));
        }
    }

    /// One fact per column: the canonical JSON of each value; plus one fact
    /// for the exact column list (names, in order).
    pub fn row(&mut self, image: &str, row: &Option<Row>, expected: &[(&str, Json)]) {
        let Some(row) = row else {
            self.checked += 1;
            self.failures.push(format!("{}: {image}: expected a row, decoded none", self.fixture));
            return;
        };
        for (column, value) in expected {
            let actual = row.get(column).map(value_to_json);
            self.eq(&format!("{image}.{column}"), actual, Some(value.clone()));
        }
        let names: Vec<&str> = row.names().collect();
        let expected_names: Vec<&str> = expected.iter().map(|(c, _)| *c).collect();
        self.eq(&format!("{image} columns"), names, expected_names);
    }

    pub fn no_row(&mut self, image: &str, row: &Option<Row>) {
        self.eq(&format!("{image} is null"), row.as_ref().map(|_| "a row"), None);
    }

    /// The source timestamp in its canonical ISO form.
    pub fn ts(&mut self, fact: &str, ts: Option<chrono::DateTime<chrono::Utc>>, expected: &str) {
        self.eq(fact, ts.map(|t| instant_to_json(&t)), Some(Json::String(expected.to_string())));
    }

    pub fn finish(self) {
        assert!(self.checked > 0, "{}: no fact was checked", self.fixture);
        assert!(
            self.failures.is_empty(),
            "{} of {} facts failed:\n{}",
            self.failures.len(),
            self.checked,
            self.failures.join("\n")
        );
    }
}
