//! Shared helpers of the integration tests: a sink against osmem-server, a
//! state reader that GETs documents back, unique names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as Json;
use sluice_sink_api::conformance::StateReader;
use sluice_sink_api::{Row, TableId, Value};
use sluice_sink_elasticsearch::{DELETED_FIELD, ElasticsearchSink, ElasticsearchSinkConfig};

/// The shared osmem-server, checked reachable (fails loudly otherwise).
pub async fn es_url() -> String {
    let url = sluice_testkit::es_url();
    sluice_testkit::require("osmem-server", &url).await;
    url
}

/// A name unique to this test process and call (index prefixes).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{prefix}{}x{}x{}", std::process::id(), nanos % 1_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A config for tests: fast retries, small indexes.
pub fn config(url: &str) -> ElasticsearchSinkConfig {
    let mut c = ElasticsearchSinkConfig::new(vec![url.to_string()]);
    c.retry.initial_backoff = Duration::from_millis(50);
    c.retry.max_backoff = Duration::from_millis(400);
    c.retry.retry_for = Duration::from_secs(5);
    c.request_timeout = Duration::from_secs(10);
    c
}

pub fn sink(config: ElasticsearchSinkConfig) -> ElasticsearchSink {
    ElasticsearchSink::new("es-test", config).expect("build sink")
}

/// GETs `/{index}/_doc/{id}`: the `_source` and `_version` of a live document.
pub async fn get_doc(base: &str, index: &str, id: &str) -> Result<Option<(Json, i64)>, String> {
    let url = format!("{base}/{index}/_doc/{id}");
    let response = reqwest::get(&url).await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status().as_u16();
    let body: Json = response.json().await.map_err(|e| format!("GET {url}: {e}"))?;
    if status == 404 || body["found"] == Json::Bool(false) {
        return Ok(None);
    }
    if status != 200 {
        return Err(format!("GET {url}: HTTP {status}: {body}"));
    }
    Ok(Some((body["_source"].clone(), body["_version"].as_i64().unwrap_or(-1))))
}

/// Reads rows back for the conformance suite: `id` as Int, strings as Text;
/// a soft-delete tombstone reads as absent.
pub struct EsReader<'a> {
    pub base: String,
    pub sink: &'a ElasticsearchSink,
}

#[async_trait]
impl StateReader for EsReader<'_> {
    async fn read(&self, table: &TableId, key: &Row) -> Result<Option<Row>, String> {
        let index = self.sink.index_for(table, "")?;
        let id = self.sink.doc_id(table, key)?;
        let Some((source, _)) = get_doc(&self.base, &index, &id).await? else { return Ok(None) };
        let object = source.as_object().ok_or("_source is not an object")?;
        if object.get(DELETED_FIELD) == Some(&Json::Bool(true)) {
            return Ok(None);
        }
        let mut row = Row::new();
        for (name, value) in object {
            let value = match value {
                Json::Number(n) if n.is_i64() => Value::Int(n.as_i64().unwrap_or_default()),
                Json::String(s) => Value::Text(s.clone()),
                Json::Null => Value::Null,
                other => Value::Json(other.clone()),
            };
            row.insert(name.clone(), value);
        }
        Ok(Some(row))
    }
}
