"""Channels and agent capacity (issue 19): a queue's channel sets its defaults; written conversations count
once by meaning; an agent's open conversations, its free room and its busy time (overlaps once); a written
queue's agents free and expected wait work on slots. Values below are worked out by hand."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import math
import tomllib
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.http import HttpFeed
from feeds.sim import SimFeed
from wallboard.advisor import advise
from wallboard.advisor.estimates import Estimate, QueueEstimate
from wallboard.channels import agents_free, channel_problem, usage
from wallboard.config import ConfigError, LayoutConfig, load_config
from wallboard.events import CallCompleted, CallerAbandoned, CallerAnswered, CallerJoined, AgentStateChanged

from wallboard.clock import ManualClock
from wallboard.livetime import ServerTime
from wallboard.engine import Engine
from wallboard.ingest import Ingest
from wallboard.keys import Keys
from wallboard.replay import replay
from wallboard.sim import SimCentre
from wallboard.sim.ami_server import SimPbx
from wallboard.sim.scenarios import scenario_by_name
from wallboard.sim.written import WrittenSender, split_written
from wallboard.snapshot import AgentSnapshot, QueueSnapshot, Rolling, Snapshot, Total, Window

from .conftest import at, redis_url
from .polling import task_failed, until

ROOT = Path(__file__).resolve().parent.parent

_ids = itertools.count()


def ev(cls, t, **kw):
    return cls(id=f"ch{next(_ids)}", ts=at(t), source="test", **kw)


def test_a_queue_s_defaults_follow_its_channel_and_explicit_settings_win():
    cfg = load_config(
        None,
        queues=[
            {"name": "mail", "channel": "email"},
            {"name": "web", "channel": "chat", "sl_threshold_s": 30, "thresholds": {}},
            {"name": "phone"},
        ],
    )
    mail, web, phone = (cfg.queue(n) for n in ("mail", "web", "phone"))
    assert (mail.sl_threshold_s, mail.short_abandon_s) == (4 * 3600, 0)
    assert (
        mail.thresholds["longest_wait_s"].warn == 4 * 3600 and mail.thresholds["service_level"].window == "since_reset"
    )
    assert (web.sl_threshold_s, web.short_abandon_s, web.thresholds) == (30, 10, {})  # set explicitly: kept
    assert (phone.channel, phone.sl_threshold_s, phone.short_abandon_s, phone.thresholds) == ("voice", 20, 5, {})


def test_bad_channels_and_capacities_are_named():
    with pytest.raises(ConfigError) as e:
        load_config(None, queues=[{"name": "x", "channel": "fax"}])
    assert "queues.0.channel" in e.value.brief() and "'chat'" in e.value.brief()
    with pytest.raises(ConfigError) as e:
        load_config(None, agents=[{"id": "1", "capacity": {"chat": 99}}])
    assert "agents.0.capacity" in e.value.brief() and "99" in e.value.brief()


def test_an_event_s_channel_must_be_its_queue_s():
    cfg = load_config(None, queues=[{"name": "web", "channel": "chat"}])
    assert channel_problem(cfg, "web", "chat") is None
    assert "'email' but queue 'web' is a chat queue" in channel_problem(cfg, "web", "email")
    assert "(not in the config)" in channel_problem(cfg, "other", "chat")  # unlisted = voice


async def test_written_conversations_count_once_and_fill_the_agents_capacity(make_engine):
    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat"}, {"name": "phone"}],
        agents=[
            {"id": "a1", "skills": {"web": 0}, "capacity": {"chat": 2}},
            {"id": "a2", "skills": {"web": 0, "phone": 0}, "voice_blocks_written": True},
        ],
    )
    q = {"queue": "web", "channel": "chat"}
    events = [
        ev(AgentStateChanged, 0, agent="a1", state="available"),
        ev(AgentStateChanged, 0, agent="a2", state="available"),
        ev(CallerJoined, 10, call_id="c1", **q),
        ev(CallerJoined, 12, call_id="c2", **q),
        ev(CallerJoined, 14, call_id="c3", **q),
        ev(CallerJoined, 16, call_id="c4", **q),
        ev(CallerJoined, 18, call_id="c5", **q),
        ev(CallerAnswered, 30, call_id="c1", agent="a1", **q),  # waited 20 s: within the chat SL of 60 s
        ev(CallerAnswered, 100, call_id="c2", agent="a1", **q),  # 88 s: outside
        ev(CallerAnswered, 40, call_id="c3", agent="a2", **q),  # 26 s
        ev(CallerAbandoned, 20, call_id="c4", **q),  # left after 4 s: a short abandon (chat: 10 s)
        ev(CallCompleted, 160, call_id="c1", agent="a1", talk_s=130, **q),  # accepted 30 -> closed 160
        ev(CallCompleted, 200, call_id="c2", agent="a1", talk_s=100, **q),  # 100 -> 200
        # a close that comes before its answer (out of order): closed, never opened afterwards
        ev(CallerJoined, 300, call_id="c6", **q),
        ev(CallCompleted, 400, call_id="c6", agent="a2", talk_s=50, **q),
        ev(CallerAnswered, 350, call_id="c6", agent="a2", **q),
    ]
    await eng.apply(events)
    again = await eng.apply(events)  # everything re-sent: nothing moves
    assert again.applied == 0
    snap = await eng.build_snapshot(at(500))
    web = snap.queues["web"]
    assert web.channel == "chat" and web.sl_threshold_s == 60
    assert (web.entered, web.answered, web.answered_within_sl) == (6, 4, 3)  # c6's wait is 50 s
    assert (web.abandoned, web.short_abandoned, web.completed, web.talk_s) == (1, 1, 3, 280)
    assert web.aht_s == pytest.approx(280 / 3)  # handle time of a written conversation: accepted -> closed
    assert web.asa_s == pytest.approx((20 + 88 + 26 + 50) / 4)  # the first response time
    a1, a2 = snap.agents["a1"], snap.agents["a2"]
    assert (a1.calls_handled, a1.capacity, a1.conversations) == (2, {"chat": 2}, {})
    # a1 busy from 30 (c1 accepted) to 200 (c2 closed): 170 s once, not 130 + 100 = 230
    assert a1.conversation_s == 170
    assert (a2.calls_handled, a2.capacity, a2.conversations) == (2, {"chat": 3}, {"chat": 1})  # c3 open
    ac = web.agent_counts
    assert (ac.slots, ac.in_use, ac.free, ac.available) == (5, 1, 2, 2)
    assert agents_free(ac, "chat") == 2
    # waiting: c5 only; EWT on slots: max(0, 1 + 1 - 4 free slots) = 0
    assert web.waiting == 1 and web.ewt_s == 0
    # the desk's row: both agents have room, so none is busy; EWT 0 is "a free slot takes it", shown as "-"
    assert _desk(snap, "web") == {"avail": "2", "busy": "0", "ewt": "-"}
    assert usage(a2.conversations["chat"], a2.capacity["chat"], "chat") == "1/3 chats"
    assert snap.agents["a2"].voice_blocks_written is True

    # a2 takes a voice call: with voice_blocks_written it has no room for chats; a1 fills up
    more = [
        ev(AgentStateChanged, 510, agent="a2", state="on_call", queue="phone", call_id="v1"),
        ev(CallerJoined, 520, call_id="c7", **q),
        ev(CallerJoined, 521, call_id="c8", **q),
        ev(CallerAnswered, 530, call_id="c7", agent="a1", **q),
        ev(CallerAnswered, 531, call_id="c8", agent="a1", **q),
        ev(CallerJoined, 540, call_id="c9", **q),
    ]
    await eng.apply(more)
    snap = await eng.build_snapshot(at(600))
    web = snap.queues["web"]
    assert snap.agents["a1"].conversations == {"chat": 2}
    ac = web.agent_counts
    assert (ac.slots, ac.in_use, ac.free) == (5, 3, 0)
    # waiting c5 and c9 (2), no free slot (a2 has room but is on a blocking call): (2 + 1) x AHT / 5 slots
    assert web.waiting == 2
    assert web.ewt_s == pytest.approx((2 + 1) * (280 / 3) / 5)
    assert snap.queues["phone"].agent_counts.on_call == 1 and snap.queues["phone"].channel == "voice"
    # busy on the chat queue = no room left: a1 (2/2 chats, "available" by state) and a2 (on a blocking call),
    # not the 1 on a call a state count gives; EWT (3 x 93.33 s / 5 = 56 s) is a real wait now
    assert _desk(snap, "web") == {"avail": "0", "busy": "2", "ewt": "0:56"}
    assert _desk(snap, "phone") == {"avail": "0", "busy": "1", "ewt": "-"}  # voice: by state; no AHT yet
    from wallboard.ui.view import formulas

    drill = {f.label: f.formula for f in formulas(web, timezone.utc)}
    assert drill["EWT"].startswith("max(0, waiting + 1 − free slots) × AHT / slots")


async def test_the_centre_total_counts_an_agent_free_when_it_can_take_a_contact_on_one_of_its_channels(make_engine):
    """The total's agents free = those who can take a contact now on at least one channel they serve (as each
    queue row counts them), busy = logged in, not paused, not free; the desk's TOTAL row, the TV's total tile
    and the incremental build say the same. Worked by hand, agent by agent:
    a1 chat only, 2 of 2 chats open, "available": no room, no phone -> busy (it was counted free by state);
    a2 phone + chat (capacity 1), 1 of 1 chat open, "available": takes a call -> free;
    a3 phone + chat, on a call, no chat open, voice does not block: takes a chat -> free;
    a4 phone + chat, on a call, voice_blocks_written: nothing -> busy;  a5 phone only, paused -> paused.
    Total: free 2 (a2, a3), busy 5 logged in - 1 paused - 2 free = 2. Rows: chat room a3 only (1), busy a1, a2,
    a4 (3); phone available a2 (1), busy a3, a4 on a call (2), paused a5 (1)."""
    from wallboard.incremental import IncrementalSnapshots
    from wallboard.projection import project_total
    from wallboard.snapshot import Summary

    from .test_incremental import _diff, _json

    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat"}, {"name": "phone"}],
        agents=[
            {"id": "a1", "skills": {"web": 0}, "capacity": {"chat": 2}},
            {"id": "a2", "skills": {"web": 0, "phone": 0}, "capacity": {"chat": 1}},
            {"id": "a3", "skills": {"web": 0, "phone": 0}},
            {"id": "a4", "skills": {"web": 0, "phone": 0}, "voice_blocks_written": True},
            {"id": "a5", "skills": {"phone": 0}},
        ],
    )
    inc = IncrementalSnapshots(eng, full_rebuild_s=1e9)
    q = {"queue": "web", "channel": "chat"}
    await eng.apply([ev(AgentStateChanged, 0, agent=a, state="available") for a in ("a1", "a2", "a3", "a4", "a5")])
    await inc.build(at(1))  # the kept counts from here on follow agent by agent
    await eng.apply(
        [
            *(ev(CallerJoined, 10 + i, call_id=f"w{i}", **q) for i in range(3)),
            ev(CallerAnswered, 20, call_id="w0", agent="a1", **q),
            ev(CallerAnswered, 21, call_id="w1", agent="a1", **q),
            ev(CallerAnswered, 22, call_id="w2", agent="a2", **q),
            ev(AgentStateChanged, 30, agent="a3", state="on_call", queue="phone", call_id="v1"),
            ev(AgentStateChanged, 31, agent="a4", state="on_call", queue="phone", call_id="v2"),
            ev(AgentStateChanged, 32, agent="a5", state="paused", reason="lunch"),
        ]
    )
    snap = await eng.build_snapshot(at(60))
    diff = _diff(_json(await inc.build(at(60))), _json(snap))
    assert not diff, "; ".join(diff[:10])
    t = snap.total.agent_counts
    assert (t.logged_in, t.paused, t.free, t.available) == (5, 1, 2, 2)
    assert _desk(snap, "web") == {"avail": "1", "busy": "3", "ewt": "-"}
    assert _desk(snap, "phone")["avail"] == "1" and _desk(snap, "phone")["busy"] == "2"
    assert _desk(snap, "__total__")["avail"] == "2" and _desk(snap, "__total__")["busy"] == "2"
    config = load_config(None, queues=[{"name": "web", "channel": "chat"}, {"name": "phone"}])
    summary = Summary(seq=1, at=snap.at, window=snap.window, queues=snap.queues, total=snap.total)
    layout = LayoutConfig(name="floor", figures=["waiting", "agents_available"])
    tile = project_total(summary, ["web", "phone"], layout, config)
    assert tile["agents"] == {"free": 2, "busy": 2, "paused": 1, "logged_in": 5}
    assert [f["value"] for f in tile["figures"]] == [0, 2]

    # a1 closes a chat: room again on its one channel -> free; the incremental build follows (3 free)
    await eng.apply([ev(CallCompleted, 70, call_id="w0", agent="a1", talk_s=50, **q)])
    snap = await eng.build_snapshot(at(80))
    diff = _diff(_json(await inc.build(at(80))), _json(snap))
    assert not diff, "; ".join(diff[:10])
    assert snap.total.agent_counts.free == 3 and _desk(snap, "__total__")["busy"] == "1"


def _desk(snap: Snapshot, queue: str) -> dict[str, str]:
    """The desk's queue row (``ui.view.queue_row``) for ``queue``: agents free, busy and the expected wait."""
    from wallboard.ui.view import TrendBook, queue_rows

    config = load_config(None, queues=[{"name": n, "channel": q.channel} for n, q in snap.queues.items()])
    rows = queue_rows(snap, config, ServerTime(ManualClock(snap.at)), TrendBook())
    (row,) = [r for r in rows if r.key == queue]
    return {col: row.cells[col].text for col in ("avail", "busy", "ewt")}


