//! An in-memory sink that honours versions, for tests, demos and the
//! conformance suite's reference model.
//!
//! With a journal file it is also durable: every applied batch is appended as
//! JSON lines closed by an end-of-batch line and fsynced before `apply`
//! returns, and the state is rebuilt from the journal on start. Batches stay
//! atomic across a kill: a batch without its end line (a write cut short) is
//! ignored on replay and cut off the file before new batches are appended, so
//! a torn tail can never swallow the next batch's first line. That makes it
//! usable from a `sluice run` process that tests kill with SIGKILL: the
//! journal is the sink's record of what it applied, including each event's
//! Kafka origin.
//!
//! Fault injection for tests: while `fail_while_exists` names an existing
//! file every `apply` fails with a transient error; a row whose
//! `poison_column` is `true` is rejected permanently (class `constraint`).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::canonical::{row_from_json, row_to_json};
use crate::error::{RejectKind, SinkError};
use crate::event::{ChangeBatch, ChangeEvent, Checkpoint, Op, Origin, TableId};
use crate::row::Row;
use crate::sink::{ApplyReport, Capabilities, Rejection, Sink};
use crate::value::Value;
use crate::version::Version;

/// Options of a [`MemorySink`].
#[derive(Debug, Clone, Default)]
pub struct MemorySinkOptions {
    /// Append-only journal that makes the sink durable across restarts.
    pub journal: Option<PathBuf>,
    /// While this file exists, `apply` fails transiently.
    pub fail_while_exists: Option<PathBuf>,
    /// A row whose column of this name is `true` is rejected permanently.
    pub poison_column: Option<String>,
}

/// The state of one key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyState {
    pub version: Version,
    /// `None` after a delete (a versioned tombstone).
    pub row: Option<Row>,
}

#[derive(Debug, Default)]
struct State {
    rows: HashMap<(TableId, String), KeyState>,
    /// Every origin whose event this sink applied or found stale, in order.
    origins: Vec<Origin>,
    checkpoints: HashMap<String, Checkpoint>,
}

#[derive(Serialize, Deserialize)]
struct JournalLine {
    table: TableId,
    key: String,
    version: Version,
    /// Canonical row, `null` for a delete.
    row: Option<serde_json::Value>,
    origin: Origin,
    applied: bool,
}

/// The line that closes one batch's lines in the journal.
#[derive(Serialize, Deserialize)]
struct JournalEnd {
    batch_end: usize,
}

/// See the module docs.
#[derive(Debug)]
pub struct MemorySink {
    name: String,
    options: MemorySinkOptions,
    state: Mutex<State>,
    journal: Mutex<Option<File>>,
    applied: AtomicU64,
    stale: AtomicU64,
}

impl MemorySink {
    pub fn new(name: impl Into<String>) -> Self {
        Self::with_options(name, MemorySinkOptions::default())
    }

    pub fn with_options(name: impl Into<String>, options: MemorySinkOptions) -> Self {
        MemorySink {
            name: name.into(),
            options,
            state: Mutex::new(State::default()),
            journal: Mutex::new(None),
            applied: AtomicU64::new(0),
            stale: AtomicU64::new(0),
        }
    }

    /// The current row of a key (`None` if absent or deleted).
    pub fn get(&self, table: &TableId, key: &Row) -> Option<Row> {
        self.state.lock().rows.get(&(table.clone(), key.identity())).and_then(|s| s.row.clone())
    }

    /// The state (version and row or tombstone) of a key.
    pub fn key_state(&self, table: &TableId, key: &Row) -> Option<KeyState> {
        self.state.lock().rows.get(&(table.clone(), key.identity())).cloned()
    }

    /// All live rows of a table, keyed by key identity.
    pub fn rows(&self, table: &TableId) -> HashMap<String, Row> {
        self.state
            .lock()
            .rows
            .iter()
            .filter(|((t, _), s)| t == table && s.row.is_some())
            .map(|((_, k), s)| (k.clone(), s.row.clone().unwrap_or_default()))
            .collect()
    }

    /// Number of live rows across all tables.
    pub fn live_rows(&self) -> usize {
        self.state.lock().rows.values().filter(|s| s.row.is_some()).count()
    }

    /// Every origin applied or found stale, in apply order.
    pub fn origins(&self) -> Vec<Origin> {
        self.state.lock().origins.clone()
    }

