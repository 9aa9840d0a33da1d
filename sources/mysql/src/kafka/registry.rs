//! Schema registration in a Confluent Schema Registry, for the Avro output.
//!
//! # Contract
//!
//! * Subjects follow Confluent's TopicNameStrategy: `<topic>-key` and
//!   `<topic>-value`. A schema is registered with
//!   `POST {url}/subjects/{subject}/versions` `{"schema": "<Avro schema text>"}`,
//!   which answers `{"id": N}` (the existing id when the schema is known).
//! * Failures are classified: the registry unreachable, a timeout, HTTP 5xx,
//!   408 or 429, or an unreadable answer are **transient** — [`Registry::register`]
//!   retries them with exponential backoff (the source pauses, nothing after
//!   the record is sent or stored) for `unavailable_retry`, then gives up with
//!   a transient error; any other 4xx (409 incompatible, 422 invalid schema,
//!   401/403 credentials) is **permanent**: a fatal error naming the subject
//!   and the registry's own message.
//! * The password is held only inside the client: never in `Debug` output,
//!   logs or messages; URLs in messages have their password redacted.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use sluice_sink_api::config::redact_url;
use tracing::warn;

use crate::config::RegistryConfig;
use crate::error::SourceError;

const CONTENT: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT_REGISTRY: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";
/// First and longest wait between registration attempts.
const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// One failed registration attempt.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegisterError {
    /// Worth retrying: the registry is unreachable or overloaded.
    #[error("{0}")]
    Unavailable(String),
    /// The registry refused the schema (or the credentials).
    #[error("{0}")]
    Refused(String),
}

struct BasicAuth {
    username: String,
    password: Option<String>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth").field("username", &self.username).field("password", &"***").finish()
    }
}

/// The registry's error body: `{"error_code": 42201, "message": "Invalid schema"}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error_code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct Registered {
    id: u32,
}

/// A Schema Registry client that registers schemas (see the module docs).
#[derive(Debug)]
pub struct Registry {
    client: reqwest::Client,
    base: url::Url,
    /// The base URL with its password redacted.
    shown: String,
    auth: Option<BasicAuth>,
    unavailable_retry: Duration,
}

fn config_error(message: String) -> SourceError {
    SourceError::Config(format!("kafka.schema_registry: {message}"))
}

impl Registry {
    /// Builds the client (no request is sent).
    pub fn new(config: &RegistryConfig) -> Result<Self, SourceError> {
        let mut base =
            url::Url::parse(&config.url).map_err(|e| config_error(format!("url {}: {e}", redact_url(&config.url))))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(config_error(format!("url {}: expected an http:// or https:// URL", redact_url(&config.url))));
        }
        if let Ok(mut segments) = base.path_segments_mut() {
            segments.pop_if_empty();
        }
        let shown = redact_url(base.as_str()).trim_end_matches('/').to_string();
        let password = match &config.password {
            Some(secret) => Some(secret.expose().map_err(|e| config_error(format!("password: {e}")))?),
            None => None,
        };
        let auth = config.username.clone().map(|username| BasicAuth { username, password });
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|e| config_error(format!("ca_file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| config_error(format!("ca_file {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(config_error(format!("ca_file {}: no PEM certificate in the file", path.display())));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        Ok(Registry { client, base, shown, auth, unavailable_retry: config.unavailable_retry })
    }

    /// The registry's URL (password redacted), for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// One registration attempt of `schema` (Avro schema text) under `subject`.
    pub async fn register_once(&self, subject: &str, schema: &str) -> Result<u32, RegisterError> {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(["subjects", subject, "versions"]);
        }
        let body = serde_json::json!({ "schema": schema }).to_string();
        let mut request =
            self.client.post(url).header(ACCEPT, ACCEPT_REGISTRY).header(CONTENT_TYPE, CONTENT).body(body);
        if let Some(auth) = &self.auth {
            request = request.basic_auth(&auth.username, auth.password.as_deref());
        }
        let shown = &self.shown;
        let unavailable = |detail: String| RegisterError::Unavailable(format!("subject {subject:?}: {detail}"));
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
            return serde_json::from_slice::<Registered>(&body)
                .map(|r| r.id)
                .map_err(|e| unavailable(format!("unreadable answer from {shown} (HTTP {status}): {e}")));
        }
        let detail = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => format!("HTTP {status}, error_code {}: {}", e.error_code, e.message),
            Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)])),
        };
        let code = status.as_u16();
        if status.is_server_error() || code == 408 || code == 429 {
            Err(unavailable(format!("{shown} answered {detail}")))
        } else {
            Err(RegisterError::Refused(format!(
                "subject {subject:?}: the registry at {shown} refused the schema: {detail}"
            )))
        }
    }

    /// Registers `schema` under `subject`, retrying while the registry is
    /// unavailable (see the module docs).
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, SourceError> {
        let started = Instant::now();
        let mut wait = BACKOFF_INITIAL;
        loop {
            match self.register_once(subject, schema).await {
                Ok(id) => return Ok(id),
                Err(RegisterError::Refused(message)) => {
                    return Err(SourceError::Registry { message, transient: false });
                }
                Err(RegisterError::Unavailable(message)) => {
                    if started.elapsed() + wait > self.unavailable_retry {
                        return Err(SourceError::Registry {
                            message: format!(
                                "{message} (still unavailable after {}s of retries)",
                                started.elapsed().as_secs()
                            ),
                            transient: true,
                        });
                    }
                    warn!(%message, retry_in = ?wait, "schema registry unavailable; the source pauses");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(BACKOFF_MAX);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sink_api::Secret;

    #[tokio::test]
    async fn registers_classifies_and_hides_the_password() {
        let double = sluice_testkit::schema_registry::SchemaRegistryDouble::start().await;
        let mut config = RegistryConfig::new(&double.url());
        config.username = Some("u".into());
        config.password = Some(Secret::literal("hunter2"));
        config.unavailable_retry = Duration::from_millis(500);
        let registry = Registry::new(&config).unwrap();
        assert!(!format!("{registry:?}").contains("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        let schema = r#"{"type":"record","name":"K","fields":[{"name":"id","type":"int"}]}"#;
        let id = registry.register("t-key", schema).await.unwrap();
        assert_eq!(registry.register("t-key", schema).await.unwrap(), id, "the same schema keeps its id");
        // 422: not a schema -> refused, naming the subject and the registry's message.
        let e = registry.register("t-value", "not json").await.unwrap_err();
        assert!(!e.is_transient(), "{e}");
        assert!(e.to_string().contains("t-value") && e.to_string().contains("422"), "{e}");
        // 503 -> retried, then a transient error.
        double.set_unavailable(true);
        let started = Instant::now();
        let e = registry.register("t-key", schema).await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(started.elapsed() >= Duration::from_millis(200), "retried with backoff");
        assert!(!e.to_string().contains("hunter2"));
        // back: the same registration succeeds
        double.set_unavailable(false);
        assert_eq!(registry.register("t-key", schema).await.unwrap(), id);
    }
}
