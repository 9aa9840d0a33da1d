//! Table mapping: which target table a source table goes to, which columns
//! are written, and how a change's key is found (per [`KeyMode`]).
//!
//! Key modes and their trade-offs:
//! * `record_key` — the record key (source primary key) is the target primary
//!   key. Exact and cheap; needs a keyed source table.
//! * `columns` — configured columns of the row image form the key (a keyless
//!   source table with a natural unique key). The columns must be present and
//!   non-NULL in every image; updates that change them behave as a new row
//!   (the old key is not deleted unless the source sends a delete).
//! * `full_row` — REPLICA IDENTITY FULL style: the key is `_sluice_row_key`,
//!   the SHA-256 of every written column of the image. An update deletes the
//!   row of its before image and inserts its after image. Identical rows
//!   collapse into one (a table becomes a set), an update needs a complete
//!   before image (no TOAST placeholders), and adding a column changes every
//!   later key, so rows written before the change can no longer be matched by
//!   updates/deletes. Use it for small append-mostly keyless tables only.

use std::borrow::Cow;
use std::collections::HashSet;

use sha2::{Digest, Sha256};
use sluice_sink_api::{ChangeEvent, Row, TableId, Value};

use crate::config::{KeyMode, PostgresSinkConfig};
use crate::ident::{pg_name, pg_name_cow, qualified};

/// The synthetic key column of [`KeyMode::FullRow`] tables.
pub const ROW_KEY_COLUMN: &str = "_sluice_row_key";

/// Where and how one source table is written.
#[derive(Debug, Clone)]
pub struct TableMapping {
    /// Target schema (Postgres name).
    pub schema: String,
    /// Target table (Postgres name).
    pub name: String,
    /// `"schema"."table"`, quoted.
    pub qualified: String,
    /// `schema.table` unquoted: the table's name in sluice's own tables.
    pub state_key: String,
    pub key_mode: KeyMode,
    /// Source names of the key columns in [`KeyMode::Columns`].
    pub key_columns: Vec<String>,
    include: Option<HashSet<String>>,
    exclude: HashSet<String>,
}

/// The key of one change: Postgres key column names, their values, and the
/// key's text form (used in the tombstones table).
#[derive(Debug, Clone)]
pub struct EventKey<'a> {
    pub columns: Vec<Cow<'a, str>>,
    pub values: Vec<Cow<'a, Value>>,
    pub text: String,
}

impl TableMapping {
    /// Resolves the mapping of `table` from the template and overrides.
    pub fn resolve(config: &PostgresSinkConfig, table: &TableId) -> TableMapping {
        let over = config.override_for(table);
        let target = match over.and_then(|o| o.target.clone()) {
            Some(t) => t,
            None => config
                .table_template
                .replace("{db}", table.database.as_deref().unwrap_or(""))
                .replace("{schema}", table.schema.as_deref().unwrap_or(""))
                .replace("{table}", &table.table),
        };
        let schema = pg_name(over.and_then(|o| o.schema.as_deref()).unwrap_or(&config.schema));
        let name = pg_name(&target);
        TableMapping {
            qualified: qualified(&schema, &name),
            state_key: format!("{schema}.{name}"),
            key_mode: over.and_then(|o| o.key_mode).unwrap_or(config.key_mode),
            key_columns: over.map(|o| o.key_columns.clone()).unwrap_or_default(),
            include: over.and_then(|o| o.include_columns.as_ref()).map(|c| c.iter().cloned().collect()),
            exclude: over.map(|o| o.exclude_columns.iter().cloned().collect()).unwrap_or_default(),
            schema,
            name,
        }
    }

    /// Whether a source column is written (key columns always are).
    pub fn writes(&self, column: &str) -> bool {
        if self.exclude.contains(column) {
            return false;
        }
        match &self.include {
            Some(include) => include.contains(column) || self.key_columns.iter().any(|k| k == column),
            None => true,
        }
    }

