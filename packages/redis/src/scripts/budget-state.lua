--[[
  budget-state.lua: the state of one budget class, for status and metrics (read-only but for dropping an AIMD
  state that has grown back, as every budget script does).

  KEYS[1]  class     hash `{ns}:budget:<name>:<class>` (see budget-acquire)
  KEYS[2]  inflight  sorted set `{ns}:budget:<name>:inflight` (see budget-acquire)

  ARGV[1]  limit  configured requests per second of the class, decimal >= 0 (0: unlimited)

  Returns an array; its first element is the code:
    { 0, rateMilli, throttled, lastSecond, inflight }  OK; rateMilli: effective rate x 1000 (-1: unlimited);
                                      throttled: throttle answers counted; lastSecond: grants in the current second;
                                      inflight: leases not expired (all classes)
    { -2, message }  BAD_ARGUMENT
]]

-- @include budget-rate

local limit = nonNegative(ARGV[1])
if limit == nil then
  return { -2, 'limit must be a decimal >= 0' }
end
local now = nowMs()
local rate = effectiveRate(KEYS[1], limit, now)
local milli = -1
if rate > 0 then milli = math.floor(rate * 1000) end
local state = redis.call('HMGET', KEYS[1], 'throttled', 'sec', 'n')
local n = 0
if tonumber(state[2]) == math.floor(now / 1000) then n = tonumber(state[3]) or 0 end
local inflight = redis.call('ZCOUNT', KEYS[2], now, '+inf')
return { 0, milli, tonumber(state[1]) or 0, n, inflight }
