-- The effective rate of a budget class (requests per second; 0 = unlimited) at time `now` (ms), AIMD: after a
-- throttle answer the hash holds the cut rate (`rate`), when it was cut (`at`) and the additive step per second
-- (`step`); the rate grows back by `step` per second until it reaches the configured `limit` (or, with no limit, the
-- rate observed when it was cut, `from`), and the state is then dropped.
local function effectiveRate(hash, limit, now)
  local state = redis.call('HMGET', hash, 'rate', 'at', 'step', 'from')
  local rate = tonumber(state[1])
  if not rate then
    return limit
  end
  local grown = rate + (tonumber(state[3]) or 1) * (now - (tonumber(state[2]) or now)) / 1000
  local ceiling = limit
  if ceiling == 0 then
    ceiling = tonumber(state[4]) or 0
  end
  if grown >= ceiling then
    redis.call('HDEL', hash, 'rate', 'at', 'step', 'from')
    return limit
  end
  return grown
end

-- Now in ms from the Redis server's clock: every process of the node shares one definition of a second.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A decimal number argument >= 0, or nil.
local function nonNegative(value)
  local n = tonumber(value)
  if n == nil or n ~= n or n < 0 or n == math.huge then
    return nil
  end
  return n
end
