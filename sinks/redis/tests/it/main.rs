//! Integration tests of the Redis sink against real Redis: the shared
//! instance (`sluice_testkit::redis_url()`, every test under its own key
//! prefix, removed at the end) and dedicated instances for outages.

mod common;
mod conformance;
mod convergence;
mod invalidate;
mod materialize;
mod outage;
mod tls;
