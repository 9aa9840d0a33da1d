//! The conformance suite every sink runs against its real target.
//!
//! It checks the [`Sink`] contract from the outside: versioned writes, stale
//! writes ignored, deletes that stay deleted, idempotent replays, unavailable
//! values never written, and convergence of shuffled and duplicated batches to
//! the in-order result. A sink's test provides a [`StateReader`] that reads a
//! key back from the target as a [`Row`] with `id` as [`Value::Int`] and
//! `name`/`note` as [`Value::Text`].
//!
//! Every case uses its own table `conformance.<prefix>_<case>`, so a run
//! against a shared target only needs a fresh prefix.

use async_trait::async_trait;

use crate::event::{ChangeBatch, ChangeEvent, TableId};
use crate::row::Row;
use crate::sink::Sink;
use crate::testing::EventBuilder;
use crate::value::{UNAVAILABLE_PLACEHOLDER, Value};

/// Reads what a sink stored for a key.
#[async_trait]
pub trait StateReader: Send + Sync {
    /// The live row for `key` (`None` if absent or deleted), with at least the
    /// columns `id`, `name` and `note` when stored.
    async fn read(&self, table: &TableId, key: &Row) -> Result<Option<Row>, String>;
}

/// A failed conformance expectation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conformance case `{case}` failed: {message}")]
pub struct ConformanceFailure {
    pub case: &'static str,
    pub message: String,
}

struct Ctx<'a> {
    sink: &'a dyn Sink,
    reader: &'a dyn StateReader,
    prefix: &'a str,
}

impl Ctx<'_> {
    fn builder(&self, case: &str) -> EventBuilder {
        EventBuilder::new(TableId::new(Some("conformance"), None, &format!("{}_{case}", self.prefix)))
    }

    async fn apply(
        &self,
        case: &'static str,
        events: Vec<ChangeEvent>,
    ) -> Result<crate::ApplyReport, ConformanceFailure> {
        let n = events.len() as u64;
        let report = self
            .sink
            .apply(&ChangeBatch::from_events(events))
            .await
            .map_err(|e| ConformanceFailure { case, message: format!("apply failed: {}", e.full_message()) })?;
        if !report.rejected.is_empty() {
            return Err(ConformanceFailure { case, message: format!("unexpected rejections: {:?}", report.rejected) });
        }
        if report.applied + report.stale != n {
            return Err(ConformanceFailure {
                case,
                message: format!("applied {} + stale {} != {n} events", report.applied, report.stale),
            });
        }
        Ok(report)
    }

    async fn name_of(
        &self,
        case: &'static str,
        b: &EventBuilder,
        id: i64,
    ) -> Result<Option<String>, ConformanceFailure> {
        let row = self
            .reader
            .read(&b.table, &b.key(id))
            .await
            .map_err(|message| ConformanceFailure { case, message: format!("read failed: {message}") })?;
        Ok(row.map(|r| match r.get("name") {
            Some(Value::Text(s)) => s.clone(),
            other => format!("{other:?}"),
        }))
    }

    async fn expect(
        &self,
        case: &'static str,
        b: &EventBuilder,
        id: i64,
        want: Option<&str>,
    ) -> Result<(), ConformanceFailure> {
        let got = self.name_of(case, b, id).await?;
        if got.as_deref() != want {
            return Err(ConformanceFailure {
                case,
                message: format!("key {id}: expected name {want:?}, found {got:?}"),
            });
        }
        Ok(())
    }
}

