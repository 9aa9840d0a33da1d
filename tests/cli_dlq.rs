//! The `sluice dlq` commands, run as the real binary against real Postgres:
//! every command, every filter, and bad arguments (clear errors, exit 2).

mod dlq_support;

use std::path::PathBuf;

use dlq_support::*;
use sluice::dlq::PostgresDeadLetters;
use sluice_sink_api::{MemorySink, RejectKind, Row, TableId, Value};

const TOPIC: &str = "demo.inventory.customers";
const GARBAGE: &[u8] = b"\x00\xff\x00 not a record \xc3\x28";

struct Fixture {
    dir: tempfile::TempDir,
    config: PathBuf,
    store: PostgresDeadLetters,
    group: String,
}

/// Parks, for a fresh group: offset 1 garbage (decode, sink `*`), offset 2
/// key 1 at pos 100 (constraint), offset 3 key 2 (constraint), offset 4 key 1
/// at pos 300 (data_type); and one entry of another group.
async fn fixture(extra_sink: &str) -> Fixture {
    let store = store("dlq_cli").await;
    let group = sluice_testkit::unique_name("g");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), store.schema(), &group, TOPIC, extra_sink);
    let (k1, v1) = change(1, "one", true, 100);
    let (k2, v2) = change(2, "two", true, 200);
    let (k1b, v1b) = change(1, "one-b", false, 300);
    park(
        &store,
        &[
            letter(&group, TOPIC, 1, "*", RejectKind::Decode, Some(b"k".to_vec()), Some(GARBAGE.to_vec())),
            letter(&group, TOPIC, 2, "mem", RejectKind::Constraint, Some(k1), Some(v1)),
            letter(&group, TOPIC, 3, "mem", RejectKind::Constraint, Some(k2), Some(v2)),
            letter(&group, TOPIC, 4, "mem", RejectKind::DataType, Some(k1b), Some(v1b)),
            letter("other-group", TOPIC, 1, "mem", RejectKind::Constraint, None, Some(b"{}".to_vec())),
        ],
    )
    .await;
    Fixture { dir, config, store, group }
}

fn list_json(f: &Fixture, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["dlq", "list", "--json"];
    args.extend_from_slice(extra);
    let out = sluice(&f.config, &args);
    expect_code(&out, 0);
    json_lines(&out)
}

fn offsets(lines: &[serde_json::Value]) -> Vec<i64> {
    let mut o: Vec<i64> = lines.iter().map(|l| l["offset"].as_i64().unwrap()).collect();
    o.sort_unstable();
    o
}

fn journal_row(f: &Fixture, id: i64) -> Option<Row> {
    let sink = MemorySink::read_journal(&f.dir.path().join("journal.jsonl")).unwrap();
    sink.get(&TableId::new(Some("inventory"), None, "customers"), &Row::new().with("id", id))
}

