"""First contact resolution attacked: callers who withhold their number are not one customer."""

from __future__ import annotations

import itertools

import pytest

from wallboard.clock import ManualClock
from wallboard.events import CallerAnswered, CallerJoined
from wallboard.history.calendar import CentreCalendar
from wallboard.reports.build import ReportRequest, build_report

from .conftest import at


@pytest.fixture(autouse=True)
def _salt(monkeypatch):
    monkeypatch.setenv("WALLBOARD_FCR_SALT", "test-salt-not-a-secret")


_ids = itertools.count()


def ev(cls, t, **kw):
    return cls(id=f"x{next(_ids)}", ts=at(t), source="test", **kw)


async def test_withheld_numbers_are_not_one_customer(make_engine, redis_client):
    # Asterisk's queue_log and AMI give a withheld caller as 'anonymous', carriers 'Restricted' or 'Private',
    # some PBXs '<unknown>' or zeros: six different people, each answered once and never calling again (each later one
    # made the one before a repeat when read as one customer).
    eng = await make_engine(queues=[{"name": "cards"}], fcr={"days": 2})
    events = []
    for i, who in enumerate(["anonymous", "anonymous", "anonymous", "Restricted", "Restricted", "0000000000"]):
        t = 600 * i
        events += [
            ev(CallerJoined, t, queue="cards", call_id=f"w{i}", caller=who),
            ev(CallerAnswered, t + 20, queue="cards", call_id=f"w{i}", agent="7", wait_s=20),
        ]
    events += [
        ev(CallerJoined, 5000, queue="cards", call_id="k1", caller="+972501111111"),
        ev(CallerAnswered, 5030, queue="cards", call_id="k1", agent="7", wait_s=30),
    ]
    await eng.apply(events)
    req = ReportRequest(CentreCalendar(eng.config.centre).period("day", at(0).date(), None), detail="day")
    rep = await build_report(redis_client, eng.config, req, keys=eng.keys, clock=ManualClock(at(3600)))
    # a withheld number identifies nobody: FCR counts only the one identified caller, resolved (as a contact
    # with no number at all); read as one customer it was 7 contacts, 4 resolved
    assert rep["fcr"]["queues"]["cards"] == {"contacts": 1, "resolved": 1, "fcr": 1.0}
