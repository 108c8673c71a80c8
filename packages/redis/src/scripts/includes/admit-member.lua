-- admit-member.lua (included by @include admit-member): the LRU admission shared by admit-chunk and admit-fetched.
--   admitMember(lruKey, sizeKey, usedKey, member, sizeText, nowText) -> admitted (1 new, 0 present), usedBytes
-- A member already present keeps its recorded size and is not counted twice; only its recency is raised.
local function admitMember(lruKey, sizeKey, usedKey, member, sizeText, nowText)
  local admitted = 0
  local used
  if redis.call('HSETNX', sizeKey, member, sizeText) == 1 then
    admitted = 1
    used = redis.call('INCRBY', usedKey, sizeText)
  else
    used = tonumber(redis.call('GET', usedKey) or '0')
  end
  -- GT without XX: adds the member if absent, otherwise only raises its score.
  redis.call('ZADD', lruKey, 'GT', nowText, member)
  return admitted, used
end
