--[[
  rebuild-commit.lua: replace the live index with one rebuilt under
  temporary keys (see rebuild-add.lua), in one atomic step, and write the
  index epoch marker that says which volume the index describes.

  Chunks admitted or touched in the live index while the rebuild ran (score
  >= sinceMs) are merged into the rebuilt one first, so no admission made
  during the rebuild is lost. Then the temporary keys are renamed over the
  live ones (and made persistent); an empty rebuild empties the live index.
  The stats hash is not touched.

  KEYS[1]  lru       live sorted set: member = chunk key, score = last access (ms)
  KEYS[2]  size      live hash: member -> size in bytes
  KEYS[3]  used      live string integer: total bytes of all members
  KEYS[4]  tmpLru    temporary sorted set written by rebuild-add.lua
  KEYS[5]  tmpSize   temporary hash written by rebuild-add.lua
  KEYS[6]  tmpUsed   temporary string integer written by rebuild-add.lua
  KEYS[7]  epoch     string: the index epoch marker

  ARGV[1]  sinceMs  live members with a score >= sinceMs are merged, decimal integer 0 .. 2^53-1
  ARGV[2]  epoch    the new epoch marker's value, non-empty string

  Returns an array; its first element is the code:
    { 0, usedBytes, chunkCount, merged }  OK; totals of the live index after the commit;
                                          merged = live members added to the rebuilt index
    { -2, message }                       BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include admit-member

local since = parseUInt(ARGV[1])
if since == nil then
  return badArgument('sinceMs', ARGV[1])
end
local marker = ARGV[2]
if marker == nil or marker == '' then
  return { -2, 'epoch must be a non-empty string' }
end

local merged = 0
local recent = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('%d', since), '+inf', 'WITHSCORES')
for i = 1, #recent, 2 do
  local size = redis.call('HGET', KEYS[2], recent[i])
  if size then
    local admitted = admitMember(KEYS[4], KEYS[5], KEYS[6], recent[i], size, recent[i + 1])
    merged = merged + admitted
  end
end

-- Each temporary key replaces its live key (KEYS[4] -> KEYS[1], 5 -> 2, 6 -> 3); named one by one, never computed.
local function swapIn(temp, live)
  if redis.call('EXISTS', temp) == 1 then
    redis.call('RENAME', temp, live)
    redis.call('PERSIST', live)
  else
    redis.call('DEL', live)
  end
end
swapIn(KEYS[4], KEYS[1])
swapIn(KEYS[5], KEYS[2])
swapIn(KEYS[6], KEYS[3])
redis.call('SET', KEYS[7], marker)

return { 0, tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('ZCARD', KEYS[1]), merged }
