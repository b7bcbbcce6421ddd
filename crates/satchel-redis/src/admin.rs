//! [`SessionAdmin`] for Redis: what the `satchel sessions`, `stats` and `purge` commands
//! read. Administration only, never on a request path: listing every session `SCAN`s the
//! whole keyspace of every primary (Cluster: each primary in turn, found with
//! `CLUSTER NODES`).
//!
//! Values are read with a plain `GET` and decoded by the store's own layout-v2 decoder
//! (`v2/format.rs`); a key holding a layout-v1 hash (`WRONGTYPE`) is read with `HGETALL`
//! and the v1 decoder (`codec.rs`). What does not decode is skipped: it is no session, and
//! the next request that meets it deletes it. Admin reads never seed the bases map of the
//! write path (a scan of a million sessions must not keep them in memory).
//!
//! Redis expires session values by itself (TTL at the earlier deadline) and each owner
//! index by itself once its last member is dead, but an index that still has a live
//! member keeps its dead members until a `sessions_of` reads it: [`SessionAdmin::purge`]
//! removes those (`ZREMRANGEBYSCORE -inf now`; the score is the member's absolute
//! deadline, so nothing live is ever removed).

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::Value as RValue;
use satchel::admin::{is_reference, Progress, PurgeReport, SessionAdmin, SessionSummary};
use satchel::{Record, StoreError, StoreErrorKind, StoreKey, Timestamp};

use crate::{codec, map_err, v2, Conn, RedisStore};

/// Keys asked for per `SCAN` call (a hint to Redis, not a limit).
const SCAN_COUNT: usize = 1_000;

/// Session reads an admin scan keeps in flight at once.
const READS_IN_FLIGHT: usize = 64;

/// `SCAN … TYPE` filter: session values (v2 strings, v1 hashes) or owner indexes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sessions,
    Indexes,
}

/// Escapes `*?[]\` so that `s` matches itself in a `SCAN MATCH` pattern.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `(next cursor, keys)` of a `SCAN` reply.
fn scan_reply(reply: RValue) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
    let unexpected = || StoreError::msg(StoreErrorKind::Backend, "unexpected SCAN reply");
    let RValue::Array(mut parts) = reply else {
        return Err(unexpected());
    };
    if parts.len() != 2 {
        return Err(unexpected());
    }
    let keys = match parts.pop() {
        Some(RValue::Array(keys)) => keys,
        _ => return Err(unexpected()),
    };
    let cursor = match parts.pop() {
        Some(RValue::BulkString(c)) => codec::parse_u64(&c).ok_or_else(unexpected)?,
        _ => return Err(unexpected()),
    };
    let keys = keys
        .into_iter()
        .filter_map(|k| match k {
            RValue::BulkString(k) => Some(k),
            _ => None,
        })
        .collect();
    Ok((cursor, keys))
}

/// `host:port` of every primary in a `CLUSTER NODES` reply that is not marked failed.
fn cluster_primaries(nodes: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(addr), Some(flags)) = (fields.get(1), fields.get(2)) else {
            continue;
        };
        let flags: Vec<&str> = flags.split(',').collect();
        if !flags.contains(&"master") || flags.iter().any(|f| f.starts_with("fail")) {
            continue;
        }
        // `ip:port@cport[,hostname]`
        let addr = addr.split(['@', ',']).next().unwrap_or("");
        if let Some((host, port)) = addr.rsplit_once(':') {
            if let (false, Ok(port)) = (host.is_empty(), port.parse()) {
                out.push((host.to_owned(), port));
            }
        }
    }
    out
}

