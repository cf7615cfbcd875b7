-- Apply a batch of call transitions of ONE queue, exactly once per queue entry.
-- KEYS[1]: the queue's slot base "P:{q:NAME}"; every key touched is built from it (one hash tag).
-- (the suffixes are wallboard/keys.py's LUA_SUFFIXES: tests/test_keys.py checks this file spells them the same)
-- ARGV[1]: JSON params {sl, sh, exp, bexp, feed, pos, fexp, wr, oexp} (wr: a written channel's queue) (or {read = ...}: see "Reading" below)
-- ARGV[2]: JSON array of events, each a positional array (cheaper to encode and to decode than an object;
--   wallboard/engine.py's _Q* indexes), false where a field is absent:
--   [k, c, t, win, min, w, kn, jw, jm, then k's own: J cl, cu; A ag, dy; O r; C tk, x; W wr; V ag, sq, v;
--    R (no c, win, min): ids; E (only k): cut]
--   jw, jm: window and minute of t - w when they differ from win and min (an exit's implied join);
--   kn (A, X, O without w; C, W): counted only if the call has an entry that joined by t, else refused (code 3);
--   cu (J): the customer's salted hash; dy (A): the report day YYYYMMDD (first contact resolution)
--   k: J joined, A answered, X abandoned, O overflowed (r = reason), C completed (tk; x: by a transfer),
--      W wrap-up done (wr),
--      D callback done, R resync of who waits (ids), E expiry of callers who joined before cut (an exclusive
--      ZRANGEBYSCORE bound, "(epoch"; centre.caller_expiry_s),
--      V a survey answer (sq: 'c' CSAT with v = 1 in the top box, 'n' NPS with v = 1 promoter / -1 detractor;
--      ag: the agent the event names)
-- Returns JSON array, per event: [duplicate 0/1, entry join epoch] (V: [duplicate, join, the entry's agent or ag];
-- duplicate 2: the entry is known and was never answered, so the answer is not counted; 3: an exit, close or
-- wrap-up with kn whose entry is unknown, not counted)
--
-- Performance (docs/PERFORMANCE.md): what the script reads it reads once per batch and what it writes it
-- writes once at the end, so a call's join, answer and completion in one batch cost one HGETALL, one HSET and
-- one EXPIRE of its marker instead of a dozen HGET/HSET/EXPIRE; the waiting count is kept from the ZADD/ZREM
-- replies (one ZCARD per batch) and each minute's peak is read and written once. Every decision below is
-- the one the per-event version made, in the same order, on the same values.
local base = KEYS[1]
local p = cjson.decode(ARGV[1])
local evs = cjson.decode(ARGV[2])
-- an event's fields (the header's order)
local E_K, E_C, E_T, E_WIN, E_MIN, E_W, E_KN, E_JW, E_JM, E_X1, E_X2, E_X3 = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
local E_CL, E_CU, E_AG, E_DY, E_R, E_TK, E_X, E_WR, E_SQ, E_V = E_X1, E_X2, E_X1, E_X2, E_X1, E_X1, E_X2, E_X1, E_X2, E_X3
local E_IDS, E_CUT = E_X1, E_X1
local waiting = base .. ':waiting'
local callers = base .. ':callers'
local callbacks = base .. ':callbacks'

-- Reading, for snapshots (ARGV[1] = {"read": {"win": W, "mins": [minute, ...]}}, ARGV[2] = "[]"): what a
-- snapshot needs of this queue, as one JSON text, and nothing written. One reply per queue instead of
-- 5 + the rolling window's 30 or so, parsed by Python's json in C (docs/PERFORMANCE.md). Values stay the
-- strings Redis holds (hashes and scored sets as flat [field, value, ...] lists).
if p.read then
  local rolls = {}
  for i, m in ipairs(p.read.mins) do rolls[i] = redis.call('HGETALL', base .. ':m:' .. m) end
  return cjson.encode({
    w = redis.call('HGETALL', base .. ':w:' .. p.read.win),
    m = rolls,
    wt = redis.call('ZRANGE', waiting, 0, -1, 'WITHSCORES'),
    cl = redis.call('HGETALL', callers),
    cb = redis.call('ZRANGE', callbacks, 0, -1, 'WITHSCORES'),
    d = redis.call('HGET', base .. ':stats', 'duplicates'),
    x = redis.call('HGET', base .. ':stats', 'expired'),
  })
end

local dups, applied = 0, 0
local find, tonumber, floor = string.find, tonumber, math.floor

local function has(f, letter)
  return find(f, letter, 1, true) ~= nil
end

-- Text made from numbers, made once per batch: Lua's number-to-text (sprintf, in a concatenation or in each
-- number handed to redis.call) is a large share of a batch's cost (docs/PERFORMANCE.md). The texts are the ones
-- made before: a concatenation's, and for redis.call the %.17g Redis itself writes (whole numbers only, where
-- every Redis version writes the same digits).
local function texts(make)
  return setmetatable({}, {__index = function(t, k) local v = make(k); t[k] = v; return v end})
end
local J = texts(function(k) return 'j' .. k end)
local F = texts(function(k) return 'f' .. k end)
local AG = texts(function(k) return 'a' .. k end)
local CU = texts(function(k) return 'u' .. k end)
local MSUF = texts(function(m) return ':m:' .. m end)  -- (keys stay 'base .. suffix': tests/test_hash_tags.py)
local WSUF = texts(function(w) return ':w:' .. w end)
local WHOLE = texts(function(x) return string.format('%d', x) end)  -- (%.17g's digits, cheaper to make)
local function arg(x)  -- a number for redis.call: its text when whole, else the number as before
  if x == floor(x) and x < 1e15 and x > -1e15 then return WHOLE[x] end
  return x
end
local EXP, BEXP = arg(p.exp), arg(p.bexp)
local OEXP = p.oexp and arg(p.oexp) or EXP  -- an open written conversation's marker (centre.open_conversation_expiry_h)

-- The reply is written as pieces of text joined once at the end: cjson.encode of the whole array cost an
-- eighth of the script (a number formatted per element). Each join and agent is still cjson's own text
-- (encoded once per batch), so the reply is the one cjson made, byte for byte.
local JSON = texts(cjson.encode)
local FIRST, LATER = {[0] = '[0,', '[1,', '[2,', '[3,'}, {[0] = ',[0,', ',[1,', ',[2,', ',[3,'}
local out, on = {}, 0
local function reply(d, j, ag)  -- one event's [d, j] or [d, j, ag]
  out[on + 1] = (on == 0 and FIRST or LATER)[d]
  out[on + 2] = JSON[j]
  if ag == nil then
    out[on + 3] = ']'; on = on + 3
  else
    out[on + 3] = ','; out[on + 4] = JSON[ag]; out[on + 5] = ']'; on = on + 5
  end
end

-- counters are summed per key and field in the batch and written once at the end
local acc = {}
local function add(key, field, by)
  local h = acc[key]
  if not h then h = {}; acc[key] = h end
  h[field] = (h[field] or 0) + by
end

-- queue-entry markers of the batch: call id -> fields (HGETALL once); changed fields and which markers get
-- their expiry renewed (every call event renews it; a resync alone does not), both written at the end
local marks, changed, renew = {}, {}, {}
local function marker(c)
  local h = marks[c]
  if not h then
    h = {}
    local flat = redis.call('HGETALL', base .. ':e:' .. c)
    for k = 1, #flat, 2 do h[flat[k]] = flat[k + 1] end
    marks[c] = h
  end
  return h
end
local function put(c, h, field, value)
  h[field] = value
  local ch = changed[c]
  if not ch then ch = {}; changed[c] = ch end
  ch[field] = true
end

-- callers waiting now: ZCARD once, then kept up to date from what ZADD and ZREM report; and per call, whether
-- this batch's last ZADD/ZREM of it left it waiting (the markers' expiry below asks Redis only about the rest)
local nwait = nil
local waits = {}
-- the callers' details (a caller's number while waiting): the batch's last word per call, written once at the
-- end (an HDEL of every call that left, then an HSET of those set last); nothing in the batch reads them
local cl, cl_set, cl_gone, cl_left = {}, {}, {}, {}
local function leave(c)
  local gone = redis.call('ZREM', waiting, c)
  waits[c] = false
  if nwait then nwait = nwait - gone end
  if not cl_left[c] then cl_left[c] = true; cl_gone[#cl_gone + 1] = c end
  cl[c] = false
  renew[c] = true  -- its marker's expiry starts now (below)
end

-- the peak of waiting callers per minute bucket: read once, written at the end if it rose
local peaks, peak_up = {}, {}

-- a caller who stops waiting with no exit seen: nothing is counted, the entry's flag says why (X: not listed
-- by a resync, E: expired). A real exit arriving later is still counted once, as what it was (the outcome is
-- known at last), and never seats the caller again (its ZREM finds nothing).
local function drop_unseen(c, flag)
  leave(c)
  local h = marker(c)
  local n = h['n']
  if n then put(c, h, F[n], (h[F[n]] or '') .. flag) end
end

-- a resync lists who waits now (QueueStatus): callers we hold as waiting but not listed left unseen;
-- they stop waiting and nothing is counted for them (a caller who joined just now is kept)
local function resync(e)
  local listed = {}
  for _, c in ipairs(e[E_IDS]) do listed[c] = true end
  local held = redis.call('ZRANGE', waiting, 0, -1, 'WITHSCORES')
  local gone = 0
  for k = 1, #held, 2 do
    local c, j = held[k], tonumber(held[k + 1])
    if not listed[c] and j < e[E_T] - 1 then
      drop_unseen(c, 'X')
      gone = gone + 1
    end
  end
  if gone > 0 then redis.call('HINCRBY', base .. ':stats', 'resync_removed', gone) end
end

-- expiry: callers still held as waiting who joined before the cut; their leave never arrived. ``expired``
-- in :stats counts those whose exit is still missing (a late exit takes its caller off again, below).
local function expire(e)
  local old = redis.call('ZRANGEBYSCORE', waiting, '-inf', e[E_CUT])
  for _, c in ipairs(old) do drop_unseen(c, 'E') end
  if #old > 0 then redis.call('HINCRBY', base .. ':stats', 'expired', #old) end
  return #old
end
local unexpired = 0  -- late exits of expired callers in this batch

-- whether the call has an entry that joined by t (the entry an exit at t finds below)
local function entry_by(h, t)
  for k = tonumber(h['n'] or '0'), 1, -1 do
    if tonumber(h[J[k]]) <= t + 1 then return true end
  end
  return false
end

for i, e in ipairs(evs) do
 if e[E_K] == 'R' then
  resync(e)
  reply(0, 0)
 elseif e[E_K] == 'E' then
  reply(0, expire(e))
 elseif e[E_K] == 'V' then
  -- a survey answer, maybe hours after the contact: counted now (its own window and minute), with the latest
  -- entry that joined before it and that entry's agent; once per (contact, question) by the entry's flags V and
  -- N (or the marker's own 'v0' when no entry is known: the contact was not seen or its marker expired)
  local c = e[E_C]
  local h = marker(c)
  renew[c] = true
  local n = tonumber(h['n'] or '0')
  local idx = nil
  for k = n, 1, -1 do
    if tonumber(h[J[k]]) <= e[E_T] + 1 then idx = k; break end
  end
  -- dated before the contact joined (the survey platform's clock behind the PBX's): still the contact's first
  -- entry, so that a copy with another time (the other feed's) finds the same flags
  if not idx and n > 0 then idx = 1 end
  -- a contact answered before any entry of it was known (the PBX feed behind the survey's) keeps that record,
  -- 'v0', for its answers: a re-sent answer finds its flag there, and the agent step its once-marks (join 0)
  local fe = idx and (h[F[idx]] or '') or ''
  local f0 = h['v0'] or ''
  local ff, f, j = 'v0', f0, 0
  if idx and f0 == '' then ff, f, j = F[idx], fe, tonumber(h[J[idx]]) end
  local ag = (idx and h[AG[idx]]) or e[E_AG] or ''
  local flag = (e[E_SQ] == 'n') and 'N' or 'V'
  if has(f, flag) then
    dups = dups + 1
    reply(1, j, ag)
  elseif idx and not (has(fe, 'A') or has(fe, 'C') or has(fe, 'D')) then
    reply(2, j, '')  -- this queue never answered (nor called back) the contact: not counted, a dead letter
  else
    local wkey, mkey = base .. WSUF[e[E_WIN]], base .. MSUF[e[E_MIN]]
    if not (has(f, 'V') or has(f, 'N')) then add(wkey, 'surveyed', 1); add(mkey, 'surveyed', 1) end
    put(c, h, ff, f .. flag)
    if flag == 'V' then
      add(wkey, 'csat_responses', 1); add(mkey, 'csat_responses', 1)
      if e[E_V] == 1 then add(wkey, 'csat_top', 1); add(mkey, 'csat_top', 1) end
    else
      add(wkey, 'nps_responses', 1); add(mkey, 'nps_responses', 1)
      if e[E_V] == 1 then add(wkey, 'nps_promoters', 1); add(mkey, 'nps_promoters', 1) end
      if e[E_V] == -1 then add(wkey, 'nps_detractors', 1); add(mkey, 'nps_detractors', 1) end
    end
    applied = applied + 1
    reply(0, j, ag)
  end
 elseif e[E_KN] and not entry_by(marker(e[E_C]), e[E_T]) then
  -- an exit without its wait for an entry nobody saw join (a sender that may leave the wait out): counted, it
  -- would be a join and an exit in the same second; refused instead (a dead letter), nothing written. The same
  -- for a close or a wrap-up of such an entry: counted, it would be a completion (handle time, transfer) of a
  -- conversation never opened, and the engine's agent step ends no conversation for it
  reply(3, 0)
 else
  local c = e[E_C]
  local h = marker(c)
  renew[c] = true
  local wkey = base .. WSUF[e[E_WIN]]
  local mkey = base .. MSUF[e[E_MIN]]
  local n = tonumber(h['n'] or '0')
  local t = e[E_T]
  local idx = nil
  local j = nil
  local dup = false
  if e[E_K] == 'J' then
    -- a join within 1 s of an entry's join is that entry (AMI microseconds meet queue_log seconds)
    for k = n, 1, -1 do
      local jk = tonumber(h[J[k]])
      if math.abs(jk - t) <= 1 then idx = k; j = jk; break end
    end
    if idx then
      local f = h[F[idx]] or ''
      if has(f, 'J') then
        dup = true
      else
        -- the join arrives after other transitions of its entry (out of order): count it, don't seat it
        put(c, h, F[idx], f .. 'J')
        add(wkey, 'entered', 1); add(mkey, 'entered', 1)
      end
    else
      if n > 0 then
        -- a new entry while the previous one never left: that caller can't wait twice in one queue
        local f = h[F[n]] or ''
        if not (has(f, 'A') or has(f, 'L') or has(f, 'X') or has(f, 'E')) then
          leave(c)
          put(c, h, F[n], f .. 'X')
        end
      end
      n = n + 1; idx = n; j = t
      put(c, h, 'n', arg(n)); put(c, h, J[idx], arg(t)); put(c, h, F[idx], 'J')
      if e[E_CU] then put(c, h, CU[idx], e[E_CU]) end  -- the customer (a salted hash): first contact resolution
      add(wkey, 'entered', 1); add(mkey, 'entered', 1)
      local added = redis.call('ZADD', waiting, arg(t), c)
      waits[c] = true
      if nwait then nwait = nwait + added else nwait = redis.call('ZCARD', waiting) end
      if e[E_CL] then
        if not cl[c] then cl_set[#cl_set + 1] = c end
        cl[c] = e[E_CL]
      end
      local m = e[E_MIN]
      local pk = peaks[m]
      if pk == nil then
        pk = tonumber(redis.call('HGET', mkey, 'peak_waiting') or '0')
        peaks[m] = pk
      end
      if nwait > pk then peaks[m] = nwait; peak_up[m] = true end
    end
  else
    for k = n, 1, -1 do
      local jk = tonumber(h[J[k]])
      if jk <= t + 1 then idx = k; j = jk; break end
    end
    local k = e[E_K]
    if not idx then
      -- the join was never seen (feed started mid-call): the entry is made from the wait we were given
      n = n + 1; idx = n; j = t - (e[E_W] or 0)
      local f0 = ''
      if k == 'A' or k == 'X' or k == 'O' then
        -- an exit implies its join: counted entered once, in the join's window and minute, so that offered
        -- never exceeds entered; the J flag makes that join a duplicate should it arrive after all
        f0 = 'J'
        local jwkey, jmkey = wkey, mkey
        if e[E_JW] then jwkey = base .. WSUF[e[E_JW]] end
        if e[E_JM] then jmkey = base .. MSUF[e[E_JM]] end
        add(jwkey, 'entered', 1); add(jmkey, 'entered', 1)
      end
      put(c, h, 'n', arg(n)); put(c, h, J[idx], arg(j)); put(c, h, F[idx], f0)
    end
    local f = h[F[idx]] or ''
    local w = e[E_W]
    if not w then w = t - j end  -- (false: no wait given)
    if w < 0 then w = 0 end
    if (k == 'A' or k == 'X' or k == 'O') and has(f, 'E') and not (has(f, 'A') or has(f, 'L')) then
      unexpired = unexpired + 1  -- the exit of an expired caller, late: counted below as what it was
    end
    if k == 'A' then
      if has(f, 'A') or has(f, 'L') then dup = true else
        f = f .. 'A'
        add(wkey, 'answered', 1); add(mkey, 'answered', 1)
        if w <= p.sl then add(wkey, 'answered_within_sl', 1); add(mkey, 'answered_within_sl', 1) end
        add(wkey, 'wait_answered_s', w); add(mkey, 'wait_answered_s', w)
        add(wkey, 'wait_all_s', w); add(mkey, 'wait_all_s', w)
        leave(c)
        if e[E_AG] then put(c, h, AG[idx], e[E_AG]) end
        -- an answered contact of a known customer, under its report day (first contact resolution)
        local cu = h[CU[idx]]
        if e[E_DY] and cu then
          local fk = base .. ':fcr:' .. e[E_DY]
          redis.call('HSET', fk, c .. '|' .. math.floor(j), cu .. '|' .. t .. '|' .. (e[E_AG] or ''))
          redis.call('EXPIRE', fk, p.fexp)
        end
      end
    elseif k == 'X' then
      if has(f, 'A') or has(f, 'L') then dup = true else
        f = f .. 'L'
        add(wkey, 'abandoned', 1); add(mkey, 'abandoned', 1)
        if w <= p.sh then add(wkey, 'short_abandoned', 1); add(mkey, 'short_abandoned', 1) end
        if w <= p.sl then add(wkey, 'abandoned_within_sl', 1); add(mkey, 'abandoned_within_sl', 1) end
        add(wkey, 'wait_all_s', w); add(mkey, 'wait_all_s', w)
        leave(c)
      end
    elseif k == 'O' then
      if has(f, 'A') or has(f, 'L') then dup = true else
        f = f .. 'L'
        add(wkey, 'overflowed', 1); add(mkey, 'overflowed', 1)
        add(wkey, 'overflowed:' .. e[E_R], 1); add(mkey, 'overflowed:' .. e[E_R], 1)
        add(wkey, 'wait_all_s', w); add(mkey, 'wait_all_s', w)
        leave(c)
        -- a pending callback keeps the caller's place: the original entry time
        if e[E_R] == 'callback' then redis.call('ZADD', callbacks, j, c) end
      end
    elseif k == 'C' then
      -- a transfer (x) is its own once-mark T: counted once per entry, whichever completion says so
      local xf = e[E_X] and not has(f, 'T')
      if has(f, 'C') and not xf then dup = true else
        if not has(f, 'C') then
          f = f .. 'C'
          add(wkey, 'completed', 1); add(mkey, 'completed', 1)
          add(wkey, 'talk_s', e[E_TK]); add(mkey, 'talk_s', e[E_TK])
        end
        if xf then
          f = f .. 'T'
          add(wkey, 'transferred', 1); add(mkey, 'transferred', 1)
        end
      end
    elseif k == 'W' then
      if has(f, 'W') then dup = true else
        f = f .. 'W'
        add(wkey, 'wrap_s', e[E_WR]); add(mkey, 'wrap_s', e[E_WR])
      end
    elseif k == 'D' then
      redis.call('ZREM', callbacks, c)
      if has(f, 'D') then dup = true else
        f = f .. 'D'
        add(wkey, 'callbacks_done', 1); add(mkey, 'callbacks_done', 1)
      end
    end
    if not dup then put(c, h, F[idx], f) end
  end
  if dup then dups = dups + 1 else applied = applied + 1 end
  -- a close: the entry's answering agent too, whose conversation it ends (the close may name another or none)
  reply(dup and 1 or 0, j, (e[E_K] == 'C' and h[AG[idx]]) or '')
 end
end

for i = 1, #cl_gone, 1000 do  -- (unpack takes a bounded number of values)
  redis.call('HDEL', callers, unpack(cl_gone, i, math.min(i + 999, #cl_gone)))
end
local cl_args = {}
for _, c in ipairs(cl_set) do
  if cl[c] then cl_args[#cl_args + 1] = c; cl_args[#cl_args + 1] = cl[c]; cl[c] = false end
end
for i = 1, #cl_args, 1000 do redis.call('HSET', callers, unpack(cl_args, i, math.min(i + 999, #cl_args))) end

-- the markers: one HSET of the changed fields, one EXPIRE
for c, ch in pairs(changed) do
  local h = marks[c]
  local args = {}
  for field, _ in pairs(ch) do
    args[#args + 1] = field
    args[#args + 1] = h[field]
  end
  redis.call('HSET', base .. ':e:' .. c, unpack(args))
end
-- a caller still waiting keeps its marker however long it waits (an e-mail over a weekend, past the marker's
-- life): it expires from when the caller stops waiting. So does an answered written conversation still open
-- (p.wr: a written queue; its latest entry answered, not closed): an e-mail answered Friday and closed Monday
-- is closed, not refused as never opened; its marker expires from the close
local function open_conv(c)
  if not p.wr then return false end
  local h = marks[c] or marker(c)
  local n = tonumber(h['n'] or '0')
  if n == 0 then return false end
  local f = h[F[n]] or ''
  return has(f, 'A') and not has(f, 'C')
end
for c, _ in pairs(renew) do
  local w = waits[c]
  if w == nil then w = redis.call('ZSCORE', waiting, c) end
  if w then
    redis.call('PERSIST', base .. ':e:' .. c)
  elseif open_conv(c) then  -- until its close, or p.oexp after its last event should the close never come
    redis.call('EXPIRE', base .. ':e:' .. c, OEXP)
  else
    redis.call('EXPIRE', base .. ':e:' .. c, EXP)
  end
end
for m, _ in pairs(peak_up) do redis.call('HSET', base .. MSUF[m], 'peak_waiting', arg(peaks[m])) end

for key, hh in pairs(acc) do
  for field, by in pairs(hh) do
    if string.sub(field, -2) ~= '_s' then
      redis.call('HINCRBY', key, field, arg(by))
    elseif by == floor(by) and by < 1e15 and by > -1e15 then
      -- a whole number of seconds (queue_log, call records): HINCRBY is cheaper and stores the same text
      -- as HINCRBYFLOAT would; a field already holding a fraction refuses it, and gets HINCRBYFLOAT
      local r = redis.pcall('HINCRBY', key, field, arg(by))
      if type(r) == 'table' and r.err then redis.call('HINCRBYFLOAT', key, field, by) end
    else
      -- sums of seconds are floats (AMI waits have microseconds); counts stay integers
      redis.call('HINCRBYFLOAT', key, field, by)
    end
  end
  redis.call('EXPIRE', key, BEXP)
end
if dups > 0 then redis.call('HINCRBY', base .. ':stats', 'duplicates', dups) end
if unexpired > 0 then redis.call('HINCRBY', base .. ':stats', 'expired', -unexpired) end
if applied > 0 then redis.call('HINCRBY', base .. ':stats', 'applied', applied) end
if p.feed and p.feed ~= '' then redis.call('HSET', base .. ':cursor', p.feed, p.pos) end
if on == 0 then return '{}' end  -- (cjson's text for an empty table)
return '[' .. table.concat(out) .. ']'
