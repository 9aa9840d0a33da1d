//! # sluice-sink-redis — change events applied to Redis
//!
//! Two modes (see `docs/redis-sink.md` for the operator's view):
//!
//! * **invalidate** ([`invalidate`]): for every change, delete (`UNLINK` or
//!   `DEL`) every key rendered from the table's key templates, using *both*
//!   the before and the after image, so a change of an indexed field (an
//!   email) invalidates the old and the new key; optionally `PUBLISH` one JSON
//!   message per key for applications that keep local caches.
//! * **materialize** ([`materialize`]): write each row as a hash or a JSON
//!   string only if the stored version is lower, atomically in a Lua script
//!   (one `EVALSHA` per key, pipelined across the batch); deletes leave a
//!   versioned tombstone with a TTL so an older replay cannot resurrect the key.
//!
//! ## What is guaranteed
//!
//! `apply` returning `Ok` means every command of the batch was executed by
//! Redis (as durable as the server's persistence settings make it). Every
//! write is idempotent: invalidations are deletes, materialized writes are
//! guarded by the change's version. Infrastructure failures (connection,
//! timeout, `LOADING`, `BUSY`, failover) are [`Transient`](sluice_sink_api::ErrorClass::Transient):
//! nothing of the batch may be assumed applied and the engine retries it.
//! A record that can never apply (a key template it cannot render, a stored
//! value of the wrong type) is returned as a [`Rejection`](sluice_sink_api::Rejection)
//! for that record only.
//!
//! Files: [`config`] (what the user writes), [`tables`] (per-table settings),
//! [`template`] (key templates), [`encode`] (how values are stored),
//! [`invalidate`] / [`materialize`] (planning each mode's commands),
//! [`pipeline`] (sending them), [`plan`] (replies → per-record outcomes),
//! [`errors`] (classification), [`metrics`], [`connection`], [`sink`].

pub mod config;
pub mod connection;
pub mod encode;
pub mod errors;
pub mod invalidate;
pub mod materialize;
pub mod metrics;
pub mod pipeline;
pub mod plan;
pub mod sink;
pub mod tables;
pub mod template;

pub use config::{
    InvalidateCommand, InvalidateConfig, MaterializeConfig, MaterializeFormat, NullKeys, RedisMode, RedisSinkConfig,
    TableConfig,
};
pub use sink::RedisSink;
pub use template::KeyTemplate;
