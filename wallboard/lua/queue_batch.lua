-- Apply a batch of call transitions of ONE queue, exactly once per queue entry.
-- KEYS[1]: the queue's slot base "P:{q:NAME}"; every key touched is built from it (one hash tag).
-- ARGV[1]: JSON params {sl, sh, exp, bexp, feed, pos}
-- ARGV[2]: JSON array of events {k, c, t, w, win, min, r, cl, ag, tk, wr}
--   k: J joined, A answered, X abandoned, O overflowed (r = reason), C completed (tk), W wrap-up done (wr),
--      D callback done, R resync of who waits (ids)
-- Returns JSON array, per event: [duplicate 0/1, entry join epoch]
local base = KEYS[1]
local p = cjson.decode(ARGV[1])
local evs = cjson.decode(ARGV[2])
local waiting = base .. ':waiting'
local callers = base .. ':callers'
local callbacks = base .. ':callbacks'
local out = {}
local dups, applied = 0, 0

local function has(f, letter)
  return string.find(f, letter, 1, true) ~= nil
end

-- counters are summed per key and field in the batch and written once at the end
local acc = {}
local function add(key, field, by)
  local h = acc[key]
  if not h then h = {}; acc[key] = h end
  h[field] = (h[field] or 0) + by
end

local function bump(e, field, by)
  add(base .. ':w:' .. e.win, field, by)
  add(base .. ':m:' .. e.min, field, by)
end

local function leave(c)
  redis.call('ZREM', waiting, c)
  redis.call('HDEL', callers, c)
end

-- a resync lists who waits now (QueueStatus): callers we hold as waiting but not listed left unseen;
-- they stop waiting and nothing is counted for them (a caller who joined just now is kept)
local function resync(e)
  local listed = {}
  for _, c in ipairs(e.ids) do listed[c] = true end
  local held = redis.call('ZRANGE', waiting, 0, -1, 'WITHSCORES')
  local gone = 0
  for k = 1, #held, 2 do
    local c, j = held[k], tonumber(held[k + 1])
    if not listed[c] and j < e.t - 1 then
      leave(c)
      local mk = base .. ':e:' .. c
      local n = redis.call('HGET', mk, 'n')
      if n then redis.call('HSET', mk, 'f' .. n, (redis.call('HGET', mk, 'f' .. n) or '') .. 'X') end
      gone = gone + 1
    end
  end
  if gone > 0 then redis.call('HINCRBY', base .. ':stats', 'resync_removed', gone) end
end

