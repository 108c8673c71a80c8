--[[
  gc-run-begin.lua: take a datastore's GC lease and record the run as the one in progress.

  One GC per datastore at a time, across every GC worker: the lease is a lock key that
  holds the run's holder record (its token) and expires unless renewed (extend-lock.lua).
  The run record of a run whose worker died stays behind when its lease expires: it is
  returned here, so that the next run reports it as abandoned.

  KEYS[1]  lock       string `{ns}:gc:lock:<store>`, value the holder record (the token)
  KEYS[2]  current    string `{ns}:gc:current:<store>`, the report of the run in progress (JSON)
  KEYS[3]  appliedAt  string `{ns}:gc:applied-at:<store>`, start (epoch ms) of the last applied run

  ARGV[1]  holder           the holder record (non-empty); the token for extend, progress and end
  ARGV[2]  leaseMs          time to live of the lease, decimal integer 1 .. 2^53-1
  ARGV[3]  report           the run's first report (JSON), stored as current
  ARGV[4]  nowMs            now, epoch ms (decimal integer), recorded in appliedAt for an applied run
  ARGV[5]  apply            "1": an applied run (records appliedAt); "0": a dry run
  ARGV[6]  appliedBeforeMs  "0", or: begin only if the last applied run started before this (epoch ms)

  Returns an array; its first element is the code:
    { 0, 'begun', previous }  OK; the lease is taken; previous: the run record left behind by a dead run, or ''
    { 0, 'recent', at }       OK, nothing changed: an applied run started at `at`, not before appliedBeforeMs
    { -3, holder }            NOT_OWNER; another run holds the lease (its holder record); nothing changed
    { -2, message }           BAD_ARGUMENT; empty holder or report, or a bad number; nothing changed
]]

-- @include parse-uint

local holder = ARGV[1]
local report = ARGV[3]
if holder == nil or holder == '' or report == nil or report == '' then
  return { -2, 'holder and report must be non-empty strings' }
end
local lease = parseUInt(ARGV[2])
if lease == nil or lease < 1 then
  return badArgument('leaseMs', ARGV[2])
end
local now = parseUInt(ARGV[4])
if now == nil then
  return badArgument('nowMs', ARGV[4])
end
local before = parseUInt(ARGV[6])
if before == nil then
  return badArgument('appliedBeforeMs', ARGV[6])
end

local current = redis.call('GET', KEYS[1])
if current then
  return { -3, current }
end
if before > 0 then
  local at = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
  if at >= before then
    return { 0, 'recent', tostring(at) }
  end
end
redis.call('SET', KEYS[1], holder, 'PX', lease)
local previous = redis.call('GET', KEYS[2]) or ''
redis.call('SET', KEYS[2], report)
if ARGV[5] == '1' then
  redis.call('SET', KEYS[3], tostring(now))
end
return { 0, 'begun', previous }
