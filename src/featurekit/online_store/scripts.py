"""Lua scripts run inside Redis, so that newer-wins is decided atomically in one round trip.

``PUT_NEWER`` arguments::

    KEYS          bucket keys (hashes)
    ARGV[1]       view ttl in ms (0 = no ttl)
    ARGV[1+k]     number of (field, row) pairs for KEYS[k]
    then, per key, two 16-byte order keys: ``lo`` <= every incoming row's order key, ``hi`` >= every one
    then all (field, row) pairs, key by key; fields are unique within a call

An *order key* is event timestamp then created timestamp, each 8 bytes big-endian (created = 0 when absent), so
byte-string comparison is time comparison. Each bucket keeps, in its empty field ``""``, an upper bound of the order
keys it holds. When ``lo`` is above that bound (the normal case: materialization and streaming move forward in
time) every incoming row is newer than everything stored and the pairs go into one ``HSET`` with no per-row work.
Otherwise (a backfill overlapping newer data) the script reads the stored rows with one ``HMGET`` and writes only
rows whose order key is greater. A stored value that is not a version-1 row (foreign or corrupt bytes) is
replaced. Expiry is extended to newest event + ttl, never shortened (``PEXPIREAT GT``, or ``NX`` on a key without
expiry). Redis runs the script atomically: no other writer interleaves, and nothing is half-written per key.
"""

from __future__ import annotations

PUT_NEWER = r"""
local ttl = tonumber(ARGV[1])
local nkeys = #KEYS
local a = 2 + 3 * nkeys
local applied = 0
local ZERO8 = string.rep('\0', 8)
local function okey(v)
  if string.len(v) < 12 or string.byte(v, 1) ~= 1 then return nil end
  if string.byte(v, 2) % 2 == 1 then return string.sub(v, 3, 18) end
  return string.sub(v, 3, 10) .. ZERO8
end
for k = 1, nkeys do
  local key = KEYS[k]
  local c = tonumber(ARGV[1 + k])
  local lo = ARGV[2 + nkeys + 2 * (k - 1)]
  local hi = ARGV[3 + nkeys + 2 * (k - 1)]
  local top = redis.call('HGET', key, '')
  local newest = nil
  if (not top) or top < lo then
    redis.call('HSET', key, '', hi, unpack(ARGV, a, a + 2 * c - 1))
    applied = applied + c
    newest = hi
  else
    local fields = {}
    for j = 1, c do fields[j] = ARGV[a + 2 * (j - 1)] end
    local old = redis.call('HMGET', key, unpack(fields))
    local put = {}
    for j = 1, c do
      local v = ARGV[a + 2 * j - 1]
      local ok = okey(v)
      local cur = old[j] and okey(old[j])
      if ok and ((not cur) or cur < ok) then
        put[#put + 1] = fields[j]
        put[#put + 1] = v
        if newest == nil or ok > newest then newest = ok end
      end
    end
    local rows = #put / 2
    if rows > 0 then
      if newest > top then
        put[#put + 1] = ''
        put[#put + 1] = newest
      end
      redis.call('HSET', key, unpack(put))
      applied = applied + rows
    end
  end
  if newest ~= nil and ttl > 0 then
    local us = 0
    for i = 1, 8 do us = us * 256 + string.byte(newest, i) end
    local at = math.floor(us / 1000) + ttl
    if redis.call('PEXPIREAT', key, at, 'GT') == 0 then
      redis.call('PEXPIREAT', key, at, 'NX')
    end
  end
  a = a + 2 * c
end
return applied
"""


# KEYS[1]: a bucket; ARGV[1]: 8-byte big-endian event-time cut-off (µs). Deletes the rows of the bucket whose event
# time is older than the cut-off (past the view's ttl), keeping the order-key bound field "" and any value that is
# not a version-1 row (reads report those; vacuum never deletes what it cannot interpret). Returns rows deleted.
VACUUM_EXPIRED = r"""
local cutoff = ARGV[1]
local all = redis.call('HGETALL', KEYS[1])
local dead = {}
for i = 1, #all, 2 do
  local f, v = all[i], all[i + 1]
  if f ~= '' and string.len(v) >= 12 and string.byte(v, 1) == 1 and string.sub(v, 3, 10) < cutoff then
    dead[#dead + 1] = f
  end
end
local n = #dead
for i = 1, n, 1000 do
  redis.call('HDEL', KEYS[1], unpack(dead, i, math.min(i + 999, n)))
end
return n
"""