#[tokio::test]
async fn cli_dlq_list_every_filter() {
    let f = fixture("").await;
    let all = list_json(&f, &[]);
    assert_eq!(offsets(&all), vec![1, 2, 3, 4], "scoped to the config's group");
    assert!(all.iter().all(|l| l["consumer_group"] == f.group.as_str()));
    let ids: Vec<i64> = all.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(all[0]["value_bytes"].as_i64(), Some(all[0]["value_bytes"].as_i64().unwrap()));
    assert_eq!(offsets(&list_json(&f, &["--class", "constraint"])), vec![2, 3]);
    let decode = list_json(&f, &["--class", "decode"]);
    assert_eq!(offsets(&decode), vec![1]);
    assert_eq!(decode[0]["sink"], "*");
    assert_eq!(decode[0]["value_bytes"].as_i64(), Some(GARBAGE.len() as i64));
    assert_eq!(offsets(&list_json(&f, &["--table", "inventory.customers"])), vec![2, 3, 4]);
    assert_eq!(offsets(&list_json(&f, &["--table", "inventory.nope"])), Vec::<i64>::new());
    assert_eq!(offsets(&list_json(&f, &["--topic", TOPIC])), vec![1, 2, 3, 4]);
    assert_eq!(offsets(&list_json(&f, &["--topic", "other.topic"])), Vec::<i64>::new());
    assert_eq!(offsets(&list_json(&f, &["--sink", "mem"])), vec![2, 3, 4]);
    assert_eq!(offsets(&list_json(&f, &["--sink", "*"])), vec![1]);
    assert_eq!(offsets(&list_json(&f, &["--since", "1h"])), vec![1, 2, 3, 4]);
    assert_eq!(offsets(&list_json(&f, &["--until", "1h"])), Vec::<i64>::new());
    assert_eq!(offsets(&list_json(&f, &["--since", "2999-01-01T00:00:00Z"])), Vec::<i64>::new());
    assert_eq!(offsets(&list_json(&f, &["--until", "2999-01-01"])), vec![1, 2, 3, 4]);
    assert_eq!(offsets(&list_json(&f, &["--since", "2000-01-01", "--until", "1m"])), Vec::<i64>::new());
    assert_eq!(offsets(&list_json(&f, &["--unresolved"])), vec![1, 2, 3, 4]);
    assert_eq!(offsets(&list_json(&f, &["--resolved"])), Vec::<i64>::new());
    assert_eq!(offsets(&list_json(&f, &["--limit", "2"])), vec![3, 4], "the newest two");
    let other = list_json(&f, &["--group", "other-group"]);
    assert_eq!(other.len(), 1);
    assert_eq!(other[0]["consumer_group"], "other-group");

    // The readable table.
    let out = sluice(&f.config, &["dlq", "list"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    for needle in ["ID", "CLASS", "inventory.customers", "constraint", "data_type", "decode", "unresolved", TOPIC] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    let out = sluice(&f.config, &["dlq", "list", "--limit", "1"]);
    assert!(stderr(&out).contains("showing the newest 1 of 4"), "{}", stderr(&out));
    let out = sluice(&f.config, &["dlq", "list", "--topic", "nothing"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("no dead letters match"));
}

#[tokio::test]
async fn cli_dlq_bad_arguments_are_clear() {
    let f = fixture("").await;
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["dlq", "list", "--class", "typo"], 2, "unknown error class \"typo\"; one of decode, schema"),
        (vec!["dlq", "list", "--since", "yesterday"], 2, "--since: \"yesterday\" is neither an RFC 3339 time"),
        (vec!["dlq", "list", "--until", "13:00"], 2, "--until: \"13:00\""),
        (vec!["dlq", "list", "--since", "1h", "--until", "2h"], 2, "must be before --until"),
        (vec!["dlq", "list", "--limit", "0"], 2, "--limit"),
        (vec!["dlq", "list", "--unresolved", "--resolved"], 2, "cannot be used with"),
        (vec!["dlq", "list", "--table", ""], 2, "--table: must not be empty"),
        (vec!["dlq", "show", "abc"], 2, "invalid value 'abc'"),
        (vec!["dlq", "show", "999999999"], 1, "no dead letter with id 999999999"),
        (vec!["dlq", "replay"], 2, "nothing selected"),
        (vec!["dlq", "replay", "--all", "--table", "x"], 2, "cannot be combined with filters"),
        (vec!["dlq", "replay", "--all", "--id", "1"], 2, "cannot be used with"),
        (vec!["dlq", "replay", "--resolved", "--table", "x"], 2, "replay only takes unresolved"),
        (vec!["dlq", "replay", "--id", "999999999"], 1, "no dead letter with id 999999999"),
        (vec!["dlq", "replay", "--class", "nope"], 2, "unknown error class \"nope\""),
        (vec!["dlq", "resolve"], 2, "required"),
        (vec!["dlq", "resolve", "--resolution", "replayed", "1"], 2, "[possible values: manual, discarded]"),
        (vec!["dlq", "purge"], 2, "--resolved"),
        (vec!["dlq", "purge", "--resolved", "--older-than", "soon"], 2, "--older-than: \"soon\" is not a duration"),
    ];
    for (args, code, needle) in cases {
        let out = sluice(&f.config, &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: exit code\n{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {needle:?} not in:\n{}", stderr(&out));
    }
    // Nothing was changed by any of them.
    assert_eq!(offsets(&list_json(&f, &["--unresolved"])), vec![1, 2, 3, 4]);

    let missing = f.dir.path().join("nope.toml");
    let out = sluice(&missing, &["dlq", "list"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("cannot read config file"), "{}", stderr(&out));
    // A schema nobody migrated: the hint names the command to run.
    let unmigrated = write_config(f.dir.path(), &sluice_testkit::unique_name("nomig"), &f.group, TOPIC, "");
    let out = sluice(&unmigrated, &["dlq", "stats"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("sluice migrate"), "{}", stderr(&out));
}

#[tokio::test]
async fn cli_dlq_show_text_and_json() {
    let f = fixture("").await;
    let id = id_of(&f.store, &f.group, 2).await;
    let (key, value) = change(1, "one", true, 100);
    let out = sluice(&f.config, &["dlq", "show", &id.to_string()]);
    expect_code(&out, 0);
    let text = stdout(&out);
    for needle in [
        format!("dead letter {id} (unresolved)"),
        format!("{TOPIC}/0@2"),
        "constraint failure at offset 2".to_string(),
        hex::encode(&value),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &value),
        "text    {\"id\":1}".to_string(),
        "header \"trace\"".to_string(),
        "decoded with today's configuration:".to_string(),
        "\"poison\": true".to_string(),
    ] {
        assert!(text.contains(&needle), "{needle:?} in\n{text}");
    }
    let out = sluice(&f.config, &["dlq", "show", &id.to_string(), "--json"]);
    expect_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["id"].as_i64(), Some(id));
    assert_eq!(doc["key"]["hex"], hex::encode(&key));
    assert_eq!(doc["value"]["hex"], hex::encode(&value));
    assert_eq!(doc["value"]["bytes"].as_u64(), Some(value.len() as u64));
    assert_eq!(doc["headers"][0]["value"]["hex"], "010203");
    assert_eq!(doc["decoded"]["op"], "c", "{doc:#}");
    assert_eq!(doc["decoded"]["after"]["name"], "one");
    assert!(doc["decode_error"].is_null());

    let garbage = id_of(&f.store, &f.group, 1).await;
    let out = sluice(&f.config, &["dlq", "show", &garbage.to_string(), "--json"]);
    expect_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["value"]["hex"], hex::encode(GARBAGE), "raw bytes exact");
    assert!(doc["value"]["text"].is_null(), "not UTF-8");
    assert!(doc["decoded"].is_null());
    assert!(
        doc["decode_error"].as_str().unwrap().contains(&format!("topic {TOPIC:?} partition 0 offset 1")),
        "the error names the record: {doc:#}"
    );
    let out = sluice(&f.config, &["dlq", "show", &garbage.to_string()]);
    assert!(stdout(&out).contains("decoded with today's configuration: error:"), "{}", stdout(&out));
}

#[tokio::test]
async fn cli_dlq_replay_dry_run_ids_failures_and_all() {
    let f = fixture("poison_column = \"poison\"").await;
    let garbage = id_of(&f.store, &f.group, 1).await;
    let key2 = id_of(&f.store, &f.group, 3).await;

    // Dry run: says what would happen, changes nothing.
    let out = sluice(&f.config, &["dlq", "replay", "--all", "--dry-run"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert_eq!(text.matches("would apply to mem").count(), 3, "{text}");
    assert!(text.contains(&format!("entry {garbage} ({TOPIC}/0@1): would fail: cannot decode")), "{text}");
    assert!(text.contains("\"name\":\"two\""), "decoded events shown:\n{text}");
    let out = sluice(&f.config, &["dlq", "replay", "--class", "constraint", "--dry-run", "--json"]);
    let plans = json_lines(&out);
    assert_eq!(plans.len(), 2);
    assert!(plans.iter().all(|p| p["action"] == "apply" && p["sinks"][0] == "mem"));
    assert_eq!(state_of(&f.store, key2).await, (None, 0, None));
    assert!(journal_row(&f, 2).is_none(), "a dry run applies nothing");

    // The cause is still there: the replay fails, counts and records the error.
    let out = sluice(&f.config, &["dlq", "replay", "--id", &key2.to_string()]);
    expect_code(&out, 1);
    assert!(stdout(&out).contains(&format!("entry {key2} ({TOPIC}/0@3) failed: sink mem rejected it (constraint)")));
    let (resolution, retries, error) = state_of(&f.store, key2).await;
    assert_eq!((resolution, retries), (None, 1));
    assert!(error.unwrap().contains("poison row"), "last_error stored");

    // Fix the cause (drop the hook) and replay that entry: resolved.
    let fixed = write_config(f.dir.path(), f.store.schema(), &f.group, TOPIC, "");
    let out = sluice(&fixed, &["dlq", "replay", "--id", &key2.to_string(), "--json"]);
    expect_code(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["outcome"], "resolved");
    let (resolution, retries, error) = state_of(&f.store, key2).await;
    assert_eq!((resolution.as_deref(), retries, error), (Some("replayed"), 2, None));
    assert_eq!(journal_row(&f, 2).unwrap().get("name"), Some(&Value::Text("two".into())));

    // --all: key 1's two entries apply in offset order; the garbage still fails.
    let out = sluice(&fixed, &["dlq", "replay", "--all"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("replayed 3 entries: 2 resolved, 1 failed"), "{}", stderr(&out));
    let sink = MemorySink::read_journal(&f.dir.path().join("journal.jsonl")).unwrap();
    let order: Vec<i64> = sink.origins().iter().map(|o| o.offset).collect();
    assert_eq!(order, vec![3, 2, 4], "each key's entries in their original offset order");
    assert_eq!(journal_row(&f, 1).unwrap().get("name"), Some(&Value::Text("one-b".into())));
    assert_eq!(state_of(&f.store, garbage).await.1, 1);

    // Garbage cannot be fixed: discard it; then nothing is left to replay.
    expect_code(&sluice(&fixed, &["dlq", "resolve", "--resolution", "discarded", &garbage.to_string()]), 0);
    let out = sluice(&fixed, &["dlq", "replay", "--all"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("nothing to replay"), "{}", stderr(&out));
    // Replaying a resolved id says so and changes nothing.
    let out = sluice(&fixed, &["dlq", "replay", "--id", &key2.to_string()]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains(&format!("entry {key2} is already resolved (replayed")), "{}", stderr(&out));
}

#[tokio::test]
async fn cli_dlq_replay_after_newer_data_leaves_it_and_resolves() {
    let f = fixture("").await;
    let older = id_of(&f.store, &f.group, 2).await; // key 1 at pos 100
    let newer = id_of(&f.store, &f.group, 4).await; // key 1 at pos 300
    expect_code(&sluice(&f.config, &["dlq", "replay", "--id", &newer.to_string()]), 0);
    let out = sluice(&f.config, &["dlq", "replay", "--id", &older.to_string(), "--json"]);
    expect_code(&out, 0);
    assert_eq!(json_lines(&out)[0]["outcome"], "resolved", "stale is success");
    assert_eq!(state_of(&f.store, older).await.0.as_deref(), Some("replayed"));
    let row = journal_row(&f, 1).unwrap();
    assert_eq!(row.get("name"), Some(&Value::Text("one-b".into())), "the newer data stays");
    let sink = MemorySink::read_journal(&f.dir.path().join("journal.jsonl")).unwrap();
    assert_eq!(sink.origins().len(), 2, "both went through the sink (one applied, one stale)");
}

#[tokio::test]
async fn cli_dlq_resolve_and_purge() {
    let f = fixture("").await;
    let ids: Vec<i64> = futures::future::join_all((1..=4).map(|o| id_of(&f.store, &f.group, o))).await;
    let s = |i: i64| i.to_string();
    let out = sluice(&f.config, &["dlq", "resolve", &s(ids[0]), &s(ids[1])]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("resolved 2 entries as manual"), "{}", stderr(&out));
    assert_eq!(state_of(&f.store, ids[0]).await.0.as_deref(), Some("manual"));
    let out = sluice(&f.config, &["dlq", "resolve", "--resolution", "discarded", &s(ids[2])]);
    expect_code(&out, 0);
    assert_eq!(state_of(&f.store, ids[2]).await.0.as_deref(), Some("discarded"));
    let out = sluice(&f.config, &["dlq", "resolve", &s(ids[0])]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains(&format!("entry {} was already resolved (manual)", ids[0])));
    // All or nothing: one unknown id changes nothing.
    let out = sluice(&f.config, &["dlq", "resolve", &s(ids[3]), "999999999"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("no dead letter with id 999999999"), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing was changed"));
    assert_eq!(state_of(&f.store, ids[3]).await.0, None);
    assert_eq!(offsets(&list_json(&f, &["--resolved"])), vec![1, 2, 3]);

    let out = sluice(&f.config, &["dlq", "purge", "--resolved", "--older-than", "30d"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("purged 0 resolved entries resolved more than 30d ago"), "{}", stderr(&out));
    let out = sluice(&f.config, &["dlq", "purge", "--resolved", "--dry-run"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("would purge 3 resolved entries"), "{}", stderr(&out));
    assert_eq!(list_json(&f, &[]).len(), 4, "a dry run deletes nothing");
    let out = sluice(&f.config, &["dlq", "purge", "--resolved"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("purged 3 resolved entries"), "{}", stderr(&out));
    assert_eq!(offsets(&list_json(&f, &[])), vec![4], "unresolved entries are never purged");
    assert_eq!(list_json(&f, &["--group", "other-group"]).len(), 1, "other groups untouched");
}

#[tokio::test]
async fn cli_dlq_stats_counts_by_table_and_class() {
    let f = fixture("").await;
    let id = id_of(&f.store, &f.group, 3).await;
    expect_code(&sluice(&f.config, &["dlq", "resolve", &id.to_string()]), 0);
    let out = sluice(&f.config, &["dlq", "stats", "--json"]);
    expect_code(&out, 0);
    let rows = json_lines(&out);
    let find = |table: Option<&str>, class: &str| {
        rows.iter()
            .find(|r| r["table"].as_str() == table && r["class"] == class)
            .unwrap_or_else(|| panic!("{table:?}/{class} in {rows:?}"))
            .clone()
    };
    let c = find(Some("inventory.customers"), "constraint");
    assert_eq!((c["unresolved"].as_i64(), c["resolved"].as_i64()), (Some(1), Some(1)));
    assert_eq!(find(None, "decode")["unresolved"].as_i64(), Some(1));
    assert_eq!(find(Some("inventory.customers"), "data_type")["unresolved"].as_i64(), Some(1));
    assert_eq!(rows.len(), 3);
    let out = sluice(&f.config, &["dlq", "stats", "--class", "decode", "--json"]);
    assert_eq!(json_lines(&out).len(), 1, "stats take the filters");
    let out = sluice(&f.config, &["dlq", "stats"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    for needle in ["UNRESOLVED", "inventory.customers", "- (undecodable)", "total", &f.group] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
}

#[tokio::test]
async fn cli_migrate_applies_then_is_a_no_op() {
    sluice_testkit::require("postgres", &sluice_testkit::pg_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let schema = sluice_testkit::unique_name("dlq_mig");
    let config = write_config(dir.path(), &schema, "g", TOPIC, "");
    let out = sluice(&config, &["migrate"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("applied 0001 dead letters"), "{text}");
    assert!(text.contains(&format!("schema {schema} is now at version 2")), "{text}");
    let out = sluice(&config, &["migrate"]);
    expect_code(&out, 0);
    assert!(stdout(&out).contains(&format!("schema {schema} is up to date (version 2)")), "{}", stdout(&out));
    let out = sluice(&config, &["dlq", "list"]);
    expect_code(&out, 0);
}
