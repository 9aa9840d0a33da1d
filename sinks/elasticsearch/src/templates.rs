//! Index names and document `_id`s from templates.
//!
//! Template syntax: literal text with `{name}` placeholders; `{{` and `}}`
//! write literal braces.
//!
//! * Index templates know `{db}`, `{schema}`, `{table}` and `{topic}` (the
//!   Kafka topic of the record). The result is lowercased and must be a valid
//!   index name; a table whose name cannot be rendered (for example `{schema}`
//!   for a MySQL table) is rejected with [`RejectKind::Key`](sluice_sink_api::RejectKind::Key).
//! * `_id` templates name primary-key columns (`{tenant}-{id}`); their values
//!   are written as they are (no escaping: the template's author keeps them
//!   unambiguous).
//! * Without an `_id` template ([`DocIdRule::Joined`]), a one-column key is its
//!   value's plain text, and a composite key is its values in key order joined
//!   by the separator (default `_`), each value escaped first: `\` becomes
//!   `\\` and the separator becomes `\` + separator. So `("a_b", "c")` is
//!   `a\_b_c` and `("a", "b_c")` is `a_b\_c`: distinct keys never share an `_id`.

use sluice_sink_api::{Row, TableId};

/// `_id`s longer than this are refused by Elasticsearch.
pub const MAX_ID_BYTES: usize = 512;
/// Index names longer than this are refused by Elasticsearch.
pub const MAX_INDEX_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(String),
}

fn parse_segments(template: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("unclosed placeholder `{{{name}` in template {template:?}")),
                    }
                }
                if name.is_empty() {
                    return Err(format!("empty placeholder `{{}}` in template {template:?}"));
                }
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Placeholder(name));
            }
            '}' => return Err(format!("unmatched `}}` in template {template:?} (write `}}}}` for a literal brace)")),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    if segments.is_empty() {
        return Err("template must not be empty".to_string());
    }
    Ok(segments)
}

/// Placeholders an index template may use.
pub const INDEX_PLACEHOLDERS: [&str; 4] = ["db", "schema", "table", "topic"];

/// A parsed index name template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexTemplate {
    source: String,
    segments: Vec<Segment>,
}

impl IndexTemplate {
    pub fn parse(template: &str) -> Result<Self, String> {
        let segments = parse_segments(template)?;
        for s in &segments {
            if let Segment::Placeholder(name) = s
                && !INDEX_PLACEHOLDERS.contains(&name.as_str())
            {
                return Err(format!(
                    "unknown placeholder {{{name}}}; index templates know {{db}}, {{schema}}, {{table}}, {{topic}}"
                ));
            }
        }
        Ok(IndexTemplate { source: template.to_string(), segments })
    }

    /// Renders, lowercases and checks the index name for `table`.
    pub fn render(&self, table: &TableId, topic: &str) -> Result<String, String> {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Literal(text) => out.push_str(text),
                Segment::Placeholder(name) => {
                    let value = match name.as_str() {
                        "db" => table.database.as_deref(),
                        "schema" => table.schema.as_deref(),
                        "table" => Some(table.table.as_str()),
                        _ => Some(topic),
                    };
                    let value = value.ok_or_else(|| {
                        format!("index template {:?} needs {{{name}}} but table {table} has none", self.source)
                    })?;
                    out.push_str(value);
                }
            }
        }
        let index = out.to_lowercase();
        check_index_name(&index).map_err(|e| format!("index name {index:?} for table {table}: {e}"))?;
        Ok(index)
    }
}

/// Elasticsearch's index name rules.
pub fn check_index_name(index: &str) -> Result<(), String> {
    if index.is_empty() || index == "." || index == ".." {
        return Err("is empty, `.` or `..`".to_string());
    }
    if index.len() > MAX_INDEX_BYTES {
        return Err(format!("is longer than {MAX_INDEX_BYTES} bytes"));
    }
    if index.starts_with(['-', '_', '+']) {
        return Err("must not start with `-`, `_` or `+`".to_string());
    }
    if let Some(c) =
        index.chars().find(|c| matches!(c, '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'))
    {
        return Err(format!("must not contain {c:?}"));
    }
    Ok(())
}

/// A parsed `_id` template over primary-key columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTemplate {
    source: String,
    segments: Vec<Segment>,
}

impl IdTemplate {
    pub fn parse(template: &str) -> Result<Self, String> {
        let segments = parse_segments(template)?;
        if !segments.iter().any(|s| matches!(s, Segment::Placeholder(_))) {
            return Err(format!("_id template {template:?} names no column: every document would share one _id"));
        }
        Ok(IdTemplate { source: template.to_string(), segments })
    }
}

/// How a document `_id` is made from the primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocIdRule {
    /// Key values in key order, escaped and joined by the separator (see module docs).
    Joined { separator: String },
    /// A template over key columns.
    Template(IdTemplate),
}

fn key_text(key: &Row, column: &str) -> Result<String, String> {
    let value = key.get(column).ok_or_else(|| format!("key has no column {column:?}"))?;
    value.to_plain_string().ok_or_else(|| format!("key column {column:?} is {}", value.kind()))
}

