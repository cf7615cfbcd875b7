"""Agent scorecards (`wallboard report --scorecard`): each figure by hand from a small day of events, beside its
target, met or missed; a team lead's role sees only its team. Real Redis, the real report path."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
from datetime import timedelta

import pytest

from wallboard.cli import main as cli_main
from wallboard.clock import ManualClock
from wallboard.config import ConfigError
from wallboard.events import (
    AgentMissed,
    AgentStateChanged,
    CallCompleted,
    CallerAnswered,
    CallerJoined,
    SurveyResponse,
    WrapupCompleted,
)
from wallboard.history.calendar import CentreCalendar
from wallboard.reports.build import ReportError, ReportRequest, build_report
from wallboard.reports.render_html import render_scorecard_html
from wallboard.reports.scorecard import render_csv, scorecards

from .conftest import at, redis_url

_ids = itertools.count()
M = 60


def ev(cls, t, **kw):
    return cls(id=f"sc{next(_ids)}", ts=at(t), source="test", **kw)


def state(agent, t, st, **kw):
    return ev(AgentStateChanged, t, agent=agent, state=st, **kw)


def call(queue, cid, agent, t_join, wait, talk, wrap):
    """A queue call answered by ``agent``: on call, wrap-up, available again."""
    ans = t_join + wait
    return [
        ev(CallerJoined, t_join, queue=queue, call_id=cid),
        ev(CallerAnswered, ans, queue=queue, call_id=cid, agent=agent, wait_s=wait),
        state(agent, ans, "on_call", queue=queue, call_id=cid),
        ev(CallCompleted, ans + talk, queue=queue, call_id=cid, agent=agent, talk_s=talk),
        state(agent, ans + talk, "wrap_up", queue=queue, call_id=cid),
        ev(WrapupCompleted, ans + talk + wrap, queue=queue, call_id=cid, agent=agent, wrap_s=wrap),
        state(agent, ans + talk + wrap, "available"),
    ]


def day() -> list:
    """T0 = 09:00 UTC. Agent 1001 (sales): logged in 09:00-11:00; c1 answered 09:05:10, talk 600 s, wrap 60 s;
    c2 rings 1001 unanswered (missed) then is answered 09:31, talk 300 s, wrap 60 s; paused 10:00-10:30; surveys
    c1 = 5, c2 = 3. Agent 1002 (care): one call 09:10, talk 120 s, wrap 0; logged in 09:00-10:00."""
    a = [state("1001", 0, "available"), state("1002", 0, "available")]
    a += call("sales", "c1", "1001", 5 * M, 10, 600, 60)
    a += [ev(AgentMissed, 30 * M + 20, agent="1001", queue="sales", call_id="c2", ring_s=15)]
    a += call("sales", "c2", "1001", 30 * M, 60, 300, 60)
    a += [state("1001", 60 * M, "paused", reason="lunch"), state("1001", 90 * M, "available")]
    a += [state("1001", 120 * M, "logged_out")]
    a += call("care", "c9", "1002", 10 * M, 0, 120, 0)
    a += [state("1002", 60 * M, "logged_out")]
    a += [ev(SurveyResponse, 150 * M, queue="sales", call_id=c, score=s) for c, s in (("c1", 5), ("c2", 3))]
    return sorted(a, key=lambda e: e.ts)


CONFIG = dict(
    centre={"timezone": "UTC"},
    queues=[{"name": "sales"}, {"name": "care"}],
    agents=[
        {"id": "1001", "name": "Dana", "skills": {"sales": 0}},
        {"id": "1002", "name": "Omer", "skills": {"care": 0}},
    ],
    roles={"care_lead": {"queues": ["care"]}},
    targets={
        "agents": {"calls_per_hour": 8, "occupancy": 0.15, "answer_rate": 0.9, "aht_s": 600, "csat": 0.5, "missed": 0}
    },
)

# Dana by hand: logged in 09:00-11:00 = 7200 s; on call 600 + 300 = 900 s, wrap-up 60 + 60 = 120 s, paused
# 1800 s, so available 7200 - 900 - 120 - 1800 = 4380 s
DANA = {
    "calls_handled": (2, None, None),
    "calls_per_hour": (2 / 2.0, 8, False),  # 2 calls in 2 logged-in hours
    "occupancy": ((900 + 120) / (900 + 120 + 4380), 0.15, True),
    "answer_rate": (2 / (2 + 1), 0.9, False),  # 2 answered of 3 offered (one ring missed)
    "aht_s": ((900 + 120) / 2, 600, True),  # 510 s, at most 600
    "conversations_handled": (0, None, None),  # voice only: no written work, no written handle time
    "written_handle_s": (None, None, None),
    "missed": (1, 0, False),
    "outbound_calls": (0, None, None),  # queue_log and this day have no outbound dialling
    "dial_attempts": (0, None, None),
    "csat": (1 / 2, 0.5, True),  # the 5 is in the top box, the 3 is not; 50 % meets 50 %
    "csat_responses": (2, None, None),
}


def check(card: list[dict], want: dict) -> None:
    got = {f["figure"]: (f["value"], f["target"], f["met"]) for f in card}
    assert set(got) == set(want)
    for k, (v, target, met) in want.items():
        assert got[k][0] == pytest.approx(v), k
        assert got[k][1:] == (target, met), k


async def report(eng, redis_client, kind="day", later_days=1, **kw):
    cal = CentreCalendar(eng.config.centre)
    req = ReportRequest(cal.period(kind, at(0).date(), None), detail="day", **kw)
    clock = ManualClock(at(0) + timedelta(days=later_days))
    return await build_report(redis_client, eng.config, req, keys=eng.keys, clock=clock)


async def test_scorecard_figures_targets_and_team(make_engine, redis_client):
    eng = await make_engine(**CONFIG)
    await eng.apply(day())
    rep = await report(eng, redis_client, kind="week")
    doc = scorecards(rep, eng.config)
    dana = doc["agents"]["1001"]
    check(dana["total"], DANA)
    assert dana["logged_in_s"] == 7200
    [row] = dana["rows"]  # the week's one day with data
    check(row["figures"], DANA)
    omer = {f["figure"]: f["value"] for f in doc["agents"]["1002"]["total"]}
    assert omer["calls_per_hour"] == pytest.approx(1.0) and omer["aht_s"] == 120 and omer["answer_rate"] == 1
    # CSV: a row per agent and day, each figure with its target and met/missed
    rows = list(csv.DictReader(io.StringIO(render_csv(doc))))
    dana_total = next(r for r in rows if r["agent"] == "1001" and r["row"] == "total")
    assert (dana_total["calls_per_hour"], dana_total["calls_per_hour.target"], dana_total["calls_per_hour.met"]) == (
        "1",
        "8",
        "missed",
    )
    assert (dana_total["aht_s"], dana_total["aht_s.met"], dana_total["csat.met"]) == ("510", "met", "met")
    html = render_scorecard_html(doc)
    assert "Dana" in html and '1.0 <span class="target">/ 8.0</span>' in html and "8:30" in html

    # a team lead (role care_lead: queue care) sees Omer only; asking for Dana is refused, naming the team
    team = await report(eng, redis_client, team=["care"], team_name="care_lead")
    assert set(team["agents"]) == {"1002"} and set(team["queues"]) == {"care"}
    with pytest.raises(ReportError, match="agent '1001' is not in care_lead's team"):
        await report(eng, redis_client, agents=["1001"], team=["care"], team_name="care_lead")
    with pytest.raises(ReportError, match="queue 'sales' is not in care_lead's queues"):
        await report(eng, redis_client, queues=["sales"], team=["care"], team_name="care_lead")


async def test_scorecard_command(make_engine, redis_client, tmp_path, capsys):
    eng = await make_engine(**CONFIG)
    await eng.apply(day())
    cfg = tmp_path / "wallboard.toml"
    cfg.write_text(
        '[centre]\ntimezone = "UTC"\n[[queues]]\nname = "sales"\n[[queues]]\nname = "care"\n'
        '[[agents]]\nid = "1001"\nname = "Dana"\nskills = {sales = 0}\n'
        '[[agents]]\nid = "1002"\nname = "Omer"\nskills = {care = 0}\n'
        '[roles.care_lead]\nqueues = ["care"]\n[targets.agents]\ncalls_per_hour = 8\n'
    )
    base = ["report", "--config", str(cfg), "--redis", redis_url(), "--prefix", eng.keys.prefix]
    base += ["--from", at(0).date().isoformat(), "--scorecard"]
    out = tmp_path / "card.json"
    assert await asyncio.to_thread(cli_main, [*base, "--agent", "1001", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "scorecard" and list(doc["agents"]) == ["1001"]
    assert await asyncio.to_thread(cli_main, [*base, "--role", "care_lead", "--agent", "1001"]) == 1
    assert "agent '1001' is not in care_lead's team" in capsys.readouterr().err
    assert await asyncio.to_thread(cli_main, [*base, "--role", "nobody"]) == 2
    assert "unknown --role 'nobody'; roles: care_lead" in capsys.readouterr().err


async def test_desk_agent_card_shows_today_beside_targets_and_keeps_a_team_lead_to_the_team(namespace):
    """Enter on an agent opens the card: today's figures from the snapshot beside [targets.agents]; a team lead
    (role limited to tech) gets no card for a support agent."""
    from wallboard.ui.screens import AgentCardScreen
    from wallboard.ui.tables import KeyedTable

    from .test_tui import T0, ROLES, seq_is, snapshot, store_sync, token_for, until

    snap = snapshot(3)
    a = snap.agents["1002"]  # Dana: 27 calls; by hand below: 2 h logged in, 1,800 s on call, 600 s wrap-up
    snap.agents["1002"] = a.model_copy(
        update={
            "talk_s": 1800.0,
            "wrap_s": 600.0,
            "available_s": 4200.0,
            "pause_s": 600.0,
            "missed": 3,
            "csat_responses": 4,
            "csat_top": 3,
        }
    )
    store_sync(namespace, snap)
    from wallboard.clock import ManualClock
    from wallboard.config import load_config
    from wallboard.ui.app import build_desk_app

    from .conftest import redis_url

    def desk(user: str):
        config = load_config(
            None,
            redis={"prefix": namespace, "url": redis_url()},
            centre={"timezone": "UTC"},
            roles={**ROLES, "tech_lead": {"permissions": ["ack"], "queues": ["tech"]}},
            users=[{"name": "dana", "roles": ["desk"]}, {"name": "rina", "roles": ["tech_lead"]}],
            targets={"agents": {"calls_per_hour": 12, "answer_rate": 0.95, "csat": 0.7}},
        )
        return build_desk_app(config, redis_url(), user=user, clock=ManualClock(T0), token=token_for(user))

    app = desk("dana")
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, seq_is(app, 3), "the stored snapshot")
        table = app.query_one("#agents", KeyedTable)
        table.focus()
        table.select_key("1002")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AgentCardScreen), "the card")
        card = app.screen.query_one("#card", KeyedTable)
        shown = {k: [str(card.get_cell(k, c)) for c in ("today", "target", "met")] for k in card.rows}
        # by hand: 27 calls in (1800 + 600 + 4200 + 600) s = 2 h -> 13.5 an hour (target 12: met); 27 of 27 + 3
        # rang -> 90.0 % (target 95 %: missed); AHT (1800 + 600) / 27 = 88.9 s; CSAT 3 of 4 = 75 %: met
        assert shown["calls_per_hour"] == ["13.5", "12.0", "met"]
        assert shown["answer_rate"] == ["90.0%", "95.0%", "missed"]
        assert shown["aht_s"] == ["1:28", "", ""]  # 88.9 s: the desk shows whole seconds, as its other durations
        assert shown["csat"] == ["75.0%", "70.0%", "met"]
        await pilot.press("escape")

    lead = desk("rina")
    async with lead.run_test(size=(140, 40)) as pilot:
        await until(pilot, seq_is(lead, 3), "the stored snapshot")
        table = lead.query_one("#agents", KeyedTable)
        table.focus()
        table.select_key("1002")  # support only: not rina's team
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(lead.screen, AgentCardScreen)
        table.select_key("1003")  # tech: her team
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(lead.screen, AgentCardScreen), "the team member's card")


D = 86400


def second_day() -> list:
    """Dana on T0's day + 1: logged in 09:00-10:00 (3,600 s), one call c3 answered 09:05:10, talk 300 s, wrap
    60 s, no miss; its survey (5) arrives the day after, when she is not logged in."""
    a = [state("1001", D, "available")]
    a += call("sales", "c3", "1001", D + 5 * M, 10, 300, 60)
    a += [state("1001", D + 60 * M, "logged_out")]
    a += [ev(SurveyResponse, 2 * D + 60 * M, queue="sales", call_id="c3", score=5)]
    return a


PERIOD_TARGETS = {
    "calls_handled": 2,  # a bare count: per day logged in
    "missed": {"day": 0, "week": 1},  # the week's own number beats the day's times the days
    "occupancy": {"day": 0.15, "week": 0.2},  # a ratio: the period's, never scaled
    "answer_rate": 0.9,
}


async def test_scorecard_targets_by_period(make_engine, redis_client):
    """Counted figures are judged per day logged in; a period's own number wins; ratios take the period's.
    By hand (Dana): day 1 = day() (2 calls, 1 miss, occupancy 1,020 / 5,400), day 2 = 1 call, 0 misses,
    occupancy (300 + 60) / 3,600 = 0.1; day 3 only a survey (not logged in)."""
    eng = await make_engine(**{**CONFIG, "targets": {"agents": PERIOD_TARGETS}})
    await eng.apply(day() + second_day())
    doc = scorecards(await report(eng, redis_client, kind="week", later_days=3), eng.config)
    dana = doc["agents"]["1001"]

    def figs(card):
        return {f["figure"]: (f["value"], f["target"], f["met"]) for f in card if f["target"] is not None}

    assert dana["days_logged_in"] == 2  # the survey-only day is no day worked
    assert dana["targets"] == {"calls_handled": 4, "missed": 1, "occupancy": 0.2, "answer_rate": 0.9}
    week = figs(dana["total"])
    assert week["calls_handled"] == (3, 4, False)  # 2 a day x 2 days logged in; 3 handled
    assert week["missed"] == (1, 1, True)  # the week's own target (scaled, 0 x 2 = 0, it would be missed)
    assert week["occupancy"][1:] == (0.2, False)  # (1,020 + 360) / (5,400 + 3,600) = 0.1533 < the week's 0.2
    assert week["occupancy"][0] == pytest.approx(1380 / 9000)
    assert week["answer_rate"][1:] == (0.9, False) and week["answer_rate"][0] == pytest.approx(3 / 4)
    d1, d2, d3 = (figs(r["figures"]) for r in dana["rows"])
    assert d1["calls_handled"] == (2, 2, True) and d1["missed"] == (1, 0, False)
    assert d1["occupancy"][1:] == (0.15, True)  # 0.1889 against the day's 0.15
    assert d2["calls_handled"] == (1, 2, False) and d2["missed"] == (0, 0, True)
    assert d2["occupancy"] == (pytest.approx(0.1), 0.15, False)
    assert "calls_handled" not in d3 and "missed" not in d3  # not logged in: no count to reach
    # Omer: logged in on day 1 only: 1 call against 2 x 1
    omer = figs(doc["agents"]["1002"]["total"])
    assert omer["calls_handled"] == (1, 2, False)

    # the month has no numbers of its own: counts scale by the days, ratios take the day's
    month = scorecards(await report(eng, redis_client, kind="month", later_days=3), eng.config)["agents"]["1001"]
    assert month["targets"] == {"calls_handled": 4, "missed": 0, "occupancy": 0.15, "answer_rate": 0.9}
    m = figs(month["total"])
    assert m["missed"] == (1, 0, False) and m["occupancy"][2] is True  # 0.1533 >= 0.15


async def test_scorecard_interval_rows_carry_ratio_targets_only(make_engine, redis_client):
    """One day cut into intervals: ratios against the day's targets, counts not at all (a count's is per day)."""
    eng = await make_engine(**{**CONFIG, "targets": {"agents": PERIOD_TARGETS}})
    await eng.apply(day())
    cal = CentreCalendar(eng.config.centre)
    req = ReportRequest(cal.period("day", at(0).date(), None), detail="interval")
    rep = await build_report(redis_client, eng.config, req, keys=eng.keys, clock=ManualClock(at(0) + timedelta(days=1)))
    dana = scorecards(rep, eng.config)["agents"]["1001"]
    assert dana["days_logged_in"] == 1 and dana["targets"]["calls_handled"] == 2  # the day's, one day
    first = {f["figure"]: f["target"] for f in dana["rows"][0]["figures"] if f["target"] is not None}
    assert first == {"occupancy": 0.15, "answer_rate": 0.9}  # 09:00-09:15: no per-interval count target


def test_live_card_holds_today_to_the_day_target():
    """The desk's card: the day's numbers (a week's own is not today's)."""
    from wallboard.config import load_config
    from wallboard.reports.scorecard import live_card
    from wallboard.snapshot import AgentSnapshot

    config = load_config(None, targets={"agents": {"calls_handled": {"day": 20, "week": 90}, "occupancy": 0.8}})
    agent = AgentSnapshot(calls_handled=21, talk_s=600.0, wrap_s=0.0, available_s=600.0)
    got = {f["figure"]: (f["value"], f["target"], f["met"]) for f in live_card(agent, config) if f["target"]}
    assert got == {"calls_handled": (21, 20, True), "occupancy": (0.5, 0.8, False)}  # 600 / 1,200


def test_agent_period_target_is_checked():
    from wallboard.config import load_config

    with pytest.raises(ConfigError, match="weak"):
        load_config(None, targets={"agents": {"missed": {"day": 1, "weak": 2}}})


async def test_report_for_an_agent_is_the_agents_scorecard(make_engine, redis_client, tmp_path):
    """`wallboard report --agent ID` gives the agent's scorecard (the issue's words); --no-scorecard the queue
    and agent report limited to them."""
    eng = await make_engine(**CONFIG)
    await eng.apply(day())
    cfg = tmp_path / "wallboard.toml"
    cfg.write_text(
        '[centre]\ntimezone = "UTC"\n[[queues]]\nname = "sales"\n[[queues]]\nname = "care"\n'
        '[[agents]]\nid = "1001"\nname = "Dana"\nskills = {sales = 0}\n[targets.agents]\ncalls_per_hour = 8\n'
    )
    base = ["report", "--config", str(cfg), "--redis", redis_url(), "--prefix", eng.keys.prefix]
    base += ["--from", at(0).date().isoformat(), "--agent", "1001"]
    out = tmp_path / "out.csv"
    assert await asyncio.to_thread(cli_main, [*base, "--format", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    # Dana's card: 2 calls in 2 logged-in hours against 8 an hour
    assert [(r["agent"], r["row"], r["calls_per_hour"], r["calls_per_hour.met"]) for r in rows][0] == (
        "1001",
        "total",
        "1",
        "missed",
    )
    assert await asyncio.to_thread(cli_main, [*base, "--no-scorecard", "-o", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert "kind" not in rep and list(rep["agents"]) == ["1001"] and set(rep["queues"]) == {"sales", "care"}


async def _open_dana_s_card(pilot, app, sync, want: str) -> None:
    """Dana's card opened from the agents table, and the desk's request for a full snapshot seen (asked anew)."""
    from wallboard.ui.screens import AgentCardScreen
    from wallboard.ui.tables import KeyedTable

    from .test_tui import until

    sync.delete(want)
    table = app.query_one("#agents", KeyedTable)
    table.focus()
    table.select_key("1002")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, AgentCardScreen), "the card")
    await until(pilot, lambda: sync.get(want) is not None, "the desk asking for a full snapshot")


def _dana_s_day():
    """The snapshot of seq 3 with Dana (agent 1002: 27 calls) at 1,800 s talking, 600 in wrap-up, 4,200 available
    and 600 paused; and Dana."""
    from .test_tui import snapshot

    three = snapshot(3)
    dana = three.agents["1002"].model_copy(
        update={"talk_s": 1800.0, "wrap_s": 600.0, "available_s": 4200.0, "pause_s": 600.0}
    )
    three.agents["1002"] = dana
    return three, dana


async def _dana_s_card_opened(pilot, app, sync, want: str, namespace: str, four):
    """The desk holding the stored snapshot (seq 3), then ``four`` (published before the card is open), then Dana's
    card opened; the desk's client."""
    from .test_tui import publish, seq_is, until

    client = await app.reader.client()
    await until(pilot, seq_is(app, 3), "the stored snapshot")
    await publish(client, namespace, four)
    await until(pilot, seq_is(app, 4), "the ticked snapshot")
    await _open_dana_s_card(pilot, app, sync, want)
    return client


