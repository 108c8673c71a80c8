--[[
  admit-fetched.lua: finish a fetch in one step: admit the chunk to the LRU index,
  add the fetch's S3 counters to the stats, and release the fetcher's
  single-flight lock (compare-and-delete with its token).

  One round trip instead of three at the end of every fetch. The chunk is
  admitted before the lock goes, so a fetcher that takes the lock next finds
  the chunk on the volume and in the index.

  KEYS[1]  lru    sorted set: member = chunk key, score = last access (ms)
  KEYS[2]  size   hash: member -> size in bytes
  KEYS[3]  used   string integer: total bytes of all members
  KEYS[4]  stats  hash of counters; s3Gets, s3Bytes and the ARGV[7..] counters are incremented
  KEYS[5]  lock   string key `{ns}:flight:<chunkKey>` whose value is the token

  ARGV[1]  member   chunk key, non-empty string
  ARGV[2]  size     size in bytes, decimal integer 0 .. 2^53-1
  ARGV[3]  nowMs    access time in ms, decimal integer 0 .. 2^53-1
  ARGV[4]  token    the lock token returned when the lock was acquired, non-empty
  ARGV[5]  s3Gets   S3 GETs the fetch issued (retries included), decimal integer
  ARGV[6]  s3Bytes  bytes those GETs returned, decimal integer
  ARGV[7..] optional pairs of further stats counters: field (non-empty), delta (decimal integer)

  Returns an array; its first element is the code:
    { 0, admitted, usedBytes, chunkCount, released }  OK; admitted = 1 if the member is new,
                                                      0 if it was present (refreshed only);
                                                      released = 1 if the lock was ours and is
                                                      gone, 0 if it had expired or changed hands
                                                      (left untouched)
    { -2, message }                                   BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include admit-member

local member = ARGV[1]
if member == nil or member == '' then
  return { -2, 'member must be a non-empty string' }
end
local token = ARGV[4]
if token == nil or token == '' then
  return { -2, 'token must be a non-empty string' }
end
local numbers = {}
for i, name in pairs({ [2] = 'size', [3] = 'nowMs', [5] = 's3Gets', [6] = 's3Bytes' }) do
  local n = parseUInt(ARGV[i])
  if n == nil then
    return badArgument(name, ARGV[i])
  end
  numbers[name] = string.format('%d', n)
end

local counters = {}
if #ARGV % 2 ~= 0 then
  return { -2, 'counters must come in pairs of field and delta' }
end
for i = 7, #ARGV, 2 do
  local field = ARGV[i]
  if field == nil or field == '' then
    return { -2, 'counter field must be a non-empty string' }
  end
  local n = parseUInt(ARGV[i + 1])
  if n == nil then
    return badArgument(field, ARGV[i + 1])
  end
  counters[#counters + 1] = { field, string.format('%d', n) }
end

local admitted, used = admitMember(KEYS[1], KEYS[2], KEYS[3], member, numbers.size, numbers.nowMs)
if numbers.s3Gets ~= '0' then
  redis.call('HINCRBY', KEYS[4], 's3Gets', numbers.s3Gets)
end
if numbers.s3Bytes ~= '0' then
  redis.call('HINCRBY', KEYS[4], 's3Bytes', numbers.s3Bytes)
end
for _, c in ipairs(counters) do
  if c[2] ~= '0' then
    redis.call('HINCRBY', KEYS[4], c[1], c[2])
  end
end
local released = 0
if redis.call('GET', KEYS[5]) == token then
  redis.call('DEL', KEYS[5])
  released = 1
end

return { 0, admitted, used, redis.call('ZCARD', KEYS[1]), released }