impl RedisStore {
    /// One `SCAN` step on the primary `node` (Cluster) or on this store's server.
    async fn scan_step(
        &self,
        node: Option<&(String, u16)>,
        cursor: u64,
        pattern: &str,
        kind: Kind,
    ) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        if kind == Kind::Indexes {
            cmd.arg("TYPE").arg("zset");
        }
        let reply = match (node, &self.conn) {
            (Some((host, port)), Conn::Cluster(c)) => {
                let mut c = c.clone();
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                match tokio::time::timeout(
                    self.inner.command_timeout,
                    c.route_command(&cmd, routing),
                )
                .await
                {
                    Ok(r) => r.and_then(RValue::extract_error).map_err(map_err)?,
                    Err(_) => {
                        return Err(StoreError::msg(
                            StoreErrorKind::Timeout,
                            "Redis did not answer in time",
                        ))
                    }
                }
            }
            _ => self.send(&cmd).await?,
        };
        scan_reply(reply)
    }

    /// The primaries to scan: every Cluster primary, or `[None]` (this store's server).
    async fn scan_targets(&self) -> Result<Vec<Option<(String, u16)>>, StoreError> {
        if !matches!(self.conn, Conn::Cluster(_)) {
            return Ok(vec![None]);
        }
        let reply = self.send(redis::cmd("CLUSTER").arg("NODES")).await?;
        let text = match reply {
            RValue::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            RValue::VerbatimString { text, .. } => text,
            _ => {
                return Err(StoreError::msg(
                    StoreErrorKind::Backend,
                    "unexpected CLUSTER NODES reply",
                ))
            }
        };
        let primaries = cluster_primaries(&text);
        if primaries.is_empty() {
            return Err(StoreError::msg(
                StoreErrorKind::Unavailable,
                "CLUSTER NODES lists no reachable primary",
            ));
        }
        Ok(primaries.into_iter().map(Some).collect())
    }

    /// The next page of keys of `scan`, or `None` when every primary has been walked
    /// (a key may come twice, as `SCAN` allows; callers dedup where it matters).
    async fn next_page(&self, scan: &mut Scan) -> Result<Option<Vec<Vec<u8>>>, StoreError> {
        if scan.targets.is_none() {
            scan.targets = Some(self.scan_targets().await?);
        }
        let targets = scan.targets.as_deref().unwrap_or_default();
        let Some(node) = targets.get(scan.node) else {
            return Ok(None);
        };
        let (next, keys) = self
            .scan_step(node.as_ref(), scan.cursor, &scan.pattern, scan.kind)
            .await?;
        if next == 0 {
            scan.node += 1;
        }
        scan.cursor = next;
        Ok(Some(keys))
    }

    /// The record under the Redis key `k` as stored (v2 string or v1 hash), live or not;
    /// `None` when absent, not a session, or undecodable.
    async fn read_any(&self, k: &str) -> Result<Option<Record>, StoreError> {
        match self.send(redis::cmd("GET").arg(k)).await {
            Ok(RValue::BulkString(value)) => Ok(v2::format::decode(&value).ok().map(|(_, r)| r)),
            Ok(_) => Ok(None),
            // WRONGTYPE: a layout-v1 hash (or something else that is no session).
            Err(e) if e.kind() == StoreErrorKind::Corrupt => {
                let reply = self.send(redis::cmd("HGETALL").arg(k)).await?;
                Ok(codec::decode_record(&reply).ok().flatten())
            }
            Err(e) => Err(e),
        }
    }

    /// The live summary of the session under `key`, if any.
    async fn summary(
        &self,
        key: StoreKey,
        now: Timestamp,
    ) -> Result<Option<SessionSummary>, StoreError> {
        let Some(record) = self.read_any(&self.session_key(&key)).await? else {
            return Ok(None);
        };
        if record.meta.is_expired(now) {
            return Ok(None);
        }
        let m = record.meta;
        Ok(Some(SessionSummary {
            key,
            owner: m.owner,
            created_at: m.created_at,
            idle_deadline: m.idle_deadline,
            absolute_deadline: m.absolute_deadline,
            persistent: m.persistent,
        }))
    }

    /// The store key named by a session key `{prefix}s:{hex}` of this store.
    fn key_of(&self, name: &[u8]) -> Option<StoreKey> {
        let rest = name.strip_prefix(self.inner.prefix.as_bytes())?;
        let hex = std::str::from_utf8(rest.strip_prefix(b"s:")?).ok()?;
        StoreKey::from_hex(hex)
    }
}

/// A `SCAN` of every primary in progress (see [`RedisStore::next_page`]).
struct Scan {
    pattern: String,
    kind: Kind,
    /// Found on the first page.
    targets: Option<Vec<Option<(String, u16)>>>,
    node: usize,
    cursor: u64,
}

impl Scan {
    fn new(pattern: String, kind: Kind) -> Self {
        Scan {
            pattern,
            kind,
            targets: None,
            node: 0,
            cursor: 0,
        }
    }
}

