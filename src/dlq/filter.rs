//! Which dead letters a command works on: the filters of `dlq list`,
//! `replay`, `stats` and `purge`, turned into a bound `WHERE` clause.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

/// Resolved, unresolved, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EntryState {
    #[default]
    Any,
    Unresolved,
    Resolved,
}

/// A conjunction of conditions; unset fields do not filter. Every value is
/// bound, never spliced into the SQL text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// The consumer group (a pipeline's entries); `None`: every group.
    pub group: Option<String>,
    /// Only these ids (empty: any id).
    pub ids: Vec<i64>,
    /// `table_name` (`db.table`).
    pub table: Option<String>,
    pub topic: Option<String>,
    /// `error_class` (a [`RejectKind`](sluice_sink_api::RejectKind) name).
    pub class: Option<String>,
    pub sink: Option<String>,
    /// `failed_at >= since`
    pub since: Option<DateTime<Utc>>,
    /// `failed_at < until`
    pub until: Option<DateTime<Utc>>,
    pub state: EntryState,
    /// `resolved_at < resolved_before` (purge's `--older-than`).
    pub resolved_before: Option<DateTime<Utc>>,
}

impl EntryFilter {
    /// Every unresolved entry of `group`.
    pub fn unresolved(group: Option<String>) -> Self {
        EntryFilter { group, state: EntryState::Unresolved, ..EntryFilter::default() }
    }

    /// Appends ` WHERE …` (always present: `WHERE TRUE` without conditions).
    pub(crate) fn push_where<'a>(&'a self, qb: &mut QueryBuilder<'a, Postgres>) {
        qb.push(" WHERE TRUE");
        if let Some(g) = &self.group {
            qb.push(" AND consumer_group = ").push_bind(g);
        }
        if !self.ids.is_empty() {
            qb.push(" AND id = ANY(").push_bind(&self.ids).push(")");
        }
        if let Some(t) = &self.table {
            qb.push(" AND table_name = ").push_bind(t);
        }
        if let Some(t) = &self.topic {
            qb.push(" AND topic = ").push_bind(t);
        }
        if let Some(c) = &self.class {
            qb.push(" AND error_class = ").push_bind(c);
        }
        if let Some(s) = &self.sink {
            qb.push(" AND sink = ").push_bind(s);
        }
        if let Some(s) = self.since {
            qb.push(" AND failed_at >= ").push_bind(s);
        }
        if let Some(u) = self.until {
            qb.push(" AND failed_at < ").push_bind(u);
        }
        match self.state {
            EntryState::Any => {}
            EntryState::Unresolved => {
                qb.push(" AND resolved_at IS NULL");
            }
            EntryState::Resolved => {
                qb.push(" AND resolved_at IS NOT NULL");
            }
        }
        if let Some(b) = self.resolved_before {
            qb.push(" AND resolved_at < ").push_bind(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_every_value() {
        let f = EntryFilter {
            group: Some("g'; DROP TABLE x; --".into()),
            ids: vec![1, 2],
            table: Some("db.t".into()),
            class: Some("decode".into()),
            state: EntryState::Unresolved,
            ..EntryFilter::default()
        };
        let mut qb = QueryBuilder::<Postgres>::new("SELECT 1 FROM t");
        f.push_where(&mut qb);
        let sql = qb.sql();
        assert!(!sql.contains("DROP"), "{sql}");
        assert_eq!(
            sql,
            "SELECT 1 FROM t WHERE TRUE AND consumer_group = $1 AND id = ANY($2) AND table_name = $3 \
             AND error_class = $4 AND resolved_at IS NULL"
        );
    }
}
