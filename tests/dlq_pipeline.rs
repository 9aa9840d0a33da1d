//! Poison end to end: real `sluice run` processes consume a real
//! Kafka-protocol broker (tansu), apply to the journaled memory sink and park
//! what cannot apply in a real Postgres DLQ; then the `sluice dlq` commands fix
//! and replay it. `outage_*` tests run one at a time (.config/nextest.toml).

mod dlq_support;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use sluice::cli::demo::generate;
use sluice::dlq::{EntryFilter, PostgresDeadLetters};
use sluice_sink_api::{Row, Value};
use sluice_testkit::{TcpProxy, kafka_brokers, kafka_topic, require, unique_name};

/// A config for `topic` with the DLQ in `schema` at `pg_url`; the memory sink
/// rejects rows whose `poison` column is true unless `fixed`.
fn config(dir: &Path, topic: &str, group: &str, schema: &str, pg_url: &str, fixed: bool) -> std::path::PathBuf {
    let extra = if fixed { "" } else { "poison_column = \"poison\"\n" };
    let path = support::write_config(dir, &kafka_brokers(), topic, group, extra);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("schema = \"sluice_it\"", &format!("schema = \"{schema}\""))
        .replace(&format!("url = \"{}\"", sluice_testkit::pg_url()), &format!("url = \"{pg_url}\""));
    std::fs::write(&path, text).unwrap();
    path
}

/// `(raw key, raw value)` of every entry of `group`, by offset order.
async fn parked(store: &PostgresDeadLetters, group: &str) -> Vec<(Option<Vec<u8>>, Option<Vec<u8>>, String, String)> {
    let filter = EntryFilter { group: Some(group.to_string()), ..EntryFilter::default() };
    let mut out = Vec::new();
    for page in [store.page_in_record_order(&filter, None, 100_000).await.unwrap()] {
        for e in page {
            out.push((e.raw_key, e.raw_value, e.class, e.sink));
        }
    }
    out
}

fn end_offsets<T>(records: &BTreeMap<(i32, i64), T>, partitions: i32) -> Vec<i64> {
    (0..partitions)
        .map(|p| records.keys().filter(|(part, _)| *part == p).map(|(_, o)| o + 1).max().unwrap_or(0))
        .collect()
}

