//! Dedicated service instances for outage tests.
//!
//! A test that kills, freezes or restarts a service must never touch the shared one (other
//! tests use it at the same time). Instead it starts its own on a free port:
//!
//! * [`RedisInstance`]: `redis-server --save "" --appendonly no`, data lost on kill (like the
//!   shared Redis, it keeps nothing on disk).
//! * [`OsmemInstance`]: osmem-server from `scripts/services`' venv; in memory, data lost on kill.
//! * [`TansuInstance`]: tansu with SQLite storage in its own temporary directory; the data
//!   survives `kill` (SIGKILL) and [`ServiceInstance::restart`] on the same port.
//!
//! Guarantees: `start` returns only once the instance's own process listens on its port and
//! answers a real request ([`crate::probe`]); a missing binary or a failed start panics with
//! a message naming the service, the binary and `scripts/services`, plus the end of the
//! instance's log. Dropping an instance kills its process (SIGKILL) and removes its
//! directory. Instances belong to one test: create them inside the test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::listen::pid_listens_on;
use crate::probe;

/// How long a dedicated instance may take to start (tansu on a loaded 2-core machine).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The kinds of service the testkit can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Redis,
    Osmem,
    Tansu,
}

impl Kind {
    fn service(self) -> &'static str {
        match self {
            Kind::Redis => "redis-server",
            Kind::Osmem => "osmem-server",
            Kind::Tansu => "tansu",
        }
    }

    /// Candidate paths of the binary, best first.
    fn candidates(self) -> Vec<PathBuf> {
        let tools = crate::tools_dir();
        match self {
            Kind::Redis => {
                let mut paths: Vec<PathBuf> = std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).map(|d| d.join("redis-server")).collect())
                    .unwrap_or_default();
                paths.push("/usr/bin/redis-server".into());
                paths
            }
            Kind::Osmem => {
                let mut paths: Vec<PathBuf> =
                    std::env::var_os("OSMEM_SERVER_BIN").map(PathBuf::from).into_iter().collect();
                paths.push(tools.join("bin/osmem-server"));
                if let Ok(libs) = std::fs::read_dir(tools.join("venv/lib")) {
                    paths.extend(libs.flatten().map(|d| d.path().join("site-packages/osmem_server/bin/osmem-server")));
                }
                paths
            }
            Kind::Tansu => vec![tools.join("tansu/bin/tansu"), tools.join("bin/tansu")],
        }
    }

    /// The binary, or a panic naming the service and how to install it.
    fn binary(self) -> PathBuf {
        let candidates = self.candidates();
        candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
            panic!(
                "{} binary not found (looked at {}). Run `scripts/services` to install the test services \
                 (tools dir: SLUICE_TOOLS_DIR, default ~/.cache/sluice-tools).",
                self.service(),
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )
        })
    }

    fn args(self, port: u16, dir: &Path) -> Vec<String> {
        let port_s = port.to_string();
        match self {
            Kind::Redis => vec![
                "--port".into(),
                port_s,
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                String::new(),
                "--appendonly".into(),
                "no".into(),
                "--daemonize".into(),
                "no".into(),
                "--dir".into(),
                dir.display().to_string(),
            ],
            Kind::Osmem => vec![
                "-addr".into(),
                format!("127.0.0.1:{port}"),
                "-no-stdin-watch".into(),
                // osmem-server exits by itself if the test process dies without dropping us.
                "-parent-pid".into(),
                std::process::id().to_string(),
            ],
            Kind::Tansu => vec![
                "broker".into(),
                "--listener-url".into(),
                format!("tcp://127.0.0.1:{port}"),
                "--advertised-listener-url".into(),
                format!("tcp://127.0.0.1:{port}"),
                // Relative to the instance directory (the working directory), kept across restarts.
                "--storage-engine".into(),
                "sqlite://tansu.db".into(),
            ],
        }
    }

    async fn answers(self, addr: &str) -> bool {
        match self {
            Kind::Redis => probe::redis_ping(addr).await,
            Kind::Osmem => probe::http_get_ok(addr).await,
            Kind::Tansu => probe::kafka_api_versions(addr).await,
        }
    }
}

/// A service process owned by one test: its port, directory, log, and life cycle.
/// Reached through [`RedisInstance`], [`OsmemInstance`] and [`TansuInstance`] (which deref to it).
#[derive(Debug)]
pub struct ServiceInstance {
    kind: Kind,
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    frozen: bool,
    // Dropped after the process is killed (Drop below), which removes the directory.
    dir: tempfile::TempDir,
}

