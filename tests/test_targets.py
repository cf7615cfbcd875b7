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
from wallboard.events import CallerAbandoned, CallerAnswered, CallerJoined
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
        ConfigError, match="targets.queues: queues.support: 'offered' is not a queue figure with a target"
    ):
        load_config(None, targets={"queues": {"support": {"offered": 10}}})
