"""The desk UI (``wallboard tui``) against a real Redis: snapshots are hand-built with the pydantic models,
stored and published under a throwaway prefix; the app runs under Pilot on a ManualClock, so ticking,
staleness and the flash phase move only when the test advances the clock (no sleeps)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


from tests.conftest import unwire
import redis as sync_redis

from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.keys import Keys
from wallboard.snapshot import (
    AgentCounts,
    AgentSnapshot,
    Alert,
    Callback,
    Caller,
    Explain,
    QueueSnapshot,
    Rolling,
    Snapshot,
    Total,
    Window,
)

from . import polling
from .conftest import redis_url
from .ui_seen import Notices, requests_sent

T0 = datetime(2026, 11, 23, 9, 15, 0, tzinfo=timezone.utc)
SIZE = (100, 30)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def queue(
    name: str,
    label: str,
    *,
    offered: int,
    answered: int,
    within: int,
    abandoned: int,
    short: int,
    waiting_since: list[int] = (),
    levels: dict | None = None,
    alerts: dict | None = None,
    agents: tuple[int, int, int] = (2, 5, 1),
    roll: tuple[int, int] = (64, 79),
    open_: bool = True,
) -> QueueSnapshot:
    """A queue whose ratios agree with its counters (SL excluding short abandons)."""
    overflowed = offered - answered - abandoned
    wait_answered = answered * 14.0
    wait_all = offered * 19.5
    sl_den = answered + abandoned - short
    sl = within / sl_den if sl_den else None
    ab_den = offered - short
    callers = [
        Caller(
            call_id=f"{name[:3]}.{i}",
            entered_at=iso(T0 - timedelta(seconds=s)),
            wait_s=float(s),
            caller=f"***{4500 + i}",
        )
        for i, s in enumerate(waiting_since)
    ]
    window = str(int(datetime(2026, 11, 22, 22, 0, tzinfo=timezone.utc).timestamp()))
    rwin = f"rolling {iso(T0 - timedelta(minutes=30))}"
    sl_formula = "answered_within_sl / (answered + abandoned - short_abandoned)"
    explain = {
        "service_level": Explain(formula=sl_formula, numerator=within, denominator=sl_den, window=window),
        "asa_s": Explain(
            formula="wait_answered_s / answered", numerator=wait_answered, denominator=answered, window=window
        ),
        "avg_wait_s": Explain(formula="wait_all_s / offered", numerator=wait_all, denominator=offered, window=window),
        "abandon_rate": Explain(
            formula="(abandoned - short_abandoned) / (offered - short_abandoned)",
            numerator=abandoned - short,
            denominator=ab_den,
            window=window,
        ),
        "rolling.service_level": Explain(formula=sl_formula, numerator=roll[0], denominator=roll[1], window=rwin),
        "rolling.asa_s": Explain(formula="wait_answered_s / answered", numerator=700.0, denominator=70, window=rwin),
    }
    avail, busy, paused = agents
    return QueueSnapshot(
        label=label,
        entered=offered + len(callers),
        offered=offered,
        answered=answered,
        answered_within_sl=within,
        abandoned=abandoned,
        short_abandoned=short,
        overflowed=overflowed,
        wait_answered_s=wait_answered,
        wait_all_s=wait_all,
        service_level=sl,
        asa_s=wait_answered / answered if answered else None,
        avg_wait_s=wait_all / offered if offered else None,
        abandon_rate=(abandoned - short) / ab_den if ab_den else None,
        aht_s=241.0,
        sl_formula="excl_short_abandons",
        sl_threshold_s=20,
        short_abandon_s=5,
        count_overflow=False,
        open=open_,
        waiting=len(callers),
        longest_wait_s=float(max(waiting_since)) if waiting_since else None,
        ewt_s=41.0 if callers else None,
        callers=callers,
        callbacks=[Callback(call_id=f"{name[:3]}.cb", entered_at=iso(T0 - timedelta(seconds=320)), age_s=320.0)],
        callbacks_pending=1,
        oldest_callback_s=320.0,
        agent_counts=AgentCounts(available=avail, on_call=busy, paused=paused, logged_in=avail + busy + paused),
        rolling=Rolling(
            minutes=30,
            since=iso(T0 - timedelta(minutes=30)),
            offered=88,
            answered=80,
            service_level=roll[0] / roll[1],
            asa_s=10.0,
        ),
        explain=explain,
        levels=levels or {},
        alerts=alerts or {},
    )


def snapshot(seq: int, at: datetime = T0, *, support: dict | None = None, agents_since_s: int = 125) -> Snapshot:
    """Two queues and a closed one; ``support`` overrides the support queue's keyword arguments."""
    sup = dict(offered=398, answered=351, within=280, abandoned=31, short=6, waiting_since=[74, 20, 5])
    sup.update(support or {})
    queues = {
        "support": queue("support", "Customer service", **sup),
        "tech": queue(
            "tech",
            "Technical",
            offered=120,
            answered=110,
            within=100,
            abandoned=5,
            short=1,
            waiting_since=[12],
            agents=(1, 3, 0),
            roll=(30, 33),
        ),
        "sales": queue(
            "sales",
            "Sales",
            offered=40,
            answered=38,
            within=37,
            abandoned=2,
            short=1,
            agents=(0, 0, 0),
            roll=(5, 5),
            open_=False,
            levels={"service_level": "closed"},
        ),
    }
    total = Total(
        offered=558,
        answered=499,
        abandoned=38,
        service_level=0.789,
        asa_s=14.0,
        avg_wait_s=19.5,
        abandon_rate=0.054,
        waiting=4,
        agent_counts=AgentCounts(available=3, on_call=8, paused=1, logged_in=12, free=3),
        rolling=Rolling(minutes=30, since=iso(T0 - timedelta(minutes=30)), service_level=0.84),
    )
    agents = {
        "1001": AgentSnapshot(
            name="Gefen",
            state="on_call",
            since=iso(at - timedelta(seconds=agents_since_s)),
            queues={"support": 0, "tech": 1},
            calls_handled=31,
            missed=1,
        ),
        "1002": AgentSnapshot(
            name="Dana",
            state="available",
            since=iso(at - timedelta(seconds=40)),
            queues={"support": 0},
            calls_handled=27,
        ),
        "1003": AgentSnapshot(
            name="Omer",
            state="paused",
            reason="lunch",
            since=iso(at - timedelta(seconds=1900)),
            queues={"tech": 0},
            calls_handled=12,
            alerts=["long_pause"],
        ),
        "1004": AgentSnapshot(
            name="Noa",
            state="wrap_up",
            since=iso(at - timedelta(seconds=9)),
            queues={"support": 1, "tech": 0},
            calls_handled=19,
        ),
    }
    return Snapshot(
        seq=seq,
        at=iso(at),
        centre="Test centre",
        timezone="UTC",
        window=Window(kind="since_reset", since="2026-11-22T22:00:00Z"),
        queues=queues,
        total=total,
        agents=agents,
    )


