//! Child processes of a test: killed if the test panics.

use std::process::{Command, Stdio};

/// Registers a spawned process to be killed (SIGKILL) if the test panics, so
/// that a failing test does not leave a `sluice` running after it (a killed
/// or exited process's pid is only reused after many forks; the window is
/// the test's own lifetime).
pub fn kill_on_panic(pid: u32) {
    static PIDS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());
    static HOOK: std::sync::Once = std::sync::Once::new();
    PIDS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            for pid in PIDS.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).stderr(Stdio::null()).status();
            }
            previous(info);
        }));
    });
}
