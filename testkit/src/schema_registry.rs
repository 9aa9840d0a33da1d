//! A **test double** of the Confluent Schema Registry: an HTTP server speaking
//! the REST subset sluice and the Confluent clients use, with switches to
//! make it unavailable. It is not a registry: no compatibility checks, no
//! persistence, no deletes, no modes/configs. Schemas are stored as given.
//!
//! Endpoints (Confluent's paths, bodies and error codes):
//!
//! | request | answer |
//! |---|---|
//! | `POST /subjects/{subject}/versions` `{"schema", "schemaType"?, "references"?}` | `{"id"}`; the same schema (JSON whitespace aside) gets the same id, in any subject; 422/42201 for a schema that is not JSON |
//! | `POST /subjects/{subject}` (lookup) | `{"subject", "version", "id", "schema"}`; 40401 / 40403 |
//! | `GET /schemas/ids/{id}` | `{"schema", "schemaType"? (absent for AVRO), "references"?}`; 404 `{"error_code":40403,"message":"Schema {id} not found"}` |
//! | `GET /schemas/ids/{id}/subjects` | `["subject", …]` |
//! | `GET /subjects`, `GET /subjects/{subject}/versions` | names, version numbers; 40401 |
//! | `GET /subjects/{subject}/versions/{n \| latest}` | `{"subject", "version", "id", "schema", …}`; 40401 subject, 40402 version |
//! | anything else | 404 `{"error_code":404,"message":"HTTP 404 Not Found"}` |
//!
//! Switches: [`SchemaRegistryDouble::refuse_connections`] closes the listening
//! socket (clients see "connection refused") until
//! [`SchemaRegistryDouble::accept_connections`]; [`SchemaRegistryDouble::set_unavailable`]
//! answers every request with 503/50003; [`SchemaRegistryDouble::set_hanging`] never answers;
//! [`SchemaRegistryDouble::require_basic_auth`] answers 401/40101 without the right credentials.
//! Every response carries `Connection: close`, so a switch takes effect on the next
//! request (no pooled connection outlives it). Requests are logged for assertions.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The media type the registry answers with.
pub const REGISTRY_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, Clone)]
struct Stored {
    id: u32,
    /// The schema text as registered.
    schema: String,
    /// Normalized identity: type, compact schema JSON, references.
    identity: String,
    schema_type: Option<String>,
    references: Vec<Json>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u32,
    schemas: Vec<Stored>,
    /// subject → ids, version n at index n-1.
    subjects: BTreeMap<String, Vec<u32>>,
    unavailable: bool,
    hanging: bool,
    /// Expected `Authorization` header value.
    auth: Option<String>,
    requests: Vec<String>,
}

impl State {
    fn by_id(&self, id: u32) -> Option<&Stored> {
        self.schemas.iter().find(|s| s.id == id)
    }

    fn register(&mut self, subject: &str, schema: &str, schema_type: Option<String>, references: Vec<Json>) -> u32 {
        let compact =
            serde_json::from_str::<Json>(schema).map(|j| j.to_string()).unwrap_or_else(|_| schema.to_string());
        let identity = format!(
            "{}|{}|{}",
            schema_type.as_deref().unwrap_or("AVRO").to_ascii_uppercase(),
            compact,
            Json::Array(references.clone())
        );
        let id = match self.schemas.iter().find(|s| s.identity == identity) {
            Some(existing) => existing.id,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.schemas.push(Stored { id, schema: schema.to_string(), identity, schema_type, references });
                id
            }
        };
        let versions = self.subjects.entry(subject.to_string()).or_default();
        if !versions.contains(&id) {
            versions.push(id);
        }
        id
    }
}

/// The test double; see the module docs. Dropping it stops the server.
#[derive(Debug)]
pub struct SchemaRegistryDouble {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: Mutex<Option<JoinHandle<()>>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    match state.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl SchemaRegistryDouble {
    /// Starts the double on an ephemeral port; schema ids start at 1.
    pub async fn start() -> Self {
        Self::start_with_first_id(1).await
    }

