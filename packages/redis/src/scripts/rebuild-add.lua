--[[
  rebuild-add.lua: add a batch of chunks found on the volume to an index
  being rebuilt under temporary keys (see rebuild-commit.lua), and keep the
  temporary keys alive for ttlMs (a rebuilder that dies leaves nothing behind).

  The live index is not touched: eviction never sees a half-built index.
  A member added twice keeps its first size and is counted once; its score
  is raised, never lowered.

  KEYS[1]  lru    temporary sorted set: member = chunk key, score = last use (ms)
  KEYS[2]  size   temporary hash: member -> size in bytes
  KEYS[3]  used   temporary string integer: total bytes of all members

  ARGV[1]      ttlMs   time to live of the temporary keys, decimal integer 1 .. 2^53-1
  ARGV[2..n]   triples member, size, lastUsedMs: chunk key (non-empty), size in
               bytes and last use in ms (file times), decimal integers 0 .. 2^53-1
               (keep n below ~7000: Lua unpack limit; the client sends 500 chunks per call)

  Returns an array; its first element is the code:
    { 0, usedBytes, chunkCount }  OK; totals of the temporary index after the batch
    { -2, message }               BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include admit-member

local ttl = parseUInt(ARGV[1])
if ttl == nil or ttl < 1 then
  return badArgument('ttlMs', ARGV[1])
end
if (#ARGV - 1) % 3 ~= 0 then
  return { -2, 'expected triples of member, size, lastUsedMs after ttlMs' }
end
-- Check every argument before the first write.
for i = 2, #ARGV, 3 do
  if ARGV[i] == '' then
    return { -2, 'member must be a non-empty string' }
  end
  if parseUInt(ARGV[i + 1]) == nil then
    return badArgument('size', ARGV[i + 1])
  end
  if parseUInt(ARGV[i + 2]) == nil then
    return badArgument('lastUsedMs', ARGV[i + 2])
  end
end

local used = tonumber(redis.call('GET', KEYS[3]) or '0')
for i = 2, #ARGV, 3 do
  local size = string.format('%d', parseUInt(ARGV[i + 1]))
  local score = string.format('%d', parseUInt(ARGV[i + 2]))
  local _, total = admitMember(KEYS[1], KEYS[2], KEYS[3], ARGV[i], size, score)
  used = total
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)

return { 0, used, redis.call('ZCARD', KEYS[1]) }
