"""Survey answers attacked: a queue_log SURVEY row a broken IVR or a hostile hand wrote, and answers for contacts
that were never answered. Each is a dead letter with its reason, never a traceback nor a count; real Redis,
the real queue_log feed and engine, expected values by hand."""

from __future__ import annotations

import json

from feeds.queue_log import QueueLogFeed
from wallboard.commands.deadletter import redrive
from wallboard.config import load_config
from wallboard.events import CallbackDone, CallerAbandoned, CallerAnswered, CallerJoined, CallerOverflowed
from wallboard.feed import DeadLetter

from .conftest import at, redis_url
from .test_http_feed import CHAT_TOKEN, TOKEN, post, running
from .test_surveys import CONFIG, contact, ev, survey


def test_a_survey_row_whose_score_int_cannot_read_is_a_dead_letter(tmp_path):
    """str.isdigit passes '²' and 5,000 nines; int() raised on both and the feed stopped on that line (a restart
    read it again: the feed could never get past it). The row after them is still read."""
    t = int(at(0).timestamp())
    path = tmp_path / "queue_log"
    path.write_text(
        f"{t}|c1|sales|NONE|SURVEY|²|1-5\n{t + 1}|c2|sales|NONE|SURVEY|{'9' * 5000}|1-5\n"
        f"{t + 2}|c3|sales|NONE|SURVEY|4|1-5\n"
    )
    superscript, huge, fine = QueueLogFeed(str(path), load_config(None)).read()
    assert (
        isinstance(superscript, DeadLetter) and superscript.reason == "SURVEY: score (data1) is not a whole number: '²'"
    )
    assert isinstance(huge, DeadLetter) and huge.reason.startswith("SURVEY: score (data1) is not a whole number: '999")
    assert (fine.call_id, fine.score) == ("c3", 4)


async def test_an_answer_for_a_contact_the_queue_never_answered_is_a_dead_letter_not_a_count(
    make_engine, redis_client, prefix
):
    """A caller still waiting, one who hung up, one who overflowed to care (the answer names sales): none spoke to
    anyone in sales, so their answers went into sales' CSAT and made its response rate 4 of 1 answered. They are
    dead letters with the reason; the answered contact and the called-back one count; an unknown contact still
    counts (docs/REPORTS.md: a contact no longer known)."""
    eng = await make_engine(redis={"prefix": prefix}, **CONFIG)  # the prefix: for the re-drive below
    await eng.apply(
        contact("sales", "ok", 0, "1001")
        + [ev(CallerJoined, 100, queue="sales", call_id="waiting")]
        + [
            ev(CallerJoined, 110, queue="sales", call_id="gone"),
            ev(CallerAbandoned, 130, queue="sales", call_id="gone", wait_s=20),
        ]
        + [ev(CallerJoined, 140, queue="sales", call_id="moved")]
        + [ev(CallerOverflowed, 170, queue="sales", call_id="moved", reason="timeout", wait_s=30)]
        + contact("care", "moved", 170, "1002")
        + [ev(CallerJoined, 200, queue="sales", call_id="cb")]
        + [ev(CallerOverflowed, 210, queue="sales", call_id="cb", reason="callback", wait_s=10)]
        + [ev(CallbackDone, 600, queue="sales", call_id="cb", agent="1001")]
    )
    answers = [survey("sales", cid, 900 + n, 5, id=f"v-{cid}") for n, cid in enumerate(("ok", "waiting", "gone"))]
    answers += [survey("sales", "moved", 903, 5, id="v-moved"), survey("sales", "cb", 904, 5, id="v-cb")]
    res = await eng.apply(answers + [survey("sales", "unknown", 950, 1), survey("care", "moved", 960, 4)])
    assert sorted(d.reason.split("'")[1] for d in res.rejected) == ["gone", "moved", "waiting"]
    assert res.rejected[0].reason == (
        "survey_response: contact 'waiting' was not answered in queue 'sales' (still waiting, abandoned or "
        "overflowed): the answer is not counted"
    )
    letters = await redis_client.xrange(eng.keys.deadletter)
    assert sorted(json.loads(f["raw"])["id"] for _, f in letters) == ["v-gone", "v-moved", "v-waiting"]
    snap = await eng.build_snapshot(at(1000))
    sales, care = snap.queues["sales"], snap.queues["care"]
    # by hand: sales counts ok (5), cb (5) and unknown (1): 3 surveyed, 2 of 3 in the top box; care: moved (4)
    assert (sales.surveyed, sales.csat_responses, sales.csat_top) == (3, 3, 2)
    assert (care.surveyed, care.csat_responses, care.csat_top) == (1, 1, 1)
    # re-applied (a restart re-reads the feed): still refused, nothing counted twice, one dead letter each
    assert len((await eng.apply(answers)).rejected) == 3
    assert len(await redis_client.xrange(eng.keys.deadletter)) == 3
    assert (await eng.build_snapshot(at(1000))).queues["sales"].surveyed == 3
    # `wallboard deadletter --redrive` applies the events again: still refused, they stay (not settled away)
    redriven = await redrive(redis_client, eng.config)
    assert (redriven.redriven, redriven.still_rejected, redriven.cannot) == (0, 3, {})
    assert [f["source"] for _, f in await redis_client.xrange(eng.keys.deadletter)] == ["engine:test"] * 3
    # the PBX feed was behind: the waiting caller's answer arrives after the survey; a re-drive counts it now
    await eng.apply([ev(CallerAnswered, 150, queue="sales", call_id="waiting", agent="1001", wait_s=50)])
    redriven = await redrive(redis_client, eng.config)
    assert (redriven.redriven, redriven.still_rejected) == (1, 2)
    assert sorted(json.loads(f["raw"])["id"] for _, f in await redis_client.xrange(eng.keys.deadletter)) == [
        "v-gone",
        "v-moved",
    ]
    snap = await eng.build_snapshot(at(1000))
    assert (snap.queues["sales"].surveyed, snap.queues["sales"].csat_top) == (4, 3)
    # ok and waiting (5s); cb's callback names no answering agent in the entry, so its answer is the queue's only
    assert (snap.agents["1001"].surveyed, snap.agents["1001"].csat_top) == (2, 2)


