"""A batch applied in one script call leaves what its events applied one call each leave, against a real Redis.

queue_batch.lua and agent_batch.lua keep what they read and write in a batch (the markers, the callers' numbers
written once at the end, whether a call still waits without asking ZSCORE, the counters summed, the texts of
numbers made once), and a replay sends 1,000 events a call (``replay.SCRIPT_EVENTS``). A call of one event has
none of that to keep: it is the per-event behaviour the batch must equal. Random days of few calls (re-joins,
exits before joins, resyncs and expiries dropping callers a later event brings back, callbacks, surveys, duplicates,
times out of order) are run both ways; the replies and every key (values, scores, and whether it expires) must be
the same. Waits and talk times are whole or halves (sums exact either way: float sums in another order differ in
the 17th digit, as any two batchings of the live ingester do).
"""

from __future__ import annotations

import json
import random

from .keyspace import keyspace

F = False
QPARAMS = {"sl": 20, "sh": 5, "exp": 3600, "bexp": 7200, "feed": "f", "pos": "1", "fexp": 86400}
STATES = ["available", "ringing", "on_call", "wrap_up", "paused", "logged_out"]


def queue_events(rng: random.Random, t: float) -> tuple[list, float]:
    calls = [f"c{i}" for i in range(rng.randint(1, 5))]
    evs: list = []
    for _ in range(rng.randint(1, 25)):
        t += rng.choice([0, 0.5, 1, 2, 5, 30, -3])  # (back in time now and then)
        c = rng.choice(calls)
        k = rng.choice("JJJAAXOCWDVRE")
        w = rng.choice([F, F, 0, 3, 12.5, 40])
        kn = rng.choice([F, F, 1])
        win, mn = rng.choice(["W0", "W0", "W1"]), rng.choice([0, 60, 120])
        jw, jm = rng.choice([F, F, "W1"]), rng.choice([F, F, 60])
        if k == "J":
            evs.append(["J", c, t, win, mn, F, F, F, F, rng.choice([F, "111", "222"]), rng.choice([F, "cu1"])])
        elif k == "A":
            evs.append(["A", c, t, win, mn, w, kn, jw, jm, rng.choice([F, "ag1", "a/2"]), rng.choice([F, "20260101"])])
        elif k == "X":
            evs.append(["X", c, t, win, mn, w, kn, jw, jm])
        elif k == "O":
            evs.append(["O", c, t, win, mn, w, kn, jw, jm, rng.choice(["timeout", "callback"])])
        elif k == "C":
            evs.append(["C", c, t, win, mn, F, rng.choice([F, 1]), F, F, rng.choice([0, 10, 12.5]), rng.choice([F, 1])])
        elif k == "W":
            evs.append(["W", c, t, win, mn, F, rng.choice([F, 1]), F, F, rng.choice([0, 7.5])])
        elif k == "D":
            evs.append(["D", c, t, win, mn, F, F, F, F])
        elif k == "V":
            evs.append(
                ["V", c, t, win, mn, F, F, F, F, rng.choice([F, "agv"]), rng.choice("cn"), rng.choice([1, 0, -1])]
            )
        elif k == "R":
            evs.append(["R", F, t, F, F, F, F, F, F, rng.sample(calls, rng.randint(0, len(calls)))])
        else:
            evs.append(["E", F, F, F, F, F, F, F, F, f"({t - rng.choice([0, 5, 100])!r}"])
    return evs, t