    pub fn applied_count(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    pub fn stale_count(&self) -> u64 {
        self.stale.load(Ordering::Relaxed)
    }

    /// Rebuilds a sink's state from a journal file without opening it for
    /// writing (used by tests to inspect what a killed process applied).
    pub fn read_journal(path: &Path) -> std::io::Result<MemorySink> {
        let sink = MemorySink::new("journal-reader");
        sink.replay_journal(path)?;
        Ok(sink)
    }

    /// Replays the complete batches of the journal at `path`; returns the
    /// length in bytes of that complete prefix (what follows it is a batch
    /// whose write was cut short: never acknowledged, not applied).
    fn replay_journal(&self, path: &Path) -> std::io::Result<u64> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut state = self.state.lock();
        let mut reader = BufReader::new(file);
        let (mut offset, mut complete) = (0u64, 0u64);
        let mut pending: Vec<JournalLine> = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line)?;
            if read == 0 || !line.ends_with('\n') {
                break; // end of file, or a torn last line
            }
            offset += read as u64;
            if let Ok(end) = serde_json::from_str::<JournalEnd>(&line) {
                if end.batch_end != pending.len() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "journal {}: batch end at byte {offset} counts {} lines, found {}",
                            path.display(),
                            end.batch_end,
                            pending.len()
                        ),
                    ));
                }
                for entry in pending.drain(..) {
                    let row = match entry.row {
                        Some(json) => Some(
                            row_from_json(&json)
                                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
                        ),
                        None => None,
                    };
                    state.origins.push(entry.origin);
                    if entry.applied {
                        state.rows.insert((entry.table, entry.key), KeyState { version: entry.version, row });
                    }
                }
                complete = offset;
                continue;
            }
            match serde_json::from_str::<JournalLine>(&line) {
                Ok(entry) => pending.push(entry),
                // A line cut short mid-batch, then the next run's lines: the
                // batch is incomplete and what follows was cut off at start.
                Err(_) => break,
            }
        }
        Ok(complete)
    }

    fn is_poison(&self, event: &ChangeEvent) -> bool {
        let Some(column) = &self.options.poison_column else { return false };
        event.after.as_ref().and_then(|r| r.get(column)) == Some(&Value::Bool(true))
    }

    /// Applies one event to the state; returns whether it took effect and the
    /// journal line describing it.
    fn apply_one(state: &mut State, event: &ChangeEvent) -> Result<(bool, Option<JournalLine>), Rejection> {
        let reject = |kind, message: String| Rejection { index: 0, kind, message };
        if event.op == Op::Truncate {
            let table = event.table.clone();
            state.rows.retain(|(t, _), s| !(t == &table && s.version < event.version));
            state.origins.push(event.origin.clone());
            return Ok((true, None));
        }
        let key = event
            .key
            .as_ref()
            .ok_or_else(|| reject(RejectKind::Key, format!("{}: event at {} has no key", event.table, event.origin)))?;
        let slot = (event.table.clone(), key.identity());
        let current = state.rows.get(&slot);
        if let Some(current) = current
            && current.version >= event.version
        {
            state.origins.push(event.origin.clone());
            return Ok((
                false,
                Some(JournalLine {
                    table: event.table.clone(),
                    key: slot.1,
                    version: event.version,
                    row: None,
                    origin: event.origin.clone(),
                    applied: false,
                }),
            ));
        }
        let new_row = match event.op {
            Op::Delete => None,
            _ => {
                let after = event.after.as_ref().ok_or_else(|| {
                    reject(
                        RejectKind::Other,
                        format!("{}: {:?} at {} has no after image", event.table, event.op, event.origin),
                    )
                })?;
                // Columns absent or unavailable keep their previous value.
                let mut row = current.and_then(|c| c.row.clone()).unwrap_or_default();
                row.overlay(after);
                Some(row)
            }
        };
        state.origins.push(event.origin.clone());
        let line = JournalLine {
            table: event.table.clone(),
            key: slot.1.clone(),
            version: event.version,
            row: new_row.as_ref().map(row_to_json),
            origin: event.origin.clone(),
            applied: true,
        };
        state.rows.insert(slot, KeyState { version: event.version, row: new_row });
        Ok((true, Some(line)))
    }
}

