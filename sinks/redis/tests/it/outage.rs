//! Outages on dedicated Redis instances (never the shared one): a restart
//! mid-stream, a busy server, a read-only replica (failover), a hung server,
//! a wrong password.
//!
//! The dedicated instances keep nothing on disk (like the shared Redis), so
//! a restart loses what was stored before it. The restart test therefore
//! checks what the sink is responsible for: while Redis is down every error
//! is transient and nothing is rejected; the interrupted batch and every
//! later one land after the restart (the script is reloaded after NOSCRIPT)
//! and match the in-order state; and replaying the whole stream from its
//! start — what recovering a lost cache means — rebuilds exactly the in-order
//! final state of every key.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{
    ApplyReport, ChangeBatch, ChangeEvent, ErrorClass, MemorySink, Secret, Sink, SinkError, TableId,
};
use sluice_sink_redis::{MaterializeFormat, RedisMode, RedisSink, RedisSinkConfig};
use sluice_testkit::RedisInstance;

use crate::common::{Reader, connect, materialize_config, started};
use sluice_sink_api::conformance::StateReader;

fn builder() -> EventBuilder {
    EventBuilder::new(TableId::new(Some("outage"), None, "rows"))
}

fn fast(mut config: RedisSinkConfig) -> RedisSinkConfig {
    config.timeout = Duration::from_millis(500);
    config.connect_timeout = Duration::from_millis(500);
    config
}

