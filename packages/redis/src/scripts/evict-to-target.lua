--[[
  evict-to-target.lua: remove least-recently-used chunks until the byte total
  is at or below a target, removing at most maxCount chunks per call.

  Membership and `used` change in the same atomic step; the caller deletes
  the returned chunks' files afterwards. Ties on score are evicted in
  lexicographic member order (ZRANGE order).

  KEYS[1]  lru    sorted set: member = chunk key, score = last access (ms)
  KEYS[2]  size   hash: member -> size in bytes
  KEYS[3]  used   string integer: total bytes of all members
  KEYS[4]  stats  hash of counters; HINCRBY `evictions` (chunks) and
                  `evictedBytes` (bytes) when anything is evicted

  ARGV[1]  targetBytes  stop once used <= targetBytes; decimal integer 0 .. 2^53-1
  ARGV[2]  maxCount     evict at most this many chunks; decimal integer 0 .. 2^53-1

  Returns an array; its first element is the code:
    { 0, usedBytes, key1, size1, key2, size2, ... }
                     OK; usedBytes is the total after eviction, followed by the
                     evicted chunks in eviction order (oldest first)
    { -2, message }  BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint

local WINDOW = 64

local target = parseUInt(ARGV[1])
if target == nil then
  return badArgument('targetBytes', ARGV[1])
end
local maxCount = parseUInt(ARGV[2])
if maxCount == nil then
  return badArgument('maxCount', ARGV[2])
end

local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local reply = { 0, used }
local evicted = 0
local freed = 0

while used - freed > target and evicted < maxCount do
  local members = redis.call('ZRANGE', KEYS[1], 0, math.min(maxCount - evicted, WINDOW) - 1)
  if #members == 0 then
    break
  end
  local sizes = redis.call('HMGET', KEYS[2], unpack(members))
  local victims = {}
  for i, member in ipairs(members) do
    if used - freed <= target then
      break
    end
    local size = tonumber(sizes[i] or '0') or 0
    victims[#victims + 1] = member
    evicted = evicted + 1
    freed = freed + size
    reply[#reply + 1] = member
    reply[#reply + 1] = size
  end
  redis.call('ZREM', KEYS[1], unpack(victims))
  redis.call('HDEL', KEYS[2], unpack(victims))
end

if evicted > 0 then
  local freedText = string.format('%d', freed)
  reply[2] = redis.call('DECRBY', KEYS[3], freedText)
  redis.call('HINCRBY', KEYS[4], 'evictions', evicted)
  redis.call('HINCRBY', KEYS[4], 'evictedBytes', freedText)
end

return reply