impl RedisStore {
    /// The live sessions under the keys `pattern` matches, at most `limit`.
    async fn collect(
        &self,
        pattern: String,
        now: Timestamp,
        limit: usize,
        progress: Progress<'_>,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let mut scan = Scan::new(pattern, Kind::Sessions);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        while let Some(names) = self.next_page(&mut scan).await? {
            let keys: Vec<StoreKey> = names
                .iter()
                .filter_map(|name| self.key_of(name))
                .filter(|key| seen.insert(*key))
                .collect();
            // The connection multiplexes: a few reads in flight at once instead of one
            // round trip after the other.
            for chunk in keys.chunks(READS_IN_FLIGHT) {
                let mut reads = tokio::task::JoinSet::new();
                for &key in chunk {
                    let store = self.clone();
                    reads.spawn(async move { store.summary(key, now).await });
                }
                while let Some(read) = reads.join_next().await {
                    let read = read.map_err(|e| StoreError::new(StoreErrorKind::Backend, e))?;
                    if let Some(s) = read? {
                        out.push(s);
                    }
                }
                progress(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
                if out.len() >= limit {
                    out.truncate(limit);
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

impl SessionAdmin for RedisStore {
    async fn list(
        &self,
        owner: Option<&str>,
        now: Timestamp,
        progress: Progress<'_>,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let Some(owner) = owner else {
            let pattern = format!("{}s:*", glob_escape(&self.inner.prefix));
            return self.collect(pattern, now, usize::MAX, progress).await;
        };
        // One owner: the owner index, each member read and checked (as `sessions_of`).
        let idx = self.index_key(owner);
        let members = codec::strings(
            &self
                .send(redis::cmd("ZRANGE").arg(&idx).arg(0).arg(-1))
                .await?,
        )?;
        let mut out = Vec::new();
        for member in members {
            let Some(key) = StoreKey::from_hex(&member) else {
                continue;
            };
            if let Some(s) = self.summary(key, now).await? {
                if s.owner.as_deref() == Some(owner) {
                    out.push(s);
                }
            }
            progress(1);
        }
        Ok(out)
    }

    async fn resolve(
        &self,
        prefix: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoreKey>, StoreError> {
        if !is_reference(prefix) {
            return Ok(Vec::new());
        }
        if prefix.len() == 64 {
            let key = StoreKey::from_hex(prefix);
            return Ok(match key {
                Some(key) if self.summary(key, now).await?.is_some() => vec![key],
                _ => Vec::new(),
            });
        }
        // `prefix` is hex: nothing to escape in it.
        let pattern = format!("{}s:{prefix}*", glob_escape(&self.inner.prefix));
        let found = self.collect(pattern, now, limit.max(1), &|_| {}).await?;
        Ok(found.into_iter().map(|s| s.key).collect())
    }

    async fn purge(
        &self,
        now: Timestamp,
        _batch: usize,
        progress: Progress<'_>,
    ) -> Result<PurgeReport, StoreError> {
        let pattern = format!("{}o:*", glob_escape(&self.inner.prefix));
        let now_ms = now.as_millis().to_string();
        let mut scan = Scan::new(pattern, Kind::Indexes);
        let mut removed = 0;
        while let Some(indexes) = self.next_page(&mut scan).await? {
            for idx in indexes {
                let reply = self
                    .send(
                        redis::cmd("ZREMRANGEBYSCORE")
                            .arg(&idx)
                            .arg("-inf")
                            .arg(&now_ms),
                    )
                    .await?;
                if let RValue::Int(n) = reply {
                    removed += u64::try_from(n).unwrap_or(0);
                }
                progress(1);
            }
        }
        Ok(PurgeReport {
            sessions: 0,
            index_entries: removed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_specials_are_escaped() {
        assert_eq!(glob_escape("app:"), "app:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }

    #[test]
    fn primaries_come_from_cluster_nodes() {
        let nodes = "\
07c3 127.0.0.1:17000@27000 myself,master - 0 0 1 connected 0-5460
67ed 127.0.0.1:17001@27001 master - 0 1 2 connected 5461-10922
292f 127.0.0.1:17003@27003 slave 67ed 0 1 2 connected
aaaa 127.0.0.1:17004@27004,host.example master,fail - 0 1 3 connected
bbbb 127.0.0.1:17002@27002,host.example master - 0 1 3 connected 10923-16383
garbage
";
        assert_eq!(
            cluster_primaries(nodes),
            vec![
                ("127.0.0.1".to_owned(), 17000),
                ("127.0.0.1".to_owned(), 17001),
                ("127.0.0.1".to_owned(), 17002),
            ]
        );
    }

    #[test]
    fn scan_replies_are_checked() {
        let ok = RValue::Array(vec![
            RValue::BulkString(b"17".to_vec()),
            RValue::Array(vec![RValue::BulkString(b"k".to_vec())]),
        ]);
        assert_eq!(scan_reply(ok).expect("reply"), (17, vec![b"k".to_vec()]));
        assert!(scan_reply(RValue::Nil).is_err());
        assert!(scan_reply(RValue::Array(vec![RValue::Nil, RValue::Nil])).is_err());
    }
}
