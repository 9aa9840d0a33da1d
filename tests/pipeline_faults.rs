//! The pipeline under faults, end to end: real `sluice run` processes consume
//! a real Kafka-protocol broker (tansu) and apply to the journaled memory sink
//! (the journal is the sink's durable record of what it applied, with each
//! event's Kafka origin). Tests named `crash_*`/`outage_*` run one at a time
//! (see `.config/nextest.toml`).

mod support;

use std::time::{Duration, Instant};

use sluice::cli::demo::generate;
use sluice_testkit::{kafka_brokers, kafka_topic, require};
use support::*;

/// A tiny deterministic PRNG; the seed is printed so failures reproduce.
struct Rng(u64);

impl Rng {
    fn from_time() -> (Self, u64) {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
        (Rng(seed), seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn setup(partitions: i32, events: u64, keys: u64) -> (String, String, tempfile::TempDir, support::Expected) {
    let brokers = kafka_brokers();
    require("tansu (Kafka protocol broker)", &brokers).await;
    require("postgres (DLQ)", &sluice_testkit::pg_url()).await;
    let topic = kafka_topic("demo.inventory.customers");
    create_topic(&brokers, &topic, partitions).await;
    let (records, expected) = generate("demo", events, keys, 10, 4242, false);
    produce(&brokers, &topic, &records).await;
    (brokers, topic, tempfile::tempdir().unwrap(), expected)
}

/// Waits until the journal holds the expected final state (or panics with the diff).
async fn wait_converged(dir: &std::path::Path, expected: &support::Expected, timeout: Duration, n: usize) {
    let deadline = Instant::now() + timeout;
    loop {
        let diff = mismatches(&journal(dir), expected);
        if diff.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "not converged after {timeout:?}: {} mismatches, e.g. {:?}\nlog:\n{}",
                diff.len(),
                &diff[..diff.len().min(3)],
                log_tail(dir, n)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_applies_everything_and_exits_zero() {
    let (brokers, topic, dir, expected) = setup(3, 3_000, 300).await;
    let group = format!("g-{topic}");
    let config = write_config(dir.path(), &brokers, &topic, &group, "");
    let mut child = spawn_sluice(dir.path(), &config, &["run", "--drain"], 0);
    let status = wait_exit(&mut child, Duration::from_secs(120));
    assert!(status.success(), "sluice run --drain failed: {status}\n{}", log_tail(dir.path(), 0));
    assert_eq!(mismatches(&journal(dir.path()), &expected), Vec::<String>::new());
    let records = read_topic(&brokers, &topic, 3);
    let committed = committed(&brokers, &group, &topic, 3);
    for p in 0..3 {
        let high = records.keys().filter(|(part, _)| *part == p).map(|(_, o)| o + 1).max().unwrap_or(0);
        assert_eq!(committed[p as usize], high, "partition {p} committed up to the end");
    }
    let log = std::fs::read_to_string(dir.path().join("sluice-0.log")).unwrap();
    assert!(log.contains("records consumed"), "summary line printed:\n{log}");
}

/// `--drain` ends when every subscribed partition is caught up, not only the
/// ones this member owns: while another member of the group holds partitions
/// it has not committed (here: its sink is down), the drain keeps running;
/// once that member is gone, the drain takes its partitions over and finishes.
#[tokio::test(flavor = "multi_thread")]
async fn crash_drain_waits_for_the_partitions_another_member_holds() {
    const PARTITIONS: i32 = 4;
    let (brokers, topic, dir, expected) = setup(PARTITIONS, 8_000, 800).await;
    let dir_a = tempfile::tempdir().unwrap();
    let group = format!("g-{topic}");
    let flag = dir_a.path().join("sink-down");
    std::fs::write(&flag, b"down").unwrap();
    let config_a =
        write_config(dir_a.path(), &brokers, &topic, &group, &format!("fail_while_exists = \"{}\"\n", flag.display()));
    let config = write_config(dir.path(), &brokers, &topic, &group, "");
    let owns_partitions = |d: &std::path::Path, n: usize| {
        let log = std::fs::read_to_string(d.join(format!("sluice-{n}.log"))).unwrap_or_default();
        log.lines().any(|l| l.contains("partitions assigned") && l.contains(topic.as_str()))
    };
    let mut a = spawn_sluice(dir_a.path(), &config_a, &["run"], 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !owns_partitions(dir_a.path(), 0) {
        assert!(Instant::now() < deadline, "member a got no partitions\n{}", log_tail(dir_a.path(), 0));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut drain = spawn_sluice(dir.path(), &config, &["run", "--drain"], 0);
    let deadline = Instant::now() + Duration::from_secs(90);
    while !owns_partitions(dir.path(), 0) {
        assert!(Instant::now() < deadline, "the drain got no partitions\n{}", log_tail(dir.path(), 0));
        assert!(drain.try_wait().unwrap().is_none(), "the drain exited early\n{}", log_tail(dir.path(), 0));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its own partitions take well under a second; it must keep waiting for a's.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        drain.try_wait().unwrap().is_none(),
        "the drain exited while member a still held uncommitted partitions\n{}",
        log_tail(dir.path(), 0)
    );
    // Member a goes away (SIGKILL: its sink is down, so a SIGTERM would wait for
    // it); once its session expires the drain takes its partitions over.
    kill9(&mut a);
    let status = wait_exit(&mut drain, Duration::from_secs(120));
    assert!(status.success(), "drain failed: {status}\n{}", log_tail(dir.path(), 0));
    let records = read_topic(&brokers, &topic, PARTITIONS);
    let sink = journal(dir.path());
    assert_eq!(mismatches(&sink, &expected), Vec::<String>::new(), "the drain applied every partition");
    assert_all_applied(&records, &sink, "after the drain");
    let committed = committed(&brokers, &group, &topic, PARTITIONS);
    for p in 0..PARTITIONS {
        let high = records.keys().filter(|(part, _)| *part == p).map(|(_, o)| o + 1).max().unwrap_or(0);
        assert_eq!(committed[p as usize], high, "partition {p} committed to the end");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_kill9_twenty_times_loses_nothing() {
    const PARTITIONS: i32 = 4;
    let (brokers, topic, dir, expected) = setup(PARTITIONS, 100_000, 5_000).await;
    let group = format!("g-{topic}");
    let config = write_config(dir.path(), &brokers, &topic, &group, "");
    let records = read_topic(&brokers, &topic, PARTITIONS);
    let (mut rng, seed) = Rng::from_time();
    let mut kills = 0;
    let mut previous_committed = vec![-1i64; PARTITIONS as usize];
    while kills < 20 {
        let mut child = spawn_sluice(dir.path(), &config, &["run"], kills);
        let lifetime = Duration::from_millis(300 + rng.below(2_000));
        tokio::time::sleep(lifetime).await;
        if let Some(status) = child.try_wait().unwrap() {
            panic!("sluice exited early with {status} (seed {seed})\n{}", log_tail(dir.path(), kills));
        }
        kill9(&mut child);
        kills += 1;
        let sink = journal(dir.path());
        let committed = committed(&brokers, &group, &topic, PARTITIONS);
        assert_commits_covered(&committed, &records, &sink, &format!("after kill {kills} (seed {seed})"));
        for (p, (now, before)) in committed.iter().zip(&previous_committed).enumerate() {
            assert!(now >= before, "partition {p}: committed offset moved backwards {before} -> {now} (seed {seed})");
        }
        previous_committed = committed;
    }
    let mut child = spawn_sluice(dir.path(), &config, &["run", "--drain"], 99);
    let status = wait_exit(&mut child, Duration::from_secs(300));
    assert!(status.success(), "final drain failed: {status} (seed {seed})\n{}", log_tail(dir.path(), 99));
    let sink = journal(dir.path());
    let diff = mismatches(&sink, &expected);
    assert!(
        diff.is_empty(),
        "final state (seed {seed}): {} keys wrong, e.g. {:?}\nfinal drain log:\n{}",
        diff.len(),
        &diff[..diff.len().min(3)],
        log_tail(dir.path(), 99)
    );
    assert_all_applied(&records, &sink, &format!("after the final drain (seed {seed})"));
    let committed = committed(&brokers, &group, &topic, PARTITIONS);
    assert_commits_covered(&committed, &records, &sink, "after the final drain");
    eprintln!(
        "kill -9 test: {kills} kills, {} records, {} journal entries, seed {seed}",
        records.len(),
        sink.origins().len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_two_processes_one_killed_other_takes_over() {
    const PARTITIONS: i32 = 4;
    let (brokers, topic, dir_a, expected) = setup(PARTITIONS, 30_000, 3_000).await;
    let dir_b = tempfile::tempdir().unwrap();
    let group = format!("g-{topic}");
    // slow sinks (small batches) so both members are busy when one dies
    let extra = "";
    let config_a = write_config(dir_a.path(), &brokers, &topic, &group, extra);
    let config_b = write_config(dir_b.path(), &brokers, &topic, &group, extra);
    let mut a = spawn_sluice(dir_a.path(), &config_a, &["run"], 0);
    let mut b = spawn_sluice(dir_b.path(), &config_b, &["run"], 0);
    tokio::time::sleep(Duration::from_secs(4)).await;
    kill9(&mut a);
    // b takes over a's partitions after the session timeout and finishes.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let merged = support::merge_journals(&[dir_a.path(), dir_b.path()]).await;
        let diff = mismatches(&merged, &expected);
        if diff.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not complete: {} mismatches\nb log:\n{}",
            diff.len(),
            log_tail(dir_b.path(), 0)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let status = terminate(&mut b, Duration::from_secs(60));
    assert!(status.success(), "SIGTERM must drain and exit 0: {status}\n{}", log_tail(dir_b.path(), 0));
    let committed = committed(&brokers, &group, &topic, PARTITIONS);
    let records = read_topic(&brokers, &topic, PARTITIONS);
    let merged = support::merge_journals(&[dir_a.path(), dir_b.path()]).await;
    assert_commits_covered(&committed, &records, &merged, "after takeover");
    for p in 0..PARTITIONS {
        let high = records.keys().filter(|(part, _)| *part == p).map(|(_, o)| o + 1).max().unwrap_or(0);
        assert_eq!(committed[p as usize], high, "partition {p} committed to the end by the survivor");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn outage_sink_fails_transiently_pauses_and_recovers() {
    let (brokers, topic, dir, expected) = setup(2, 20_000, 2_000).await;
    let group = format!("g-{topic}");
    let flag = dir.path().join("sink-down");
    std::fs::write(&flag, b"down").unwrap();
    let port = sluice_testkit::free_port();
    let extra = format!("fail_while_exists = \"{}\"\n", flag.display());
    let config = write_config(dir.path(), &brokers, &topic, &group, &extra);
    // small in-flight limit, metrics on
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[metrics]\nenabled = false", &format!("[metrics]\nlisten = \"127.0.0.1:{port}\""))
        .replace("max_wait = \"20ms\"", "max_wait = \"20ms\"\nmax_bytes = \"256KiB\"\nmax_in_flight_bytes = \"1MiB\"");
    std::fs::write(&config, text).unwrap();
    let mut child = spawn_sluice(dir.path(), &config, &["run"], 0);
    // While the sink is down: partitions pause, memory stays bounded, nothing dead-lettered.
    let mut saw_paused = false;
    let mut max_in_flight = 0f64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(metrics) = support::scrape(port).await {
            let paused = support::metric(&metrics, "sluice_partitions_paused").unwrap_or(0.0);
            let in_flight = support::metric(&metrics, "sluice_in_flight_bytes").unwrap_or(0.0);
            max_in_flight = max_in_flight.max(in_flight);
            let retries = support::metric_sum(&metrics, "sluice_sink_retries_total");
            if paused >= 1.0 && retries >= 3.0 {
                saw_paused = true;
            }
        }
        if saw_paused && Instant::now() + Duration::from_secs(15) > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(saw_paused, "partitions must be paused while the sink fails\n{}", log_tail(dir.path(), 0));
    // limit + one fetch queue's worth of overshoot (librdkafka queued.max.messages.kbytes)
    assert!(max_in_flight <= (1 << 20) as f64 * 1.5 + (16 << 20) as f64, "in-flight bytes bounded: {max_in_flight}");
    assert_eq!(journal(dir.path()).origins().len(), 0, "nothing applied while down");
    std::fs::remove_file(&flag).unwrap();
    wait_converged(dir.path(), &expected, Duration::from_secs(120), 0).await;
    let status = terminate(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    assert_eq!(support::dlq_count(&group).await, 0, "a sink outage never dead-letters");
}

#[tokio::test(flavor = "multi_thread")]
async fn outage_broker_restart_mid_stream() {
    require("postgres (DLQ)", &sluice_testkit::pg_url()).await;
    let mut broker = sluice_testkit::TansuInstance::start().await;
    let brokers = broker.brokers();
    let topic = kafka_topic("demo.inventory.customers");
    create_topic(&brokers, &topic, 2).await;
    let (records, expected) = generate("demo", 20_000, 2_000, 10, 77, false);
    let half = records.len() / 2;
    produce(&brokers, &topic, &records[..half]).await;
    let dir = tempfile::tempdir().unwrap();
    let group = format!("g-{topic}");
    let config = write_config(dir.path(), &brokers, &topic, &group, "");
    let mut child = spawn_sluice(dir.path(), &config, &["run"], 0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.restart().await;
    produce(&brokers, &topic, &records[half..]).await;
    wait_converged(dir.path(), &expected, Duration::from_secs(180), 0).await;
    let status = terminate(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status}\n{}", log_tail(dir.path(), 0));
    assert_eq!(support::dlq_count(&group).await, 0, "a broker outage never dead-letters");
}
