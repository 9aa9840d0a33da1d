//! The `sluice_dlq_unresolved` gauge follows the table (its own binary: it
//! installs the global metrics recorder).

mod dlq_support;

use std::time::{Duration, Instant};

use dlq_support::*;
use sluice::dlq::spawn_depth_gauge_every;
use sluice_sink_api::RejectKind;

fn gauge(handle: &metrics_exporter_prometheus::PrometheusHandle) -> Option<f64> {
    handle
        .render()
        .lines()
        .find(|l| l.starts_with("sluice_dlq_unresolved "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn wait_for(handle: &metrics_exporter_prometheus::PrometheusHandle, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while gauge(handle) != Some(want) {
        assert!(Instant::now() < deadline, "gauge {:?}, want {want}", gauge(handle));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_depth_gauge_tracks_unresolved_entries_of_the_group() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder of this binary");
    let store = store("dlq_gauge").await;
    let group = sluice_testkit::unique_name("g");
    let gauge_task = spawn_depth_gauge_every(store.clone(), group.clone(), Duration::from_millis(50));
    wait_for(&handle, 0.0).await;
    let letters: Vec<_> = (0..3)
        .map(|o| letter(&group, "t", o, "mem", RejectKind::Constraint, None, Some(b"v".to_vec())))
        .chain([letter("other", "t", 0, "mem", RejectKind::Constraint, None, None)])
        .collect();
    park(&store, &letters).await;
    wait_for(&handle, 3.0).await;
    let id = id_of(&store, &group, 1).await;
    store.mark_replayed(&[id]).await.unwrap();
    wait_for(&handle, 2.0).await;
    drop(gauge_task);
}
