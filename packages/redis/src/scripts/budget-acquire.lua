--[[
  budget-acquire.lua: take one request slot of an S3 request budget, or say how long to wait.

  The rate is counted in whole seconds of the Redis server's clock (all processes share it): at most
  floor(effectiveRate * share) grants per second for the class, none in the last guardMs of a second (so that a
  request granted in one second reaches S3 within it). Requests in flight are leases in a sorted set scored by
  their expiry, so a killed process's slots come back after leaseMs. The caller's process id is recorded with the
  time, so each process knows how many share the budget (its share when Redis is down).

  KEYS[1]  class     hash `{ns}:budget:<name>:<class>`: sec, n (grants in second sec), AIMD state (see budget-rate)
  KEYS[2]  inflight  sorted set `{ns}:budget:<name>:inflight`: member lease id, score expiry in ms
  KEYS[3]  members   sorted set `{ns}:budget:<name>:members`: member process id, score last seen in ms

  ARGV[1]  limit        configured requests per second of the class, decimal >= 0 (0: unlimited)
  ARGV[2]  share        fraction of the rate this priority may use, decimal in (0, 1]
  ARGV[3]  concurrency  leases at once, all classes, integer >= 0 (0: unlimited)
  ARGV[4]  lease        lease id (non-empty)
  ARGV[5]  leaseMs      lease lifetime in ms, integer >= 1
  ARGV[6]  guardMs      end of each second without grants, integer 0 .. 500
  ARGV[7]  process      process id (non-empty)

  Returns an array; its first element is the code:
    { 0, granted, waitMs, members, rateMilli, nowMs }  OK; granted 1: the slot is taken (lease held when
                                                 concurrency > 0) at nowMs (Unix ms of the Redis clock),
                                                 granted 0: try again in waitMs; members: processes seen in the last
                                                 10 s; rateMilli: effective rate x 1000 (-1: unlimited)
    { -2, message }  BAD_ARGUMENT; nothing was changed
]]

-- @include budget-rate

local limit = nonNegative(ARGV[1])
local share = nonNegative(ARGV[2])
local concurrency = nonNegative(ARGV[3])
local leaseMs = nonNegative(ARGV[5])
local guardMs = nonNegative(ARGV[6])
if limit == nil or share == nil or share <= 0 or share > 1 or concurrency == nil or leaseMs == nil or leaseMs < 1
    or guardMs == nil or guardMs > 500 or type(ARGV[4]) ~= 'string' or #ARGV[4] == 0 or type(ARGV[7]) ~= 'string' or #ARGV[7] == 0 then
  return { -2, 'bad arguments: limit, share, concurrency, lease, leaseMs, guardMs, process' }
end

local now = nowMs()
redis.call('ZADD', KEYS[3], now, ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 10000)
redis.call('PEXPIRE', KEYS[3], 60000)
local members = redis.call('ZCARD', KEYS[3])

local rate = effectiveRate(KEYS[1], limit, now)
local rateMilli = -1
if rate > 0 then
  rateMilli = math.floor(rate * 1000)
end

if concurrency > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= concurrency then
    return { 0, 0, 10, members, rateMilli }
  end
end

local sec = math.floor(now / 1000)
if rate > 0 then
  local into = now - sec * 1000
  if into >= 1000 - guardMs then
    return { 0, 0, 1000 - into, members, rateMilli }
  end
  local allowed = math.max(1, math.floor(rate * share))
  local state = redis.call('HMGET', KEYS[1], 'sec', 'n')
  local n = 0
  if tonumber(state[1]) == sec then
    n = tonumber(state[2]) or 0
  end
  if n >= allowed then
    return { 0, 0, 1000 - into, members, rateMilli }
  end
end

-- Counted in every case: with no limit, the count of the last second is the rate a throttle answer cuts from.
local state = redis.call('HMGET', KEYS[1], 'sec', 'n')
if tonumber(state[1]) == sec then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
else
  redis.call('HSET', KEYS[1], 'sec', sec, 'n', 1, 'prev', (tonumber(state[1]) == sec - 1) and (tonumber(state[2]) or 0) or 0)
end
redis.call('PEXPIRE', KEYS[1], 600000)
if concurrency > 0 then
  redis.call('ZADD', KEYS[2], now + leaseMs, ARGV[4])
  redis.call('PEXPIRE', KEYS[2], leaseMs * 2)
end
return { 0, 1, 0, members, rateMilli, now }
