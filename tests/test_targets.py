"""Targets over time: a queue figure's day, week and month targets, met or missed per day and per period in the
report, and the day's beside the figure on the desk and the TV. Real Redis, values by hand."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta

import pytest

from wallboard.clock import ManualClock
from wallboard.config import ConfigError, load_config
from wallboard.events import AgentStateChanged, CallerAbandoned, CallerAnswered, CallerJoined
from wallboard.history.calendar import CentreCalendar
from wallboard.livetime import ServerTime
from wallboard.projection import target_of
from wallboard.reports.build import ReportRequest, build_report
from wallboard.reports.render_csv import render_csv
from wallboard.reports.render_html import render_html
from wallboard.targets import queue_targets
from wallboard.ui.view import figure_rows

from .conftest import at

_ids = itertools.count()
D = 86400

CONFIG = dict(
    queues=[{"name": "support"}, {"name": "tech"}],
    targets={
        "queues": {
            "support": {"service_level": {"day": 0.8, "week": 0.85}, "answer_rate": 0.9},
            "*": {"abandon_rate": 0.05},
        }
    },
)


def ev(cls, t, **kw):
    return cls(id=f"tg{next(_ids)}", ts=at(t), source="test", **kw)


def calls(day: int, answered: int, abandoned: int) -> list:
    """support on T0's day + ``day``: answered within 10 s (in SL), abandoned after 30 s (not short)."""
    out, t = [], day * D
    for n in range(answered + abandoned):
        cid = f"d{day}-{n}"
        out.append(ev(CallerJoined, t, queue="support", call_id=cid))
        if n < answered:
            out.append(ev(CallerAnswered, t + 10, queue="support", call_id=cid, agent="1", wait_s=10))
        else:
            out.append(ev(CallerAbandoned, t + 30, queue="support", call_id=cid, wait_s=30))
        t += 60
    return out


async def test_week_report_marks_each_day_and_the_week(make_engine, redis_client):
    eng = await make_engine(**CONFIG)
    await eng.apply(calls(0, 8, 2) + calls(1, 10, 0))
    cal = CentreCalendar(eng.config.centre)
    req = ReportRequest(cal.period("week", at(0).date(), None), queues=["support"])
    rep = await build_report(redis_client, eng.config, req, keys=eng.keys, clock=ManualClock(at(0) + timedelta(days=9)))
    q = rep["queues"]["support"]
    assert q["targets"] == {
        "day": {"abandon_rate": 0.05, "answer_rate": 0.9, "service_level": 0.8},
        "period": {"abandon_rate": 0.05, "answer_rate": 0.9, "service_level": 0.85},  # week: SL's own, others the day's
    }
    rows = [r for r in q["rows"] if r["has_data"]]
    # by hand: day 1 SL 8 / (8 + 2) = 0.8 (met at 0.8), answered 8 / 10 (missed 0.9), abandoned 2 / 10 (missed 0.05);
    # day 2 all 10 answered in SL: every target met
    assert rows[0]["met"] == {"abandon_rate": False, "answer_rate": False, "service_level": True}
    assert rows[1]["met"] == {"abandon_rate": True, "answer_rate": True, "service_level": True}
    # the week: SL 18 / 20 = 0.9 (met 0.85), answered 18 / 20 = 0.9 (met 0.9), abandoned 2 / 20 = 0.1 (missed)
    assert q["total"]["met"] == {"abandon_rate": False, "answer_rate": True, "service_level": True}
    assert q["days_met"] == {
        "abandon_rate": {"met": 1, "of": 2},
        "answer_rate": {"met": 1, "of": 2},
        "service_level": {"met": 2, "of": 2},
    }
    html = render_html(rep)
    assert "Day target" in html and "1 of 2" in html and "missed" in html
    table = list(csv.DictReader(io.StringIO(render_csv(rep))))
    total = next(r for r in table if r["section"] == "queue_total")
    assert total["targets"] == "abandon_rate=missed;answer_rate=met;service_level=met"
    first_day = next(r for r in table if r["section"] == "queue" and r["start"] == rows[0]["start"])
    assert first_day["targets"] == "abandon_rate=missed;answer_rate=missed;service_level=met"


async def test_the_days_target_beside_the_figure_on_the_tv_and_the_desk(make_engine):
    eng = await make_engine(**CONFIG)
    config = eng.config
    assert target_of(config, "support", "service_level") == 0.8  # the day's, not the week's
    assert target_of(config, "tech", "abandon_rate") == 0.05  # '*': every queue not listed
    assert target_of(config, "tech", "service_level") is None
    await eng.apply(calls(0, 8, 2))
    snap = await eng.build_snapshot(at(3600))
    rows = {
        r.key: r.cells
        for r in figure_rows(
            snap.queues["support"], snap, ServerTime(ManualClock(at(3600))), queue_targets(config, "support")
        )
    }
    assert rows["service_level"]["reset"].text == "80.0% / 80.0%"
    assert rows["answer_rate"]["reset"].text == "80.0% / 90.0%"
    assert rows["asa_s"]["reset"].text == "0:10"  # no target: the value alone


def test_a_target_for_a_figure_without_a_direction_is_refused():
    with pytest.raises(
        ConfigError, match="targets.queues.support.offered: 'offered' is not a queue figure with a target"
    ):
        load_config(None, targets={"queues": {"support": {"offered": 10}}})