    /// Starts the double with schema ids counting up from `first_id` (e.g. a
    /// large id, so that every byte of the 4-byte wire id matters).
    pub async fn start_with_first_id(first_id: u32) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the schema registry double");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State { next_id: first_id, ..State::default() }));
        let server = serve(listener, state.clone());
        SchemaRegistryDouble { addr, state, server: Mutex::new(Some(server)) }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers an Avro schema under `subject` without HTTP; returns its id.
    pub fn register(&self, subject: &str, schema: &str) -> u32 {
        lock(&self.state).register(subject, schema, None, Vec::new())
    }

    /// Registers a schema with a type (`PROTOBUF`, `JSON`) and references.
    pub fn register_with(&self, subject: &str, schema: &str, schema_type: Option<&str>, references: Vec<Json>) -> u32 {
        lock(&self.state).register(subject, schema, schema_type.map(str::to_string), references)
    }

    /// While `on`, every request is answered `503 {"error_code":50003,…}`.
    pub fn set_unavailable(&self, on: bool) {
        lock(&self.state).unavailable = on;
    }

    /// While `on`, requests are never answered (clients time out).
    pub fn set_hanging(&self, on: bool) {
        lock(&self.state).hanging = on;
    }

    /// Requires HTTP basic auth with these credentials (401 otherwise).
    pub fn require_basic_auth(&self, username: &str, password: &str) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        lock(&self.state).auth = Some(format!("Basic {token}"));
    }

    /// Closes the listening socket: new connections are refused until
    /// [`SchemaRegistryDouble::accept_connections`].
    pub fn refuse_connections(&self) {
        if let Some(server) = self.server.lock().ok().and_then(|mut s| s.take()) {
            server.abort();
        }
    }

    /// Listens again on the same port after [`SchemaRegistryDouble::refuse_connections`].
    pub async fn accept_connections(&self) {
        if self.server.lock().map(|s| s.is_some()).unwrap_or(false) {
            return;
        }
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if attempts < 100 => {
                    attempts += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("rebinding the schema registry double on {}: {e}", self.addr),
            }
        };
        let server = serve(listener, self.state.clone());
        if let Ok(mut slot) = self.server.lock() {
            *slot = Some(server);
        }
    }

    /// Every request so far, as `METHOD /path`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// How many times `GET /schemas/ids/{id}` was requested.
    pub fn id_lookups(&self, id: u32) -> usize {
        let path = format!("GET /schemas/ids/{id}");
        lock(&self.state).requests.iter().filter(|r| **r == path).count()
    }
}

impl Drop for SchemaRegistryDouble {
    fn drop(&mut self) {
        self.refuse_connections();
    }
}

fn serve(listener: TcpListener, state: Arc<Mutex<State>>) -> JoinHandle<()> {
    let app = Router::new().fallback(handle).with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

fn answer(status: StatusCode, body: Json) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(REGISTRY_CONTENT_TYPE));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn error(status: StatusCode, code: u32, message: impl Into<String>) -> Response {
    answer(status, json!({"error_code": code, "message": message.into()}))
}

