//! The Redis server the Redis variants talk to, seen from the benchmark: which local process
//! it is, how much CPU it has used so far and how much memory it holds.
//!
//! The CPU clock is the process's own (every thread's `schedstat`, see
//! [`crate::sys::process_cpu_time`]) when the server is a process on this machine, found by
//! `INFO server` `process_id` and checked by its name and port; otherwise `INFO cpu`
//! `used_cpu_user + used_cpu_sys` (`getrusage` of the server, µs precision), at the cost of
//! one `INFO` command at each end of a window.

use std::time::Duration;

use anyhow::Context as _;

/// How long connecting or one command may take before the probe gives up.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the server's CPU time is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuSource {
    /// `/proc/<pid>/task/*/schedstat` of the local server process.
    Proc {
        /// The server's process id.
        pid: u32,
    },
    /// `INFO cpu` `used_cpu_user + used_cpu_sys`.
    Info,
}

/// A connection to the Redis the Redis variants use, for measurements only (it never writes
/// outside [`crate::redis_keys`]'s per-variant cleanup).
pub struct RedisServer {
    conn: redis::Connection,
    cpu: CpuSource,
    /// Why the server is not read through `/proc`, when it is not.
    not_local: Option<String>,
}

impl std::fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisServer")
            .field("cpu", &self.cpu)
            .field("not_local", &self.not_local)
            .finish_non_exhaustive()
    }
}

/// The value of `field` in an `INFO` reply (`field:value` lines).
pub fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .find(|(k, _)| *k == field)
        .map(|(_, v)| v)
}

/// A sync connection to `url` (a `redis://` URL), in database `db` instead of the URL's when
/// given.
pub fn connect(url: &str, db: Option<u8>) -> anyhow::Result<redis::Connection> {
    let mut info: redis::ConnectionInfo = url
        .parse()
        .with_context(|| format!("bad Redis URL {url:?}"))?;
    if let Some(db) = db {
        info.redis.db = i64::from(db);
    }
    let client = redis::Client::open(info)?;
    let conn = client
        .get_connection_with_timeout(TIMEOUT)
        .with_context(|| format!("connect to Redis at {url}"))?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.set_write_timeout(Some(TIMEOUT))?;
    Ok(conn)
}

fn info(conn: &mut redis::Connection, section: &str) -> anyhow::Result<String> {
    Ok(redis::cmd("INFO").arg(section).query(conn)?)
}

/// Whether `url` names a loopback host (only then can `process_id` be a process of ours).
fn is_loopback(url: &str) -> bool {
    let Ok(info) = url.parse::<redis::ConnectionInfo>() else {
        return false;
    };
    match info.addr {
        redis::ConnectionAddr::Tcp(host, _) | redis::ConnectionAddr::TcpTls { host, .. } => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        redis::ConnectionAddr::Unix(_) => true,
    }
}

/// The local process of the server that answered `server_info` (`INFO server`), or why it
/// cannot be used: the pid must be a `redis-server`/`valkey-server` whose title names the
/// server's port, so a pid from another PID namespace (a container) is never mistaken for it.
fn local_pid(url: &str, server_info: &str) -> Result<u32, String> {
    if !is_loopback(url) {
        return Err("the Redis is not on loopback".to_owned());
    }
    let pid: u32 = info_field(server_info, "process_id")
        .and_then(|p| p.parse().ok())
        .ok_or("INFO server has no process_id")?;
    let port = info_field(server_info, "tcp_port").unwrap_or("");
    let name = crate::sys::process_name(pid)
        .ok_or_else(|| format!("process {pid} (INFO process_id) is not visible here"))?;
    if name != "redis-server" && name != "valkey-server" {
        return Err(format!(
            "process {pid} (INFO process_id) is {name:?}, not redis-server"
        ));
    }
    let cmdline = crate::sys::process_cmdline(pid).unwrap_or_default();
    if !cmdline.contains(&format!(":{port}")) {
        return Err(format!(
            "process {pid} ({cmdline:?}) does not name port {port}"
        ));
    }
    Ok(pid)
}

