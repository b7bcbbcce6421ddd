//! The layout-v2 Lua scripts. Written for the cost of a call (the interpreter dominates
//! small scripts): no shared prelude, no helper closures, no tables on the hot path, no
//! `tonumber` or `string.format` (except in the owner-index tail, which runs only when an
//! owner or absolute deadline changes). Deadlines are
//! compared as 13-digit strings (see `format.rs`), against the caller's `now` (ARGV, also
//! 13 digits).
//!
//! Every version check compares the first 18 bytes (version, write token, expiry): the
//! write scripts (the hot path) get them from `SET … XX GET` (see [`WRITE_BODY`]), the
//! others from `GETRANGE k 0 17`; both through `redis.pcall`, so that a key of another type
//! (a layout-v1 hash) answers `-1` instead of an error, and the client takes the v1 path. Replies of the version-checked
//! scripts: `1` written, `0` gone (no key, or expired at `now`), `2` key taken (create,
//! rotate), `-1` not a v2 string, or a bulk string: the current value, because its version
//! is not the one the caller based its write on.

/// Owner-index maintenance appended to `write_indexed`, `rotate` and `create` on
/// standalone servers (a Cluster keeps index keys in other slots: the client sends these
/// as separate commands). Expects `ix` = the ARGV index of the first index argument:
/// remove flag (`1`/`0`), old index key's member; add flag, member, score, now. The index
/// keys are the last one or two KEYS (removed-from first).
const INDEX_TAIL: &str = r#"
local kn = #KEYS
if ARGV[ix + 2] == '1' then kn = kn - 1 end
if ARGV[ix] == '1' then redis.call('ZREM', KEYS[kn], ARGV[ix + 1]) end
if ARGV[ix + 2] == '1' then
  local idx = KEYS[#KEYS]
  redis.call('ZADD', idx, ARGV[ix + 4], ARGV[ix + 3])
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', ARGV[ix + 5])
  local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if last[2] then
    if tonumber(last[2]) < 1e15 then redis.call('PEXPIREAT', idx, last[2]) else redis.call('PERSIST', idx) end
  end
end
return 1
"#;

/// The tail of the write scripts on a store with a near cache: a read of `k` after its
/// `SET`, which keeps the tracking connection (`NOLOOP`) tracked on `k` after its own
/// write, so that the next write by anyone else still invalidates the cached version (the
/// `SET` dropped `k` from the server's tracking table). ~0.6 µs of Redis CPU per write
/// (measured on Redis 7.0.15, quiet machine: the script 3.15 µs with it, 2.52 without), so
/// stores without a near cache leave it out.
const RETRACK: &str = "redis.call('EXISTS', k)\n";

/// The version-checked `SET` every write script starts with, in one call: `SET … XX GET`
/// writes and hands back the value it replaced, and only when that value's version is not
/// the caller's base (or it expired at `now`) is it put back as it was, with its own
/// deadline as TTL (a v2 value's TTL is always its `e`, or none for "never"). Measured on
/// Redis 7.0.15 (`INFO commandstats`, 10,000 keys, interleaved): 2.5-3.0 µs a call against
/// 3.2-3.7 µs for the two-call form (`GETRANGE` to check, then `SET`), and a script that
/// only does the `SET` costs 2.6 µs: the floor of any Lua write on that server. The
/// restore is safe because the script is atomic: no reader sees the interim value.
///
/// `WRONGTYPE` (a layout-v1 hash) aborts the `SET` (`-1`), a missing key is refused by `XX`
/// (`0`, no resurrection). A value that is not a v2 string (`e` is not 13 digits) is put
/// back without a TTL, since its own cannot be known; satchel never writes one.
const WRITE_BODY: &str = r#"
local k = KEYS[1]
local o
if ARGV[4] == '' then o = redis.pcall('SET', k, ARGV[3], 'XX', 'GET') else o = redis.pcall('SET', k, ARGV[3], 'XX', 'GET', 'PXAT', ARGV[4]) end
if type(o) ~= 'string' then
  if o then return -1 end
  return 0
end
local e = string.sub(o, 6, 18)
if string.sub(o, 1, 18) ~= ARGV[1] or ARGV[2] >= e then
  if string.byte(o, 1) ~= 50 or not string.find(e, '^%d%d%d%d%d%d%d%d%d%d%d%d%d$') or e == '9999999999999' then
    redis.call('SET', k, o)
  else
    redis.call('SET', k, o, 'PXAT', tonumber(e))
  end
  if string.sub(o, 1, 18) ~= ARGV[1] and o ~= '' then return o end
  return 0
end
"#;

/// `write`: KEYS = [session]; ARGV = expected version prefix, now, new value, PXAT ms
/// (empty: no expiry). The hot path of every write. `retrack`: end with [`RETRACK`] (a
/// store with a near cache).
pub(crate) fn write(retrack: bool) -> String {
    format!(
        "{WRITE_BODY}{}return 1\n",
        if retrack { RETRACK } else { "" }
    )
}

/// `write_indexed` (standalone): `write`, then the owner index change, atomically.
/// KEYS = [session, index keys...]; ARGV = as `write`, then the index arguments.
pub(crate) fn write_indexed(retrack: bool) -> String {
    format!(
        "{WRITE_BODY}{}local ix = 5\n{INDEX_TAIL}",
        if retrack { RETRACK } else { "" }
    )
}

/// `rotate` (standalone): KEYS = [old, new, index keys...]; ARGV = as `write` (the version
/// checked is the old key's), then the index arguments. Moves the value to the new key
/// in one step, refusing (`2`) when the new key holds a live record.
///
/// `renew` (standalone, periodic id renewal): the same move, and in the same step the
/// forward record (`forward.rs`) `SET` under the old key's forward key with its own
/// `PXAT` (the grace deadline). KEYS = [old, new, old's forward key, index keys...];
/// ARGV = as `rotate` up to the PXAT, then the forward value and its PXAT ms (empty:
/// none), then the index arguments. Same replies as `rotate`: a forward never stands in
/// the old session key, so renewing a forwarded key finds nothing there (`0`).
pub(crate) fn move_record(renew: bool) -> String {
    let (forward, ix) = if renew {
        (
            "if ARGV[6] == '' then redis.call('SET', KEYS[3], ARGV[5]) else redis.call('SET', KEYS[3], ARGV[5], 'PXAT', ARGV[6]) end\n",
            7,
        )
    } else {
        ("", 5)
    };
    format!(
        r#"
local k, nk = KEYS[1], KEYS[2]
local h = redis.pcall('GETRANGE', k, 0, 17)
if type(h) ~= 'string' then return -1 end
if h ~= ARGV[1] then
  if h == '' then return 0 end
  return redis.call('GET', k)
end
if ARGV[2] >= string.sub(h, 6, 18) then return 0 end
local n = redis.pcall('GETRANGE', nk, 0, 17)
if type(n) ~= 'string' then return 2 end
if n ~= '' and ARGV[2] < string.sub(n, 6, 18) then return 2 end
redis.call('DEL', k)
if ARGV[4] == '' then redis.call('SET', nk, ARGV[3]) else redis.call('SET', nk, ARGV[3], 'PXAT', ARGV[4]) end
{forward}local ix = {ix}
{INDEX_TAIL}"#
    )
}

/// `create`: KEYS = [session, the session's forward key (`forwards`: standalone and
/// Sentinel), index keys... (standalone)]; ARGV = now, value, PXAT ms (empty: none), the
/// new record's expiry (13 digits), then the index arguments.
/// Refuses (`2`) when a live record is there (a layout-v1 hash counts by its own
/// deadlines), or a live renewal forward (`forward.rs`: its deadline is bytes 1..13); an
/// expired one of either is replaced (a dead forward is deleted). A record already expired
/// at `now` is not stored (the key is cleared).
///
/// Whether the session key and the forward key exist is asked with `SETRANGE key 0 ''`, a
/// write command that changes nothing and answers the length (0: absent); a value is read
/// only when there is one (rare: a create's key is a fresh id). This matters on the near
/// cache's tracking connection: Redis 7.0 tracks *every key the script declares* as soon as
/// the script reads anything (measured: `GETRANGE k` in a script with KEYS = [k, fk] leaves
/// fk tracked), and drops a tracking entry only when its key changes, which a fresh
/// session's forward key never does: one leaked entry per session created, ~185 B of Redis
/// memory (loadbench, near-cache variants; `near_cache::creates_leave_nothing_tracked`).
/// `SETRANGE` errors are the script's (an `OOM` is reported as such), except `WRONGTYPE`:
/// a layout-v1 hash at the session key, or (forward key) not a forward satchel wrote, so
/// the key is taken.
pub(crate) fn create(forwards: bool) -> String {
    let (check, fixed) = if forwards {
        (
            r#"local fl = redis.pcall('SETRANGE', KEYS[2], 0, '')
if type(fl) == 'table' then
  if string.sub(fl.err, 1, 9) == 'WRONGTYPE' then return 2 end
  return fl
end
if fl > 0 then
  local f = redis.call('GETRANGE', KEYS[2], 1, 13)
  if now < f then return 2 end
  redis.call('DEL', KEYS[2])
end
"#,
            2,
        )
    } else {
        ("", 1)
    };
    format!(
        r#"
local k, now = KEYS[1], ARGV[1]
local hl = redis.pcall('SETRANGE', k, 0, '')
if type(hl) == 'table' then
  if string.sub(hl.err, 1, 9) ~= 'WRONGTYPE' then return hl end
  local m = redis.call('HMGET', k, 'd', 'a')
  local d, a = tonumber(m[1]), tonumber(m[2])
  if d and a and tonumber(now) < math.min(d, a) then return 2 end
elseif hl > 0 and now < string.sub(redis.call('GETRANGE', k, 0, 17), 6, 18) then
  return 2
end
{check}if now >= ARGV[4] then redis.call('DEL', k) return 1 end
if ARGV[3] == '' then redis.call('SET', k, ARGV[2]) else redis.call('SET', k, ARGV[2], 'PXAT', ARGV[3]) end
if #KEYS == {fixed} then return 1 end
local ix = 5
{INDEX_TAIL}"#
    )
}

/// `touch`: KEYS = [session]; ARGV = the base's version prefix, now, the new `e` (13
/// digits, computed by the client from the base's idle timeout and absolute deadline),
/// PEXPIREAT ms. Overwrites only `e` (`SETRANGE`) and the TTL: the body is never sent.
/// The base only has to be of the same write (version and token): a touch by someone
/// else meanwhile changed nothing the new `e` depends on. Replies `1` touched, `0` gone,
/// `-1` not a v2 string, or the current value when another write came first.
pub(crate) const TOUCH: &str = r#"
local k = KEYS[1]
local h = redis.pcall('GETRANGE', k, 0, 17)
if type(h) ~= 'string' then return -1 end
if h == '' then return 0 end
if string.sub(h, 1, 5) ~= string.sub(ARGV[1], 1, 5) then return redis.call('GET', k) end
if ARGV[2] >= string.sub(h, 6, 18) then return 0 end
redis.call('SETRANGE', k, 5, ARGV[3])
redis.call('PEXPIREAT', k, ARGV[4])
return 1
"#;

/// `delete`: KEYS = [session, its forward key (standalone and Sentinel: a renewal's
/// forward goes with the key)]. Deletes whatever is there (one `DEL` of both keys when
/// a session was there) and answers what the owner index needs: `{}` no session was
/// there, `{'2', value}` a v2 value (the client reads its owner), `{'1', owner}` /
/// `{'1'}` a v1 hash with / without an owner.
pub(crate) const DELETE: &str = r#"
local k = KEYS[1]
local v = redis.pcall('GET', k)
if type(v) == 'table' then
  local o = false
  if redis.call('TYPE', k).ok == 'hash' then o = redis.call('HGET', k, 'o') end
  redis.call('DEL', unpack(KEYS))
  if o then return {'1', o} end
  return {'1'}
end
if not v then
  if KEYS[2] then redis.call('DEL', KEYS[2]) end
  return {}
end
redis.call('DEL', unpack(KEYS))
return {'2', v}
"#;

/// `delete_if`: KEYS = [session]; ARGV = version prefix. Deletes the value only if its
/// version is still that one: `1` deleted, `0` not (changed or gone), `-1` not a v2 string.
pub(crate) const DELETE_IF: &str = r#"
local h = redis.pcall('GETRANGE', KEYS[1], 0, 17)
if type(h) ~= 'string' then return -1 end
if h ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"#;

/// `upgrade`: KEYS = [session]; ARGV = v2 value, PXAT ms (empty: none), then the flat
/// field/value list of the v1 hash as the client read it. Replaces the hash by the v2
/// value only if the hash is still exactly what was read: `1` done, `0` gone, `2`
/// changed (the client reloads), `-1` no longer a hash (someone upgraded it already).
pub(crate) const UPGRADE: &str = r#"
local k = KEYS[1]
local all = redis.pcall('HGETALL', k)
if all.err then return -1 end
if #all == 0 then return 0 end
if #all ~= #ARGV - 2 then return 2 end
for j = 1, #all do
  if all[j] ~= ARGV[j + 2] then return 2 end
end
redis.call('DEL', k)
if ARGV[2] == '' then redis.call('SET', k, ARGV[1]) else redis.call('SET', k, ARGV[1], 'PXAT', ARGV[2]) end
return 1
"#;
