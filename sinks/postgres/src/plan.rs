//! Compaction of one table's events of a batch into at most one write per key.
//!
//! Per key, the changes are ordered by version (the batch order only breaks
//! ties). A change whose version is not newer than an earlier change of the
//! same key in the batch is a duplicate (stale). Then:
//! * a delete winner becomes one versioned delete;
//! * an upsert winner becomes one upsert of its own image when that is exact:
//!   no delete precedes it in the batch and no older image of the key carries
//!   a column the newest lacks (full row images, the normal case);
//! * otherwise (TOAST placeholders / partial images, delete then re-insert)
//!   the key's changes are written one by one in version order ("rounds",
//!   each guarded by its version), which is exactly in-order application: an
//!   older image cannot be merged blindly, it may itself be stale against
//!   the target.
//!
//! Changes older than a truncate of the same batch are subsumed by it.
//!
//! Accounting: the events represented by a compacted write (`members`) are
//! counted applied when the write takes effect, stale otherwise; an event
//! superseded inside the batch by a newer change of its key is thus counted
//! with that change.

use std::collections::HashMap;

use sluice_sink_api::{ChangeEvent, Op, RejectKind, Row, Value, Version};

use crate::config::TruncateMode;
use crate::mapping::{EventKey, TableMapping};
use crate::schema::TableInfo;

/// A key's compacted upsert.
#[derive(Debug)]
pub struct UpsertRow<'a> {
    pub key: EventKey<'a>,
    pub version: Version,
    /// (column index, value) of the non-key columns written, sorted by index.
    pub cells: Vec<(usize, &'a Value)>,
    pub members: Vec<usize>,
}

/// A key's versioned delete.
#[derive(Debug)]
pub struct DeleteRow<'a> {
    pub key: EventKey<'a>,
    pub version: Version,
    pub members: Vec<usize>,
}

/// Writes of distinct keys that run as one step.
#[derive(Debug, Default)]
pub struct Round<'a> {
    pub deletes: Vec<DeleteRow<'a>>,
    pub upserts: Vec<UpsertRow<'a>>,
}

/// What one table's events of a batch amount to.
#[derive(Debug, Default)]
pub struct TablePlan<'a> {
    /// The newest truncate of the batch, with the events it subsumes.
    pub truncate: Option<Version>,
    pub truncate_members: Vec<usize>,
    pub deletes: Vec<DeleteRow<'a>>,
    pub upserts: Vec<UpsertRow<'a>>,
    /// Chains written change by change, after the compacted writes: round i
    /// holds the i-th change of each such key.
    pub rounds: Vec<Round<'a>>,
    /// Events that are stale inside the batch (duplicates, reordered).
    pub duplicates: Vec<usize>,
    /// Events acknowledged without effect (ignored truncates).
    pub ignored: Vec<usize>,
    pub rejected: Vec<(usize, RejectKind, String)>,
}

struct KeyOp<'a> {
    index: usize,
    /// False for the before-image delete of a whole-row-key update: its event
    /// is counted with the upsert of the after image.
    counted: bool,
    delete: bool,
    key: EventKey<'a>,
    version: Version,
    image: Option<&'a Row>,
}

/// Column lookup by source name, memoised for one plan.
struct Columns<'i> {
    info: &'i TableInfo,
    /// Key columns and sluice's columns: never written from an image.
    key_index: Vec<bool>,
    memo: HashMap<String, Option<usize>>,
}

impl<'i> Columns<'i> {
    fn new(info: &'i TableInfo, key: &[String], sluice_columns: &[String]) -> Self {
        let mut key_index = vec![false; info.columns.len()];
        for k in key.iter().chain(sluice_columns) {
            if let Some(i) = info.index.get(k) {
                key_index[*i] = true;
            }
        }
        Columns { info, key_index, memo: HashMap::new() }
    }

