//! The outage policy and the cache against scripted [`SchemaSource`] doubles
//! (no HTTP: the HTTP client is tested against the test registry in `tests/`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;

use super::*;
use crate::pipeline::retry::Backoff;

/// Answers by-id lookups from a script (the last answer repeats), counting calls.
#[derive(Debug, Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<FetchedSchema, FetchError>>>,
    calls: AtomicUsize,
    versions: Mutex<Vec<(String, i32, FetchedSchema)>>,
}

impl Scripted {
    fn new(answers: Vec<Result<FetchedSchema, FetchError>>) -> Arc<Self> {
        Arc::new(Scripted { answers: Mutex::new(answers.into()), ..Scripted::default() })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl SchemaSource for Scripted {
    fn schema_by_id(&self, _id: u32) -> BoxFuture<'_, Result<FetchedSchema, FetchError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock();
        let answer = if answers.len() > 1 { answers.pop_front() } else { answers.front().cloned() };
        Box::pin(std::future::ready(answer.unwrap_or_else(|| Err(FetchError::Unavailable("no script".into())))))
    }

    fn schema_by_version<'a>(
        &'a self,
        subject: &'a str,
        version: i32,
    ) -> BoxFuture<'a, Result<FetchedSchema, FetchError>> {
        let found =
            self.versions.lock().iter().find(|(s, v, _)| s == subject && *v == version).map(|(_, _, f)| f.clone());
        Box::pin(std::future::ready(found.ok_or_else(|| FetchError::NotFound(format!("{subject} v{version}")))))
    }

    fn describe(&self) -> String {
        "scripted".into()
    }
}

fn policy(window_ms: u64) -> OutagePolicy {
    OutagePolicy {
        unavailable_retry: Duration::from_millis(window_ms),
        backoff: Backoff { initial: Duration::from_millis(5), max: Duration::from_millis(20), max_attempts: None },
    }
}

/// Parses to the schema text plus the referenced texts; "bad" fails.
fn registry(source: Arc<Scripted>, window_ms: u64) -> SchemaRegistry<Arc<String>> {
    SchemaRegistry::new(
        source,
        2,
        policy(window_ms),
        Box::new(|schema, refs| {
            if schema.schema == "bad" {
                return Err("not a schema".into());
            }
            let mut texts: Vec<&str> = refs.iter().map(|r| r.schema.as_str()).collect();
            texts.sort();
            Ok(Arc::new(format!("{}{}", schema.schema, texts.concat())))
        }),
    )
}

fn unavailable() -> Result<FetchedSchema, FetchError> {
    Err(FetchError::Unavailable("connection refused".into()))
}

#[tokio::test]
async fn fetched_once_then_cached_forever() {
    let source = Scripted::new(vec![Ok(FetchedSchema::avro("s"))]);
    let reg = registry(source.clone(), 1000);
    assert_eq!(*reg.resolve(7).await.unwrap(), "s");
    assert_eq!(*reg.resolve(7).await.unwrap(), "s");
    assert_eq!(*reg.cached(7).unwrap().unwrap(), "s");
    assert!(reg.contains(7) && reg.cached(8).is_none());
    assert_eq!(source.calls(), 1);
}

#[tokio::test]
async fn transient_failures_are_retried_within_the_window() {
    let source = Scripted::new(vec![unavailable(), unavailable(), Ok(FetchedSchema::avro("s"))]);
    let reg = registry(source.clone(), 5_000);
    assert_eq!(*reg.resolve(1).await.unwrap(), "s");
    assert_eq!(source.calls(), 3);
    assert!(!reg.is_unavailable(), "an answer ends the outage");
}

#[tokio::test]
async fn the_outage_window_is_shared_by_later_lookups() {
    let source = Scripted::new(vec![unavailable()]);
    let reg = registry(source.clone(), 200);
    let started = Instant::now();
    let err = reg.resolve(1).await.unwrap_err();
    let first = started.elapsed();
    assert!(err.is_unavailable(), "{err}");
    assert!(first >= Duration::from_millis(200) && first < Duration::from_secs(2), "{first:?}");
    assert!(reg.is_unavailable());
    // Later lookups in the same outage make one attempt and fail at once.
    let calls = source.calls();
    let started = Instant::now();
    assert!(reg.resolve(2).await.unwrap_err().is_unavailable());
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(source.calls(), calls + 1);
    // An answer ends the outage; the next outage gets a new window.
    *source.answers.lock() = vec![Ok(FetchedSchema::avro("s"))].into();
    assert_eq!(*reg.resolve(2).await.unwrap(), "s");
    assert!(!reg.is_unavailable());
}

#[tokio::test]
async fn not_found_is_final_and_not_cached() {
    let source = Scripted::new(vec![Err(FetchError::NotFound("40403 Schema not found".into()))]);
    let reg = registry(source.clone(), 10_000);
    let started = Instant::now();
    let err = reg.resolve(9).await.unwrap_err();
    assert!(matches!(err, ResolveError::NotFound { id: 9, .. }), "{err}");
    assert!(started.elapsed() < Duration::from_millis(100), "no retries");
    assert!(reg.resolve(9).await.is_err());
    assert_eq!(source.calls(), 2, "not-found answers are not cached");
}

#[tokio::test]
async fn unusable_schemas_are_cached_as_such() {
    let source = Scripted::new(vec![Ok(FetchedSchema::avro("bad"))]);
    let reg = registry(source.clone(), 1000);
    assert!(matches!(reg.resolve(3).await.unwrap_err(), ResolveError::Invalid { id: 3, .. }));
    assert!(matches!(reg.resolve(3).await.unwrap_err(), ResolveError::Invalid { .. }));
    assert!(reg.cached(3).unwrap().is_err());
    assert_eq!(source.calls(), 1);
}

#[tokio::test]
async fn references_are_fetched_transitively_once() {
    let reference = |subject: &str| SchemaReference { name: subject.into(), subject: subject.into(), version: 1 };
    let main = FetchedSchema { references: vec![reference("a"), reference("b")], ..FetchedSchema::avro("m") };
    let source = Scripted::new(vec![Ok(main)]);
    source.versions.lock().extend([
        ("a".to_string(), 1, FetchedSchema { references: vec![reference("b")], ..FetchedSchema::avro("A") }),
        ("b".to_string(), 1, FetchedSchema::avro("B")),
    ]);
    let reg = registry(source, 1000);
    assert_eq!(*reg.resolve(1).await.unwrap(), "mAB");
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let source = Scripted::new(vec![Ok(FetchedSchema::avro("s"))]);
    let reg = registry(source.clone(), 1000);
    for id in 0..5 {
        reg.resolve(id).await.unwrap();
    }
    assert_eq!(reg.cached_count(), 2);
    assert!(reg.contains(4) && reg.contains(3) && !reg.contains(0));
}
