--[[
  gc-run-progress.lua: record the report of a run in progress, if the run still holds its lease.

  KEYS[1]  lock     string `{ns}:gc:lock:<store>`, value the holder record (the token)
  KEYS[2]  current  string `{ns}:gc:current:<store>`, the report of the run in progress (JSON)

  ARGV[1]  holder   the holder record the run began with (gc-run-begin.lua)
  ARGV[2]  report   the run's report (JSON)

  Returns an array; its first element is the code:
    { 0 }            OK; current holds the report
    { -1 }           NOT_FOUND; the lease expired; nothing changed
    { -3 }           NOT_OWNER; another run holds the lease; nothing changed
    { -2, message }  BAD_ARGUMENT; empty holder or report; nothing changed
]]

-- @include lock-holder

local bad = tokenArgument(ARGV[1])
if bad then
  return bad
end
if ARGV[2] == nil or ARGV[2] == '' then
  return { -2, 'report must be a non-empty string' }
end
local refused = notHeldBy(KEYS[1], ARGV[1])
if refused then
  return refused
end
redis.call('SET', KEYS[2], ARGV[2])
return { 0 }
