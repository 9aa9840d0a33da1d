//! Confluent Schema Registry: the client sluice uses to turn the schema id
//! of an Avro record (Confluent wire format) into its writer schema.
//!
//! * [`SchemaSource`]: where schemas come from — [`HttpRegistry`] (the REST
//!   API over HTTP(S), basic auth, CA file) in production; fixed or failing
//!   doubles in tests.
//! * [`SchemaRegistry`]: the cache (schemas are immutable per id: cached
//!   forever, bounded by count) and the outage policy (an unknown id while
//!   the registry is down is retried for `unavailable_retry`, then the
//!   record is dead-lettered with class `schema_unavailable`; an id the
//!   registry says does not exist is final, class `decode`).
//!
//! The registry knows nothing about Avro: what a schema is parsed into is
//! the caller's [`SchemaParser`] (the Avro converter in
//! [`crate::decode::avro`]). `docs/decoding.md` (section "Avro via a Confluent Schema Registry") is the
//! operator's guide.

mod cache;
mod http;
mod resolver;
mod source;
#[cfg(test)]
mod tests;

pub use cache::SchemaCache;
pub use http::{HttpRegistry, HttpSettings, SetupError};
pub use resolver::{MAX_REFERENCES, OutagePolicy, ResolveError, SchemaParser, SchemaRegistry};
pub use source::{FetchError, FetchedSchema, FixedSchemas, SchemaReference, SchemaSource};

/// Counter: schema lookups answered from the cache (one per Avro key or value decoded).
pub const METRIC_CACHE_HITS: &str = "sluice_registry_cache_hits_total";
/// Counter: schema ids that were not cached and had to be fetched.
pub const METRIC_CACHE_MISSES: &str = "sluice_registry_cache_misses_total";
/// Counter: requests for a schema (each attempt, references included in one).
pub const METRIC_FETCHES: &str = "sluice_registry_fetches_total";
/// Counter: failed schema fetches, label `class`: `unavailable` (retried),
/// `not_found` (the registry does not know the id), `invalid` (the schema
/// cannot be used).
pub const METRIC_FETCH_ERRORS: &str = "sluice_registry_fetch_errors_total";
/// Gauge: schemas in the cache.
pub const METRIC_CACHED_SCHEMAS: &str = "sluice_registry_cached_schemas";
/// Gauge: 1 while the registry is unavailable (its last answer was a failure), else 0.
pub const METRIC_UNAVAILABLE: &str = "sluice_registry_unavailable";
