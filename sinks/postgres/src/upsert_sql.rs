//! SQL text of the versioned writes. Identifiers are quoted; every value is
//! bound, never spliced. A statement reads its rows from one of two inputs
//! ([`Input`]):
//! * **arrays**: one bound array parameter per column, unnested server-side,
//!   so one statement writes all rows of a table (per column set) whatever
//!   the batch size (small batches: one round trip, nothing to set up);
//! * **a staging table**: a session-local temporary table filled by binary
//!   `COPY` (large batches: see [`crate::copy`]), read by group.
//!
//! The statement text is stable per table, column set and input, so it is
//! prepared once per connection by sqlx.
//!
//! Guards, all inside the one statement:
//! * `ON CONFLICT (key) DO UPDATE … WHERE t.version < excluded.version` —
//!   an older or equal version never overwrites a row;
//! * `NOT EXISTS (tombstone with version >= v)` — no resurrection (hard mode);
//! * `v > table_state.truncated_version` — nothing older than a truncate comes back.
//!
//! Counting: every row stands for `w` events (its weight, usually 1). A
//! statement returns (rows that took effect, events they stand for); the
//! second is `count(*)` of the written rows plus `w - 1` of the few written
//! rows whose weight is not 1, so the common case needs no join of the
//! written rows back to their inputs.

use crate::encode::Wire;
use crate::ident::quote;
use crate::pg_type::PgType;

/// Where a statement's rows come from.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Bound arrays unnested server-side.
    Arrays,
    /// The staging table `table` (quoted, in `pg_temp`), rows whose `g`
    /// equals parameter `$1`; `columns[i]` is the staging column number
    /// (`c<n>`) of the statement's i-th column.
    Stage { table: &'a str, columns: &'a [usize] },
}

/// A column as it appears in a statement.
#[derive(Debug, Clone)]
pub struct SqlColumn {
    pub name: String,
    pub ty: PgType,
}

impl SqlColumn {
    fn param(&self, n: usize) -> String {
        format!("${n}::{}", Wire::for_type(&self.ty).array_type())
    }

    /// The column's value as read from relation `rel`, column `alias`, cast
    /// from its wire type to the column type when they differ.
    fn value_in(&self, rel: &str, alias: &str) -> String {
        match Wire::for_type(&self.ty).cast(&self.ty) {
            Some(cast) => format!("{rel}.{alias}::{cast}"),
            None => format!("{rel}.{alias}"),
        }
    }

    fn value(&self, alias: &str) -> String {
        self.value_in("s", alias)
    }
}

/// The fixed parts of one table's statements.
#[derive(Debug, Clone)]
pub struct TableSql {
    pub table: String,
    pub key: Vec<SqlColumn>,
    pub version: String,
    pub soft_delete: Option<String>,
    pub tombstones: Option<String>,
    pub table_state: String,
}

/// The `WITH s AS (…)` input of a statement and its parameter numbers.
struct Source {
    /// `WITH s AS (…)`: one row per key, columns `k<i>`, `c<n>`, `v`, `kt`
    /// and (deletes, staging table) `w`.
    with: String,
    /// Aliases of the statement's data columns in `s`.
    columns: Vec<String>,
    /// Parameter number of the table's state key.
    state: usize,
    /// The rows whose weight is not 1, with `k<i>`, `v`, `kt` and `w`.
    heavy: String,
}

impl TableSql {
    fn key_list(&self) -> String {
        self.key.iter().map(|k| quote(&k.name)).collect::<Vec<_>>().join(", ")
    }

    fn truncate_guard(&self, state_param: usize) -> String {
        format!(
            "s.v > COALESCE((SELECT ts.truncated_version FROM {} ts WHERE ts.table_name = ${state_param}), -1)",
            self.table_state
        )
    }

