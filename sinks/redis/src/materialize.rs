//! Materialize mode: every row stored under its key, written only if newer.
//!
//! Each event becomes one invocation of `materialize.lua` (`EVALSHA`, the
//! script loaded once with `SCRIPT LOAD` and again after `NOSCRIPT`), all of
//! a batch's invocations pipelined. The script compares the change's version
//! with the newest stored one — the row's version field or the key's
//! tombstone — and writes only if the change is newer, atomically. Because
//! every key has its own invocation, a failure (a stored value sluice did not
//! write, a key of the wrong type) rejects only that record.
//!
//! * **Upsert** (`c`, `u`, `r`): hash format `HSET`s the available columns
//!   and the version field, `HDEL`s NULL columns, leaves absent and
//!   unavailable (TOAST) columns untouched. JSON format merges the available
//!   columns into the stored object inside the script (members not in the
//!   change keep their stored value) and stores it with `SET`.
//! * **Delete**: removes the row and writes the tombstone key
//!   (`<key_prefix><tombstone_prefix><key>`) holding the version, expiring
//!   after `tombstone_ttl`. Until then an older write of the key is stale;
//!   after it, an older replay could resurrect the key — so `tombstone_ttl`
//!   must exceed the replay horizon (Kafka retention).
//! * **Live TTL** (`ttl`): refreshed by every write; the tombstone key is
//!   then also written on upserts (expiring after `tombstone_ttl`), so the
//!   version guard outlives an expired row.
//! * **Truncate**: rejected (dead-lettered); a table's keys cannot be found
//!   without scanning the whole keyspace.
//!
//! Key templates of materialize mode may only name primary-key columns (and
//! `{key}`): a row must not move between keys.

use redis::{Cmd, Script};
use sluice_sink_api::{ChangeEvent, Op, RejectKind};

use crate::config::MaterializeFormat;
use crate::encode::{hash_field, json_value, version_string};
use crate::invalidate::render_rejection;
use crate::plan::BatchPlan;
use crate::tables::{TablePlan, Tables};
use crate::template::{RenderError, RenderInput};

/// The Lua source of the compare-and-set script.
pub const SCRIPT_SOURCE: &str = include_str!("materialize.lua");

/// The compare-and-set script (its SHA1 is what `EVALSHA` sends).
pub fn script() -> Script {
    Script::new(SCRIPT_SOURCE)
}

/// Settings the planner needs.
#[derive(Debug, Clone)]
pub struct MaterializePlanner {
    pub format: MaterializeFormat,
    pub version_field: String,
    pub tombstone_ttl_ms: u64,
    pub tombstone_prefix: String,
    pub key_prefix: String,
    pub separator: String,
    /// SHA1 of [`SCRIPT_SOURCE`].
    pub script_sha: String,
}

/// What one planned event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    Upsert,
    Delete,
    Rejected,
}

impl MaterializePlanner {
    /// The data key and tombstone key of an event, or why there are none.
    pub fn keys_of(&self, event: &ChangeEvent, table: &TablePlan) -> Result<(String, String), (RejectKind, String)> {
        let template = &table.templates[0];
        let input =
            RenderInput { table: &event.table, key: event.key.as_ref(), image: None, separator: &self.separator };
        let key = template.render(&input).map_err(|e| {
            let (kind, mut message) = render_rejection(event, template.source(), "key", &e);
            if matches!(e, RenderError::Missing(_)) {
                message.push_str(" (materialize key templates may only name primary-key columns)");
            }
            (kind, message)
        })?;
        let guard = format!("{}{}{key}", self.key_prefix, self.tombstone_prefix);
        Ok((format!("{}{key}", self.key_prefix), guard))
    }

    /// Plans one `EVALSHA` per event (or a rejection); `planned[i]` says
    /// what event `i` is.
    pub fn plan(&self, events: &[ChangeEvent], tables: &Tables) -> (BatchPlan, Vec<Planned>) {
        let mut plan = BatchPlan::default();
        let mut planned = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            match self.command(event, tables) {
                Ok((cmd, what)) => {
                    plan.push(index, cmd);
                    planned.push(what);
                }
                Err((kind, message)) => {
                    plan.reject(index, kind, message);
                    planned.push(Planned::Rejected);
                }
            }
        }
        (plan, planned)
    }

    fn command(&self, event: &ChangeEvent, tables: &Tables) -> Result<(Cmd, Planned), (RejectKind, String)> {
        if event.op == Op::Truncate {
            return Err((
                RejectKind::Other,
                format!(
                    "table {}: truncate at {} cannot be applied to materialized Redis keys; delete the table's keys \
                     by hand, then resolve this record",
                    event.table, event.origin
                ),
            ));
        }
        let table = tables.plan(&event.table);
        let (key, guard) = self.keys_of(event, &table)?;
        let ttl_ms = table.ttl.map_or(0, |t| t.as_millis().max(1) as u64);
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.script_sha).arg(2).arg(key).arg(guard);
        let op = if event.op == Op::Delete { "d" } else { "u" };
        cmd.arg(op).arg(version_string(&event.version)).arg(self.format.as_str());
        match self.format {
            MaterializeFormat::Hash => cmd.arg(&self.version_field),
            MaterializeFormat::Json => cmd.arg(json_name(&self.version_field)),
        };
        cmd.arg(ttl_ms).arg(self.tombstone_ttl_ms);
        if event.op == Op::Delete {
            cmd.arg(0);
            return Ok((cmd, Planned::Delete));
        }
        let after = event.after.as_ref().ok_or_else(|| {
            (RejectKind::Other, format!("table {}: {:?} at {} has no after image", event.table, event.op, event.origin))
        })?;
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(after.len());
        let mut removed: Vec<&str> = Vec::new();
        for (name, value) in after.available() {
            if name == self.version_field {
                return Err((
                    RejectKind::DataType,
                    format!(
                        "table {}: column `{name}` of record {} has the name of the version field; set \
                         materialize.version_field to a name no table uses",
                        event.table, event.origin
                    ),
                ));
            }
            match self.format {
                MaterializeFormat::Hash => match hash_field(value) {
                    Some(text) => pairs.push((name.to_string(), text)),
                    None => removed.push(name),
                },
                MaterializeFormat::Json => pairs.push((json_name(name), json_value(value).to_string())),
            }
        }
        cmd.arg(pairs.len());
        for (name, value) in &pairs {
            cmd.arg(name).arg(value);
        }
        for name in removed {
            cmd.arg(name);
        }
        Ok((cmd, Planned::Upsert))
    }
}

/// A member name as JSON text (`"name"`), the form the script matches on.
fn json_name(name: &str) -> String {
    serde_json::to_string(name).unwrap_or_default()
}
