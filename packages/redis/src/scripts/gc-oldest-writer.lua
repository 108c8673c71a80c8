--[[
  gc-oldest-writer.lua: the start of the oldest writer of a datastore whose
  heartbeat has not expired. Writers whose heartbeat expired (crashed, or
  cut off from Redis) are removed first.

  KEYS[1]  writers     sorted set `{ns}:gc:writers:<store>`: writer id -> start (ms)
  KEYS[2]  heartbeats  sorted set `{ns}:gc:heartbeats:<store>`: writer id -> heartbeat expiry (ms)

  ARGV[1]  nothing (unused; scripts here document ARGV[1] anyway)

  Returns an array; its first element is the code:
    { 0, startedAt }  OK; the oldest live writer's start (ms)
    { 0 }             OK; no writer is running
]]

-- @include gc-common

local now = redisNowMs()
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now))
for i = 1, #dead do
  redis.call('ZREM', KEYS[1], dead[i])
  redis.call('ZREM', KEYS[2], dead[i])
end
-- A writer without a heartbeat entry cannot exist (gc-writer.lua adds both); drop one anyway rather than trust it.
while true do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #oldest == 0 then
    return { 0 }
  end
  if redis.call('ZSCORE', KEYS[2], oldest[1]) then
    return { 0, oldest[2] }
  end
  redis.call('ZREM', KEYS[1], oldest[1])
end
