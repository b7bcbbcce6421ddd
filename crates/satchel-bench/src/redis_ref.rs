//! The reference for the Redis variants: `redis-benchmark` GET and SET against the same Redis
//! (`$SATCHEL_REDIS_URL`) on the same machine, run once per benchmark run, so the report can
//! state Redis's own ceiling beside the session layers that use it.
//!
//! It runs in database [`DB`] (`--dbnum`), which no variant uses, so its `key:__rand_int__`
//! key touches nothing of theirs. A missing `redis-benchmark`, an unreachable Redis or an
//! unexpected output is recorded as the reason there is no reference, never an error.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Redis database `redis-benchmark` writes to.
pub const DB: u8 = 15;

/// Requests per command in a full run (`-n`).
pub const REQUESTS: u64 = 200_000;

/// Longest a run may take before it is stopped and reported as failed.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// GET and SET throughput, requests per second, as `redis-benchmark -q` printed them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GetSet {
    /// `GET: … requests per second`.
    pub get: f64,
    /// `SET: … requests per second`.
    pub set: f64,
}

/// The outcome of the one `redis-benchmark` run.
#[derive(Debug, Clone)]
pub struct RedisReference {
    /// The command as run (a password shown as `***`).
    pub command: String,
    /// The CPU `redis-benchmark` was pinned to, if it was.
    pub pinned: Option<usize>,
    /// The measurements, or why there are none.
    pub outcome: Result<GetSet, String>,
}

/// Where `redis-benchmark` should connect, from a `redis://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| format!("only redis:// URLs are supported here, not {url:?}"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            let nonempty = |s: &str| (!s.is_empty()).then(|| percent_decode(s));
            (nonempty(user), nonempty(pass))
        }
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, p) = v6
            .split_once(']')
            .ok_or_else(|| format!("bad host in {url:?}"))?;
        (h, p.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => 6379,
        Some(p) => p.parse().map_err(|_| format!("bad port in {url:?}"))?,
    };
    Ok(Target {
        host: if host.is_empty() { "127.0.0.1" } else { host }.to_owned(),
        port,
        user,
        password,
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET` and `SET` requests per second from `redis-benchmark -q` output (which also holds
/// `\r`-separated progress lines such as `SET: rps=…`).
fn parse_output(out: &str) -> Option<GetSet> {
    let mut get = None;
    let mut set = None;
    for line in out.split(['\r', '\n']).map(str::trim) {
        let Some((cmd, rest)) = line.split_once(": ") else {
            continue;
        };
        if !rest.contains("requests per second") {
            continue;
        }
        let Some(value) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) else {
            continue;
        };
        match cmd {
            "GET" => get = Some(value),
            "SET" => set = Some(value),
            _ => {}
        }
    }
    Some(GetSet {
        get: get?,
        set: set?,
    })
}

/// Run `redis-benchmark -t get,set -n <requests> -c <clients> -P 1 -q --dbnum 15` against the
/// Redis at `url`, pinned to `core` when given (the child inherits the affinity of the thread
/// that starts it), and wait for it (at most two minutes).
pub fn run(url: &str, requests: u64, clients: usize, core: Option<usize>) -> RedisReference {
    let target = match parse_url(url) {
        Ok(t) => t,
        Err(e) => {
            return RedisReference {
                command: "redis-benchmark".to_owned(),
                pinned: None,
                outcome: Err(e),
            }
        }
    };
    let mut args: Vec<String> = vec![
        "-h".into(),
        target.host.clone(),
        "-p".into(),
        target.port.to_string(),
    ];
    let mut shown = args.clone();
    if let Some(user) = &target.user {
        for v in [&mut args, &mut shown] {
            v.extend(["--user".to_owned(), user.clone()]);
        }
    }
    if let Some(password) = &target.password {
        args.extend(["-a".to_owned(), password.clone()]);
        shown.extend(["-a".to_owned(), "***".to_owned()]);
    }
    let rest = [
        "--dbnum".to_owned(),
        DB.to_string(),
        "-t".to_owned(),
        "get,set".to_owned(),
        "-n".to_owned(),
        requests.to_string(),
        "-c".to_owned(),
        clients.to_string(),
        "-P".to_owned(),
        "1".to_owned(),
        "-q".to_owned(),
    ];
    args.extend(rest.iter().cloned());
    shown.extend(rest);
    let command = format!("redis-benchmark {}", shown.join(" "));
    // Start it from a thread pinned like the load generator, so the child is pinned too.
    let (pinned, outcome) = std::thread::scope(|s| {
        s.spawn(|| {
            let pinned = core.filter(|&c| crate::sys::pin_current_thread(c));
            (pinned, run_child(&args))
        })
        .join()
        .unwrap_or_else(|_| {
            (
                None,
                Err("the thread running redis-benchmark panicked".into()),
            )
        })
    });
    RedisReference {
        command,
        pinned,
        outcome,
    }
}

fn run_child(args: &[String]) -> Result<GetSet, String> {
    let mut child = Command::new("redis-benchmark")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "redis-benchmark is not installed (Debian: apt-get install redis-tools)".to_owned()
            }
            _ => format!("could not start redis-benchmark: {e}"),
        })?;
    let read_all = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read_all(child.stdout.take().map(|r| Box::new(r) as Box<_>));
    let stderr = read_all(child.stderr.take().map(|r| Box::new(r) as Box<_>));
    let deadline = Instant::now() + TIME_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "redis-benchmark did not finish within {} s; stopped",
                    TIME_LIMIT.as_secs()
                ));
            }
            Err(e) => break Err(format!("waiting for redis-benchmark: {e}")),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let status = status?;
    match parse_output(&stdout) {
        Some(r) if status.success() => Ok(r),
        _ => {
            let why = stderr
                .split(['\r', '\n'])
                .chain(stdout.split(['\r', '\n']))
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no GET/SET results in its output");
            Err(format!("redis-benchmark failed ({status}): {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("redis://127.0.0.1:6380/3").expect("url");
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 6380));
        assert_eq!((t.user, t.password), (None, None));
        let t = parse_url("redis://localhost").expect("url");
        assert_eq!((t.host.as_str(), t.port), ("localhost", 6379));
        let t = parse_url("redis://:p%40ss@[::1]:7000").expect("url");
        assert_eq!((t.host.as_str(), t.port), ("::1", 7000));
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert_eq!(t.user, None);
        let t = parse_url("redis://bob:pw@127.0.0.1/").expect("url");
        assert_eq!(t.user.as_deref(), Some("bob"));
        assert_eq!(t.port, 6379);
        assert!(parse_url("rediss://127.0.0.1").is_err());
        assert!(parse_url("redis://127.0.0.1:x").is_err());
    }

    #[test]
    fn quiet_output() {
        let out = "SET: rps=120000.0 (overall: 118000.0) avg_msec=0.2\r\
                   SET: 140845.06 requests per second, p50=0.127 msec\n\
                   GET: rps=150000.0 (overall: 149000.0) avg_msec=0.1\r\
                   GET: 151515.16 requests per second, p50=0.111 msec\n";
        assert_eq!(
            parse_output(out),
            Some(GetSet {
                get: 151_515.16,
                set: 140_845.06
            })
        );
        assert_eq!(
            parse_output("Could not connect to Redis at 127.0.0.1:1\n"),
            None
        );
    }
}
