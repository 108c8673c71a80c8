-- lock-holder.lua (included by @include lock-holder): the token check shared by the lock scripts.
--   tokenArgument(token)     -> nil, or { -2 (BAD_ARGUMENT), message } for a missing or empty token
--   notHeldBy(lock, token)   -> nil when the lock holds token, else { -1 } (NOT_FOUND) or { -3 } (NOT_OWNER)
local function tokenArgument(token)
  if token == nil or token == '' then
    return { -2, 'token must be a non-empty string' }
  end
  return nil
end

local function notHeldBy(lock, token)
  local current = redis.call('GET', lock)
  if not current then
    return { -1 }
  end
  if current ~= token then
    return { -3 }
  end
  return nil
end