BREACH = {
    "levels": {"service_level": "breach", "longest_wait_s": "warn"},
    "alerts": {
        "service_level": Alert(level="breach", since=iso(T0 - timedelta(seconds=30))),
        "longest_wait_s": Alert(level="warn", since=iso(T0 - timedelta(seconds=10))),
    },
}
ACKED = {
    "levels": {"service_level": "breach", "longest_wait_s": "warn"},
    "alerts": {
        "service_level": Alert(level="breach", since=iso(T0 - timedelta(seconds=30)), acked_by="dana"),
        "longest_wait_s": Alert(level="warn", since=iso(T0 - timedelta(seconds=10))),
    },
}


# The desk offers the keys the user's roles grant; these users may acknowledge and snooze.
ROLES = {"desk": {"permissions": ["ack", "snooze"]}}
USERS = [{"name": "dana", "roles": ["desk"]}, {"name": "omer", "roles": ["desk"]}]


def token_for(user: str) -> str:
    """A token of the right shape (the desk does not check signatures; the executor does)."""
    return f"{user}.4102444800.test-signature"


def config_for(prefix: str, **display):
    return load_config(
        None,
        redis={"prefix": prefix, "url": redis_url()},
        centre={"timezone": "UTC", "name": "Test centre"},
        display={"stale_after_s": 5, **display},
        roles=ROLES,
        users=USERS,
    )