/// Escapes `\` and the separator in one key value.
pub fn escape_key_part(value: &str, separator: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix('\\') {
            out.push_str("\\\\");
            rest = tail;
        } else if let Some(tail) = rest.strip_prefix(separator) {
            out.push('\\');
            out.push_str(separator);
            rest = tail;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

impl DocIdRule {
    /// The `_id` of the document holding `key`.
    pub fn render(&self, key: &Row) -> Result<String, String> {
        let id = match self {
            DocIdRule::Joined { separator } => {
                if key.is_empty() {
                    return Err("key has no columns".to_string());
                }
                if key.len() == 1 {
                    let (name, _) = key.iter().next().expect("one column");
                    key_text(key, name)?
                } else {
                    let mut parts = Vec::with_capacity(key.len());
                    for name in key.names() {
                        parts.push(escape_key_part(&key_text(key, name)?, separator));
                    }
                    parts.join(separator)
                }
            }
            DocIdRule::Template(template) => {
                let mut out = String::new();
                for s in &template.segments {
                    match s {
                        Segment::Literal(text) => out.push_str(text),
                        Segment::Placeholder(name) => out.push_str(
                            &key_text(key, name).map_err(|e| format!("_id template {:?}: {e}", template.source))?,
                        ),
                    }
                }
                out
            }
        };
        if id.is_empty() {
            return Err("the rendered _id is empty".to_string());
        }
        if id.len() > MAX_ID_BYTES {
            return Err(format!("the rendered _id is {} bytes, more than {MAX_ID_BYTES}", id.len()));
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sluice_sink_api::Value;

    fn t(db: Option<&str>, schema: Option<&str>, table: &str) -> TableId {
        TableId::new(db, schema, table)
    }

    #[test]
    fn index_default_lowercases() {
        let tpl = IndexTemplate::parse("{db}.{table}").unwrap();
        assert_eq!(tpl.render(&t(Some("Inventory"), None, "Customers"), "x").unwrap(), "inventory.customers");
        let tpl = IndexTemplate::parse("cdc-{topic}").unwrap();
        assert_eq!(tpl.render(&t(None, None, "a"), "Srv.db.A").unwrap(), "cdc-srv.db.a");
        let tpl = IndexTemplate::parse("{{x}}-{table}").unwrap();
        assert_eq!(tpl.render(&t(None, None, "a"), "").unwrap(), "{x}-a");
        let tpl = IndexTemplate::parse("a#{table}").unwrap();
        assert!(tpl.render(&t(None, None, "a"), "").unwrap_err().contains("must not contain"));
    }

    #[test]
    fn index_errors_are_clear() {
        assert!(IndexTemplate::parse("{nope}").unwrap_err().contains("unknown placeholder {nope}"));
        assert!(IndexTemplate::parse("{db").unwrap_err().contains("unclosed"));
        assert!(IndexTemplate::parse("a}").unwrap_err().contains("unmatched"));
        assert!(IndexTemplate::parse("").is_err());
        let tpl = IndexTemplate::parse("{db}.{schema}.{table}").unwrap();
        let err = tpl.render(&t(Some("shop"), None, "orders"), "").unwrap_err();
        assert!(err.contains("needs {schema}") && err.contains("shop.orders"), "{err}");
        let tpl = IndexTemplate::parse("{table}").unwrap();
        assert!(tpl.render(&t(None, None, "_hidden"), "").unwrap_err().contains("must not start"));
        assert!(tpl.render(&t(None, None, "a b"), "").unwrap_err().contains("' '"));
    }

    #[test]
    fn joined_ids() {
        let rule = DocIdRule::Joined { separator: "_".into() };
        assert_eq!(rule.render(&Row::new().with("id", 42)).unwrap(), "42");
        assert_eq!(rule.render(&Row::new().with("id", "a_b")).unwrap(), "a_b", "one column: no escaping");
        let two = |a: &str, b: &str| rule.render(&Row::new().with("a", a).with("b", b)).unwrap();
        assert_eq!(two("a_b", "c"), "a\\_b_c");
        assert_eq!(two("a", "b_c"), "a_b\\_c");
        assert_eq!(two("a\\", "b"), "a\\\\_b");
        assert_ne!(two("a\\", "_b"), two("a\\_", "b"));
        let mut null_key = Row::new().with("a", 1);
        null_key.insert("b", Value::Null);
        assert!(rule.render(&null_key).unwrap_err().contains("\"b\" is null"));
        assert!(rule.render(&Row::new().with("id", "")).unwrap_err().contains("empty"));
        assert!(rule.render(&Row::new().with("id", "x".repeat(513))).unwrap_err().contains("512"));
    }

    #[test]
    fn template_ids() {
        let rule = DocIdRule::Template(IdTemplate::parse("{tenant}:{id}").unwrap());
        assert_eq!(rule.render(&Row::new().with("tenant", "t1").with("id", 5)).unwrap(), "t1:5");
        assert!(rule.render(&Row::new().with("id", 5)).unwrap_err().contains("no column \"tenant\""));
        assert!(IdTemplate::parse("fixed").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Distinct composite keys never render to the same `_id`.
        #[test]
        fn joined_ids_are_injective(a in "[a_\\\\]{0,4}", b in "[a_\\\\]{0,4}", c in "[a_\\\\]{0,4}", d in "[a_\\\\]{0,4}") {
            let rule = DocIdRule::Joined { separator: "_".into() };
            let one = rule.render(&Row::new().with("x", a.as_str()).with("y", b.as_str()));
            let two = rule.render(&Row::new().with("x", c.as_str()).with("y", d.as_str()));
            if let (Ok(one), Ok(two)) = (one, two) {
                prop_assert_eq!(one == two, (a, b) == (c, d));
            }
        }
    }
}
