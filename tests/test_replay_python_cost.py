"""What the replay's Python does more cheaply must be what it did (docs/PERFORMANCE.md, "Round two, seventh
session: the replay's Python a line"): the scripts' records written by orjson leave in Redis what json's text
left, names and caller numbers outside ASCII included; what orjson refuses is written by json; the checks at the
edges still refuse after their caches (a row's epoch, clean call ids) have seen good values; ``Windows.bounds``
gives the windows each time reaches back into, found here time by time with ``next_reset_after``."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aredis

import wallboard.engine as engine_mod
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine, _decode, _encode
from wallboard.events import (
    AgentStateChanged,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    _edges_fine,
    trusted,
    wall_clock,
)
from wallboard.keys import Keys
from wallboard.windows import Windows

from .conftest import _drop_namespace, at, redis_url
from .keyspace import keyspace


def test_what_orjson_refuses_is_written_by_json():
    # a lone surrogate (a jsonl feed's "\ud800") and an int past 64 bits: json's text, by hand
    assert _encode([["J", "x\ud800", 2**70]]) == '[["J","x\\ud800",1180591620717411303424]]'
    assert _encode([["J", "é", 1.5, False]]) == '[["J","é",1.5,false]]'.encode()
    assert _decode('[[0,1.5,"a"]]') == [[0, 1.5, "a"]]
    nan = _decode("[NaN]")[0]  # orjson refuses NaN; json reads it
    assert math.isnan(nan)


def _events() -> list:
    """A day's calls with names and numbers outside ASCII (Hebrew, an accent, an emoji past the BMP)."""
    out: list = []
    queues, agents = ["מכירות", "Café", "q🙂"], ["דנה", "José", "a🙂"]
    for n in range(60):
        q, a, call = queues[n % 3], agents[n % 3], f"c{n}-ש"
        t = 60.0 * n
        out.append(CallerJoined(id=f"j{n}", ts=at(t), source="t:1", queue=q, call_id=call, caller=f"+972-5{n}-€"))
        if n % 4 == 3:
            out.append(CallerAbandoned(id=f"x{n}", ts=at(t + 20.5), source="t:1", queue=q, call_id=call, wait_s=20.5))
            continue
        out.append(CallerAnswered(id=f"a{n}", ts=at(t + 7), source="t:1", queue=q, call_id=call, agent=a, wait_s=7.0))
        out.append(AgentStateChanged(id=f"s{n}", ts=at(t + 7), source="t:1", agent=a, state="on_call", call_id=call))
        out.append(
            CallCompleted(id=f"c{n}", ts=at(t + 50.25), source="t:1", queue=q, call_id=call, agent=a, talk_s=43.25)
        )
        out.append(AgentStateChanged(id=f"v{n}", ts=at(t + 50.25), source="t:1", agent=a, state="available"))
    return out


async def test_records_by_orjson_leave_what_json_left(monkeypatch, prefix):
    client = aredis.Redis.from_url(redis_url(), decode_responses=True)
    config = load_config(None, queues=[{"name": q} for q in ("מכירות", "Café", "q🙂")])
    events = _events()
    try:
        dumps = []
        for name, encode in (("orjson", engine_mod._encode), ("json", engine_mod._JSON_ENCODE)):
            monkeypatch.setattr(engine_mod, "_encode", encode)
            ns = f"{prefix}-{name}"
            eng = Engine(client, config, Keys(ns))
            await eng.start()
            res = await eng.apply(events)
            assert (res.applied, res.duplicates, res.rejected) == (
                165,
                0,
                [],
            )  # 60 joins, 15 exits, 45 answers, 45 ends
            dumps.append(await keyspace(client, f"{ns}:"))
            _drop_namespace(ns)
        made, before = dumps
        assert len(made) > 50 and made == before
        assert any("מכירות" in k for k in made) and any("🙂" in k for k in made)  # the names were written
    finally:
        await client.aclose()


def test_the_edges_still_refuse_after_their_caches_saw_good_values():
    ts = at(0)
    good = {"id": "e1", "ts": ts, "source": "t:1", "call_id": "call-1"}
    assert _edges_fine(good) and _edges_fine(dict(good, id="e2"))  # the call id remembered, the epoch too
    assert not _edges_fine(dict(good, call_id="bad\x01id"))
    assert not _edges_fine(dict(good, call_id="bad\x01id"))  # a refused one is not remembered
    assert not _edges_fine(dict(good, call_id="x" * 257))
    assert not _edges_fine(dict(good, ts=datetime(2026, 11, 23, 9)))  # naive, after an aware one was read
    # the same time object, once the wall clock says it is more than a day ahead: refused (only its epoch is kept)
    with wall_clock(ManualClock(ts - timedelta(days=2))):
        assert not _edges_fine(good)
        with pytest.raises(ValueError, match="after the wall clock"):
            trusted(CallerJoined, {"id": "j", "ts": ts, "source": "t:1", "queue": "Q", "call_id": "call-1"})
    assert not _edges_fine({"id": "r", "ts": ts, "source": "t:1", "call_ids": ["ok", "no|pe"]})
    assert _edges_fine({"id": "r", "ts": ts, "source": "t:1", "call_ids": ["ok", "call-1"]})


def _covered(windows: Windows, times: list[float], reach: float) -> list[int]:
    """Each time on its own: the window of every instant it reaches back over (a minute more, as ``bounds``
    gives the script), looked at hour by hour (resets are a day apart)."""
    out = set()
    for t in times:
        x = t - reach - 60
        while x < t:
            out.add(windows.reset_at_or_before(x))
            x += 3_600
        out.add(windows.reset_at_or_before(t))
    return sorted(out)


@pytest.mark.parametrize("centre", [{}, {"timezone": "Asia/Jerusalem", "reset_time": "06:30"}])
def test_bounds_are_the_windows_each_time_reaches_into(centre):
    windows = Windows(load_config(None, centre=centre).centre)
    rng = random.Random(16)
    start = datetime(2026, 3, 25, tzinfo=timezone.utc).timestamp()  # across Israel's change to summer time
    for _ in range(150):
        spread = rng.choice([0, 600, 86_400, 3 * 86_400])
        times = [start + rng.uniform(0, spread) for _ in range(rng.choice([1, 2, 7, 12]))]
        if rng.random() < 0.3:
            times.append(start + rng.uniform(30, 40) * 86_400)  # one far apart: a second run
        reach = rng.choice([0.0, 90.0, 3_600.0, 86_400.0])
        assert windows.bounds(times, reach) == _covered(windows, times, reach), (times, reach)
    assert windows.bounds([], 60.0) == []
