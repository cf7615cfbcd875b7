"""``transferred``: a queue call the agent passed on (queue_log BLINDTRANSFER / ATTENDEDTRANSFER, AMI AgentComplete
with Reason transfer, any feed's ``call_completed`` with ``ended_by = "transfer"``), counted once per queue entry
for the queue and once per (call, queue entry) for the agent; in the snapshot, the reports and on the TV."""

from __future__ import annotations

import itertools
import tomllib
from collections import Counter
from datetime import timedelta
from pathlib import Path

from feeds.queue_log import QueueLogFeed
from wallboard.ami.mapper import AmiMapper
from wallboard.ami.protocol import Message
from wallboard.config import LayoutConfig, load_config
from wallboard.events import CallCompleted, CallerAnswered, CallerJoined
from wallboard.projection import project_queue
from wallboard.reports.figures import agent_figures, queue_figures
from wallboard.ui.view import FIGURES

from .conftest import at

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "sample_day.queue_log"
_ids = itertools.count()


def ev(cls, t, **kw):
    return cls(id=f"x{next(_ids)}", ts=at(t), source="test", **kw)


def raw_talk() -> Counter:
    """From the raw file, independently of the feed: each agent interface's talk, the talk time field of the rows
    that end its calls (COMPLETECALLER / COMPLETEAGENT: data2; BLINDTRANSFER: data4; ATTENDEDTRANSFER: second from
    the end)."""
    where = {"COMPLETECALLER": 6, "COMPLETEAGENT": 6, "BLINDTRANSFER": 8, "ATTENDEDTRANSFER": -2}
    talk: Counter = Counter()
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        parts = line.split("|")
        if len(parts) > 4 and parts[4] in where:
            talk[parts[3]] += int(parts[where[parts[4]]])
    return talk


def raw_transfers() -> tuple[Counter, Counter, Counter]:
    """From the raw file, independently of the feed: transfer rows per queue, per agent interface, per verb."""
    per_queue: Counter = Counter()
    per_agent: Counter = Counter()
    per_verb: Counter = Counter()
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        parts = line.split("|")
        if len(parts) > 4 and parts[4] in ("BLINDTRANSFER", "ATTENDEDTRANSFER"):
            per_queue[parts[2]] += 1
            per_agent[parts[3]] += 1
            per_verb[parts[4]] += 1
    return per_queue, per_agent, per_verb


async def test_sample_day_transfers_per_queue_and_agent_from_the_raw_file(make_engine):
    per_queue, per_agent, per_verb = raw_transfers()
    assert per_verb == {"BLINDTRANSFER": 38, "ATTENDEDTRANSFER": 31}
    data = tomllib.loads((ROOT / "config" / "wallboard.toml").read_text(encoding="utf-8"))
    data.pop("redis")
    eng = await make_engine(**data)
    events = list(QueueLogFeed(SAMPLE, eng.config).read())
    for k in range(0, len(events), 5000):
        await eng.apply(events[k : k + 5000])
    end = max(e.ts for e in events) + timedelta(seconds=1)
    snap = await eng.build_snapshot(end)
    assert {q: s.transferred for q, s in snap.queues.items() if s.transferred} == dict(per_queue)
    assert snap.total.transferred == 69
    by_interface = eng.config.agent_by_interface()
    expected_agents = {by_interface.get(i, i.split("/", 1)[-1]): n for i, n in per_agent.items()}
    assert {a: s.transferred for a, s in snap.agents.items() if s.transferred} == expected_agents
    # every call over, each agent's talk is the talk of the rows that ended its calls: the one transfer with no
    # CONNECT (Tal, 1024: 238 s of sales call 1795339114.49119) included
    talk = {by_interface[i]: n for i, n in raw_talk().items()}
    assert {a: s.talk_s for a, s in snap.agents.items() if s.talk_s} == talk
    assert sum(talk.values()) == sum(s.talk_s for s in snap.queues.values()) == 364_897
    # the same day again (a re-read after a restart): nothing moves
    await eng.apply(events)
    again = await eng.build_snapshot(end)
    assert {q: s.transferred for q, s in again.queues.items()} == {q: s.transferred for q, s in snap.queues.items()}
    assert again.total.transferred == 69


async def test_a_transfer_with_no_connect_is_the_agents_talk_as_well(make_engine, tmp_path):
    # asterisk/asterisk#759: a call can end in ATTENDEDTRANSFER with no CONNECT row. The row's talk (292 s) is the
    # agent's as it is the queue's: on the call from the row's time less its talk (400 - 292 = 108: joined at 100,
    # held 8 s), not available until the transfer.
    eng = await make_engine(
        queues=[{"name": "support", "wrapup_s": 15}], agents=[{"id": "1001", "interface": "PJSIP/1001"}]
    )
    t0 = int(at(0).timestamp())
    lines = [
        (0, "NONE|support|PJSIP/1001|ADDMEMBER|"),
        (100, "c1|support|NONE|ENTERQUEUE||0501234567|1"),
        (400, "c1|support|PJSIP/1001|ATTENDEDTRANSFER|BRIDGE|b-1|8|292|1"),
    ]
    path = tmp_path / "queue_log"
    path.write_text("".join(f"{t0 + s}|{rest}\n" for s, rest in lines), encoding="utf-8")
    await eng.apply(list(QueueLogFeed(path, eng.config).read()))
    snap = await eng.build_snapshot(at(1000))
    agent, queue = snap.agents["1001"], snap.queues["support"]
    assert (queue.talk_s, agent.talk_s, agent.calls_handled, agent.transferred) == (292, 292, 1, 1)
    # available 0 -> 108 and from the end of wrap-up (400 + 15) to 1000
    assert (agent.state, agent.wrap_s, agent.available_s) == ("available", 15, 108 + 585)