impl ServiceInstance {
    async fn start(kind: Kind) -> ServiceInstance {
        let binary = kind.binary();
        let mut last_error = String::new();
        // free_port() is racy: another test may be handed the same port. Try a few.
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix(&format!("sluice-{}-", kind.service()))
                .tempdir()
                .unwrap_or_else(|e| panic!("cannot create a temporary directory for {}: {e}", kind.service()));
            let mut instance = ServiceInstance {
                kind,
                binary: binary.clone(),
                port: crate::free_port(),
                child: None,
                frozen: false,
                dir,
            };
            match instance.launch().await {
                Ok(()) => return instance,
                Err(e) => last_error = e,
            }
        }
        panic!("{last_error}")
    }

    /// Spawns the process on `self.port` in `self.dir` and waits until it is ready.
    async fn launch(&mut self) -> Result<(), String> {
        let service = self.kind.service();
        let log = self.log_path();
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{service}: open {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("{service}: {e}"))?;
        let child = Command::new(&self.binary)
            .args(self.kind.args(self.port, self.dir.path()))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {service} ({}): {e}. Run `scripts/services` to install the test services.",
                    self.binary.display()
                )
            })?;
        let pid = child.id();
        self.child = Some(child);
        self.frozen = false;
        let addr = self.addr();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(self.failure(&format!("exited with {status} during startup")));
            }
            if pid_listens_on(pid, self.port) && self.kind.answers(&addr).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(self.failure(&format!("did not become ready within {STARTUP_TIMEOUT:?}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn failure(&self, what: &str) -> String {
        format!(
            "dedicated {} on {} ({}) {what}. Run `scripts/services` if it is not installed. Log {}:\n{}",
            self.kind.service(),
            self.addr(),
            self.binary.display(),
            self.log_path().display(),
            self.log_tail(30)
        )
    }

    /// The port the instance listens on (stays the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The instance's own directory (working directory, data and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The log file holding the process's stdout and stderr (all starts appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.kind.service()))
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// True while the process runs (a frozen process counts as running).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the process with SIGKILL (no clean shutdown) and reaps it. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.frozen = false;
    }

    /// Kills the process if it runs, then starts it again on the same port with the same
    /// directory (tansu keeps its data; Redis and osmem-server start empty). Panics if it
    /// cannot start, e.g. because another process took the port meanwhile.
    pub async fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.launch().await {
            panic!("{e}");
        }
    }

    /// Stops the process with SIGSTOP: connections stay open but nothing answers (a hung
    /// service). Undo with [`ServiceInstance::thaw`].
    pub fn freeze(&mut self) {
        self.signal("STOP");
        self.frozen = true;
    }

    /// Resumes a process stopped by [`ServiceInstance::freeze`] (SIGCONT).
    pub fn thaw(&mut self) {
        self.signal("CONT");
        self.frozen = false;
    }

    // std's Child can only SIGKILL; the `kill` command sends the others (no unsafe code).
    fn signal(&self, signal: &str) {
        let pid = self.pid().unwrap_or_else(|| panic!("{} on {} is not running", self.kind.service(), self.addr()));
        let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "sending SIG{signal} to {} (pid {pid}) failed: {status:?}",
            self.kind.service()
        );
    }

    fn signal_quietly(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
        }
    }
}

impl Drop for ServiceInstance {
    fn drop(&mut self) {
        if self.frozen {
            // A stopped process still dies on SIGKILL; CONT first keeps its sockets tidy.
            self.signal_quietly("CONT");
        }
        self.kill();
    }
}

macro_rules! instance_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(ServiceInstance);

        impl $name {
            /// Starts a dedicated instance on a free port and waits until it answers.
            /// Panics (naming the service and `scripts/services`) if it cannot.
            pub async fn start() -> $name {
                $name(ServiceInstance::start($kind).await)
            }
        }

        impl std::ops::Deref for $name {
            type Target = ServiceInstance;
            fn deref(&self) -> &ServiceInstance {
                &self.0
            }
        }

        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut ServiceInstance {
                &mut self.0
            }
        }
    };
}

instance_type!(
    /// A dedicated `redis-server` (no persistence) for tests that kill or freeze Redis.
    RedisInstance,
    Kind::Redis
);
instance_type!(
    /// A dedicated osmem-server (OpenSearch API, in memory) for tests that kill or freeze it.
    OsmemInstance,
    Kind::Osmem
);
instance_type!(
    /// A dedicated tansu broker (Kafka protocol) with SQLite storage in its own directory;
    /// its topics and records survive `kill()` + `restart()`.
    TansuInstance,
    Kind::Tansu
);

impl RedisInstance {
    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }
}

impl OsmemInstance {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }
}

impl TansuInstance {
    /// The bootstrap servers string, `127.0.0.1:<port>`.
    pub fn brokers(&self) -> String {
        self.addr()
    }
}
