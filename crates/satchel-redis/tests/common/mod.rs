//! Shared test helpers: where Redis is, and fresh isolated stores.
#![allow(dead_code, unreachable_pub)]

use satchel::StoreKey;
use satchel_redis::{RedisConfig, RedisStore};

/// The URL in `var`, or `None` after a loud skip notice. Under `CI=true` a missing
/// variable fails the test instead: CI must not silently skip Redis.
pub fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            let how = if var.contains("CLUSTER") {
                "eval \"$(scripts/services start cluster)\""
            } else if var.contains("SENTINEL") {
                "eval \"$(scripts/services start sentinel)\""
            } else if var.contains("VALKEY") {
                "eval \"$(scripts/services start valkey)\""
            } else {
                "eval \"$(scripts/services start redis)\""
            };
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{var} is not set; start Redis with `{how}`");
            }
            loud(&format!(
                "SKIPPED: {var} is not set (start Redis with `{how}`)"
            ));
            None
        }
    }
}

/// Writes straight to the process's stderr: libtest captures `eprintln!` of passing
/// tests, and a skip must be seen.
pub fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "\n*** {msg} ***\n");
}

/// A random key prefix, so that tests never share records.
pub fn prefix() -> String {
    format!("satchel-test:{:016x}:", rand::random::<u64>())
}

/// A store on `SATCHEL_REDIS_URL` with a fresh prefix.
pub async fn store() -> Option<RedisStore> {
    let url = url("SATCHEL_REDIS_URL")?;
    Some(
        RedisStore::connect(&url, RedisConfig::with_prefix(prefix()))
            .await
            .expect("connect to Redis"),
    )
}

/// Replaces the session hash under `key` with a plain string (on a Cluster, on the node
/// that owns the key's slot).
pub async fn corrupt(url: &str, store: &RedisStore, key: &StoreKey) {
    let k = store.session_key(key);
    if let Some(nodes) = url.strip_prefix("redis+cluster://") {
        let nodes: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
        let client = redis::cluster::ClusterClient::new(nodes).expect("nodes");
        let mut conn = client.get_async_connection().await.expect("connect");
        let _: () = redis::cmd("DEL")
            .arg(&k)
            .query_async(&mut conn)
            .await
            .expect("del");
        let _: () = redis::cmd("SET")
            .arg(&k)
            .arg("garbage")
            .query_async(&mut conn)
            .await
            .expect("set");
        return;
    }
    let url = direct_url(url).await;
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: () = redis::pipe()
        .del(&k)
        .set(&k, "garbage")
        .query_async(&mut conn)
        .await
        .expect("corrupt");
}

/// A `redis://` URL of the server that takes writes: `url` itself, or for a
/// `redis+sentinel://sentinel,.../service` URL the primary the first sentinel names now.
pub async fn direct_url(url: &str) -> String {
    let Some(rest) = url.strip_prefix("redis+sentinel://") else {
        return url.to_owned();
    };
    let (nodes, service) = rest.split_once('/').expect("service name in URL");
    let sentinel = nodes.split(',').next().expect("a sentinel");
    let client = redis::Client::open(format!("redis://{sentinel}")).expect("sentinel url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to a sentinel");
    let (host, port): (String, String) = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(service)
        .query_async(&mut conn)
        .await
        .expect("the primary's address");
    format!("redis://{host}:{port}")
}

/// A redis-server child process this test started on a free loopback port; killed (by
/// its own handle, so by its PID) on drop.
pub struct RedisChild {
    child: Option<std::process::Child>,
    /// The port it listens on (kept across restarts).
    pub port: u16,
    /// Extra server arguments.
    extra: Vec<String>,
    /// The server binary (`redis-server`, or a `valkey-server`).
    bin: String,
}

/// A free loopback port (free when asked; the server binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl RedisChild {
    /// Starts redis-server on a free port, or `None` after a loud skip (a failure under
    /// `CI=true`) when there is no redis-server binary.
    pub fn start() -> Option<Self> {
        Self::redis_on(free_port(), &[])
    }

    /// Starts redis-server on `port` (e.g. where another server just died), or `None` as
    /// for [`RedisChild::start`].
    pub fn start_on(port: u16) -> Option<Self> {
        Self::redis_on(port, &[])
    }

    /// Starts redis-server on a free port with extra arguments (e.g. Cluster mode), or
    /// `None` as for [`RedisChild::start`].
    pub fn start_with(extra: &[String]) -> Option<Self> {
        Self::redis_on(free_port(), extra)
    }

    /// Starts the `valkey-server` named by `SATCHEL_VALKEY_SERVER` (Valkey ≥ 8.1, which has
    /// `SET … IFEQ`; `scripts/services start valkey` sets it) on a free port, or `None`
    /// after a loud skip (a failure under `CI=true`) when it is not set.
    pub fn start_valkey() -> Option<Self> {
        let Some(bin) = std::env::var("SATCHEL_VALKEY_SERVER")
            .ok()
            .filter(|b| !b.is_empty())
        else {
            let how = "eval \"$(scripts/services start valkey)\"";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("SATCHEL_VALKEY_SERVER is not set; `{how}` sets it");
            }
            loud(&format!(
                "SKIPPED: SATCHEL_VALKEY_SERVER is not set (`{how}`)"
            ));
            return None;
        };
        let mut me = RedisChild {
            child: None,
            port: free_port(),
            extra: Vec::new(),
            bin,
        };
        assert!(me.spawn(), "{} did not start", me.bin);
        Some(me)
    }

    fn redis_on(port: u16, extra: &[String]) -> Option<Self> {
        let mut me = RedisChild {
            child: None,
            port,
            extra: extra.to_vec(),
            bin: "redis-server".to_owned(),
        };
        if !me.spawn() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("redis-server is not installed (apt-get install -y redis-server)");
            }
            loud("SKIPPED: redis-server is not installed");
            return None;
        }
        Some(me)
    }

    /// The URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> bool {
        let child = std::process::Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(&self.extra)
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            // A directory of its own: a replica saves the RDB of its full sync as
            // `dump.rdb` in its working directory, and every later server started there
            // would load it (stale keys broke `eviction.rs`).
            .arg("--dir")
            .arg(self.dir())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        // Wait until it answers.
        for _ in 0..100 {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() {
                    return true;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("redis-server did not answer on :{}", self.port);
    }

    /// Kills the server (SIGKILL: an abrupt outage) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server could not be restarted");
    }
}

impl RedisChild {
    /// The server's working directory (created on first use, removed on drop).
    fn dir(&self) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "satchel-redis-test-{}-{}",
            std::process::id(),
            self.port
        ));
        std::fs::create_dir_all(&dir).expect("server directory");
        dir
    }
}

impl Drop for RedisChild {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(self.dir());
    }
}
