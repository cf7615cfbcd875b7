-- Apply a batch of agent-side facts of ONE agent. Idempotent: state and membership are set with their
-- time (an older event never overwrites a newer one); counted facts have once-markers.
-- KEYS[1]: the agent's slot base "P:{a:ID}"; every key touched is built from it (one hash tag).
-- (the suffixes are wallboard/keys.py's LUA_SUFFIXES: tests/test_keys.py checks this file spells them the same)
-- ARGV[1]: JSON params {exp, bexp, oexp, bounds}  oexp: an open written conversation's life; bounds: ascending window starts (epoch) or "all"
--          (or {read = ...}: see "Reading" below)
-- ARGV[2]: JSON array of events, each a positional array (cheaper to encode and to decode than an object;
-- made by wallboard/engine.py's Engine._arec), false where a field is absent; each starts [k, t, c, q, ...]:
--   ['S', t, c, q, st, r, pp]        state set (available, ringing, on_call, wrap_up, paused, logged_out); pp (a
--                                    busy state only): the PBX holds the agent paused, pp = the pause's reason;
--                                    kept as 'pp' (since when, held across busy states) and 'pr' (the reason)
--   ['MA'|'MP', t, false, q, p] / ['MR', t, false, q]   membership added / penalty / removed
--   ['H', t, c, q, win, min, j, ch]  handled (answered) call, once per (call, queue entry); with ch (a
--                                    written channel) it is counted in 'conversations_handled' as well and
--                                    opens the agent's conversation in ':conv'
--   ['CC', t, c, q, win, min, j]     a written conversation closed: leaves ':conv'; when the agent's last open
--                                    one closes, the busy stretch is added to 'conversation_s' (overlaps once)
--   ['T', t, c, q, win, min, j]      transferred call, once per (call, queue entry)
--   ['V', t, c, q, win, min, j, sq, v]  a survey answer to the agent's contact, once per (call, queue entry,
--                                    question sq: 'c' CSAT, v = 1 top box; 'n' NPS, v = 1 / -1); surveyed once
--                                    per (call, queue entry)
--   ['MS', t, c, q, win, min, false, rs]  missed ring, once per (call, ring start second)
--   ['DA'|'OC', t, c, false, win, min]    dial attempt / outbound call, once per dialled Uniqueid
--   ['SP', t, false, false, by, on, mode] a supervisor started (on=1) / stopped listening
-- Returns the number of duplicates.
local base = KEYS[1]
local p = cjson.decode(ARGV[1])
local evs = cjson.decode(ARGV[2])
-- an event's fields (the header's order)
local A_K, A_T, A_C, A_Q = 1, 2, 3, 4
local A_ST, A_R, A_PP = 5, 6, 7  -- S
local A_WIN, A_MIN, A_J, A_CH, A_SQ, A_V, A_RS = 5, 6, 7, 8, 8, 9, 8  -- H, CC, T, V, MS, DA, OC
local A_BY, A_ON, A_MODE, A_P = 5, 6, 7, 5  -- SP; MA, MP
local skey = base .. ':state'
local dups = 0
local expire_set = {}