def store_sync(prefix: str, snap: Snapshot) -> None:
    """Store the latest parts the way the engine does (for apps started afterwards)."""
    keys = Keys(prefix)
    r = sync_redis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        r.set(keys.summary, snap.summary_json())
        r.set(keys.agents_detail, snap.agents_json())
    finally:
        r.close()


async def publish(client, prefix: str, snap: Snapshot) -> None:
    keys = Keys(prefix)
    pipe = client.pipeline(transaction=False)
    pipe.set(keys.summary, snap.summary_json())
    pipe.set(keys.agents_detail, snap.agents_json())
    pipe.publish(keys.channel, snap.summary_json())
    pipe.publish(keys.agents_channel, snap.agents_json())
    await pipe.execute()


async def until(pilot, predicate, what: str, timeout: float = 5.0) -> None:
    """Let the app run until ``predicate()`` holds (waiting on Redis I/O, not on time-dependent behaviour)."""
    await polling.until(predicate, what, timeout=timeout, every=0.02, pilot=pilot)


def table_clears(app) -> int:
    """How often any of the desk's tables was cleared (``KeyedTable.clear``)."""
    return sum(t.clears for t in app.tables())


def make_app(prefix: str, clock: ManualClock, user: str = "dana", **display):
    from wallboard.ui.app import build_desk_app

    return build_desk_app(config_for(prefix, **display), redis_url(), user=user, clock=clock, token=token_for(user))


def seq_is(app, n: int):
    """The desk holds both parts of snapshot ``n`` and has drawn them (its tables are drawn one a frame)."""
    return lambda: (
        app.summary is not None
        and app.summary.seq == n
        and app.agents is not None
        and app.agents.seq == n
        and not app.panels_due
    )


def badge(app) -> tuple[str, set[str]]:
    """The header's breach badge: its text and its level class."""
    b = app.query_one("#badge")
    return str(b.render()).strip(), {c for c in b.classes if c in ("-active", "-quiet")}


def cell(app, row: str, col: str, table: str = "#queues"):
    """(text, style) shown in a cell."""
    from wallboard.ui.tables import KeyedTable

    t = app.screen.query_one(table, KeyedTable)
    shown = t.shown(row, col)
    assert shown is not None, f"no cell {row}/{col} in {table}"
    rendered = t.get_cell(row, col)
    assert rendered.plain == shown[0]
    return shown[0], shown[1]


# ---- behaviour ---------------------------------------------------------------------------------------------


