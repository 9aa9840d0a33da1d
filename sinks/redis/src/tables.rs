//! Per-table settings resolved from the config: which key templates, which
//! channel, what NULL means, which TTL. Resolved once per table and cached.
//!
//! A `[tables."<name>"]` entry applies to a table whose qualified name
//! (`db.table`, `db.schema.table`), then `schema.table` / `db.table`
//! ([`TableId::data_collection`]), then bare name equals `<name>`; a table
//! without an entry uses the top-level settings.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sluice_sink_api::{SinkError, TableId};

use crate::config::{NullKeys, RedisMode, RedisSinkConfig, TableConfig};
use crate::template::KeyTemplate;

/// The resolved settings of one table.
#[derive(Debug)]
pub struct TablePlan {
    /// `TableId::qualified()`, the `table` label of metrics.
    pub label: String,
    pub templates: Vec<KeyTemplate>,
    /// The rendered PUBLISH channel (invalidate mode), if any.
    pub channel: Option<String>,
    pub null_keys: NullKeys,
    /// Expiry of live keys (materialize mode).
    pub ttl: Option<Duration>,
}

/// Resolves and caches [`TablePlan`]s.
#[derive(Debug)]
pub struct Tables {
    default_templates: Vec<KeyTemplate>,
    default_channel: Option<KeyTemplate>,
    default_null_keys: NullKeys,
    default_ttl: Option<Duration>,
    mode: RedisMode,
    overrides: HashMap<String, ParsedOverride>,
    cache: RwLock<HashMap<TableId, Arc<TablePlan>>>,
}

#[derive(Debug)]
struct ParsedOverride {
    templates: Option<Vec<KeyTemplate>>,
    channel: Option<KeyTemplate>,
    null_keys: Option<NullKeys>,
    ttl: Option<Duration>,
}

fn parse_all(sources: &[String], what: &str) -> Result<Vec<KeyTemplate>, SinkError> {
    sources
        .iter()
        .map(|s| KeyTemplate::parse(s).map_err(|e| SinkError::fatal(format!("{what}: template `{s}`: {e}"))))
        .collect()
}

fn parse_channel(source: Option<&str>, what: &str) -> Result<Option<KeyTemplate>, SinkError> {
    source
        .map(|s| KeyTemplate::parse(s).map_err(|e| SinkError::fatal(format!("{what}: template `{s}`: {e}"))))
        .transpose()
}

impl Tables {
    /// Parses every template of the config (validation has run: a parse
    /// failure here is fatal).
    pub fn new(config: &RedisSinkConfig) -> Result<Self, SinkError> {
        let invalidate = config.invalidate_settings();
        let materialize = config.materialize_settings();
        let mut overrides = HashMap::new();
        for (name, TableConfig { keys, channel, null_keys, ttl }) in &config.tables {
            let what = format!("tables.\"{name}\"");
            overrides.insert(
                name.clone(),
                ParsedOverride {
                    templates: keys.as_deref().map(|k| parse_all(k, &what)).transpose()?,
                    channel: parse_channel(channel.as_deref(), &what)?,
                    null_keys: *null_keys,
                    ttl: *ttl,
                },
            );
        }
        Ok(Tables {
            default_templates: parse_all(&config.keys, "keys")?,
            default_channel: parse_channel(invalidate.channel.as_deref(), "invalidate.channel")?,
            default_null_keys: config.null_keys,
            default_ttl: materialize.ttl,
            mode: config.mode,
            overrides,
            cache: RwLock::new(HashMap::new()),
        })
    }

    /// The plan of `table`.
    pub fn plan(&self, table: &TableId) -> Arc<TablePlan> {
        if let Some(plan) = self.cache.read().unwrap_or_else(|e| e.into_inner()).get(table) {
            return plan.clone();
        }
        let plan = Arc::new(self.resolve(table));
        self.cache.write().unwrap_or_else(|e| e.into_inner()).insert(table.clone(), plan.clone());
        plan
    }

    fn resolve(&self, table: &TableId) -> TablePlan {
        let entry = [table.qualified(), table.data_collection(), table.table.clone()]
            .iter()
            .find_map(|name| self.overrides.get(name));
        let templates = entry.and_then(|e| e.templates.clone()).unwrap_or_else(|| self.default_templates.clone());
        let channel = match self.mode {
            RedisMode::Invalidate => entry
                .and_then(|e| e.channel.as_ref())
                .or(self.default_channel.as_ref())
                .map(|t| t.render_for_table(table)),
            RedisMode::Materialize => None,
        };
        TablePlan {
            label: table.qualified(),
            templates,
            channel,
            null_keys: entry.and_then(|e| e.null_keys).unwrap_or(self.default_null_keys),
            ttl: entry.and_then(|e| e.ttl).or(self.default_ttl),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_match_qualified_then_collection_then_bare_name() {
        let config: RedisSinkConfig = toml::from_str(
            r#"
            url = "redis://h"
            mode = "invalidate"
            [invalidate]
            channel = "inv:{qualified}"
            [tables."shop.users"]
            keys = ["user:{id}"]
            [tables."public.orders"]
            keys = ["order:{id}"]
            channel = "orders"
            [tables.items]
            null_keys = "skip"
            "#,
        )
        .unwrap();
        let tables = Tables::new(&config).unwrap();
        let users = tables.plan(&TableId::new(Some("shop"), None, "users"));
        assert_eq!(users.templates[0].source(), "user:{id}");
        assert_eq!(users.channel.as_deref(), Some("inv:shop.users"));
        let orders = tables.plan(&TableId::new(Some("pg"), Some("public"), "orders"));
        assert_eq!(orders.templates[0].source(), "order:{id}");
        assert_eq!(orders.channel.as_deref(), Some("orders"));
        let items = tables.plan(&TableId::new(Some("shop"), None, "items"));
        assert_eq!(items.null_keys, NullKeys::Skip);
        assert_eq!(items.templates[0].source(), "{qualified}:{key}");
        let other = tables.plan(&TableId::new(Some("x"), None, "y"));
        assert_eq!(other.null_keys, NullKeys::Reject);
        assert_eq!(other.label, "x.y");
    }
}