def _erlang_c_sl(servers: int, load: float, aht: float, t: float) -> float:
    """P(wait <= t) by the textbook Erlang C, written here apart from the advisor's code."""
    if servers <= load:
        return 0.0
    top = load**servers / math.factorial(servers) * servers / (servers - load)
    c = top / (sum(load**k / math.factorial(k) for k in range(servers)) + top)
    return 1 - c * math.exp(-(servers - load) * t / aht)


def test_the_advisor_models_a_chat_queue_on_slots_and_says_so():
    config = load_config(
        None,
        queues=[{"name": "web", "channel": "chat", "thresholds": {}}, {"name": "phone"}],
        agents=[{"id": f"c{i}", "skills": {"web": 0}, "capacity": {"chat": 3}} for i in range(4)],
    )
    roll = Rolling(minutes=30, since="2026-11-23T08:30:00Z")
    queues = {
        q.name: QueueSnapshot(
            channel=q.channel,
            sl_formula=q.sl_formula,
            sl_threshold_s=q.sl_threshold_s,
            short_abandon_s=q.short_abandon_s,
            count_overflow=q.count_overflow,
            rolling=roll,
        )
        for q in config.queues
    }
    agents = {f"c{i}": AgentSnapshot(state="available", queues={"web": 0}, capacity={"chat": 3}) for i in range(4)} | {
        "v": AgentSnapshot(state="available", queues={"phone": 0})
    }
    snap = Snapshot(
        seq=1,
        at="2026-11-23T09:00:00Z",
        window=Window(kind="since_reset", since="2026-11-22T22:00:00Z"),
        queues=queues,
        total=Total(rolling=roll),
        agents=agents,
    )

    def est(q, per_h, aht):
        def e(v, n):
            return Estimate(value=v, n=n, minimum=1, how="test")

        return QueueEstimate(
            queue=q, at=0, arrival_rate_per_s=e(per_h / 3600, 100), aht_s=e(aht, 100), patience_s=e(None, 0)
        )

    advice = advise(snap, {"web": est("web", 60, 600), "phone": est("phone", 10, 180)}, config)
    web, phone = advice.queues["web"], advice.queues["phone"]
    assert web.model == "capacity: 3 chats per agent, Erlang C (patience unknown) on slots"
    assert phone.model == "Erlang C (patience unknown)"
    load = 60 / 3600 * 600  # 10 conversations in progress on average
    assert web.model_sl == pytest.approx(_erlang_c_sl(12, load, 600, 60), rel=1e-9)  # 4 agents x 3 slots
    assert web.required == next(n for n in range(1, 20) if _erlang_c_sl(3 * n, load, 600, 60) >= 0.8)
    assert phone.model_sl == pytest.approx(_erlang_c_sl(1, 10 / 3600 * 180, 180, 20), rel=1e-9)