async def test_queue_table_shows_the_figures_and_ticks_locally(redis_client, prefix, cleanup):
    await publish(redis_client, prefix, snapshot(1))
    clock = ManualClock(T0)
    app = make_app(prefix, clock, stale_after_s=30)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "the stored snapshot")
        assert cell(app, "support", "name")[0] == "support"
        assert cell(app, "support", "waiting")[0] == "3"
        assert cell(app, "support", "longest")[0] == "1:14"
        assert cell(app, "support", "sl")[0] == "74.5%"  # 280 / (351 + 31 - 6)
        assert cell(app, "support", "sl_rolling")[0] == "81.0%"  # 64 / 79
        assert cell(app, "support", "asa")[0] == "0:14"
        assert cell(app, "support", "abandon_rate")[0] == "6.4%"  # 25 / 392
        assert cell(app, "support", "ewt")[0] == "0:41"
        assert (cell(app, "support", "avail")[0], cell(app, "support", "busy")[0]) == ("2", "5")
        assert cell(app, "support", "avg_wait")[0] == "0:19"
        assert cell(app, "__total__", "name")[0] == "TOTAL"
        assert cell(app, "__total__", "sl")[0] == "78.9%"
        # order: queues in snapshot order, the total last
        assert [r.key.value for r in app.queue_table.ordered_rows] == ["support", "tech", "sales", "__total__"]
        # a closed queue is grey, all of it
        assert "grey50" in cell(app, "sales", "name")[1] and "grey50" in cell(app, "sales", "sl")[1]
        # agents and waiting callers
        assert cell(app, "1001", "state", "#agents")[0] == "on call"
        assert cell(app, "1001", "time", "#agents")[0] == "2:05"
        assert cell(app, "1003", "state", "#agents")[0] == "paused:lunch"
        assert "yellow" in cell(app, "1003", "alerts", "#agents")[1]
        assert cell(app, "support|sup.0", "wait", "#callers")[0] == "1:14"
        assert app.caller_table.row_count == 4
        assert app.server.now() == T0
        # the clock moves: waits and time in state tick locally from the snapshot's server time
        clock.advance(10)
        app.tick()
        await pilot.pause()
        assert cell(app, "1001", "time", "#agents")[0] == "2:15"
        assert cell(app, "support|sup.0", "wait", "#callers")[0] == "1:24"
        assert cell(app, "support", "longest")[0] == "1:24"
        assert not app.stale


async def test_navigate_and_drill_down_shows_how_each_figure_is_computed(redis_client, prefix, cleanup):
    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, ManualClock(T0))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "the stored snapshot")
        await pilot.press("down")
        assert app.queue_table.selected_key == "tech"
        await pilot.press("up", "enter")
        from wallboard.ui.screens import DrillDownScreen

        assert isinstance(app.screen, DrillDownScreen) and app.screen.queue == "support"
        assert cell(app, "service_level", "reset", "#figures")[0] == "74.5%"
        assert cell(app, "service_level", "reset_num", "#figures")[0] == "280"
        assert cell(app, "service_level", "reset_den", "#figures")[0] == "376"
        assert cell(app, "service_level", "rolling", "#figures")[0] == "81.0%"
        assert cell(app, "service_level", "rolling_num", "#figures")[0] == "64"
        assert cell(app, "service_level", "rolling_den", "#figures")[0] == "79"
        assert cell(app, "asa_s", "reset_num", "#figures")[0] == "4914"
        assert cell(app, "asa_s", "reset_den", "#figures")[0] == "351"
        formulas = str(app.screen.query_one("#formulas").render())
        # in words (the catalog's terms by the queue's SL formula), not the counters' field names
        assert "Service level = answered within SL / (answered + abandoned - short abandons)" in formulas
        assert "Avg wait = total wait of all / offered" in formulas
        assert "_" not in formulas
        assert "since reset 2026-11-22 22:00" in formulas
        # the queue's waiting callers and callbacks, and its agents
        callers = app.screen.query_one("#drill-callers")
        assert {k.value for k in callers.rows} == {"w|sup.0", "w|sup.1", "w|sup.2", "cb|sup.cb"}
        agents = app.screen.query_one("#drill-agents")
        assert {k.value for k in agents.rows} == {"1001", "1002", "1004"}
        assert cell(app, "1004", "penalty", "#drill-agents")[0] == "1"
        # a new snapshot updates the drill-down in place
        await publish(redis_client, prefix, snapshot(2, support={"within": 300}))
        await until(pilot, seq_is(app, 2), "snapshot 2")
        assert cell(app, "service_level", "reset_num", "#figures")[0] == "300"
        await pilot.press("escape")
        assert not isinstance(app.screen, DrillDownScreen)
        # the centre total drills down too: SL as the sum of numerators over the sum of denominators
        app.queue_table.select_key("__total__")
        await pilot.press("enter")
        assert isinstance(app.screen, DrillDownScreen) and app.screen.queue == "__total__"
        assert cell(app, "service_level", "reset", "#figures")[0] == "78.9%"
        assert app.screen.query_one("#drill-agents").row_count == 4


