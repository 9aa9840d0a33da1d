//! `_bulk` requests: actions encoded as NDJSON, cut into chunks by action
//! count and bytes, and the per-item results read back in order.
//!
//! Every action carries `version` (the change's external version) and
//! `version_type: external_gte`: the write happens only when the index holds
//! no newer version of that `_id` (a tombstone included). Equal versions
//! overwrite, which makes re-applying the same change harmless.

use std::collections::HashMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::errors::ActionKind;

/// One action of a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkAction {
    /// Index of the event in the batch.
    pub event: usize,
    pub kind: ActionKind,
    pub index: String,
    pub id: String,
    pub version: i64,
    /// The document of an index action; `None` for a delete.
    pub doc: Option<Map<String, Json>>,
}

#[derive(Serialize)]
struct ActionMeta<'a> {
    _index: &'a str,
    _id: &'a str,
    version: i64,
    version_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum ActionLine<'a> {
    Index(ActionMeta<'a>),
    Delete(ActionMeta<'a>),
}

/// Appends the NDJSON lines of `action` to `out`.
pub fn encode_action(action: &BulkAction, out: &mut Vec<u8>) {
    let meta =
        ActionMeta { _index: &action.index, _id: &action.id, version: action.version, version_type: "external_gte" };
    let line = match action.kind {
        ActionKind::Index => ActionLine::Index(meta),
        ActionKind::Delete => ActionLine::Delete(meta),
    };
    // Serializing maps and strings into a Vec cannot fail.
    serde_json::to_writer(&mut *out, &line).expect("serialize bulk action");
    out.push(b'\n');
    if let Some(doc) = &action.doc {
        serde_json::to_writer(&mut *out, doc).expect("serialize document");
        out.push(b'\n');
    }
}

/// A request body and which action each of its items is.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    pub body: Vec<u8>,
    /// `(action index, byte range of its lines in body)`, in body order.
    pub items: Vec<(usize, Range<usize>)>,
}

impl Chunk {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// A chunk holding only the items at `positions` (positions in `self.items`).
    pub fn subset(&self, positions: &[usize]) -> Chunk {
        let mut out = Chunk::default();
        for &p in positions {
            let (action, range) = &self.items[p];
            let start = out.body.len();
            out.body.extend_from_slice(&self.body[range.clone()]);
            out.items.push((*action, start..out.body.len()));
        }
        out
    }
}

/// Encodes `actions` into chunks of at most `max_actions` items and about
/// `max_bytes` bytes (a single larger action gets a chunk of its own).
pub fn chunk_actions(actions: &[BulkAction], max_actions: usize, max_bytes: usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut current = Chunk::default();
    let mut scratch = Vec::with_capacity(1024);
    for (i, action) in actions.iter().enumerate() {
        scratch.clear();
        encode_action(action, &mut scratch);
        if !current.is_empty() && (current.len() >= max_actions || current.body.len() + scratch.len() > max_bytes) {
            chunks.push(std::mem::take(&mut current));
        }
        let start = current.body.len();
        current.body.extend_from_slice(&scratch);
        current.items.push((i, start..current.body.len()));
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// One item of a `_bulk` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    pub status: u16,
    pub error_type: Option<String>,
    /// The error's reason and its cause, empty on success.
    pub reason: String,
}

#[derive(Deserialize)]
struct RawResponse {
    #[serde(default)]
    items: Vec<HashMap<String, RawItem>>,
}

#[derive(Deserialize)]
struct RawItem {
    status: u16,
    #[serde(default)]
    error: Option<RawError>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default, rename = "type")]
    ty: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    caused_by: Option<Json>,
}

/// Reads the items of a `_bulk` response; there must be `expected` of them.
pub fn parse_response(body: &[u8], expected: usize) -> Result<Vec<ItemResult>, String> {
    let raw: RawResponse = serde_json::from_slice(body).map_err(|e| format!("cannot parse _bulk response: {e}"))?;
    if raw.items.len() != expected {
        return Err(format!("_bulk answered {} items for {expected} actions", raw.items.len()));
    }
    raw.items
        .into_iter()
        .map(|mut item| {
            let (_, item) = item.drain().next().ok_or("empty _bulk item")?;
            let (error_type, reason) = match item.error {
                None => (None, String::new()),
                Some(e) => {
                    let mut reason = e.reason.unwrap_or_default();
                    if let Some(cause) = e.caused_by {
                        let ty = cause["type"].as_str().unwrap_or("cause");
                        let why = cause["reason"].as_str().unwrap_or("");
                        reason.push_str(&format!(" (caused by {ty}: {why})"));
                    }
                    (e.ty, reason)
                }
            };
            Ok(ItemResult { status: item.status, error_type, reason })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(event: usize, kind: ActionKind, doc: Option<Json>) -> BulkAction {
        BulkAction {
            event,
            kind,
            index: "db.t".into(),
            id: format!("{event}"),
            version: 7,
            doc: doc.map(|d| d.as_object().unwrap().clone()),
        }
    }

    #[test]
    fn encodes_versioned_actions() {
        let mut out = Vec::new();
        encode_action(&action(1, ActionKind::Index, Some(json!({"a": 1}))), &mut out);
        encode_action(&action(2, ActionKind::Delete, None), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"index\":{\"_index\":\"db.t\",\"_id\":\"1\",\"version\":7,\"version_type\":\"external_gte\"}}\n{\"a\":1}\n\
             {\"delete\":{\"_index\":\"db.t\",\"_id\":\"2\",\"version\":7,\"version_type\":\"external_gte\"}}\n"
        );
    }

    #[test]
    fn chunks_by_count_and_bytes() {
        let actions: Vec<_> =
            (0..10).map(|i| action(i, ActionKind::Index, Some(json!({"x": "y".repeat(50)})))).collect();
        let by_count = chunk_actions(&actions, 3, 1 << 20);
        assert_eq!(by_count.iter().map(Chunk::len).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        let one = {
            let mut b = Vec::new();
            encode_action(&actions[0], &mut b);
            b.len()
        };
        let by_bytes = chunk_actions(&actions, 100, one * 2 + 1);
        assert!(by_bytes.iter().all(|c| c.len() == 2 && c.body.len() <= one * 2 + 1));
        let tiny = chunk_actions(&actions[..2], 100, 10);
        assert_eq!(tiny.len(), 2, "an action larger than the limit goes alone");
        let sub = by_count[0].subset(&[0, 2]);
        assert_eq!(sub.items.iter().map(|(a, _)| *a).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(sub.body.len(), one * 2);
    }

    #[test]
    fn parses_items() {
        let body = br#"{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [id]","caused_by":{"type":"illegal_argument_exception","reason":"For input string"}}}},{"delete":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"x"}}}]}"#;
        let items = parse_response(body, 3).unwrap();
        assert_eq!(items[0], ItemResult { status: 201, error_type: None, reason: String::new() });
        assert_eq!(items[1].error_type.as_deref(), Some("mapper_parsing_exception"));
        assert_eq!(
            items[1].reason,
            "failed to parse field [id] (caused by illegal_argument_exception: For input string)"
        );
        assert_eq!(items[2].status, 409);
        assert!(parse_response(body, 2).unwrap_err().contains("3 items for 2"));
        assert!(parse_response(b"<html>", 1).is_err());
    }
}
