--[[
  gc-writer.lua: register a writer of a datastore, or renew its heartbeat.

  The writer's start stays what it was when first registered (ZADD NX: a
  heartbeat after GC dropped it as dead registers it again with its start);
  its heartbeat now expires ttlMs from now (Redis server time).

  KEYS[1]  writers     sorted set `{ns}:gc:writers:<store>`: writer id -> start (ms)
  KEYS[2]  heartbeats  sorted set `{ns}:gc:heartbeats:<store>`: writer id -> heartbeat expiry (ms)

  ARGV[1]  id     writer id, non-empty
  ARGV[2]  ttlMs  decimal integer 1 .. 2^53-1

  Returns an array; its first element is the code:
    { 0, startedAt, fresh }  OK; startedAt = the writer's start (ms);
                             fresh = 1 when it was not registered before
    { -2, message }          BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include gc-common

local id = ARGV[1]
if type(id) ~= 'string' or #id == 0 then
  return { -2, 'writer id must be a non-empty string' }
end
local ttl = parseUInt(ARGV[2])
if ttl == nil or ttl < 1 then
  return badArgument('ttlMs', ARGV[2])
end
local now = redisNowMs()
local fresh = redis.call('ZADD', KEYS[1], 'NX', string.format('%d', now), id)
redis.call('ZADD', KEYS[2], string.format('%d', now + ttl), id)
local start = redis.call('ZSCORE', KEYS[1], id)
return { 0, start, fresh }
