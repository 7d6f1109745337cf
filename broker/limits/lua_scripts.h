// Internal to rate_limiter.cpp: the Redis Lua scripts of the rate limiter.
// Each runs atomically on the server and reads the server's clock (TIME), so
// brokers with skewed clocks share the same buckets correctly.
//
// Scopes (tenant, key) are passed as groups of keys and arguments; a limit
// of -1 is "none". Buckets are hashes {l: level, t: ms of the level}
// refilling `limit` per 60 s up to `limit`; concurrency is a sorted set of
// lease ids scored by their expiry (ms); the month is a counter.
#pragma once

namespace scn::broker::limits::lua {

// KEYS: per scope req, tok, conc, month. ARGV: lease id, lease ttl ms,
// reserve, then per scope rpm, tpm, conc, monthly.
// Returns {admitted, deny kind (1 rpm, 2 tpm, 3 conc, 4 month), deny scope
// (1-based), retry ms, req limit, req remaining, req reset ms, tok limit,
// tok remaining, tok reset ms, deny limit} (limit -1: no such limit).
inline constexpr const char* kAdmit = R"LUA(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, lease_ttl, reserve = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n = #KEYS / 4
local function level_of(key, cap)
  local v = redis.call('HMGET', key, 'l', 't')
  local level, ts = tonumber(v[1]), tonumber(v[2])
  if not level or not ts then return cap end
  local dt = now - ts
  if dt < 0 then dt = 0 end
  level = level + dt * cap / 60000
  if level > cap then level = cap end
  return level
end
local lim, lv = {}, {}
local kind, scope, retry, dlimit = 0, 0, 0, -1
for i = 1, n do
  local b = (i - 1) * 4
  local l = {tonumber(ARGV[4 + b]), tonumber(ARGV[5 + b]), tonumber(ARGV[6 + b]), tonumber(ARGV[7 + b])}
  lim[i] = l
  lv[i] = {}
  if l[1] > 0 then
    lv[i][1] = level_of(KEYS[b + 1], l[1])
    if lv[i][1] < 1 and kind == 0 then
      kind, scope, dlimit = 1, i, l[1]
      retry = math.ceil((1 - lv[i][1]) * 60000 / l[1])
    end
  end
  if l[2] > 0 then
    lv[i][2] = level_of(KEYS[b + 2], l[2])
    local need = math.min(reserve, l[2])
    if lv[i][2] < need and kind == 0 then
      kind, scope, dlimit = 2, i, l[2]
      retry = math.ceil((need - lv[i][2]) * 60000 / l[2])
    end
  end
  if l[3] > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[b + 3], '-inf', now)
    if redis.call('ZCARD', KEYS[b + 3]) >= l[3] and kind == 0 then
      kind, scope, dlimit, retry = 3, i, l[3], 1000
    end
  end
  if l[4] >= 0 then
    local used = tonumber(redis.call('GET', KEYS[b + 4]) or '0')
    if used >= l[4] and kind == 0 then kind, scope, dlimit, retry = 4, i, l[4], 0 end
  end
end
if kind == 0 then
  for i = 1, n do
    local b, l = (i - 1) * 4, lim[i]
    if l[1] > 0 then
      lv[i][1] = lv[i][1] - 1
      redis.call('HSET', KEYS[b + 1], 'l', lv[i][1], 't', now)
      redis.call('PEXPIRE', KEYS[b + 1], 120000)
    end
    if l[2] > 0 then
      lv[i][2] = lv[i][2] - reserve
      redis.call('HSET', KEYS[b + 2], 'l', lv[i][2], 't', now)
      redis.call('PEXPIRE', KEYS[b + 2], 120000)
    end
    if l[3] > 0 then
      redis.call('ZADD', KEYS[b + 3], now + lease_ttl, lease)
      redis.call('PEXPIRE', KEYS[b + 3], lease_ttl + 60000)
    end
    if l[4] >= 0 then
      redis.call('INCRBY', KEYS[b + 4], reserve)
      redis.call('EXPIRE', KEYS[b + 4], 3456000)
    end
  end
end
local h = {-1, 0, 0, -1, 0, 0}
for i = 1, n do
  for k = 1, 2 do
    local cap = lim[i][k]
    if cap > 0 then
      local level = lv[i][k]
      local rem = math.floor(level)
      if rem < 0 then rem = 0 end
      local o = (k - 1) * 3
      if h[o + 1] < 0 or rem < h[o + 2] then
        h[o + 1], h[o + 2] = cap, rem
        h[o + 3] = math.ceil((cap - level) * 60000 / cap)
      end
    end
  end
end
return {kind == 0 and 1 or 0, kind, scope, retry, h[1], h[2], h[3], h[4], h[5], h[6], dlimit}
)LUA";

// KEYS: per scope tok, conc, month. ARGV: lease id, delta tokens (used -
// reserved), then per scope tpm, monthly. Gives back (or takes) the delta
// and drops the lease.
inline constexpr const char* kSettle = R"LUA(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, delta = ARGV[1], tonumber(ARGV[2])
for i = 1, #KEYS / 3 do
  local b = (i - 1) * 3
  local tpm, month = tonumber(ARGV[3 + (i - 1) * 2]), tonumber(ARGV[4 + (i - 1) * 2])
  if tpm > 0 and delta ~= 0 then
    local v = redis.call('HMGET', KEYS[b + 1], 'l', 't')
    local level, ts = tonumber(v[1]), tonumber(v[2])
    if level and ts then
      local dt = now - ts
      if dt < 0 then dt = 0 end
      level = math.min(tpm, level + dt * tpm / 60000) - delta
      if level > tpm then level = tpm end
      redis.call('HSET', KEYS[b + 1], 'l', level, 't', now)
      redis.call('PEXPIRE', KEYS[b + 1], 120000)
    end
  end
  redis.call('ZREM', KEYS[b + 2], lease)
  if month >= 0 and delta ~= 0 and redis.call('EXISTS', KEYS[b + 3]) == 1 then
    if redis.call('INCRBY', KEYS[b + 3], delta) < 0 then redis.call('SET', KEYS[b + 3], 0, 'KEEPTTL') end
  end
end
return 1
)LUA";

// KEYS: concurrency sets. ARGV: lease id, lease ttl ms. Extends the lease
// where it is still held.
inline constexpr const char* kRenew = R"LUA(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
for i = 1, #KEYS do
  if redis.call('ZADD', KEYS[i], 'XX', 'CH', now + ttl, ARGV[1]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ttl + 60000)
  end
end
return 1
)LUA";

}  // namespace scn::broker::limits::lua