def test_the_advisor_says_why_an_overloaded_e_mail_queue_models_0_against_100_live():
    """The demo's e-mail queue, worked by hand: 60 e-mails/h arrive, each held 900 s (accepted -> closed) in one
    of an agent's 5 slots; 2 agents give 10 slots, which serve 10 x 3600 / 900 = 40/h. The load, 60/3600 x 900
    = 15 conversations in progress, is above the 10 slots: no steady state but a backlog growing by 60 - 40 =
    20/h, so Erlang C's P(wait <= 4 h) is 0 in the long run (model SL 0 %). Required: 3 agents give 15 slots =
    the load (still no steady state), 4 give 20: P(wait > 4 h) = C x e^(-(20 - 15) x 14400 / 900) = C x e^-80,
    about 0, SL 100 % >= 80 %: required 4, short by 2. The units hold: the threshold is 14,400 s, the handle time
    per slot, not per agent (a model blocking an agent per e-mail would need more than 15 agents). The live SL is 100 % while no
    answered e-mail has waited 4 h yet: the model is right, and the panel says why the two differ."""
    from wallboard.ui.dialogs import AdviceScreen

    config = load_config(
        None,
        queues=[{"name": "email", "channel": "email"}],
        agents=[{"id": f"e{i}", "skills": {"email": 0}, "capacity": {"email": 5}} for i in range(2)],
    )
    q = config.queue("email")
    assert q.sl_threshold_s == 14_400
    roll = Rolling(minutes=30, since="2026-11-23T08:30:00Z", service_level=1.0)
    snap = Snapshot(
        seq=1,
        at="2026-11-23T09:00:00Z",
        window=Window(kind="since_reset", since="2026-11-22T22:00:00Z"),
        queues={
            "email": QueueSnapshot(
                channel="email",
                sl_formula=q.sl_formula,
                sl_threshold_s=q.sl_threshold_s,
                short_abandon_s=q.short_abandon_s,
                count_overflow=q.count_overflow,
                rolling=roll,
            )
        },
        total=Total(rolling=roll),
        agents={
            f"e{i}": AgentSnapshot(state="available", queues={"email": 0}, capacity={"email": 5}) for i in range(2)
        },
    )

    def e(v, n):
        return Estimate(value=v, n=n, minimum=1, how="test")

    est = QueueEstimate(
        queue="email", at=0, arrival_rate_per_s=e(60 / 3600, 60), aht_s=e(900.0, 40), patience_s=e(None, 0)
    )
    em = advise(snap, {"email": est}, config).queues["email"]
    assert em.model == "capacity: 5 e-mails per agent, Erlang C (patience unknown) on slots"
    assert em.load_erlangs == pytest.approx(15.0) and em.sl_threshold_s == 14_400
    assert em.model_sl == 0.0 and em.live_sl == 1.0
    assert (em.required, em.short_by, em.status) == (4, 2, "short")
    assert em.note is not None
    assert "60 e-mails/h arrive, 10 slots (2.0 agents x 5) serve 40/h at 900 s each" in em.note
    assert "the backlog grows by 20/h" in em.note and "until their waits reach 4 h" in em.note
    assert AdviceScreen(advise(snap, {"email": est}, config)).model_notes == f"email: {em.note}"  # the desk's v panel

    # with 4 agents (20 slots serve 80/h) the queue is not overloaded: SL about 100 %, no note
    snap.agents.update(
        {f"e{i}": AgentSnapshot(state="available", queues={"email": 0}, capacity={"email": 5}) for i in (2, 3)}
    )
    em = advise(snap, {"email": est}, config).queues["email"]
    assert em.model_sl == pytest.approx(1.0, abs=1e-9) and em.status == "ok" and em.note is None


