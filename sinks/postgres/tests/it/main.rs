//! Integration tests of the Postgres sink against the real test Postgres
//! (`sluice_testkit::pg_url()`); each test works in its own fresh schema.

mod common;
mod conformance;
mod convergence;
mod evolution;
mod identifiers;
mod keyless;
mod lifecycle;
mod outage;
mod poison;
mod types;
