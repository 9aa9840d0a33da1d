//! Invalidate mode: delete every cache key a change may have made stale.
//!
//! For each event, every key template of its table is rendered from the
//! **before** image and from the **after** image, so a change of an indexed
//! field (`user:email:{email}`) removes the old and the new key. The keys of
//! one event go into one `UNLINK` (or `DEL`); with a channel configured, one
//! `PUBLISH` per key follows it in the same pipeline, so a subscriber that
//! reacts by re-reading the cache never sees the old entry. A retried batch
//! deletes (harmless) and publishes again (messages are at-least-once).
//!
//! Rendering rules:
//! * an image that is present must render every template: a column absent
//!   from it, unavailable (TOAST) or NULL rejects the record (NULL renders no
//!   key with `null_keys = "skip"`);
//! * an update without a before image (PostgreSQL `REPLICA IDENTITY
//!   DEFAULT`) invalidates the after-image keys only;
//! * an event without any image (a Kafka tombstone, a key-only delete)
//!   invalidates the keys its primary key can render and skips templates
//!   naming other columns: the delete event before a Debezium tombstone
//!   carried the full before image;
//! * a truncate cannot be mapped to keys and is rejected (dead-lettered) so
//!   an operator can flush the table's keys.
//!
//! Invalidation ignores versions: deleting is always safe, in any order.

use redis::Cmd;
use serde::Serialize;
use sluice_sink_api::{ChangeEvent, Op, RejectKind, Row};

use crate::config::{InvalidateCommand, NullKeys};
use crate::plan::BatchPlan;
use crate::tables::{TablePlan, Tables};
use crate::template::{RenderError, RenderInput};

/// The JSON message published for each invalidated key.
///
/// `{"table":"shop.users","key":"user:7","op":"u","version":"1234"}` —
/// `table` is the qualified source table, `key` the full Redis key deleted
/// (with `key_prefix`), `op` the Debezium op code (`c`, `u`, `d`, `r`), and
/// `version` the change's version as a decimal string (it may exceed 2^64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InvalidationMessage {
    pub table: String,
    pub key: String,
    pub op: String,
    pub version: String,
}

/// Settings the planner needs.
#[derive(Debug, Clone)]
pub struct InvalidatePlanner {
    pub command: InvalidateCommand,
    pub key_prefix: String,
    pub separator: String,
}

/// What one event turned into.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventKeys {
    pub keys: u64,
    pub published: u64,
}

impl InvalidatePlanner {
    /// Plans the batch: one delete command (and publishes) per event, or a
    /// rejection. `per_event[i]` counts what event `i` will do.
    pub fn plan(&self, events: &[ChangeEvent], tables: &Tables) -> (BatchPlan, Vec<EventKeys>) {
        let mut plan = BatchPlan::default();
        let mut per_event = vec![EventKeys::default(); events.len()];
        for (index, event) in events.iter().enumerate() {
            let table = tables.plan(&event.table);
            let keys = match self.keys_of(event, &table) {
                Ok(keys) => keys,
                Err((kind, message)) => {
                    plan.reject(index, kind, message);
                    continue;
                }
            };
            if keys.is_empty() {
                continue;
            }
            let mut delete = redis::cmd(self.command.as_str());
            for key in &keys {
                delete.arg(key);
            }
            plan.push(index, delete);
            per_event[index].keys = keys.len() as u64;
            if let Some(channel) = &table.channel {
                for key in &keys {
                    let message = InvalidationMessage {
                        table: table.label.clone(),
                        key: key.clone(),
                        op: event.op.code().to_string(),
                        version: event.version.value().to_string(),
                    };
                    let payload = serde_json::to_string(&message).unwrap_or_default();
                    let mut publish = Cmd::new();
                    publish.arg("PUBLISH").arg(channel).arg(payload);
                    plan.push(index, publish);
                }
                per_event[index].published = keys.len() as u64;
            }
        }
        (plan, per_event)
    }

    /// Every key event `event` invalidates (deduplicated, prefixed).
    pub fn keys_of(&self, event: &ChangeEvent, table: &TablePlan) -> Result<Vec<String>, (RejectKind, String)> {
        if event.op == Op::Truncate {
            return Err((
                RejectKind::Other,
                format!(
                    "table {}: truncate at {} cannot be mapped to Redis keys; delete the table's keys by hand, \
                     then resolve this record",
                    event.table, event.origin
                ),
            ));
        }
        let images: Vec<(&str, &Row)> = [("before", event.before.as_ref()), ("after", event.after.as_ref())]
            .into_iter()
            .filter_map(|(name, row)| row.map(|r| (name, r)))
            .collect();
        let mut keys: Vec<String> = Vec::new();
        let mut add = |key: String| {
            let key = format!("{}{key}", self.key_prefix);
            if !keys.contains(&key) {
                keys.push(key);
            }
        };
        if images.is_empty() {
            // A key-only event: render what the primary key can render.
            let input =
                RenderInput { table: &event.table, key: event.key.as_ref(), image: None, separator: &self.separator };
            for template in table.templates.iter().filter(|t| t.renders_from(event.key.as_ref())) {
                match template.render(&input) {
                    Ok(key) => add(key),
                    Err(RenderError::Null(_)) if table.null_keys == NullKeys::Skip => {}
                    Err(e) => return Err(render_rejection(event, template.source(), "key", &e)),
                }
            }
        }
        for (image_name, image) in images {
            let input = RenderInput {
                table: &event.table,
                key: event.key.as_ref(),
                image: Some(image),
                separator: &self.separator,
            };
            for template in &table.templates {
                match template.render(&input) {
                    Ok(key) => add(key),
                    Err(RenderError::Null(_)) if table.null_keys == NullKeys::Skip => {}
                    Err(e) => return Err(render_rejection(event, template.source(), image_name, &e)),
                }
            }
        }
        Ok(keys)
    }
}