    /// Column index of a source column; `Ok(None)` when not written.
    fn lookup(&mut self, mapping: &TableMapping, source: &str) -> Result<Option<usize>, String> {
        if let Some(found) = self.memo.get(source) {
            return match found {
                Some(usize::MAX) => Ok(None),
                Some(i) => Ok(Some(*i)),
                None => Err(missing(mapping, source)),
            };
        }
        if !mapping.writes(source) {
            self.memo.insert(source.to_string(), Some(usize::MAX));
            return Ok(None);
        }
        let found = self.info.index.get(crate::ident::pg_name_cow(source).as_ref()).copied();
        self.memo.insert(source.to_string(), found);
        found.map(Some).ok_or_else(|| missing(mapping, source))
    }
}

fn missing(mapping: &TableMapping, source: &str) -> String {
    format!(
        "table {}, column {source}: the column does not exist in the target and auto_evolve is off",
        mapping.state_key
    )
}

/// Builds the plan of one table. `events` are (batch index, event) in batch order.
pub fn build<'a>(
    mapping: &TableMapping,
    info: &TableInfo,
    key_columns: &[String],
    sluice_columns: &[String],
    truncate_mode: TruncateMode,
    events: &[(usize, &'a ChangeEvent)],
) -> TablePlan<'a> {
    let mut plan = TablePlan::default();
    let mut columns = Columns::new(info, key_columns, sluice_columns);
    let mut ops: Vec<KeyOp<'a>> = Vec::with_capacity(events.len());
    for &(index, event) in events {
        if event.op == Op::Truncate {
            match truncate_mode {
                TruncateMode::Ignore => plan.ignored.push(index),
                TruncateMode::Apply => {
                    plan.truncate = Some(plan.truncate.map_or(event.version, |t| t.max(event.version)));
                    plan.truncate_members.push(index);
                }
            }
            continue;
        }
        match event_ops(mapping, info, &mut columns, index, event) {
            Ok(list) => ops.extend(list),
            Err((kind, message)) => plan.rejected.push((index, kind, format!("{message} (at {})", event.origin))),
        }
    }
    // group by key text, in first-seen order
    let mut groups: Vec<Vec<KeyOp<'a>>> = Vec::new();
    let mut slot: HashMap<&str, usize> = HashMap::with_capacity(ops.len());
    let mut order: Vec<usize> = Vec::with_capacity(ops.len());
    for op in &ops {
        let g = *slot.entry(op.key.text.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        order.push(g);
    }
    drop(slot);
    for (op, g) in ops.into_iter().zip(order) {
        groups[g].push(op);
    }
    for mut group in groups {
        group.sort_by_key(|op| op.version); // stable: batch order breaks ties
        let mut kept: Vec<KeyOp<'a>> = Vec::with_capacity(group.len());
        for op in group {
            if plan.truncate.is_some_and(|t| op.version <= t) {
                if op.counted {
                    plan.truncate_members.push(op.index);
                }
            } else if kept.last().is_some_and(|last| last.version >= op.version) {
                if op.counted {
                    plan.duplicates.push(op.index);
                }
            } else {
                kept.push(op);
            }
        }
        compact(&mut plan, &mut columns, mapping, kept);
    }
    plan
}

fn event_ops<'a>(
    mapping: &TableMapping,
    info: &TableInfo,
    columns: &mut Columns<'_>,
    index: usize,
    event: &'a ChangeEvent,
) -> Result<Vec<KeyOp<'a>>, (RejectKind, String)> {
    let table = &mapping.state_key;
    let key_err = |m: String| (RejectKind::Key, m);
    let mut ops = Vec::with_capacity(1);
    if event.op == Op::Delete {
        let image = event.before.as_ref();
        let key = mapping.key(event, image).map_err(key_err)?;
        check_key(info, &key).map_err(|m| (RejectKind::DataType, format!("table {table}, {m}")))?;
        ops.push(KeyOp { index, counted: true, delete: true, key, version: event.version, image });
        return Ok(ops);
    }
    let after = event
        .after
        .as_ref()
        .ok_or_else(|| (RejectKind::Other, format!("table {table}: a {:?} change without an after image", event.op)))?;
    let key = mapping.key(event, Some(after)).map_err(key_err)?;
    check_key(info, &key).map_err(|m| (RejectKind::DataType, format!("table {table}, {m}")))?;
    // validate every written value against its column now, so a bad value
    // rejects exactly this record (with its column) instead of the statement
    for (source, value) in after.iter() {
        if value.is_unavailable() {
            continue;
        }
        let Some(i) = columns.lookup(mapping, source).map_err(|m| (RejectKind::Schema, m))? else { continue };
        if i == usize::MAX || columns.key_index[i] {
            continue;
        }
        let column = &info.columns[i];
        crate::encode::check(value, &column.ty)
            .map_err(|e| (RejectKind::DataType, format!("table {table}, column {}: {}", column.name, e.0)))?;
    }
    if mapping.key_mode == crate::config::KeyMode::FullRow
        && let Some(before) = event.before.as_ref()
    {
        let old = mapping.key(event, Some(before)).map_err(key_err)?;
        if old.text != key.text {
            ops.push(KeyOp {
                index,
                counted: false,
                delete: true,
                key: old,
                version: event.version,
                image: Some(before),
            });
        }
    }
    ops.push(KeyOp { index, counted: true, delete: false, key, version: event.version, image: Some(after) });
    Ok(ops)
}