impl RedisServer {
    /// Connect to the Redis at `url` and find out how to read its CPU time.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let mut conn = connect(url, None)?;
        let server = info(&mut conn, "server")?;
        let (cpu, not_local) = match local_pid(url, &server) {
            Ok(pid) if crate::sys::process_cpu_time(pid).is_some() => {
                (CpuSource::Proc { pid }, None)
            }
            Ok(pid) => (
                CpuSource::Info,
                Some(format!("process {pid} has no readable schedstat")),
            ),
            Err(why) => (CpuSource::Info, Some(why)),
        };
        Ok(Self {
            conn,
            cpu,
            not_local,
        })
    }

    /// Where CPU time is read from.
    pub fn cpu_source(&self) -> CpuSource {
        self.cpu
    }

    /// The local server process, if it is one.
    pub fn pid(&self) -> Option<u32> {
        match self.cpu {
            CpuSource::Proc { pid } => Some(pid),
            CpuSource::Info => None,
        }
    }

    /// Why the server is not a local process we can read, if it is not.
    pub fn not_local(&self) -> Option<&str> {
        self.not_local.as_deref()
    }

    /// CPU time the server has used since it started (None if it could not be read).
    pub fn cpu_time(&mut self) -> Option<Duration> {
        match self.cpu {
            CpuSource::Proc { pid } => crate::sys::process_cpu_time(pid),
            CpuSource::Info => {
                let cpu = info(&mut self.conn, "cpu").ok()?;
                let secs = |f| info_field(&cpu, f)?.parse::<f64>().ok();
                let total = secs("used_cpu_user")? + secs("used_cpu_sys")?;
                Duration::try_from_secs_f64(total).ok()
            }
        }
    }

    /// `INFO memory` `used_memory`: bytes the server's allocator holds for data and overhead.
    pub fn used_memory(&mut self) -> anyhow::Result<u64> {
        let mem = info(&mut self.conn, "memory")?;
        info_field(&mem, "used_memory")
            .and_then(|v| v.parse().ok())
            .context("INFO memory has no used_memory")
    }

    /// One line for the report: where the CPU time comes from.
    pub fn describe_cpu(&self) -> String {
        match (self.cpu, &self.not_local) {
            (CpuSource::Proc { pid }, _) => format!(
                "the redis-server process's CPU time (pid {pid} from `INFO server` `process_id`, every thread's `/proc/<pid>/task/*/schedstat`, ns precision)"
            ),
            (CpuSource::Info, why) => format!(
                "`INFO cpu` `used_cpu_user + used_cpu_sys` (µs precision, one `INFO` at each end of the window; not read from /proc: {})",
                why.as_deref().unwrap_or("unknown")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields() {
        let info = "# Server\r\nredis_version:7.0.15\r\nprocess_id:2234\r\ntcp_port:6379\r\n";
        assert_eq!(info_field(info, "process_id"), Some("2234"));
        assert_eq!(info_field(info, "tcp_port"), Some("6379"));
        assert_eq!(info_field(info, "process"), None);
    }

    #[test]
    fn loopback_only() {
        assert!(is_loopback("redis://127.0.0.1:6379"));
        assert!(is_loopback("redis://localhost/3"));
        assert!(is_loopback("redis://[::1]:7000"));
        assert!(!is_loopback("redis://10.1.2.3:6379"));
        assert_eq!(
            local_pid("redis://10.1.2.3", "process_id:1\r\n"),
            Err("the Redis is not on loopback".to_owned())
        );
    }

    #[test]
    fn a_pid_that_is_not_redis_is_refused() {
        // Our own pid: visible, but not a redis-server.
        let info = format!("process_id:{}\r\ntcp_port:6379\r\n", std::process::id());
        let err = local_pid("redis://127.0.0.1:6379", &info).expect_err("not redis");
        assert!(err.contains("not redis-server"), "{err}");
    }
}
