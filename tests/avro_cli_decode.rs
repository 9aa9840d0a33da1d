//! `sluice decode --registry URL FILE` on raw Confluent Avro records: the
//! real binary fetches the writer schemas from the registry test double over
//! HTTP and prints the normalized change event.

mod avro_support;

use std::process::Output;

use sluice::decode::avro::wire;
use sluice_testkit::schema_registry::SchemaRegistryDouble;

use avro_support::{KEY_SCHEMA, VALUE_SCHEMA, record};

async fn sluice(args: Vec<String>) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice")).args(args).output().await.expect("run sluice")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn decode_command_reads_a_raw_avro_record_file_through_the_registry() {
    let registry = SchemaRegistryDouble::start_with_first_id(70_000).await;
    let key_id = registry.register("shop.inventory.customers-key", KEY_SCHEMA);
    let value_id = registry.register("shop.inventory.customers-value", VALUE_SCHEMA);
    let (key, value) = record(42, "Zoë", &["vip", "new"]);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.avro");
    let value_file = dir.path().join("value.avro");
    std::fs::write(&key_file, wire::frame(key_id, &key[5..])).unwrap();
    std::fs::write(&value_file, wire::frame(value_id, &value[5..])).unwrap();
    let path = |p: &std::path::Path| p.display().to_string();

    let args = |extra: &[&str]| {
        let mut a: Vec<String> = vec!["decode".into(), "--registry".into(), registry.url()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let out =
        sluice(args(&["--topic", "shop.inventory.customers", "--key", &path(&key_file), &path(&value_file)])).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", text(&out));
    let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let rendered = event.to_string();
    for expected in ["\"Zoë\"", "\"1234.56\"", "\"vip\"", "inventory", "customers"] {
        assert!(rendered.contains(expected), "{expected} in {rendered}");
    }
    assert_eq!(registry.id_lookups(key_id) + registry.id_lookups(value_id), 2, "{:?}", registry.requests());

    // An id the registry does not know: a clear error, exit 1.
    let unknown = dir.path().join("unknown.avro");
    std::fs::write(&unknown, wire::frame(123_456, &value[5..])).unwrap();
    let out = sluice(args(&[&path(&unknown)])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema id 123456 does not exist"), "{}", text(&out));

    // A corrupt record file: a clear error, exit 1.
    let truncated = dir.path().join("truncated.avro");
    std::fs::write(&truncated, &wire::frame(value_id, &value[5..])[..20]).unwrap();
    let out = sluice(args(&[&path(&truncated)])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"), "{}", text(&out));

    // Registry unreachable: one attempt, a clear error naming the registry, exit 1.
    registry.refuse_connections();
    let out = sluice(args(&[&path(&value_file)])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unavailable") && stderr.contains(&registry.url()), "{}", text(&out));

    // Without --registry an Avro record says what is missing.
    let out = sluice(vec!["decode".into(), path(&value_file)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no schema registry is configured"), "{}", text(&out));
}