fn check_key(info: &TableInfo, key: &EventKey<'_>) -> Result<(), String> {
    for (name, value) in key.columns.iter().zip(&key.values) {
        let Some(column) = info.column(name) else {
            return Err(format!("key column {name}: not in the target table"));
        };
        crate::encode::check(value, &column.ty).map_err(|e| format!("key column {name}: {}", e.0))?;
    }
    Ok(())
}

fn image_cells<'a>(
    columns: &mut Columns<'_>,
    mapping: &TableMapping,
    image: Option<&'a Row>,
) -> Vec<(usize, &'a Value)> {
    let mut cells: Vec<(usize, &'a Value)> = Vec::with_capacity(columns.key_index.len());
    for (source, value) in image.into_iter().flat_map(Row::iter) {
        if value.is_unavailable() {
            continue;
        }
        let Ok(Some(i)) = columns.lookup(mapping, source) else { continue };
        if i == usize::MAX || columns.key_index[i] {
            continue;
        }
        match cells.iter_mut().find(|(c, _)| *c == i) {
            Some(cell) => cell.1 = value,
            None => cells.push((i, value)),
        }
    }
    cells.sort_by_key(|(i, _)| *i);
    cells
}

fn compact<'a>(plan: &mut TablePlan<'a>, columns: &mut Columns<'_>, mapping: &TableMapping, kept: Vec<KeyOp<'a>>) {
    let Some(last) = kept.last() else { return };
    if last.delete {
        let members: Vec<usize> = kept.iter().filter(|op| op.counted).map(|op| op.index).collect();
        let last = kept.into_iter().next_back().expect("non-empty");
        plan.deletes.push(DeleteRow { key: last.key, version: last.version, members });
        return;
    }
    let cells = image_cells(columns, mapping, last.image);
    // The newest image alone is exact when no older change of the chain could
    // contribute: no delete in between and no column only older images carry.
    // Otherwise (TOAST/partial images, delete + re-insert) the chain is written
    // change by change in version order, each guarded by its version, because
    // an older image may itself be stale against the target.
    let exact = kept.len() == 1
        || kept.iter().all(|op| {
            !op.delete && image_cells(columns, mapping, op.image).iter().all(|(i, _)| cells.iter().any(|(c, _)| c == i))
        });
    if exact {
        let members: Vec<usize> = kept.iter().filter(|op| op.counted).map(|op| op.index).collect();
        let winner = kept.into_iter().next_back().expect("non-empty");
        plan.upserts.push(UpsertRow { key: winner.key, version: winner.version, cells, members });
        return;
    }
    for (round, op) in kept.into_iter().enumerate() {
        if plan.rounds.len() <= round {
            plan.rounds.push(Round::default());
        }
        let members = if op.counted { vec![op.index] } else { Vec::new() };
        if op.delete {
            plan.rounds[round].deletes.push(DeleteRow { key: op.key, version: op.version, members });
        } else {
            let cells = image_cells(columns, mapping, op.image);
            plan.rounds[round].upserts.push(UpsertRow { key: op.key, version: op.version, cells, members });
        }
    }
}
