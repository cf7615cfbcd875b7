"""Agent handle time by channel: voice AHT over voice calls handled, written handle time over written
conversations handled, each against its own target. Values by hand; real Redis, the real engine and report."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta

import pytest

from wallboard.clock import ManualClock
from wallboard.events import AgentStateChanged, CallCompleted, CallerAnswered, CallerJoined, WrapupCompleted
from wallboard.history.calendar import CentreCalendar
from wallboard.history.codec import AGENT_FIELDS, unpack
from wallboard.reports.build import ReportRequest, build_report
from wallboard.reports.figures import agent_figures
from wallboard.reports.render_csv import render_csv
from wallboard.reports.render_html import render_scorecard_html
from wallboard.reports.scorecard import live_card, scorecards

from .conftest import at

_ids = itertools.count()


def ev(cls, t, **kw):
    return cls(id=f"aht{next(_ids)}", ts=at(t), source="test", **kw)


def state(agent, t, st):
    return ev(AgentStateChanged, t, agent=agent, state=st)


def call(cid, agent, ans, talk, wrap):
    """A voice call on queue phone answered at ``ans``: on call, wrap-up, available again."""
    q = {"queue": "phone", "call_id": cid}
    return [
        ev(CallerJoined, ans - 10, **q),
        ev(CallerAnswered, ans, agent=agent, wait_s=10, **q),
        ev(AgentStateChanged, ans, agent=agent, state="on_call", **q),
        ev(CallCompleted, ans + talk, agent=agent, talk_s=talk, **q),
        ev(AgentStateChanged, ans + talk, agent=agent, state="wrap_up", **q),
        ev(WrapupCompleted, ans + talk + wrap, agent=agent, wrap_s=wrap, **q),
        state(agent, ans + talk + wrap, "available"),
    ]


def chat(cid, agent, ans, close):
    """A chat on queue web, accepted at ``ans`` and closed at ``close`` (the agent stays available)."""
    q = {"queue": "web", "channel": "chat", "call_id": cid}
    return [
        ev(CallerJoined, ans - 10, **q),
        ev(CallerAnswered, ans, agent=agent, **q),
        ev(CallCompleted, close, agent=agent, talk_s=close - ans, **q),
    ]


def day() -> list:
    """Each agent logged in 09:00-10:00. v (voice only): calls of 600 + 60 s and 300 + 60 s. c (chat only): chats
    accepted 30 -> 160 and 100 -> 200 (busy 30 -> 200 = 170 s, the overlap once). b (blended): two calls of 540 +
    60 s and two chats of 120 s each, apart."""
    evs = [state(a, 0, "available") for a in ("v", "c", "b")]
    evs += call("p1", "v", 300, 600, 60) + call("p2", "v", 1800, 300, 60)
    evs += chat("w1", "c", 30, 160) + chat("w2", "c", 100, 200)
    evs += call("p3", "b", 600, 540, 60) + call("p4", "b", 2000, 540, 60)
    evs += chat("w3", "b", 1300, 1420) + chat("w4", "b", 2700, 2820)
    evs += [state(a, 3600, "logged_out") for a in ("v", "c", "b")]
    return sorted(evs, key=lambda e: e.ts)


CONFIG = dict(
    centre={"timezone": "UTC"},
    queues=[{"name": "phone"}, {"name": "web", "channel": "chat"}],
    agents=[
        {"id": "v", "name": "Voice", "skills": {"phone": 0}},
        {"id": "c", "name": "Chat", "skills": {"web": 0}},
        {"id": "b", "name": "Blended", "skills": {"phone": 0, "web": 0}},
    ],
    targets={"agents": {"aht_s": 600, "written_handle_s": 100}},
)

# by hand: (handled, voice calls, written conversations, AHT, written handle time), then met for AHT and written
WANT = {
    "v": ((2, 2, 0, (600 + 60 + 300 + 60) / 2, None), (True, None)),  # 510 s; no written work: no figure
    "c": ((2, 0, 2, None, 170 / 2), (None, True)),  # no voice call: no AHT (never "met" at 0 s); 85 s
    "b": ((4, 2, 2, (2 * 540 + 2 * 60) / 2, (120 + 120) / 2), (True, False)),  # 600 s, not 1,200 / 4 = 300
}


async def report(eng, redis_client):
    cal = CentreCalendar(eng.config.centre)
    clock = ManualClock(at(0) + timedelta(days=1))
    return await build_report(
        redis_client, eng.config, ReportRequest(cal.period("day", at(0).date())), keys=eng.keys, clock=clock
    )


def figures(rep, aid):
    t = rep["agents"][aid]["total"]
    return t["calls_handled"], t["voice_handled"], t["conversations_handled"], t["aht_s"], t["written_handle_s"]


async def test_voice_chat_and_blended_agents_handle_times(make_engine, redis_client):
    eng = await make_engine(**CONFIG)
    events = day()
    await eng.apply(events)
    rep = await report(eng, redis_client)
    doc = scorecards(rep, eng.config)
    for aid, (figs, (aht_met, written_met)) in WANT.items():
        assert figures(rep, aid) == pytest.approx(figs), aid
        card = {f["figure"]: f for f in doc["agents"][aid]["total"]}
        assert (card["aht_s"]["target"], card["aht_s"]["met"]) == (600, aht_met), aid
        assert (card["written_handle_s"]["target"], card["written_handle_s"]["met"]) == (100, written_met), aid
        assert card["conversations_handled"]["value"] == figs[2]
    # the report's CSV and HTML carry the written figures; "Handled" counts every contact
    rows = list(csv.DictReader(io.StringIO(render_csv(rep))))
    b = next(r for r in rows if r["section"] == "agent_total" and r["name"] == "b")
    assert (b["calls_handled"], b["voice_handled"], b["conversations_handled"]) == ("4", "2", "2")
    assert (b["agent.aht_s"], b["written_handle_s"]) == ("600", "120")
    html = render_scorecard_html(doc)
    assert "<th>Written HT</th>" in html and "<th>Handled</th>" in html and "2:00" in html

    # the desk's live card agrees, from the snapshot
    snap = await eng.build_snapshot(at(3600))
    live = {f["figure"]: f["value"] for f in live_card(snap.agents["b"], eng.config)}
    got = (live["calls_handled"], live["conversations_handled"], live["aht_s"], live["written_handle_s"])
    assert got == (4, 2, pytest.approx(600), pytest.approx(120))

    # a replay changes nothing
    assert (await eng.apply(events)).applied == 0
    again = await report(eng, redis_client)
    for aid, (figs, _) in WANT.items():
        assert figures(again, aid) == pytest.approx(figs), aid


def test_an_old_rollup_without_written_conversations_reads_as_before():
    # an agent's interval packed before conversations_handled existed: calls_handled 2 (slot 0), on call 900 s
    # (slot 6), wrap-up 120 s (slot 7); every handled contact then counts as a voice call, AHT 1,020 / 2
    c = unpack(AGENT_FIELDS, "2,,,,,,900,120")
    fig = agent_figures(c)
    assert (fig["calls_handled"], fig["voice_handled"], fig["conversations_handled"]) == (2, 2, 0)
    assert fig["aht_s"] == 510 and fig["written_handle_s"] is None
