//! The Lua scripts: one per write operation, each doing every check and every change of
//! that operation atomically in one round trip.
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
const PRELUDE: &str = r#"
local function num(x) return string.format('%.0f', x) end
-- Index mode: inline (standalone: the script updates owner indexes itself) or deferred
-- (Cluster: index keys live in other slots, so the script returns the index operations
-- for the client to run). The mode is the first character of the prefix argument.
local IDX = {inline = true, ops = {}}
local function setmode(arg)
  IDX.inline = string.sub(arg, 1, 1) == '1'
  return string.sub(arg, 2)
end
-- Appends the deferred index operations to a reply.
local function with_ops(reply)
  for _, op in ipairs(IDX.ops) do
    for _, x in ipairs(op) do reply[#reply + 1] = x end
  end
  return reply
end
-- The metadata of session hash k: (meta, nil), (nil, nil) if absent, (nil, 'corrupt').
local function meta(k)
  local m = redis.pcall('HMGET', k, 'v', 'c', 'i', 'd', 'a', 'p', 'o')
  if type(m) == 'table' and m.err then return nil, 'corrupt' end
  if not m[1] then
    if redis.call('EXISTS', k) == 1 then return nil, 'corrupt' end
    return nil, nil
  end
  if m[1] ~= '1' then return nil, 'corrupt' end
  local c, i, d, a = tonumber(m[2]), tonumber(m[3]), tonumber(m[4]), tonumber(m[5])
  if not (c and i and d and a) or (m[6] ~= '0' and m[6] ~= '1') then return nil, 'corrupt' end
  return {c = m[2], i = i, d = d, a = a, astr = m[5], p = m[6], o = m[7]}, nil
end
local function live(mt, now) return now < math.min(mt.d, mt.a) end
local function okey(prefix, owner) return prefix .. 'o:' .. redis.sha1hex(owner) end
local function expire_at(k, t)
  if t < 1e15 then redis.call('PEXPIREAT', k, num(t)) else redis.call('PERSIST', k) end
end
-- Adds member to owner's index (scored by its absolute deadline) and prunes dead entries.
local function index_add(prefix, owner, member, abs, now)
  if not IDX.inline then IDX.ops[#IDX.ops + 1] = {'a', owner, member, num(abs)}; return end
  local idx = okey(prefix, owner)
  redis.call('ZADD', idx, num(abs), member)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', num(now))
  local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if last[2] then expire_at(idx, tonumber(last[2])) end
end
local function index_remove(prefix, owner, member)
  if not IDX.inline then IDX.ops[#IDX.ops + 1] = {'r', owner, member, '0'}; return end
  redis.call('ZREM', okey(prefix, owner), member)
end
-- HSET in chunks (unpack has a stack limit).
local function hset_many(k, args)
  for j = 1, #args, 2000 do
    redis.call('HSET', k, unpack(args, j, math.min(j + 1999, #args)))
  end
end
-- The patch encoded in ARGV from index i on.
local function read_patch(argv, i)
  local p = {clear = argv[i] == '1', max = tonumber(argv[i + 1]),
    has_exp = argv[i + 2] == '1', idle = tonumber(argv[i + 3]), abs = argv[i + 4],
    pers = argv[i + 5], owner_op = argv[i + 6], owner = argv[i + 7]}
  local ne, nr, ns = tonumber(argv[i + 8]), tonumber(argv[i + 9]), tonumber(argv[i + 10])
  i = i + 11
  p.expect = {}
  for j = 1, ne do p.expect[j] = {argv[i], argv[i + 1], argv[i + 2]}; i = i + 3 end
  p.remove = {}
  for j = 1, nr do p.remove[j] = argv[i]; i = i + 1 end
  p.set = {}
  for j = 1, ns do p.set[j] = {argv[i], argv[i + 1]}; i = i + 2 end
  return p
end
-- {'conflict', keys...} or nil.
local function conflicts(k, p)
  local out = {'conflict'}
  for _, e in ipairs(p.expect) do
    local cur = redis.call('HGET', k, '.' .. e[1])
    if e[2] == '1' then
      if cur ~= e[3] then out[#out + 1] = e[1] end
    elseif cur then
      out[#out + 1] = e[1]
    end
  end
  if #out > 1 then return out end
  return nil
end
local function too_large(k, p)
  if not p.max or p.max < 0 then return false end
  local size, named = 0, {}
  for _, r in ipairs(p.remove) do named[r] = true end
  for _, s in ipairs(p.set) do named[s[1]] = true; size = size + #s[1] + #s[2] end
  if not p.clear then
    local fields, values = redis.call('HKEYS', k), redis.call('HVALS', k)
    for j = 1, #fields do
      local f = fields[j]
      if string.sub(f, 1, 1) == '.' and not named[string.sub(f, 2)] then
        size = size + #f - 1 + #values[j]
      end
    end
  end
  return size > p.max
end
-- Applies patch p to the live session hash k (metadata mt); member is k's index member,
-- old_member the member the record had before (differs when rotating).
local function write(k, p, mt, now, prefix, member, old_member)
  if p.clear then
    local dels = {}
    for _, f in ipairs(redis.call('HKEYS', k)) do
      if string.sub(f, 1, 1) == '.' then dels[#dels + 1] = f end
    end
    for j = 1, #dels, 1000 do redis.call('HDEL', k, unpack(dels, j, math.min(j + 999, #dels))) end
  end
  if #p.remove > 0 then
    local dels = {}
    for _, r in ipairs(p.remove) do dels[#dels + 1] = '.' .. r end
    for j = 1, #dels, 1000 do redis.call('HDEL', k, unpack(dels, j, math.min(j + 999, #dels))) end
  end
  local args = {}
  for _, s in ipairs(p.set) do args[#args + 1] = '.' .. s[1]; args[#args + 1] = s[2] end
  local old_owner, old_abs = mt.o, mt.a
  if p.has_exp then
    mt.i = p.idle; mt.a = tonumber(p.abs); mt.astr = p.abs; mt.p = p.pers
    args[#args + 1] = 'i'; args[#args + 1] = num(mt.i)
    args[#args + 1] = 'a'; args[#args + 1] = mt.astr
    args[#args + 1] = 'p'; args[#args + 1] = mt.p
  end
  if p.owner_op == '1' then
    mt.o = false
    redis.call('HDEL', k, 'o')
  elseif p.owner_op == '2' then
    mt.o = p.owner
    args[#args + 1] = 'o'; args[#args + 1] = mt.o
  end
  mt.d = math.min(now + mt.i, mt.a)
  args[#args + 1] = 'd'; args[#args + 1] = num(mt.d)
  hset_many(k, args)
  local at = math.min(mt.d, mt.a)
  expire_at(k, at)
  if old_owner and (old_owner ~= mt.o or old_member ~= member) then
    index_remove(prefix, old_owner, old_member)
  end
  if mt.o and (old_owner ~= mt.o or old_member ~= member or old_abs ~= mt.a) then
    index_add(prefix, mt.o, member, mt.a, now)
  end
  return with_ops({'ok', num(at), mt.p})
end
"#;

/// `apply`: KEYS = [session]; ARGV = now, prefix, member, (unused), patch...
pub(crate) const APPLY: &str = r#"
local k, now, prefix = KEYS[1], tonumber(ARGV[1]), setmode(ARGV[2])
local mt, err = meta(k)
if err then return {err} end
if not mt or not live(mt, now) then return {'gone'} end
local p = read_patch(ARGV, 5)
local c = conflicts(k, p)
if c then return c end
if too_large(k, p) then return {'large'} end
return write(k, p, mt, now, prefix, ARGV[3], ARGV[3])
"#;

/// `rotate`: KEYS = [old, new]; ARGV = now, prefix, new member, old member, patch...
pub(crate) const ROTATE: &str = r#"
local old, new, now, prefix = KEYS[1], KEYS[2], tonumber(ARGV[1]), setmode(ARGV[2])
local mt, err = meta(old)
if err then return {err} end
if not mt or not live(mt, now) then return {'gone'} end
local nt, nerr = meta(new)
if nerr or (nt and live(nt, now)) then return {'taken'} end
local p = read_patch(ARGV, 5)
local c = conflicts(old, p)
if c then return c end
if too_large(old, p) then return {'large'} end
if nt and nt.o then index_remove(prefix, nt.o, ARGV[3]) end
redis.call('RENAME', old, new)
return write(new, p, mt, now, prefix, ARGV[3], ARGV[4])
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
local n, i = tonumber(ARGV[12]), 13
for j = 1, n do
  args[#args + 1] = '.' .. ARGV[i]; args[#args + 1] = ARGV[i + 1]; i = i + 2
end
hset_many(k, args)
expire_at(k, at)
if ARGV[10] == '1' then index_add(prefix, ARGV[11], member, a, now) end
return with_ops({'ok', num(at), ARGV[9]})
"#;

/// `touch`: KEYS = [session]; ARGV = now. Moves the idle deadline and the TTL only.
pub(crate) const TOUCH: &str = r#"
local k, now = KEYS[1], tonumber(ARGV[1])
local mt, err = meta(k)
if err then return {err} end
if not mt or not live(mt, now) then return {'gone'} end
local d = math.min(now + mt.i, mt.a)
redis.call('HSET', k, 'd', num(d))
expire_at(k, d)
return {'ok', num(d), mt.p}
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

/// `sessions_of`: no KEYS (standalone only: the session keys are computed here);
/// ARGV = prefix, owner, now. Returns flat (member, created, idle deadline, absolute
/// deadline) quadruples of the live sessions and drops dead index entries.
pub(crate) const SESSIONS_OF: &str = r#"
local prefix, owner, now = setmode(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local idx = okey(prefix, owner)
redis.call('ZREMRANGEBYSCORE', idx, '-inf', num(now))
local out = {}
for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local mt, err = meta(prefix .. 's:' .. m)
  if mt and live(mt, now) and mt.o == owner then
    out[#out + 1] = m; out[#out + 1] = mt.c; out[#out + 1] = num(mt.d); out[#out + 1] = mt.astr
  elseif not err then
    redis.call('ZREM', idx, m)
  end
end
return out
"#;

/// `revoke_owner`: no KEYS (standalone only); ARGV = prefix, owner, member to keep (or
/// empty). Deletes every session still bound to the owner; returns how many.
pub(crate) const REVOKE: &str = r#"
local prefix, owner, keep = setmode(ARGV[1]), ARGV[2], ARGV[3]
local idx = okey(prefix, owner)
local n = 0
for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if m ~= keep then
    local k = prefix .. 's:' .. m
    if redis.call('TYPE', k).ok == 'hash' and redis.call('HGET', k, 'o') == owner then
      n = n + redis.call('DEL', k)
    end
    redis.call('ZREM', idx, m)
  end
end
return n
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
        let body = format!("{PRELUDE}{body}");
        let sha = redis::Script::new(&body).get_hash().to_owned();
        Script { body, sha }
    }
}

/// Every script, hashed once per store.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) apply: Script,
    pub(crate) rotate: Script,
    pub(crate) create: Script,
    pub(crate) touch: Script,
    pub(crate) delete: Script,
    pub(crate) sessions_of: Script,
    pub(crate) revoke: Script,
    pub(crate) index_add: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            apply: Script::new(APPLY),
            rotate: Script::new(ROTATE),
            create: Script::new(CREATE),
            touch: Script::new(TOUCH),
            delete: Script::new(DELETE),
            sessions_of: Script::new(SESSIONS_OF),
            revoke: Script::new(REVOKE),
            index_add: Script::new(INDEX_ADD),
        }
    }
}
