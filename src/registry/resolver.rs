//! [`SchemaRegistry`]: cached schema lookups with the outage policy.
//!
//! # Contract
//!
//! * **Cache forever.** A schema id never changes meaning, so a fetched
//!   schema (or the fact that its text cannot be parsed) is cached until the
//!   count bound evicts it. Cached ids never touch the network: a registry
//!   outage does not affect records whose schemas are cached.
//! * **Unknown id, registry down.** The lookup is retried with backoff while
//!   the registry stays unavailable, for at most `unavailable_retry` counted
//!   from the start of the *outage* (not of this lookup): the first lookup of
//!   an outage waits the whole window, later ones make one attempt each and
//!   fail at once, so an outage does not cost `unavailable_retry` per record.
//!   Any answer from the registry ends the outage. The caller dead-letters
//!   the record with class `schema_unavailable`; it is never dropped.
//! * **Unknown id, registry up.** The registry's "not found" (40403) is
//!   final: the caller dead-letters the record with class `decode`. It is not
//!   cached (an id may be registered later, e.g. a registry restored from a
//!   backup), so every record with that id asks again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::cache::SchemaCache;
use super::source::{FetchError, FetchedSchema, SchemaReference, SchemaSource};
use super::{
    METRIC_CACHE_HITS, METRIC_CACHE_MISSES, METRIC_CACHED_SCHEMAS, METRIC_FETCH_ERRORS, METRIC_FETCHES,
    METRIC_UNAVAILABLE,
};
use crate::pipeline::retry::Backoff;

/// Most schema references followed for one schema (a bound against cycles
/// and abuse; real schemas have a handful).
pub const MAX_REFERENCES: usize = 256;

/// How long and how fast an unknown id is retried while the registry is unavailable.
#[derive(Debug, Clone, Copy)]
pub struct OutagePolicy {
    /// `schema_registry.unavailable_retry`: the patience for one outage.
    pub unavailable_retry: Duration,
    /// Delay between attempts (`[retry]` initial/max backoff, with jitter).
    pub backoff: Backoff,
}

/// Turns a fetched schema (and the schemas it references, in no particular
/// order) into the cached value; an error is cached too (schemas are immutable).
pub type SchemaParser<T> = Box<dyn Fn(&FetchedSchema, &[FetchedSchema]) -> Result<T, String> + Send + Sync>;

/// Why [`SchemaRegistry::resolve`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The registry says the id does not exist: final (class `decode`).
    #[error("schema id {id} does not exist: {message}")]
    NotFound { id: u32, message: String },
    /// The schema exists but cannot be used (not Avro, invalid): final (class `decode`).
    #[error("schema id {id} cannot be used: {message}")]
    Invalid { id: u32, message: String },
    /// The registry stayed unavailable (class `schema_unavailable`).
    #[error("schema id {id}: schema registry unavailable for {}s: {message}", waited.as_secs())]
    Unavailable { id: u32, message: String, waited: Duration },
}

impl ResolveError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ResolveError::Unavailable { .. })
    }
}

/// A schema registry client with a bounded cache and the outage policy
/// (module docs). `T` is what a schema is parsed into (shared, cheap to clone).
pub struct SchemaRegistry<T> {
    source: Arc<dyn SchemaSource>,
    cache: SchemaCache<Result<T, Arc<str>>>,
    parse: SchemaParser<T>,
    policy: OutagePolicy,
    /// When the current outage began (`None` while the registry answers).
    outage: Mutex<Option<Instant>>,
}

impl<T> std::fmt::Debug for SchemaRegistry<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("source", &self.source.describe())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> SchemaRegistry<T> {
    pub fn new(source: Arc<dyn SchemaSource>, capacity: usize, policy: OutagePolicy, parse: SchemaParser<T>) -> Self {
        SchemaRegistry { source, cache: SchemaCache::new(capacity), parse, policy, outage: Mutex::new(None) }
    }

