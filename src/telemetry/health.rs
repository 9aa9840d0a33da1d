//! Liveness and readiness, shared between the pipeline and the HTTP endpoint.
//!
//! * `/health` answers 200 while the process runs and the pipeline has not
//!   stopped on a fatal error.
//! * `/ready` answers 200 once the pipeline is started (sinks up, consumer
//!   subscribed) and no sink is currently failing; 503 with the reason otherwise.

use std::sync::Arc;

use parking_lot::Mutex;

#[derive(Debug, Default)]
struct Inner {
    started: bool,
    fatal: Option<String>,
    degraded: Option<String>,
}

/// Cheap to clone; every clone sees the same state.
#[derive(Debug, Clone, Default)]
pub struct Health {
    inner: Arc<Mutex<Inner>>,
}

impl Health {
    pub fn set_started(&self) {
        self.inner.lock().started = true;
    }

    /// The pipeline stopped on a fatal error.
    pub fn set_fatal(&self, reason: impl Into<String>) {
        self.inner.lock().fatal = Some(reason.into());
    }

    /// A sink or dependency is failing transiently (`None` clears it).
    pub fn set_degraded(&self, reason: Option<String>) {
        self.inner.lock().degraded = reason;
    }

    /// `Ok` when alive, `Err(reason)` otherwise.
    pub fn liveness(&self) -> Result<(), String> {
        match &self.inner.lock().fatal {
            Some(reason) => Err(format!("stopped: {reason}")),
            None => Ok(()),
        }
    }

    /// `Ok` when ready to do work, `Err(reason)` otherwise.
    pub fn readiness(&self) -> Result<(), String> {
        let inner = self.inner.lock();
        if let Some(reason) = &inner.fatal {
            return Err(format!("stopped: {reason}"));
        }
        if !inner.started {
            return Err("starting".to_string());
        }
        if let Some(reason) = &inner.degraded {
            return Err(format!("degraded: {reason}"));
        }
        Ok(())
    }
}
