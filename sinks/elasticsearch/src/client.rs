//! The HTTP client: a thin layer over the `elasticsearch` crate's transport
//! (connection pool over several nodes, auth, TLS, timeouts) that turns every
//! response into bytes or an [`EsError`].
//!
//! Requests go round-robin over the configured nodes
//! (`MultiNodeConnectionPool`); a failed request is not retried here but by
//! the caller, whose next attempt goes to the next node. Credentials live in
//! the transport only; this type's `Debug` shows the redacted URLs.

use std::fmt;
use std::time::Duration;

use elasticsearch::Elasticsearch;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::Method;
use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use elasticsearch::http::transport::{MultiNodeConnectionPool, SingleNodeConnectionPool, TransportBuilder};
use serde_json::{Map, Value as Json};
use sluice_sink_api::config::redact_url;
use url::Url;

use crate::config::{AuthConfig, ElasticsearchSinkConfig};
use crate::errors::EsError;

/// Only the item fields the sink reads are returned by `_bulk`.
const BULK_FILTER_PATH: &str =
    "items.*.status,items.*.result,items.*.error.type,items.*.error.reason,items.*.error.caused_by";

/// A document read back by [`EsClient::mget`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDoc {
    pub version: i64,
    pub source: Map<String, Json>,
}

/// See the module docs.
#[derive(Clone)]
pub struct EsClient {
    client: Elasticsearch,
    timeout: Duration,
    urls: Vec<String>,
}

impl fmt::Debug for EsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EsClient").field("urls", &self.urls).field("timeout", &self.timeout).finish()
    }
}

/// A URL path segment (index names may hold characters a URL path does not).
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `type: reason` from an Elasticsearch error body, or the body itself.
fn error_reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(json) = serde_json::from_slice::<Json>(body) {
        match &json["error"] {
            Json::Object(e) => {
                let ty = e.get("type").and_then(Json::as_str).unwrap_or("error");
                let reason = e.get("reason").and_then(Json::as_str).unwrap_or("");
                return format!("{ty}: {reason}");
            }
            Json::String(s) => return s.clone(),
            _ => {}
        }
    }
    text.chars().take(500).collect()
}

impl EsClient {
    /// Builds the client (reads the CA file and secrets). Errors are
    /// [`EsError::Setup`] (fatal).
    pub fn build(config: &ElasticsearchSinkConfig) -> Result<Self, EsError> {
        let mut urls = Vec::with_capacity(config.urls.len());
        for raw in &config.urls {
            let mut url = Url::parse(raw).map_err(|e| EsError::Setup(format!("node URL {}: {e}", redact_url(raw))))?;
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            urls.push(url);
        }
        let mut builder = match urls.len() {
            0 => return Err(EsError::Setup("no node URL".to_string())),
            1 => TransportBuilder::new(SingleNodeConnectionPool::new(urls[0].clone())),
            _ => TransportBuilder::new(MultiNodeConnectionPool::round_robin(urls.clone(), None)),
        };
        builder = builder.timeout(config.request_timeout);
        match &config.auth {
            Some(AuthConfig::Basic { username, password }) => {
                let password = password.expose().map_err(|e| EsError::Setup(format!("auth.password: {e}")))?;
                builder = builder.auth(Credentials::Basic(username.clone(), password));
            }
            Some(AuthConfig::ApiKey { id, key }) => {
                let key = key.expose().map_err(|e| EsError::Setup(format!("auth.key: {e}")))?;
                builder = builder.auth(match id {
                    Some(id) => Credentials::ApiKey(id.clone(), key),
                    None => Credentials::EncodedApiKey(key),
                });
            }
            None => {}
        }
        if config.tls.insecure_skip_verify {
            tracing::warn!("elasticsearch sink: TLS certificate verification is DISABLED (tls.insecure_skip_verify)");
            builder = builder.cert_validation(CertificateValidation::None);
        } else if let Some(path) = &config.tls.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| EsError::Setup(format!("tls.ca_file {}: {e}", path.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| EsError::Setup(format!("tls.ca_file {}: {e}", path.display())))?;
            builder = builder.cert_validation(CertificateValidation::Full(cert));
        }
        let transport = builder.build().map_err(|e| EsError::Setup(e.to_string()))?;
        Ok(EsClient {
            client: Elasticsearch::new(transport),
            timeout: config.request_timeout,
            urls: config.urls.iter().map(|u| redact_url(u)).collect(),
        })
    }

    /// One request; returns the status and body of any HTTP response.
    async fn request(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        ndjson: bool,
    ) -> Result<(u16, Vec<u8>), EsError> {
        let mut headers = HeaderMap::new();
        if ndjson {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        }
        let query = if query.is_empty() { None } else { Some(query) };
        let response = self
            .client
            .send(method, path, headers, query, body, Some(self.timeout))
            .await
            .map_err(|source| EsError::Transport { what: what.to_string(), source })?;
        let status = response.status_code().as_u16();
        let bytes = response.bytes().await.map_err(|source| EsError::Transport { what: what.to_string(), source })?;
        Ok((status, bytes.to_vec()))
    }

