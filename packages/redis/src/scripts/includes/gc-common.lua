-- gc-common.lua (included by @include gc-common): shared by the gc-*.lua scripts (issue 12).
--   redisNowMs()        -> the Redis server's time in ms (TIME): one clock for every writer and GC process
--   parseClaim(value)   -> expiryMs, runId of a claim value `<expiryMs>:<runId>` (nil, nil for none)
local function redisNowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function parseClaim(value)
  if not value then
    return nil, nil
  end
  local expiry, run = string.match(value, '^(%d+):(.+)$')
  if expiry == nil then
    return nil, nil
  end
  return tonumber(expiry), run
end
