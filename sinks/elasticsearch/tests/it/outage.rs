//! Outages: nothing lost, nothing rejected.
//!
//! * A network cut (a `TcpProxy` in front of the shared server) in the middle
//!   of a stream and of an `apply`: short cuts are absorbed by the sink's own
//!   retries; longer ones make `apply` return a transient error, and the
//!   batch retried after the restore lands completely.
//! * A dedicated server (`OsmemInstance`) killed between two batches and started again: `apply`
//!   is transient while it is down; after the restart the retried batch and
//!   the rest of the stream land. (osmem-server keeps data in memory, so what
//!   was acknowledged before the kill is gone with the process; the test
//!   checks every batch sent from the failed one on.)
//! * A dedicated server frozen (SIGSTOP, a hung node): requests time out
//!   (transient); after SIGCONT the batch lands.

use std::time::Duration;

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ApplyReport, ChangeBatch, ChangeEvent, Sink, SinkError, TableId};
use sluice_testkit::{OsmemInstance, TcpProxy, host_port};

use crate::common::{config, es_url, get_doc, sink, unique};

fn batch(b: &EventBuilder, keys: std::ops::Range<i64>, version: u64) -> ChangeBatch {
    let events: Vec<ChangeEvent> = keys.map(|id| b.upsert(id, version, &format!("v{version}-{id}"))).collect();
    ChangeBatch::from_events(events)
}

/// What the engine does: retry a transiently failed batch until it applies.
async fn apply_until_ok(sink: &dyn Sink, batch: &ChangeBatch, within: Duration) -> (ApplyReport, usize) {
    let deadline = tokio::time::Instant::now() + within;
    let mut failures = 0;
    loop {
        match sink.apply(batch).await {
            Ok(report) => return (report, failures),
            Err(SinkError { class: sluice_sink_api::ErrorClass::Transient, .. })
                if tokio::time::Instant::now() < deadline =>
            {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("apply failed with a non-transient error or too long: {}", e.full_message()),
        }
    }
}

async fn assert_names(base: &str, index: &str, keys: std::ops::Range<i64>, version: u64) {
    for id in keys {
        let doc = get_doc(base, index, &id.to_string()).await.unwrap();
        let name = doc.map(|(source, _)| source["name"].clone());
        assert_eq!(name, Some(serde_json::json!(format!("v{version}-{id}"))), "key {id}");
    }
}

#[tokio::test]
async fn network_cut_mid_stream_loses_nothing() {
    let url = es_url().await;
    let proxy = TcpProxy::start(&host_port(&url)).await;
    let mut c = config(&format!("http://{}", proxy.addr()));
    c.max_bulk_actions = 50;
    c.max_concurrent_requests = 1;
    c.retry.retry_for = Duration::from_secs(20);
    let sink = sink(c);
    let b = EventBuilder::new(TableId::new(Some("outage"), None, &unique("cut")));
    let index = sink.index_for(&b.table, "").unwrap();

    sink.apply(&batch(&b, 0..500, 1)).await.unwrap();
    // A cut during an apply: the sink retries the failed items itself and
    // returns Ok once the network is back.
    let big = batch(&b, 0..2000, 2);
    let cutter = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        proxy.restore();
    };
    let started = std::time::Instant::now();
    let (report, ()) = tokio::join!(sink.apply(&big), cutter);
    let report = report.expect("a short cut is absorbed by the sink's retries");
    assert!(started.elapsed() >= Duration::from_millis(1400), "the cut must have interrupted the apply");
    assert!(report.rejected.is_empty());
    assert_eq!(report.applied + report.stale, 2000);
    assert_names(&url, &index, 0..2000, 2).await;

    // A cut longer than the retry budget: transient, then the engine's retry lands it.
    let mut c = config(&format!("http://{}", proxy.addr()));
    c.retry.retry_for = Duration::from_millis(300);
    let short = crate::common::sink(c);
    proxy.cut();
    let err = short.apply(&batch(&b, 0..300, 3)).await.unwrap_err();
    assert!(err.is_transient(), "{}", err.full_message());
    assert!(short.healthcheck().await.unwrap_err().is_transient());
    proxy.restore();
    let (report, _) = apply_until_ok(&short, &batch(&b, 0..300, 3), Duration::from_secs(20)).await;
    assert!(report.rejected.is_empty());
    assert_names(&url, &index, 0..300, 3).await;
    assert_names(&url, &index, 300..2000, 2).await;
}

#[tokio::test]
async fn server_stopped_and_restarted_mid_stream() {
    let mut server = OsmemInstance::start().await;
    let base = server.url();
    let mut c = config(&base);
    c.retry.retry_for = Duration::from_millis(300);
    let sink = sink(c);
    let b = EventBuilder::new(TableId::new(Some("outage"), None, &unique("restart")));
    let index = sink.index_for(&b.table, "").unwrap();

    for version in 1..=3 {
        sink.apply(&batch(&b, 0..200, version)).await.unwrap();
    }
    server.kill();
    let failed = batch(&b, 0..200, 4);
    let err = sink.apply(&failed).await.unwrap_err();
    assert!(err.is_transient(), "{}", err.full_message());
    assert!(sink.healthcheck().await.unwrap_err().is_transient());

    // Restart while the engine keeps retrying the failed batch.
    let restart = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.restart().await;
    };
    let ((report, failures), ()) = tokio::join!(apply_until_ok(&sink, &failed, Duration::from_secs(30)), restart);
    assert!(failures >= 1, "the batch must have failed while the server was down");
    assert!(report.rejected.is_empty());
    assert_eq!(report.applied, 200);
    for version in 5..=6 {
        let report = sink.apply(&batch(&b, 0..200, version)).await.unwrap();
        assert!(report.rejected.is_empty());
    }
    assert_names(&base, &index, 0..200, 6).await;
    sink.healthcheck().await.unwrap();
    // The index lost with the old process was created again with its settings.
    let settings: serde_json::Value =
        reqwest::get(format!("{base}/{index}/_settings")).await.unwrap().json().await.unwrap();
    assert_eq!(settings[&index]["settings"]["index"]["gc_deletes"], "86400s");
}

/// A hung server (SIGSTOP): requests time out, which is transient; after
/// SIGCONT the batch lands in full.
#[tokio::test]
async fn server_frozen_mid_stream_times_out_then_recovers() {
    let mut server = OsmemInstance::start().await;
    let base = server.url();
    let b = EventBuilder::new(TableId::new(Some("outage"), None, &unique("frozen")));
    // The first index creation of a fresh osmem-server loads its analyzers
    // (seconds on a busy machine): do it with the normal timeout.
    sink(config(&base)).apply(&batch(&b, 0..100, 1)).await.unwrap();
    let mut c = config(&base);
    c.request_timeout = Duration::from_secs(1);
    c.retry.retry_for = Duration::from_millis(500);
    let sink = sink(c);
    let index = sink.index_for(&b.table, "").unwrap();
    server.freeze();
    let err = sink.apply(&batch(&b, 0..100, 2)).await.unwrap_err();
    assert!(err.is_transient(), "{}", err.full_message());
    server.thaw();
    let (report, _) = apply_until_ok(&sink, &batch(&b, 0..100, 2), Duration::from_secs(20)).await;
    assert!(report.rejected.is_empty());
    assert_names(&base, &index, 0..100, 2).await;
}
