//! Starting the real Express, cookie-session, Koa or Koa + koa-redis app
//! (`tests/interop/*.mjs`) for one test, after `npm ci` from the lock file if its
//! packages are not installed yet.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::redis_env::{ci, loud};

/// `tests/interop` at the workspace root.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

/// Whether `program --version` runs.
fn runs(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skips (loudly), or under `CI=true` fails, and returns `false`.
fn missing(what: &str) -> bool {
    assert!(!ci(), "{what}");
    loud(&format!("SKIPPED: {what}"));
    false
}

/// Packages every interop app needs; one missing means `node_modules` predates the lock
/// file (or is absent), and `npm ci` reinstalls it.
const REQUIRED_PACKAGES: &[&str] = &[
    "express-session",
    "cookie-session",
    "koa-session",
    "koa-redis",
    "koa-generic-session",
];

/// Whether every package in [`REQUIRED_PACKAGES`] is installed under `dir`.
fn installed(dir: &Path) -> bool {
    REQUIRED_PACKAGES
        .iter()
        .all(|p| dir.join("node_modules").join(p).is_dir())
}

/// Makes sure Node and the interop app's packages are there: runs `npm ci` (exactly the
/// versions in `package-lock.json`) when `node_modules` is missing or lacks one of
/// [`REQUIRED_PACKAGES`]. Returns `false` after a loud skip notice when Node or npm is
/// absent; under `CI=true` that fails the test.
pub fn ensure_packages() -> bool {
    if !runs("node") {
        return missing("node is not installed; the live Express test needs Node 20+");
    }
    let dir = interop_dir();
    if installed(&dir) {
        return true;
    }
    if !runs("npm") {
        return missing("npm is not installed and tests/interop/node_modules is incomplete");
    }
    // Test processes run in parallel: one installs, the others wait for it.
    let _lock = InstallLock::acquire(&dir.join(".npm-ci.lock"));
    if installed(&dir) {
        return true;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("run npm ci");
    assert!(status.success(), "npm ci failed in {}", dir.display());
    true
}

/// A lock directory (creation is atomic); removed on drop. One left behind by a killed
/// run is taken over after ten minutes.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Self {
        loop {
            if std::fs::create_dir(path).is_ok() {
                return InstallLock(path.to_owned());
            }
            let stale = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > Duration::from_secs(600));
            if stale {
                let _ = std::fs::remove_dir(path);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A running Node app (Express, Express + cookie-session, or Koa); killed (by its PID, through the
/// child handle) on drop.
pub struct NodeApp {
    child: Child,
    pub port: u16,
}

impl NodeApp {
    /// `node express-app.mjs 0` with the given secret(s), Redis and key prefix.
    pub async fn express(secrets: &str, redis_url: &str, prefix: &str) -> NodeApp {
        Self::start(
            "express-app.mjs",
            &[
                ("SESSION_SECRET", secrets),
                ("REDIS_URL", redis_url),
                ("REDIS_PREFIX", prefix),
            ],
        )
        .await
    }

    /// `node koa-app.mjs 0` (koa-session cookie mode) with the given comma-separated keys.
    pub async fn koa(keys: &str) -> NodeApp {
        Self::start("koa-app.mjs", &[("KEYS", keys)]).await
    }

    /// `node koa-redis-app.mjs 0` (koa-session with koa-redis as external store) with the
    /// given comma-separated keys and Redis URL.
    pub async fn koa_redis(keys: &str, redis_url: &str) -> NodeApp {
        Self::start(
            "koa-redis-app.mjs",
            &[("KEYS", keys), ("REDIS_URL", redis_url)],
        )
        .await
    }

    /// `node koa-generic-app.mjs 0` (koa-generic-session with koa-redis, cookie maxAge one
    /// hour) with the given comma-separated keys, Redis URL and key prefix.
    pub async fn koa_generic(keys: &str, redis_url: &str, prefix: &str) -> NodeApp {
        Self::start(
            "koa-generic-app.mjs",
            &[
                ("KEYS", keys),
                ("REDIS_URL", redis_url),
                ("REDIS_PREFIX", prefix),
            ],
        )
        .await
    }

    /// `node cookie-session-app.mjs 0` (Express + cookie-session, `maxAge` one hour) with
    /// the given comma-separated keys.
    pub async fn cookie_session(keys: &str) -> NodeApp {
        Self::start("cookie-session-app.mjs", &[("KEYS", keys)]).await
    }

    /// `node SCRIPT 0` in `tests/interop` with `env`; waits for its `listening <port>`.
    async fn start(script: &str, env: &[(&str, &str)]) -> NodeApp {
        let mut child = Command::new("node")
            .args([script, "0"])
            .current_dir(interop_dir())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read node's stdout") {
                if let Some(port) = line.strip_prefix("listening ") {
                    return port.trim().parse::<u16>().expect("port");
                }
            }
            panic!("{script} exited before listening");
        })
        .await
        .unwrap_or_else(|_| panic!("{script} did not start within 30 s"));
        // Keep draining its stdout so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        NodeApp { child, port }
    }
}

impl Drop for NodeApp {
    fn drop(&mut self) {
        // SIGKILL to this child's PID only; tokio reaps it.
        let _ = self.child.start_kill();
    }
}
