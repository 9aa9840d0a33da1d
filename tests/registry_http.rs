//! sluice's registry HTTP client against the registry test double: answers,
//! Confluent error bodies, basic auth, and how every failure is classified
//! (only the registry's own "not found" is final; everything else is
//! "unavailable" and retried by the outage policy).

mod avro_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::registry::{FetchError, HttpRegistry, HttpSettings, ResolveError, SchemaSource};
use sluice_sink_api::Secret;
use sluice_testkit::schema_registry::SchemaRegistryDouble;

fn client(url: &str, auth: Option<(&str, &str)>, timeout: Duration) -> HttpRegistry {
    HttpRegistry::new(&HttpSettings {
        url: url.to_string(),
        username: auth.map(|(u, _)| u.to_string()),
        password: auth.map(|(_, p)| Secret::literal(p)),
        ca_file: None,
        request_timeout: timeout,
    })
    .unwrap()
}

const SCHEMA: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn answers_and_failures_are_classified() {
    let registry = SchemaRegistryDouble::start().await;
    let id = registry.register("t-value", SCHEMA);
    let http = client(&registry.url(), None, Duration::from_secs(2));

    let fetched = http.schema_by_id(id).await.unwrap();
    assert_eq!(fetched.schema, SCHEMA);
    assert_eq!(fetched.schema_type(), "AVRO");
    assert_eq!(http.schema_by_version("t-value", 1).await.unwrap().schema, SCHEMA);

    // The registry's 40403 / 40401 / 40402: final.
    let e = http.schema_by_id(id + 100).await.unwrap_err();
    assert!(matches!(&e, FetchError::NotFound(m) if m.contains("40403")), "{e:?}");
    assert!(matches!(http.schema_by_version("nope", 1).await, Err(FetchError::NotFound(m)) if m.contains("40401")));
    assert!(matches!(http.schema_by_version("t-value", 9).await, Err(FetchError::NotFound(m)) if m.contains("40402")));

    // 503 (50003): unavailable.
    registry.set_unavailable(true);
    assert!(matches!(http.schema_by_id(id).await, Err(FetchError::Unavailable(m)) if m.contains("503")));
    registry.set_unavailable(false);

    // A server that is not a registry (404 without an error body): unavailable, with a hint.
    let wrong = client(&format!("{}/not-a-registry/x", registry.url()), None, Duration::from_secs(2));
    let e = wrong.schema_by_id(id).await.unwrap_err();
    assert!(matches!(&e, FetchError::Unavailable(_)), "{e:?}");

    // Connection refused: unavailable.
    registry.refuse_connections();
    let e = http.schema_by_id(id).await.unwrap_err();
    assert!(matches!(&e, FetchError::Unavailable(m) if m.contains("failed")), "{e:?}");
    registry.accept_connections().await;
    assert!(http.schema_by_id(id).await.is_ok(), "back");

    // A registry that never answers: the request times out, unavailable.
    registry.set_hanging(true);
    let started = Instant::now();
    let slow = client(&registry.url(), None, Duration::from_millis(500));
    assert!(matches!(slow.schema_by_id(id).await, Err(FetchError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(5), "bounded by request_timeout");
    registry.set_hanging(false);
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_is_sent_and_a_refusal_is_unavailable_not_final() {
    let registry = SchemaRegistryDouble::start().await;
    let id = registry.register("t-value", SCHEMA);
    registry.require_basic_auth("svc", "s3cret");
    let good = client(&registry.url(), Some(("svc", "s3cret")), Duration::from_secs(2));
    assert_eq!(good.schema_by_id(id).await.unwrap().schema, SCHEMA);
    let bad = client(&registry.url(), Some(("svc", "wrong")), Duration::from_secs(2));
    let e = bad.schema_by_id(id).await.unwrap_err();
    assert!(matches!(&e, FetchError::Unavailable(m) if m.contains("credentials") && !m.contains("wrong")), "{e:?}");
    assert!(!format!("{bad:?}").contains("wrong"), "the password is never in Debug output");

    // Through the cache and outage policy: a refusal is retried, then `Unavailable`.
    let registry_client =
        sluice::decode::avro::avro_registry(Arc::new(bad), 8, avro_support::policy(Duration::from_millis(300)));
    let started = Instant::now();
    let e = registry_client.resolve(id).await.unwrap_err();
    assert!(matches!(e, ResolveError::Unavailable { .. }), "{e:?}");
    assert!(started.elapsed() >= Duration::from_millis(300), "retried for the window");
    assert!(registry.id_lookups(id) >= 3, "several attempts: {:?}", registry.requests());
}