def agent_day(agent: str, day: int, talk: tuple[int, int], wrap_end: int) -> list:
    """``agent`` on T0's day + ``day``: available from 0, on a call over ``talk`` (seconds into the hour), wrap-up
    to ``wrap_end``, available again, logged out at 3,600 s."""
    t = day * D
    return [
        ev(AgentStateChanged, t, agent=agent, state="available"),
        ev(AgentStateChanged, t + talk[0], agent=agent, state="on_call"),
        ev(AgentStateChanged, t + talk[1], agent=agent, state="wrap_up"),
        ev(AgentStateChanged, t + wrap_end, agent=agent, state="available"),
        ev(AgentStateChanged, t + 3600, agent=agent, state="logged_out"),
    ]


async def test_occupancy_targets_per_queue_day_and_week(make_engine, redis_client):
    """Utilisation over time: a queue's occupancy is its crew's (the agents skilled for it), by hand from their
    state seconds, met or missed per day against the day's target and for the week against the week's."""
    eng = await make_engine(
        queues=[{"name": "support"}, {"name": "tech"}],
        agents=[{"id": "1", "skills": {"support": 0}}, {"id": "2", "skills": {"tech": 0}}],
        targets={"queues": {"support": {"occupancy": {"day": 0.5, "week": 0.4}}}},
    )
    events = calls(0, 1, 0) + calls(1, 1, 0)
    # agent 1 (support): day 1 talk 600-1800, wrap-up to 2100 -> (1200 + 300) / 3600 = 0.4167 (missed 0.5);
    # day 2 talk 600-3000, wrap-up to 3300 -> 2700 / 3600 = 0.75 (met); the week 4200 / 7200 = 0.5833 (met 0.4)
    events += agent_day("1", 0, (600, 1800), 2100) + agent_day("1", 1, (600, 3000), 3300)
    # agent 2 (tech only) busy nearly all of day 1: not support's crew; 3,500 / 3,600
    events += agent_day("2", 0, (100, 3600), 3600)[:2] + [ev(AgentStateChanged, 3600, agent="2", state="logged_out")]
    await eng.apply(sorted(events, key=lambda e: e.ts))
    cal = CentreCalendar(eng.config.centre)
    req = ReportRequest(cal.period("week", at(0).date(), None))
    rep = await build_report(redis_client, eng.config, req, keys=eng.keys, clock=ManualClock(at(0) + timedelta(days=9)))
    q = rep["queues"]["support"]
    assert q["targets"] == {"day": {"occupancy": 0.5}, "period": {"occupancy": 0.4}}
    rows = [r for r in q["rows"] if r["has_data"]]
    assert [r["occupancy"] for r in rows] == [pytest.approx(1500 / 3600), pytest.approx(2700 / 3600)]
    assert [r["met"] for r in rows] == [{"occupancy": False}, {"occupancy": True}]
    assert q["total"]["occupancy"] == pytest.approx(4200 / 7200) and q["total"]["met"] == {"occupancy": True}
    assert q["days_met"] == {"occupancy": {"met": 1, "of": 2}}
    # tech's crew is agent 2 alone; the all-queues figure counts every crew's agent once
    assert rep["queues"]["tech"]["total"]["occupancy"] == pytest.approx(3500 / 3600)
    assert rep["total"]["occupancy"] == pytest.approx((1500 + 2700 + 3500) / (3 * 3600))
    table = list(csv.DictReader(io.StringIO(render_csv(rep))))
    total = next(r for r in table if r["section"] == "queue_total" and r["name"] == "support")
    assert total["queue.occupancy"] == "0.5833" and total["targets"] == "occupancy=met"
    first = next(r for r in table if r["section"] == "queue" and r["start"] == rows[0]["start"])
    assert first["targets"] == "occupancy=missed"
    html = render_html(rep)
    # the targets table: the week's 58 % against 40 %, met; the day's 50 %, met on 1 of 2 days
    assert "<tr><td>Occupancy</td><td>58.3%</td><td>40.0%</td><td>met</td><td>50.0%</td><td>1 of 2</td></tr>" in html


def test_occupancy_on_a_written_queue_is_not_by_states():
    """A chat agent is 'available' by state while chatting: a written queue has no occupancy now."""
    from wallboard.channels import occupancy_now
    from wallboard.snapshot import AgentCounts

    busy = AgentCounts(available=1, on_call=2, wrap_up=1, ringing=4, paused=3)
    assert occupancy_now(busy) == 3 / 4  # ringing and paused in neither part
    assert occupancy_now(busy, "chat") is None
    assert occupancy_now(AgentCounts(paused=2)) is None


async def test_occupancy_now_beside_its_day_target_on_the_desk(make_engine):
    # support's crew now: two on a call, one available, one paused (in neither part): 2 / (2 + 1) = 66.7 %
    eng = await make_engine(
        queues=[{"name": "support"}],
        agents=[{"id": a, "skills": {"support": 0}} for a in ("1", "2", "3", "4")],
        targets={"queues": {"support": {"occupancy": {"day": 0.85, "week": 0.8}}}},
    )
    states = {"1": "on_call", "2": "on_call", "3": "available", "4": "paused"}
    await eng.apply([ev(AgentStateChanged, 60, agent=a, state=s) for a, s in states.items()])
    snap = await eng.build_snapshot(at(120))
    rows = {
        r.key: r.cells
        for r in figure_rows(
            snap.queues["support"], snap, ServerTime(ManualClock(at(120))), queue_targets(eng.config, "support")
        )
    }
    assert rows["occupancy"]["reset"].text == "66.7% / 85.0%"
    assert rows["occupancy"]["rolling"].text == "now"