-- Text made from numbers, made once per batch (as in queue_batch.lua: the same texts, Lua's number-to-text
-- being a large share of a batch's cost)
local function texts(make)
  return setmetatable({}, {__index = function(t, k) local v = make(k); t[k] = v; return v end})
end
local MSUF = texts(function(m) return ':m:' .. m end)  -- (keys stay 'base .. suffix': tests/test_hash_tags.py)
local WSUF = texts(function(w) return ':w:' .. w end)
local SSUF = texts(function(w) return ':spans:' .. w end)
local WHOLE = texts(function(x) return string.format('%d', x) end)  -- (%.17g's digits, cheaper to make)
local function arg(x)  -- a number for redis.call: its text when whole, else the number as before
  if x == math.floor(x) and x < 1e15 and x > -1e15 then return WHOLE[x] end
  return x
end
-- a span's member 'from|to|' (the %.17g texts; a span's end is often the next one's start, made once)
local function span_ends(a, b)
  local ta, tb = arg(a), arg(b)
  if type(ta) == 'string' and type(tb) == 'string' then return ta .. '|' .. tb .. '|' end
  return string.format('%.17g|%.17g|', a, b)
end
local EXP, BEXP = p.exp and arg(p.exp), p.bexp and arg(p.bexp)  -- (none in the read mode)
local OEXP = p.oexp and arg(p.oexp) or EXP

-- Keys: ':state', ':queues', ':qts' (membership and its times), ':w:<window>' (window counters),
-- ':m:<minute>' (counted facts per minute), ':spans:<window>' (zset of 'from|to|state|reason', score = to;
-- a written busy stretch as state 'conversation').
-- Reading, for snapshots (ARGV[1] = {"read": {"win": W}}, ARGV[2] = "[]"): the agent's state, membership
-- and window counters as one JSON text (flat [field, value, ...] lists of the strings Redis holds); nothing
-- written. One reply per agent instead of four (docs/PERFORMANCE.md).
if p.read then
  return cjson.encode({
    s = redis.call('HGETALL', skey),
    q = redis.call('HGETALL', base .. ':queues'),
    t = redis.call('HGETALL', base .. ':qts'),
    w = redis.call('HGETALL', base .. ':w:' .. p.read.win),
    cv = redis.call('HVALS', base .. ':conv'),
  })
end

local function window_of(m)
  if p.bounds == 'all' then return 'all' end
  local w = nil
  for _, b in ipairs(p.bounds) do
    if b <= m then w = b else break end
  end
  return w
end

-- once-counted facts (calls handled, missed, dials, outbound calls) are whole counts: summed per key and
-- field in the batch and written once at the end (HINCRBY stores the same text HINCRBYFLOAT did)
local counts = {}
local function add(ck, field, by)
  local h = counts[ck]
  if not h then h = {}; counts[ck] = h end
  h[field] = (h[field] or 0) + by
  expire_set[ck] = true
end

-- add seconds to a field: a whole number (queue_log's seconds, the whole minutes inside an interval) by
-- HINCRBY, cheaper than HINCRBYFLOAT and storing the same text; a fraction, or a field already holding one
-- (HINCRBY refuses it), by HINCRBYFLOAT as before
local function incr_s(key, field, by)
  if by == math.floor(by) and by < 1e15 and by > -1e15 then
    local r = redis.pcall('HINCRBY', key, field, arg(by))
    if type(r) ~= 'table' or not r.err then return end
  end
  redis.call('HINCRBYFLOAT', key, field, by)
end

-- Performance (docs/PERFORMANCE.md): what the batch writes to a key it writes once at the end, each field's
-- seconds in one HINCRBY and each span list's members in one ZADD, and the state hash is read once and written
-- once; the values stored are the ones the per-event writes stored (nothing in the batch reads them back).
-- Seconds per key and field, in order: whole pieces are summed (exact below 2^53), anything else is written
-- piece by piece as before, so a float sum is the same sequence of HINCRBYFLOATs.
-- (fields in the order first written, as the hash's own order of fields is what readers of it see)
local secs = {}
local function add_s(key, field, by)
  local h = secs[key]
  if not h then h = {order = {}, by = {}}; secs[key] = h end
  local l = h.by[field]
  if not l then l = {}; h.by[field] = l; h.order[#h.order + 1] = field end
  l[#l + 1] = by
end
local function write_secs()
  for key, h in pairs(secs) do
    for _, field in ipairs(h.order) do
      local l, sum, whole = h.by[field], 0, true
      for _, by in ipairs(l) do
        if not (by == math.floor(by) and by >= 0 and by < 1e15) then whole = false; break end
        sum = sum + by
      end
      local done = false
      if whole and sum < 1e15 then
        local r = redis.pcall('HINCRBY', key, field, arg(sum))
        done = type(r) ~= 'table' or not r.err
      end
      if not done then for _, by in ipairs(l) do incr_s(key, field, by) end end
    end
  end
end

-- span list members per key, in order, added by one ZADD per key (a member twice: the last score, as before)
local zs = {}
local function zadd(key, score, member)
  local l = zs[key]
  if not l then l = {}; zs[key] = l end
  l[#l + 1] = score
  l[#l + 1] = member
end
local function write_spans()
  for key, l in pairs(zs) do
    for i = 1, #l, 1000 do  -- unpack takes a bounded number of values
      redis.call('ZADD', key, unpack(l, i, math.min(i + 999, #l)))
    end
  end
end

-- the state hash's fields the state changes read and write: read once (HMGET), written once (HSET) at the end
local SF = {'state', 'reason', 'since', 'ts', 'call_id', 'call_queue', 'missed_in_row', 'pp', 'pr'}
local S, S_dirty = nil, {}
local function sget()
  if not S then
    local cur = redis.call('HMGET', skey, unpack(SF))
    S = {}
    for i, f in ipairs(SF) do S[f] = cur[i] end
  end
  return S
end
local function sset(f, v)
  sget()[f] = v
  S_dirty[f] = true
end
local function write_state()
  if not S then return end
  local args = {}
  for _, f in ipairs(SF) do
    if S_dirty[f] then
      local v = S[f]
      if type(v) == 'number' then v = arg(v) end  -- ('since' and 'ts' are mostly the same time: made once)
      args[#args + 1] = f; args[#args + 1] = v
    end
  end
  if #args > 0 then redis.call('HSET', skey, unpack(args)) end
end

-- seconds in a state, written once when the state ends: per window (the since-reset counters, split at the
-- window starts the span crosses) and as the span itself in that window's span list ':spans:<window>', from
-- which the rolling figures and the rollups split 15-minute intervals. The work is the same for a state of
-- one second or of a night: it grows with the windows crossed (a day each), never with the minutes.
local function accumulate(state, reason, from, to)
  if state == 'logged_out' or state == '' or to <= from then return end
  if from < to - p.bexp then from = to - p.bexp end
  local field = state .. '_s'
  local function piece(w, a, b)
    local wk = base .. WSUF[w]
    add_s(wk, field, b - a)
    if state == 'paused' then add_s(wk, 'paused_s:' .. reason, b - a) end
    expire_set[wk] = true
    local sk = base .. SSUF[w]
    zadd(sk, arg(b), span_ends(a, b) .. state .. '|' .. reason)
    expire_set[sk] = true
  end
  if p.bounds == 'all' then piece('all', from, to) return end
  local bs = p.bounds
  for i, w in ipairs(bs) do
    local nxt = bs[i + 1]
    local a, b = math.max(from, w), to
    if nxt and nxt < b then b = nxt end
    if a < b then piece(w, a, b) end
  end
end

local function once(marker)
  return redis.call('SET', base .. ':x:' .. marker, '1', 'NX', 'EX', EXP)
end

-- seconds added to a window field, split at the window starts the stretch crosses; with ``span`` also kept
-- as a span ('from|to|<span>|') in ':spans:<window>', so the rollup splits it into intervals as states are
local function add_windows(field, from, to, span)
  if to <= from then return end
  if from < to - p.bexp then from = to - p.bexp end
  local function keep(w, a, b)
    if not span then return end
    local sk = base .. SSUF[w]
    zadd(sk, arg(b), span_ends(a, b) .. span .. '|')
    expire_set[sk] = true
  end
  if p.bounds == 'all' then
    add_s(base .. ':w:all', field, to - from); expire_set[base .. ':w:all'] = true
    keep('all', from, to)
    return
  end
  local bs = p.bounds
  for i, w in ipairs(bs) do
    local nxt = bs[i + 1]
    local a, b = math.max(from, w), to
    if nxt and nxt < b then b = nxt end
    if a < b then
      local wk = base .. WSUF[w]
      add_s(wk, field, b - a); expire_set[wk] = true
      keep(w, a, b)
    end
  end
end

-- a written conversation: open from its answer (H with ch) to its close (CC), once each. A close that comes
-- first leaves a mark, so its answer arriving late does not open it again. The agent is busy while any is
-- open: the stretch from the first opened to the last closed is added once (overlaps counted once).
local conv = base .. ':conv'
local function open_conv(field, ch, t)
  if redis.call('EXISTS', base .. ':x:cc:' .. field) == 1 then return end
  if redis.call('HLEN', conv) == 0 then redis.call('HSET', skey, 'conv_since', t) end
  redis.call('HSET', conv, field, ch)
  -- kept until its close however long it stays open (as its queue entry's marker is), or p.oexp after the last
  -- one opened should a close never come (centre.open_conversation_expiry_h); empty, Redis drops it
  redis.call('EXPIRE', conv, OEXP)
end
local function close_conv(field, t)
  once('cc:' .. field)
  if redis.call('HDEL', conv, field) == 1 and redis.call('HLEN', conv) == 0 then
    local since = tonumber(redis.call('HGET', skey, 'conv_since') or '')
    if since then add_windows('conversation_s', since, t, 'conversation') end
    redis.call('HDEL', skey, 'conv_since')
  end
end

for _, e in ipairs(evs) do
  local k = e[A_K]
  if k == 'S' then
    local cur = sget()
    local st, rs, since, ts = cur.state, cur.reason or '', tonumber(cur.since), tonumber(cur.ts)
    local reason = e[A_R] or ''
    if ts and e[A_T] < ts then
      dups = dups + 1  -- older than what we hold: never overwrites
    else
      -- a pause the PBX holds while the agent is busy: since when (kept across busy states) and its reason
      local was = cur.pp or ''
      local pend = type(e[A_PP]) == 'string'  -- (false: none)
      local pchanged = pend ~= (was ~= '') or (pend and (cur.pr or '') ~= e[A_PP])
      if pchanged then
        if pend then
          if was == '' then sset('pp', e[A_T]) end
          sset('pr', e[A_PP])
        else
          sset('pp', ''); sset('pr', '')
        end
      end
      if st == e[A_ST] and rs == reason then
        if ts and e[A_T] == ts and not pchanged then dups = dups + 1 else sset('ts', e[A_T]) end
        -- the same state may bring the call it is about (AMI says "in use" before AgentConnect)
        if e[A_C] and e[A_C] ~= '' then sset('call_id', e[A_C]); sset('call_queue', e[A_Q] or '') end
      else
        if st and since then accumulate(st, rs, since, e[A_T]) end
        sset('state', e[A_ST]); sset('reason', reason); sset('since', e[A_T]); sset('ts', e[A_T])
        sset('call_id', e[A_C] or ''); sset('call_queue', e[A_Q] or '')
        if e[A_ST] == 'on_call' and (e[A_C] or '') ~= '' then sset('missed_in_row', 0) end
      end
    end
  elseif k == 'SP' then
    -- who listens to this agent, and how: set while it lasts (a state, so older news never overwrites)
    local raw = redis.call('HGET', skey, 'spied_by')
    local spies = raw and cjson.decode(raw) or {}
    local last = tonumber(redis.call('HGET', skey, 'spy_ts:' .. e[A_BY]) or '-1')
    if e[A_T] < last then
      dups = dups + 1
    else
      if e[A_ON] == 1 then spies[e[A_BY]] = e[A_MODE] else spies[e[A_BY]] = nil end
      if next(spies) == nil then redis.call('HDEL', skey, 'spied_by')
      else redis.call('HSET', skey, 'spied_by', cjson.encode(spies)) end
      redis.call('HSET', skey, 'spy_ts:' .. e[A_BY], e[A_T])
    end
  elseif k == 'MA' or k == 'MP' or k == 'MR' then
    local last = tonumber(redis.call('HGET', base .. ':qts', e[A_Q]) or '-1')
    if e[A_T] < last then
      dups = dups + 1
    else
      if k == 'MR' then
        redis.call('HDEL', base .. ':queues', e[A_Q])
      else
        redis.call('HSET', base .. ':queues', e[A_Q], e[A_P])
      end
      redis.call('HSET', base .. ':qts', e[A_Q], e[A_T])
    end
  elseif k == 'CC' then
    close_conv(e[A_C] .. ':' .. e[A_Q] .. ':' .. math.floor(e[A_J]), e[A_T])
  elseif k == 'V' then
    local entry = e[A_C] .. ':' .. e[A_Q] .. ':' .. math.floor(e[A_J])
    if once('v' .. e[A_SQ] .. ':' .. entry) then
      local wk, mk = base .. WSUF[e[A_WIN]], base .. MSUF[e[A_MIN]]
      if once('vs:' .. entry) then add(wk, 'surveyed', 1); add(mk, 'surveyed', 1) end
      local f = (e[A_SQ] == 'n') and 'nps' or 'csat'
      add(wk, f .. '_responses', 1); add(mk, f .. '_responses', 1)
      local part = nil
      if e[A_V] == 1 then part = (f == 'nps') and 'nps_promoters' or 'csat_top' end
      if e[A_V] == -1 then part = 'nps_detractors' end
      if part then add(wk, part, 1); add(mk, part, 1) end
    else
      dups = dups + 1
    end
  else
    local marker, field
    if k == 'H' then marker = 'h:' .. e[A_C] .. ':' .. e[A_Q] .. ':' .. math.floor(e[A_J]); field = 'calls_handled'
    elseif k == 'T' then marker = 't:' .. e[A_C] .. ':' .. e[A_Q] .. ':' .. math.floor(e[A_J]); field = 'transferred'
    elseif k == 'MS' then marker = 'm:' .. e[A_C] .. ':' .. e[A_RS]; field = 'missed'
    elseif k == 'DA' then marker = 'd:' .. e[A_C]; field = 'dial_attempts'
    elseif k == 'OC' then marker = 'o:' .. e[A_C]; field = 'outbound_calls'
    end
    if once(marker) then
      add(base .. WSUF[e[A_WIN]], field, 1)
      add(base .. MSUF[e[A_MIN]], field, 1)
      if k == 'MS' then sset('missed_in_row', (tonumber(sget().missed_in_row) or 0) + 1) end
      if k == 'H' and e[A_CH] then  -- a written conversation: counted apart too (voice calls handled are the rest)
        add(base .. WSUF[e[A_WIN]], 'conversations_handled', 1)
        add(base .. MSUF[e[A_MIN]], 'conversations_handled', 1)
        open_conv(e[A_C] .. ':' .. e[A_Q] .. ':' .. math.floor(e[A_J]), e[A_CH], e[A_T])
      end
    else
      dups = dups + 1
    end
  end
end

write_state()
write_secs()
write_spans()
for ck, h in pairs(counts) do
  for field, by in pairs(h) do
    local r = redis.pcall('HINCRBY', ck, field, arg(by))
    if type(r) == 'table' and r.err then redis.call('HINCRBYFLOAT', ck, field, by) end  -- never a fraction, but safe
  end
end
for key, _ in pairs(expire_set) do redis.call('EXPIRE', key, BEXP) end
if dups > 0 then redis.call('HINCRBY', base .. ':stats', 'duplicates', dups) end
return dups
