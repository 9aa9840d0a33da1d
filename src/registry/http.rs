//! The Confluent Schema Registry REST API over HTTP(S): the production
//! [`SchemaSource`].
//!
//! A small `reqwest` client (rustls, the workspace's HTTP stack) rather than
//! `schema_registry_converter`'s async client, because sluice needs what that
//! client does not give: (1) one classification of failures into *final*
//! (the registry says the id does not exist: 40401/40402/40403) and
//! *unavailable* (everything else, including 401/403, 5xx, timeouts and a
//! 404 without a registry error body), where that crate reports only
//! "retriable" for 502/503 and folds the rest into one error string;
//! (2) a CA file and basic auth on the workspace's reqwest 0.12 + ring stack
//! (that crate is built on reqwest 0.13, whose rustls feature brings a second
//! TLS stack, aws-lc); (3) no cache of its own — [`super::SchemaRegistry`]
//! owns caching and the outage policy. Requests are never retried here.
//!
//! The password is held only inside the client, never in `Debug` output,
//! logs or error messages; URLs in messages have their password redacted.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use sluice_sink_api::Secret;
use sluice_sink_api::config::redact_url;

use super::source::{FetchError, FetchedSchema, SchemaSource};

/// The media types the registry answers with.
const ACCEPT_REGISTRY: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";

/// Connection settings (from `[schema_registry]`).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Base URL, e.g. `https://registry:8081` (a path prefix is kept).
    pub url: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// PEM file of the CA that signs the registry's certificate (added to the
    /// public web roots).
    pub ca_file: Option<PathBuf>,
    /// Whole-request timeout (connect + answer).
    pub request_timeout: Duration,
}

/// The client could not be built from its settings (a configuration error).
#[derive(Debug, thiserror::Error)]
#[error("schema_registry: {0}")]
pub struct SetupError(pub String);

struct BasicAuth {
    username: String,
    password: Option<String>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth").field("username", &self.username).field("password", &"***").finish()
    }
}

/// The registry's error body: `{"error_code": 40403, "message": "Schema not found"}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error_code: i64,
    #[serde(default)]
    message: String,
}

/// A Confluent Schema Registry reached over HTTP(S).
#[derive(Debug)]
pub struct HttpRegistry {
    client: reqwest::Client,
    base: url::Url,
    /// The base URL with its password redacted, for messages.
    shown: String,
    auth: Option<BasicAuth>,
}

impl HttpRegistry {
    /// Builds the client (no request is sent).
    pub fn new(settings: &HttpSettings) -> Result<Self, SetupError> {
        let mut base = url::Url::parse(&settings.url)
            .map_err(|e| SetupError(format!("url {}: {e}", redact_url(&settings.url))))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(SetupError(format!("url {}: expected an http:// or https:// URL", redact_url(&settings.url))));
        }
        if let Ok(mut segments) = base.path_segments_mut() {
            segments.pop_if_empty();
        }
        let shown = redact_url(base.as_str()).trim_end_matches('/').to_string();
        let password = match &settings.password {
            Some(secret) => Some(secret.expose().map_err(|e| SetupError(format!("password: {e}")))?),
            None => None,
        };
        let auth = settings.username.clone().map(|username| BasicAuth { username, password });
        let mut builder = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| SetupError(format!("ca_file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| SetupError(format!("ca_file {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(SetupError(format!("ca_file {}: no PEM certificate in the file", path.display())));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| SetupError(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpRegistry { client, base, shown, auth })
    }

    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    async fn get(&self, url: url::Url, what: String) -> Result<FetchedSchema, FetchError> {
        let mut request = self.client.get(url).header(ACCEPT, ACCEPT_REGISTRY);
        if let Some(auth) = &self.auth {
            request = request.basic_auth(&auth.username, auth.password.as_deref());
        }
        let shown = &self.shown;
        let unavailable = |detail: String| FetchError::Unavailable(format!("{what}: {detail}"));
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(format!("request to {shown} failed: {}", describe(&e.without_url()))))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(format!("reading the answer of {shown}: {}", describe(&e.without_url()))))?;
        if status.is_success() {
            return serde_json::from_slice::<FetchedSchema>(&body)
                .map_err(|e| unavailable(format!("unreadable answer from {shown} (HTTP {status}): {e}")));
        }
        let error = serde_json::from_slice::<ErrorBody>(&body).ok();
        let detail = match &error {
            Some(e) => format!("HTTP {status}, error_code {}: {}", e.error_code, e.message),
            None => format!("HTTP {status}"),
        };
        match (status.as_u16(), error) {
            (404, Some(e)) if matches!(e.error_code, 40401..=40403) => {
                Err(FetchError::NotFound(format!("{what}: the registry at {shown} answered {detail}")))
            }
            (404, None) => Err(unavailable(format!(
                "{shown} answered {detail} without a Schema Registry error body: is schema_registry.url right?"
            ))),
            (401 | 403, _) => Err(unavailable(format!(
                "{shown} refused the credentials ({detail}): check schema_registry.username and password"
            ))),
            _ => Err(unavailable(format!("{shown} answered {detail}"))),
        }
    }
}

/// A reqwest error with its causes (`error sending request: connection refused`).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl SchemaSource for HttpRegistry {
    fn schema_by_id(&self, id: u32) -> BoxFuture<'_, Result<FetchedSchema, FetchError>> {
        let url = self.url(&["schemas", "ids", &id.to_string()]);
        Box::pin(self.get(url, format!("schema id {id}")))
    }

    fn schema_by_version<'a>(
        &'a self,
        subject: &'a str,
        version: i32,
    ) -> BoxFuture<'a, Result<FetchedSchema, FetchError>> {
        let url = self.url(&["subjects", subject, "versions", &version.to_string()]);
        Box::pin(self.get(url, format!("subject {subject:?} version {version}")))
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> HttpSettings {
        HttpSettings {
            url: url.into(),
            username: Some("svc".into()),
            password: Some(Secret::literal("hunter2")),
            ca_file: None,
            request_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn urls_keep_the_prefix_and_escape_subjects() {
        let r = HttpRegistry::new(&settings("https://user:pw@sr.example:8081/prefix/")).unwrap();
        assert_eq!(r.url(&["schemas", "ids", "7"]).as_str(), "https://user:pw@sr.example:8081/prefix/schemas/ids/7");
        assert_eq!(
            r.url(&["subjects", "a/b c-value", "versions", "1"]).path(),
            "/prefix/subjects/a%2Fb%20c-value/versions/1"
        );
        assert_eq!(r.describe(), "https://user:***@sr.example:8081/prefix");
        let debug = format!("{r:?}");
        assert!(!debug.contains("hunter2") && !debug.contains(":pw@"), "{debug}");
    }

    #[test]
    fn bad_settings_are_setup_errors() {
        assert!(HttpRegistry::new(&settings("ftp://x")).unwrap_err().to_string().contains("http:// or https://"));
        let mut s = settings("http://x");
        s.ca_file = Some("/nonexistent/ca.pem".into());
        assert!(HttpRegistry::new(&s).unwrap_err().to_string().contains("ca_file /nonexistent/ca.pem"));
        let garbage = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(garbage.path(), "not a certificate").unwrap();
        s.ca_file = Some(garbage.path().to_path_buf());
        assert!(HttpRegistry::new(&s).is_err());
    }
}
