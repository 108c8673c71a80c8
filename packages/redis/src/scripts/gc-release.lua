--[[
  gc-release.lua: a GC run ends its claims. Deleted digests still claimed by
  the run leave the claims and the known record (S3 no longer holds them);
  kept ones leave the claims only. A claim the run no longer holds (a writer
  took it over after the lease expired, or another run claimed it since) is
  left alone, and so is its known record.

  KEYS[1]  known   sorted set `{ns}:known:<store>`: digest -> ms last touched
  KEYS[2]  claims  hash `{ns}:gc:claims:<store>`: digest -> `<expiryMs>:<runId>`

  ARGV[1]      runId    non-empty
  ARGV[2]      deleted  how many of ARGV[3..n] were deleted (the first ones),
                        decimal integer 0 .. n-2
  ARGV[3..n]   digests  deleted ones first, then kept ones

  Returns an array; its first element is the code:
    { 0, released }  OK; released = how many claims of the run ended
    { -2, message }  BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include gc-common

local run = ARGV[1]
if type(run) ~= 'string' or #run == 0 then
  return { -2, 'runId must be a non-empty string' }
end
local deleted = parseUInt(ARGV[2])
if deleted == nil or deleted > #ARGV - 2 then
  return badArgument('deleted', ARGV[2])
end
local released = 0
for i = 3, #ARGV do
  local digest = ARGV[i]
  local _, owner = parseClaim(redis.call('HGET', KEYS[2], digest))
  if owner == run then
    redis.call('HDEL', KEYS[2], digest)
    released = released + 1
    if i - 2 <= deleted then
      redis.call('ZREM', KEYS[1], digest)
    end
  end
end
return { 0, released }
