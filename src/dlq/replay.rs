//! Replaying dead letters: re-decode the stored bytes with today's decoder
//! and apply them through the same versioned sink path as the pipeline
//! ([`apply_batch`]: retries, bisection).
//!
//! # Contract
//!
//! * Each entry targets its own sink, or every configured sink when it failed
//!   before any sink (`*`, decoding). An entry naming a sink this
//!   configuration does not have fails (it is never applied elsewhere).
//! * Entries are applied in the order given; callers pass them in record
//!   order (topic, partition, offset), which is each key's original order.
//!   Within one call, the i-th entry of a key goes into the i-th batch
//!   ("layer"), so no batch holds a key twice and a key's entries apply in
//!   order.
//! * An entry is resolved when every target sink applied it **or found it
//!   stale** (the target already holds newer data of that key: the version
//!   guard leaves it, which is the correct outcome), or when it decodes to
//!   something that is never applied (a tombstone, a transaction marker…).
//!   Otherwise it failed, with every reason (decode error, rejection, sink
//!   unavailable after the retries the backoff allows).
//! * Nothing here touches the dead-letter table: the caller records the
//!   outcomes (see [`super::resolve`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use sluice_sink_api::{ChangeBatch, ChangeEvent, Sink, SinkError};

use super::entry::DlqEntry;
use super::letter::ALL_SINKS;
use crate::decode::{DecodeError, Decoded, Decoder, RawRecord, RecordHeader};
use crate::pipeline::dispatch::apply_batch;
use crate::pipeline::retry::Backoff;

/// The outcome of replaying one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied (or stale) in every target sink, or nothing to apply.
    Resolved {
        /// `applied` (to the sinks), or what the record decoded to that is never
        /// applied (`tombstone`, `tx`, `heartbeat`, …).
        how: String,
    },
    /// At least one target sink did not take it; every reason, `; `-joined.
    Failed { error: String },
}

/// One entry's replay result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryResult {
    pub id: i64,
    /// `topic/partition@offset`
    pub record: String,
    pub table: Option<String>,
    /// The sinks it was applied to (the targets).
    pub sinks: Vec<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl EntryResult {
    pub fn is_resolved(&self) -> bool {
        matches!(self.outcome, Outcome::Resolved { .. })
    }
}

/// Replays entries into the sinks of one configuration.
#[derive(Debug)]
pub struct Replayer<'a> {
    pub decoder: &'a Decoder,
    /// The configured sinks, started.
    pub sinks: &'a [Arc<dyn Sink>],
    /// Transient failures are retried this way, then the entries fail (a
    /// replay is an interactive command: it must end).
    pub backoff: Backoff,
}

impl Replayer<'_> {
    /// Decodes an entry's stored bytes with today's decoder. Registry
    /// schemas must have been fetched ([`Replayer::fetch_schemas`]).
    pub fn decode(&self, entry: &DlqEntry) -> Result<Decoded, DecodeError> {
        decode_entry(self.decoder, entry)
    }

    /// Fetches the registry schemas the entries refer to that are not cached
    /// (Avro records), following the registry's outage policy. Failures are
    /// not returned: decoding such an entry then fails with the reason.
    pub async fn fetch_schemas(&self, entries: &[DlqEntry]) {
        for entry in entries {
            fetch_entry_schemas(self.decoder, entry).await;
        }
    }

    /// Indices (into `sinks`) of the sinks an entry targets.
    pub fn targets(&self, entry: &DlqEntry) -> Result<Vec<usize>, String> {
        if entry.sink == ALL_SINKS {
            return Ok((0..self.sinks.len()).collect());
        }
        match self.sinks.iter().position(|s| s.name() == entry.sink) {
            Some(i) => Ok(vec![i]),
            None => {
                let names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
                Err(format!(
                    "sink {:?} is not in this configuration (sinks: {}); replay with the pipeline's configuration \
                     or resolve the entry by hand",
                    entry.sink,
                    names.join(", ")
                ))
            }
        }
    }

    /// Names of the sinks an entry targets (for display).
    pub fn target_names(&self, entry: &DlqEntry) -> Result<Vec<String>, String> {
        Ok(self.targets(entry)?.into_iter().map(|i| self.sinks[i].name().to_string()).collect())
    }

    /// Replays `entries` (in record order) following the module contract.
    pub async fn replay(&self, entries: &[DlqEntry]) -> Vec<EntryResult> {
        let mut errors: Vec<Vec<String>> = vec![Vec::new(); entries.len()];
        let mut how: Vec<&'static str> = vec!["applied"; entries.len()];
        let mut targets: Vec<Vec<String>> = vec![Vec::new(); entries.len()];
        let mut per_sink: Vec<Vec<(usize, ChangeEvent)>> = vec![Vec::new(); self.sinks.len()];
        self.fetch_schemas(entries).await;
        for (i, entry) in entries.iter().enumerate() {
            let sinks = match self.targets(entry) {
                Ok(s) => s,
                Err(e) => {
                    errors[i].push(e);
                    continue;
                }
            };
            targets[i] = sinks.iter().map(|s| self.sinks[*s].name().to_string()).collect();
            match self.decode(entry) {
                Err(e) => errors[i].push(format!("cannot decode: {e}")),
                Ok(Decoded::Change(event)) => {
                    for s in sinks {
                        per_sink[s].push((i, event.clone()));
                    }
                }
                Ok(other) => how[i] = other.kind(),
            }
        }
        for (s, items) in per_sink.into_iter().enumerate() {
            let sink = self.sinks[s].as_ref();
            for layer in layers(items) {
                let (indices, events): (Vec<usize>, Vec<ChangeEvent>) = layer.into_iter().unzip();
                let batch = ChangeBatch::from_events(events);
                let on_retry = |attempt: u32, e: &SinkError| {
                    tracing::warn!(sink = sink.name(), attempt, error = %e.full_message(), "sink failed transiently; retrying");
                };
                match apply_batch(sink, &batch, &self.backoff, &on_retry).await {
                    Ok(report) => {
                        for r in report.rejected {
                            if let Some(&i) = indices.get(r.index) {
                                errors[i].push(format!("sink {} rejected it ({}): {}", sink.name(), r.kind, r.message));
                            }
                        }
                    }
                    Err(e) => {
                        for &i in &indices {
                            errors[i].push(e.to_string());
                        }
                    }
                }
            }
        }
        entries
            .iter()
            .zip(errors)
            .zip(how)
            .zip(targets)
            .map(|(((entry, errors), how), sinks)| EntryResult {
                id: entry.id,
                record: entry.origin(),
                table: entry.table.clone(),
                sinks,
                outcome: if errors.is_empty() {
                    Outcome::Resolved { how: how.to_string() }
                } else {
                    Outcome::Failed { error: errors.join("; ") }
                },
            })
            .collect()
    }
}

