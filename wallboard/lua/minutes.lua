-- A slot's minute buckets that hold something, for the rollup: KEYS[1] = the slot's base, ARGV = minute epochs.
-- Returns { i, {field, value, ...}, ... } for each ARGV position i (1-based) whose hash exists. One call reads a
-- day of a slot's minutes where one HGETALL each was sent before: nearly all of them of keys never written (a
-- queue idle at night, an agent's time, which is kept as spans), so the rollup cost the clock, not the events.
local base = KEYS[1]
local out = {}
for i = 1, #ARGV do
  local h = redis.call('HGETALL', base .. ':m:' .. ARGV[i])
  if #h > 0 then
    out[#out + 1] = i
    out[#out + 1] = h
  end
end
return out
