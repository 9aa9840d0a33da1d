//! The Postgres dead-letter store against real Postgres: migrations (schema
//! placement, concurrency, re-runs) and parking (idempotent, byte-exact).

mod dlq_support;

use dlq_support::*;
use sluice::dlq::{DeadLetterStore, EntryFilter, PostgresDeadLetters, migrator};
use sluice_sink_api::RejectKind;

async fn exists(store: &PostgresDeadLetters, relation: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("\"{}\".{relation}", store.schema()))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_migrations_land_in_the_schema_concurrently_and_rerun_as_no_op() {
    sluice_testkit::require("postgres", &sluice_testkit::pg_url()).await;
    let schema = sluice_testkit::unique_name("dlq_mig");
    let stores: Vec<PostgresDeadLetters> =
        (0..4).map(|_| PostgresDeadLetters::connect_lazy(&sluice_testkit::pg_url(), None, &schema).unwrap()).collect();
    // Four processes start at once on a fresh schema.
    let reports = futures::future::join_all(stores.iter().map(|s| s.migrate())).await;
    let reports: Vec<_> = reports.into_iter().map(|r| r.expect("concurrent migrate")).collect();
    let expected: Vec<i64> = migrator().iter().map(|m| m.version).collect();
    let appliers: Vec<_> = reports.iter().filter(|r| !r.applied_now.is_empty()).collect();
    assert_eq!(appliers.len(), 1, "exactly one run applies: {reports:?}");
    assert_eq!(appliers[0].applied_now.iter().map(|(v, _)| *v).collect::<Vec<_>>(), expected);
    assert!(reports.iter().all(|r| r.version == expected.last().copied()));
    let store = &stores[0];
    assert!(exists(store, "_sqlx_migrations").await, "_sqlx_migrations lives in {schema}");
    assert!(exists(store, "dead_letters").await);
    let recorded: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\"._sqlx_migrations"))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(recorded, expected.len() as i64);
    // The partial index on unresolved rows and the unique record key exist.
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'dead_letters'")
            .bind(&schema)
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert!(indexes.iter().any(|d| d.contains("WHERE (resolved_at IS NULL)")), "{indexes:?}");
    assert!(
        indexes
            .iter()
            .any(|d| d.contains("UNIQUE") && d.contains("(topic, partition_num, offset_value, consumer_group, sink)")),
        "{indexes:?}"
    );
    // Re-running changes nothing.
    let again = store.migrate().await.unwrap();
    assert!(again.applied_now.is_empty());
    assert_eq!(again.version, expected.last().copied());
}

#[tokio::test]
async fn dlq_park_is_idempotent_and_byte_exact() {
    let store = store("dlq_park").await;
    let group = sluice_testkit::unique_name("g");
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let mut garbage = letter(&group, "t", 7, "*", RejectKind::Decode, Some(vec![0, 0, 1]), Some(all_bytes.clone()));
    garbage.message = "bad byte \0 at 3".into();
    garbage.headers = vec![("h\0x".into(), Some(vec![0, 255])), ("empty".into(), None)];
    let empty_value = letter(&group, "t", 8, "mem", RejectKind::Constraint, None, Some(Vec::new()));
    let tombstone = letter(&group, "t", 9, "mem", RejectKind::Key, Some(b"k".to_vec()), None);
    store.park(&[garbage.clone(), empty_value.clone(), tombstone.clone()]).await.unwrap();
    // Parking again (a crash before the offset commit) adds nothing.
    store.park(&[garbage.clone(), empty_value.clone()]).await.unwrap();
    let filter = EntryFilter { group: Some(group.clone()), ..EntryFilter::default() };
    assert_eq!(store.count(&filter).await.unwrap(), 3);
    // Same record, another sink: a separate entry.
    let other_sink = letter(&group, "t", 7, "es", RejectKind::Mapping, Some(vec![0, 0, 1]), Some(all_bytes.clone()));
    store.park(&[other_sink]).await.unwrap();
    assert_eq!(store.count(&filter).await.unwrap(), 4);

    let id = id_of(&store, &group, 7).await;
    let entry = store.get(id).await.unwrap().unwrap();
    let entry = if entry.sink == "*" {
        entry
    } else {
        let ids: Vec<i64> =
            store.list(&filter, 10).await.unwrap().iter().filter(|e| e.sink == "*").map(|e| e.id).collect();
        store.get(ids[0]).await.unwrap().unwrap()
    };
    assert_eq!(entry.raw_value.as_deref(), Some(all_bytes.as_slice()), "value byte-exact");
    assert_eq!(entry.raw_key.as_deref(), Some(&[0u8, 0, 1][..]), "key byte-exact");
    assert_eq!(entry.message, "bad byte \u{FFFD} at 3", "NUL cannot be stored in text; never blocks parking");
    assert_eq!(entry.header_pairs(), vec![("h\u{FFFD}x".to_string(), Some(vec![0, 255])), ("empty".to_string(), None)]);
    assert_eq!((entry.class.as_str(), entry.table.as_deref(), entry.retry_count), ("decode", None, 0));
    assert!(entry.resolved_at.is_none() && entry.resolution.is_none());

    let id8 = id_of(&store, &group, 8).await;
    assert_eq!(store.get(id8).await.unwrap().unwrap().raw_value, Some(Vec::new()), "empty is not null");
    let id9 = id_of(&store, &group, 9).await;
    assert_eq!(store.get(id9).await.unwrap().unwrap().raw_value, None, "a tombstone stays null");
    assert_eq!(store.depth(Some(&group)).await.unwrap().unresolved, 4);
}

#[tokio::test]
async fn dlq_resolution_is_consistent_and_first_wins() {
    let store = store("dlq_res").await;
    let group = sluice_testkit::unique_name("g");
    store.park(&[letter(&group, "t", 1, "mem", RejectKind::Constraint, None, Some(b"x".to_vec()))]).await.unwrap();
    let id = id_of(&store, &group, 1).await;
    store.record_failures(&[(id, "still \0 broken".into())]).await.unwrap();
    assert_eq!(state_of(&store, id).await, (None, 1, Some("still \u{FFFD} broken".into())));
    assert_eq!(store.mark_replayed(&[id]).await.unwrap(), 1);
    assert_eq!(store.mark_replayed(&[id]).await.unwrap(), 0, "already resolved: untouched");
    assert_eq!(state_of(&store, id).await, (Some("replayed".into()), 2, None));
    // The table refuses a resolution without a time (and the reverse).
    let bad = sqlx::query(&format!("UPDATE {} SET resolved_at = NULL WHERE id = $1", store.table()))
        .bind(id)
        .execute(store.pool())
        .await;
    assert!(bad.is_err(), "resolution and resolved_at go together");
}
