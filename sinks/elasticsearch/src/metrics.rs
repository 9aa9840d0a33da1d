//! Metric names of the Elasticsearch sink (all `pub const`, listed in
//! `docs/elasticsearch-sink.md`). Labels are low-cardinality: `sink` (the
//! sink's configured name), `index` (one per table), `result`, `outcome`, `reason`.

use std::time::Duration;

/// Counter: documents by outcome. Labels `sink`, `index`, `result` =
/// `applied` | `stale` | `rejected`.
pub const DOCUMENTS_TOTAL: &str = "sluice_es_documents_total";
/// Histogram (seconds): duration of one `_bulk` request. Label `sink`.
pub const BULK_REQUEST_DURATION_SECONDS: &str = "sluice_es_bulk_request_duration_seconds";
/// Counter: `_bulk` requests. Labels `sink`, `outcome` = `ok` | `error`.
pub const BULK_REQUESTS_TOTAL: &str = "sluice_es_bulk_requests_total";
/// Counter: items sent again after a transient failure. Labels `sink`,
/// `reason` = `item` (429/5xx item status) | `request` (connection error,
/// timeout, 5xx of the whole request).
pub const RETRIED_ITEMS_TOTAL: &str = "sluice_es_retried_items_total";
/// Counter: indexes created by the sink. Label `sink`.
pub const INDEXES_CREATED_TOTAL: &str = "sluice_es_indexes_created_total";
/// Counter: documents whose unavailable (TOAST) columns were merged from the
/// stored document. Label `sink`.
pub const UNAVAILABLE_MERGED_TOTAL: &str = "sluice_es_unavailable_merged_total";

/// Counts documents of one index by result.
pub fn documents(sink: &str, index: &str, result: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!(DOCUMENTS_TOTAL, "sink" => sink.to_string(), "index" => index.to_string(), "result" => result)
            .increment(n);
    }
}

/// Records one `_bulk` request.
pub fn bulk_request(sink: &str, elapsed: Duration, ok: bool) {
    metrics::histogram!(BULK_REQUEST_DURATION_SECONDS, "sink" => sink.to_string()).record(elapsed.as_secs_f64());
    metrics::counter!(BULK_REQUESTS_TOTAL, "sink" => sink.to_string(), "outcome" => if ok { "ok" } else { "error" })
        .increment(1);
}

/// Counts items about to be retried.
pub fn retried(sink: &str, reason: &'static str, n: usize) {
    metrics::counter!(RETRIED_ITEMS_TOTAL, "sink" => sink.to_string(), "reason" => reason).increment(n as u64);
}

pub fn index_created(sink: &str) {
    metrics::counter!(INDEXES_CREATED_TOTAL, "sink" => sink.to_string()).increment(1);
}

pub fn unavailable_merged(sink: &str, n: u64) {
    if n > 0 {
        metrics::counter!(UNAVAILABLE_MERGED_TOTAL, "sink" => sink.to_string()).increment(n);
    }
}
