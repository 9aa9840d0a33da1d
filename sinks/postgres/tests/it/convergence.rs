//! Convergence property: random histories over a few keys (insert, update,
//! delete, re-insert, several changes of one key inside one source
//! transaction, partial images with TOAST placeholders), delivered in batches
//! with duplicates, replays of earlier prefixes and reorderings, end in the
//! state of applying the history once in order (the in-memory reference
//! sink), row for row; deleted keys stay deleted.

use proptest::prelude::*;
use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, ChangeEvent, MemorySink, Row, Sink, TableId, Value};
use sqlx::Row as _;

use crate::common::World;

const KEYS: i64 = 4;

#[derive(Debug, Clone)]
enum Step {
    /// Full image.
    Upsert {
        key: i64,
        name: u8,
        note: u8,
    },
    /// Partial image: `note` is the TOAST placeholder (only in ordered deliveries:
    /// a partial image delivered before its predecessors cannot converge in any sink).
    Partial {
        key: i64,
        name: u8,
    },
    Delete {
        key: i64,
    },
}

fn step(partial: bool) -> BoxedStrategy<Step> {
    let upsert = (0..KEYS, any::<u8>(), any::<u8>()).prop_map(|(key, name, note)| Step::Upsert { key, name, note });
    let delete = (0..KEYS).prop_map(|key| Step::Delete { key });
    if partial {
        let partial = (0..KEYS, any::<u8>()).prop_map(|(key, name)| Step::Partial { key, name });
        prop_oneof![4 => upsert, 2 => partial, 2 => delete].boxed()
    } else {
        prop_oneof![4 => upsert, 2 => delete].boxed()
    }
}

#[derive(Debug, Clone)]
struct Case {
    ordered: bool,
    /// Source transactions.
    history: Vec<Vec<Step>>,
    /// Delivery perturbations.
    actions: Vec<(u8, u16, u16)>,
    /// Batch sizes in units.
    cuts: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    any::<bool>().prop_flat_map(|ordered| {
        (
            prop::collection::vec(prop::collection::vec(step(ordered), 1..4), 1..14),
            prop::collection::vec((0u8..3, any::<u16>(), any::<u16>()), 0..10),
            prop::collection::vec(1u8..6, 1..8),
        )
            .prop_map(move |(history, actions, cuts)| Case { ordered, history, actions, cuts })
    })
}

fn events(b: &EventBuilder, history: &[Vec<Step>]) -> Vec<Vec<ChangeEvent>> {
    let mut version = 0u64;
    history
        .iter()
        .enumerate()
        .map(|(t, steps)| {
            steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    version += 1;
                    let e = match s {
                        Step::Upsert { key, name, note } => b.upsert_row(
                            *key,
                            version,
                            Row::new().with("name", format!("n{name}")).with("note", format!("t{note}")),
                        ),
                        Step::Partial { key, name } => {
                            let mut row = Row::new().with("name", format!("p{name}"));
                            row.insert("note", Value::Unavailable);
                            b.upsert_row(*key, version, row)
                        }
                        Step::Delete { key } => b.delete(*key, version),
                    };
                    EventBuilder::in_tx(e, &format!("tx{t}"), i as u64 + 1)
                })
                .collect()
        })
        .collect()
}

/// The delivery order of units (indices into the history), with duplicates,
/// replays and, when not `ordered`, reorderings.
fn deliveries(case: &Case) -> Vec<usize> {
    let n = case.history.len();
    let mut out: Vec<usize> = (0..n).collect();
    for &(kind, a, b) in &case.actions {
        match kind {
            0 => {
                // duplicate a unit somewhere after its first delivery
                let unit = a as usize % n;
                let first = out.iter().position(|u| *u == unit).unwrap_or(0);
                let at = first + 1 + (b as usize % (out.len() - first));
                out.insert(at.min(out.len()), unit);
            }
            1 => {
                // replay an earlier prefix
                let k = 1 + a as usize % n;
                out.extend(0..k);
            }
            _ if !case.ordered => {
                let (i, j) = (a as usize % out.len(), b as usize % out.len());
                out.swap(i, j);
            }
            _ => {}
        }
    }
    out
}

async fn run(case: Case) -> Result<(), TestCaseError> {
    let world = World::new().await;
    let table = TableId::new(Some("db"), None, "conv");
    let b = EventBuilder::new(table.clone());
    let units = events(&b, &case.history);

    let reference = MemorySink::new("reference");
    reference.apply(&ChangeBatch::from_units(units.clone())).await.unwrap();

    let order = deliveries(&case);
    let mut cuts = case.cuts.iter().cycle();
    let mut at = 0;
    while at < order.len() {
        let take = (*cuts.next().unwrap() as usize).min(order.len() - at);
        let batch = ChangeBatch::from_units(order[at..at + take].iter().map(|u| units[*u].clone()).collect());
        let report = world.sink.apply(&batch).await.unwrap();
        prop_assert!(report.rejected.is_empty(), "{report:?}");
        prop_assert_eq!(report.applied + report.stale, batch.len() as u64);
        at += take;
    }

    let stored = sqlx::query(&format!("SELECT id::int8, name, note FROM {} ORDER BY id", world.table("conv")))
        .fetch_all(&world.pool)
        .await
        .unwrap();
    let stored: Vec<(i64, Option<String>, Option<String>)> =
        stored.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    let mut expected = Vec::new();
    for id in 0..KEYS {
        if let Some(row) = reference.get(&table, &b.key(id)) {
            let text = |c: &str| match row.get(c) {
                Some(Value::Text(s)) => Some(s.clone()),
                _ => None,
            };
            expected.push((id, text("name"), text("note")));
        }
    }
    world.cleanup().await;
    prop_assert_eq!(stored, expected, "deliveries {:?}", order);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn batches_converge_to_in_order_application(case in case()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(case))?;
    }
}

/// Regression (found by the property): a replayed old full image in the same
/// batch as newer partial images must not lend its columns to them.
#[tokio::test]
async fn stale_image_does_not_fill_partial_ones() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "partial"));
    let full = |v: u64, name: &str, note: &str| b.upsert_row(1, v, Row::new().with("name", name).with("note", note));
    let partial = |v: u64, name: &str| {
        let mut row = Row::new().with("name", name);
        row.insert("note", Value::Unavailable);
        b.upsert_row(1, v, row)
    };
    world.apply(vec![full(1, "n0", "t7")]).await;
    world.apply(vec![full(5, "n33", "t6")]).await;
    let report = world.apply(vec![partial(8, "p117"), partial(9, "p227"), full(1, "n0", "t7")]).await;
    assert_eq!((report.applied, report.stale), (2, 1), "{report:?}");
    let row = sqlx::query(&format!("SELECT name, note FROM {} WHERE id = 1", world.table("partial")))
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert_eq!((row.get::<String, _>(0), row.get::<String, _>(1)), ("p227".to_string(), "t6".to_string()));
    world.cleanup().await;
}
