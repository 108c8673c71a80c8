--[[
  extend-lock.lua: compare-and-expire of a single-flight lock.

  The lock's time to live is reset to ttlMs only if it still holds the
  caller's token.

  KEYS[1]  lock   string key `{ns}:flight:<chunkKey>` whose value is the token

  ARGV[1]  token  the token returned when the lock was acquired
  ARGV[2]  ttlMs  new time to live in ms, decimal integer 1 .. 2^53-1

  Returns an array; its first element is the code:
    { 0 }    OK; the lock now expires ttlMs from now
    { -1 }   NOT_FOUND; no such lock (never taken, released or expired)
    { -3 }   NOT_OWNER; the lock is held with another token; left untouched
    { -2, message }  BAD_ARGUMENT; empty token or bad ttlMs; nothing was changed
]]

-- @include lock-holder

local token = ARGV[1]
local bad = tokenArgument(token)
if bad then
  return bad
end
local ttl = ARGV[2]
if type(ttl) ~= 'string' or #ttl == 0 or #ttl > 16 or not string.match(ttl, '^%d+$')
    or tonumber(ttl) < 1 or tonumber(ttl) > 9007199254740991 then
  return { -2, 'ttlMs must be a positive integer, got "' .. string.sub(tostring(ttl), 1, 64) .. '"' }
end
local refused = notHeldBy(KEYS[1], token)
if refused then
  return refused
end
redis.call('PEXPIRE', KEYS[1], ttl)
return { 0 }