/// Decodes an entry's stored key, value and headers as the pipeline decodes
/// a consumed record (same topic, partition and offset, so offset-derived
/// versions come out the same).
pub fn decode_entry(decoder: &Decoder, entry: &DlqEntry) -> Result<Decoded, DecodeError> {
    let pairs = entry.header_pairs();
    let headers: Vec<RecordHeader<'_>> =
        pairs.iter().map(|(k, v)| RecordHeader { key: k.as_str(), value: v.as_deref() }).collect();
    let raw = RawRecord {
        topic: &entry.topic,
        partition: entry.partition,
        offset: entry.offset,
        key: entry.raw_key.as_deref(),
        value: entry.raw_value.as_deref(),
        timestamp_ms: None,
        headers: &headers,
    };
    decoder.decode(&raw)
}

/// Fetches the registry schemas an entry's key and value refer to that are
/// not cached yet (see [`Decoder::resolve_schemas`]); a failure shows when
/// the entry is decoded.
pub async fn fetch_entry_schemas(decoder: &Decoder, entry: &DlqEntry) {
    let raw = RawRecord::new(
        &entry.topic,
        entry.partition,
        entry.offset,
        entry.raw_key.as_deref(),
        entry.raw_value.as_deref(),
    );
    if let Err(e) = decoder.resolve_schemas(&raw).await {
        tracing::debug!(error = %e, "schema of a dead letter cannot be fetched");
    }
}

/// Splits events (in order) into batches where the n-th event of a key goes
/// into batch n: no batch holds a key twice, and applying the batches in
/// order applies each key's events in order. Keyless events go to the first.
fn layers<T>(items: Vec<(T, ChangeEvent)>) -> Vec<Vec<(T, ChangeEvent)>> {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut out: Vec<Vec<(T, ChangeEvent)>> = Vec::new();
    for (tag, event) in items {
        let layer = match &event.key {
            Some(key) => {
                let n = seen.entry((event.table.qualified(), key.identity())).or_insert(0);
                *n += 1;
                *n - 1
            }
            None => 0,
        };
        if out.len() <= layer {
            out.resize_with(layer + 1, Vec::new);
        }
        out[layer].push((tag, event));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sink_api::TableId;
    use sluice_sink_api::testing::EventBuilder;

    #[test]
    fn layers_keep_each_key_once_per_batch_and_in_order() {
        let b = EventBuilder::new(TableId::new(Some("db"), None, "t"));
        let items = vec![
            (0, b.upsert(1, 1, "a")),
            (1, b.upsert(2, 2, "b")),
            (2, b.upsert(1, 3, "c")),
            (3, b.upsert(1, 4, "d")),
            (4, b.upsert(3, 5, "e")),
        ];
        let tags: Vec<Vec<i32>> = layers(items).into_iter().map(|l| l.into_iter().map(|(t, _)| t).collect()).collect();
        assert_eq!(tags, vec![vec![0, 1, 4], vec![2], vec![3]]);
    }
}
