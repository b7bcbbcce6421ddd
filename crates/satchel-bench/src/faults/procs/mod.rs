//! Store processes the fault harness starts, kills, stops and restarts itself: throwaway
//! servers on free loopback ports with their data under a temporary directory, each
//! signalled by the PID it was started with (never by name).

pub mod cluster;
pub mod redis;
pub mod sentinel;
pub mod sql;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rustix::process::{kill_process, Pid, Signal};

/// Sends `sig` to the process `pid` (one we started).
pub fn signal(pid: u32, sig: Signal) -> anyhow::Result<()> {
    let raw = i32::try_from(pid).context("pid out of range")?;
    let pid = Pid::from_raw(raw).context("pid 0")?;
    kill_process(pid, sig).with_context(|| format!("signal {sig:?} to {raw}"))?;
    Ok(())
}

/// SIGKILL.
pub fn kill9(pid: u32) -> anyhow::Result<()> {
    signal(pid, Signal::KILL)
}

/// SIGSTOP.
pub fn stop(pid: u32) -> anyhow::Result<()> {
    signal(pid, Signal::STOP)
}

/// SIGCONT.
pub fn cont(pid: u32) -> anyhow::Result<()> {
    signal(pid, Signal::CONT)
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The direct children of `pid` (from `/proc/*/stat`).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    let (_, rest) = s.rsplit_once(") ")?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Polls `ok` every 50 ms until it is true or `within` has passed.
pub fn wait_until(within: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free loopback port whose Cluster bus port (+10000) is free too, outside the ports
/// `scripts/services` uses (17000-17202).
pub fn free_port() -> anyhow::Result<u16> {
    for _ in 0..200 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if !(20_000..=55_000).contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free loopback port pair found")
}

/// A fresh directory for one run's data (removed on drop). Short, under /tmp, so Unix
/// socket paths stay below their ~107-byte limit.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates `/tmp/satchel-faults-<pid>-<n>`.
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "satchel-faults-{}-{tag}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        Ok(Self(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether a command is on the PATH (or an absolute path that exists).
pub fn have(cmd: &str) -> bool {
    if cmd.contains('/') {
        return Path::new(cmd).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(cmd).is_file()))
}

/// Fails loudly when a tool is missing (the harness never skips silently).
pub fn require(cmd: &str, install: &str) -> anyhow::Result<()> {
    if have(cmd) {
        Ok(())
    } else {
        anyhow::bail!("{cmd} is not installed (fix: {install})")
    }
}
