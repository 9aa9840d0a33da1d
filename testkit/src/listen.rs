//! Which process listens on a port (Linux `/proc`), and waiting for a port to accept.
//!
//! [`free_port`](crate::free_port) releases the port before the service binds it, so two
//! tests may, rarely, be handed the same port. A dedicated instance is therefore only
//! considered started when *its own* process holds the listening socket
//! ([`pid_listens_on`]); a probe answered by somebody else's server does not count.

use std::io;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// Waits until a TCP connection to `addr` (`host:port`) succeeds, retrying every 50 ms.
///
/// Returns an error of kind `TimedOut` naming the address and the last connect error when
/// nothing accepted within `timeout`.
pub async fn wait_for_port(addr: &str, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let last = match tokio::time::timeout(left.max(Duration::from_millis(10)), TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "connect timed out".to_string(),
        };
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing accepted connections on {addr} within {timeout:?} (last error: {last})"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// True when process `pid` holds a TCP socket listening on `port` (IPv4 or IPv6, any
/// address). Reads `/proc/<pid>/fd` and `/proc/net/tcp{,6}`; false when they are unreadable.
pub fn pid_listens_on(pid: u32, port: u16) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    let inodes: Vec<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy();
            Some(target.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .any(|table| listening_inodes(&table, port).any(|inode| inodes.iter().any(|i| i == inode)))
}

/// Inodes of the LISTEN (state `0A`) sockets on `port` in a `/proc/net/tcp` table.
fn listening_inodes(table: &str, port: u16) -> impl Iterator<Item = &str> {
    let port_hex = format!(":{port:04X}");
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
        (local.ends_with(&port_hex) && *state == "0A").then_some(*inode)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:4A94 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0 100 0 0 10 0\n\
   1: 0100007F:4A94 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0 100 0 0 10 0\n\
   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 19092).collect::<Vec<_>>(), vec!["12345"]);
        assert_eq!(listening_inodes(table, 8080).collect::<Vec<_>>(), vec!["999"]);
        assert!(listening_inodes(table, 1).next().is_none());
    }

    #[tokio::test]
    async fn own_listener_is_found_and_wait_for_port_succeeds() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(pid_listens_on(std::process::id(), port));
        wait_for_port(&format!("127.0.0.1:{port}"), Duration::from_secs(2)).await.unwrap();
        drop(listener);
        assert!(!pid_listens_on(std::process::id(), port));
    }

    #[tokio::test]
    async fn wait_for_port_times_out_naming_the_address() {
        let addr = format!("127.0.0.1:{}", crate::free_port());
        let err = wait_for_port(&addr, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains(&addr), "{err}");
    }
}
