//! A Redis Cluster of three primaries with one replica each, on ports of our own
//! (never 17000-17202), node timeout 2 s.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use super::redis::{query, RedisNode};

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
pub struct NodeLine {
    /// Node id.
    pub id: String,
    /// Its port.
    pub port: u16,
    /// `master` (and not failed).
    pub primary: bool,
    /// Flagged `fail` or `fail?`.
    pub failed: bool,
    /// The id of its primary (replicas).
    pub primary_of: Option<String>,
    /// How many slots it serves.
    pub slots: usize,
}

/// The six nodes.
#[derive(Debug)]
pub struct ClusterSet {
    /// Every node, primaries and replicas.
    pub nodes: Vec<RedisNode>,
}

impl ClusterSet {
    /// Starts six nodes under `dir`, creates the cluster and waits until it is healthy.
    pub fn start(dir: &std::path::Path) -> anyhow::Result<Self> {
        super::require("redis-cli", "apt-get install -y redis-tools")?;
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let port = super::free_port()?;
            nodes.push(RedisNode::start(
                port,
                dir.join(format!("node-{port}")),
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                    "--cluster-announce-ip",
                    "127.0.0.1",
                ],
            )?);
        }
        let addrs: Vec<String> = nodes.iter().map(RedisNode::addr).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .context("redis-cli --cluster create")?;
        if !out.status.success() {
            anyhow::bail!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        let set = Self { nodes };
        set.wait_healthy(Duration::from_secs(60))?;
        Ok(set)
    }

    /// `redis+cluster://…` naming every node.
    pub fn url(&self) -> String {
        let addrs: Vec<String> = self.nodes.iter().map(RedisNode::addr).collect();
        format!("redis+cluster://{}", addrs.join(","))
    }

    /// `CLUSTER NODES` as seen by the first running node that answers.
    pub fn topology(&self) -> Option<Vec<NodeLine>> {
        self.nodes
            .iter()
            .filter(|n| n.pid().is_some())
            .find_map(|n| {
                let mut c = n.admin().ok()?;
                let text: String = query(&mut c, &["CLUSTER", "NODES"]).ok()?;
                Some(parse_nodes(&text))
            })
    }

    /// Healthy: every running node says `cluster_state:ok`, three primaries serve all
    /// slots, none is failed, and each has a replica that is not failed.
    pub fn healthy(&self) -> bool {
        for n in self.nodes.iter().filter(|n| n.pid().is_some()) {
            let Ok(mut c) = n.admin() else { return false };
            let info: String = query(&mut c, &["CLUSTER", "INFO"]).unwrap_or_default();
            if !info.contains("cluster_state:ok") {
                return false;
            }
        }
        let Some(top) = self.topology() else {
            return false;
        };
        if top.iter().any(|l| l.failed) {
            return false;
        }
        let primaries: Vec<&NodeLine> = top.iter().filter(|l| l.primary && l.slots > 0).collect();
        primaries.len() == 3
            && primaries.iter().map(|p| p.slots).sum::<usize>() == 16384
            && primaries.iter().all(|p| {
                top.iter()
                    .any(|r| r.primary_of.as_deref() == Some(p.id.as_str()) && !r.failed)
            })
    }

    /// Waits until [`ClusterSet::healthy`].
    pub fn wait_healthy(&self, within: Duration) -> anyhow::Result<()> {
        if super::wait_until(within, || self.healthy()) {
            Ok(())
        } else {
            anyhow::bail!("the cluster did not become healthy within {within:?}")
        }
    }

    /// The node on `port`.
    pub fn node_mut(&mut self, port: u16) -> anyhow::Result<&mut RedisNode> {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .context("no node on that port")
    }

    /// The primaries serving slots.
    pub fn primaries(&self) -> Vec<NodeLine> {
        self.topology()
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.primary && !l.failed && l.slots > 0)
            .collect()
    }

    /// Whether the slots `killed` served are served again by a live primary (its replica
    /// promoted) and every running node says ok.
    pub fn promoted(&self, killed: &str) -> bool {
        let Some(top) = self.topology() else {
            return false;
        };
        let still = top.iter().any(|l| l.id == killed && l.primary && !l.failed);
        let served: usize = top
            .iter()
            .filter(|l| l.primary && !l.failed)
            .map(|l| l.slots)
            .sum();
        !still
            && served == 16384
            && self.nodes.iter().filter(|n| n.pid().is_some()).all(|n| {
                n.admin()
                    .ok()
                    .and_then(|mut c| query::<String>(&mut c, &["CLUSTER", "INFO"]).ok())
                    .is_some_and(|i| i.contains("cluster_state:ok"))
            })
    }

    /// `redis-cli --cluster reshard`: moves `slots` slots from `from` to `to` (node ids).
    pub fn reshard(&self, from: &str, to: &str, slots: usize) -> anyhow::Result<()> {
        let entry = self
            .nodes
            .iter()
            .find(|n| n.pid().is_some())
            .context("no running node")?;
        let out = Command::new("redis-cli")
            .args(["--cluster", "reshard", &entry.addr()])
            .args(["--cluster-from", from, "--cluster-to", to])
            .args(["--cluster-slots", &slots.to_string(), "--cluster-yes"])
            .args(["--cluster-pipeline", "100"])
            .stdin(Stdio::null())
            .output()
            .context("redis-cli --cluster reshard")?;
        if !out.status.success() {
            anyhow::bail!(
                "redis-cli --cluster reshard failed: {}",
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        Ok(())
    }
}

/// Parses `CLUSTER NODES`.
pub fn parse_nodes(text: &str) -> Vec<NodeLine> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let port = f[1].split('@').next()?.rsplit(':').next()?.parse().ok()?;
            let flags = f[2];
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| match s.split_once('-') {
                    Some((a, b)) => {
                        b.parse::<usize>().unwrap_or(0) + 1 - a.parse::<usize>().unwrap_or(0)
                    }
                    None => 1,
                })
                .sum();
            Some(NodeLine {
                id: f[0].to_owned(),
                port,
                primary: flags.contains("master"),
                failed: flags.contains("fail"),
                primary_of: (f[3] != "-").then(|| f[3].to_owned()),
                slots,
            })
        })
        .collect()
}