    /// The key text computed server-side, when Postgres' text form of the key
    /// equals sluice's (one integer or text column); then no key texts are sent.
    pub fn server_key_text(&self) -> Option<&'static str> {
        match self.key.as_slice() {
            [k] => match k.ty {
                PgType::Int2 | PgType::Int4 | PgType::Int8 => Some("k0::text"),
                PgType::Text | PgType::Varchar(_) => Some("k0::text"),
                _ => None,
            },
            _ => None,
        }
    }

    fn kt(&self, rel: &str) -> String {
        match self.server_key_text() {
            Some(expr) => format!(", {rel}.{expr} AS kt"),
            None => String::new(),
        }
    }

    /// The parameter list of the array input: key arrays, `columns` arrays,
    /// versions (`numeric[]`), key texts (unless computed server-side), and
    /// weights when `weights`. Returns (params, aliases).
    fn array_params(&self, columns: &[SqlColumn], weights: bool, first: usize) -> (Vec<String>, Vec<String>) {
        let mut params = Vec::new();
        let mut aliases = Vec::new();
        for (i, k) in self.key.iter().enumerate() {
            params.push(k.param(first + params.len()));
            aliases.push(format!("k{i}"));
        }
        for (i, c) in columns.iter().enumerate() {
            params.push(c.param(first + params.len()));
            aliases.push(format!("c{i}"));
        }
        params.push(format!("${}::numeric[]", first + params.len()));
        aliases.push("v".into());
        if self.server_key_text().is_none() {
            params.push(format!("${}::text[]", first + params.len()));
            aliases.push("kt".into());
        }
        if weights {
            params.push(format!("${}::int4[]", first + params.len()));
            aliases.push("w".into());
        }
        (params, aliases)
    }

    /// Array input. Upserts (`weights == false`) take the weights of the
    /// heavy rows only, as separate arrays after the state key: keys,
    /// versions, [key texts,] weights. Deletes carry every weight in `s`.
    fn arrays(&self, columns: &[SqlColumn], weights: bool) -> Source {
        let (params, aliases) = self.array_params(columns, weights, 1);
        let state = params.len() + 1;
        let with = format!(
            "WITH s AS (SELECT u.*{} FROM unnest({}) AS u({}))",
            self.kt("u"),
            params.join(", "),
            aliases.join(", ")
        );
        let heavy = if weights {
            "(SELECT * FROM s WHERE s.w <> 1)".to_string()
        } else {
            let (params, aliases) = self.array_params(&[], true, state + 1);
            format!("(SELECT u.*{} FROM unnest({}) AS u({}))", self.kt("u"), params.join(", "), aliases.join(", "))
        };
        Source { with, columns: (0..columns.len()).map(|i| format!("c{i}")).collect(), state, heavy }
    }

    /// Staging-table input: the rows of group `$1`; state key `$2`.
    fn stage(&self, table: &str, columns: &[usize]) -> Source {
        let rows = |filter: &str| format!("SELECT u.*{} FROM {table} u WHERE u.g = $1{filter}", self.kt("u"));
        Source {
            // inlined, so the heavy-row tally scans the staging table again
            // instead of materializing every row
            with: format!("WITH s AS NOT MATERIALIZED ({})", rows("")),
            columns: columns.iter().map(|n| format!("c{n}")).collect(),
            state: 2,
            heavy: format!("({})", rows(" AND u.w <> 1")),
        }
    }

    fn source(&self, columns: &[SqlColumn], input: Input<'_>, weights: bool) -> Source {
        match input {
            Input::Arrays => self.arrays(columns, weights),
            Input::Stage { table, columns } => self.stage(table, columns),
        }
    }

    /// `SELECT (rows, events)` of the written rows `written` (a CTE with the
    /// key columns and the version): rows plus the extra weight of the heavy
    /// written rows.
    fn tally(&self, written: &str, heavy: &str) -> String {
        let matches: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("x.{} = {}", quote(&k.name), k.value_in("h", &format!("k{i}"))))
            .collect();
        format!(
            "SELECT count(*)::int8, (count(*) + coalesce((SELECT sum(h.w - 1) FROM {heavy} h JOIN {written} x \
             ON {} AND x.{v} = h.v), 0))::int8 FROM {written}",
            matches.join(" AND "),
            v = quote(&self.version)
        )
    }

    /// Upsert of rows writing `columns` (besides the key) from bound arrays.
    /// Parameters: the key arrays, the column arrays, versions, key texts,
    /// the table's state key, then the heavy rows' keys, versions, key texts
    /// and weights. Returns one row: (rows written, events they stand for).
    pub fn upsert(&self, columns: &[SqlColumn]) -> String {
        self.upsert_from(columns, Input::Arrays)
    }

    /// Upsert of rows writing `columns` (besides the key) from `input`.
    pub fn upsert_from(&self, columns: &[SqlColumn], input: Input<'_>) -> String {
        let version = quote(&self.version);
        let source = self.source(columns, input, false);
        let mut values = Vec::new();
        let mut targets = Vec::new();
        let mut returning = Vec::new();
        for (i, k) in self.key.iter().enumerate() {
            values.push(k.value(&format!("k{i}")));
            targets.push(quote(&k.name));
            returning.push(format!("t.{}", quote(&k.name)));
        }
        let mut sets = Vec::new();
        for (c, alias) in columns.iter().zip(&source.columns) {
            values.push(c.value(alias));
            targets.push(quote(&c.name));
            sets.push(format!("{0} = excluded.{0}", quote(&c.name)));
        }
        values.push("s.v".into());
        targets.push(version.clone());
        returning.push(format!("t.{version}"));
        sets.push(format!("{version} = excluded.{version}"));
        if let Some(deleted) = &self.soft_delete {
            values.push("false".into());
            targets.push(quote(deleted));
            sets.push(format!("{} = false", quote(deleted)));
        }
        let mut guard = self.truncate_guard(source.state);
        if let Some(tombstones) = &self.tombstones {
            guard.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM {tombstones} tb WHERE tb.table_name = ${} \
                 AND tb.key = s.kt AND tb.version >= s.v)",
                source.state
            ));
        }
        format!(
            "{with}, \
             w AS (INSERT INTO {table} AS t ({targets}) SELECT {values} FROM s \
             WHERE {guard} ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE t.{version} < excluded.{version} \
             RETURNING {returning}) {tally}",
            with = source.with,
            table = self.table,
            targets = targets.join(", "),
            values = values.join(", "),
            key = self.key_list(),
            sets = sets.join(", "),
            returning = returning.join(", "),
            tally = self.tally("w", &source.heavy),
        )
    }

    /// Versioned delete from bound arrays. Parameters: the key arrays,
    /// versions, key texts, weights, the table's state key. Returns one row:
    /// (deletes that took effect, events they stand for).
    pub fn delete(&self) -> String {
        self.delete_from(Input::Arrays)
    }

    /// Versioned delete of the rows of `input`.
    pub fn delete_from(&self, input: Input<'_>) -> String {
        let version = quote(&self.version);
        let mut source = self.source(&[], input, true);
        // s feeds the delete, the tombstones and the tally: materialize it once
        source.with = source.with.replacen("AS NOT MATERIALIZED (", "AS (", 1);
        let key_match = self
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("t.{} = {}", quote(&k.name), k.value(&format!("k{i}"))))
            .collect::<Vec<_>>()
            .join(" AND ");
        let with = &source.with;
        let state_param = source.state;
        match (&self.soft_delete, &self.tombstones) {
            (Some(deleted), _) => {
                let values: Vec<String> = self.key.iter().enumerate().map(|(i, k)| k.value(&format!("k{i}"))).collect();
                let returning: Vec<String> = self.key.iter().map(|k| format!("t.{}", quote(&k.name))).collect();
                format!(
                    "{with}, w AS (INSERT INTO {table} AS t ({key}, {version}, {deleted}) \
                     SELECT {values}, s.v, true FROM s \
                     WHERE {guard} ON CONFLICT ({key}) DO UPDATE SET {version} = excluded.{version}, {deleted} = true \
                     WHERE t.{version} < excluded.{version} RETURNING {returning}, t.{version}) {tally}",
                    table = self.table,
                    key = self.key_list(),
                    deleted = quote(deleted),
                    values = values.join(", "),
                    guard = self.truncate_guard(state_param),
                    returning = returning.join(", "),
                    tally = self.tally("w", "(SELECT * FROM s WHERE s.w <> 1)"),
                )
            }
            (None, Some(tombstones)) => format!(
                "{with}, \
                 d AS (DELETE FROM {table} AS t USING s WHERE {key_match} AND t.{version} < s.v), \
                 tomb AS (INSERT INTO {tombstones} AS tb (table_name, key, version, deleted_at) \
                   SELECT ${state_param}, s.kt, s.v, now() FROM s \
                   WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {key_match} AND t.{version} >= s.v) \
                   ON CONFLICT (table_name, key) DO UPDATE SET version = excluded.version, deleted_at = excluded.deleted_at \
                   WHERE tb.version < excluded.version RETURNING tb.key) \
                 SELECT count(*)::int8, (count(*) + coalesce((SELECT sum(s.w - 1) FROM s JOIN tomb ON s.kt = tomb.key \
                   WHERE s.w <> 1), 0))::int8 FROM tomb",
                table = self.table,
            ),
            (None, None) => unreachable!("hard delete mode always has a tombstones table"),
        }
    }

    /// Raises the table's truncate version. Parameters: state key, version
    /// (text). Returns a row when the truncate is newer than the stored one.
    pub fn record_truncate(&self) -> String {
        format!(
            "INSERT INTO {} AS ts (table_name, truncated_version, truncated_at) VALUES ($1, $2::numeric, now()) \
             ON CONFLICT (table_name) DO UPDATE SET truncated_version = excluded.truncated_version, \
             truncated_at = excluded.truncated_at \
             WHERE ts.truncated_version IS NULL OR ts.truncated_version < excluded.truncated_version RETURNING 1",
            self.table_state
        )
    }

    /// Removes (or soft-deletes) rows older than the truncate. Parameter: version (text).
    pub fn apply_truncate(&self) -> String {
        let version = quote(&self.version);
        match &self.soft_delete {
            Some(deleted) => format!(
                "UPDATE {} SET {d} = true WHERE {version} < $1::numeric AND NOT {d}",
                self.table,
                d = quote(deleted)
            ),
            None => format!("DELETE FROM {} WHERE {version} < $1::numeric", self.table),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(soft: bool) -> TableSql {
        TableSql {
            table: "\"s\".\"t\"".into(),
            key: vec![SqlColumn { name: "id".into(), ty: PgType::Int4 }],
            version: "_sluice_version".into(),
            soft_delete: soft.then(|| "_sluice_deleted".into()),
            tombstones: (!soft).then(|| "\"sluice\".\"tombstones\"".into()),
            table_state: "\"sluice\".\"table_state\"".into(),
        }
    }

    #[test]
    fn upsert_shape() {
        let text = sql(false).upsert(&[SqlColumn { name: "na\"me".into(), ty: PgType::Numeric(Some((10, 2))) }]);
        assert!(
            text.contains(
                "SELECT u.*, u.k0::text AS kt FROM unnest($1::int8[], $2::text[], $3::numeric[]) AS u(k0, c0, v)"
            ),
            "{text}"
        );
        assert!(text.contains("s.k0::integer, s.c0::numeric(10,2), s.v"), "{text}");
        assert!(text.contains("\"na\"\"me\" = excluded.\"na\"\"me\""), "{text}");
        assert!(text.contains("tb.table_name = $4"), "{text}");
        assert!(
            text.contains(
                "(SELECT sum(h.w - 1) FROM (SELECT u.*, u.k0::text AS kt FROM unnest($5::int8[], $6::numeric[], \
                 $7::int4[]) AS u(k0, v, w)) h JOIN w x ON x.\"id\" = h.k0::integer AND x.\"_sluice_version\" = h.v)"
            ),
            "{text}"
        );
        assert!(sql(true).upsert(&[]).contains("\"_sluice_deleted\" = false"));
        assert!(sql(true).delete().contains("\"_sluice_deleted\" = true"));
        assert!(sql(false).delete().contains("FROM s JOIN tomb ON s.kt = tomb.key WHERE s.w <> 1"));
        assert!(sql(false).delete().contains("unnest($1::int8[], $2::numeric[], $3::int4[]) AS u(k0, v, w)"));
    }

    #[test]
    fn staged_shape() {
        let column = SqlColumn { name: "n".into(), ty: PgType::Text };
        let stage = Input::Stage { table: "pg_temp.\"st\"", columns: &[3] };
        let text = sql(false).upsert_from(&[column], stage);
        assert!(
            text.starts_with(
                "WITH s AS NOT MATERIALIZED (SELECT u.*, u.k0::text AS kt FROM pg_temp.\"st\" u WHERE u.g = $1)"
            ),
            "{text}"
        );
        assert!(text.contains("SELECT s.k0::integer, s.c3, s.v FROM s"), "{text}");
        assert!(text.contains("tb.table_name = $2"), "{text}");
        assert!(text.contains("FROM pg_temp.\"st\" u WHERE u.g = $1 AND u.w <> 1) h JOIN w x"), "{text}");
        let delete = sql(false).delete_from(stage);
        assert!(delete.starts_with("WITH s AS (SELECT"), "{delete}");
        assert!(delete.contains("SELECT $2, s.kt, s.v, now() FROM s"), "{delete}");
    }
}
