//! Properties of materialize mode, checked against the in-memory sink
//! applying the history once, in order (the oracle):
//!
//! * full row images, delivered shuffled and duplicated in random batches,
//!   converge to the in-order state; deleted keys stay deleted;
//! * partial images (TOAST-unavailable or absent columns) converge when each
//!   key's changes arrive in order — any interleaving of keys, any replayed
//!   duplicates — which is what Kafka (one partition per key), batch retries
//!   and replays deliver. (Reordering partial images of one key cannot
//!   converge with one version per row: a column only an older change
//!   carried is lost once a newer change won. The oracle behaves the same.)
//! * afterwards, replaying the whole history changes nothing: every event is stale.

use proptest::prelude::*;
use sluice_sink_api::conformance::StateReader;
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, ChangeEvent, MemorySink, Row, Sink, TableId, Value};
use sluice_sink_redis::MaterializeFormat;

use crate::common::{Reader, cleanup, materialize_config, prefix, shared_url, started};

#[derive(Debug, Clone)]
enum Note {
    Text(u8),
    Null,
    Unavailable,
    Absent,
}

#[derive(Debug, Clone)]
enum Step {
    Upsert { id: i64, name: u8, note: Note },
    Delete { id: i64 },
}

fn step(partial: bool) -> impl Strategy<Value = Step> {
    let note = if partial {
        prop_oneof![any::<u8>().prop_map(Note::Text), Just(Note::Null), Just(Note::Unavailable), Just(Note::Absent)]
            .boxed()
    } else {
        prop_oneof![any::<u8>().prop_map(Note::Text), Just(Note::Null)].boxed()
    };
    prop_oneof![
        3 => (0..4i64, any::<u8>(), note).prop_map(|(id, name, note)| Step::Upsert { id, name, note }),
        1 => (0..4i64).prop_map(|id| Step::Delete { id }),
    ]
}

fn events(b: &EventBuilder, steps: &[Step]) -> Vec<ChangeEvent> {
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let version = i as u64 + 1;
            match step {
                Step::Upsert { id, name, note } => {
                    let mut row = Row::new().with("name", format!("n{name}"));
                    match note {
                        Note::Text(n) => row.insert("note", Value::Text(format!("note{n}"))),
                        Note::Null => row.insert("note", Value::Null),
                        Note::Unavailable => row.insert("note", Value::Unavailable),
                        Note::Absent => {}
                    }
                    b.upsert_row(*id, version, row)
                }
                Step::Delete { id } => b.delete(*id, version),
            }
        })
        .collect()
}

/// Columns sorted by name; in hash format a NULL column is stored as an absent field.
fn normalized(row: Option<Row>, format: MaterializeFormat) -> Option<Vec<(String, Value)>> {
    row.map(|r| {
        let mut columns: Vec<(String, Value)> =
            r.into_iter().filter(|(_, v)| !(format == MaterializeFormat::Hash && v.is_null())).collect();
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        columns
    })
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Full images: the history plus random duplicates, shuffled.
fn shuffled(history: &[ChangeEvent], rng: &mut Rng) -> Vec<ChangeEvent> {
    let mut pending = history.to_vec();
    for _ in 0..history.len() / 2 + 1 {
        pending.push(history[rng.below(history.len())].clone());
    }
    for i in (1..pending.len()).rev() {
        pending.swap(i, rng.below(i + 1));
    }
    pending
}

/// Partial images: keys interleaved at random, each key's changes in order,
/// with replays of already delivered changes inserted anywhere after them.
fn interleaved(history: &[ChangeEvent], rng: &mut Rng) -> Vec<ChangeEvent> {
    let mut queues: Vec<std::collections::VecDeque<ChangeEvent>> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for event in history {
        let id = event.key_identity().unwrap_or_default();
        match ids.iter().position(|k| *k == id) {
            Some(i) => queues[i].push_back(event.clone()),
            None => {
                ids.push(id);
                queues.push(std::collections::VecDeque::from([event.clone()]));
            }
        }
    }
    let mut out: Vec<ChangeEvent> = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        let live: Vec<usize> = (0..queues.len()).filter(|i| !queues[*i].is_empty()).collect();
        let pick = live[rng.below(live.len())];
        out.push(queues[pick].pop_front().unwrap_or_else(|| unreachable!()));
        if rng.below(3) == 0 {
            let replay = out[rng.below(out.len())].clone();
            out.push(replay);
        }
    }
    out
}

async fn check(steps: Vec<Step>, seed: u64, partial: bool, format: MaterializeFormat) -> Result<(), String> {
    let url = shared_url().await;
    let prefix = prefix("convergence");
    let sink = started("convergence", materialize_config(&url, &prefix, format)).await;
    let reader = Reader::new(&url, &prefix, format).await;
    let b = EventBuilder::new(TableId::new(Some("prop"), None, "rows"));
    let history = events(&b, &steps);

    let oracle = MemorySink::new("oracle");
    for event in &history {
        oracle.apply(&ChangeBatch::from_events(vec![event.clone()])).await.map_err(|e| e.to_string())?;
    }

    let mut rng = Rng(seed | 1);
    let mut pending = if partial { interleaved(&history, &mut rng) } else { shuffled(&history, &mut rng) };
    let result = async {
        while !pending.is_empty() {
            let take = (1 + rng.below(8)).min(pending.len());
            let batch: Vec<_> = pending.drain(..take).collect();
            let report = sink.apply(&ChangeBatch::from_events(batch)).await.map_err(|e| e.full_message())?;
            if !report.rejected.is_empty() || report.applied + report.stale != take as u64 {
                return Err(format!("bad report for {take} events: {report:?}"));
            }
        }
        for id in 0..4 {
            let want = normalized(oracle.get(&b.table, &b.key(id)), format);
            let got = normalized(reader.read(&b.table, &b.key(id)).await?, format);
            if got != want {
                return Err(format!("key {id}: expected {want:?}, found {got:?}"));
            }
        }
        // Replaying everything again (newest first) is a no-op: all stale.
        let mut replay = history.clone();
        replay.reverse();
        let report = sink.apply(&ChangeBatch::from_events(replay)).await.map_err(|e| e.full_message())?;
        if report.applied != 0 || report.stale != history.len() as u64 {
            return Err(format!("replay was not all stale: {report:?}"));
        }
        for id in 0..4 {
            let want = normalized(oracle.get(&b.table, &b.key(id)), format);
            let got = normalized(reader.read(&b.table, &b.key(id)).await?, format);
            if got != want {
                return Err(format!("after replay, key {id}: expected {want:?}, found {got:?}"));
            }
        }
        Ok(())
    }
    .await;
    cleanup(&url, &prefix).await;
    result
}

fn run(steps: Vec<Step>, seed: u64, partial: bool, json: bool) -> Result<(), String> {
    let format = if json { MaterializeFormat::Json } else { MaterializeFormat::Hash };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(check(steps, seed, partial, format)).map_err(|e| format!("{} format: {e}", format.as_str()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn full_images_shuffled_and_duplicated_converge(
        steps in prop::collection::vec(step(false), 1..30),
        seed in any::<u64>(),
        json in any::<bool>(),
    ) {
        let outcome = run(steps, seed, false, json);
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }

    #[test]
    fn partial_images_in_key_order_with_replays_converge(
        steps in prop::collection::vec(step(true), 1..30),
        seed in any::<u64>(),
        json in any::<bool>(),
    ) {
        let outcome = run(steps, seed, true, json);
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}
