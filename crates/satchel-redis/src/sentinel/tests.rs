//! A Sentinel set of the test's own (a primary, a replica, one sentinel with quorum 1, on
//! free loopback ports): the store follows a `SENTINEL FAILOVER` through the
//! `+switch-master` subscription alone (no poll, no command sent), and a risky
//! `maxmemory-policy` of the primary found through the sentinel is warned about at
//! connect. Skipped loudly without `redis-server` (a failure under `CI=true`).

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{about, parse_master, parse_switch, Named, SentinelConn};
use crate::RedisConfig;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A redis-server (or sentinel) child, killed on drop, its directory removed.
struct Node {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Node {
    fn start(conf: &str, sentinel: bool) -> Option<Node> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("satchel-sentinel-test-{port}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("node.conf");
        std::fs::write(
            &file,
            format!("port {port}\nbind 127.0.0.1\nsave \"\"\n{conf}"),
        )
        .expect("conf");
        let mut cmd = Command::new("redis-server");
        cmd.arg(&file).arg("--dir").arg(&dir);
        if sentinel {
            cmd.arg("--sentinel");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            let _ = std::fs::remove_dir_all(&dir);
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("redis-server is not installed");
            }
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: redis-server is not installed ***\n"
            );
            return None;
        };
        let node = Node { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while node.query(&["PING"]).is_none() {
            assert!(
                Instant::now() < deadline,
                "redis-server :{port} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(node)
    }

    fn query(&self, args: &[&str]) -> Option<redis::Value> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).ok()?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .ok()?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut conn).ok()
    }

    fn info_has(&self, what: &str) -> bool {
        match self.query(&["INFO", "replication"]) {
            Some(v) => redis::from_redis_value::<String>(&v).is_ok_and(|s| s.contains(what)),
            None => false,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Primary, replica (in sync), and a sentinel that knows both.
struct Set {
    data: [Node; 2],
    sentinel: Node,
}

impl Set {
    fn start(primary_conf: &str) -> Option<Set> {
        let primary = Node::start(primary_conf, false)?;
        let replica = Node::start(
            &format!("replicaof 127.0.0.1 {}\n{primary_conf}", primary.port),
            false,
        )?;
        let sentinel = Node::start(
            &format!(
                "sentinel monitor svc 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds svc 1000\n\
                 sentinel failover-timeout svc 4000\n",
                primary.port
            ),
            true,
        )?;
        let set = Set {
            data: [primary, replica],
            sentinel,
        };
        // The sentinel must know the replica before it can promote it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(set.data[0].info_has("state=online") && set.replicas_known()) {
            assert!(Instant::now() < deadline, "the Sentinel set did not form");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(set)
    }

    fn replicas_known(&self) -> bool {
        matches!(
            self.sentinel.query(&["SENTINEL", "REPLICAS", "svc"]),
            Some(redis::Value::Array(a)) if !a.is_empty()
        )
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.sentinel.port)
    }

    fn named_port(&self) -> Option<u16> {
        let v = self
            .sentinel
            .query(&["SENTINEL", "get-master-addr-by-name", "svc"])?;
        let addr: Vec<String> = redis::from_redis_value(&v).ok()?;
        addr.get(1)?.parse().ok()
    }
}

fn config() -> RedisConfig {
    RedisConfig {
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_millis(500),
        ..RedisConfig::with_prefix("satchel-sentinel-test:")
    }
}

fn current_port(conn: &SentinelConn) -> Option<u16> {
    conn.current
        .lock()
        .ok()
        .and_then(|c| c.as_ref().map(|((_, port), _)| *port))
}

/// With the poll off and no command sent, only the `+switch-master` subscription can
/// move the store: it must end up on the new primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_master_event_alone_moves_the_store() {
    let Some(set) = Set::start("") else { return };
    let conn = Arc::new(
        SentinelConn::with_poll(&[set.url()], "svc", &config(), None, None).expect("client"),
    );
    SentinelConn::watch(&conn);
    conn.connection().await.expect("connect");
    let old = current_port(&conn).expect("connected");
    assert_eq!(Some(old), set.named_port());
    // Let the subscription be established before the failover.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    while set
        .sentinel
        .query(&["SENTINEL", "FAILOVER", "svc"])
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "SENTINEL FAILOVER was refused for 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Dropped connection: the store holds none until the next call.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let named = conn.named.lock().expect("lock").clone().expect("named");
        if named.port != old {
            assert_eq!(
                current_port(&conn),
                None,
                "the old primary's connection is kept"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no +switch-master followed in 30 s (the sentinel names :{:?})",
            set.named_port()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let new = set.named_port().expect("named");
    assert_ne!(new, old);
    conn.connection().await.expect("reconnect");
    assert_eq!(current_port(&conn), Some(new));
    assert!(set.data.iter().any(|n| n.port == new));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

async fn connect_logs(set: &Set) -> String {
    use tracing_subscriber::util::SubscriberInitExt as _;
    let buf = Buf::default();
    let _guard = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_ansi(false)
        .finish()
        .set_default();
    let url = format!("redis+sentinel://127.0.0.1:{}/svc", set.sentinel.port);
    let _store = crate::RedisStore::connect(&url, config())
        .await
        .expect("connect");
    let logs = String::from_utf8_lossy(&buf.0.lock().expect("lock")).into_owned();
    logs
}

#[tokio::test(flavor = "current_thread")]
async fn a_risky_policy_of_the_sentinel_primary_is_a_warning_at_connect() {
    let Some(set) = Set::start("maxmemory-policy volatile-lru\n") else {
        return;
    };
    let logs = connect_logs(&set).await;
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("maxmemory-policy is risky"), "{logs}");
    assert!(logs.contains("volatile-lru"), "{logs}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_safe_policy_of_the_sentinel_primary_connects_quietly() {
    let Some(set) = Set::start("maxmemory-policy volatile-ttl\n") else {
        return;
    };
    let logs = connect_logs(&set).await;
    assert!(!logs.contains("maxmemory-policy"), "{logs}");
}

#[test]
fn master_replies_and_switch_payloads_parse() {
    let fields = |flags: &str| -> Vec<String> {
        [
            "name",
            "svc",
            "ip",
            "10.0.0.2",
            "port",
            "6380",
            "flags",
            flags,
            "config-epoch",
            "7",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    assert_eq!(
        parse_master(&fields("master")),
        Some(Named {
            host: "10.0.0.2".into(),
            port: 6380,
            epoch: 7
        })
    );
    assert_eq!(parse_master(&fields("master,failover_in_progress")), None);
    assert_eq!(parse_master(&fields("master")[..6]), None);
    assert_eq!(
        parse_switch("svc 127.0.0.1 1 127.0.0.1 2", "svc"),
        Some(("127.0.0.1".into(), 2))
    );
    assert_eq!(parse_switch("other 127.0.0.1 1 127.0.0.1 2", "svc"), None);
    assert_eq!(parse_switch("svc 127.0.0.1 1 127.0.0.1 x", "svc"), None);
    assert_eq!(parse_switch("", "svc"), None);
    assert!(about("master svc 127.0.0.1 1", "svc"));
    assert!(about(
        "slave 127.0.0.1:2 127.0.0.1 2 @ svc 127.0.0.1 1",
        "svc"
    ));
    assert!(!about("master other 127.0.0.1 1", "svc"));
    assert!(!about(
        "slave 127.0.0.1:2 127.0.0.1 2 @ other 127.0.0.1 1",
        "svc"
    ));
    assert!(!about("slave svc 127.0.0.1 2 @", "svc"));
    assert!(!about("", "svc"));
}

/// A raised fence holds commands until a switch lifts it.
#[tokio::test(flavor = "current_thread")]
async fn the_fence_holds_until_the_switch() {
    let conn = Arc::new(
        SentinelConn::with_poll(
            &["redis://127.0.0.1:1".to_owned()],
            "svc",
            &config(),
            None,
            None,
        )
        .expect("client"),
    );
    conn.observe(
        Named {
            host: "h".into(),
            port: 1,
            epoch: 1,
        },
        false,
    );
    conn.pass_fence().await; // no fence: passes at once
    conn.raise_fence();
    let waiter = tokio::spawn({
        let conn = conn.clone();
        async move { conn.pass_fence().await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "a command passed a raised fence");
    conn.observe(
        Named {
            host: "h".into(),
            port: 2,
            epoch: 2,
        },
        false,
    );
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the switch lifted the fence")
        .expect("task");
}

/// An older epoch never moves the store back; a forced `+switch-master` does move it.
#[test]
fn observe_orders_by_epoch() {
    let conn = SentinelConn::with_poll(
        &["redis://127.0.0.1:1".to_owned()],
        "svc",
        &config(),
        None,
        None,
    )
    .expect("client");
    let n = |port, epoch| Named {
        host: "h".into(),
        port,
        epoch,
    };
    let named = |c: &SentinelConn| c.named.lock().expect("lock").clone();
    conn.observe(n(1, 5), false);
    conn.observe(n(2, 4), false);
    assert_eq!(named(&conn), Some(n(1, 5)));
    conn.observe(n(2, 5), false);
    assert_eq!(named(&conn), Some(n(1, 5)), "a tie does not move it");
    conn.observe(n(2, 5), true);
    assert_eq!(named(&conn), Some(n(2, 5)));
    conn.observe(n(1, 5), false);
    assert_eq!(named(&conn), Some(n(2, 5)));
    conn.observe(n(3, 6), false);
    assert_eq!(named(&conn), Some(n(3, 6)));
}
