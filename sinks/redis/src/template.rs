//! Key and channel templates: `user:{id}`, `user:email:{email}`, `{qualified}:{key}`.
//!
//! A template is literal text with placeholders in braces:
//!
//! | placeholder | renders |
//! |---|---|
//! | `{db}` | the source database (empty when the source has none) |
//! | `{schema}` | the source schema (PostgreSQL; empty when none) |
//! | `{table}` | the table name |
//! | `{qualified}` | `db.table` or `db.schema.table` ([`TableId::qualified`]) |
//! | `{key}` | the primary-key values in key order, joined by the separator, escaped (below) |
//! | `{NAME}` | the value of column `NAME` |
//! | `{col:NAME}` | the value of column `NAME`, also when it is one of the names above |
//!
//! `{{` and `}}` are literal braces. Column values render with
//! [`Value::to_plain_string`] (integers as digits, decimals with their scale,
//! text as is, temporal values ISO-8601, bytes as lowercase hex, JSON
//! compact, UUIDs hyphenated) and are *not* escaped. Inside `{key}` every
//! value is escaped so that the joined form is unambiguous: `\` becomes `\\`
//! and the separator `s` becomes `\s`. A one-column integer key renders as its
//! digits, so `user:{key}` and `user:{id}` agree.
//!
//! A value that cannot be rendered (column absent from the image, NULL,
//! unavailable TOAST value, no primary key) is a [`RenderError`]: the caller
//! turns it into a permanent rejection of that record naming table,
//! template, column and origin, or (NULL with `null_keys = "skip"`) renders
//! no key.

use std::fmt;

use sluice_sink_api::{Row, TableId, Value};

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Db,
    Schema,
    Table,
    Qualified,
    Key,
    Column(String),
}