async def test_breach_colours_flashes_ack_then_steady(redis_client, prefix, cleanup):
    clock = ManualClock(T0)
    await publish(redis_client, prefix, snapshot(1, support=BREACH))
    app = make_app(prefix, clock, user="dana")
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, seq_is(app, 1), "the breach snapshot")
        # SL's threshold reads the since-reset window by default: that cell is red; longest wait is yellow
        assert "red" in cell(app, "support", "sl")[1]
        assert "yellow" in cell(app, "support", "longest")[1]
        assert "red" in cell(app, "support", "name")[1]
        assert ("queues", "support", "sl") in app.flashing_cells()
        assert app.flash_running
        # drive the phase from the clock: 1 Hz flashing toggles every 0.5 s
        app.set_flash_phase(True)
        await pilot.pause()
        assert cell(app, "support", "sl")[1] == "bold white on red"
        clock.advance(0.5)
        app.flash_tick()
        await pilot.pause()
        assert app.flash_on is False
        assert cell(app, "support", "sl")[1] == "bold red"
        clock.advance(0.5)
        app.flash_tick()
        await pilot.pause()
        assert app.flash_on is True
        assert cell(app, "support", "sl")[1] == "bold white on red"
        assert "white on red" not in cell(app, "support", "longest")[1]  # a warn never flashes
        assert badge(app) == ("1 BREACH", {"-active"})
        # acknowledge: one request per metric in warn or breach, with the user's name and token
        await pilot.press("a")
        await until(pilot, lambda: len(requests_sent(app)) == 2, "the ack requests")
        # said in the words on the screen: the queue's label, the metrics as a person reads them
        assert notices[-1] == (
            "Customer service: acknowledge the longest wait and service level alerts — sent",
            "information",
        )
        entries = await redis_client.xrange(Keys(prefix).requests)
        at = iso(T0 + timedelta(seconds=1))
        tok = token_for("dana")
        assert [unwire(f, tok) for _, f in entries] == [
            {"type": "ack", "queue": "support", "metric": "longest_wait_s", "user": "dana", "at": at},
            {"type": "ack", "queue": "support", "metric": "service_level", "user": "dana", "at": at},
        ]
        # ingest applies it; the next snapshot has acked_by: the colour stays, the flashing stops
        await publish(redis_client, prefix, snapshot(2, support=ACKED))
        await until(pilot, seq_is(app, 2), "the acked snapshot")
        assert ("queues", "support", "sl") not in app.flashing_cells()
        assert not app.flash_running  # nothing left to flash: the one timer is paused
        app.set_flash_phase(True)
        await pilot.pause()
        assert cell(app, "support", "sl")[1] == "bold red"
        # the header no longer sounds the alarm: the breach is counted as acknowledged
        assert badge(app) == ("1 breach acknowledged", {"-quiet"})


