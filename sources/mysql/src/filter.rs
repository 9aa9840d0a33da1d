//! Include/exclude filters for databases, tables and columns.
//!
//! Patterns are regular expressions matched against the whole name
//! (anchored): databases by `db`, tables by `db.table`, columns by
//! `db.table.column`. An empty include list includes everything; an exclude
//! always wins over an include. System databases (`mysql`,
//! `information_schema`, `performance_schema`, `sys`) are never captured.

use regex::RegexSet;

use sluice_sink_api::TableId;

/// Databases that are never captured.
pub const SYSTEM_DATABASES: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// Compiled include/exclude lists.
#[derive(Debug, Clone)]
pub struct Filters {
    db_include: Option<RegexSet>,
    db_exclude: Option<RegexSet>,
    table_include: Option<RegexSet>,
    table_exclude: Option<RegexSet>,
    column_include: Option<RegexSet>,
    column_exclude: Option<RegexSet>,
}

fn compile(patterns: &[String]) -> Result<Option<RegexSet>, regex::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    RegexSet::new(patterns.iter().map(|p| format!("^(?:{p})$"))).map(Some)
}

/// The lists as written in the configuration.
#[derive(Debug, Clone, Default)]
pub struct FilterLists<'a> {
    pub database_include: &'a [String],
    pub database_exclude: &'a [String],
    pub table_include: &'a [String],
    pub table_exclude: &'a [String],
    pub column_include: &'a [String],
    pub column_exclude: &'a [String],
}

impl Filters {
    /// Compiles the lists; an error names the list and pattern.
    pub fn new(lists: &FilterLists<'_>) -> Result<Self, String> {
        let c = |name: &str, p: &[String]| compile(p).map_err(|e| format!("{name}: {e}"));
        Ok(Filters {
            db_include: c("database_include", lists.database_include)?,
            db_exclude: c("database_exclude", lists.database_exclude)?,
            table_include: c("table_include", lists.table_include)?,
            table_exclude: c("table_exclude", lists.table_exclude)?,
            column_include: c("column_include", lists.column_include)?,
            column_exclude: c("column_exclude", lists.column_exclude)?,
        })
    }

    /// Everything (but system databases) is captured.
    pub fn all() -> Self {
        Filters::new(&FilterLists::default()).expect("empty filters compile")
    }

    fn admits(include: &Option<RegexSet>, exclude: &Option<RegexSet>, name: &str) -> bool {
        include.as_ref().is_none_or(|s| s.is_match(name)) && !exclude.as_ref().is_some_and(|s| s.is_match(name))
    }

    /// Whether any table of `database` may be captured.
    pub fn database(&self, database: &str) -> bool {
        !SYSTEM_DATABASES.iter().any(|s| s.eq_ignore_ascii_case(database))
            && Self::admits(&self.db_include, &self.db_exclude, database)
    }

    /// Whether `database.table` is captured.
    pub fn table(&self, database: &str, table: &str) -> bool {
        self.database(database)
            && Self::admits(&self.table_include, &self.table_exclude, &format!("{database}.{table}"))
    }

    /// Whether the table of `id` is captured.
    pub fn table_id(&self, id: &TableId) -> bool {
        self.table(id.database.as_deref().unwrap_or_default(), &id.table)
    }

    /// Whether `database.table.column` is captured. Primary-key columns are
    /// always kept by the callers (a key must stay whole).
    pub fn column(&self, database: &str, table: &str, column: &str) -> bool {
        if self.column_include.is_none() && self.column_exclude.is_none() {
            return true;
        }
        Self::admits(&self.column_include, &self.column_exclude, &format!("{database}.{table}.{column}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn include_exclude() {
        let dbi = v(&["shop|crm"]);
        let tbe = v(&["shop\\.audit_.*"]);
        let cole = v(&["crm\\.people\\.ssn"]);
        let f = Filters::new(&FilterLists {
            database_include: &dbi,
            table_exclude: &tbe,
            column_exclude: &cole,
            ..Default::default()
        })
        .unwrap();
        assert!(f.table("shop", "orders"));
        assert!(!f.table("shop", "audit_log"));
        assert!(!f.table("shopx", "orders"), "anchored");
        assert!(!f.table("other", "t"));
        assert!(f.column("crm", "people", "name"));
        assert!(!f.column("crm", "people", "ssn"));
        assert!(!Filters::all().database("mysql"));
        assert!(Filters::all().table("a", "b"));
        let bad = v(&["("]);
        let e = Filters::new(&FilterLists { table_include: &bad, ..Default::default() }).unwrap_err();
        assert!(e.starts_with("table_include"), "{e}");
    }
}