    /// Where schemas come from (credentials redacted).
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// The cached schema of `id` (counted as a cache hit), or `None`.
    /// An `Err` is a schema that was fetched but cannot be used.
    pub fn cached(&self, id: u32) -> Option<Result<T, Arc<str>>> {
        let hit = self.cache.get(id);
        if hit.is_some() {
            metrics::counter!(METRIC_CACHE_HITS).increment(1);
        }
        hit
    }

    /// Whether `id` is cached (not counted).
    pub fn contains(&self, id: u32) -> bool {
        self.cache.contains(id)
    }

    /// Number of cached schemas.
    pub fn cached_count(&self) -> usize {
        self.cache.len()
    }

    /// Whether the registry is in an outage (its last answer was a failure).
    pub fn is_unavailable(&self) -> bool {
        self.outage.lock().is_some()
    }

    /// The schema of `id`: from the cache, or fetched (with its references)
    /// following the outage policy of the module docs.
    pub async fn resolve(&self, id: u32) -> Result<T, ResolveError> {
        if let Some(entry) = self.cache.get(id) {
            return entry.map_err(|message| ResolveError::Invalid { id, message: message.to_string() });
        }
        metrics::counter!(METRIC_CACHE_MISSES).increment(1);
        let mut attempt = 0u32;
        loop {
            metrics::counter!(METRIC_FETCHES).increment(1);
            match self.fetch_with_references(id).await {
                Ok((schema, references)) => {
                    self.answered();
                    let parsed = (self.parse)(&schema, &references).map_err(Arc::<str>::from);
                    if let Err(message) = &parsed {
                        metrics::counter!(METRIC_FETCH_ERRORS, "class" => "invalid").increment(1);
                        tracing::warn!(schema_id = id, error = %message, "schema cannot be used; records using it are dead-lettered");
                    }
                    let count = self.cache.insert(id, parsed.clone());
                    metrics::gauge!(METRIC_CACHED_SCHEMAS).set(count as f64);
                    return parsed.map_err(|message| ResolveError::Invalid { id, message: message.to_string() });
                }
                Err(FetchError::NotFound(message)) => {
                    self.answered();
                    metrics::counter!(METRIC_FETCH_ERRORS, "class" => "not_found").increment(1);
                    return Err(ResolveError::NotFound { id, message });
                }
                Err(FetchError::Unavailable(message)) => {
                    metrics::counter!(METRIC_FETCH_ERRORS, "class" => "unavailable").increment(1);
                    metrics::gauge!(METRIC_UNAVAILABLE).set(1.0);
                    let now = Instant::now();
                    let since = *self.outage.lock().get_or_insert(now);
                    let deadline = since + self.policy.unavailable_retry;
                    if now >= deadline {
                        tracing::warn!(schema_id = id, error = %message, "schema registry unavailable; giving up on this schema id (class schema_unavailable)");
                        return Err(ResolveError::Unavailable { id, message, waited: now - since });
                    }
                    let delay = self.policy.backoff.delay(attempt).min(deadline - now);
                    attempt += 1;
                    tracing::warn!(
                        schema_id = id,
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        gives_up_in_s = (deadline - now).as_secs(),
                        error = %message,
                        "schema registry unavailable; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// The registry answered: the outage (if any) is over.
    fn answered(&self) {
        if self.outage.lock().take().is_some() {
            tracing::info!(registry = %self.source.describe(), "schema registry answers again");
            metrics::gauge!(METRIC_UNAVAILABLE).set(0.0);
        }
    }

    /// The schema of `id` and every schema it references (transitively, each once).
    async fn fetch_with_references(&self, id: u32) -> Result<(FetchedSchema, Vec<FetchedSchema>), FetchError> {
        let schema = self.source.schema_by_id(id).await?;
        let mut pending: Vec<SchemaReference> = schema.references.clone();
        let mut seen: Vec<SchemaReference> = Vec::new();
        let mut references = Vec::new();
        while let Some(reference) = pending.pop() {
            if seen.contains(&reference) || seen.len() >= MAX_REFERENCES {
                continue;
            }
            let fetched = self.source.schema_by_version(&reference.subject, reference.version).await?;
            pending.extend(fetched.references.iter().cloned());
            seen.push(reference);
            references.push(fetched);
        }
        Ok((schema, references))
    }
}
