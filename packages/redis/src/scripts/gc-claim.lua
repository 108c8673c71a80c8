--[[
  gc-claim.lua: a GC run claims chunks for deletion, atomically with the
  check of their last touch (issue 12).

  A digest is claimed when its known score is before cutoffMs (or it has
  none) and no other run holds a live claim on it (an expired claim counts
  as none; the run's own claim is renewed). Its claim value becomes
  `<now + leaseMs>:<runId>`. Times are the Redis server's (TIME).

  KEYS[1]  known   sorted set `{ns}:known:<store>`: digest -> ms last touched
  KEYS[2]  claims  hash `{ns}:gc:claims:<store>`: digest -> `<expiryMs>:<runId>`

  ARGV[1]      runId     non-empty, no newline
  ARGV[2]      cutoffMs  decimal integer 0 .. 2^53-1
  ARGV[3]      leaseMs   decimal integer 1 .. 2^53-1
  ARGV[4..n]   digests   (the client sends 500 per call)

  Returns an array; its first element is the code:
    { 0, digest... }  OK; the digests claimed, in the order given
    { -2, message }   BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include gc-common

local run = ARGV[1]
if type(run) ~= 'string' or #run == 0 then
  return { -2, 'runId must be a non-empty string' }
end
local cutoff = parseUInt(ARGV[2])
if cutoff == nil then
  return badArgument('cutoffMs', ARGV[2])
end
local lease = parseUInt(ARGV[3])
if lease == nil or lease < 1 then
  return badArgument('leaseMs', ARGV[3])
end
local now = redisNowMs()
local value = string.format('%d', now + lease) .. ':' .. run
local claimed = { 0 }
for i = 4, #ARGV do
  local digest = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], digest)
  if not score or tonumber(score) < cutoff then
    local expiry, owner = parseClaim(redis.call('HGET', KEYS[2], digest))
    if expiry == nil or expiry <= now or owner == run then
      redis.call('HSET', KEYS[2], digest, value)
      claimed[#claimed + 1] = digest
    end
  end
end
return claimed
