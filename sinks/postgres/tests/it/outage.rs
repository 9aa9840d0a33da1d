//! Connection loss mid-batch: Transient, nothing committed, and the retry
//! applies everything.

use std::time::Duration;

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, Sink, TableId};
use sluice_sink_postgres::{PostgresSink, PostgresSinkConfig};
use sluice_testkit::TcpProxy;

use crate::common::{World, config};

fn through(proxy: &TcpProxy, mut config: PostgresSinkConfig) -> PostgresSinkConfig {
    let mut url = url::Url::parse(&config.url).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr().port())).unwrap();
    config.url = url.to_string();
    config.connect_timeout = Duration::from_secs(2);
    config
}

#[tokio::test]
async fn connection_loss_is_transient_and_retry_loses_nothing() {
    let base = config().await;
    let proxy = TcpProxy::start(&sluice_testkit::host_port(&base.url)).await;
    let world = World::with(through(&proxy, base)).await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "outage"));
    world.apply(vec![b.upsert(0, 1, "seed")]).await;

    // hold a lock so the batch is in flight when the connection is cut
    let mut locker = world.pool.begin().await.unwrap();
    sqlx::query(&format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", world.table("outage")))
        .execute(&mut *locker)
        .await
        .unwrap();
    let batch = ChangeBatch::from_events((1..=1000).map(|i| b.upsert(i, 10 + i as u64, &format!("n{i}"))).collect());
    let sink = world.sink.clone();
    let batch_for_task = batch.clone();
    let in_flight = tokio::spawn(async move { sink.apply(&batch_for_task).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut();
    let err = tokio::time::timeout(Duration::from_secs(20), in_flight).await.unwrap().unwrap().unwrap_err();
    assert!(err.is_transient(), "{err}");
    locker.rollback().await.unwrap();
    // while down: still transient
    let err = world.sink.apply(&batch).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    proxy.restore();
    let report = world.sink.apply(&batch).await.unwrap();
    assert_eq!(report.applied + report.stale, 1000);
    assert_eq!(world.count("outage").await, 1001);
    world.cleanup().await;
}

#[tokio::test]
async fn wrong_password_is_not_permanent() {
    // an unreachable server at startup is transient (the engine retries)
    let mut config = config().await;
    config.url = format!("postgres://postgres@127.0.0.1:{}/test", sluice_testkit::free_port());
    config.connect_timeout = Duration::from_millis(500);
    let sink = PostgresSink::new("down", config).unwrap();
    let err = sink.startup().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}
