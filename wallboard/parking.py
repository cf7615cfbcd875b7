"""Closes parked until their conversation opens: webhooks come unordered.

A chat platform's close (or wrap-up) may be applied before the start and acceptance of its conversation. The
engine refuses it, as a close of a conversation never opened (``feed.EXITS_NEED_THEIR_ENTRY``): a dead letter
with its reason. It is parked too, by queue and call id (``Keys.parked``, kept ``centre.entry_expiry_h``), and
applied again after the batch that applies that call's join or answer: counted then, exactly once as any
re-applied close (its entry's once-flags), and its dead letter leaves the stream. One whose conversation never
opens stays a dead letter with its reason, and its parking expires.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .events import parse_event
from .feed import DeadLetter

if TYPE_CHECKING:
    from .engine import Engine


async def park(engine: Engine, unknown: list[tuple[DeadLetter, str, str]], ids: dict[int, str]) -> None:
    """Park refused closes: (dead letter, queue, call id), with the dead letters' stream ids by ``id()`` of the
    dead letter ("" for one listed before: a re-post keeps the parking that knows its id)."""
    pipe = engine.r.pipeline(transaction=False)
    for dead, queue, call in unknown:
        key = engine.keys.parked(queue, call)
        sid = ids.get(id(dead), "")
        value = json.dumps({"source": dead.source, "reason": dead.reason, "raw": dead.raw, "id": sid})
        if sid:
            pipe.hset(key, dead.digest, value)
        else:
            pipe.hsetnx(key, dead.digest, value)
        pipe.expire(key, engine.exp_s)
    await pipe.execute()


async def unpark(engine: Engine, opened: set[tuple[str, str]]) -> int:
    """Apply again what is parked for these (queue, call id), now that their entries are known; those applied
    leave the parking and the dead letters. Returns how many were applied."""
    order = sorted(opened)
    pipe = engine.r.pipeline(transaction=False)
    for queue, call in order:
        pipe.hgetall(engine.keys.parked(queue, call))
    parked = []  # (key, field, what was parked)
    for (queue, call), got in zip(order, await pipe.execute()):
        for f, v in got.items():
            parked.append((engine.keys.parked(queue, call), f, json.loads(v)))
    if not parked:
        return 0
    made = []
    for key, f, p in parked:
        try:
            made.append((parse_event(p["raw"]), (key, f, p)))
        except ValueError:  # (cannot be: the raw is the event the engine refused) left to expire
            continue
    made.sort(key=lambda m: m[0].ts)  # in the order they happened (a close before its wrap-up)
    events, kept = [m[0] for m in made], [m[1] for m in made]
    res = await engine.apply(events)  # closes and wrap-ups: they open nothing, so this parks or unparks nothing
    still = {d.raw for d in res.rejected}
    done = [(key, f, p) for key, f, p in kept if p["raw"] not in still]
    if done:
        pipe = engine.r.pipeline(transaction=False)
        for key, f, _ in done:
            pipe.hdel(key, f)
        await pipe.execute()
        settle: list[str] = []
        for _, _, p in done:
            if p["id"]:
                settle += ["d", p["id"], "", "", ""]
        if settle:
            await engine.scripts.run_pipeline(engine.r, [("dead_letters_settle", engine.keys.centre, tuple(settle))])
    return len(done)