/// Runs every case; returns the first failure.
pub async fn run_all(sink: &dyn Sink, reader: &dyn StateReader, prefix: &str) -> Result<(), ConformanceFailure> {
    let cx = Ctx { sink, reader, prefix };

    let b = cx.builder("insert");
    cx.apply("insert", vec![b.upsert(1, 1, "a")]).await?;
    cx.expect("insert", &b, 1, Some("a")).await?;

    let b = cx.builder("update");
    cx.apply("update", vec![b.upsert(1, 1, "a")]).await?;
    cx.apply("update", vec![b.upsert(1, 2, "b")]).await?;
    cx.expect("update", &b, 1, Some("b")).await?;

    let b = cx.builder("stale");
    cx.apply("stale", vec![b.upsert(1, 5, "new")]).await?;
    let report = cx.apply("stale", vec![b.upsert(1, 3, "old")]).await?;
    cx.expect("stale", &b, 1, Some("new")).await?;
    if report.stale != 1 {
        return Err(ConformanceFailure {
            case: "stale",
            message: format!("stale write counted {} times, want 1", report.stale),
        });
    }

    let b = cx.builder("duplicate");
    let events = vec![b.upsert(1, 1, "a"), b.upsert(2, 2, "b"), b.delete(2, 3), b.upsert(1, 4, "c")];
    cx.apply("duplicate", events.clone()).await?;
    cx.apply("duplicate", events).await?;
    cx.expect("duplicate", &b, 1, Some("c")).await?;
    cx.expect("duplicate", &b, 2, None).await?;

    let b = cx.builder("delete");
    cx.apply("delete", vec![b.upsert(1, 1, "a")]).await?;
    cx.apply("delete", vec![b.delete(1, 2)]).await?;
    cx.expect("delete", &b, 1, None).await?;

    let b = cx.builder("no_resurrection");
    cx.apply("no_resurrection", vec![b.upsert(1, 1, "a"), b.delete(1, 3)]).await?;
    let report = cx.apply("no_resurrection", vec![b.upsert(1, 2, "zombie")]).await?;
    cx.expect("no_resurrection", &b, 1, None).await?;
    if report.stale != 1 {
        return Err(ConformanceFailure {
            case: "no_resurrection",
            message: format!("upsert older than the delete counted stale {} times, want 1", report.stale),
        });
    }
    // also a delete of a key never seen, then an older insert
    cx.apply("no_resurrection", vec![b.delete(7, 10)]).await?;
    cx.apply("no_resurrection", vec![b.upsert(7, 9, "zombie")]).await?;
    cx.expect("no_resurrection", &b, 7, None).await?;

    let b = cx.builder("reinsert");
    cx.apply("reinsert", vec![b.upsert(1, 1, "a"), b.delete(1, 2)]).await?;
    cx.apply("reinsert", vec![b.upsert(1, 3, "again")]).await?;
    cx.expect("reinsert", &b, 1, Some("again")).await?;

    let b = cx.builder("same_key_in_batch");
    cx.apply("same_key_in_batch", vec![b.upsert(1, 1, "a"), b.upsert(1, 2, "b"), b.upsert(1, 3, "c")]).await?;
    cx.expect("same_key_in_batch", &b, 1, Some("c")).await?;

    let b = cx.builder("reordered_in_batch");
    cx.apply("reordered_in_batch", vec![b.upsert(1, 3, "c"), b.upsert(1, 1, "a"), b.delete(2, 5), b.upsert(2, 4, "x")])
        .await?;
    cx.expect("reordered_in_batch", &b, 1, Some("c")).await?;
    cx.expect("reordered_in_batch", &b, 2, None).await?;

    let b = cx.builder("unavailable");
    cx.apply("unavailable", vec![b.upsert_row(1, 1, Row::new().with("name", "a").with("note", "big"))]).await?;
    let mut toasted = Row::new().with("name", "b");
    toasted.insert("note", Value::Unavailable);
    cx.apply("unavailable", vec![b.upsert_row(1, 2, toasted)]).await?;
    let row = cx
        .reader
        .read(&b.table, &b.key(1))
        .await
        .map_err(|message| ConformanceFailure { case: "unavailable", message })?
        .ok_or_else(|| ConformanceFailure { case: "unavailable", message: "row missing".into() })?;
    if let Some(Value::Text(note)) = row.get("note")
        && note.contains(UNAVAILABLE_PLACEHOLDER)
    {
        return Err(ConformanceFailure { case: "unavailable", message: "the TOAST placeholder was written".into() });
    }
    if row.get("name") != Some(&Value::Text("b".into())) {
        return Err(ConformanceFailure { case: "unavailable", message: format!("name not updated: {row:?}") });
    }

    let b = cx.builder("many_keys");
    let events: Vec<_> = (0..500).map(|i| b.upsert(i, i as u64 + 1, &format!("n{i}"))).collect();
    cx.apply("many_keys", events).await?;
    for i in [0, 1, 250, 499] {
        cx.expect("many_keys", &b, i, Some(&format!("n{i}"))).await?;
    }

    convergence(&cx, 12).await
}

