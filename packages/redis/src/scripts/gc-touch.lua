--[[
  gc-touch.lua: a writer touches chunks of an owned datastore, atomically with
  the check for GC claims (issue 12: touch before upload or skip).

  Per digest: a live claim (expiry after now) -> 'c' and nothing is recorded;
  otherwise an expired claim is dropped (the writer takes the chunk over, so
  the GC run's release will not forget it), the digest's known score is set
  to now, and the answer is 'k' when its previous score was within trustMs of
  now and it is not unconfirmed, else 'u' (and it is unconfirmed from now
  until KnownChunks.record confirms the upload: a writer that touched and then
  failed or crashed before its upload landed must not make the next writer
  skip it). Sets the touch epoch (SET NX now) when it is missing.
  Times are the Redis server's (TIME).

  KEYS[1]  known   sorted set `{ns}:known:<store>`: digest -> ms last touched
  KEYS[2]  claims  hash `{ns}:gc:claims:<store>`: digest -> `<expiryMs>:<runId>`
  KEYS[3]  epoch   string `{ns}:gc:epoch:<store>`: ms the record began
  KEYS[4]  unconfirmed  sorted set `{ns}:gc:unconfirmed:<store>`: digest -> ms
                   touched for an upload not yet recorded as done

  ARGV[1]      trustMs  decimal integer 0 .. 2^53-1
  ARGV[2..n]   digests  (keep n below ~7000: the client sends 500 per call)

  Returns an array; its first element is the code:
    { 0, answers }   OK; answers = one letter per digest, in order:
                     'k' known, 'u' upload, 'c' claimed
    { -2, message }  BAD_ARGUMENT; nothing was changed
]]

-- @include parse-uint
-- @include gc-common

local trust = parseUInt(ARGV[1])
if trust == nil then
  return badArgument('trustMs', ARGV[1])
end
if #ARGV < 2 then
  return { 0, '' }
end
local now = redisNowMs()
local nowText = string.format('%d', now)
local claims = redis.call('HMGET', KEYS[2], unpack(ARGV, 2))
local answers = {}
for i = 2, #ARGV do
  local digest = ARGV[i]
  local expiry = parseClaim(claims[i - 1])
  if expiry ~= nil and expiry > now then
    answers[#answers + 1] = 'c'
  else
    if claims[i - 1] then
      redis.call('HDEL', KEYS[2], digest)
    end
    local previous = redis.call('ZSCORE', KEYS[1], digest)
    if previous and tonumber(previous) >= now - trust and not redis.call('ZSCORE', KEYS[4], digest) then
      answers[#answers + 1] = 'k'
    else
      answers[#answers + 1] = 'u'
      redis.call('ZADD', KEYS[4], nowText, digest)
    end
    redis.call('ZADD', KEYS[1], nowText, digest)
  end
end
redis.call('SET', KEYS[3], nowText, 'NX')
return { 0, table.concat(answers) }
