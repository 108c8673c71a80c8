--[[
  remove-chunks.lua: remove specific chunks from the index (e.g. files found
  missing on the volume).

  Each member's removal and the matching decrement of `used` happen in one
  atomic step. Members not in the index (and duplicates) are ignored.

  KEYS[1]  lru   sorted set: member = chunk key, score = last access (ms)
  KEYS[2]  size  hash: member -> size in bytes
  KEYS[3]  used  string integer: total bytes of all members

  ARGV[1..n]  members  chunk keys to remove

  Returns an array; its first element is the code:
    { 0, removedBytes, removedCount }  OK
]]

local freed = 0
local removed = 0
for i = 1, #ARGV do
  local member = ARGV[i]
  local size = redis.call('HGET', KEYS[2], member)
  if size then
    redis.call('HDEL', KEYS[2], member)
    freed = freed + (tonumber(size) or 0)
    removed = removed + 1
  end
  redis.call('ZREM', KEYS[1], member)
end
if freed > 0 then
  redis.call('DECRBY', KEYS[3], string.format('%d', freed))
end

return { 0, freed, removed }