async def test_snooze_request_and_snoozed_alert_stops_flashing(redis_client, prefix, cleanup):
    clock = ManualClock(T0)
    await publish(redis_client, prefix, snapshot(1, support=BREACH))
    app = make_app(prefix, clock, user="omer")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "the breach snapshot")
        await pilot.press("s")
        await until(pilot, lambda: len(requests_sent(app)) == 2, "the snooze requests")
        entries = [f for _, f in await redis_client.xrange(Keys(prefix).requests)]
        assert {e["metric"] for e in entries} == {"service_level", "longest_wait_s"}
        entries = [unwire(e, token_for("omer")) for e in entries]
        assert all(e["type"] == "snooze" and e["user"] == "omer" for e in entries)
        assert all(e["until"] == iso(T0 + timedelta(minutes=15)) for e in entries)
        until_15 = iso(T0 + timedelta(minutes=15))
        snoozed = {
            "levels": BREACH["levels"],
            "alerts": {"service_level": Alert(level="breach", since=iso(T0), snoozed_until=until_15)},
        }
        await publish(redis_client, prefix, snapshot(2, support=snoozed))
        await until(pilot, seq_is(app, 2), "the snoozed snapshot")
        assert not app.flashing_cells() and "red" in cell(app, "support", "sl")[1]
        assert badge(app) == ("1 breach snoozed to 09:30", {"-quiet"})
        # when the snooze runs out (server time, ticking locally), it flashes again
        clock.advance(15 * 60 + 1)
        app.tick()
        await pilot.pause()
        assert ("queues", "support", "sl") in app.flashing_cells()
        assert badge(app) == ("1 BREACH", {"-active"})


async def test_flash_off_by_setting(redis_client, prefix, cleanup):
    clock = ManualClock(T0)
    await publish(redis_client, prefix, snapshot(1, support=BREACH))
    app = make_app(prefix, clock, flash=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "the breach snapshot")
        assert not app.flash_running
        app.set_flash_phase(True)
        await pilot.pause()
        assert cell(app, "support", "sl")[1] == "bold red"  # coloured, never flashing
        await pilot.press("f")  # toggled on at runtime
        assert app.flash_running


async def test_updates_go_by_key_with_no_table_clear(redis_client, prefix, cleanup):
    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, ManualClock(T0))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        queues = app.queue_table
        added, clears = queues.rows_added, table_clears(app)
        assert clears == 0
        changed = snapshot(2, support={"within": 290, "waiting_since": [80, 20, 5, 1]})
        del changed.queues["sales"]  # a queue that disappears is removed by key
        await publish(redis_client, prefix, changed)
        await until(pilot, seq_is(app, 2), "snapshot 2")
        assert table_clears(app) == 0
        assert queues.rows_added == added  # nothing re-added
        assert queues.rows_removed == 1 and "sales" not in queues.rows
        assert cell(app, "support", "waiting")[0] == "4"
        assert cell(app, "support", "sl")[0] == "77.1%"
        # the snapshot's tables are drawn one a frame (the callers' after the queues'): waited for, not raced
        await until(pilot, lambda: "support|sup.3" in app.caller_table.rows, "the callers' table of snapshot 2")
        assert app.caller_table.rows_added == 5  # 4 callers at first, one more now
        # the trend remembers the waiting count per snapshot
        assert app.trends.get("support") == [3, 4]
        assert cell(app, "support", "trend")[0] == "▆█"
        # a new queue is added by key and sorted once, the total stays last
        grown = snapshot(3)
        await publish(redis_client, prefix, grown)
        await until(pilot, seq_is(app, 3), "snapshot 3")
        assert [r.key.value for r in queues.ordered_rows] == ["support", "tech", "sales", "__total__"]
        assert table_clears(app) == 0


async def test_stale_mark_when_messages_stop(redis_client, prefix, cleanup):
    clock = ManualClock(T0)
    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, clock, stale_after_s=2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        stale = app.query_one("#stale")
        assert not app.stale and not stale.display
        clock.advance(3)
        app.tick()
        await pilot.pause()
        assert app.stale and stale.display
        assert str(stale.render()) == "STALE — no data since 09:15:00"
        await publish(redis_client, prefix, snapshot(2, at=T0 + timedelta(seconds=3)))
        await until(pilot, seq_is(app, 2), "snapshot 2")
        assert not app.stale and not stale.display


