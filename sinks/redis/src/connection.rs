//! The connection to Redis: URL, credentials, TLS, timeouts.
//!
//! One [`ConnectionManager`] per sink: a multiplexed connection (every
//! pipeline of every batch shares one socket, so Redis sees them in order)
//! that reconnects by itself after a drop. The manager retries a failed
//! connect only briefly ([`RECONNECT_ATTEMPTS`]): while Redis is down `apply`
//! returns a transient error quickly and the engine's backoff takes over, so
//! partitions are paused instead of requests piling up.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, TlsCertificates};

use crate::config::RedisSinkConfig;
use crate::errors::RedisSinkError;

/// Connect attempts of one reconnect before the request fails (transient).
pub const RECONNECT_ATTEMPTS: usize = 1;
/// First delay between connect attempts.
pub const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);

/// Builds the client: URL, then `username`/`password` overrides, then the CA
/// file for `rediss://`. Errors name the setting, never the secret.
pub fn client(config: &RedisSinkConfig, sink: &str) -> Result<Client, RedisSinkError> {
    let config_error = |message: String| RedisSinkError::Config { sink: sink.to_string(), message };
    let info = config
        .url
        .as_str()
        .into_connection_info()
        .map_err(|e| config_error(format!("url {}: {e}", config.redacted_url())))?;
    let mut settings = info.redis_settings().clone();
    if let Some(username) = &config.username {
        settings = settings.set_username(username);
    }
    if let Some(password) = &config.password {
        settings = settings.set_password(password.expose().map_err(|e| config_error(format!("password: {e}")))?);
    }
    let info = info.set_redis_settings(settings);
    if matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
        install_crypto_provider();
    }
    match &config.tls_ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| config_error(format!("tls_ca_file {}: {e}", path.display())))?;
            Client::build_with_tls(info, TlsCertificates { client_tls: None, root_cert: Some(pem) })
                .map_err(|e| config_error(format!("tls_ca_file {}: {e}", path.display())))
        }
        None => Client::open(info).map_err(|e| config_error(format!("url {}: {e}", config.redacted_url()))),
    }
}

/// rustls needs a process-wide crypto provider; the `redis` crate enables
/// none. Install ring's unless the process already chose one (the engine or
/// another client may have): then this is a no-op.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A lazily connecting manager (must be called inside a Tokio runtime).
pub fn manager(client: Client, config: &RedisSinkConfig, sink: &str) -> Result<ConnectionManager, RedisSinkError> {
    let manager_config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(config.timeout))
        .set_connection_timeout(Some(config.connect_timeout))
        .set_number_of_retries(RECONNECT_ATTEMPTS)
        .set_min_delay(RECONNECT_MIN_DELAY)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_lazy_with_config(client, manager_config)
        .map_err(|e| RedisSinkError::Config { sink: sink.to_string(), message: format!("connection manager: {e}") })
}