for i, e in ipairs(evs) do
 if e.k == 'R' then
  resync(e)
  out[i] = {0, 0}
 else
  local mk = base .. ':e:' .. e.c
  local n = tonumber(redis.call('HGET', mk, 'n') or '0')
  local t = e.t
  local idx = nil
  local j = nil
  local dup = false
  if e.k == 'J' then
    -- a join within 1 s of an entry's join is that entry (AMI microseconds meet queue_log seconds)
    for k = n, 1, -1 do
      local jk = tonumber(redis.call('HGET', mk, 'j' .. k))
      if math.abs(jk - t) <= 1 then idx = k; j = jk; break end
    end
    if idx then
      local f = redis.call('HGET', mk, 'f' .. idx) or ''
      if has(f, 'J') then
        dup = true
      else
        -- the join arrives after other transitions of its entry (out of order): count it, don't seat it
        redis.call('HSET', mk, 'f' .. idx, f .. 'J')
        bump(e, 'entered', 1)
      end
    else
      if n > 0 then
        -- a new entry while the previous one never left: that caller can't wait twice in one queue
        local f = redis.call('HGET', mk, 'f' .. n) or ''
        if not (has(f, 'A') or has(f, 'L') or has(f, 'X')) then
          leave(e.c)
          redis.call('HSET', mk, 'f' .. n, f .. 'X')
        end
      end
      n = n + 1; idx = n; j = t
      redis.call('HSET', mk, 'n', n, 'j' .. idx, t, 'f' .. idx, 'J')
      bump(e, 'entered', 1)
      redis.call('ZADD', waiting, t, e.c)
      if e.cl then redis.call('HSET', callers, e.c, e.cl) end
      local nw = redis.call('ZCARD', waiting)
      local bk = base .. ':m:' .. e.min
      if nw > tonumber(redis.call('HGET', bk, 'peak_waiting') or '0') then
        redis.call('HSET', bk, 'peak_waiting', nw)
      end
    end
  else
    for k = n, 1, -1 do
      local jk = tonumber(redis.call('HGET', mk, 'j' .. k))
      if jk <= t + 1 then idx = k; j = jk; break end
    end
    if not idx then
      -- the join was never seen (feed started mid-call): the entry is made from the wait we were given
      n = n + 1; idx = n; j = t - (e.w or 0)
      redis.call('HSET', mk, 'n', n, 'j' .. idx, j, 'f' .. idx, '')
    end
    local f = redis.call('HGET', mk, 'f' .. idx) or ''
    local w = e.w
    if w == nil then w = t - j end
    if w < 0 then w = 0 end
    local k = e.k
    if k == 'A' then
      if has(f, 'A') or has(f, 'L') then dup = true else
        f = f .. 'A'
        bump(e, 'answered', 1)
        if w <= p.sl then bump(e, 'answered_within_sl', 1) end
        bump(e, 'wait_answered_s', w)
        bump(e, 'wait_all_s', w)
        leave(e.c)
        if e.ag then redis.call('HSET', mk, 'a' .. idx, e.ag) end
      end
    elseif k == 'X' then
      if has(f, 'A') or has(f, 'L') then dup = true else
        f = f .. 'L'
        bump(e, 'abandoned', 1)
        if w <= p.sh then bump(e, 'short_abandoned', 1) end
        if w <= p.sl then bump(e, 'abandoned_within_sl', 1) end
        bump(e, 'wait_all_s', w)
        leave(e.c)
      end
    elseif k == 'O' then
      if has(f, 'A') or has(f, 'L') then dup = true else
        f = f .. 'L'
        bump(e, 'overflowed', 1)
        bump(e, 'overflowed:' .. e.r, 1)
        bump(e, 'wait_all_s', w)
        leave(e.c)
        -- a pending callback keeps the caller's place: the original entry time
        if e.r == 'callback' then redis.call('ZADD', callbacks, j, e.c) end
      end
    elseif k == 'C' then
      if has(f, 'C') then dup = true else
        f = f .. 'C'
        bump(e, 'completed', 1)
        bump(e, 'talk_s', e.tk)
      end
    elseif k == 'W' then
      if has(f, 'W') then dup = true else
        f = f .. 'W'
        bump(e, 'wrap_s', e.wr)
      end
    elseif k == 'D' then
      redis.call('ZREM', callbacks, e.c)
      if has(f, 'D') then dup = true else
        f = f .. 'D'
        bump(e, 'callbacks_done', 1)
      end
    end
    if not dup then redis.call('HSET', mk, 'f' .. idx, f) end
  end
  redis.call('EXPIRE', mk, p.exp)
  if dup then dups = dups + 1 else applied = applied + 1 end
  out[i] = {dup and 1 or 0, j}
 end
end

for key, h in pairs(acc) do
  for field, by in pairs(h) do
    -- sums of seconds are floats (AMI waits have microseconds); counts stay integers
    if string.sub(field, -2) == '_s' then
      redis.call('HINCRBYFLOAT', key, field, by)
    else
      redis.call('HINCRBY', key, field, by)
    end
  end
  redis.call('EXPIRE', key, p.bexp)
end
if dups > 0 then redis.call('HINCRBY', base .. ':stats', 'duplicates', dups) end
if applied > 0 then redis.call('HINCRBY', base .. ':stats', 'applied', applied) end
if p.feed and p.feed ~= '' then redis.call('HSET', base .. ':cursor', p.feed, p.pos) end
return cjson.encode(out)
