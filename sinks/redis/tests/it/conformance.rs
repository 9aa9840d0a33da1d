//! The sink contract's conformance suite, for materialize mode in both formats.

use sluice_sink_api::conformance::run_all;
use sluice_sink_redis::MaterializeFormat;

use crate::common::{Reader, cleanup, materialize_config, prefix, shared_url, started};

async fn conforms(format: MaterializeFormat) {
    let url = shared_url().await;
    let prefix = prefix(&format!("conformance_{}", format.as_str()));
    let sink = started("conformance", materialize_config(&url, &prefix, format)).await;
    let reader = Reader::new(&url, &prefix, format).await;
    let result = run_all(&sink, &reader, "redis").await;
    cleanup(&url, &prefix).await;
    result.unwrap();
}

#[tokio::test]
async fn materialize_hash_conforms() {
    conforms(MaterializeFormat::Hash).await;
}

#[tokio::test]
async fn materialize_json_conforms() {
    conforms(MaterializeFormat::Json).await;
}