def agent_events(rng: random.Random, t: float) -> tuple[list, float]:
    evs: list = []
    for _ in range(rng.randint(1, 20)):
        t += rng.choice([0, 0.5, 1, 3, 60, 3600, -2])
        c, q = rng.choice(["c1", "c2", "c3"]), rng.choice(["q1", "q2"])
        win, mn, j = rng.choice([0, 1795320000]), 60 * rng.randint(0, 3), rng.choice([t - 5, t - 0.5, t])
        k = rng.choice(["S"] * 5 + ["MA", "MP", "MR", "H", "CC", "T", "V", "MS", "DA", "OC", "SP"])
        if k == "S":
            evs.append(
                ["S", t, rng.choice([F, c]), rng.choice([F, q]), rng.choice(STATES), rng.choice([F, "lunch"]), F]
            )
        elif k in ("MA", "MP"):
            evs.append([k, t, F, q, rng.choice([0, 1, 2])])
        elif k == "MR":
            evs.append([k, t, F, q])
        elif k == "H":
            evs.append(["H", t, c, q, win, mn, j, rng.choice([F, "chat"])])
        elif k in ("CC", "T"):
            evs.append([k, t, c, q, win, mn, j])
        elif k == "V":
            evs.append(["V", t, c, q, win, mn, j, rng.choice("cn"), rng.choice([1, 0, -1])])
        elif k == "MS":
            evs.append(["MS", t, c, q, win, mn, F, rng.choice([t - 3, t - 2.5])])
        elif k in ("DA", "OC"):
            evs.append([k, t, c, F, win, mn])
        else:
            evs.append(["SP", t, F, F, "sup", rng.choice([0, 1]), "listen"])
    return evs, t


async def _both_ways(eng, client, script, one, split, params, batches) -> tuple[list, list]:
    whole, single = [], []
    for evs in batches:
        (out,) = await eng.scripts.run_pipeline(eng.r, [(script, one, (params, json.dumps(evs)))])
        whole.append(json.loads(out) if isinstance(out, str) else out)  # (agent_batch: its duplicates, a number)
        calls = [(script, split, (params, json.dumps([e]))) for e in evs]
        single.append(
            [json.loads(o) if isinstance(o, str) else o for o in await eng.scripts.run_pipeline(eng.r, calls)]
        )
    return whole, single


async def test_a_queue_batch_in_one_call_leaves_what_its_events_one_call_each_leave(make_engine, redis_client):
    eng = await make_engine()
    seen_codes: set[int] = set()
    for seed in range(60):
        rng = random.Random(seed)
        params = dict(QPARAMS, wr=True, oexp=9000) if seed % 2 else QPARAMS
        one, split = eng.keys.queue(f"one{seed}"), eng.keys.queue(f"split{seed}")
        t, batches = 1795325400.0, []
        for _ in range(rng.randint(1, 4)):
            evs, t = queue_events(rng, t)
            batches.append(evs)
        whole, single = await _both_ways(eng, redis_client, "queue_batch", one, split, json.dumps(params), batches)
        for w, s in zip(whole, single):
            assert w == [r for (r,) in s], seed  # each event's reply, in order
            seen_codes |= {r[0] for r in w}
        a, b = await keyspace(redis_client, one), await keyspace(redis_client, split)
        assert len(a) > 2 and a == b, seed
    assert seen_codes == {0, 1, 2, 3}  # applied, duplicates, refused answers and exits without their entry


async def test_an_agent_batch_in_one_call_leaves_what_its_events_one_call_each_leave(make_engine, redis_client):
    eng = await make_engine()
    dups, kinds = 0, set()
    for seed in range(60):
        rng = random.Random(seed)
        one, split = eng.keys.agent(f"one{seed}"), eng.keys.agent(f"split{seed}")
        t, batches = 1795325400.0, []
        for _ in range(rng.randint(1, 4)):
            evs, t = agent_events(rng, t)
            batches.append(evs)
        lo = min(e[1] for evs in batches for e in evs)
        bounds = "all" if seed % 3 == 0 else sorted({1795320000, 1795320000 + 86_400, int(lo - 7200) // 3600 * 3600})
        params = json.dumps({"exp": 3600, "bexp": 7200, "oexp": 9000, "bounds": bounds})
        whole, single = await _both_ways(eng, redis_client, "agent_batch", one, split, params, batches)
        for w, s in zip(whole, single):
            assert int(w) == sum(int(n) for n in s), seed  # the duplicates
            dups += int(w)
        a, b = await keyspace(redis_client, one), await keyspace(redis_client, split)
        assert a and a == b, seed
        kinds |= {k.split(":")[1] for k in a}
    assert dups > 20 and {"state", "w", "m", "spans", "x", "conv", "queues"} <= kinds, kinds