fn not_found_route() -> Response {
    error(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found")
}

/// Percent-decodes one path segment (`a%2Fb` → `a/b`).
fn decode_segment(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn schema_body(stored: &Stored, extra: &[(&str, Json)]) -> Json {
    let mut body = serde_json::Map::new();
    for (k, v) in extra {
        body.insert((*k).to_string(), v.clone());
    }
    body.insert("schema".into(), Json::String(stored.schema.clone()));
    if let Some(t) = stored.schema_type.as_ref().filter(|t| !t.eq_ignore_ascii_case("AVRO")) {
        body.insert("schemaType".into(), Json::String(t.clone()));
    }
    if !stored.references.is_empty() {
        body.insert("references".into(), Json::Array(stored.references.clone()));
    }
    Json::Object(body)
}

async fn handle(
    AxumState(state): AxumState<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (hanging, unavailable, auth) = {
        let mut s = lock(&state);
        s.requests.push(format!("{method} {}", uri.path()));
        (s.hanging, s.unavailable, s.auth.clone())
    };
    if hanging {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if unavailable {
        return error(StatusCode::SERVICE_UNAVAILABLE, 50003, "Error while forwarding the request to the leader");
    }
    if let Some(expected) = auth {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return error(StatusCode::UNAUTHORIZED, 40101, "Unauthorized");
        }
    }
    let segments: Vec<String> = uri.path().trim_matches('/').split('/').map(decode_segment).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut s = lock(&state);
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["subjects", subject, "versions"]) => {
            let request: Json = match serde_json::from_slice(&body) {
                Ok(j) => j,
                Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("Invalid schema: {e}")),
            };
            let Some(schema) = request.get("schema").and_then(Json::as_str) else {
                return error(StatusCode::UNPROCESSABLE_ENTITY, 42201, "Invalid schema: no \"schema\" string");
            };
            let schema_type = request.get("schemaType").and_then(Json::as_str).map(str::to_string);
            let avro = schema_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("AVRO"));
            if avro && let Err(e) = serde_json::from_str::<Json>(schema) {
                return error(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("Invalid schema: {e}"));
            }
            let references = request.get("references").and_then(Json::as_array).cloned().unwrap_or_default();
            let id = s.register(subject, schema, schema_type, references);
            answer(StatusCode::OK, json!({"id": id}))
        }
        ("POST", ["subjects", subject]) => {
            let Some(ids) = s.subjects.get(*subject) else {
                return error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found."));
            };
            let request: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
            let wanted = request.get("schema").and_then(Json::as_str).unwrap_or_default();
            let wanted = serde_json::from_str::<Json>(wanted).map(|j| j.to_string()).unwrap_or_default();
            let found = ids.iter().enumerate().find_map(|(i, id)| {
                let stored = s.by_id(*id)?;
                let compact = serde_json::from_str::<Json>(&stored.schema).map(|j| j.to_string()).ok()?;
                (compact == wanted).then(|| (i + 1, stored))
            });
            match found {
                Some((version, stored)) => answer(
                    StatusCode::OK,
                    schema_body(
                        stored,
                        &[("subject", json!(subject)), ("version", json!(version)), ("id", json!(stored.id))],
                    ),
                ),
                None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
            }
        }
        ("GET", ["schemas", "ids", id]) => match id.parse::<u32>().ok().and_then(|id| s.by_id(id)) {
            Some(stored) => answer(StatusCode::OK, schema_body(stored, &[])),
            None => error(StatusCode::NOT_FOUND, 40403, format!("Schema {id} not found")),
        },
        ("GET", ["schemas", "ids", id, "subjects"]) => match id.parse::<u32>().ok().and_then(|id| s.by_id(id)) {
            Some(stored) => {
                let subjects: Vec<&String> =
                    s.subjects.iter().filter(|(_, ids)| ids.contains(&stored.id)).map(|(name, _)| name).collect();
                answer(StatusCode::OK, json!(subjects))
            }
            None => error(StatusCode::NOT_FOUND, 40403, format!("Schema {id} not found")),
        },
        ("GET", ["subjects"]) => answer(StatusCode::OK, json!(s.subjects.keys().collect::<Vec<_>>())),
        ("GET", ["subjects", subject, "versions"]) => match s.subjects.get(*subject) {
            Some(ids) => answer(StatusCode::OK, json!((1..=ids.len()).collect::<Vec<_>>())),
            None => error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found.")),
        },
        ("GET", ["subjects", subject, "versions", version]) => {
            let Some(ids) = s.subjects.get(*subject) else {
                return error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found."));
            };
            let index = match *version {
                "latest" | "-1" => ids.len().checked_sub(1),
                n => n.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).filter(|i| *i < ids.len()),
            };
            match index.and_then(|i| s.by_id(ids[i]).map(|stored| (i + 1, stored))) {
                Some((n, stored)) => answer(
                    StatusCode::OK,
                    schema_body(
                        stored,
                        &[("subject", json!(subject)), ("version", json!(n)), ("id", json!(stored.id))],
                    ),
                ),
                None => error(StatusCode::NOT_FOUND, 40402, format!("Version {version} not found.")),
            }
        }
        _ => not_found_route(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(decode_segment("a%2Fb%20c-value"), "a/b c-value");
        assert_eq!(decode_segment("100%"), "100%");
        assert_eq!(decode_segment("%zz"), "%zz");
    }
}
