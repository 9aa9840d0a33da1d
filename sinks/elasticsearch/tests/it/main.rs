//! Integration tests of the Elasticsearch sink against osmem-server (an
//! OpenSearch-compatible server): `scripts/services` starts the shared one on
//! 127.0.0.1:19200; outage tests start their own.

mod common;
mod conformance;
mod deletes;
mod documents;
mod fake;
mod outage;
mod partial_failure;
