//! Readiness probes: the smallest real request each service answers, over a raw TCP
//! connection, so the testkit needs no client crates of its own.
//!
//! * Redis: `PING` must answer `+PONG`.
//! * HTTP (osmem-server): `GET /` must answer status 200.
//! * Kafka (tansu): an `ApiVersions` v0 request must answer with the same correlation id and
//!   error code 0.
//!
//! Every probe is bounded by [`PROBE_TIMEOUT`] and returns `false` on any error.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound of one probe (connect + request + response).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

async fn exchange(addr: &str, request: &[u8], min_len: usize) -> Option<Vec<u8>> {
    let io = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(request).await.ok()?;
        let mut response = Vec::new();
        let mut buf = [0u8; 512];
        while response.len() < min_len {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
        }
        Some(response)
    };
    tokio::time::timeout(PROBE_TIMEOUT, io).await.ok().flatten()
}

/// True when the Redis server at `addr` (`host:port`) answers `PING` with `+PONG`.
pub async fn redis_ping(addr: &str) -> bool {
    exchange(addr, b"PING\r\n", 7).await.is_some_and(|r| r.starts_with(b"+PONG"))
}

/// True when the HTTP server at `addr` (`host:port`) answers `GET /` with status 200.
pub async fn http_get_ok(addr: &str) -> bool {
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    exchange(addr, request.as_bytes(), 12)
        .await
        .is_some_and(|r| r.starts_with(b"HTTP/1.1 200") || r.starts_with(b"HTTP/1.0 200"))
}

/// Correlation id used by [`kafka_api_versions`].
const CORRELATION_ID: i32 = 0x5_1c_e0;

/// True when the Kafka broker at `addr` (`host:port`) answers an `ApiVersions` v0 request
/// (api key 18) with our correlation id and error code 0.
pub async fn kafka_api_versions(addr: &str) -> bool {
    let client_id = b"sluice-testkit";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes()); // api key: ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes()); // api version 0
    body.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut request = (body.len() as i32).to_be_bytes().to_vec();
    request.extend_from_slice(&body);
    // Response: size (4), correlation id (4), error code (2), ...
    let Some(response) = exchange(addr, &request, 10).await else { return false };
    response.len() >= 10
        && response[4..8] == CORRELATION_ID.to_be_bytes()
        && i16::from_be_bytes([response[8], response[9]]) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn probes_fail_on_a_closed_port() {
        let port = crate::free_port();
        let addr = format!("127.0.0.1:{port}");
        assert!(!redis_ping(&addr).await);
        assert!(!http_get_ok(&addr).await);
        assert!(!kafka_api_versions(&addr).await);
    }

    #[tokio::test]
    async fn probes_fail_on_a_wrong_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"-ERR nope\r\n\0\0\0\0\0\0").await;
            }
        });
        assert!(!redis_ping(&addr).await);
        assert!(!http_get_ok(&addr).await);
        assert!(!kafka_api_versions(&addr).await);
    }
}