    /// The key of `event`, or a message saying why it has none.
    pub fn key<'a>(&self, event: &'a ChangeEvent, image: Option<&'a Row>) -> Result<EventKey<'a>, String> {
        let table = &self.state_key;
        match self.key_mode {
            KeyMode::RecordKey => {
                let key = event.key.as_ref().filter(|k| !k.is_empty()).ok_or_else(|| {
                    format!(
                        "table {table}: the record has no key, but the table needs one \
                         (configure key_mode = \"columns\" or \"full_row\" for keyless tables)"
                    )
                })?;
                let mut out = EventKey { columns: Vec::new(), values: Vec::new(), text: String::new() };
                for (name, value) in key.iter() {
                    out.columns.push(pg_name_cow(name));
                    out.values.push(Cow::Borrowed(check_key_value(table, name, value)?));
                }
                out.text = key_text(&out.values);
                Ok(out)
            }
            KeyMode::Columns => {
                let image = image.or(event.key.as_ref()).ok_or_else(|| format!("table {table}: no row image"))?;
                let mut out = EventKey { columns: Vec::new(), values: Vec::new(), text: String::new() };
                for name in &self.key_columns {
                    let value = image
                        .get(name)
                        .or_else(|| event.key.as_ref().and_then(|k| k.get(name)))
                        .ok_or_else(|| format!("table {table}, column {name}: key column missing from the row"))?;
                    out.columns.push(Cow::Owned(pg_name(name)));
                    out.values.push(Cow::Borrowed(check_key_value(table, name, value)?));
                }
                out.text = key_text(&out.values);
                Ok(out)
            }
            KeyMode::FullRow => {
                let image = image.ok_or_else(|| format!("table {table}: a whole-row key needs the row image"))?;
                let hash = self.row_hash(image)?;
                Ok(EventKey {
                    columns: vec![Cow::Borrowed(ROW_KEY_COLUMN)],
                    values: vec![Cow::Owned(Value::Text(hash.clone()))],
                    text: hash,
                })
            }
        }
    }

    /// SHA-256 (hex) over the written columns of `image`, sorted by name.
    fn row_hash(&self, image: &Row) -> Result<String, String> {
        let mut cells: Vec<(&str, &Value)> = image.iter().filter(|(n, _)| self.writes(n)).collect();
        cells.sort_by(|a, b| a.0.cmp(b.0));
        let mut hasher = Sha256::new();
        for (name, value) in cells {
            if value.is_unavailable() {
                return Err(format!(
                    "table {}, column {name}: the TOAST placeholder cannot be part of a whole-row key",
                    self.state_key
                ));
            }
            hasher.update(name.as_bytes());
            hasher.update([0x1f]);
            hasher.update(value.kind().as_bytes());
            hasher.update([b':']);
            hasher.update(value.to_plain_string().unwrap_or_else(|| "\u{0}NULL".into()).as_bytes());
            hasher.update([0x1e]);
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

fn check_key_value<'a>(table: &str, column: &str, value: &'a Value) -> Result<&'a Value, String> {
    match value {
        Value::Null => Err(format!("table {table}, column {column}: NULL in a primary key column")),
        Value::Unavailable => Err(format!("table {table}, column {column}: the TOAST placeholder in a key column")),
        v => Ok(v),
    }
}

/// One column: its plain text; several: a JSON array of their plain texts.
fn key_text(values: &[Cow<'_, Value>]) -> String {
    if let [single] = values {
        return single.to_plain_string().unwrap_or_default();
    }
    serde_json::Value::Array(
        values.iter().map(|v| serde_json::Value::String(v.to_plain_string().unwrap_or_default())).collect(),
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TableOverride;
    use sluice_sink_api::testing::EventBuilder;

    #[test]
    fn template_overrides_and_keys() {
        let mut config = PostgresSinkConfig::new("postgres://h/db");
        config.table_template = "{db}_{table}".into();
        config.tables.insert(
            "shop.items".into(),
            TableOverride {
                key_mode: Some(KeyMode::Columns),
                key_columns: vec!["sku".into(), "region".into()],
                exclude_columns: vec!["secret".into()],
                ..Default::default()
            },
        );
        let t = TableId::new(Some("shop"), None, "orders");
        let m = TableMapping::resolve(&config, &t);
        assert_eq!(m.qualified, "\"public\".\"shop_orders\"");
        let b = EventBuilder::new(t);
        let e = b.upsert(5, 1, "x");
        let key = m.key(&e, e.after.as_ref()).unwrap();
        assert_eq!((key.columns.clone(), key.text.clone()), (vec![Cow::Borrowed("id")], "5".to_string()));

        let items = TableMapping::resolve(&config, &TableId::new(Some("shop"), None, "items"));
        assert!(!items.writes("secret"));
        let row = Row::new().with("sku", "a").with("region", 2);
        let mut e = b.upsert_row(1, 1, row);
        e.key = None;
        let key = items.key(&e, e.after.as_ref()).unwrap();
        assert_eq!(key.text, r#"["a","2"]"#);
        let mut missing = e.clone();
        missing.after = Some(Row::new().with("sku", "a"));
        assert!(items.key(&missing, missing.after.as_ref()).unwrap_err().contains("region"));
    }

    #[test]
    fn full_row_hash_ignores_column_order() {
        let mut config = PostgresSinkConfig::new("postgres://h/db");
        config.key_mode = KeyMode::FullRow;
        let m = TableMapping::resolve(&config, &TableId::new(None, None, "t"));
        let a = Row::new().with("x", 1).with("y", "b");
        let b = Row::new().with("y", "b").with("x", 1);
        assert_eq!(m.row_hash(&a).unwrap(), m.row_hash(&b).unwrap());
        assert_ne!(m.row_hash(&a).unwrap(), m.row_hash(&Row::new().with("x", 2).with("y", "b")).unwrap());
    }
}
