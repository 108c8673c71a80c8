--[[
  budget-throttle.lua: S3 answered a request of a budget class with a throttle status (503 SlowDown, 429, ...):
  cut the class's effective rate (multiplicative decrease), at most once per cooldown, so that one burst of
  throttle answers is one cut. The rate then grows back by `step` per second (see budget-rate).

  KEYS[1]  class  hash `{ns}:budget:<name>:<class>` (see budget-acquire); also counts `throttled` answers

  ARGV[1]  limit       configured requests per second of the class, decimal >= 0 (0: unlimited, cut from the
                       rate observed in the last whole second)
  ARGV[2]  factor      multiplier of a cut, decimal in (0, 1)
  ARGV[3]  minRate     the rate is never cut below this, decimal > 0
  ARGV[4]  cooldownMs  no second cut within this many ms of the last, integer >= 0
  ARGV[5]  stepShare   additive increase per second as a share of the rate cut from, decimal in (0, 1]

  Returns an array; its first element is the code:
    { 0, cut, rateMilli, throttled }  OK; cut 1 when the rate was cut now; rateMilli the effective rate x 1000
                                      (-1: unlimited); throttled: throttle answers counted so far
    { -2, message }  BAD_ARGUMENT; nothing was changed
]]

-- @include budget-rate

local limit = nonNegative(ARGV[1])
local factor = nonNegative(ARGV[2])
local minRate = nonNegative(ARGV[3])
local cooldown = nonNegative(ARGV[4])
local stepShare = nonNegative(ARGV[5])
if limit == nil or factor == nil or factor <= 0 or factor >= 1 or minRate == nil or minRate <= 0 or cooldown == nil
    or stepShare == nil or stepShare <= 0 or stepShare > 1 then
  return { -2, 'bad arguments: limit, factor, minRate, cooldownMs, stepShare' }
end

local now = nowMs()
local throttled = redis.call('HINCRBY', KEYS[1], 'throttled', 1)
redis.call('PEXPIRE', KEYS[1], 600000)
local rate = effectiveRate(KEYS[1], limit, now)
local last = tonumber(redis.call('HGET', KEYS[1], 'cut'))
if last ~= nil and now - last < cooldown then
  local milli = -1
  if rate > 0 then milli = math.floor(rate * 1000) end
  return { 0, 0, milli, throttled }
end

local from = rate
if from == 0 then
  -- Unlimited: cut from what was sent in the last whole second (or this one, if more).
  local state = redis.call('HMGET', KEYS[1], 'sec', 'n', 'prev')
  local sec = math.floor(now / 1000)
  local n, prev = tonumber(state[2]) or 0, tonumber(state[3]) or 0
  if tonumber(state[1]) ~= sec then
    prev = (tonumber(state[1]) == sec - 1) and n or 0
    n = 0
  end
  from = math.max(n, prev, minRate)
end
local cut = math.max(minRate, from * factor)
redis.call('HSET', KEYS[1], 'rate', tostring(cut), 'at', now, 'cut', now, 'step', tostring(math.max(minRate, from * stepShare)), 'from', tostring(from))
return { 0, 1, math.floor(cut * 1000), throttled }
