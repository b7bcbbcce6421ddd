//! A Sentinel-managed primary with one replica and three sentinels (quorum 2), on ports
//! of our own, with short timeouts so a failover takes seconds.

use std::time::Duration;

use anyhow::Context as _;

use super::redis::{query, RedisNode};

/// The service name the sentinels monitor.
pub const SERVICE: &str = "faults";

/// The data nodes and the sentinels.
#[derive(Debug)]
pub struct SentinelSet {
    /// The two data nodes (either may be the primary after a failover).
    pub data: Vec<RedisNode>,
    /// The three sentinels.
    pub sentinels: Vec<RedisNode>,
}

impl SentinelSet {
    /// Starts a primary, its replica and three sentinels under `dir`, and waits until the
    /// sentinels agree and the replica is in sync.
    pub fn start(dir: &std::path::Path) -> anyhow::Result<Self> {
        Self::start_with(dir, &[])
    }

    /// As [`SentinelSet::start`], with `data_args` on both data nodes (either may be the
    /// primary after a failover), e.g. `min-replicas-to-write`.
    pub fn start_with(dir: &std::path::Path, data_args: &[&str]) -> anyhow::Result<Self> {
        let p1 = super::free_port()?;
        let primary = RedisNode::start(p1, dir.join(format!("data-{p1}")), data_args)?;
        let p2 = super::free_port()?;
        let p1s = p1.to_string();
        let mut replica_args = vec!["--replicaof", "127.0.0.1", &p1s];
        replica_args.extend_from_slice(data_args);
        let replica = RedisNode::start(p2, dir.join(format!("data-{p2}")), &replica_args)?;
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let port = super::free_port()?;
            let sdir = dir.join(format!("sentinel-{port}"));
            std::fs::create_dir_all(&sdir)?;
            let conf = sdir.join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "sentinel monitor {SERVICE} 127.0.0.1 {p1} 2\n\
                     sentinel down-after-milliseconds {SERVICE} 1000\n\
                     sentinel failover-timeout {SERVICE} 4000\n\
                     sentinel parallel-syncs {SERVICE} 1\n\
                     sentinel announce-ip 127.0.0.1\n"
                ),
            )?;
            sentinels.push(RedisNode::start_with_conf(
                port,
                sdir,
                Some(conf),
                &["--sentinel"],
            )?);
        }
        let set = Self {
            data: vec![primary, replica],
            sentinels,
        };
        set.wait_healthy(Duration::from_secs(60))?;
        Ok(set)
    }

    /// `redis+sentinel://…/faults`.
    pub fn url(&self) -> String {
        let addrs: Vec<String> = self.sentinels.iter().map(RedisNode::addr).collect();
        format!("redis+sentinel://{}/{SERVICE}", addrs.join(","))
    }

    /// The port of the primary the sentinels name (the first that answers).
    pub fn primary_port(&self) -> Option<u16> {
        self.sentinels.iter().find_map(|s| {
            let mut c = s.admin().ok()?;
            let addr: Vec<String> =
                query(&mut c, &["SENTINEL", "get-master-addr-by-name", SERVICE]).ok()?;
            addr.get(1)?.parse().ok()
        })
    }

    /// Healthy: every sentinel names the same primary and has quorum, and that primary has
    /// a replica online.
    pub fn healthy(&self) -> bool {
        let mut primary = None;
        for s in &self.sentinels {
            let Ok(mut c) = s.admin() else { return false };
            let ok: Result<String, _> = query(&mut c, &["SENTINEL", "ckquorum", SERVICE]);
            if !ok.is_ok_and(|r| r.starts_with("OK")) {
                return false;
            }
            let Ok(addr) =
                query::<Vec<String>>(&mut c, &["SENTINEL", "get-master-addr-by-name", SERVICE])
            else {
                return false;
            };
            let port = addr.get(1).cloned();
            if primary.is_some() && primary != port {
                return false;
            }
            primary = port;
        }
        let Some(port) = primary.and_then(|p| p.parse::<u16>().ok()) else {
            return false;
        };
        let Some(node) = self.data.iter().find(|n| n.port == port) else {
            return false;
        };
        let Ok(mut c) = node.admin() else {
            return false;
        };
        let info: String = query(&mut c, &["INFO", "replication"]).unwrap_or_default();
        info.contains("role:master") && info.contains("state=online")
    }

    /// Waits until [`SentinelSet::healthy`].
    pub fn wait_healthy(&self, within: Duration) -> anyhow::Result<()> {
        if super::wait_until(within, || self.healthy()) {
            Ok(())
        } else {
            anyhow::bail!("the Sentinel set did not become healthy within {within:?}")
        }
    }

    /// The data node on `port`.
    pub fn node_mut(&mut self, port: u16) -> anyhow::Result<&mut RedisNode> {
        self.data
            .iter_mut()
            .find(|n| n.port == port)
            .context("no data node on that port")
    }

    /// `SENTINEL FAILOVER`, then waits until the sentinels name the other node.
    pub fn failover(&self, within: Duration) -> anyhow::Result<()> {
        let before = self.primary_port().context("no primary known")?;
        // Right after a resync the sentinels may not consider the replica promotable yet
        // (NOGOODSLAVE): ask again until they do.
        let mut c = self.sentinels[0].admin()?;
        let deadline = std::time::Instant::now() + within;
        loop {
            match query::<String>(&mut c, &["SENTINEL", "FAILOVER", SERVICE]) {
                Ok(_) => break,
                Err(e)
                    if e.to_string().contains("NOGOODSLAVE")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
        self.wait_new_primary(before, within)
    }

    /// Waits until the sentinels name a primary other than `old` that answers as one.
    pub fn wait_new_primary(&self, old: u16, within: Duration) -> anyhow::Result<()> {
        let ok = super::wait_until(within, || {
            self.primary_port()
                .is_some_and(|p| p != old && self.data.iter().any(|n| n.port == p && is_master(n)))
        });
        if ok {
            Ok(())
        } else {
            anyhow::bail!("no new primary within {within:?}")
        }
    }
}

/// Whether the node answers `INFO replication` with `role:master`.
fn is_master(node: &RedisNode) -> bool {
    node.admin()
        .ok()
        .and_then(|mut c| query::<String>(&mut c, &["INFO", "replication"]).ok())
        .is_some_and(|info| info.contains("role:master"))
}
