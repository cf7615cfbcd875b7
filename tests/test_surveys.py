"""Survey answers (CSAT, NPS, response rate): counted with the contact's queue entry and agent, exactly once
(re-sent, replayed, after a restart, after a crash between the two steps), against a real Redis; every expected
value counted by hand."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from wallboard import metrics
from wallboard.events import CallCompleted, CallerAnswered, CallerJoined, CallerOverflowed, SurveyResponse, parse_event

from .conftest import at

_ids = itertools.count()
H = 3600


def ev(cls, t, **kw):
    return cls(id=kw.pop("id", f"s{next(_ids)}"), ts=at(t), source="test", **kw)


def contact(queue, cid, t, agent, talk=60):
    return [
        ev(CallerJoined, t, queue=queue, call_id=cid),
        ev(CallerAnswered, t + 5, queue=queue, call_id=cid, agent=agent, wait_s=5),
        ev(CallCompleted, t + 5 + talk, queue=queue, call_id=cid, agent=agent, talk_s=talk),
    ]


def survey(queue, cid, t, score, scale="1-5", **kw):
    return ev(SurveyResponse, t, queue=queue, call_id=cid, score=score, scale=scale, **kw)


CONFIG = dict(
    queues=[{"name": "sales"}, {"name": "care"}],
    agents=[{"id": "1001", "skills": {"sales": 0}}, {"id": "1002", "skills": {"care": 0}}],
)


def day():
    """Five sales contacts (agent 1001) and one that overflows from sales into care (agent 1002); the answers
    arrive hours later, without an agent: CSAT 5, 4, 2 (1001), 3 (1002); NPS 10, 9, 7, 0 (1001), 6 (1002)."""
    calls = []
    for n in range(5):
        calls += contact("sales", f"c{n}", n * 300, "1001")
    calls += [ev(CallerJoined, 2000, queue="sales", call_id="c9")]
    calls += [ev(CallerOverflowed, 2030, queue="sales", call_id="c9", reason="timeout", wait_s=30)]
    calls += contact("care", "c9", 2030, "1002")
    later = 3 * H
    answers = [
        survey("sales", "c0", later, 5),
        survey("sales", "c0", later + 1, 10, "0-10"),
        survey("sales", "c1", later + 2, 4),
        survey("sales", "c1", later + 3, 9, "0-10"),
        survey("sales", "c2", later + 4, 2),
        survey("sales", "c3", later + 5, 7, "0-10"),
        survey("sales", "c4", later + 6, 0, "0-10"),
        survey("care", "c9", later + 7, 3),
        survey("care", "c9", later + 8, 6, "0-10"),
    ]
    return calls, answers


# by hand from day(): sales (1001) surveyed c0..c4 = 5 of 5 answered; CSAT 2 of 3 in the top box (5, 4; not 2);
# NPS 4 answers: promoters 10, 9; detractor 0; passive 7 -> (2 - 1) / 4; care (1002): 1 of 1 surveyed, CSAT 0 of
# 1, NPS 1 answer, 1 detractor -> -1
SALES = dict(surveyed=5, csat_responses=3, csat_top=2, nps_responses=4, nps_promoters=2, nps_detractors=1)
CARE = dict(surveyed=1, csat_responses=1, csat_top=0, nps_responses=1, nps_promoters=0, nps_detractors=1)


async def check(eng, now):
    snap = await eng.build_snapshot(at(now))
    for q, want in (("sales", SALES), ("care", CARE)):
        got = snap.queues[q]
        assert {k: getattr(got, k) for k in want} == want, q
    for a, want in (("1001", SALES), ("1002", CARE)):
        got = snap.agents[a]
        assert {k: getattr(got, k) for k in want} == want, a
    s = snap.queues["sales"]
    assert s.csat == pytest.approx(2 / 3)
    assert s.nps == pytest.approx(1 / 4)
    assert s.survey_rate == pytest.approx(5 / 5)
    c = snap.queues["care"]
    assert c.csat == 0 and c.nps == -1 and c.survey_rate == 1
    assert snap.total.surveyed == 6 and snap.total.nps == pytest.approx((2 - 2) / 5)
    return snap


async def test_late_answers_count_with_the_contacts_queue_and_agent_once(make_engine):
    eng = await make_engine(**CONFIG)
    calls, answers = day()
    await eng.apply(calls)
    await eng.apply(answers)
    await check(eng, 4 * H)
    # re-sent (same ids), replayed (new ids: another feed's copy), a second answer to the same question
    await eng.apply(answers)
    await eng.apply([e.model_copy(update={"id": e.id + "-again"}) for e in answers])
    await eng.apply([survey("sales", "c2", 4 * H, 5)])  # c2's CSAT was answered already: the first one stands
    # a restarted ingester: a new engine on the same Redis re-applies the whole day
    again = await make_engine(**CONFIG)
    again.keys = eng.keys
    await again.apply(calls + answers)
    await check(again, 5 * H)


async def test_a_crash_between_the_two_steps_counts_the_agent_side_once(make_engine):
    eng = await make_engine(**CONFIG)
    calls, answers = day()
    await eng.apply(calls)
    batch = eng.prepare(answers)
    await eng.queue_step(batch)  # the queue side is written; the process dies before the agent step
    await eng.apply(answers)  # the feed resumes from its saved cursor: the same answers again
    await check(eng, 4 * H)


async def test_an_unknown_contact_counts_with_the_agent_the_answer_names(make_engine):
    eng = await make_engine(**CONFIG)
    await eng.apply([survey("sales", "gone", 100, 5, agent="1001"), survey("sales", "gone2", 101, 1)])
    snap = await eng.build_snapshot(at(200))
    q = snap.queues["sales"]
    assert (q.surveyed, q.csat_responses, q.csat_top, q.survey_rate) == (2, 2, 1, None)  # nothing answered
    assert (snap.agents["1001"].surveyed, snap.agents["1001"].csat_top) == (1, 1)


def test_top_box_and_nps_classes():
    top = {"1-5": 4}
    assert [metrics.survey_class(s, "1-5", top)[1] for s in range(1, 6)] == [0, 0, 0, 1, 1]
    assert [metrics.survey_class(s, "1-7", top)[1] for s in range(1, 8)] == [0] * 5 + [1, 1]  # two highest
    assert [metrics.survey_class(s, "1-5", {"1-5": 5})[1] for s in range(1, 6)] == [0, 0, 0, 0, 1]
    assert [metrics.survey_class(s, "0-10", top)[1] for s in range(11)] == [-1] * 7 + [0, 0, 1, 1]


@pytest.mark.parametrize(
    "bad, field",
    [({"score": 6}, "score"), ({"scale": "1-100"}, "scale"), ({"score": -1}, "score"), ({"call_id": ""}, "call_id")],
)
def test_bad_answers_are_refused_naming_the_field(bad, field):
    data = {"type": "survey_response", "id": "x", "ts": "2026-11-23T09:00:00Z", "source": "t", "queue": "sales"}
    data |= {"call_id": "c1", "score": 4, "scale": "1-5"} | bad
    with pytest.raises(ValidationError) as err:
        parse_event(data)
    assert field in str(err.value)


def test_queue_log_survey_rows(tmp_path):
    from feeds.queue_log import QueueLogFeed
    from wallboard.config import load_config
    from wallboard.feed import DeadLetter

    t = int(at(0).timestamp())
    path = tmp_path / "queue_log"
    path.write_text(
        f"{t}|c1|sales|Agent/1001|SURVEY|4|1-5\n{t + 1}|c1|sales|Agent/1001|SURVEY|9|0-10\n"
        f"{t + 2}|c2|sales|NONE|SURVEY|3\n{t + 3}|c3|sales|NONE|SURVEY|x\n{t + 4}|c3|sales|NONE|SURVEY|7|1-5\n"
    )
    items = list(QueueLogFeed(str(path), load_config(None)).read())
    a, b, c, bad_score, out_of_scale = items
    assert (a.call_id, a.queue, a.agent, a.score, a.scale) == ("c1", "sales", "1001", 4, "1-5")
    assert (b.score, b.scale, c.agent, c.scale) == (9, "0-10", None, "1-5")
    assert isinstance(bad_score, DeadLetter) and "score (data1)" in bad_score.reason
    assert isinstance(out_of_scale, DeadLetter) and "score" in out_of_scale.reason


async def test_desk_drill_down_shows_each_figure_with_the_counts_it_rests_on(make_engine):
    from wallboard.clock import ManualClock
    from wallboard.livetime import ServerTime
    from wallboard.ui.view import figure_rows

    eng = await make_engine(**CONFIG)
    calls, answers = day()
    await eng.apply(calls + answers)
    snap = await eng.build_snapshot(at(4 * H))
    rows = {r.key: r.cells for r in figure_rows(snap.queues["sales"], snap, ServerTime(ManualClock(at(4 * H))))}
    shown = {k: (rows[k]["reset"].text, rows[k]["reset_num"].text, rows[k]["reset_den"].text) for k in SHOWN}
    assert shown == SHOWN


# by hand (SALES above): 2 of 3 in the top box; (2 - 1) of 4 -> +25.0; 5 contacts surveyed of 5 answered
SHOWN = {"csat": ("66.7%", "2", "3"), "nps": ("+25.0", "1", "4"), "survey_rate": ("100%", "5", "5")}


async def test_report_counts_answers_in_the_interval_they_arrive_with_the_contacts_queue_and_agent(
    make_engine, redis_client
):
    from datetime import timedelta

    from wallboard.clock import ManualClock
    from wallboard.history.calendar import CentreCalendar
    from wallboard.reports.build import ReportRequest, build_report
    from wallboard.reports.render_csv import render_csv
    from wallboard.reports.render_html import render_html

    eng = await make_engine(**CONFIG)
    calls, answers = day()
    await eng.apply(calls + answers)
    await eng.build_snapshot(at(5 * H))
    day_ = at(0).date()
    req = ReportRequest(CentreCalendar(eng.config.centre).period("day", day_, None))
    clock = ManualClock(at(0).replace(hour=0) + timedelta(days=1, hours=4))
    rep = await build_report(redis_client, eng.config, req, keys=eng.keys, clock=clock)
    sales, care = rep["queues"]["sales"], rep["queues"]["care"]
    assert {k: sales["total"][k] for k in SALES} == SALES
    assert {k: care["total"][k] for k in CARE} == CARE
    assert sales["total"]["csat"] == pytest.approx(2 / 3) and sales["total"]["nps"] == pytest.approx(0.25)
    agent = rep["agents"]["1001"]["total"]
    assert {k: agent[k] for k in SALES} == SALES
    assert agent["csat"] == pytest.approx(2 / 3) and agent["survey_rate"] == 1
    # the calls are in the 09:00-09:30 intervals, the answers in 12:00 (T0 + 3 h): counted there
    by_row = {r["start"][11:16]: r for r in sales["rows"]}
    assert by_row["12:00"]["csat_responses"] == 3 and by_row["12:00"]["answered"] == 0
    assert by_row["09:00"]["csat_responses"] == 0
    html = render_html(rep)
    assert "CSAT" in html and "+25" in html and "66.7%" in html
    header = render_csv(rep).splitlines()[0].split(",")
    assert {"queue.csat", "queue.nps", "queue.csat_responses", "agent.csat", "agent.nps"} <= set(header)