/// A tiny deterministic PRNG (xorshift) so failures reproduce by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random histories over a few keys, applied as shuffled batches with
/// duplicates and replayed prefixes, must end in the in-order final state.
async fn convergence(cx: &Ctx<'_>, rounds: u64) -> Result<(), ConformanceFailure> {
    const CASE: &str = "convergence";
    for seed in 1..=rounds {
        let b = cx.builder(&format!("convergence{seed}"));
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let mut history = Vec::new();
        let mut expected: std::collections::HashMap<i64, Option<String>> = Default::default();
        for version in 1..=40u64 {
            let id = rng.below(4) as i64;
            if rng.below(4) == 0 {
                history.push(b.delete(id, version));
                expected.insert(id, None);
            } else {
                let name = format!("s{seed}v{version}");
                history.push(b.upsert(id, version, &name));
                expected.insert(id, Some(name));
            }
        }
        // batches: random slices of the history, shuffled, with duplicates
        let mut pending: Vec<ChangeEvent> = history.clone();
        for _ in 0..(history.len() / 2) {
            let i = rng.below(history.len() as u64) as usize;
            pending.push(history[i].clone());
        }
        for i in (1..pending.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            pending.swap(i, j);
        }
        while !pending.is_empty() {
            let take = (1 + rng.below(8) as usize).min(pending.len());
            let batch: Vec<_> = pending.drain(..take).collect();
            cx.apply(CASE, batch).await?;
        }
        for (id, want) in &expected {
            let got = cx.name_of(CASE, &b, *id).await?;
            if got.as_ref() != want.as_ref() {
                return Err(ConformanceFailure {
                    case: CASE,
                    message: format!("seed {seed} key {id}: expected {want:?}, found {got:?}"),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemorySink;

    struct MemReader<'a>(&'a MemorySink);

    #[async_trait]
    impl StateReader for MemReader<'_> {
        async fn read(&self, table: &TableId, key: &Row) -> Result<Option<Row>, String> {
            Ok(self.0.get(table, key))
        }
    }

    #[tokio::test]
    async fn memory_sink_conforms() {
        let sink = MemorySink::new("memory");
        run_all(&sink, &MemReader(&sink), "mem").await.unwrap();
    }

    /// The suite must be able to fail: a sink that ignores versions does.
    #[tokio::test]
    async fn a_sink_ignoring_versions_fails() {
        #[derive(Debug)]
        struct LastWriteWins(MemorySink, std::sync::atomic::AtomicU64);
        #[async_trait]
        impl Sink for LastWriteWins {
            fn name(&self) -> &str {
                "lww"
            }
            async fn startup(&self) -> Result<(), crate::SinkError> {
                Ok(())
            }
            async fn healthcheck(&self) -> Result<(), crate::SinkError> {
                Ok(())
            }
            async fn apply(&self, batch: &ChangeBatch) -> Result<crate::ApplyReport, crate::SinkError> {
                let mut report = crate::ApplyReport::default();
                for e in &batch.events {
                    let mut e = e.clone();
                    // every write gets a newer version than everything before: last write wins
                    e.version = EventBuilder::version(self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                    report.merge(self.0.apply(&ChangeBatch::from_events(vec![e])).await?);
                }
                Ok(report)
            }
            async fn shutdown(&self) -> Result<(), crate::SinkError> {
                Ok(())
            }
        }
        let sink = LastWriteWins(MemorySink::new("inner"), 1_000_000.into());
        let err = run_all(&sink, &MemReader(&sink.0), "lww").await.unwrap_err();
        assert_eq!(err.case, "stale");
    }
}
