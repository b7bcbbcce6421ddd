//! One throwaway `redis-server` (standalone, Cluster node, replica or sentinel), run in
//! the foreground as our child so its PID is the server's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// How long a starting server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A redis-server we started on `port`, restartable on the same port with the same
/// arguments and data directory.
#[derive(Debug)]
pub struct RedisNode {
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    /// Arguments after the defaults (persistence, cluster, replica, sentinel flags).
    args: Vec<String>,
    /// A config file that must come first (sentinels).
    conf: Option<PathBuf>,
    child: Option<Child>,
}

impl RedisNode {
    /// Starts a node on `port` with its data in `dir` and extra `args` (later arguments
    /// override the defaults: no persistence).
    pub fn start(port: u16, dir: PathBuf, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_with_conf(port, dir, None, args)
    }

    /// As [`RedisNode::start`], with a config file first (redis-server wants it there).
    pub fn start_with_conf(
        port: u16,
        dir: PathBuf,
        conf: Option<PathBuf>,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        super::require("redis-server", "apt-get install -y redis-server")?;
        std::fs::create_dir_all(&dir)?;
        let mut node = Self {
            port,
            dir,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            conf,
            child: None,
        };
        node.restart()?;
        Ok(node)
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// (Re)starts the server on the same port and directory and waits for `PING`.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.reap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("redis.log"))?;
        let mut cmd = Command::new("redis-server");
        if let Some(conf) = &self.conf {
            cmd.arg(conf);
        }
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--daemonize", "no", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--repl-diskless-sync-delay", "0"])
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd.spawn().context("spawn redis-server")?;
        self.child = Some(child);
        let port = self.port;
        if !super::wait_until(START_TIMEOUT, || ping(port)) {
            anyhow::bail!(
                "redis-server on :{port} did not answer PING (see {})",
                self.dir.join("redis.log").display()
            );
        }
        Ok(())
    }

    /// `kill -9`, and waits until the process is gone.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.pid() {
            super::kill9(pid)?;
        }
        self.reap();
        Ok(())
    }

    /// SIGSTOP.
    pub fn stop(&self) -> anyhow::Result<()> {
        super::stop(self.pid().context("not running")?)
    }

    /// SIGCONT.
    pub fn cont(&self) -> anyhow::Result<()> {
        super::cont(self.pid().context("not running")?)
    }

    /// A synchronous admin connection (5 s timeouts).
    pub fn admin(&self) -> anyhow::Result<redis::Connection> {
        crate::redis_server::connect(&self.url(), None)
    }

    fn reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Ours: killing an already-dead child is harmless; wait reaps it.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisNode {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            // A fault may have left it stopped; SIGKILL ends a stopped process too, but
            // continue it first so that it is never left stopped if the kill fails.
            let _ = super::cont(pid);
        }
        self.reap();
    }
}

/// Whether a server answers `PING` on `port` within a second.
pub fn ping(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

/// Runs one command on a sync connection and returns its reply.
pub fn query<T: redis::FromRedisValue>(
    conn: &mut redis::Connection,
    args: &[&str],
) -> anyhow::Result<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    Ok(cmd.query(conn)?)
}
