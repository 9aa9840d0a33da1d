//! Changing the state of dead letters: the outcome of a replay, manual
//! resolution, and purging resolved entries.
//!
//! Unresolved entries are never deleted; resolving never touches an entry
//! that is already resolved (the first resolution is kept).

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::entry::Resolution;
use super::filter::{EntryFilter, EntryState};
use super::letter::DlqError;
use super::store::{PostgresDeadLetters, pg_text};

/// What `resolve_by_hand` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandResolution {
    /// Resolved by this call.
    pub resolved: Vec<i64>,
    /// Already resolved before: `(id, resolution)`; left unchanged.
    pub already: Vec<(i64, String)>,
    /// No such entry: nothing was changed at all.
    pub unknown: Vec<i64>,
}

impl PostgresDeadLetters {
    /// Marks entries resolved with resolution `replayed` after a successful
    /// replay (counting the attempt). Returns how many changed.
    pub async fn mark_replayed(&self, ids: &[i64]) -> Result<u64, DlqError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "UPDATE {} SET resolved_at = now(), resolution = 'replayed', retry_count = retry_count + 1, \
             last_retry_at = now(), last_error = NULL WHERE id = ANY($1) AND resolved_at IS NULL",
            self.table()
        );
        let done = sqlx::query(&sql)
            .bind(ids)
            .execute(self.pool())
            .await
            .map_err(|e| Self::error("marking replayed dead letters resolved", e))?;
        Ok(done.rows_affected())
    }

    /// Records failed replay attempts: `retry_count + 1`, `last_retry_at`, `last_error`.
    pub async fn record_failures(&self, failures: &[(i64, String)]) -> Result<(), DlqError> {
        if failures.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE {} AS d SET retry_count = d.retry_count + 1, last_retry_at = now(), last_error = f.error \
             FROM UNNEST($1::bigint[], $2::text[]) AS f(id, error) WHERE d.id = f.id",
            self.table()
        );
        sqlx::query(&sql)
            .bind(failures.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(failures.iter().map(|(_, e)| pg_text(e)).collect::<Vec<_>>())
            .execute(self.pool())
            .await
            .map_err(|e| Self::error("recording failed replays", e))?;
        Ok(())
    }

    /// Resolves entries by hand, all or nothing: when any id does not exist,
    /// nothing changes and `unknown` lists them.
    pub async fn resolve_by_hand(&self, ids: &[i64], resolution: Resolution) -> Result<HandResolution, DlqError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut tx = self.pool().begin().await.map_err(|e| Self::error("connecting to the dead-letter database", e))?;
        let rows: Vec<(i64, Option<String>)> =
            sqlx::query_as(&format!("SELECT id, resolution FROM {} WHERE id = ANY($1) FOR UPDATE", self.table()))
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| Self::error("reading dead letters", e))?;
        let mut out = HandResolution::default();
        for id in &ids {
            match rows.iter().find(|(found, _)| found == id) {
                None => out.unknown.push(*id),
                Some((_, Some(r))) => out.already.push((*id, r.clone())),
                Some((_, None)) => out.resolved.push(*id),
            }
        }
        if !out.unknown.is_empty() {
            out.resolved.clear();
            return Ok(out);
        }
        sqlx::query(&format!(
            "UPDATE {} SET resolved_at = now(), resolution = $2 WHERE id = ANY($1) AND resolved_at IS NULL",
            self.table()
        ))
        .bind(&out.resolved)
        .bind(resolution.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| Self::error("resolving dead letters", e))?;
        tx.commit().await.map_err(|e| Self::error("committing the resolution", e))?;
        Ok(out)
    }

    /// Deletes resolved entries matching `filter` that were resolved before
    /// `resolved_before` (all resolved ones when `None`); with `dry_run`
    /// only counts them. The filter is forced to resolved entries: an
    /// unresolved entry is never purged.
    pub async fn purge(
        &self,
        filter: &EntryFilter,
        resolved_before: Option<DateTime<Utc>>,
        dry_run: bool,
    ) -> Result<u64, DlqError> {
        let filter = EntryFilter { state: EntryState::Resolved, resolved_before, ..filter.clone() };
        if dry_run {
            return self.count(&filter).await.map(|n| n as u64);
        }
        let mut qb = QueryBuilder::<Postgres>::new(format!("DELETE FROM {}", self.table()));
        filter.push_where(&mut qb);
        let done = qb.build().execute(self.pool()).await.map_err(|e| Self::error("purging dead letters", e))?;
        Ok(done.rows_affected())
    }
}