async def test_once_per_queue_entry_whichever_feed_says_it(make_engine):
    eng = await make_engine()
    join = ev(CallerJoined, 0, queue="support", call_id="c1")
    ans = ev(CallerAnswered, 10, queue="support", call_id="c1", agent="1001", wait_s=10)
    done = ev(CallCompleted, 70, queue="support", call_id="c1", agent="1001", talk_s=60, ended_by="transfer")
    # the same transfer from another face (AMI beside queue_log): other ids, same meaning
    done2 = CallCompleted(**{**done.model_dump(), "id": "ami:1"})
    plain = [
        ev(CallerJoined, 100, queue="support", call_id="c2"),
        ev(CallerAnswered, 105, queue="support", call_id="c2", agent="1001", wait_s=5),
        ev(CallCompleted, 200, queue="support", call_id="c2", agent="1001", talk_s=95, ended_by="caller"),
    ]
    await eng.apply([join, ans, done, *plain])
    await eng.apply([done2, done])
    snap = await eng.build_snapshot(at(300))
    q = snap.queues["support"]
    assert (q.transferred, q.completed, q.rolling.transferred) == (1, 2, 1)
    assert snap.agents["1001"].transferred == 1 and snap.agents["1001"].calls_handled == 2
    # a re-entry of the same call id is a new entry: its transfer counts again
    await eng.apply(
        [
            ev(CallerJoined, 400, queue="support", call_id="c1"),
            ev(CallerAnswered, 402, queue="support", call_id="c1", agent="1002", wait_s=2),
            ev(CallCompleted, 450, queue="support", call_id="c1", agent="1002", talk_s=48, ended_by="transfer"),
        ]
    )
    snap = await eng.build_snapshot(at(500))
    assert snap.queues["support"].transferred == 2 and snap.total.transferred == 2
    assert snap.agents["1002"].transferred == 1


async def test_ami_agentcomplete_reason_transfer_is_counted(make_engine):
    """app_queue ends a transferred member call with AgentComplete Reason: transfer (its BlindTransfer /
    AttendedTransfer handlers); the bridge-level BlindTransfer / AttendedTransfer events themselves are not
    queue facts (they come for any call, and for failed attempts) and stay ignored."""
    eng = await make_engine()
    mapper = AmiMapper(eng.config, feed="ami")
    base = {"queue": "support", "uniqueid": "1795328857.1", "membername": "1001", "interface": "PJSIP/1001"}
    out = []
    for n, (name, extra) in enumerate(
        [
            ("QueueCallerJoin", {"position": "1", "count": "1"}),
            ("QueueCallerLeave", {"position": "1", "count": "0"}),
            ("AgentConnect", {"holdtime": "4", "ringtime": "2"}),
            ("BlindTransfer", {"result": "Success", "transfereeuniqueid": "1795328857.1"}),
            ("AgentComplete", {"holdtime": "4", "talktime": "30", "reason": "transfer"}),
        ]
    ):
        fields = {"event": name, **base, **extra, "timestamp": str(1795328857 + 10 * n)}
        out += mapper.map(Message(fields), where=str(n))
    done = [e for e in out if isinstance(e, CallCompleted)]
    assert [e.ended_by for e in done] == ["transfer"]
    await eng.apply(out)
    snap = await eng.build_snapshot(done[0].ts + timedelta(seconds=1))
    assert snap.queues["support"].transferred == 1 and snap.agents["1001"].transferred == 1


def test_shown_on_the_desk_in_reports_and_on_the_tv():
    assert ("transferred", "Transferred", "counter") in FIGURES
    fig = queue_figures({"transferred": 3, "answered": 5}, load_config(None).queue("q"))
    assert fig["transferred"] == 3
    assert agent_figures({"transferred": 2})["transferred"] == 2
    cfg = load_config(None, queues=[{"name": "q"}])
    for lang, label in (("en", "Transferred"), ("he", "הועברו")):
        layout = LayoutConfig(name="t", figures=["transferred"], language=lang)
        from wallboard.projection import layout_info

        assert layout_info(layout, cfg)["figures"] == [{"key": "transferred", "label": label, "format": "count"}]
    assert project_queue("q", None, LayoutConfig(name="t", figures=["transferred"]), cfg)["figures"][0]["key"] == (
        "transferred"
    )