/// The rejection of a record whose key template cannot be rendered.
pub fn render_rejection(event: &ChangeEvent, template: &str, image: &str, error: &RenderError) -> (RejectKind, String) {
    let hint = match (error, image) {
        (RenderError::Missing(_) | RenderError::Unavailable(_), "before") => {
            " (invalidation needs full before images: binlog_row_image=FULL / REPLICA IDENTITY FULL)"
        }
        (RenderError::Null(_), _) => " (set null_keys = \"skip\" if a NULL means there is no such key)",
        _ => "",
    };
    (
        RejectKind::Key,
        format!(
            "table {}: key template `{template}` cannot be rendered from the {image} image of record {}: {error}{hint}",
            event.table, event.origin
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RedisMode, RedisSinkConfig};
    use sluice_sink_api::testing::EventBuilder;
    use sluice_sink_api::{TableId, Value};

    fn setup(extra: &str) -> (InvalidatePlanner, Tables, EventBuilder) {
        let mut config: RedisSinkConfig = toml::from_str(&format!(
            "url = \"redis://h\"\nmode = \"invalidate\"\nkeys = [\"user:{{id}}\", \"user:email:{{email}}\"]\n{extra}"
        ))
        .unwrap();
        config.key_prefix = "p:".into();
        assert_eq!(config.mode, RedisMode::Invalidate);
        let planner =
            InvalidatePlanner { command: InvalidateCommand::Unlink, key_prefix: "p:".into(), separator: ":".into() };
        (planner, Tables::new(&config).unwrap(), EventBuilder::new(TableId::new(Some("shop"), None, "users")))
    }

    fn row(id: i64, email: Value) -> Row {
        let mut r = Row::new().with("id", id);
        r.insert("email", email);
        r
    }

    #[test]
    fn before_and_after_keys_are_both_invalidated() {
        let (planner, tables, b) = setup("");
        let event = b.event(
            Op::Update,
            7,
            3,
            Some(row(7, Value::Text("old@x".into()))),
            Some(row(7, Value::Text("new@x".into()))),
        );
        let keys = planner.keys_of(&event, &tables.plan(&b.table)).unwrap();
        assert_eq!(keys, vec!["p:user:7", "p:user:email:old@x", "p:user:email:new@x"]);
    }

    #[test]
    fn null_rejects_unless_skipped_and_tombstones_render_from_the_key() {
        let (planner, tables, b) = setup("");
        let event = b.event(Op::Create, 7, 3, None, Some(row(7, Value::Null)));
        let (kind, message) = planner.keys_of(&event, &tables.plan(&b.table)).unwrap_err();
        assert_eq!(kind, RejectKind::Key);
        assert!(message.contains("table shop.users: key template `user:email:{email}`"), "{message}");
        assert!(message.contains("after image of record test.shop.users/0@3: column `email` is NULL"), "{message}");

        let (planner, tables, b) = setup("null_keys = \"skip\"");
        let keys = planner.keys_of(&event, &tables.plan(&b.table)).unwrap();
        assert_eq!(keys, vec!["p:user:7"]);

        let tombstone = b.event(Op::Delete, 7, 4, None, None);
        assert_eq!(planner.keys_of(&tombstone, &tables.plan(&b.table)).unwrap(), vec!["p:user:7"]);
    }

    #[test]
    fn partial_before_image_is_rejected_with_a_hint_and_truncate_is_rejected() {
        let (planner, tables, b) = setup("");
        let event = b.event(Op::Update, 7, 3, Some(Row::new().with("id", 7)), Some(row(7, Value::Text("a".into()))));
        let (_, message) = planner.keys_of(&event, &tables.plan(&b.table)).unwrap_err();
        assert!(message.contains("before image") && message.contains("binlog_row_image=FULL"), "{message}");
        let truncate = b.event(Op::Truncate, 0, 9, None, None);
        let (kind, message) = planner.keys_of(&truncate, &tables.plan(&b.table)).unwrap_err();
        assert_eq!(kind, RejectKind::Other);
        assert!(message.contains("truncate"), "{message}");
    }

    #[test]
    fn messages_have_the_documented_shape() {
        let m = InvalidationMessage {
            table: "shop.users".into(),
            key: "user:7".into(),
            op: "u".into(),
            version: "12".into(),
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"table":"shop.users","key":"user:7","op":"u","version":"12"}"#
        );
    }
}