async def test_an_answer_dated_before_the_contact_is_the_contacts_and_counted_once(make_engine):
    """The IVR's clock is two minutes behind the PBX's: its answer is dated before the call joined. The same answer
    through the http feed (another id, the right time) must not count a second time, and the agent is the one who
    answered, not none."""
    eng = await make_engine(**CONFIG)
    await eng.apply(contact("sales", "b1", 1000, "1001"))
    await eng.apply([survey("sales", "b1", 900, 5, id="ivr-copy")])
    await eng.apply([survey("sales", "b1", 1120, 5, id="http-copy")])
    snap = await eng.build_snapshot(at(1300))
    sales, agent = snap.queues["sales"], snap.agents["1001"]
    assert (sales.surveyed, sales.csat_responses, sales.csat_top) == (1, 1, 1)
    assert (agent.surveyed, agent.csat_responses, agent.csat_top) == (1, 1, 1)


async def test_a_yes_no_answer_posted_as_a_score_is_rejected_naming_score(redis_client, prefix, monkeypatch):
    """A post-chat form posts "score": true for a thumbs-up: pydantic took it as 1, the worst CSAT score."""
    monkeypatch.setenv("WB_TEST_HTTP_EDGE", TOKEN)
    monkeypatch.setenv("WB_TEST_HTTP_CHAT", CHAT_TOKEN)
    async with running(redis_client, prefix) as (ing, feed, url, session):
        answer = {"type": "survey_response", "ts": at(3600).isoformat(), "queue": "support", "call_id": "c1"}
        status, body, _ = await post(session, url + "/events", [{**answer, "id": "yes", "score": True}])
        assert status == 202 and body["accepted"] == 0
        assert body["rejected"] == [
            {"index": 0, "reason": "survey_response.score: Value error, true is a yes/no, not a score on the scale"}
        ]
        status, body, _ = await post(session, url + "/events", [{**answer, "id": "four", "score": 4}])
        assert (status, body["accepted"], body["rejected"]) == (202, 1, [])


async def test_a_replay_reports_the_answers_it_does_not_count(redis_client, prefix, tmp_path):
    """`wallboard replay` of a queue_log with a SURVEY row for a caller who hung up: a rejected record, as live."""
    from wallboard.replay import replay

    t = int(at(0).timestamp())
    path = tmp_path / "queue_log"
    path.write_text(
        f"{t}|c1|sales|NONE|ENTERQUEUE||5551234|1\n{t + 20}|c1|sales|NONE|ABANDON|1|1|20\n"
        f"{t + 300}|c1|sales|NONE|SURVEY|5|1-5\n"
    )
    config = load_config(None, redis={"prefix": prefix}, **CONFIG)
    snap, stats = await replay(QueueLogFeed(str(path), config), config, redis_url=redis_url(), prefix=prefix)
    assert stats.dead_letters == 1 and stats.rejected[0].reason.startswith("survey_response: contact 'c1' was not")
    assert (snap.queues["sales"].abandoned, snap.queues["sales"].surveyed) == (1, 0)


async def test_an_answer_counted_before_its_contact_was_known_is_not_counted_again(make_engine):
    """The PBX feed is behind: the answer arrives first and counts for a contact not yet known (with the agent it
    names). The feed catches up with the call; the survey platform re-sends the answer (no 202 seen; the http
    ingester restarted, so its memory of ids is gone). It must not count a second time, for the queue or the
    agent."""
    eng = await make_engine(**CONFIG)
    first = survey("sales", "lag", 400, 5, id="lag:csat", agent="1001")
    await eng.apply([first])
    await eng.apply(contact("sales", "lag", 0, "1001"))
    await eng.apply([first])
    await eng.apply([survey("sales", "lag", 410, 9, "0-10", id="lag:nps")])  # the other question: counted, once
    snap = await eng.build_snapshot(at(600))
    sales, agent = snap.queues["sales"], snap.agents["1001"]
    assert (sales.surveyed, sales.csat_responses, sales.nps_responses, sales.answered) == (1, 1, 1, 1)
    assert (agent.surveyed, agent.csat_responses, agent.csat_top, agent.nps_responses) == (1, 1, 1, 1)