def _dana_s_desk(namespace: str):
    """The desk of Dana (the user whose card is opened), its key for a full snapshot asked, a sync client, and
    what her card says of her calls an hour (today, met)."""
    import redis as sync_redis

    from wallboard.clock import ManualClock
    from wallboard.config import load_config
    from wallboard.keys import Keys
    from wallboard.ui.app import build_desk_app
    from wallboard.ui.tables import KeyedTable

    from .conftest import redis_url
    from .test_tui import T0, ROLES, token_for

    config = load_config(
        None,
        redis={"prefix": namespace, "url": redis_url()},
        centre={"timezone": "UTC"},
        roles=ROLES,
        users=[{"name": "dana", "roles": ["desk"]}],
        targets={"agents": {"calls_per_hour": 12}},
    )
    app = build_desk_app(config, redis_url(), user="dana", clock=ManualClock(T0), token=token_for("dana"))
    want = Keys(namespace).snap_want
    sync = sync_redis.Redis.from_url(redis_url(), decode_responses=True)

    def per_hour() -> list[str]:
        card = app.screen.query_one("#card", KeyedTable)
        return [str(card.get_cell("calls_per_hour", c)) for c in ("today", "met")]

    return app, want, sync, per_hour


async def test_desk_agent_card_follows_the_time_an_agent_spends_in_a_state_it_stays_in(namespace):
    """The card's rates rest on the agent's seconds in each state (``live_card``: talk, wrap-up, available,
    paused), which move while the agent stays in one state and nothing else about it changes. The desk's source
    leaves those as the agent's last change brought them (``SnapshotSource``: its rows show none), but not for
    an agent whose card is open: a full part brings them up to date there, and opening the card asks the owner
    for one (``P:{c}:snap:want``)."""

    from .test_tui import publish, store_sync, until

    three, dana = _dana_s_day()

    def ticked(seq: int, available_s: float):
        # only Dana's seconds available moved (she stays available): her JSON is the same but for them
        agents = {**three.agents, "1002": dana.model_copy(update={"available_s": available_s})}
        return three.model_copy(update={"seq": seq, "agents": agents})

    store_sync(namespace, three)
    app, want, sync, per_hour = _dana_s_desk(namespace)

    async with app.run_test(size=(140, 40)) as pilot:
        # before the card is open: 1 h more available (by hand: 27 calls in 3 h -> 9.0 an hour, target 12 missed)
        client = await _dana_s_card_opened(pilot, app, sync, want, namespace, ticked(4, 7800.0))
        await publish(client, namespace, ticked(5, 7800.0))  # the owner's answer: a full one
        await until(pilot, lambda: per_hour() == ["9.0", "missed"], "27 calls in 3 h logged in")
        # the card open: another 3 h available -> 27 calls in 6 h = 4.5 an hour
        await publish(client, namespace, ticked(6, 18600.0))
        await until(pilot, lambda: per_hour() == ["4.5", "missed"], "27 calls in 6 h logged in")
        await pilot.press("escape")
    sync.delete(want)
    sync.close()


