-- After a re-drive (wallboard deadletter --redrive): per record, ARGV = what ('d' done: it parsed and was
-- applied, so it leaves the stream; 'r' still rejected with a new reason: it moves to the end with it), the
-- stream id, source, reason, raw. KEYS[1] = the centre slot's base (P:{c}). Returns {gone, moved}.
-- (the suffixes are wallboard/keys.py's LUA_SUFFIXES: tests/test_keys.py checks this file spells them the same)
local base = KEYS[1]
local stream = base .. ':deadletter'
local gone, moved = 0, 0
for i = 1, #ARGV, 5 do
  if redis.call('XDEL', stream, ARGV[i + 1]) == 1 then
    if ARGV[i] == 'd' then
      gone = gone + 1
    else
      redis.call('XADD', stream, '*', 'source', ARGV[i + 2], 'reason', ARGV[i + 3], 'raw', ARGV[i + 4])
      moved = moved + 1
    end
  end
end
if gone > 0 and redis.call('DECRBY', base .. ':dlcount', gone) < 0 then
  redis.call('SET', base .. ':dlcount', 0)
end
return {gone, moved}
