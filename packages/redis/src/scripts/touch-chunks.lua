--[[
  touch-chunks.lua: batch recency update of chunks that are in the index.

  Members that are not in the index are ignored (never added); an existing
  member's score is raised to nowMs, never lowered (ZADD XX GT semantics).
  Does not change membership, so `used` is untouched.

  KEYS[1]  lru   sorted set: member = chunk key, score = last access (ms)

  ARGV[1]      nowMs   access time in ms, decimal integer 0 .. 2^53-1
  ARGV[2..n]   members chunk keys to touch (keep n below ~7000: Lua unpack
               limit; the TypeScript client sends 500 per call)

  Returns an array; its first element is the code:
    { 0, touched }   OK; touched = how many of ARGV[2..n] are in the index
                     (duplicates in ARGV count once per occurrence)
    { -2, message }  BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint

local now = parseUInt(ARGV[1])
if now == nil then
  return badArgument('nowMs', ARGV[1])
end
if #ARGV < 2 then
  return { 0, 0 }
end
local nowText = string.format('%d', now)

local scores = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 2))
local zaddArgs = {}
local touched = 0
for i = 2, #ARGV do
  -- A missing member comes back as a nil bulk reply, i.e. `false` in Lua.
  if scores[i - 1] then
    touched = touched + 1
    zaddArgs[#zaddArgs + 1] = nowText
    zaddArgs[#zaddArgs + 1] = ARGV[i]
  end
end
if touched > 0 then
  redis.call('ZADD', KEYS[1], 'XX', 'GT', unpack(zaddArgs))
end

return { 0, touched }
