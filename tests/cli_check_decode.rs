//! `sluice check` and `sluice decode` as users run them: the real binary on
//! the bundled example configs and the Debezium fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice")).args(args).output().expect("run sluice")
}

fn fixtures() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/fixtures/debezium");
    // Without `../shared` (a bare clone), the verbatim copy in the repository.
    let dir = if shared.is_dir() { shared } else { root.join("tests/fixtures/debezium") };
    assert!(dir.is_dir(), "Debezium fixtures not found at {}", dir.display());
    dir
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

#[test]
fn check_accepts_the_reference_config() {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["check", "-c", &example("pipeline.toml")])
        .env("KAFKA_PASSWORD", "k")
        .env("PG_PASSWORD", "p")
        .env("SLUICE_SCHEMA_REGISTRY__PASSWORD", "r")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{stderr}", out.status.code());
    assert!(stdout.contains("OK"), "{stdout}");
    assert!(stdout.contains("sink replica (postgres)") && stdout.contains("sink search (elasticsearch)"), "{stdout}");
    assert!(stdout.contains("override: schema_registry.password"), "env override reported: {stdout}");
    assert!(!stdout.contains("\"k\"") && !stdout.contains("=p"), "secrets never printed: {stdout}");
}

#[test]
fn check_reports_every_problem_with_its_path_and_exits_2() {
    let out = sluice(&["check", "-c", &example("broken.toml")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "kafka.brokers: invalid broker address \"kafka-without-port\"",
        "kafka.group_id: must not be empty",
        "kafka.topics[0]: invalid topic name",
        "batch.max_wait: invalid value",
        "sink[0].url:",
        "sink[1].url:",
    ] {
        assert!(stderr.contains(expected), "missing `{expected}` in:\n{stderr}");
    }
    assert!(!stderr.contains("in `max_wait`"), "no duplicated paths: {stderr}");
}

#[test]
fn check_names_a_missing_file() {
    let out = sluice(&["check", "-c", "/nonexistent/pipeline.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/pipeline.toml"));
}

#[test]
fn decode_prints_the_canonical_form_of_every_fixture() {
    let root = fixtures();
    let mut decoded = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json") || name.ends_with("_key.json") {
                continue;
            }
            let topic = if name.starts_with("types") || dir.ends_with("types") {
                // legacy recordings carry no db/table: the topic names the table
                "engineering.regression_test.t"
            } else {
                "server.db.table"
            };
            let key = file.with_file_name(name.replace(".json", "_key.json"));
            let mut args = vec!["decode".to_string(), "--topic".into(), topic.into(), file.display().to_string()];
            if key.exists() {
                args.push("--key".into());
                args.push(key.display().to_string());
            }
            let out = Command::new(env!("CARGO_BIN_EXE_sluice")).args(&args).output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                // Fixtures the decoder deliberately rejects must say why, naming the record.
                assert!(stderr.contains("error:") && stderr.contains(topic), "{}: {stderr}", file.display());
                continue;
            }
            for line in stdout.lines() {
                let json: serde_json::Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}: {line}", file.display()));
                assert!(json.get("kind").is_some(), "{}: canonical form has a kind: {line}", file.display());
                if json["kind"] == "change" {
                    let op = json["op"].as_str().unwrap();
                    assert!(["c", "u", "d", "r", "t"].contains(&op), "{}: op {op}", file.display());
                    assert!(
                        json["version"].is_object() || json["version"].is_string(),
                        "{}: version: {line}",
                        file.display()
                    );
                }
            }
            decoded += 1;
        }
    }
    assert!(decoded >= 40, "decoded {decoded} fixtures");
}

#[test]
fn decode_shows_exact_types_of_a_fixture() {
    let root = fixtures();
    let out = sluice(&[
        "decode",
        "--topic",
        "engineering.regression_test.dbz_147_decimalvalues",
        "--key",
        &root.join("types/decimal_key.json").display().to_string(),
        &root.join("types/decimal.json").display().to_string(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["op"], "c");
    assert_eq!(json["after"]["decimal_value"], serde_json::json!({"decimal": "12345.67"}));
    assert_eq!(json["key"]["pk_column"], 1);
}

#[test]
fn decode_errors_name_the_record_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, br#"{"payload": {"op": "x", "after": {"id": 1}, "source": {"connector": "mysql"}}}"#).unwrap();
    let out =
        sluice(&["decode", "--topic", "srv.db.t", "--partition", "3", "--offset", "77", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("srv.db.t") && stderr.contains("77"), "names the record: {stderr}");
    assert!(stderr.contains("op"), "names the field: {stderr}");

    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"\x01\x02not json at all").unwrap();
    let out = sluice(&["decode", "--topic", "srv.db.t", &garbage.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "garbage is an error, not a panic");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn decode_reads_json_lines_from_stdin() {
    use std::io::Write;
    let root = fixtures();
    let a = std::fs::read_to_string(root.join("serde/without_schema.json")).unwrap();
    let b = std::fs::read_to_string(root.join("postgres/update.json")).unwrap();
    let compact = |s: &str| serde_json::to_string(&serde_json::from_str::<serde_json::Value>(s).unwrap()).unwrap();
    let input = format!("{}\n{}\n", compact(&a), compact(&b));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["decode", "--topic", "server.db.table", "--offset", "10", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["offset"], 10);
    assert_eq!(lines[1]["offset"], 11);
    assert_eq!(lines[1]["op"], "u");
}
