//! The layout-v1 Lua scripts still in use: `create` (the test-only v1 writer, see
//! `RedisStore::create_v1_for_tests`), `delete` (revoking a v1 record still bound to an
//! owner) and `index_add` (Cluster owner index). The v2 scripts are in `v2/scripts.rs`;
//! the v1 `apply`/`rotate`/`touch`/`sessions_of`/`revoke` scripts were removed with v2
//! (a v1 record is rewritten in v2 by its first write instead).
//!
//! # Layout (format version 1)
//! One Redis hash per session under `{prefix}s:{hex of the store key}`:
//!
//! | field | what |
//! |---|---|
//! | `v` | format version, `1` |
//! | `c` | created at, Unix ms |
//! | `i` | idle timeout, ms |
//! | `d` | idle deadline, Unix ms |
//! | `a` | absolute deadline, Unix ms |
//! | `p` | `1` if persistent, else `0` |
//! | `o` | owner (absent when unbound) |
//! | `z` | data size in bytes (keys plus JSON values), kept by every write so the size limit needs no scan; absent in records written before it existed, which the next write computes by a scan and stores |
//! | `.` + key | one session value (JSON text) per session key |
//!
//! Every data field starts with `.` and no metadata field does, so no session key can
//! collide with metadata (the empty key is the field `.`).
//!
//! The owner index of an owner is a sorted set under `{prefix}o:{sha1 hex of the owner}`
//! whose members are session key hexes, scored by the session's absolute deadline (which
//! only changes with an expiry change), pruned below `now` whenever it is written or read.
//! Sessions that died earlier (idle, deleted) are dropped from it when listed.
//!
//! Every script reads `now` from its arguments (time is the caller's) and compares it with
//! the stored deadlines; the Redis TTL (`PEXPIREAT` at the earlier deadline) only frees
//! memory.

/// Helpers shared by every script (prepended to each body).
///
/// Written for the cost of a call, which is what bounds writes per second: every
/// `redis.call` and every Lua table costs a fraction of a microsecond of the single Redis
/// thread, so a patch reads the metadata and the current values of the keys it names in
/// one `HMGET`, reads its own arguments in place instead of copying them into tables, and
/// keeps the data size in the field `z` instead of scanning the hash to check the size
/// limit. The common write (set a key it read) is `HMGET` + `HSET` + `PEXPIREAT`.
const PRELUDE: &str = r#"
local function num(x) return string.format('%.0f', x) end
-- Index mode: inline (standalone: the script updates owner indexes itself) or deferred
-- (Cluster: index keys live in other slots, so the script returns the index operations
-- for the client to run). The mode is the first character of the prefix argument.
local IDX_INLINE, IDX_OPS = true, nil
local function setmode(arg)
  IDX_INLINE = string.byte(arg, 1) == 49
  return string.sub(arg, 2)
