--[[
  gc-run-end.lua: end a run: its final report becomes the datastore's last report, its run record
  and its lease go.

  A run whose lease expired meanwhile still ends cleanly unless another run began since (that
  run took over the run record and reported this one as abandoned): then nothing is changed.

  KEYS[1]  lock     string `{ns}:gc:lock:<store>`, value the holder record (the token)
  KEYS[2]  current  string `{ns}:gc:current:<store>`, the report of the run in progress (JSON)
  KEYS[3]  last     string `{ns}:gc:last:<store>`, the last finished run's report (JSON)

  ARGV[1]  holder   the holder record the run began with (gc-run-begin.lua)
  ARGV[2]  runId    the run's id (the `runId` of its reports)
  ARGV[3]  report   the final report (JSON)

  Returns an array; its first element is the code:
    { 0 }            OK; last holds the report; current and the lease (if still this run's) are gone
    { -3 }           NOT_OWNER; another run began since; nothing changed
    { -2, message }  BAD_ARGUMENT; empty holder, runId or report; nothing changed
]]

if ARGV[1] == nil or ARGV[1] == '' then
  return { -2, 'holder must be a non-empty string' }
end
if ARGV[2] == nil or ARGV[2] == '' or ARGV[3] == nil or ARGV[3] == '' then
  return { -2, 'runId and report must be non-empty strings' }
end
local held = redis.call('GET', KEYS[1]) == ARGV[1]
local current = redis.call('GET', KEYS[2])
local ours = false
if current then
  local ok, decoded = pcall(cjson.decode, current)
  ours = ok and type(decoded) == 'table' and decoded.runId == ARGV[2]
end
if not held and not ours then
  -- The lease expired and another run began (and settled this one), or current is gone.
  if redis.call('EXISTS', KEYS[1]) == 1 or current then
    return { -3 }
  end
end
redis.call('SET', KEYS[3], ARGV[3])
if ours then
  redis.call('DEL', KEYS[2])
end
if held then
  redis.call('DEL', KEYS[1])
end
return { 0 }
