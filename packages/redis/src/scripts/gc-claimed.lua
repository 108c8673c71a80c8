--[[
  gc-claimed.lua: how many of these digests a GC run holds a live claim on
  (a writer waits until none is).

  KEYS[1]  claims  hash `{ns}:gc:claims:<store>`: digest -> `<expiryMs>:<runId>`

  ARGV[1..n]  digests

  Returns an array; its first element is the code:
    { 0, claimed }  OK; claimed = how many of ARGV hold a claim that has not expired
]]

-- @include gc-common

if #ARGV == 0 then
  return { 0, 0 }
end
local now = redisNowMs()
local values = redis.call('HMGET', KEYS[1], unpack(ARGV))
local claimed = 0
for i = 1, #values do
  local expiry = parseClaim(values[i])
  if expiry ~= nil and expiry > now then
    claimed = claimed + 1
  end
end
return { 0, claimed }