async def test_a_simulated_blended_day_s_written_counters_match_an_independent_count():
    """The demo centre's chat and e-mail queues for 8 hours of the simulated centre, through replay and the real
    engine; every figure counted again here from the simulator's own log of conversations (not from the events
    the engine read)."""
    data = tomllib.loads((ROOT / "wallboard" / "data" / "demo.toml").read_text(encoding="utf-8"))
    written = [q for q in data["queues"] if q.get("channel", "voice") != "voice"]
    names = {q["name"] for q in written}
    agents = [a for a in data["agents"] if set(a["skills"]) <= names]
    config = load_config(None, centre=data["centre"], queues=written, agents=agents)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # 10:00 in Jerusalem
    feed = SimFeed(None, config, scenario="normal", seed=5, start=start, hours=8)
    snap, stats = await replay(feed, config, redis_url=redis_url())
    assert stats.dead_letters == 0 and stats.duplicates == 0
    log = feed.centre.calls
    for name in ("chat", "email"):
        cfg = config.queue(name)
        mine = [c for c in log if c.queue == name]
        out = Counter(c.outcome for c in mine)
        q = snap.queues[name]
        assert q.channel == name and len(mine) > 100, name
        assert (q.entered, q.answered, q.abandoned) == (len(mine), out["answered"], out["abandoned"]), name
        assert q.overflowed == 0 and q.waiting == out[None], name
        answered = [c for c in mine if c.outcome == "answered"]
        assert q.answered_within_sl == sum(c.wait_s <= cfg.sl_threshold_s for c in answered), name
        short = sum(c.wait_s <= cfg.short_abandon_s for c in mine if c.outcome == "abandoned")
        assert q.short_abandoned == short, name
        assert q.asa_s == pytest.approx(sum(c.wait_s for c in answered) / len(answered), rel=1e-9), name
        end = snap_time(snap)
        closed = [c for c in answered if c.joined.timestamp() + c.wait_s + c.talk_s < end]
        assert q.completed == len(closed), name
        assert q.talk_s == pytest.approx(sum(c.talk_s for c in closed), rel=1e-9), name
    assert Counter(c.outcome for c in log if c.queue == "chat")["abandoned"] > 0  # a busy chat queue loses some

    # per agent, from the simulator's log (each conversation's agent, acceptance and handle time): open
    # conversations never above capacity, and the busy time (overlaps once)
    caps = {a.id: a for a in config.agents}
    chan = {q.name: q.channel for q in config.queues}
    end = snap_time(snap)
    open_now: dict[str, Counter] = {a.id: Counter() for a in config.agents}
    spans: dict[str, list[tuple[float, float]]] = {a.id: [] for a in config.agents}
    moments = []  # (time, +1 accepted / -1 closed, agent, channel); a close before an acceptance at one time
    for c in log:
        if c.outcome != "answered":
            continue
        # to the millisecond, as the simulator keeps its times: a slot freed and taken again in one moment
        accepted = round(c.joined.timestamp() + c.wait_s, 3)
        closed = round(accepted + c.talk_s, 3)
        # a conversation still open at the end: busy from acceptance on, with no end yet
        spans[c.agent].append((accepted, closed if closed < end else math.inf))
        moments.append((accepted, 1, c.agent, chan[c.queue]))
        if closed < end:
            moments.append((closed, -1, c.agent, chan[c.queue]))
    most = 0
    for _, step, agent, ch in sorted(moments):
        open_now[agent][ch] += step
        assert open_now[agent][ch] <= caps[agent].capacity_of(ch)
        most = max(most, open_now[agent][ch])
    assert most >= 2  # concurrency really happened
    for aid, ss in spans.items():
        # the union of the agent's conversations; a stretch counts once it has ended (its last one closed)
        busy, cur = 0.0, None
        for a, b in sorted(ss) + [(math.inf, math.inf)]:
            if cur is not None and a > cur[1]:
                busy += cur[1] - cur[0]
                cur = None
            if cur is None:
                cur = [a, b]
            else:
                cur[1] = max(cur[1], b)
        assert snap.agents[aid].conversation_s == pytest.approx(busy, abs=0.01), aid
        assert snap.agents[aid].conversations == {k: v for k, v in open_now[aid].items() if v}, aid


