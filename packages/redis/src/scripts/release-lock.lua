--[[
  release-lock.lua: compare-and-delete of a single-flight lock.

  The lock is deleted only if it still holds the caller's token, so a holder
  whose lock expired cannot release a lock someone else acquired since.

  KEYS[1]  lock   string key `{ns}:flight:<chunkKey>` whose value is the token

  ARGV[1]  token  the token returned when the lock was acquired

  Returns an array; its first element is the code:
    { 0 }    OK; the lock was released
    { -1 }   NOT_FOUND; no such lock (never taken, released or expired)
    { -3 }   NOT_OWNER; the lock is held with another token; left untouched
    { -2, message }  BAD_ARGUMENT; token is empty
]]

-- @include lock-holder

local token = ARGV[1]
local bad = tokenArgument(token)
if bad then
  return bad
end
local refused = notHeldBy(KEYS[1], token)
if refused then
  return refused
end
redis.call('DEL', KEYS[1])
return { 0 }
