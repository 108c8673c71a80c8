--[[
  gc-renew.lua: a GC run extends its claims (while a DeleteObjects is
  outstanding). Every claim of the run still held (even one whose lease
  ran out, as long as no writer took it over) now expires leaseMs from now.

  KEYS[1]  claims  hash `{ns}:gc:claims:<store>`: digest -> `<expiryMs>:<runId>`

  ARGV[1]  runId    non-empty
  ARGV[2]  leaseMs  decimal integer 1 .. 2^53-1

  Returns an array; its first element is the code:
    { 0, renewed }   OK; renewed = how many claims the run holds
    { -2, message }  BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include gc-common

local run = ARGV[1]
if type(run) ~= 'string' or #run == 0 then
  return { -2, 'runId must be a non-empty string' }
end
local lease = parseUInt(ARGV[2])
if lease == nil or lease < 1 then
  return badArgument('leaseMs', ARGV[2])
end
local value = string.format('%d', redisNowMs() + lease) .. ':' .. run
local all = redis.call('HGETALL', KEYS[1])
local renewed = 0
for i = 1, #all, 2 do
  local _, owner = parseClaim(all[i + 1])
  if owner == run then
    redis.call('HSET', KEYS[1], all[i], value)
    renewed = renewed + 1
  end
end
return { 0, renewed }