def snap_time(snap) -> float:
    return snap.at.timestamp()


async def test_the_simulated_platform_posts_its_chats_to_a_running_http_ingester(redis_client, prefix, monkeypatch):
    """The simulated centre's written queues over real HTTP: the sender POSTs the day's chat and e-mail events
    to an ingester running the http feed; the counts equal those of the simulator's own log."""
    token = "written-token-0123456789abcdef"
    monkeypatch.setenv("WB_TEST_WRITTEN", token)
    config = load_config(
        None,
        redis={"prefix": prefix},
        engine={"tick_s": 0.2},
        feeds={"http": {"port": 0, "sources": {"platform": {"token_env": "WB_TEST_WRITTEN"}}}},
        queues=[{"name": "chat", "channel": "chat"}, {"name": "email", "channel": "email"}, {"name": "support"}],
        agents=[
            {"id": "h", "skills": {"chat": 0}, "capacity": {"chat": 2}},
            {"id": "m", "skills": {"email": 0, "chat": 1}},
            {"id": "v", "skills": {"support": 0}},
        ],
    )
    start = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    centre = SimCentre(config, scenario_by_name("normal"), 3, start)
    end = start + timedelta(hours=2)
    pbx_events, written = split_written(centre.advance_to(end), {"chat", "email"})
    assert written and all(getattr(e, "queue", None) in ("chat", "email") for e in written)
    assert any(getattr(e, "queue", None) == "support" for e in pbx_events)  # the phones stay with the PBX
    feed = HttpFeed(None, config)
    ing = Ingest(redis_client, config, feed, clock=ManualClock(end), keys=Keys(prefix), name="written-test")
    task = asyncio.create_task(ing.run())
    sender = None
    try:
        await asyncio.wait_for(feed.started.wait(), 10)
        sender = WrittenSender(f"http://127.0.0.1:{feed.bound_port}/events", token)
        sender.start()
        sender.put(written[: len(written) // 2])
        sender.put(written)  # the first half again: a retry never counts twice
        sent = len(written) + len(written) // 2
        await until(
            lambda: ing.events_applied >= sent, "the ingester to apply every POST", timeout=20, check=task_failed(task)
        )
        assert sender.rejected == 0
        eng = Engine(redis_client, config, Keys(prefix))
        await eng.start()
        snap = await eng.build_snapshot(end)
    finally:
        if sender is not None:
            await sender.stop()
        ing.stop.set()
        await asyncio.wait_for(task, 10)
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis_client.unlink(*keys)
    for name in ("chat", "email"):
        mine = [c for c in centre.calls if c.queue == name]
        out = Counter(c.outcome for c in mine)
        q = snap.queues[name]
        assert mine and (q.entered, q.answered, q.abandoned) == (len(mine), out["answered"], out["abandoned"]), name
        limit = config.queue(name).sl_threshold_s
        assert q.answered_within_sl == sum(c.wait_s <= limit for c in mine if c.outcome == "answered"), name
    assert snap.queues["support"].entered == 0  # its calls went to the PBX face, not here
    assert snap.agents["h"].conversations == {k: v for k, v in centre.open_conversations("h").items() if v}


def test_screens_name_the_channel_and_its_figures_in_both_languages():
    from wallboard.config import LayoutConfig
    from wallboard.projection import project_queue
    from .ui_seen import agent_rows

    config = load_config(None, queues=[{"name": "web", "channel": "chat", "label": "Web help"}, {"name": "phone"}])
    roll = Rolling(minutes=30, since="2026-11-23T08:30:00Z")
    q = QueueSnapshot(
        channel="chat",
        sl_formula="excl_short_abandons",
        sl_threshold_s=60,
        short_abandon_s=10,
        count_overflow=False,
        rolling=roll,
        label="Web help",
    )
    q.agent_counts.available, q.agent_counts.free = 4, 1
    figures = ["waiting", "asa_s", "agents_available", "service_level"]
    en = project_queue("web", q, LayoutConfig(name="en", figures=figures), config)
    he = project_queue("web", q, LayoutConfig(name="he", figures=figures, language="he"), config)
    assert (en["channel"], en["channel_label"], he["channel_label"]) == ("chat", "Chat", "צ'אט")
    assert [f.get("label") for f in en["figures"]] == [None, "First response", "Agents with room", None]
    assert [f.get("label") for f in he["figures"]] == [None, "תגובה ראשונה", "נציגים עם מקום", None]
    assert en["figures"][2]["value"] == 1  # free = room for one more conversation, not the 4 "available"
    own = LayoutConfig(name="own", figures=figures, labels={"asa_s": "Reply"})
    assert project_queue("web", q, own, config)["figures"][1].get("label") is None  # the layout's own label wins
    said = project_queue("web", q.model_copy(update={"label": "Web chat"}), LayoutConfig(name="en"), config)
    assert said["label"] == "Web chat" and said["channel_label"] is None  # the name says it already
    phone = q.model_copy(update={"channel": "voice"})
    assert project_queue("phone", phone, LayoutConfig(name="en", figures=figures), config)["channel_label"] is None

    a = AgentSnapshot(state="available", queues={"web": 0}, capacity={"chat": 3, "email": 5}, conversations={"chat": 2})
    full = AgentSnapshot(state="available", queues={"web": 0}, capacity={"chat": 2}, conversations={"chat": 2})

    class Clock:
        def now(self):
            return datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)

        def seconds_since(self, _):
            return None

    rows = {r.key: r for r in agent_rows({"a": a, "f": full, "v": AgentSnapshot(state="on_call")}, Clock())}
    assert rows["a"].cells["load"].text == "2/3 chats 0/5 e-mails" and rows["a"].cells["load"].level == "ok"
    assert rows["f"].cells["load"].text == "2/2 chats" and rows["f"].cells["load"].level == "warn"
    assert rows["v"].cells["load"].text == ""

    from wallboard.snapshot import Summary
    from wallboard.ui.view import figure_rows

    window = Window(kind="since_reset", since="2026-11-22T22:00:00Z")
    summary = Summary(seq=1, at="2026-11-23T09:00:00Z", window=window, queues={"web": q}, total=Total(rolling=roll))
    shown = {r.key: r.cells["figure"].text for r in figure_rows(q, summary, Clock())}
    assert shown["asa_s"] == "First response" and shown["aht_s"] == "Handle time"
    voice = {r.key: r.cells["figure"].text for r in figure_rows(phone, summary, Clock())}
    assert voice["asa_s"] == "ASA"


async def test_a_blended_day_s_report_has_each_channel_s_totals(make_engine, redis_client):
    from wallboard.reports.render_csv import render_csv
    from wallboard.reports.render_html import render_html

    from .test_report import report_for
    from .test_rollup import SUPPORT_DAY, day_events, t

    eng = await make_engine(
        centre={"timezone": "UTC"},
        queues=[{"name": "support"}, {"name": "web", "channel": "chat", "label": "Web help"}],
    )
    q = {"queue": "web", "channel": "chat"}
    base = t("09:00:00")
    chats = [
        CallerJoined(id="w1", ts=base, source="t", call_id="w1", **q),
        CallerAnswered(id="w1a", ts=base + timedelta(seconds=20), source="t", call_id="w1", agent="1001", **q),
        CallerJoined(id="w2", ts=base, source="t", call_id="w2", **q),
        CallerAnswered(id="w2a", ts=base + timedelta(seconds=90), source="t", call_id="w2", agent="1001", **q),
        CallerJoined(id="w3", ts=base, source="t", call_id="w3", **q),
        CallerAbandoned(id="w3x", ts=base + timedelta(seconds=5), source="t", call_id="w3", **q),
    ]
    await eng.apply(day_events() + chats)
    rep = await report_for(eng, redis_client, t("11:00:00"))
    assert rep["queues"]["web"]["channel"] == "chat" and rep["queues"]["support"]["channel"] == "voice"
    chat, voice = rep["channels"]["chat"], rep["channels"]["voice"]
    assert (chat["entered"], chat["answered"], chat["answered_within_sl"], chat["short_abandoned"]) == (3, 2, 1, 1)
    assert chat["service_level"] == pytest.approx(1 / (2 + 1 - 1))  # 60 s threshold, 10 s short abandons
    assert voice["entered"] == SUPPORT_DAY["entered"] and voice["answered"] == SUPPORT_DAY["answered"]
    assert rep["total"]["entered"] == SUPPORT_DAY["entered"] + 3
    html = render_html(rep)
    assert "Web help (chat)" in html and "All chat queues" in html and "All voice queues" in html
    lines = render_csv(rep).splitlines()
    assert sum(line.startswith("channel_total,chat,all chat queues,") for line in lines) == 1
    assert sum(line.startswith("channel_total,voice,") for line in lines) == 1


async def test_incremental_snapshots_follow_written_conversations(make_engine):
    """The lease owner's incremental snapshot equals a full build while agents' chats and e-mails open and close
    (a conversation changes no agent state, yet its queue's free agents and slots move)."""
    from wallboard.incremental import IncrementalSnapshots

    from .test_incremental import _diff, _json

    data = tomllib.loads((ROOT / "wallboard" / "data" / "demo.toml").read_text(encoding="utf-8"))
    written = [q for q in data["queues"] if q.get("channel", "voice") != "voice"]
    agents = [a for a in data["agents"] if set(a["skills"]) <= {q["name"] for q in written}]
    eng = await make_engine(centre=data["centre"], queues=written, agents=agents)
    inc = IncrementalSnapshots(eng, full_rebuild_s=1e9)
    start = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # 12:00 local: a lunchtime rise of chats
    sim = SimCentre(eng.config, scenario_by_name("normal"), 9, start - timedelta(hours=1))
    await eng.apply(sim.advance_to(start))
    await inc.build(start)
    t, moved = start, 0
    for _ in range(60):
        t += timedelta(seconds=20)
        batch = sim.advance_to(t)
        await eng.apply(batch)
        moved += sum(isinstance(e, (CallerAnswered, CallCompleted)) for e in batch)
        now = t + timedelta(milliseconds=250)
        diff = _diff(_json(await inc.build(now)), _json(await eng.build_snapshot(now)))
        assert not diff, f"at {now}: " + "; ".join(diff[:10])
    assert moved > 20 and inc.fulls == 1


async def test_written_busy_time_is_rolled_up_split_at_interval_boundaries_once(make_engine, redis_client, prefix):
    """Two overlapping chats across the 09:15 boundary and one still open: the agent's busy time (overlaps once)
    in 15-minute intervals, by hand; the same events again and the rollup again change nothing."""
    from wallboard.history.calendar import CentreCalendar
    from wallboard.history.rollup import HistoryReader, Rollup
    from wallboard.reports.build import ReportRequest, build_report
    from wallboard.reports.render_csv import render_csv
    from wallboard.reports.render_html import render_html

    eng = await make_engine(
        centre={"timezone": "UTC"},
        queues=[{"name": "web", "channel": "chat"}],
        agents=[{"id": "a1", "skills": {"web": 0}}],
    )
    q = {"queue": "web", "channel": "chat"}
    events = [
        ev(AgentStateChanged, 0, agent="a1", state="available"),
        ev(CallerJoined, 590, call_id="c1", **q),
        ev(CallerJoined, 830, call_id="c2", **q),
        ev(CallerAnswered, 600, call_id="c1", agent="a1", **q),  # 09:10:00
        ev(CallerAnswered, 840, call_id="c2", agent="a1", **q),  # 09:14:00
        ev(CallCompleted, 1200, call_id="c1", agent="a1", talk_s=600, **q),  # 09:20:00
        ev(CallCompleted, 1350, call_id="c2", agent="a1", talk_s=510, **q),  # 09:22:30: busy 09:10 -> 09:22:30
        ev(CallerJoined, 2390, call_id="c3", **q),
        ev(CallerAnswered, 2400, call_id="c3", agent="a1", **q),  # 09:40:00, still open at 09:50
    ]
    await eng.apply(events)
    clock = ManualClock(at(3000))  # 09:50
    ru = Rollup(redis_client, eng.config, eng.keys, clock)
    reader = HistoryReader(redis_client, eng.config, eng.keys)
    day = at(0).date()

    async def busy() -> dict:
        iv = (await reader.intervals("a", ["a1"], [day]))["a1"][day]
        return {i: c["conversation_s"] for i, c in iv.items() if "conversation_s" in c}

    await ru.run(at(0), clock.now())
    # 09:10-09:15 300 s, 09:15-09:22:30 450 s; c3 open 09:40 -> 09:50: 300 s in 09:30-09:45, 300 s after
    assert await busy() == {36: 300, 37: 450, 38: 300, 39: 300}
    keys = sorted([k async for k in redis_client.scan_iter(match=f"{prefix}:*:h[id]:*")])
    before = {k: await redis_client.hgetall(k) for k in keys}
    assert (await eng.apply(events)).applied == 0  # a replay of the same events
    again = await ru.run(at(0), clock.now())
    assert again.written == again.cleared == 0
    assert {k: await redis_client.hgetall(k) for k in keys} == before

    await eng.apply([ev(CallCompleted, 3300, call_id="c3", agent="a1", talk_s=900, **q)])  # 09:55
    clock.set(at(3600))
    await ru.run(at(0), clock.now())
    assert await busy() == {36: 300, 37: 450, 38: 300, 39: 600}
    assert (await reader.daily("a", ["a1"], [day]))["a1"][day]["conversation_s"] == 750 + 900
    snap = await eng.build_snapshot(at(3600))
    assert snap.agents["a1"].conversation_s == 1650  # the live figure agrees

    cal = CentreCalendar(eng.config.centre)
    rep = await build_report(
        redis_client, eng.config, ReportRequest(cal.period("day", day)), keys=eng.keys, clock=clock
    )
    assert rep["agents"]["a1"]["total"]["conversation_s"] == 1650
    assert [r["conversation_s"] for r in rep["agents"]["a1"]["rows"] if r["conversation_s"]] == [300, 450, 300, 600]
    rows = list(csv.DictReader(io.StringIO(render_csv(rep))))
    assert [r["conversation_s"] for r in rows if r["section"] == "agent_total"] == ["1650"]
    assert "<th>Written busy</th>" in render_html(rep)


async def test_the_chat_platform_reports_its_history_so_open_conversations_show(redis_client, prefix, monkeypatch):
    """The demo's PBX runs history first; the chat platform reports that history too, each event at its own
    time, as a platform a wallboard connects to mid-day does: a conversation accepted before "now" and still
    open shows on its agent, and the agent's time counts from its login. (Reporting the live day only left the
    agents' open conversations unseen: idle-looking e-mail agents beside a growing backlog.) Real PBX start,
    real POSTs to a running http ingester, the engine's snapshot."""
    token = "written-token-login-0123456789ab"
    monkeypatch.setenv("WB_TEST_WRITTEN", token)
    config = load_config(
        None,
        redis={"prefix": prefix},
        feeds={"http": {"port": 0, "sources": {"platform": {"token_env": "WB_TEST_WRITTEN"}}}},
        queues=[{"name": "chat", "channel": "chat"}, {"name": "support"}],
        agents=[{"id": "h", "skills": {"chat": 0}, "capacity": {"chat": 2}}, {"id": "v", "skills": {"support": 0}}],
    )
    now = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    centre = SimCentre(config, scenario_by_name("quiet"), 1, now - timedelta(minutes=10))
    centre.schedule_caller("chat", now - timedelta(minutes=5), talk_s=20 * 60)  # accepted at once, still open
    feed = HttpFeed(None, config)
    ing = Ingest(redis_client, config, feed, clock=ManualClock(now), keys=Keys(prefix), name="login-test")
    task = asyncio.create_task(ing.run())
    pbx = SimPbx(config, centre, ManualClock(now), step_s=0.01)
    try:
        await asyncio.wait_for(feed.started.wait(), 10)
        pbx.written = WrittenSender(f"http://127.0.0.1:{feed.bound_port}/events", token)
        await pbx.start(live_from=now)
        eng = Engine(redis_client, config, Keys(prefix))
        await eng.start()

        async def answered_once():
            # the queue's step and then the agent's: both applied (a look between them sees the answer, not yet
            # the agent's open conversation)
            snap = await eng.build_snapshot(now + timedelta(seconds=15))
            h = snap.agents.get("h")
            return snap if snap.queues["chat"].answered >= 1 and h is not None and h.conversations else None

        snap = await until(
            answered_once, "the platform's history applied", timeout=20, every=0.05, check=task_failed(task)
        )
    finally:
        await pbx.stop()
        ing.stop.set()
        await asyncio.wait_for(task, 10)
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis_client.unlink(*keys)
    agent = snap.agents["h"]
    assert agent.state == "available" and agent.since == now - timedelta(minutes=10)  # logged in with the history
    assert agent.conversations == {"chat": 1} and agent.capacity == {"chat": 2}
    chat = snap.queues["chat"]
    assert (chat.entered, chat.answered, chat.waiting) == (1, 1, 0)