    fn check(what: &str, status: u16, body: &[u8]) -> Result<(), EsError> {
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(EsError::Status { what: what.to_string(), status, reason: error_reason(body) })
        }
    }

    /// `POST /_bulk` with an NDJSON body; the raw response body on 2xx.
    pub async fn bulk(&self, body: Vec<u8>) -> Result<Vec<u8>, EsError> {
        let (status, response) = self
            .request("_bulk", Method::Post, "/_bulk", &[("filter_path", BULK_FILTER_PATH)], Some(body), true)
            .await?;
        Self::check("_bulk", status, &response)?;
        Ok(response)
    }

    /// Whether `index` (or an alias of that name) exists.
    pub async fn index_exists(&self, index: &str) -> Result<bool, EsError> {
        let what = format!("HEAD /{index}");
        let (status, body) =
            self.request(&what, Method::Head, &format!("/{}", segment(index)), &[], None, false).await?;
        match status {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(EsError::Status { what, status, reason: error_reason(&body) }),
        }
    }

    /// Creates `index`; `Ok(false)` when it already existed.
    pub async fn create_index(&self, index: &str, body: &Json) -> Result<bool, EsError> {
        let what = format!("PUT /{index}");
        let bytes =
            serde_json::to_vec(body).map_err(|e| EsError::Protocol { what: what.clone(), reason: e.to_string() })?;
        let (status, response) =
            self.request(&what, Method::Put, &format!("/{}", segment(index)), &[], Some(bytes), false).await?;
        if status == 400 && error_reason(&response).starts_with("resource_already_exists_exception") {
            return Ok(false);
        }
        Self::check(&what, status, &response)?;
        Ok(true)
    }

    /// Reads documents by `(index, _id)`; `None` for a missing document or index.
    pub async fn mget(&self, docs: &[(String, String)]) -> Result<Vec<Option<StoredDoc>>, EsError> {
        let what = "_mget";
        let request: Vec<Json> =
            docs.iter().map(|(index, id)| serde_json::json!({"_index": index, "_id": id})).collect();
        let body = serde_json::to_vec(&serde_json::json!({ "docs": request }))
            .map_err(|e| EsError::Protocol { what: what.into(), reason: e.to_string() })?;
        let (status, response) = self.request(what, Method::Post, "/_mget", &[], Some(body), false).await?;
        Self::check(what, status, &response)?;
        let parsed: Json = serde_json::from_slice(&response)
            .map_err(|e| EsError::Protocol { what: what.into(), reason: e.to_string() })?;
        let items = parsed["docs"].as_array().filter(|d| d.len() == docs.len()).ok_or_else(|| EsError::Protocol {
            what: what.into(),
            reason: format!("expected {} docs in {}", docs.len(), String::from_utf8_lossy(&response)),
        })?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(error) = item.get("error") {
                if error["type"] == "index_not_found_exception" {
                    out.push(None);
                    continue;
                }
                return Err(EsError::Protocol { what: what.into(), reason: error.to_string() });
            }
            out.push(match (item["found"].as_bool(), item["_version"].as_i64(), item["_source"].as_object()) {
                (Some(true), Some(version), Some(source)) => Some(StoredDoc { version, source: source.clone() }),
                _ => None,
            });
        }
        Ok(out)
    }

    /// `GET /_cluster/health`: the status (`green`, `yellow`, `red`).
    pub async fn cluster_health(&self) -> Result<String, EsError> {
        let what = "_cluster/health";
        let (status, body) = self.request(what, Method::Get, "/_cluster/health", &[], None, false).await?;
        Self::check(what, status, &body)?;
        let parsed: Json = serde_json::from_slice(&body)
            .map_err(|e| EsError::Protocol { what: what.into(), reason: e.to_string() })?;
        parsed["status"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| EsError::Protocol { what: what.into(), reason: "no `status` field".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        assert_eq!(
            error_reason(br#"{"error":{"type":"security_exception","reason":"missing authentication"},"status":401}"#),
            "security_exception: missing authentication"
        );
        assert_eq!(
            error_reason(br#"{"error":"Content-Type not supported","status":406}"#),
            "Content-Type not supported"
        );
        assert_eq!(error_reason(b"<html>bad gateway</html>"), "<html>bad gateway</html>");
    }

    #[test]
    fn tls_setup_errors_name_the_file() {
        let mut config = ElasticsearchSinkConfig::new(vec!["https://127.0.0.1:1".into()]);
        config.tls.ca_file = Some("/nonexistent/ca.pem".into());
        let err = EsClient::build(&config).unwrap_err();
        assert!(matches!(&err, EsError::Setup(m) if m.contains("/nonexistent/ca.pem")), "{err}");
        assert_eq!(err.class(), sluice_sink_api::ErrorClass::Fatal);
        let garbage = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(garbage.path(), "not a certificate").unwrap();
        config.tls.ca_file = Some(garbage.path().to_path_buf());
        assert!(EsClient::build(&config).is_err());
        config.tls.ca_file = None;
        config.tls.insecure_skip_verify = true;
        EsClient::build(&config).unwrap();
    }

    #[test]
    fn debug_hides_secrets() {
        let mut config = ElasticsearchSinkConfig::new(vec!["http://127.0.0.1:1".into(), "http://127.0.0.1:2".into()]);
        config.auth = Some(AuthConfig::Basic {
            username: "elastic".into(),
            password: sluice_sink_api::Secret::literal("hunter2"),
        });
        let client = EsClient::build(&config).unwrap();
        assert!(!format!("{client:?}").contains("hunter2"));
    }
}