async def test_desk_agent_card_takes_the_full_part_sent_after_its_delta(namespace):
    """The owner sends a full snapshot with the delta to it first (``DeltaPublisher._send``: the delta, then both
    parts, all of one seq and time). With a card open the desk reads the full agents part: it brings the card's
    agent's seconds in each state up to date (``live_card`` rests on them). The delta before it, which moved
    another agent, already gave the desk an agents part of that seq and time: the full part that follows is not
    that part seen twice, and is taken. (Here the desk has taken the delta's part before the full parts come: at
    5,000 agents reading the full agents part takes tens of milliseconds, during which the desk handles it.)"""

    from wallboard.delta import Delta
    from wallboard.keys import Keys

    from .test_tui import T0, store_sync, until

    three, dana = _dana_s_day()

    def part(seq: int, available_s: float, other: str = "available"):
        # Dana stays available (only her seconds available move); agent 1003 changes state at times
        agents = {
            **three.agents,
            "1002": dana.model_copy(update={"available_s": available_s}),
            "1003": three.agents["1003"].model_copy(update={"state": other, "reason": None}),
        }
        return three.model_copy(update={"seq": seq, "at": T0 + timedelta(seconds=seq), "agents": agents})

    async def full_with_delta(pilot, client, snap, moved: str) -> None:
        # as the owner's ``_send`` at a full publish: both parts stored, the delta published, then both parts
        keys = Keys(namespace)
        d = Delta(
            seq=snap.seq,
            at=snap.at,
            window=snap.window,
            agents={moved: snap.agents[moved]},
            total=snap.total,
            dead_letters=snap.dead_letters,
        )
        pipe = client.pipeline(transaction=False)
        pipe.set(keys.summary, snap.summary_json())
        pipe.set(keys.agents_detail, snap.agents_json())
        pipe.publish(keys.delta_channel, d.model_dump_json())
        await pipe.execute()
        await until(pilot, lambda: app.agents.seq == snap.seq and not app.panels_due, "the delta's agents part taken")
        pipe = client.pipeline(transaction=False)
        pipe.publish(keys.channel, snap.summary_json())
        pipe.publish(keys.agents_channel, snap.agents_json())
        await pipe.execute()

    store_sync(namespace, three)
    app, want, sync, per_hour = _dana_s_desk(namespace)

    async with app.run_test(size=(140, 40)) as pilot:
        # before the card is open: 1 h more available, which the desk's rows do not read
        client = await _dana_s_card_opened(pilot, app, sync, want, namespace, part(4, 7800.0))
        # the owner's answer: a full snapshot, with the delta to it (agent 1003 went on a call)
        await full_with_delta(pilot, client, part(5, 7800.0, "on_call"), "1003")
        # by hand: 27 calls in 1,800 + 600 + 7,800 + 600 s = 3 h logged in -> 9.0 an hour, target 12 missed
        # (held as the delta left it, 4,200 s available: 2 h -> 13.5 an hour, met)
        await until(pilot, lambda: per_hour() == ["9.0", "missed"], "27 calls in 3 h logged in")
        # the card open: another 3 h available -> 27 calls in 6 h = 4.5 an hour
        await full_with_delta(pilot, client, part(6, 18600.0, "available"), "1003")
        await until(pilot, lambda: per_hour() == ["4.5", "missed"], "27 calls in 6 h logged in")
        await pilot.press("escape")
    sync.delete(want)
    sync.close()
