//! Light classification of statements from QUERY events: is it DDL, which
//! kind, which tables. sluice does not need a full DDL parser: with
//! `binlog_row_metadata=FULL` the table maps carry the shape of every row; the
//! DDL text is recorded in the schema history and emitted as a schema-change
//! record, and the affected tables get a new schema version at their next
//! table map.

use std::sync::LazyLock;

use regex::Regex;

/// What a statement does to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdlKind {
    CreateTable,
    AlterTable,
    DropTable,
    RenameTable,
    TruncateTable,
    CreateIndex,
    DropIndex,
    CreateDatabase,
    AlterDatabase,
    DropDatabase,
    /// Other DDL (views, triggers, procedures, users): recorded, no table effect.
    OtherDdl,
}

/// A classified DDL statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ddl {
    pub kind: DdlKind,
    /// Affected tables as `(database or None for the default, table)`.
    pub tables: Vec<(Option<String>, String)>,
    /// For database statements, the database.
    pub database: Option<String>,
}

const IDENT: &str = r"(?:`(?:[^`]|``)+`|[A-Za-z0-9_$\x{80}-\x{10FFFF}]+)";

static COMMENTS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)/\*.*?\*/|--[^\n]*\n|#[^\n]*\n").expect("regex"));

fn re(body: &str) -> Regex {
    Regex::new(&format!("(?is)^{}", body.replace("{ID}", &format!("({IDENT}(?:\\s*\\.\\s*{IDENT})?)")))).expect("regex")
}

static CREATE_TABLE: LazyLock<Regex> =
    LazyLock::new(|| re(r"create\s+(?:or\s+replace\s+)?(?:temporary\s+)?table\s+(?:if\s+not\s+exists\s+)?{ID}"));
static ALTER_TABLE: LazyLock<Regex> =
    LazyLock::new(|| re(r"alter\s+(?:online\s+|ignore\s+)*table\s+(?:if\s+exists\s+)?{ID}"));
static DROP_TABLE: LazyLock<Regex> = LazyLock::new(|| re(r"drop\s+(?:temporary\s+)?table\s+(?:if\s+exists\s+)?(.*)"));
static RENAME_TABLE: LazyLock<Regex> = LazyLock::new(|| re(r"rename\s+tables?\s+(.*)"));
static TRUNCATE: LazyLock<Regex> = LazyLock::new(|| re(r"truncate\s+(?:table\s+)?{ID}"));
static CREATE_INDEX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?is)^create\s+(?:or\s+replace\s+)?(?:unique\s+|fulltext\s+|spatial\s+)?index\s+(?:if\s+not\s+exists\s+)?{IDENT}\s+(?:using\s+\w+\s+)?on\s+({IDENT}(?:\s*\.\s*{IDENT})?)")).expect("regex")
});
static DROP_INDEX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?is)^drop\s+index\s+(?:if\s+exists\s+)?{IDENT}\s+on\s+({IDENT}(?:\s*\.\s*{IDENT})?)"))
        .expect("regex")
});
static DATABASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?is)^(create|alter|drop)\s+(?:database|schema)\s+(?:if\s+(?:not\s+)?exists\s+)?({IDENT})"))
        .expect("regex")
});
static OTHER_DDL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^(?:create|alter|drop)\s+(?:or\s+replace\s+)?(?:definer\s*=\s*\S+\s+)?(?:sql\s+security\s+\w+\s+)?(?:algorithm\s*=\s*\w+\s+)?(?:view|trigger|procedure|function|event|sequence|user|role|server|tablespace|logfile|package)\b").expect("regex")
});
static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(IDENT).expect("regex"));

/// Removes backquotes (and unescapes doubled ones).
pub fn unquote(ident: &str) -> String {
    let t = ident.trim();
    match t.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(inner) => inner.replace("``", "`"),
        None => t.to_string(),
    }
}

fn qualified(text: &str) -> (Option<String>, String) {
    let parts: Vec<String> = NAME.find_iter(text).map(|m| unquote(m.as_str())).collect();
    match parts.as_slice() {
        [db, table] => (Some(db.clone()), table.clone()),
        [table] => (None, table.clone()),
        _ => (None, text.trim().to_string()),
    }
}

