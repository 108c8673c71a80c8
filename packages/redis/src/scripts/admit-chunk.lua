--[[
  admit-chunk.lua: add a chunk to the LRU index, or refresh it if already present.

  Membership, size and the byte total change in one atomic step, so `used`
  never drifts: a member already present keeps its recorded size and is NOT
  counted twice; only its recency is raised (ZADD GT: a score never moves back).

  KEYS[1]  lru   sorted set: member = chunk key, score = last access (ms)
  KEYS[2]  size  hash: member -> size in bytes
  KEYS[3]  used  string integer: total bytes of all members

  ARGV[1]  member   chunk key, non-empty string
  ARGV[2]  size     size in bytes, decimal integer 0 .. 2^53-1
  ARGV[3]  nowMs    access time in ms, decimal integer 0 .. 2^53-1

  Returns an array; its first element is the code:
    { 0, admitted, usedBytes, chunkCount }  OK; admitted = 1 if the member is new,
                                            0 if it was present (refreshed only)
    { -2, message }                         BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include admit-member

local member = ARGV[1]
if member == nil or member == '' then
  return { -2, 'member must be a non-empty string' }
end
local size = parseUInt(ARGV[2])
if size == nil then
  return badArgument('size', ARGV[2])
end
local now = parseUInt(ARGV[3])
if now == nil then
  return badArgument('nowMs', ARGV[3])
end
local sizeText = string.format('%d', size)
local nowText = string.format('%d', now)

local admitted, used = admitMember(KEYS[1], KEYS[2], KEYS[3], member, sizeText, nowText)

return { 0, admitted, used, redis.call('ZCARD', KEYS[1]) }
