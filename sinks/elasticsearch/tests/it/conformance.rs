//! The `sinks/api` conformance suite and a convergence property test.

use proptest::prelude::*;
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, ChangeEvent, Sink, TableId, conformance};
use sluice_sink_elasticsearch::{DeleteMode, UnavailableMode};

use crate::common::{EsReader, config, es_url, sink, unique};

#[tokio::test]
async fn conformance_hard_deletes() {
    let url = es_url().await;
    let sink = sink(config(&url));
    sink.startup().await.unwrap();
    conformance::run_all(&sink, &EsReader { base: url.clone(), sink: &sink }, &unique("hard")).await.unwrap();
}

#[tokio::test]
async fn conformance_soft_deletes() {
    let url = es_url().await;
    let mut c = config(&url);
    c.delete_mode = DeleteMode::Soft;
    let sink = sink(c);
    conformance::run_all(&sink, &EsReader { base: url.clone(), sink: &sink }, &unique("soft")).await.unwrap();
}

/// With `unavailable = "omit"` the suite's TOAST case still holds: the
/// placeholder is never written (the field is dropped instead).
#[tokio::test]
async fn conformance_omit_unavailable() {
    let url = es_url().await;
    let mut c = config(&url);
    c.unavailable = UnavailableMode::Omit;
    let sink = sink(c);
    conformance::run_all(&sink, &EsReader { base: url.clone(), sink: &sink }, &unique("omit")).await.unwrap();
}

/// One history over a few keys: (key, is_delete) per version 1..=n.
fn history() -> impl Strategy<Value = (Vec<(i64, bool)>, u64, bool)> {
    (prop::collection::vec((0i64..4, prop::bool::weighted(0.3)), 1..40), any::<u64>(), any::<bool>())
}

fn shuffled_batches(history: &[ChangeEvent], seed: u64) -> Vec<Vec<ChangeEvent>> {
    let mut state = seed | 1;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut pending: Vec<ChangeEvent> = history.to_vec();
    for _ in 0..history.len() / 2 {
        pending.push(history[next(history.len())].clone());
    }
    for i in (1..pending.len()).rev() {
        pending.swap(i, next(i + 1));
    }
    let mut batches = Vec::new();
    while !pending.is_empty() {
        let take = (1 + next(10)).min(pending.len());
        batches.push(pending.drain(..take).collect());
    }
    batches
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    /// Shuffled, duplicated batches with deletes and re-inserts end in the
    /// state of the history applied once in order, in both delete modes.
    #[test]
    fn convergence((ops, seed, soft) in history()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let url = es_url().await;
            let mut c = config(&url);
            if soft {
                c.delete_mode = DeleteMode::Soft;
            }
            let sink = sink(c);
            let b = EventBuilder::new(TableId::new(Some("converge"), None, &unique("p")));
            let mut expected = std::collections::BTreeMap::new();
            let history: Vec<ChangeEvent> = ops
                .iter()
                .enumerate()
                .map(|(i, (id, delete))| {
                    let version = i as u64 + 1;
                    if *delete {
                        expected.insert(*id, None);
                        b.delete(*id, version)
                    } else {
                        let name = format!("v{version}");
                        expected.insert(*id, Some(name.clone()));
                        b.upsert(*id, version, &name)
                    }
                })
                .collect();
            for batch in shuffled_batches(&history, seed) {
                let n = batch.len() as u64;
                let report = sink.apply(&ChangeBatch::from_events(batch)).await.unwrap();
                assert!(report.rejected.is_empty(), "{:?}", report.rejected);
                assert_eq!(report.applied + report.stale, n);
            }
            let reader = EsReader { base: url.clone(), sink: &sink };
            for (id, want) in expected {
                let got = conformance::StateReader::read(&reader, &b.table, &b.key(id)).await.unwrap();
                let got = got.and_then(|r| r.get("name").cloned());
                assert_eq!(got, want.map(sluice_sink_api::Value::Text), "key {id} (soft deletes: {soft})");
            }
        });
    }
}
