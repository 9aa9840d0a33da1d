//! Delete tombstones: the `index.gc_deletes` caveat, and both mitigations
//! (a long `gc_deletes` on auto-created indexes, soft deletes).

use std::time::Duration;

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, Sink, TableId};
use sluice_sink_elasticsearch::DeleteMode;

use crate::common::{config, es_url, get_doc, sink, unique};

async fn index_setting(base: &str, index: &str, name: &str) -> Option<String> {
    let body: serde_json::Value =
        reqwest::get(format!("{base}/{index}/_settings")).await.unwrap().json().await.unwrap();
    body[index]["settings"]["index"][name].as_str().map(str::to_string)
}

/// Auto-created indexes get `index.gc_deletes` (default one day).
#[tokio::test]
async fn auto_created_index_remembers_deletes_for_a_day() {
    let url = es_url().await;
    let sink = sink(config(&url));
    let b = EventBuilder::new(TableId::new(Some("gc"), None, &unique("default")));
    sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "a")])).await.unwrap();
    let index = sink.index_for(&b.table, "").unwrap();
    assert_eq!(index_setting(&url, &index, "gc_deletes").await.as_deref(), Some("86400s"));
}

/// The caveat, shown on the server: once `gc_deletes` has passed, a hard
/// delete's tombstone is gone and an older upsert brings the document back.
/// Soft deletes keep the tombstone as a document and never resurrect.
#[tokio::test]
async fn soft_deletes_survive_gc_deletes_and_hard_deletes_do_not() {
    let url = es_url().await;
    for (mode, resurrects) in [(DeleteMode::Delete, true), (DeleteMode::Soft, false)] {
        let mut c = config(&url);
        c.gc_deletes = Duration::from_secs(1);
        c.delete_mode = mode;
        let sink = sink(c);
        let b = EventBuilder::new(TableId::new(Some("gc"), None, &unique("short")));
        sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 1, "a"), b.delete(1, 3)])).await.unwrap();
        let index = sink.index_for(&b.table, "").unwrap();
        assert_eq!(index_setting(&url, &index, "gc_deletes").await.as_deref(), Some("1s"));
        // Within gc_deletes both modes refuse the late, older upsert.
        let report = sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 2, "zombie")])).await.unwrap();
        assert_eq!(report.stale, 1, "{mode:?}");
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let report = sink.apply(&ChangeBatch::from_events(vec![b.upsert(1, 2, "zombie")])).await.unwrap();
        let doc = get_doc(&url, &index, "1").await.unwrap().expect("soft tombstone or resurrected doc");
        if resurrects {
            assert_eq!(report.applied, 1, "hard delete: the tombstone expired ({mode:?})");
            assert_eq!(doc.0["name"], "zombie");
        } else {
            assert_eq!(report.stale, 1, "soft delete: the tombstone document still guards the key");
            assert_eq!(doc.0["_sluice_deleted"], true);
            assert_eq!(doc.1, 3, "the tombstone keeps the delete's version");
        }
    }
}
