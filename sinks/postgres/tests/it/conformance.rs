//! The shared conformance suite, in both delete modes.

use sluice_sink_api::conformance::run_all;
use sluice_sink_postgres::DeleteMode;

use crate::common::{Reader, World, config};

#[tokio::test]
async fn conformance_hard_delete() {
    let world = World::new().await;
    let reader = Reader { pool: world.pool.clone(), schema: world.schema.clone(), soft_delete_column: None };
    run_all(world.sink.as_ref(), &reader, "hard").await.unwrap();
    world.cleanup().await;
}

#[tokio::test]
async fn conformance_soft_delete() {
    let mut config = config().await;
    config.delete_mode = DeleteMode::Soft;
    let world = World::with(config).await;
    let reader = Reader {
        pool: world.pool.clone(),
        schema: world.schema.clone(),
        soft_delete_column: Some("_sluice_deleted".into()),
    };
    run_all(world.sink.as_ref(), &reader, "soft").await.unwrap();
    world.cleanup().await;
}