/// Strips comments and leading whitespace.
pub fn normalize(statement: &str) -> String {
    let with_nl = format!("{statement}\n");
    COMMENTS.replace_all(&with_nl, " ").trim().to_string()
}

/// Classifies `statement`; `None` when it is not DDL (DML, BEGIN, SAVEPOINT...).
pub fn classify(statement: &str) -> Option<Ddl> {
    let s = normalize(statement);
    let one = |kind, caps: regex::Captures<'_>| Some(Ddl { kind, tables: vec![qualified(&caps[1])], database: None });
    if let Some(c) = CREATE_TABLE.captures(&s) {
        return one(DdlKind::CreateTable, c);
    }
    if let Some(c) = ALTER_TABLE.captures(&s) {
        return one(DdlKind::AlterTable, c);
    }
    if let Some(c) = TRUNCATE.captures(&s) {
        return one(DdlKind::TruncateTable, c);
    }
    if let Some(c) = CREATE_INDEX.captures(&s) {
        return one(DdlKind::CreateIndex, c);
    }
    if let Some(c) = DROP_INDEX.captures(&s) {
        return one(DdlKind::DropIndex, c);
    }
    if let Some(c) = DROP_TABLE.captures(&s) {
        let list = c[1].split_once(';').map(|(a, _)| a).unwrap_or(&c[1]).to_string();
        let list = Regex::new(r"(?i)\s+(restrict|cascade)\s*$").expect("regex").replace(&list, "").to_string();
        let tables = list.split(',').map(qualified).collect();
        return Some(Ddl { kind: DdlKind::DropTable, tables, database: None });
    }
    if let Some(c) = RENAME_TABLE.captures(&s) {
        let mut tables = Vec::new();
        for pair in c[1].split(',') {
            if let Some((from, to)) = split_to(pair) {
                tables.push(qualified(from));
                tables.push(qualified(to));
            }
        }
        return Some(Ddl { kind: DdlKind::RenameTable, tables, database: None });
    }
    if let Some(c) = DATABASE.captures(&s) {
        let kind = match c[1].to_ascii_lowercase().as_str() {
            "create" => DdlKind::CreateDatabase,
            "alter" => DdlKind::AlterDatabase,
            _ => DdlKind::DropDatabase,
        };
        return Some(Ddl { kind, tables: Vec::new(), database: Some(unquote(&c[2])) });
    }
    if OTHER_DDL.is_match(&s) {
        return Some(Ddl { kind: DdlKind::OtherDdl, tables: Vec::new(), database: None });
    }
    None
}

fn split_to(pair: &str) -> Option<(&str, &str)> {
    let lower = pair.to_ascii_lowercase();
    let at = lower.find(" to ")?;
    Some((&pair[..at], &pair[at + 4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_ddl() {
        let d = classify("/* app */ ALTER TABLE `shop`.`orders` ADD COLUMN note varchar(10)").unwrap();
        assert_eq!(d.kind, DdlKind::AlterTable);
        assert_eq!(d.tables, vec![(Some("shop".into()), "orders".into())]);
        let d = classify("create table if not exists t1 (id int primary key)").unwrap();
        assert_eq!((d.kind, d.tables[0].1.as_str()), (DdlKind::CreateTable, "t1"));
        let d = classify("DROP TABLE IF EXISTS `a`, b.c /* generated by server */").unwrap();
        assert_eq!(d.tables, vec![(None, "a".into()), (Some("b".into()), "c".into())]);
        let d = classify("RENAME TABLE a TO b, db.c TO db.d").unwrap();
        assert_eq!(d.tables.len(), 4);
        assert_eq!(classify("TRUNCATE TABLE `x``y`").unwrap().tables[0].1, "x`y");
        assert_eq!(classify("CREATE DATABASE IF NOT EXISTS sluice_t").unwrap().database.as_deref(), Some("sluice_t"));
        assert_eq!(classify("create index ix on db.t (a)").unwrap().kind, DdlKind::CreateIndex);
        assert_eq!(classify("CREATE DEFINER=`root`@`%` VIEW v AS SELECT 1").unwrap().kind, DdlKind::OtherDdl);
        assert!(classify("BEGIN").is_none());
        assert!(classify("INSERT INTO t VALUES (1)").is_none());
        assert!(classify("SAVEPOINT x").is_none());
    }
}