/// A parsed template (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    source: String,
    parts: Vec<Part>,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` at byte {0} (write `{{{{` for a literal brace)")]
    Unclosed(usize),
    #[error("unmatched `}}` at byte {0} (write `}}}}` for a literal brace)")]
    Unmatched(usize),
    #[error("empty placeholder `{{}}` at byte {0}")]
    Empty(usize),
}

/// Why a template could not be rendered for one row image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The column is not in the image (nor in the key).
    Missing(String),
    /// The column is SQL NULL.
    Null(String),
    /// The column holds the TOAST placeholder (value unknown).
    Unavailable(String),
    /// `{key}` but the event has no primary key.
    NoKey,
}

impl RenderError {
    /// The column involved, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            RenderError::Missing(c) | RenderError::Null(c) | RenderError::Unavailable(c) => Some(c),
            RenderError::NoKey => None,
        }
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Missing(c) => write!(f, "column `{c}` is absent"),
            RenderError::Null(c) => write!(f, "column `{c}` is NULL"),
            RenderError::Unavailable(c) => write!(f, "column `{c}` is unavailable (TOAST placeholder)"),
            RenderError::NoKey => f.write_str("the event has no primary key for `{key}`"),
        }
    }
}

/// What a template is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    pub table: &'a TableId,
    /// The event's primary-key columns (for `{key}` and as a fallback for columns).
    pub key: Option<&'a Row>,
    /// The row image (before or after); `None` renders from the key only.
    pub image: Option<&'a Row>,
    /// Separator between primary-key values in `{key}`.
    pub separator: &'a str,
}

impl KeyTemplate {
    /// Parses a template (see the module docs for the syntax).
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Unmatched(at)),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, '{')) | None => return Err(TemplateError::Unclosed(at)),
                            Some((_, c)) => name.push(c),
                        }
                    }
                    if name.is_empty() {
                        return Err(TemplateError::Empty(at));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(match name.as_str() {
                        "db" => Part::Db,
                        "schema" => Part::Schema,
                        "table" => Part::Table,
                        "qualified" => Part::Qualified,
                        "key" => Part::Key,
                        _ => match name.strip_prefix("col:") {
                            Some(column) if !column.is_empty() => Part::Column(column.to_string()),
                            Some(_) => return Err(TemplateError::Empty(at)),
                            None => Part::Column(name),
                        },
                    });
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(KeyTemplate { source: source.to_string(), parts })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The columns the template names.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Column(c) => Some(c.as_str()),
            _ => None,
        })
    }

    /// True when the template uses `{key}`.
    pub fn uses_key(&self) -> bool {
        self.parts.contains(&Part::Key)
    }

    /// True when the template depends on the row (uses `{key}` or a column).
    pub fn is_row_specific(&self) -> bool {
        self.uses_key() || self.columns().next().is_some()
    }

    /// True when every placeholder can be rendered from the table alone
    /// (`{db}`, `{schema}`, `{table}`, `{qualified}`): channel templates.
    pub fn is_table_only(&self) -> bool {
        !self.is_row_specific()
    }

    /// True when every column the template names is one of `columns` (and
    /// `{key}` needs nothing else): it renders from a key-only image.
    pub fn renders_from(&self, row: Option<&Row>) -> bool {
        self.columns().all(|c| row.is_some_and(|r| r.contains(c)))
    }

    /// Renders the template. See [`RenderError`] for what fails.
    pub fn render(&self, input: &RenderInput<'_>) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.source.len() + 16);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Db => out.push_str(input.table.database.as_deref().unwrap_or("")),
                Part::Schema => out.push_str(input.table.schema.as_deref().unwrap_or("")),
                Part::Table => out.push_str(&input.table.table),
                Part::Qualified => push_qualified(&mut out, input.table),
                Part::Key => render_key(&mut out, input.key, input.separator)?,
                Part::Column(column) => {
                    let value = input
                        .image
                        .and_then(|r| r.get(column))
                        .or_else(|| input.key.and_then(|k| k.get(column)))
                        .ok_or_else(|| RenderError::Missing(column.clone()))?;
                    out.push_str(&plain(column, value)?);
                }
            }
        }
        Ok(out)
    }

    /// Renders a table-only template (channels). Placeholders naming columns
    /// or `{key}` are rejected by validation before this is used.
    pub fn render_for_table(&self, table: &TableId) -> String {
        let input = RenderInput { table, key: None, image: None, separator: "" };
        self.render(&input).unwrap_or_default()
    }
}

impl fmt::Display for KeyTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// [`TableId::qualified`] without allocating.
fn push_qualified(out: &mut String, table: &TableId) {
    for part in [table.database.as_deref(), table.schema.as_deref()].into_iter().flatten() {
        out.push_str(part);
        out.push('.');
    }
    out.push_str(&table.table);
}

fn plain(column: &str, value: &Value) -> Result<String, RenderError> {
    match value {
        Value::Null => Err(RenderError::Null(column.to_string())),
        Value::Unavailable => Err(RenderError::Unavailable(column.to_string())),
        other => Ok(other.to_plain_string().unwrap_or_default()),
    }
}

fn render_key(out: &mut String, key: Option<&Row>, separator: &str) -> Result<(), RenderError> {
    let key = key.filter(|k| !k.is_empty()).ok_or(RenderError::NoKey)?;
    for (i, (column, value)) in key.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        let text = plain(column, value)?;
        escape_into(out, &text, separator);
    }
    Ok(())
}

/// Escapes one primary-key value for `{key}`: `\` → `\\`, separator → `\` + separator.
pub fn escape_into(out: &mut String, text: &str, separator: &str) {
    if !text.contains('\\') && (separator.is_empty() || !text.contains(separator)) {
        out.push_str(text);
        return;
    }
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix('\\') {
            out.push_str("\\\\");
            rest = tail;
        } else if !separator.is_empty()
            && let Some(tail) = rest.strip_prefix(separator)
        {
            out.push('\\');
            out.push_str(separator);
            rest = tail;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableId {
        TableId::new(Some("shop"), None, "users")
    }

    fn render(template: &str, key: &Row, image: Option<&Row>) -> Result<String, RenderError> {
        let t = table();
        KeyTemplate::parse(template).unwrap().render(&RenderInput { table: &t, key: Some(key), image, separator: ":" })
    }

    #[test]
    fn parses_placeholders_and_escaped_braces() {
        let t = KeyTemplate::parse("{{x}}:{db}.{table}:{key}:{col:key}:{email}").unwrap();
        assert_eq!(t.columns().collect::<Vec<_>>(), vec!["key", "email"]);
        assert!(t.uses_key());
        assert_eq!(KeyTemplate::parse("a{b").unwrap_err(), TemplateError::Unclosed(1));
        assert_eq!(KeyTemplate::parse("a}b").unwrap_err(), TemplateError::Unmatched(1));
        assert_eq!(KeyTemplate::parse("a{}").unwrap_err(), TemplateError::Empty(1));
        assert!(KeyTemplate::parse("{db}:{qualified}").unwrap().is_table_only());
    }

    #[test]
    fn renders_columns_builtins_and_key() {
        let key = Row::new().with("id", 7);
        let image = Row::new().with("id", 7).with("email", "a@x.io").with("key", "k");
        assert_eq!(render("user:{id}", &key, Some(&image)).unwrap(), "user:7");
        assert_eq!(render("user:email:{email}", &key, Some(&image)).unwrap(), "user:email:a@x.io");
        assert_eq!(render("{qualified}:{key}", &key, Some(&image)).unwrap(), "shop.users:7");
        assert_eq!(render("{{{col:key}}}", &key, Some(&image)).unwrap(), "{k}");
        assert_eq!(render("{db}.{schema}.{table}", &key, None).unwrap(), "shop..users");
    }

    #[test]
    fn key_values_are_escaped() {
        let key = Row::new().with("a", "x:y").with("b", "z\\");
        assert_eq!(render("{key}", &key, None).unwrap(), "x\\:y:z\\\\");
        // distinct keys that would collide unescaped stay distinct
        let k1 = Row::new().with("a", "x:y").with("b", "z");
        let k2 = Row::new().with("a", "x").with("b", "y:z");
        assert_ne!(render("{key}", &k1, None).unwrap(), render("{key}", &k2, None).unwrap());
        let mut multi = String::new();
        escape_into(&mut multi, "a::b", "::");
        assert_eq!(multi, "a\\::b");
    }

    #[test]
    fn failures_name_the_column() {
        let key = Row::new().with("id", 7);
        let mut image = Row::new().with("id", 7).with("email", Value::Null);
        assert_eq!(render("u:{email}", &key, Some(&image)), Err(RenderError::Null("email".into())));
        image.insert("email", Value::Unavailable);
        assert_eq!(render("u:{email}", &key, Some(&image)), Err(RenderError::Unavailable("email".into())));
        assert_eq!(render("u:{phone}", &key, Some(&image)), Err(RenderError::Missing("phone".into())));
        let t = table();
        let no_key = RenderInput { table: &t, key: None, image: Some(&image), separator: ":" };
        assert_eq!(KeyTemplate::parse("{key}").unwrap().render(&no_key), Err(RenderError::NoKey));
        assert_eq!(render("{key}", &Row::new().with("id", Value::Null), None), Err(RenderError::Null("id".into())));
    }
}
