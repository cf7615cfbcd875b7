"""First contact resolution attacked: callers who withhold their number are not one customer."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from wallboard.cli import main as cli_main
from wallboard.clock import ManualClock
from wallboard.events import CallerAnswered, CallerJoined
from wallboard.history.calendar import CentreCalendar
from wallboard.keys import Keys
from wallboard.reports.build import ReportRequest, build_report

from .conftest import at, redis_url


@pytest.fixture(autouse=True)
def _salt(monkeypatch):
    monkeypatch.setenv("WALLBOARD_FCR_SALT", "test-salt-not-a-secret")


_ids = itertools.count()


def ev(cls, t, **kw):
    return cls(id=f"x{next(_ids)}", ts=at(t), source="test", **kw)


async def test_withheld_numbers_are_not_one_customer(make_engine, redis_client):
    # Asterisk's queue_log and AMI give a withheld caller as 'anonymous', carriers 'Restricted' or 'Private',
    # some PBXs '<unknown>' or zeros: seven different people, each answered once and never calling again (each
    # later one made the one before a repeat when read as one customer).
    eng = await make_engine(queues=[{"name": "cards"}], fcr={"days": 2})
    events = []
    for i, who in enumerate(
        ["anonymous", "anonymous", "<unknown>", "Restricted", "Restricted", "0000000000", "sip:anonymous@x.invalid"]
    ):
        t = 600 * i
        events += [
            ev(CallerJoined, t, queue="cards", call_id=f"w{i}", caller=who),
            ev(CallerAnswered, t + 20, queue="cards", call_id=f"w{i}", agent="7", wait_s=20),
        ]
    # identified: a chat visitor's id with no digit at all, who comes back; a number, once
    for n, t in enumerate((4300, 4600)):
        events += [
            ev(CallerJoined, t, queue="cards", call_id=f"j{n}", caller="jane@example.com"),
            ev(CallerAnswered, t + 10, queue="cards", call_id=f"j{n}", agent="7", wait_s=10),
        ]
    events += [
        ev(CallerJoined, 5000, queue="cards", call_id="k1", caller="+972501111111"),
        ev(CallerAnswered, 5030, queue="cards", call_id="k1", agent="7", wait_s=30),
    ]
    await eng.apply(events)
    req = ReportRequest(CentreCalendar(eng.config.centre).period("day", at(0).date(), None), detail="day")
    rep = await build_report(redis_client, eng.config, req, keys=eng.keys, clock=ManualClock(at(6000)))
    # a withheld number identifies nobody: FCR counts the identified callers only (as a contact with no number
    # at all): jane's first contact repeated, her second and the number's resolved; 3 contacts, 2 resolved.
    # Read as customers, the withheld ones made 10 contacts, 7 resolved
    assert rep["fcr"]["queues"]["cards"] == {"contacts": 3, "resolved": 2, "fcr": 2 / 3}


async def test_the_dead_letter_listing_masks_the_customer_as_the_caller(redis_client, prefix, capsys, monkeypatch):
    # FCR keeps a customer only as a salted hash; a dead letter keeps its raw input, and the listing masked the
    # caller's number there but showed the customer's CRM id and a chat visitor's id in full
    dl = Keys(prefix).deadletter
    raws = [
        '{"type": "caller_joined", "queue": "q", "call_id": "c1", "customer": "CRM-alice-4242"}',
        '{"type": "conversation.started", "customer": {"id": "visitor-bob-7777"}, "conversation": {}}',
    ]
    try:
        for raw in raws:
            await redis_client.xadd(dl, {"source": "t", "reason": "bad", "raw": raw})
        monkeypatch.setenv("REDIS_URL", redis_url())
        for args in (["deadletter"], ["deadletter", "--json"]):
            assert await asyncio.to_thread(cli_main, [*args, "--prefix", prefix]) == 0
            out = capsys.readouterr().out
            assert "alice" not in out and "bob" not in out, out
            assert "***4242" in out and "***7777" in out and "conversation.started" in out
    finally:
        await redis_client.delete(dl)
