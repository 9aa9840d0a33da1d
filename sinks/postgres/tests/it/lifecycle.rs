//! Truncates, checkpoints with fencing, tombstone collection.

use sluice_sink_api::testing::EventBuilder;
use sluice_sink_api::{ChangeBatch, Checkpoint, CheckpointPosition, Op, Sink, TableId};
use sluice_sink_postgres::TruncateMode;

use crate::common::{World, config};

fn truncate(b: &EventBuilder, version: u64) -> sluice_sink_api::ChangeEvent {
    let mut e = b.event(Op::Truncate, 0, version, None, None);
    e.key = None;
    e
}

#[tokio::test]
async fn truncate_is_versioned() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "trunc"));
    world.apply(vec![b.upsert(1, 1, "a"), b.upsert(2, 2, "b"), b.upsert(3, 3, "c")]).await;
    let report = world.apply(vec![b.upsert(9, 20, "newer"), truncate(&b, 10), b.upsert(4, 11, "d")]).await;
    assert_eq!(report.rejected.len(), 0);
    // a late upsert older than the truncate does not come back
    let report = world.apply(vec![b.upsert(2, 5, "zombie")]).await;
    assert_eq!(report.stale, 1);
    let names = world.names("trunc").await;
    assert_eq!(names, vec![(4, Some("d".into())), (9, Some("newer".into()))]);
    // a replayed older truncate is stale
    let report = world.apply(vec![truncate(&b, 10)]).await;
    assert_eq!(report.stale, 1);
    assert_eq!(world.count("trunc").await, 2);
    world.cleanup().await;
}

#[tokio::test]
async fn truncate_ignored_by_config() {
    let mut config = config().await;
    config.truncate = TruncateMode::Ignore;
    let world = World::with(config).await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "keep"));
    world.apply(vec![b.upsert(1, 1, "a")]).await;
    let report = world.apply(vec![truncate(&b, 10)]).await;
    assert_eq!(report.applied, 1);
    assert_eq!(world.count("keep").await, 1);
    world.cleanup().await;
}

fn checkpoint(epoch: i64, offset: i64) -> Checkpoint {
    Checkpoint {
        owner: "group-a".into(),
        epoch,
        positions: vec![
            CheckpointPosition { stream: "topic".into(), partition: 0, next_offset: offset, detail: None },
            CheckpointPosition {
                stream: "topic".into(),
                partition: 1,
                next_offset: 7,
                detail: Some("{\"f\":1}".into()),
            },
        ],
    }
}

#[tokio::test]
async fn checkpoints_commit_with_the_data_and_fence_zombies() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "cp"));
    assert_eq!(world.sink.load_checkpoint("group-a").await.unwrap(), None);
    let mut batch = ChangeBatch::from_events(vec![b.upsert(1, 1, "a")]);
    batch.checkpoint = Some(checkpoint(1, 2));
    world.sink.apply(&batch).await.unwrap();
    assert_eq!(world.sink.load_checkpoint("group-a").await.unwrap(), Some(checkpoint(1, 2)));
    // a newer epoch takes over
    let mut batch = ChangeBatch::from_events(vec![b.upsert(2, 2, "b")]);
    batch.checkpoint = Some(checkpoint(2, 3));
    world.sink.apply(&batch).await.unwrap();
    // the zombie with epoch 1 is fenced: fatal, and its data is not committed
    let mut batch = ChangeBatch::from_events(vec![b.upsert(3, 3, "zombie")]);
    batch.checkpoint = Some(checkpoint(1, 9));
    let err = world.sink.apply(&batch).await.unwrap_err();
    assert!(err.is_fatal(), "{err}");
    assert_eq!(world.count("cp").await, 2);
    let stored = world.sink.load_checkpoint("group-a").await.unwrap().unwrap();
    assert_eq!((stored.epoch, stored.positions[0].next_offset), (2, 3));
    world.cleanup().await;
}

#[tokio::test]
async fn claims_fence_the_previous_writer_of_those_partitions_only() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "claim"));
    let at = |epoch: i64, partition: i32, next: i64| Checkpoint {
        owner: "group-c".into(),
        epoch,
        positions: vec![CheckpointPosition { stream: "t".into(), partition, next_offset: next, detail: None }],
    };
    // process A owns partitions 0 and 1
    let a = world.sink.claim_checkpoint("group-c", &[("t".into(), 0), ("t".into(), 1)]).await.unwrap().unwrap();
    let stored = world.sink.load_checkpoint("group-c").await.unwrap().unwrap();
    assert!(stored.positions.iter().all(|p| p.next_offset == -1), "claimed, no position yet: {stored:?}");
    let mut batch = ChangeBatch::from_events(vec![b.upsert(1, 1, "a")]);
    batch.checkpoint = Some(at(a, 0, 5));
    world.sink.apply(&batch).await.unwrap();
    // process B takes partition 1 over: a newer epoch
    let b_epoch = world.sink.claim_checkpoint("group-c", &[("t".into(), 1)]).await.unwrap().unwrap();
    assert!(b_epoch > a);
    // A may still write partition 0 (it still owns it) ...
    let mut batch = ChangeBatch::from_events(vec![b.upsert(2, 2, "b")]);
    batch.checkpoint = Some(at(a, 0, 9));
    world.sink.apply(&batch).await.unwrap();
    // ... but not partition 1: fenced, nothing of the batch commits
    let mut batch = ChangeBatch::from_events(vec![b.upsert(3, 3, "zombie")]);
    batch.checkpoint = Some(at(a, 1, 4));
    assert!(world.sink.apply(&batch).await.unwrap_err().is_fatal());
    assert_eq!(world.count("claim").await, 2);
    let mut batch = ChangeBatch::from_events(vec![b.upsert(3, 4, "new owner")]);
    batch.checkpoint = Some(at(b_epoch, 1, 4));
    world.sink.apply(&batch).await.unwrap();
    let stored = world.sink.load_checkpoint("group-c").await.unwrap().unwrap();
    let next: Vec<i64> = stored.positions.iter().map(|p| p.next_offset).collect();
    assert_eq!(next, vec![9, 4]);
    world.cleanup().await;
}

#[tokio::test]
async fn tombstones_are_collected_after_retention() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "gc"));
    world.apply(vec![b.upsert(1, 1, "a"), b.upsert(2, 2, "b")]).await;
    world.apply(vec![b.delete(1, 3), b.delete(2, 4)]).await;
    let tombstones = format!("\"{}_sluice\".tombstones", world.schema);
    assert_eq!(world.sink.collect_tombstones().await.unwrap(), 0);
    sqlx::query(&format!("UPDATE {tombstones} SET deleted_at = now() - interval '8 days' WHERE key = '1'"))
        .execute(&world.pool)
        .await
        .unwrap();
    assert_eq!(world.sink.collect_tombstones().await.unwrap(), 1);
    let left: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM {tombstones}")).fetch_one(&world.pool).await.unwrap();
    assert_eq!(left, 1);
    world.cleanup().await;
}

#[tokio::test]
async fn truncate_or_keyless_record_on_a_table_never_seen() {
    let world = World::new().await;
    let b = EventBuilder::new(TableId::new(Some("db"), None, "never_seen"));
    let mut keyless = b.upsert(1, 2, "a");
    keyless.key = None;
    keyless.schema = None;
    let report = world.apply(vec![truncate(&b, 1), keyless]).await;
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].kind, sluice_sink_api::RejectKind::Key);
    assert!(report.rejected[0].message.contains("no key"), "{}", report.rejected[0].message);
    world.cleanup().await;
}
