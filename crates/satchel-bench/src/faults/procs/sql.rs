//! Throwaway PostgreSQL (initdb + postgres) and MariaDB (mariadb-install-db + mariadbd)
//! servers, as `scripts/services` starts them, but durable: PostgreSQL with its default
//! `fsync` and `synchronous_commit`, MariaDB with `innodb_flush_log_at_trx_commit=1`, so
//! "nothing acknowledged lost" is a claim about the real configuration.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The newest PostgreSQL server binaries (Debian keeps them off the PATH).
fn pg_bin() -> anyhow::Result<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no /usr/lib/postgresql (apt-get install -y postgresql)")?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|d| d.join("postgres").exists() && d.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|p| p.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
        .context("no PostgreSQL server binaries (apt-get install -y postgresql)")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Runs `cmd` as the `postgres` OS user when we are root (PostgreSQL refuses root).
fn as_postgres(bin: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

/// All processes of a server: the main one and its children (PostgreSQL backends).
fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    all.extend(super::children(pid));
    all
}

/// A PostgreSQL server we started.
#[derive(Debug)]
pub struct PgServer {
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    /// `runuser` (as root) or postgres itself.
    child: Option<Child>,
}

impl PgServer {
    /// initdb in `dir` and start on a free port.
    pub fn start(dir: PathBuf) -> anyhow::Result<Self> {
        let bin = pg_bin()?;
        std::fs::create_dir_all(&dir)?;
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&dir)
                .status()?;
            anyhow::ensure!(status.success(), "chown postgres {}", dir.display());
        }
        let out = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ])
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .context("initdb")?;
        anyhow::ensure!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut me = Self {
            port: super::free_port()?,
            dir,
            bin,
            child: None,
        };
        me.restart()?;
        Ok(me)
    }

    /// `postgres://postgres@127.0.0.1:port/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster's PID (from `postmaster.pid`).
    pub fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).ok()?;
        let pid = text.lines().next()?.trim().parse().ok()?;
        super::alive(pid).then_some(pid)
    }

    /// Starts the server again on the same port and data (crash recovery after a kill).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.reap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))?;
        let child = as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string()])
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
            ])
            .args(["-c", "max_connections=100"])
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawn postgres")?;
        self.child = Some(child);
        let port = self.port;
        anyhow::ensure!(
            super::wait_until(START_TIMEOUT, || self.pid().is_some() && tcp_answers(port)),
            "postgres on :{port} did not start (see {})",
            self.dir.join("server.log").display()
        );
        // Accepting TCP is not accepting queries (recovery); ask it.
        anyhow::ensure!(
            super::wait_until(START_TIMEOUT, || pg_ready(&self.bin, port)),
            "postgres on :{port} does not accept connections"
        );
        Ok(())
    }

    /// `kill -9` of the postmaster and every backend (a crashed server).
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        let pid = self.pid().context("postgres not running")?;
        for p in family(pid) {
            let _ = super::kill9(p);
        }
        super::wait_until(Duration::from_secs(10), || !super::alive(pid));
        self.reap();
        Ok(())
    }

    /// SIGSTOP of the postmaster and every backend.
    pub fn stop(&self) -> anyhow::Result<Vec<u32>> {
        let pid = self.pid().context("postgres not running")?;
        let all = family(pid);
        for p in &all {
            let _ = super::stop(*p);
        }
        Ok(all)
    }

    fn reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            for p in family(pid) {
                let _ = super::cont(p);
                let _ = super::kill9(p);
            }
        }
        self.reap();
    }
}

fn pg_ready(bin: &Path, port: u16) -> bool {
    Command::new(bin.join("pg_isready"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tcp_answers(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

/// A MariaDB server we started.
#[derive(Debug)]
pub struct MariaServer {
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    server: PathBuf,
    child: Option<Child>,
}

impl MariaServer {
    /// mariadb-install-db in `dir` and start on a free port.
    pub fn start(dir: PathBuf) -> anyhow::Result<Self> {
        let server = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("mariadbd is not installed (apt-get install -y mariadb-server)")?;
        super::require("mariadb-install-db", "apt-get install -y mariadb-server")?;
        super::require("mariadb", "apt-get install -y mariadb-client")?;
        std::fs::create_dir_all(&dir)?;
        let user = if is_root() {
            "root".to_owned()
        } else {
            whoami()
        };
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--user={user}"))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdin(Stdio::null())
            .output()
            .context("mariadb-install-db")?;
        anyhow::ensure!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut me = Self {
            port: super::free_port()?,
            dir,
            server,
            child: None,
        };
        me.restart()?;
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", me.socket().display()))
            .args(["-uroot", "-e"])
            .arg(
                "create user if not exists 'root'@'127.0.0.1' identified by ''; \
                 grant all privileges on *.* to 'root'@'127.0.0.1' with grant option; \
                 create database if not exists test;",
            )
            .output()
            .context("mariadb client")?;
        anyhow::ensure!(
            out.status.success(),
            "granting root@127.0.0.1 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(me)
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// `mysql://root@127.0.0.1:port/test`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/test", self.port)
    }

    /// The server's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the server again on the same port and data (crash recovery after a kill).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.reap();
        let log = self.dir.join("server.log");
        let user = if is_root() {
            "root".to_owned()
        } else {
            whoami()
        };
        let child = Command::new(&self.server)
            .arg("--no-defaults")
            .arg(format!("--user={user}"))
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}", self.dir.join("pid").display()))
            .arg(format!("--log-error={}", log.display()))
            .arg("--innodb-flush-log-at-trx-commit=1")
            .arg("--innodb-buffer-pool-size=64M")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn mariadbd")?;
        self.child = Some(child);
        let sock = self.socket();
        anyhow::ensure!(
            super::wait_until(START_TIMEOUT, || {
                Command::new("mariadb")
                    .arg("--no-defaults")
                    .arg(format!("--socket={}", sock.display()))
                    .args(["-uroot", "-e", "select 1"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }),
            "mariadbd on :{} did not start (see {})",
            self.port,
            log.display()
        );
        Ok(())
    }

    /// `kill -9`.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.pid() {
            super::kill9(pid)?;
        }
        self.reap();
        Ok(())
    }

    /// SIGSTOP.
    pub fn stop(&self) -> anyhow::Result<Vec<u32>> {
        let pid = self.pid().context("mariadbd not running")?;
        super::stop(pid)?;
        Ok(vec![pid])
    }

    fn reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MariaServer {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = super::cont(pid);
        }
        self.reap();
    }
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".to_owned())
}
