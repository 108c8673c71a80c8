-- parse-uint.lua (included by @include parse-uint): strict argument parsing shared by the index scripts.
--   parseUInt(value)          -> number, or nil unless value is a decimal integer string 0 .. 2^53-1
--   badArgument(name, value)  -> { -2 (BAD_ARGUMENT), message }
local MAX_SAFE = 9007199254740991

-- Strict decimal integer parser: rejects signs, decimals, exponents, hex, NaN, inf.
local function parseUInt(value)
  if type(value) ~= 'string' or #value == 0 or #value > 16 or not string.match(value, '^%d+$') then
    return nil
  end
  local n = tonumber(value)
  if n == nil or n > MAX_SAFE then
    return nil
  end
  return n
end

local function badArgument(name, value)
  return { -2, name .. ' must be a non-negative integer, got "' .. string.sub(tostring(value), 1, 64) .. '"' }
end