async def test_remapped_key(redis_client, prefix, cleanup):
    await publish(redis_client, prefix, snapshot(1, support=BREACH))
    app = make_app(prefix, ManualClock(T0), keys={"wallboard.ack": "k", "wallboard.drill": "x"})
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "the breach snapshot")
        await pilot.press("a")  # no longer bound
        await pilot.pause()
        assert requests_sent(app) == []
        await pilot.press("k")
        await until(pilot, lambda: len(requests_sent(app)) == 2, "the ack requests")
        assert {f["type"] for _, f in await redis_client.xrange(Keys(prefix).requests)} == {"ack"}
        await pilot.press("x")
        from wallboard.ui.screens import DrillDownScreen

        assert isinstance(app.screen, DrillDownScreen)


async def test_help_and_command_palette(redis_client, prefix, cleanup):
    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, ManualClock(T0), keys={"wallboard.snooze": "z"})
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        await pilot.press("question_mark")
        from wallboard.ui.screens import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert "wallboard.ack" in text and "wallboard.snooze" in text
        assert "     z  Snooze 15m" in text
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for want in ("Drill down", "Acknowledge", "Snooze 15 min", "Toggle flashing", "Quit"):
            assert want in titles
        assert titles.count("Quit") == 1
        await pilot.press("ctrl+p")
        await pilot.pause()
        from textual.command import CommandPalette

        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"drill", "enter")
        await pilot.pause()
        from wallboard.ui.screens import DrillDownScreen

        assert isinstance(app.screen, DrillDownScreen)


async def test_q_quits_cleanly_and_closes_redis(redis_client, prefix, cleanup):
    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, ManualClock(T0))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        reader = next(w for w in app.workers if w.group == "snapshots")
        await pilot.press("q")
        await pilot.pause()
    assert app.reader.closed and not app.reader.has_client  # the client the app opened is closed
    assert reader.is_finished and reader.is_cancelled
    assert app.return_code == 0


async def test_narrow_terminal_drops_columns(redis_client, prefix, cleanup):
    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, ManualClock(T0))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        cols = app.queue_table.column_ids
        assert cols[:5] == ["name", "waiting", "longest", "sl", "sl_rolling"]
        assert "trend" not in cols and "paused" not in cols
        assert sum(c.get_render_width(app.queue_table) for c in app.queue_table.columns.values()) <= 78
        assert app.has_class("-narrow")
        # a wider terminal brings columns back: the one kind of change that rebuilds the table (counted)
        await pilot.resize_terminal(130, 40)
        await pilot.pause()
        assert "trend" in app.queue_table.column_ids and not app.has_class("-narrow")
        assert "load" in app.agent_table.column_ids  # left out below 100 columns (``view.AGENT_LOAD_FROM``)
        assert table_clears(app) == 2  # the queues' table and the agents' (each once)
        assert cell(app, "support", "trend")[0] == "█" and cell(app, "__total__", "name")[0] == "TOTAL"


def test_core_does_not_import_textual():
    import subprocess
    import sys

    code = "import sys, wallboard.cli, wallboard.snapshot, wallboard.config; assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- SVG snapshots of the canonical screens (frozen clock, fixed size) ---------------------------------


def _loaded(seq: int):
    async def run_before(pilot) -> None:
        await until(pilot, seq_is(pilot.app, seq), "the stored snapshot")

    return run_before


def test_svg_normal(snap_compare, namespace):
    store_sync(namespace, snapshot(7))
    assert snap_compare(make_app(namespace, ManualClock(T0)), terminal_size=SIZE, run_before=_loaded(7))


def test_svg_breach(snap_compare, namespace):
    store_sync(namespace, snapshot(7, support=BREACH))
    # T0 is on a whole second: the clock-driven flash phase is "on"
    assert snap_compare(make_app(namespace, ManualClock(T0)), terminal_size=SIZE, run_before=_loaded(7))


def test_svg_drill_down(snap_compare, namespace):
    store_sync(namespace, snapshot(7, support=BREACH))

    async def run_before(pilot) -> None:
        await until(pilot, seq_is(pilot.app, 7), "the stored snapshot")
        await pilot.press("enter")

    assert snap_compare(make_app(namespace, ManualClock(T0)), terminal_size=SIZE, run_before=run_before)
