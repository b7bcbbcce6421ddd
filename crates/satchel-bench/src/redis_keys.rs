//! Where each Redis variant keeps its keys, and deleting what earlier runs left there, so a
//! variant's memory per session is measured on its own fresh keys.
//!
//! The Redis is shared (other engineers' tests use it): the cleanup deletes only keys that
//! start with the variant's own prefix, in its own database, with `SCAN MATCH` + `DEL`; it never
//! flushes a database.

/// A Redis variant's key space on the Redis at `$SATCHEL_REDIS_URL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisKeys {
    /// The database, when the variant does not use the URL's (a store that cannot prefix its
    /// keys gets a database of its own).
    pub db: Option<u8>,
    /// Every key of the variant starts with this ("": every key of `db`, which must then be
    /// the variant's alone).
    pub prefix: &'static str,
    /// Read every seeded session once after seeding, before measuring (fills a near cache).
    pub read_before_measuring: bool,
}

/// Keys deleted per `DEL` (and asked per `SCAN` step).
const BATCH: usize = 1000;

/// `prefix*` as a `SCAN MATCH` glob, with the glob's special characters in `prefix` escaped.
pub fn pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for ch in prefix.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('*');
    out
}

/// Delete every key of `keys` on the Redis at `url`; returns how many were deleted.
pub fn delete_all(url: &str, keys: &RedisKeys) -> anyhow::Result<u64> {
    let mut conn = crate::redis_server::connect(url, keys.db)?;
    let pattern = pattern(keys.prefix);
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, found): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(BATCH)
            .query(&mut conn)?;
        // SCAN's glob is the filter; this re-check guards against a pattern bug deleting
        // someone else's keys.
        let ours: Vec<&Vec<u8>> = found
            .iter()
            .filter(|k| k.starts_with(keys.prefix.as_bytes()))
            .collect();
        if !ours.is_empty() {
            let n: u64 = redis::cmd("DEL").arg(ours).query(&mut conn)?;
            deleted += n;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::pattern;

    #[test]
    fn patterns_escape_glob_characters() {
        assert_eq!(pattern("satchel-bench:satchel:"), "satchel-bench:satchel:*");
        assert_eq!(pattern(""), "*");
        assert_eq!(pattern("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
    }
}
