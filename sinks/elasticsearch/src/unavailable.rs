//! Columns the source did not provide (TOAST placeholders, columns absent
//! from a partial image), with `unavailable = "merge"` (the default).
//!
//! An `index` action replaces the whole document, and Elasticsearch's
//! `update` API does not take external versions, so an unavailable column
//! cannot be "left as is" by the write itself. Instead, before sending a
//! batch, the sink reads the stored documents of the affected keys (one
//! `_mget`) and copies their values of the missing columns into the new
//! document. Per key it walks the batch's actions in version order, so a
//! value written by an earlier change of the same batch is carried over too.
//!
//! Safety: the read and the write are not atomic, but the write keeps its
//! external version. If a newer version lands in between, the write is
//! refused as stale (409). The one imprecision: when a change between the
//! stored version and this one has not been applied yet (it was
//! dead-lettered, or arrives later out of order), the carried value is the
//! stored one. It is never the placeholder, and it is never newer data
//! overwritten.
//!
//! With `unavailable = "omit"` the fields are simply left out of the
//! document, and the stored value of those columns is lost.

use std::collections::HashMap;

use crate::bulk::BulkAction;
use crate::client::StoredDoc;
use crate::document::is_tombstone;
use crate::errors::ActionKind;

/// The keys (`(index, _id)`) whose stored documents the merge needs.
pub fn keys_to_read(actions: &[BulkAction], missing: &[Vec<String>]) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = actions
        .iter()
        .zip(missing)
        .filter(|(_, m)| !m.is_empty())
        .map(|(a, _)| (a.index.clone(), a.id.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Fills the missing columns of `actions` from `stored` documents and from
/// earlier versions in the batch. `missing[i]` lists the missing columns of
/// `actions[i]`. Returns how many documents received at least one value.
pub fn merge(actions: &mut [BulkAction], missing: &[Vec<String>], stored: HashMap<(String, String), StoredDoc>) -> u64 {
    let mut by_key: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, a) in actions.iter().enumerate() {
        by_key.entry((a.index.clone(), a.id.clone())).or_default().push(i);
    }
    let mut merged = 0;
    for (key, mut positions) in by_key {
        if !positions.iter().any(|&i| !missing[i].is_empty()) {
            continue;
        }
        positions.sort_by_key(|&i| actions[i].version);
        // (version, live document) of the key as the index would hold it.
        let mut base: Option<(i64, Option<serde_json::Map<String, serde_json::Value>>)> =
            stored.get(&key).map(|d| (d.version, (!is_tombstone(&d.source)).then(|| d.source.clone())));
        for i in positions {
            let version = actions[i].version;
            if matches!(&base, Some((v, _)) if version < *v) {
                continue; // stale: the index will refuse it
            }
            let action = &mut actions[i];
            match (&action.kind, &mut action.doc) {
                (ActionKind::Delete, _) | (ActionKind::Index, None) => base = Some((version, None)),
                (ActionKind::Index, Some(doc)) if is_tombstone(doc) => base = Some((version, None)),
                (ActionKind::Index, Some(doc)) => {
                    let mut filled = false;
                    if let Some((_, Some(previous))) = &base {
                        for column in &missing[i] {
                            if !doc.contains_key(column)
                                && let Some(value) = previous.get(column)
                            {
                                doc.insert(column.clone(), value.clone());
                                filled = true;
                            }
                        }
                    }
                    merged += u64::from(filled);
                    base = Some((version, Some(doc.clone())));
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    fn index(id: &str, version: i64, doc: Json) -> BulkAction {
        BulkAction {
            event: 0,
            kind: ActionKind::Index,
            index: "i".into(),
            id: id.into(),
            version,
            doc: Some(doc.as_object().unwrap().clone()),
        }
    }

    fn stored(version: i64, source: Json) -> StoredDoc {
        StoredDoc { version, source: source.as_object().unwrap().clone() }
    }

    #[test]
    fn carries_stored_and_in_batch_values() {
        let mut actions = vec![
            index("1", 5, json!({"name": "b"})), // note missing: from stored v3
            index("2", 9, json!({"name": "y"})), // note missing: from the batch's v8 (reordered)
            index("2", 8, json!({"name": "x", "note": "n8"})),
            index("3", 2, json!({"name": "old"})), // stale vs stored v4: untouched
            index("4", 2, json!({"name": "new"})), // nothing stored: stays without note
        ];
        let missing =
            vec![vec!["note".to_string()], vec!["note".to_string()], vec![], vec!["note".into()], vec!["note".into()]];
        assert_eq!(keys_to_read(&actions, &missing).len(), 4);
        let mut docs = HashMap::new();
        docs.insert(("i".to_string(), "1".to_string()), stored(3, json!({"name": "a", "note": "big"})));
        docs.insert(("i".to_string(), "2".to_string()), stored(1, json!({"name": "w", "note": "n1"})));
        docs.insert(("i".to_string(), "3".to_string()), stored(4, json!({"name": "cur", "note": "n"})));
        let merged = merge(&mut actions, &missing, docs);
        assert_eq!(merged, 2);
        assert_eq!(actions[0].doc.as_ref().unwrap()["note"], json!("big"));
        assert_eq!(actions[1].doc.as_ref().unwrap()["note"], json!("n8"));
        assert!(!actions[3].doc.as_ref().unwrap().contains_key("note"));
        assert!(!actions[4].doc.as_ref().unwrap().contains_key("note"));
    }

    #[test]
    fn never_carries_from_a_deleted_document() {
        let mut actions = vec![index("1", 5, json!({"name": "b"}))];
        let missing = vec![vec!["note".to_string()]];
        let mut docs = HashMap::new();
        docs.insert(
            ("i".to_string(), "1".to_string()),
            stored(3, json!({"id": 1, "_sluice_deleted": true, "note": "x"})),
        );
        assert_eq!(merge(&mut actions, &missing, docs), 0);
        assert!(!actions[0].doc.as_ref().unwrap().contains_key("note"));
    }
}