end
-- Appends the deferred index operations to a reply.
local function with_ops(reply)
  if IDX_OPS then
    for _, op in ipairs(IDX_OPS) do
      for _, x in ipairs(op) do reply[#reply + 1] = x end
    end
  end
  return reply
end
local function defer(op)
  IDX_OPS = IDX_OPS or {}
  IDX_OPS[#IDX_OPS + 1] = op
end
-- unpack has a stack limit: commands with many arguments go in chunks.
local CHUNK = 1000
-- The metadata of session hash k and the current values (false: absent) of the data
-- fields `fields` (already prefixed with '.'), in one HMGET when there are few:
-- (meta, nil), (nil, nil) if absent, (nil, 'corrupt').
local function meta(k, fields)
  local n = fields and #fields or 0
  local m
  if n == 0 then
    m = redis.pcall('HMGET', k, 'v', 'c', 'i', 'd', 'a', 'p', 'o', 'z')
  elseif n <= CHUNK then
    m = redis.pcall('HMGET', k, 'v', 'c', 'i', 'd', 'a', 'p', 'o', 'z', unpack(fields))
  else
    m = redis.pcall('HMGET', k, 'v', 'c', 'i', 'd', 'a', 'p', 'o', 'z')
  end
  if type(m) ~= 'table' or m.err then return nil, 'corrupt' end
  if not m[1] then
    if redis.call('EXISTS', k) == 1 then return nil, 'corrupt' end
    return nil, nil
  end
  if m[1] ~= '1' then return nil, 'corrupt' end
  local i, d, a = tonumber(m[3]), tonumber(m[4]), tonumber(m[5])
  if not (tonumber(m[2]) and i and d and a) or (m[6] ~= '0' and m[6] ~= '1') then
    return nil, 'corrupt'
  end
  local z = false
  if m[8] then
    z = tonumber(m[8])
    if not z then return nil, 'corrupt' end
  end
  local cur = {}
  if n <= CHUNK then
    for j = 1, n do cur[j] = m[8 + j] end
  else
    for j = 1, n, CHUNK do
      local r = redis.call('HMGET', k, unpack(fields, j, math.min(j + CHUNK - 1, n)))
      for x = 1, #r do cur[#cur + 1] = r[x] end
    end
  end
  return {c = m[2], i = i, d = d, a = a, astr = m[5], p = m[6], o = m[7], z = z, cur = cur}, nil
end
local function live(mt, now) return now < math.min(mt.d, mt.a) end
local function okey(prefix, owner) return prefix .. 'o:' .. redis.sha1hex(owner) end
local function expire_at(k, t)
  if t < 1e15 then redis.call('PEXPIREAT', k, num(t)) else redis.call('PERSIST', k) end
end
-- Adds member to owner's index (scored by its absolute deadline) and prunes dead entries.
local function index_add(prefix, owner, member, abs, now)
  if not IDX_INLINE then defer({'a', owner, member, num(abs)}); return end
  local idx = okey(prefix, owner)
  redis.call('ZADD', idx, num(abs), member)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', num(now))
  local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if last[2] then expire_at(idx, tonumber(last[2])) end
end
local function index_remove(prefix, owner, member)
  if not IDX_INLINE then defer({'r', owner, member, '0'}); return end
  redis.call('ZREM', okey(prefix, owner), member)
end
local function in_chunks(cmd, k, args)
  for j = 1, #args, CHUNK do
    redis.call(cmd, k, unpack(args, j, math.min(j + CHUNK - 1, #args)))
  end
end
-- The size of the data (keys plus JSON values) of hash k, by a scan: only for records
-- written before the size field `z` existed; the next write stores it.
local function scan_size(k)
  local size, all = 0, redis.call('HGETALL', k)
  for j = 1, #all, 2 do
    local f = all[j]
    if string.byte(f, 1) == 46 then size = size + #f - 1 + #all[j + 1] end
  end
  return size
end
-- The patch encoded in ARGV from index i on: its flags, and where each list starts
-- (expectations are (key, present, value) triples, removals keys, sets (key, value)
-- pairs). Nothing is copied.
local function read_patch(i)
  local p = {clear = ARGV[i] == '1', max = tonumber(ARGV[i + 1]),
    has_exp = ARGV[i + 2] == '1', idle = tonumber(ARGV[i + 3]), abs = ARGV[i + 4],
    pers = ARGV[i + 5], owner_op = ARGV[i + 6], owner = ARGV[i + 7],
    ne = tonumber(ARGV[i + 8]), nr = tonumber(ARGV[i + 9]), ns = tonumber(ARGV[i + 10])}
  p.e0 = i + 11
  p.r0 = p.e0 + 3 * p.ne
  p.s0 = p.r0 + p.nr
  return p
end
-- The hash fields whose current values the patch needs, in this order: expected keys,
-- removed keys, set keys.
local function named_fields(p)
  local f = {}
  for j = 0, p.ne - 1 do f[#f + 1] = '.' .. ARGV[p.e0 + 3 * j] end
  for j = 0, p.nr - 1 do f[#f + 1] = '.' .. ARGV[p.r0 + j] end
  for j = 0, p.ns - 1 do f[#f + 1] = '.' .. ARGV[p.s0 + 2 * j] end
  return f
end
-- {'conflict', keys...} or nil: an expected key no longer holds the value read.
local function conflicts(p, mt)
  local out
  for j = 1, p.ne do
    local at = p.e0 + 3 * (j - 1)
    local cur = mt.cur[j]
    local stale
    if ARGV[at + 1] == '1' then stale = cur ~= ARGV[at + 2] else stale = cur ~= false end
    if stale then
      out = out or {'conflict'}
      out[#out + 1] = ARGV[at]
    end
  end
  return out
end
-- The data size after the patch: the stored size, minus what the removed and overwritten
-- keys hold now (each key once), plus the new values (the last one for a repeated key).
local function size_after(k, p, mt)
  local size = 0
  if not p.clear then
    size = mt.z or scan_size(k)
    local n = p.nr + p.ns
    if n == 1 then
      local cur = mt.cur[p.ne + 1]
      local key = p.nr == 1 and ARGV[p.r0] or ARGV[p.s0]
      if cur then size = size - #key - #cur end
    elseif n > 1 then
      local seen = {}
      for j = 1, n do
        local key
        if j <= p.nr then key = ARGV[p.r0 + j - 1] else key = ARGV[p.s0 + 2 * (j - p.nr - 1)] end
        local cur = mt.cur[p.ne + j]
        if not seen[key] then
          seen[key] = true
          if cur then size = size - #key - #cur end
        end
      end
    end
  end
  if p.ns == 1 then
    size = size + #ARGV[p.s0] + #ARGV[p.s0 + 1]
  elseif p.ns > 1 then
    local last = {}
    for j = 0, p.ns - 1 do last[ARGV[p.s0 + 2 * j]] = #ARGV[p.s0 + 2 * j + 1] end
    for key, len in pairs(last) do size = size + #key + len end
  end
  return size
end
-- Applies patch p to the live session hash k (metadata mt, new data size z); member is
-- k's index member, old_member the member the record had before (differs when rotating).
local function write(k, p, mt, z, now, prefix, member, old_member)
  local dels = {}
  if p.clear then
    for _, f in ipairs(redis.call('HKEYS', k)) do
      if string.byte(f, 1) == 46 then dels[#dels + 1] = f end
    end
  end
  for j = 0, p.nr - 1 do dels[#dels + 1] = '.' .. ARGV[p.r0 + j] end
  local old_owner, old_abs = mt.o, mt.a
  if p.owner_op == '1' then
    mt.o = false
    dels[#dels + 1] = 'o'
  end
  if #dels > 0 then in_chunks('HDEL', k, dels) end
  local args = {}
  for j = 0, p.ns - 1 do
    args[#args + 1] = '.' .. ARGV[p.s0 + 2 * j]; args[#args + 1] = ARGV[p.s0 + 2 * j + 1]
  end
  if p.has_exp then
    mt.i = p.idle; mt.a = tonumber(p.abs); mt.astr = p.abs; mt.p = p.pers
    args[#args + 1] = 'i'; args[#args + 1] = num(mt.i)
    args[#args + 1] = 'a'; args[#args + 1] = mt.astr
    args[#args + 1] = 'p'; args[#args + 1] = mt.p
  end
  if p.owner_op == '2' then
    mt.o = p.owner
    args[#args + 1] = 'o'; args[#args + 1] = mt.o
  end
  mt.d = math.min(now + mt.i, mt.a)
  args[#args + 1] = 'd'; args[#args + 1] = num(mt.d)
  args[#args + 1] = 'z'; args[#args + 1] = num(z)
  in_chunks('HSET', k, args)
  expire_at(k, mt.d)
  if old_owner and (old_owner ~= mt.o or old_member ~= member) then
    index_remove(prefix, old_owner, old_member)
  end
  if mt.o and (old_owner ~= mt.o or old_member ~= member or old_abs ~= mt.a) then
    index_add(prefix, mt.o, member, mt.a, now)
  end
  return with_ops({'ok', num(mt.d), mt.p})
end
-- Checks patch p against the live session k (metadata mt) and applies it: the body of
-- both `apply` and `rotate`, with `before` run between the checks and the write.
local function check_and_write(k, p, mt, now, prefix, member, old_member, before)
  local c = conflicts(p, mt)
  if c then return c end
  local z = size_after(k, p, mt)
  if p.max and p.max >= 0 and z > p.max then return {'large'} end
  if before then k = before() end
  return write(k, p, mt, z, now, prefix, member, old_member)
end
"#;

/// `create`: KEYS = [session]; ARGV = now, prefix, member, (unused), c, i, d, a, p,
/// owner flag (`0`/`1`), owner, n, n pairs of (key, value).
pub(crate) const CREATE: &str = r#"
local k, now, prefix, member = KEYS[1], tonumber(ARGV[1]), setmode(ARGV[2]), ARGV[3]
local mt, err = meta(k)
if err then return {err} end
if mt and live(mt, now) then return {'taken'} end
if mt then
  if mt.o then index_remove(prefix, mt.o, member) end
  redis.call('DEL', k)
end
local d, a = tonumber(ARGV[7]), tonumber(ARGV[8])
local at = math.min(d, a)
if at <= now then return with_ops({'ok', num(at), ARGV[9]}) end
local args = {'v', '1', 'c', ARGV[5], 'i', ARGV[6], 'd', ARGV[7], 'a', ARGV[8], 'p', ARGV[9]}
if ARGV[10] == '1' then args[#args + 1] = 'o'; args[#args + 1] = ARGV[11] end
local n, i, z = tonumber(ARGV[12]), 13, 0
for j = 1, n do
  args[#args + 1] = '.' .. ARGV[i]; args[#args + 1] = ARGV[i + 1]
  z = z + #ARGV[i] + #ARGV[i + 1]; i = i + 2
end
args[#args + 1] = 'z'; args[#args + 1] = num(z)
in_chunks('HSET', k, args)
expire_at(k, at)
if ARGV[10] == '1' then index_add(prefix, ARGV[11], member, a, now) end
return with_ops({'ok', num(at), ARGV[9]})
"#;

/// `delete`: KEYS = [session]; ARGV = mode+prefix, member, and (Cluster `revoke_owner`
/// only) an owner: then only a session still bound to that owner is deleted. Without an
/// owner it deletes whatever is there (also a corrupt value) and the owner index entry.
pub(crate) const DELETE: &str = r#"
local k, prefix, only = KEYS[1], setmode(ARGV[1]), ARGV[3]
local o = false
if redis.call('TYPE', k).ok == 'hash' then o = redis.call('HGET', k, 'o') end
if only and o ~= only then return with_ops({'ok', '0', '0'}) end
if o then index_remove(prefix, o, ARGV[2]) end
return with_ops({'ok', num(redis.call('DEL', k)), '0'})
"#;

/// Cluster mode: adds a member to one owner index. KEYS = [index]; ARGV = member,
/// absolute deadline, now.
pub(crate) const INDEX_ADD: &str = r#"
local idx = KEYS[1]
redis.call('ZADD', idx, ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', idx, '-inf', ARGV[3])
local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
if last[2] then expire_at(idx, tonumber(last[2])) end
return 1
"#;

/// A script body with the prelude, and its SHA-1 for `EVALSHA`.
#[derive(Debug)]
pub(crate) struct Script {
    pub(crate) body: String,
    pub(crate) sha: String,
}

impl Script {
    pub(crate) fn new(body: &str) -> Self {
        Self::bare(&format!("{PRELUDE}{body}"))
    }

    /// A script that needs none of the prelude's helpers (creating them costs every call).
    pub(crate) fn bare(body: &str) -> Self {
        let sha = redis::Script::new(body).get_hash().to_owned();
        Script {
            body: body.to_owned(),
            sha,
        }
    }
}

/// Every script, hashed once per store.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) create: Script,
    pub(crate) delete: Script,
    pub(crate) index_add: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            create: Script::new(CREATE),
            delete: Script::new(DELETE),
            index_add: Script::new(INDEX_ADD),
        }
    }
}