fn demo_row(dir: &Path, id: i64) -> Option<Row> {
    support::journal(dir).get(&support::demo_table(), &Row::new().with("id", id))
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_poison_interleaved_in_10k_records_is_parked_then_replayed() {
    const PARTITIONS: i32 = 3;
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres (DLQ)", &sluice_testkit::pg_url()).await;
    let topic = kafka_topic("demo.inventory.customers");
    support::create_topic(&brokers, &topic, PARTITIONS).await;
    let (good, expected) = generate("demo", 10_000, 1_000, 10, 4711, true);

    // Poison every ~250 records: garbage bytes (with NULs), truncated JSON,
    // and rows the sink rejects (ids above the demo's keys).
    let mut records: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut poison: Vec<(Vec<u8>, Vec<u8>, &str)> = Vec::new();
    for (i, record) in good.iter().enumerate() {
        records.push(record.clone());
        if i % 250 == 125 {
            let n = (i / 250) as i64;
            let (key, value) = match n % 3 {
                0 => (format!("garbage-{n}").into_bytes(), vec![0x00, 0xff, 0x00, b'x', n as u8, 0xc3, 0x28]),
                1 => {
                    // Half of the nearest record that has a value (an empty
                    // value would be a tombstone, not poison).
                    let v = good[..=i].iter().rev().find_map(|(_, v)| v.clone().filter(|v| !v.is_empty())).unwrap();
                    (good[i].0.clone(), v[..v.len() / 2].to_vec())
                }
                _ => dlq_support::change(1_000_000 + n, &format!("poison-{n}"), true, 1_000 + n),
            };
            poison.push((key.clone(), value.clone(), if n % 3 == 2 { "constraint" } else { "decode" }));
            records.push((key, Some(value)));
        }
    }
    support::produce(&brokers, &topic, &records).await;
    let dir = tempfile::tempdir().unwrap();
    let group = format!("g-{topic}");
    let schema = unique_name("dlq_e2e");
    let cfg = config(dir.path(), &topic, &group, &schema, &sluice_testkit::pg_url(), false);

    let started = Instant::now();
    let mut child = support::spawn_sluice(dir.path(), &cfg, &["run", "--drain"], 0);
    let status = support::wait_exit(&mut child, Duration::from_secs(180));
    assert!(status.success(), "sluice run --drain: {status}\n{}", support::log_tail(dir.path(), 0));
    eprintln!("drained {} records ({} poison) in {:?}", records.len(), poison.len(), started.elapsed());

    // Every good record applied, committed offsets at the end of every partition.
    assert_eq!(support::mismatches(&support::journal(dir.path()), &expected), Vec::<String>::new());
    let on_topic = support::read_topic(&brokers, &topic, PARTITIONS);
    assert_eq!(support::committed(&brokers, &group, &topic, PARTITIONS), end_offsets(&on_topic, PARTITIONS));

    // Every poison record parked once, byte-exact, with its class and sink.
    let store = PostgresDeadLetters::connect_lazy(&sluice_testkit::pg_url(), None, &schema).unwrap();
    let mut got: Vec<(Vec<u8>, Vec<u8>, String, String)> = parked(&store, &group)
        .await
        .into_iter()
        .map(|(k, v, class, sink)| (k.unwrap_or_default(), v.unwrap_or_default(), class, sink))
        .collect();
    let mut want: Vec<(Vec<u8>, Vec<u8>, String, String)> = poison
        .iter()
        .map(|(k, v, class)| {
            let sink = if *class == "decode" { "*" } else { "mem" };
            (k.clone(), v.clone(), class.to_string(), sink.to_string())
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len(), "one entry per poison record");
    assert!(got == want, "parked entries equal the produced poison records, byte for byte");

    // Newer data arrives for one rejected key after it was parked.
    let newer_id = 1_000_002i64;
    support::produce(
        &brokers,
        &topic,
        &[{
            let (k, v) = dlq_support::change(newer_id, "newer", false, 900_000);
            (k, Some(v))
        }],
    )
    .await;
    let mut child = support::spawn_sluice(dir.path(), &cfg, &["run", "--drain"], 1);
    assert!(support::wait_exit(&mut child, Duration::from_secs(120)).success(), "{}", support::log_tail(dir.path(), 1));
    assert_eq!(demo_row(dir.path(), newer_id).unwrap().get("name"), Some(&Value::Text("newer".into())));

    // Fix the cause (the sink accepts the rows now); the garbage cannot be
    // fixed: replaying it fails and is counted, so the runbook discards it.
    let fixed = config(dir.path(), &topic, &group, &schema, &sluice_testkit::pg_url(), true);
    let out = dlq_support::sluice(&fixed, &["dlq", "replay", "--class", "decode"]);
    dlq_support::expect_code(&out, 1);
    let decode_ids: Vec<String> = store
        .list(&EntryFilter { group: Some(group.clone()), class: Some("decode".into()), ..EntryFilter::default() }, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!((e.retry_count, e.last_error.is_some()), (1, true), "failed replay counted: {e:?}");
            e.id.to_string()
        })
        .collect();
    let mut resolve = vec!["dlq", "resolve", "--resolution", "discarded"];
    resolve.extend(decode_ids.iter().map(String::as_str));
    dlq_support::expect_code(&dlq_support::sluice(&fixed, &resolve), 0);
    let out = dlq_support::sluice(&fixed, &["dlq", "replay", "--all"]);
    dlq_support::expect_code(&out, 0);

    // All resolved; the rows are in the target; the newer data stayed.
    assert_eq!(store.depth(Some(&group)).await.unwrap().unresolved, 0);
    for (key, value, class) in &poison {
        if *class != "constraint" {
            continue;
        }
        let id: i64 = serde_json::from_slice::<serde_json::Value>(key).unwrap()["id"].as_i64().unwrap();
        let name =
            serde_json::from_slice::<serde_json::Value>(value).unwrap()["after"]["name"].as_str().unwrap().to_string();
        let row = demo_row(dir.path(), id).unwrap_or_else(|| panic!("row {id} replayed"));
        let want = if id == newer_id { "newer".to_string() } else { name };
        assert_eq!(row.get("name"), Some(&Value::Text(want)), "row {id}");
    }
    let stats = dlq_support::sluice(&fixed, &["dlq", "stats", "--json"]);
    let rows = dlq_support::json_lines(&stats);
    let replayed: i64 =
        rows.iter().filter(|r| r["class"] == "constraint").map(|r| r["resolved"].as_i64().unwrap()).sum();
    assert_eq!(replayed as usize, poison.iter().filter(|p| p.2 == "constraint").count());
}

#[tokio::test(flavor = "multi_thread")]
async fn outage_dlq_unreachable_holds_offsets_then_completes() {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres (DLQ)", &sluice_testkit::pg_url()).await;
    let topic = kafka_topic("demo.inventory.customers");
    support::create_topic(&brokers, &topic, 1).await;
    let (good, expected) = generate("demo", 4_000, 400, 10, 99, true);
    let half = good.len() / 2;
    support::produce(&brokers, &topic, &good[..half]).await;

    let proxy = TcpProxy::start(&sluice_testkit::host_port(&sluice_testkit::pg_url())).await;
    let pg_via_proxy = format!("postgres://postgres@{}/test", proxy.addr());
    let dir = tempfile::tempdir().unwrap();
    let group = format!("g-{topic}");
    let schema = unique_name("dlq_outage");
    let cfg = config(dir.path(), &topic, &group, &schema, &pg_via_proxy, false);
    let mut child = support::spawn_sluice(dir.path(), &cfg, &["run"], 0);

    // The first half applies and commits normally.
    let first_end = support::read_topic(&brokers, &topic, 1).len() as i64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while support::committed(&brokers, &group, &topic, 1)[0] < first_end {
        assert!(Instant::now() < deadline, "first half not committed\n{}", support::log_tail(dir.path(), 0));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The DLQ goes away; a poison record arrives, then the second half.
    proxy.cut();
    let (pk, pv) = dlq_support::change(5_000_000, "poison", true, 1);
    let mut rest = vec![(pk.clone(), Some(pv.clone()))];
    rest.extend_from_slice(&good[half..]);
    support::produce(&brokers, &topic, &rest).await;
    let poison_offset = first_end;
    let end = support::read_topic(&brokers, &topic, 1).len() as i64;
    let watch_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < watch_until {
        let c = support::committed(&brokers, &group, &topic, 1)[0];
        assert!(c <= poison_offset, "committed {c} past the poison record at {poison_offset} while the DLQ is down");
        assert!(child.try_wait().unwrap().is_none(), "sluice must keep running\n{}", support::log_tail(dir.path(), 0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(dir.path().join("sluice-0.log")).unwrap();
    assert!(
        log.contains("dead-letter queue unavailable"),
        "the outage is logged\n{}",
        support::log_tail(dir.path(), 0)
    );

    // Back: the poison record is parked, everything completes.
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(90);
    while support::committed(&brokers, &group, &topic, 1)[0] < end {
        assert!(
            Instant::now() < deadline,
            "did not complete after the DLQ came back\n{}",
            support::log_tail(dir.path(), 0)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = support::terminate(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status}\n{}", support::log_tail(dir.path(), 0));
    assert_eq!(support::mismatches(&support::journal(dir.path()), &expected), Vec::<String>::new(), "nothing lost");
    let store = PostgresDeadLetters::connect_lazy(&sluice_testkit::pg_url(), None, &schema).unwrap();
    let entries = parked(&store, &group).await;
    assert_eq!(entries, vec![(Some(pk), Some(pv), "constraint".to_string(), "mem".to_string())]);
    let id = dlq_support::id_of(&store, &group, poison_offset).await;
    assert!(id > 0, "parked at the poison record's offset");
}
