//! # sluice-sink-elasticsearch — the Elasticsearch/OpenSearch sink
//!
//! Applies change events with `_bulk` `index`/`delete` actions carrying the
//! change's source version as an external version (`version_type=external_gte`,
//! [`sluice_sink_api::Version::to_es_version`]), so that replays, duplicates
//! and reordering can never move a document backwards.
//!
//! Guarantees (the [`sluice_sink_api::Sink`] contract):
//! * `apply` returning `Ok` means every event not in `rejected` is written
//!   (or was stale: the index already held that version or a newer one, 409).
//! * Items refused transiently (429, 5xx, connection errors, timeouts) are
//!   re-sent alone with backoff for `retry.retry_for`; then `apply` returns a
//!   transient error and the engine retries the whole batch.
//! * An item refused by the index mapping (400) is rejected alone with
//!   [`sluice_sink_api::RejectKind::Mapping`], naming index, `_id`, reason and
//!   the event's origin; the rest of the batch applies.
//! * A version that does not fit a non-negative `i64` is rejected with
//!   [`sluice_sink_api::RejectKind::Version`], never wrapped.
//! * Deletes carry their version too; delete tombstones live for
//!   `index.gc_deletes` (set on auto-created indexes), or forever with
//!   `delete_mode = "soft"`. See `docs/elasticsearch-sink.md`.
//! * Unavailable (TOAST) values are never written ([`unavailable`]).
//!
//! Files: [`config`] (what the user writes), [`sink`] (the trait impl),
//! [`bulk`] (request bodies and responses), [`document`] (values to JSON),
//! [`mapping`] (schema to index mappings), [`templates`] (index names, `_id`s),
//! [`client`] (HTTP), [`errors`] (classification), [`retry`] (backoff),
//! [`unavailable`] (TOAST merge), [`metrics`].

pub mod bulk;
pub mod client;
pub mod config;
pub mod document;
pub mod errors;
pub mod mapping;
pub mod metrics;
pub mod retry;
pub mod sink;
pub mod templates;
pub mod unavailable;

pub use config::{
    AuthConfig, DecimalMode, DeleteMode, ElasticsearchSinkConfig, JsonMode, UnavailableMode, UnsignedMode,
};
pub use document::DELETED_FIELD;
pub use sink::ElasticsearchSink;
