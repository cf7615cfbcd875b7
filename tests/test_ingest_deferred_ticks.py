"""The lease owner's deferred ticks and alerting agents (``IncrementalSnapshots(defer_ticks=True)``, ``DeltaPublisher``
told ``alerting``) through the real ``Ingest``, differential against owners that tick and compare every agent, on
real Redis, through the moments that make an owner rebuild or publish in full, hand over or see others' changes."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from datetime import datetime, timedelta, timezone

from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.delta import DeltaPublisher, SnapshotStream
from wallboard.engine import Engine
from wallboard.events import AgentMissed, AgentStateChanged, CallCompleted, CallerAnswered, CallerJoined
from wallboard.incremental import IncrementalSnapshots
from wallboard.ingest import Ingest

START = datetime(2026, 11, 23, 8, 58, tzinfo=timezone.utc)  # a Monday; the daily reset at 09:01 UTC
AGENTS = [f"a{i:02}" for i in range(30)]


class _Feed:
    name = "pbx"

    async def follow(self, clock):
        await asyncio.Event().wait()
        yield  # pragma: no cover


class _PlainPublisher(DeltaPublisher):
    """The reference's: every agent's alerts compared at every publish (told nothing of the alerting agents)."""

    async def publish(self, snap, now, alerting=None):
        return await super().publish(snap, now, None)


def _config(ns: str):
    queues = [
        {"name": "sales", "thresholds": {"waiting": {"warn": 2, "breach": 4, "direction": "above"}}},
        {"name": "support", "thresholds": {"longest_wait_s": {"warn": 20, "breach": 40, "direction": "above"}}},
    ]
    # a29 is configured but never named by an event (no state, no time in one)
    agents = [{"id": a, "skills": {"sales": 0} if i % 2 else {"support": 0, "sales": 1}} for i, a in enumerate(AGENTS)]
    return load_config(
        None,
        redis={"prefix": ns},
        centre={"reset_time": "09:01", "caller_expiry_s": 120},
        queues=queues,
        agents=agents,
        # limits low enough that agents cross them between their own events; "training" has no limit (no default)
        agent_alerts={
            "long_call_s": 25,
            "long_wrap_s": 9,
            "long_pause_s": {"lunch": 30, "break": 12},
            "missed_in_row": 2,
        },
        engine={"full_rebuild_s": 23.0, "full_publish_s": 17.0, "deltas": True, "incremental": True},
    )


def _ingest(redis_client, ns: str, clock: ManualClock, name: str, plain: bool) -> Ingest:
    ing = Ingest(redis_client, _config(ns), _Feed(), clock=clock, name=name)
    assert ing.snapshots.defer_ticks and ing.publisher is not None  # the owner as configured defers
    if plain:  # ticks every agent at each build and compares every agent at each publish
        cfg = ing.config.engine
        ing.snapshots = IncrementalSnapshots(ing.engine, cfg.full_rebuild_s, defer_ticks=False)
        ing.publisher = _PlainPublisher(redis_client, ing.keys, ing.snapshots, cfg.full_publish_s)
    return ing


def _diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            out += _diff(a.get(k, "<missing>"), b.get(k, "<missing>"), f"{path}.{k}")
        if list(a) != list(b):
            out.append(f"{path}: order {list(a)} != {list(b)}")
        return out
    return [] if a == b else [f"{path}: plain {a!r}, deferring {b!r}"]


async def test_the_deferring_ingest_owner_stores_and_publishes_what_a_plain_one_does_through_hostile_moments(
    redis_client, prefix, cleanup
):
    """Two centres fed the same events at the same times: one's ``Ingest`` owners as configured (deferring ticks,
    comparing the alerting agents), the other's ticking and comparing every agent. After every publish both
    store the same two parts, text for text, and a view applying the deferring owner's messages holds them;
    meanwhile: reconnects (``_resnapshot``), views asking for a full snapshot, the clock going back, the daily
    reset, agents new to the registry and one dropped from it, the chat feed's changes handed over through
    Redis, the lease moving to a standby owner and back, missed rings, pause reasons with and without limits,
    agents logging out while alerting."""
    rng = random.Random(16)
    ids = itertools.count()
    nss = (prefix, f"{prefix}-x")
    clocks = [ManualClock(START), ManualClock(START)]
    # per centre: the owner and a standby (the lease moves to it mid-run and back)
    pairs = [
        [_ingest(redis_client, ns, c, f"{who}-{k}", plain) for who in "ab"]
        for k, (ns, c, plain) in enumerate(zip(nss, clocks, (True, False)))
    ]
    plain, lazy = pairs[0][0], pairs[1][0]
    keys = [p[0].keys for p in pairs]
    cur = 0  # which of each pair holds the lease
    chat = [Engine(redis_client, p[0].config, p[0].keys, feed_name="chat") for p in pairs]
    for p in pairs:
        for o in p:
            await o.engine.start()
        assert await p[0]._lease() and not await p[1]._lease()
    for e in chat:
        await e.start()
    view = SnapshotStream(redis_client, keys[1])
    # every message each centre's owners publish (full parts and deltas), in order
    subs = [redis_client.pubsub(ignore_subscribe_messages=True) for _ in keys]
    for sub, k in zip(subs, keys):
        await sub.subscribe(k.channel, k.agents_channel, k.delta_channel)

    async def published(sub, k, seq: int, full: bool) -> list[tuple[str, str]]:
        """The messages of the publish with ``seq`` (its delta, and both full parts after it when it is a full
        one)."""
        kinds = {k.channel: "summary", k.agents_channel: "agents", k.delta_channel: "delta"}
        out: list[tuple[str, str]] = []
        misses = 0
        last = "agents" if full else "delta"
        while not (out and json.loads(out[-1][1])["seq"] == seq and out[-1][0] == last):
            m = await sub.get_message(timeout=5)  # None too for a subscription's confirmation (ignored)
            if m is not None:
                out.append((kinds[m["channel"]], m["data"]))
            else:
                misses += 1
                assert misses < 10, f"no message up to seq {seq}"
        return out

    gen = view.parts()

    extra: list[str] = []  # agents not in the config, named by events mid-run
    waiting: dict[str, list[str]] = {"sales": [], "support": []}
    state: dict[str, str] = {}
    seen_alerts: set[str] = set()
    logged_out_alerting = 0
    windows: list[str] = []  # the windows published, each run of them once
    t = START

    async def apply(batch, by_chat=False):
        for p, e in zip(pairs, chat):
            if by_chat:  # another ingester on the centre: its change set reaches the owner through Redis
                await e.apply(batch)
                await e.share_touched()
            else:
                await p[cur].engine.apply(batch)

    def ev(kind, **kw):
        return kind(id=f"e{next(ids)}", ts=t - timedelta(seconds=rng.uniform(0, 0.5)), source="t", **kw)

    def agent_event(a: str):
        st = state.get(a, "logged_out")
        nxt = (
            "available"
            if st == "logged_out"
            else rng.choice(["available", "on_call", "on_call", "wrap_up", "paused", "paused", "logged_out", "ringing"])
        )
        kw = {}
        if nxt == "paused":
            kw["reason"] = rng.choice(["lunch", "break", "training", None])
        elif nxt == "on_call":
            kw["queue"] = rng.choice(["sales", "support"])
        state[a] = nxt
        return ev(AgentStateChanged, agent=a, state=nxt, **kw)

    await apply([agent_event(a) for a in AGENTS[:-1]])  # every configured agent but the last logs in
    deltas_before = lazy.publisher.deltas
    alerting_before: dict[str, list[str]] = {}
    for i in range(200):
        moment = None
        if i in (40, 150):  # Redis back after an outage: the next build and publish in full
            moment = "reconnect"
            for p in pairs:
                p[cur]._resnapshot()
        elif i in (60, 61, 175):  # a view asks for a full snapshot
            moment = "want"
            for k in keys:
                await redis_client.set(k.snap_want, "1", ex=30)
        elif i in (95, 185):  # the clock goes back (at 95, before the daily reset it had passed)
            moment = "back"
            t -= timedelta(seconds=11 if i == 185 else 90)
        elif i == 120:  # an agent not in the config drops out of the registry (Redis lost it)
            moment = "removed"
            gone = extra.pop(0)
            for k in keys:
                assert await redis_client.srem(k.agents, gone) == 1
        elif i in (80, 140):  # the lease moves to the standby (and back): the one losing it hands its changes on
            moment = "lease"
            for p in pairs:
                await redis_client.delete(p[cur].keys.lease)
                assert await p[1 - cur]._lease() and not await p[cur]._lease()
            cur = 1 - cur
        t += timedelta(seconds=rng.choice([0.7, 1.3, 2.1, 3.0, 4.4]))
        for c in clocks:
            c.set(t)
        batch = [agent_event(a) for a in rng.sample(AGENTS[:-1] + extra, k=rng.choice([0, 1, 1, 2, 3, 5]))]
        if rng.random() < 0.3:  # a missed ring: missed_in_row
            batch.append(ev(AgentMissed, agent=rng.choice(AGENTS[:-1]), queue="sales", call_id=f"m{next(ids)}"))
        if i in (30, 70, 130, 160):  # an agent new to the registry (not in the config; sorted among the others)
            extra.append(f"x{i}")
            batch.append(agent_event(extra[-1]))
        q = rng.choice(["sales", "support"])
        if rng.random() < 0.4:
            waiting[q].append(f"c{next(ids)}")
            batch.append(ev(CallerJoined, queue=q, call_id=waiting[q][-1]))
        elif waiting[q] and rng.random() < 0.5:
            cid, a = waiting[q].pop(0), rng.choice(AGENTS[:-1])
            batch += [
                ev(CallerAnswered, queue=q, call_id=cid, agent=a),
                ev(CallCompleted, queue=q, call_id=cid, agent=a, talk_s=3.0),
            ]
        if batch:
            await apply(batch)
        if rng.random() < 0.15:
            await apply([agent_event(rng.choice(AGENTS[:-1]))], by_chat=True)
        periodic = rng.random() < 0.5  # a tick, or a publish for a change
        fulls = lazy.publisher.fulls + pairs[1][1].publisher.fulls
        full_before = [p[0].publisher.fulls + p[1].publisher.fulls for p in pairs]
        for p in pairs:
            await p[cur].tick(periodic)
        full = [p[0].publisher.fulls + p[1].publisher.fulls > n for p, n in zip(pairs, full_before)]
        if moment in ("reconnect", "want", "back", "lease"):
            assert lazy.publisher.fulls + pairs[1][1].publisher.fulls == fulls + 1, (i, moment)
        texts = []
        for k in keys:
            texts.append((await redis_client.get(k.summary), await redis_client.get(k.agents_detail)))
        if texts[1] != texts[0]:
            d = _diff(json.loads(texts[0][0]), json.loads(texts[1][0]), "summary")
            d += _diff(json.loads(texts[0][1]), json.loads(texts[1][1]), "agents")
            raise AssertionError(f"publish {i} ({moment}): " + "; ".join(d[:12]))
        # and published the same messages, text for text
        seq = json.loads(texts[1][0])["seq"]
        sent = [await published(sub, k, seq, f) for sub, k, f in zip(subs, keys, full)]
        assert sent[1] == sent[0], (i, moment)
        # a view applying the messages holds what the owner stored (the full parts after their delta, if any)
        while not (view.mirror.seq == seq and view.mirror.in_step() and (not full[1] or view.full_seq == seq)):
            await asyncio.wait_for(anext(gen), 5)
        assert json.loads(view.mirror.summary.model_dump_json()) == json.loads(texts[1][0]), i
        held = {a: json.loads(s.model_dump_json()) for a, s in view.mirror.agents.agents.items()}
        stored = json.loads(texts[1][1])["agents"]
        assert held == stored and list(held) == list(stored), i
        assert list(view.mirror.summary.queues) == list(json.loads(texts[1][0])["queues"]), i
        since = json.loads(texts[1][0])["window"]["since"]
        if not windows or windows[-1] != since:
            windows.append(since)
        for a, s in stored.items():
            seen_alerts.update(s["alerts"])
            if alerting_before.get(a) and s["state"] == "logged_out":
                logged_out_alerting += 1
        alerting_before = {a: s["alerts"] for a, s in stored.items()}
        if moment == "removed" and not pairs[1][cur].snapshots.full_build:
            assert gone in stored  # a partial build keeps it until the next full one
    await gen.aclose()
    for sub in subs:
        await sub.aclose()
    # the same messages: as many full snapshots and deltas from each centre's owners
    for p, q in zip(*pairs):
        assert (p.publisher.fulls, p.publisher.deltas) == (q.publisher.fulls, q.publisher.deltas)
    assert plain.publisher.fulls < plain.publisher.deltas
    assert "x30" not in stored and {"x70", "x130", "x160"} <= set(stored)
    assert stored["a29"]["since"] is None
    # what the run went through: every kind of alert, agents leaving while alerting, the standby publishing,
    # and mostly deltas
    assert {"long_call", "long_wrap", "long_pause", "missed_in_row"} <= seen_alerts, seen_alerts
    # the daily reset, then back before it (the clock stepping back 90 s) and past it again
    assert logged_out_alerting >= 2 and len(windows) == 4 and windows[0] == windows[2], windows
    assert pairs[1][1].publisher.deltas > 20
    assert lazy.publisher.deltas - deltas_before + pairs[1][1].publisher.deltas > 120