/// Retries like the engine: transient errors only, bounded.
async fn apply_until_ok(sink: &RedisSink, batch: &ChangeBatch, transient: &mut u32) -> ApplyReport {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match sink.apply(batch).await {
            Ok(report) => return report,
            Err(e) => {
                assert_eq!(e.class, ErrorClass::Transient, "only transient errors are allowed: {}", e.full_message());
                *transient += 1;
                assert!(Instant::now() < deadline, "still failing after 20s: {}", e.full_message());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn stream(b: &EventBuilder) -> Vec<Vec<ChangeEvent>> {
    let mut version = 0u64;
    (0..24)
        .map(|batch| {
            (0..40)
                .map(|i| {
                    version += 1;
                    let id = ((version * 37) % 100) as i64;
                    if version.is_multiple_of(7) {
                        b.delete(id, version)
                    } else {
                        b.upsert(id, version, &format!("b{batch}e{i}"))
                    }
                })
                .collect()
        })
        .collect()
}

async fn oracle_of(batches: &[Vec<ChangeEvent>]) -> MemorySink {
    let oracle = MemorySink::new("oracle");
    for batch in batches {
        oracle.apply(&ChangeBatch::from_events(batch.clone())).await.unwrap();
    }
    oracle
}

#[tokio::test]
async fn outage_redis_restarted_mid_stream() {
    let mut redis = RedisInstance::start().await;
    let url = redis.url();
    let sink = started("restart", fast(materialize_config(&url, "r:", MaterializeFormat::Hash))).await;
    let mut invalidator = RedisSinkConfig::new(&url, RedisMode::Invalidate);
    invalidator.key_prefix = "cache:".into();
    let invalidator = started("invalidator", fast(invalidator)).await;
    let b = builder();
    let batches = stream(&b);
    let kill_at = 10;
    let mut transient = 0;
    for (i, events) in batches.iter().enumerate() {
        let batch = ChangeBatch::from_events(events.clone());
        if i == kill_at {
            redis.kill();
            for _ in 0..3 {
                let err: SinkError = sink.apply(&batch).await.unwrap_err();
                assert_eq!(err.class, ErrorClass::Transient, "{}", err.full_message());
                transient += 1;
            }
            let err = invalidator.apply(&batch).await.unwrap_err();
            assert_eq!(err.class, ErrorClass::Transient, "{}", err.full_message());
            assert!(sink.healthcheck().await.unwrap_err().is_transient());
            redis.restart().await;
        }
        let report = apply_until_ok(&sink, &batch, &mut transient).await;
        assert!(report.rejected.is_empty(), "nothing may be rejected: {report:?}");
        assert_eq!(report.applied + report.stale, events.len() as u64);
        let report = apply_until_ok(&invalidator, &batch, &mut transient).await;
        assert_eq!((report.applied, report.rejected.len()), (events.len() as u64, 0));
    }
    assert!(transient >= 3);
    // the restarted server had no script: the sink loaded it again by itself
    let mut conn = connect(&url).await;
    let sha = sluice_sink_redis::materialize::script().get_hash().to_string();
    let exists: Vec<bool> = redis::cmd("SCRIPT").arg("EXISTS").arg(&sha).query_async(&mut conn).await.unwrap();
    assert_eq!(exists, vec![true]);

    // Everything from the interrupted batch on is there, exactly as applied in order.
    let reader = Reader::new(&url, "r:", MaterializeFormat::Hash).await;
    let after = oracle_of(&batches[kill_at..]).await;
    for id in 0..100 {
        let got = reader.read(&b.table, &b.key(id)).await.unwrap();
        assert_eq!(got, after.get(&b.table, &b.key(id)), "key {id} after the restart");
    }
    // Recovering the lost cache = replaying the stream from its start.
    let mut replayed = 0;
    for events in &batches {
        let report = apply_until_ok(&sink, &ChangeBatch::from_events(events.clone()), &mut replayed).await;
        assert!(report.rejected.is_empty());
    }
    let full = oracle_of(&batches).await;
    for id in 0..100 {
        let got = reader.read(&b.table, &b.key(id)).await.unwrap();
        assert_eq!(got, full.get(&b.table, &b.key(id)), "key {id} after the replay");
    }
}

#[tokio::test]
async fn outage_busy_server_and_read_only_replica_are_transient() {
    let primary = RedisInstance::start().await;
    let url = primary.url();
    let mut admin = connect(&url).await;
    let _: () = redis::cmd("CONFIG").arg("SET").arg("lua-time-limit").arg(100).query_async(&mut admin).await.unwrap();
    let sink = started("busy", fast(materialize_config(&url, "b:", MaterializeFormat::Json))).await;
    let invalidator = started("busy-inv", fast(RedisSinkConfig::new(&url, RedisMode::Invalidate))).await;
    let b = builder();
    let batch = ChangeBatch::from_events(vec![b.upsert(1, 1, "a")]);

    // A script that never ends makes the server answer BUSY to everything else.
    let blocker_url = url.clone();
    let blocker = tokio::spawn(async move {
        let mut conn = connect(&blocker_url).await;
        let _: redis::RedisResult<()> = redis::cmd("EVAL").arg("while true do end").arg(0).query_async(&mut conn).await;
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    for sink in [&sink, &invalidator] {
        let err = sink.apply(&batch).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Transient, "{}", err.full_message());
        assert!(err.full_message().contains("BUSY"), "{}", err.full_message());
    }
    let mut killer = connect(&url).await;
    let _: () = redis::cmd("SCRIPT").arg("KILL").query_async(&mut killer).await.unwrap();
    blocker.await.unwrap();
    let mut transient = 0;
    assert_eq!(apply_until_ok(&sink, &batch, &mut transient).await.applied, 1);

    // After a failover the old primary is a replica: writes get READONLY.
    let replica = RedisInstance::start().await;
    let replica_url = replica.url();
    let mut replica_admin = connect(&replica_url).await;
    let _: () =
        redis::cmd("REPLICAOF").arg("127.0.0.1").arg(primary.port()).query_async(&mut replica_admin).await.unwrap();
    let on_replica = started("replica", fast(materialize_config(&replica_url, "b:", MaterializeFormat::Hash))).await;
    let invalidate_replica =
        started("replica-inv", fast(RedisSinkConfig::new(&replica_url, RedisMode::Invalidate))).await;
    let fresh = ChangeBatch::from_events(vec![b.upsert(2, 5, "x")]);
    for sink in [&on_replica, &invalidate_replica] {
        let err = sink.apply(&fresh).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Transient, "{}", err.full_message());
        assert!(err.full_message().contains("READONLY"), "{}", err.full_message());
    }
}

#[tokio::test]
async fn outage_hung_server_times_out_transiently() {
    let mut redis = RedisInstance::start().await;
    let url = redis.url();
    let sink = started("hung", fast(materialize_config(&url, "h:", MaterializeFormat::Hash))).await;
    let b = builder();
    redis.freeze();
    let started_at = Instant::now();
    let err = sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "a")])).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{}", err.full_message());
    assert!(started_at.elapsed() < Duration::from_secs(5), "the timeout must bound apply: {:?}", started_at.elapsed());
    redis.thaw();
    let mut transient = 0;
    let report = apply_until_ok(&sink, &ChangeBatch::from_events(vec![b.upsert(1, 2, "b")]), &mut transient).await;
    assert_eq!(report.applied, 1);
    let mut conn = connect(&url).await;
    let name: String = conn.hget("h:outage.rows:1", "name").await.unwrap();
    assert_eq!(name, "b");
}

#[tokio::test]
async fn outage_wrong_password_is_fatal_and_never_printed() {
    let redis = RedisInstance::start().await;
    let url = redis.url();
    let mut admin = connect(&url).await;
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("requirepass").arg("s3cret-pw").query_async(&mut admin).await.unwrap();
    let mut config = materialize_config(&url, "p:", MaterializeFormat::Hash);
    config.password = Some(Secret::literal("hunter2-wrong"));
    let sink = RedisSink::new("auth", fast(config.clone())).unwrap();
    let err = sink.startup().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Fatal, "{}", err.full_message());
    assert!(!err.full_message().contains("hunter2-wrong"), "{}", err.full_message());
    assert!(!format!("{sink:?}").contains("hunter2-wrong"));
    let mut invalidate = RedisSinkConfig::new(&url, RedisMode::Invalidate);
    invalidate.password = Some(Secret::literal("hunter2-wrong"));
    let err = RedisSink::new("auth-inv", fast(invalidate)).unwrap().startup().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Fatal, "{}", err.full_message());

    config.password = Some(Secret::literal("s3cret-pw"));
    let sink = started("auth", fast(config)).await;
    let report = sink.apply(&ChangeBatch::from_events(vec![builder().upsert(1, 1, "a")])).await.unwrap();
    assert_eq!(report.applied, 1);
}