#[async_trait]
impl Sink for MemorySink {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { atomic_batches: true, checkpoints: true }
    }

    async fn startup(&self) -> Result<(), SinkError> {
        if let Some(path) = &self.options.journal {
            let complete = self
                .replay_journal(path)
                .map_err(|e| SinkError::fatal(format!("reading journal {}", path.display())).with_source(e))?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| SinkError::fatal(format!("opening journal {}", path.display())).with_source(e))?;
            // Cut off an incomplete last batch, so appends start on a batch boundary.
            file.set_len(complete)
                .and_then(|_| file.sync_data())
                .map_err(|e| SinkError::fatal(format!("truncating journal {}", path.display())).with_source(e))?;
            *self.journal.lock() = Some(file);
        }
        Ok(())
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        if let Some(path) = &self.options.fail_while_exists
            && path.exists()
        {
            return Err(SinkError::transient(format!("memory sink unavailable while {} exists", path.display())));
        }
        Ok(())
    }

    async fn apply(&self, batch: &ChangeBatch) -> Result<ApplyReport, SinkError> {
        self.healthcheck().await?;
        let mut report = ApplyReport::default();
        let mut lines = Vec::new();
        {
            let mut state = self.state.lock();
            for (index, event) in batch.events.iter().enumerate() {
                if self.is_poison(event) {
                    report.rejected.push(Rejection {
                        index,
                        kind: RejectKind::Constraint,
                        message: format!("{}: poison row at {}", event.table, event.origin),
                    });
                    continue;
                }
                match Self::apply_one(&mut state, event) {
                    Ok((true, line)) => {
                        report.applied += 1;
                        lines.extend(line);
                    }
                    Ok((false, line)) => {
                        report.stale += 1;
                        lines.extend(line);
                    }
                    Err(mut rejection) => {
                        rejection.index = index;
                        report.rejected.push(rejection);
                    }
                }
            }
            if let Some(cp) = &batch.checkpoint {
                state.checkpoints.insert(cp.owner.clone(), cp.clone());
            }
        }
        if let Some(file) = self.journal.lock().as_mut() {
            let mut buf = Vec::with_capacity(lines.len() * 128);
            for line in &lines {
                serde_json::to_writer(&mut buf, line).map_err(|e| SinkError::fatal("journal encode").with_source(e))?;
                buf.push(b'\n');
            }
            serde_json::to_writer(&mut buf, &JournalEnd { batch_end: lines.len() })
                .map_err(|e| SinkError::fatal("journal encode").with_source(e))?;
            buf.push(b'\n');
            file.write_all(&buf)
                .and_then(|_| file.sync_data())
                .map_err(|e| SinkError::fatal("writing the memory sink journal").with_source(e))?;
        }
        self.applied.fetch_add(report.applied, Ordering::Relaxed);
        self.stale.fetch_add(report.stale, Ordering::Relaxed);
        Ok(report)
    }

    async fn load_checkpoint(&self, owner: &str) -> Result<Option<Checkpoint>, SinkError> {
        Ok(self.state.lock().checkpoints.get(owner).cloned())
    }

    async fn shutdown(&self) -> Result<(), SinkError> {
        if let Some(file) = self.journal.lock().as_mut() {
            file.sync_all().map_err(|e| SinkError::fatal("syncing the journal").with_source(e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::EventBuilder;

    fn t() -> TableId {
        TableId::new(Some("db"), None, "t")
    }

    #[tokio::test]
    async fn stale_and_resurrection_are_no_ops() {
        let sink = MemorySink::new("m");
        let b = EventBuilder::new(t());
        let batch = ChangeBatch::from_events(vec![
            b.upsert(1, 10, "a"),
            b.delete(1, 20),
            b.upsert(1, 15, "old"), // older than the delete: must not resurrect
        ]);
        let report = sink.apply(&batch).await.unwrap();
        assert_eq!((report.applied, report.stale), (2, 1));
        assert_eq!(sink.get(&t(), &b.key(1)), None);
        let replay = sink.apply(&batch).await.unwrap();
        assert_eq!((replay.applied, replay.stale), (0, 3));
    }

    #[tokio::test]
    async fn journal_survives_restart_and_drops_a_torn_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let opts = MemorySinkOptions { journal: Some(path.clone()), ..Default::default() };
        let b = EventBuilder::new(t());
        {
            let sink = MemorySink::with_options("m", opts.clone());
            sink.startup().await.unwrap();
            sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "x"), b.upsert(2, 2, "y")])).await.unwrap();
            sink.apply(&ChangeBatch::from_events(vec![b.upsert(3, 3, "z"), b.upsert(4, 4, "w")])).await.unwrap();
        }
        // A kill in the middle of the second batch's write: its first line
        // whole, the second torn, no end line.
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "two batches of two lines and an end line each:\n{text}");
        let cut = lines[..3].iter().map(|l| l.len() + 1).sum::<usize>() + lines[3].len() + 1 + 10;
        std::fs::write(&path, &text.as_bytes()[..cut]).unwrap();
        {
            let reader = MemorySink::read_journal(&path).unwrap();
            assert_eq!(reader.origins().len(), 2, "the incomplete batch is not applied");
            assert_eq!(reader.get(&t(), &b.key(3)), None);
            let sink = MemorySink::with_options("m", opts.clone());
            sink.startup().await.unwrap();
            assert_eq!(sink.get(&t(), &b.key(2)).unwrap().get("name"), Some(&Value::Text("y".into())));
            assert_eq!(sink.get(&t(), &b.key(3)), None);
            // the next batch after the restart is not swallowed by the torn tail
            sink.apply(&ChangeBatch::from_events(vec![b.upsert(5, 5, "v")])).await.unwrap();
        }
        let sink = MemorySink::read_journal(&path).unwrap();
        assert_eq!(sink.origins().len(), 3);
        assert_eq!(sink.get(&t(), &b.key(5)).unwrap().get("name"), Some(&Value::Text("v".into())));
    }

    #[tokio::test]
    async fn fault_injection() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("down");
        let sink = MemorySink::with_options(
            "m",
            MemorySinkOptions {
                fail_while_exists: Some(flag.clone()),
                poison_column: Some("poison".into()),
                ..Default::default()
            },
        );
        let b = EventBuilder::new(t());
        std::fs::write(&flag, b"").unwrap();
        let err = sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "x")])).await.unwrap_err();
        assert!(err.is_transient());
        std::fs::remove_file(&flag).unwrap();
        let mut poison = b.upsert(2, 2, "p");
        poison.after.as_mut().unwrap().insert("poison", Value::Bool(true));
        let report = sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "x"), poison])).await.unwrap();
        assert_eq!(report.applied, 1);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].index, 1);
    }
}
