//! Where schemas come from: the [`SchemaSource`] trait (the registry's REST
//! API in production, fixed or failing doubles in unit tests) and the
//! classification of its failures.
//!
//! Only two outcomes of a lookup are final: the schema, or
//! [`FetchError::NotFound`] — the registry itself answered that the id (or
//! subject version) does not exist (Confluent `error_code` 40403, 40401,
//! 40402). Everything else — connection refused, timeouts, 5xx, 429, 401/403,
//! a 404 without a registry error body, an unreadable answer — is
//! [`FetchError::Unavailable`]: retried, never taken as proof that a schema
//! does not exist.

use std::fmt;

use futures::future::BoxFuture;
use serde::Deserialize;

/// A schema as the registry returns it (`GET /schemas/ids/{id}`,
/// `GET /subjects/{subject}/versions/{version}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchedSchema {
    /// The schema text (for Avro, its JSON).
    pub schema: String,
    /// `AVRO` when absent (the registry omits it for Avro), `PROTOBUF`, `JSON`.
    #[serde(default)]
    pub schema_type: Option<String>,
    /// Schemas this one refers to by name (named types defined elsewhere).
    #[serde(default)]
    pub references: Vec<SchemaReference>,
}

impl FetchedSchema {
    /// An Avro schema without references.
    pub fn avro(schema: impl Into<String>) -> Self {
        FetchedSchema { schema: schema.into(), schema_type: None, references: Vec::new() }
    }

    /// The schema type, `AVRO` when the registry did not say.
    pub fn schema_type(&self) -> &str {
        self.schema_type.as_deref().unwrap_or("AVRO")
    }
}

/// A reference from one schema to a subject version holding named types it uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct SchemaReference {
    /// The name the referring schema uses (for Avro, the named type's full name).
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The registry answered that the id or subject version does not exist:
    /// final (records using it are dead-lettered with class `decode`).
    #[error("{0}")]
    NotFound(String),
    /// The registry could not be asked, or did not answer usefully: retried.
    #[error("{0}")]
    Unavailable(String),
}

/// A source of schemas by id and by subject version.
///
/// Implementations never panic and classify every failure as described in
/// the module docs. They do not retry: the caller ([`super::SchemaRegistry`])
/// owns the retry policy.
pub trait SchemaSource: Send + Sync + fmt::Debug {
    /// `GET /schemas/ids/{id}`.
    fn schema_by_id(&self, id: u32) -> BoxFuture<'_, Result<FetchedSchema, FetchError>>;

    /// `GET /subjects/{subject}/versions/{version}` (for schema references).
    fn schema_by_version<'a>(
        &'a self,
        subject: &'a str,
        version: i32,
    ) -> BoxFuture<'a, Result<FetchedSchema, FetchError>>;

    /// Where the schemas come from, for messages (credentials redacted).
    fn describe(&self) -> String;
}

/// A fixed set of schemas by id (no network): for tools, benchmarks and tests.
/// Unknown ids are [`FetchError::NotFound`], like the registry's 40403.
#[derive(Debug, Default, Clone)]
pub struct FixedSchemas {
    by_id: std::collections::HashMap<u32, FetchedSchema>,
}

impl FixedSchemas {
    pub fn new() -> Self {
        FixedSchemas::default()
    }

    /// Adds schema `id`.
    pub fn with(mut self, id: u32, schema: FetchedSchema) -> Self {
        self.by_id.insert(id, schema);
        self
    }
}

impl SchemaSource for FixedSchemas {
    fn schema_by_id(&self, id: u32) -> BoxFuture<'_, Result<FetchedSchema, FetchError>> {
        let found = self
            .by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| FetchError::NotFound(format!("schema id {id}: not in the fixed set")));
        Box::pin(std::future::ready(found))
    }

    fn schema_by_version<'a>(
        &'a self,
        subject: &'a str,
        version: i32,
    ) -> BoxFuture<'a, Result<FetchedSchema, FetchError>> {
        Box::pin(std::future::ready(Err(FetchError::NotFound(format!(
            "subject {subject:?} version {version}: the fixed set has no subjects"
        )))))
    }

    fn describe(&self) -> String {
        format!("a fixed set of {} schemas", self.by_id.len())
    }
}
