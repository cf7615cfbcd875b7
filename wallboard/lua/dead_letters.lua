-- Record rejected input, once per record: a feed that re-reads after a restart (the queue_log cursor is saved
-- behind what was applied) hands the same bad lines over again, and they must not be listed or counted twice.
-- KEYS[1] = the centre slot's base (P:{c}); every key is built from it.
-- (the suffixes are wallboard/keys.py's LUA_SUFFIXES: tests/test_keys.py checks this file spells them the same)
-- ARGV: now (epoch), horizon_s (how long a record is remembered), maxlen, then per record: id, source, reason,
-- raw (id = a digest of source and raw: the same position with the same content is the same record).
-- Returns JSON: per record, its stream id if it was new, else "" (listed before).
local base = KEYS[1]
local now = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local maxlen = ARGV[3]
local seen = base .. ':dlseen'
local added = 0
local ids = {}
for i = 4, #ARGV, 4 do
  local id = ''
  if redis.call('ZADD', seen, 'NX', now, ARGV[i]) == 1 then
    id = redis.call('XADD', base .. ':deadletter', 'MAXLEN', '~', maxlen, '*',
      'source', ARGV[i + 1], 'reason', ARGV[i + 2], 'raw', ARGV[i + 3])
    added = added + 1
  end
  ids[#ids + 1] = id
end
if added > 0 then redis.call('INCRBY', base .. ':dlcount', added) end
redis.call('ZREMRANGEBYSCORE', seen, '-inf', now - horizon)
return cjson.encode(ids)
