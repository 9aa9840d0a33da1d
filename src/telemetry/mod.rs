//! Telemetry: metric names, the Prometheus `/metrics` endpoint with
//! `/health` and `/ready`, and log setup.

mod health;
pub mod logging;
pub mod names;
mod server;

pub use health::Health;
pub use server::{TelemetryError, install_recorder, serve};
