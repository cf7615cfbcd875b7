"""The scripts' texts and their writes made once per batch, against a real Redis, with values worked by hand.

queue_batch.lua writes its reply as text and each caller's number once at the end of a batch; agent_batch.lua
makes whole numbers' text itself (docs/PERFORMANCE.md, "Round two, seventh session"). These pin what that must
keep: the reply is the very text cjson would make of the same values (a fractional join with cjson's 14
significant digits, an agent's name escaped as cjson escapes it); the callers' hash, the waiting set and the
markers' expiry after joins, exits and a re-join in one batch are what the commands one by one left; a span's
ends are %.17g's text, whole or not, and a once-marker holds "1".
"""

from __future__ import annotations

import json

F = False
WIN, MIN = "W0", 100  # a window id and a minute (any: the script only names keys with them)
PARAMS = json.dumps({"sl": 20, "sh": 5, "exp": 3600, "bexp": 7200, "feed": "", "pos": "", "fexp": 86400})


def join(c, t, cl=F):  # [k, c, t, win, min, w, kn, jw, jm, cl, cu] (the script's header)
    return ["J", c, t, WIN, MIN, F, F, F, F, cl, F]


def answer(c, t, ag, kn=F):
    return ["A", c, t, WIN, MIN, F, kn, F, F, ag, F]


def abandon(c, t, w=F, kn=F):
    return ["X", c, t, WIN, MIN, w, kn, F, F]


def close(c, t, talk):
    return ["C", c, t, WIN, MIN, F, F, F, F, talk, F]


async def run(eng, base, recs):
    (out,) = await eng.scripts.run_pipeline(eng.r, [("queue_batch", base, (PARAMS, json.dumps(recs)))])
    return out


async def cjson_text(client, values) -> str:
    """cjson's own text for these values (decoded by cjson, encoded again): what the script's reply must be."""
    return await client.eval("return cjson.encode(cjson.decode(ARGV[1]))", 0, json.dumps(values))


async def test_the_reply_is_cjsons_text_with_fractional_joins_and_escaped_names(make_engine, redis_client):
    eng = await make_engine()
    base = eng.keys.queue("support")
    t = 1795325400.123456
    ag = 'Dana "D" / \u05d3'  # a quote, a slash (cjson writes \/) and a Hebrew letter
    recs = [
        join("c1", t, cl="0541234567"),
        answer("c1", t + 10.5, ag),
        close("c1", t + 70, 59.5),
        abandon("c2", t + 80, kn=True),  # an exit of a call nobody saw join: refused (3)
        ["R", F, t + 90, F, F, F, F, F, F, ["c9"]],  # a resync: nobody held is missing
        ["E", F, F, F, F, F, F, F, F, "(0"],  # an expiry: nobody joined before epoch 0
    ]
    j = float(f"{t:.14g}")  # the join as cjson writes it: 14 significant digits, 1795325400.1235
    assert j == 1795325400.1235
    want = [[0, j, ""], [0, j, ""], [0, j, ag], [3, 0], [0, 0], [0, 0]]
    out = await run(eng, base, recs)
    assert json.loads(out) == want
    assert out == await cjson_text(redis_client, want)
    # the same batch again: the join, the answer and the close are duplicates (1), the refusal stays one
    again = [[1, j, ""], [1, j, ""], [1, j, ag], [3, 0], [0, 0], [0, 0]]
    out = await run(eng, base, recs)
    assert json.loads(out) == again
    assert out == await cjson_text(redis_client, again)


async def test_callers_waiting_and_marker_expiry_after_joins_exits_and_a_rejoin_in_one_batch(make_engine, redis_client):
    eng = await make_engine()
    base = eng.keys.queue("support")
    await run(eng, base, [join("a", 1000, cl="111"), join("b", 1001, cl="222"), join("e", 1002, cl="999")])
    assert await redis_client.hgetall(f"{base}:callers") == {"a": "111", "b": "222", "e": "999"}
    out = await run(
        eng,
        base,
        [
            answer("a", 1010, "1001"),  # a leaves (joined in the batch before)
            join("c", 1011, cl="333"),  # c joins and leaves in this batch
            abandon("c", 1015),
            join("d", 1016, cl="444"),  # d joins and stays
            join("a", 1020, cl="555"),  # a joins again (a new entry) and stays, with a new number
            abandon("e", 1021),  # e leaves (joined before); its number goes
        ],
    )
    assert [r[0] for r in json.loads(out)] == [0, 0, 0, 0, 0, 0]
    assert await redis_client.hgetall(f"{base}:callers") == {"b": "222", "d": "444", "a": "555"}
    waiting = await redis_client.zrange(f"{base}:waiting", 0, -1, withscores=True)
    assert waiting == [("b", 1001.0), ("d", 1016.0), ("a", 1020.0)]
    # a caller still waiting keeps its marker (no expiry); one that left has the entry expiry (3,600 s)
    for c in ("a", "b", "d"):
        assert await redis_client.ttl(f"{base}:e:{c}") == -1, c
    for c in ("c", "e"):
        assert 3590 <= await redis_client.ttl(f"{base}:e:{c}") <= 3600, c
    marker = await redis_client.hgetall(f"{base}:e:a")
    assert (marker["n"], marker["j1"], marker["f1"], marker["j2"], marker["f2"]) == ("2", "1000", "JA", "1020", "J")


async def test_agent_spans_text_whole_and_fractional_ends_and_once_marker_value(make_engine, redis_client):
    eng = await make_engine()
    base = eng.keys.agent("1001")
    params = json.dumps({"exp": 3600, "bexp": 7200, "oexp": 7200, "bounds": "all"})
    recs = [  # ['S', t, c, q, st, r, pp]; ['H', t, c, q, win, min, j]
        ["S", 1000, F, F, "available", F, F],
        ["H", 1010.07, "c1", "support", "all", 16, 1004.5],
        ["S", 1010.07, "c1", "support", "on_call", F, F],
        ["S", 1020, F, F, "available", F, F],
    ]
    (dups,) = await eng.scripts.run_pipeline(eng.r, [("agent_batch", base, (params, json.dumps(recs)))])
    assert int(dups) == 0
    mid = "%.17g" % 1010.07  # %.17g writes 17 digits (the shortest text would be 1010.07)
    assert mid == "1010.0700000000001"
    spans = await redis_client.zrange(f"{base}:spans:all", 0, -1, withscores=True)
    assert spans == [(f"1000|{mid}|available|", 1010.07), (f"{mid}|1020|on_call|", 1020.0)]
    assert await redis_client.get(f"{base}:x:h:c1:support:1004") == "1"
    state = await redis_client.hgetall(f"{base}:state")
    assert (state["state"], state["since"], state["ts"]) == ("available", "1020", "1020")
