//! Test support shared by sluice's integration tests.
//!
//! * Endpoints of the services the tests use, from `SLUICE_TEST_*` environment
//!   variables with the localhost defaults `scripts/services` provides.
//! * [`require`]: fail loudly (panic naming the service) when a service is not
//!   reachable. A test never passes or skips silently because its service is
//!   missing.
//! * [`TcpProxy`]: a proxy in front of a shared service that a test can cut and
//!   restore, to simulate an outage without disturbing other tests.
//! * [`free_port`]: a free local TCP port for dedicated service instances.
//! * [`RedisInstance`], [`OsmemInstance`], [`TansuInstance`]: dedicated service processes
//!   on a free port that a test may kill, freeze and restart (see [`instance`]).
//! * [`wait_for_port`], [`kafka_topic`], [`unique_name`]: waiting and unique names.
//! * [`probe`]: minimal readiness requests (Redis PING, HTTP GET, Kafka ApiVersions).
//! * [`kill_on_panic`]: spawned processes die with a panicking test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub mod instance;
mod listen;
mod names;
pub mod probe;
mod process;
pub mod schema_registry;

pub use instance::{OsmemInstance, RedisInstance, ServiceInstance, TansuInstance};
pub use listen::{pid_listens_on, wait_for_port};
pub use names::{kafka_topic, unique_name};
pub use process::kill_on_panic;

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// `SLUICE_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`.
pub fn pg_url() -> String {
    env_or("SLUICE_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
}

/// `SLUICE_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/test`.
pub fn mysql_url() -> String {
    env_or("SLUICE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
}

/// `SLUICE_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    env_or("SLUICE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// `SLUICE_TEST_KAFKA_BROKERS`, default `127.0.0.1:19092` (tansu).
pub fn kafka_brokers() -> String {
    env_or("SLUICE_TEST_KAFKA_BROKERS", "127.0.0.1:19092")
}

/// `SLUICE_TEST_ES_URL`, default `http://127.0.0.1:19200` (osmem-server).
pub fn es_url() -> String {
    env_or("SLUICE_TEST_ES_URL", "http://127.0.0.1:19200")
}

/// `SLUICE_TOOLS_DIR` (or `SLUICE_TEST_TOOLS_DIR`), default `~/.cache/sluice-tools`: where
/// `scripts/services` keeps the tansu binary and the Python venv (osmem-server, confluent-kafka).
pub fn tools_dir() -> std::path::PathBuf {
    match std::env::var("SLUICE_TOOLS_DIR").or_else(|_| std::env::var("SLUICE_TEST_TOOLS_DIR")) {
        Ok(dir) => dir.into(),
        Err(_) => std::path::PathBuf::from(env_or("HOME", "/root")).join(".cache/sluice-tools"),
    }
}

/// Extracts `host:port` from a URL (`scheme://user@host:port/...`) or returns
/// the input when it already is `host:port`.
pub fn host_port(url_or_addr: &str) -> String {
    let rest = url_or_addr.split_once("://").map(|(_, r)| r).unwrap_or(url_or_addr);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    rest.split(',').next().unwrap_or(rest).to_string()
}

/// Panics, naming `service` and how to start it, unless a TCP connection to
/// the service's address succeeds within 3 seconds.
pub async fn require(service: &str, url_or_addr: &str) {
    let addr = host_port(url_or_addr);
    let result = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(&addr)).await;
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!(
            "required service {service} is not reachable at {addr}: {e}. Start the test services with `scripts/services` \
             (or set the SLUICE_TEST_* variable)."
        ),
        Err(_) => {
            panic!("required service {service} did not answer at {addr} within 3s. Start it with `scripts/services`.")
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; racy but fine for tests).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A TCP proxy to a target address that can be cut (all connections dropped,
/// new ones refused by closing them at once) and restored.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
}

impl TcpProxy {
    /// Starts a proxy on an ephemeral local port forwarding to `target` (`host:port`).
    pub async fn start(target: &str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let target = target.to_string();
        let up_task = up.clone();
        let gen_task = generation.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                if !up_task.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cut = gen_task.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        TcpProxy { addr, up, generation }
    }

    /// The proxy's local address (`127.0.0.1:port`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn host_port_forms() {
        assert_eq!(host_port("postgres://postgres@127.0.0.1:5432/test"), "127.0.0.1:5432");
        assert_eq!(host_port("redis://127.0.0.1:6379"), "127.0.0.1:6379");
        assert_eq!(host_port("127.0.0.1:19092"), "127.0.0.1:19092");
        assert_eq!(host_port("a:1,b:2"), "a:1");
    }

    #[tokio::test]
    async fn proxy_forwards_and_cuts() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = echo.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = TcpProxy::start(&echo_addr.to_string()).await;
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        proxy.cut();
        let mut one = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut one)).await.unwrap().unwrap_or(0);
        assert_eq!(n, 0, "connection must be closed after cut");
        proxy.restore();
        let mut c2 = TcpStream::connect(proxy.addr()).await.unwrap();
        c2.write_all(b"ok").await.unwrap();
        c2.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ok");
    }
}
