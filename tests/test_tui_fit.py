"""The desk at the sizes supervisors run it (80x24 and wide): nothing cut, nothing misaligned.

- an agent's state that grows (``available`` -> ``paused:coaching``) is shown whole, not cut to the width the
  column had before (DataTable kept cells rendered at the old width in its caches);
- the help lists every key in aligned columns, fits in 80 columns and scrolls on 24 rows;
- the drill-down keeps each ratio's numerator / denominator for both windows on screen at 80 columns, and says
  how the highlighted figure is computed above the table.
"""

from __future__ import annotations

from datetime import timedelta

from textual.app import App

from wallboard.clock import ManualClock

from wallboard.config import load_config
from wallboard.snapshot import Alert

from .conftest import redis_url
from .test_tui import BREACH, T0, iso, make_app, publish, seq_is, snapshot, store_sync, token_for, until

SMALL = (80, 24)
SUPERVISOR = ["listen", "whisper", "barge", "takeover", "move", "pause", "unpause", "ack", "snooze"]


def supervisor_app(prefix: str):
    """The desk of rivka, who may do everything (every key in the help)."""
    from wallboard.ui.app import build_desk_app

    config = load_config(
        None,
        redis={"prefix": prefix, "url": redis_url()},
        centre={"timezone": "UTC", "name": "Test centre"},
        display={"stale_after_s": 5},
        roles={"supervisor": {"permissions": SUPERVISOR}},
        users=[{"name": "rivka", "roles": ["supervisor"]}],
    )
    return build_desk_app(config, redis_url(), user="rivka", clock=ManualClock(T0), token=token_for("rivka"))


# ---- the agent state column ------------------------------------------------------------------------------------


async def test_a_state_that_grows_is_shown_whole():
    from wallboard.ui.tables import KeyedTable
    from wallboard.ui.view import CellModel, RowModel

    class One(App):
        def compose(self):
            yield KeyedTable([("agent", "Agent", None), ("state", "State", None), ("time", "Time", None)])

    def rows(state: str) -> list[RowModel]:
        return [
            RowModel(
                "a",
                {
                    "agent": CellModel("Adi", justify="left"),
                    "state": CellModel(state, justify="left"),
                    "time": CellModel("0:01"),
                },
            ),
            RowModel(
                "b",
                {
                    "agent": CellModel("Avi", justify="left"),
                    "state": CellModel("logged out", justify="left"),
                    "time": CellModel("0:09"),
                },
            ),
        ]

    app = One()
    async with app.run_test(size=(160, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(rows("available"))
        await pilot.pause()
        table.sync(rows("paused:coaching"))
        table.render_line(1)  # the screen is drawn before the table measures the new text (a timer's refresh)
        await pilot.pause()
        lines = [table.render_line(y).text for y in range(3)]
        assert lines[1].split() == ["Adi", "paused:coaching", "0:01"], lines
        # the columns line up under the header
        assert lines[0].index("Time") + len("Time") == lines[1].index("0:01") + len("0:01")
        assert lines[1].index("0:01") == lines[2].index("0:09")
        table.sync(rows("available"))  # and shrinks back
        table.render_line(1)
        await pilot.pause()
        lines = [table.render_line(y).text for y in range(3)]
        assert lines[1].split() == ["Adi", "available", "0:01"]
        assert lines[1].index("0:01") == lines[2].index("0:09") == lines[0].index("Time")


# ---- help -------------------------------------------------------------------------------------------------------


def _key_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.split() and ln.split()[-1].startswith("wallboard.")]


async def test_help_is_aligned_fits_80_columns_and_scrolls_at_80x24(redis_client, prefix, cleanup):
    from wallboard.ui.screens import HelpScreen

    await publish(redis_client, prefix, snapshot(1))
    app = supervisor_app(prefix)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help-box")
        text = str(app.screen.query_one("#help-text").render())
        lines = _key_lines(text)
        ids = {ln.split()[-1] for ln in lines}
        assert {
            "wallboard.drill",
            "wallboard.ack",
            "wallboard.snooze",
            "wallboard.advice",
            "wallboard.takeover",
            "wallboard.quit",
        } <= ids
        # every binding id starts in the same column, every key ends in the same column
        assert len({ln.index("wallboard.") for ln in lines}) == 1, lines
        assert len({len(ln) - len(ln.lstrip()) + len(ln.split()[0]) for ln in lines}) == 1, lines
        # the box is inside the terminal, and no line is wider than the box (none is cut at its edge)
        region = box.region
        assert region.x >= 0 and region.right <= SMALL[0] and region.y >= 0 and region.bottom <= SMALL[1]
        assert max(len(ln) for ln in text.splitlines()) <= box.content_region.width
        # taller than 24 rows: it scrolls, and the end is reachable from the keyboard
        assert box.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


# ---- a takeover at 80 columns ----------------------------------------------------------------------------------


async def test_a_takeover_note_keeps_the_agents_table_readable_at_80x24(redis_client, prefix, cleanup):
    """Who took an agent's call shows in the Alerts column as ``taken:rivka``: the State column keeps its width
    and every agent's queues stay whole at 80 columns (the note in the State column cut them to ``supp``)."""
    import json

    from wallboard.keys import Keys

    from .test_tui_actions import screen_text

    await publish(redis_client, prefix, snapshot(1))
    # what the executor records after a takeover (``:takeovers``: the member JSON, scored by when)
    taken = {"agent": "1002", "by": "rivka", "call_id": "sup.9"}
    await redis_client.zadd(Keys(prefix).takeovers, {json.dumps(taken): T0.timestamp() - 20})
    app = make_app(prefix, ManualClock(T0))
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: seq_is(app, 1)() and "1002" in app.takeovers, "snapshot 1 and the takeover")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        dana = next(ln for ln in lines if " Dana " in ln)
        assert "taken:rivka" in dana and "available  " in dana
        head = next(ln for ln in lines if " Agent " in ln)
        # the State column is as wide as its widest state ("paused:lunch"), not the note
        assert head.index("Time") - head.index("State") == len("paused:lunch") + 2  # its text and the padding
        gefen = next(ln for ln in lines if " Gefen " in ln)
        assert "support,tech" in gefen and "Queues" in head


# ---- notices never over an open panel ------------------------------------------------------------------------


async def test_toasts_wait_while_a_panel_is_open(redis_client, prefix, cleanup):
    """A notice raised while the help is open is not drawn over it (at 80x24 and 160x48); it shows once the help
    closes. The Notify message goes out at once (what tests and hooks watch)."""
    from textual.widgets._toast import Toast

    from wallboard.ui.screens import HelpScreen

    from .ui_seen import Notices

    await publish(redis_client, prefix, snapshot(1))
    for size in (SMALL, (160, 48)):
        app = supervisor_app(prefix)
        notices = Notices()
        async with app.run_test(size=size, message_hook=notices, notifications=True) as pilot:
            await until(pilot, seq_is(app, 1), "snapshot 1")
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            app.notify("Customer service: acknowledge the service level alert — sent")
            await until(pilot, lambda: len(notices) == 1, "the Notify message")
            await pilot.pause()
            assert not list(app.screen.query(Toast)), "a toast over the help"
            assert [n.message for n in app.held_notices] == [notices[0][0]]
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

            def shown() -> list[str]:
                return [str(t.render()) for t in app.screen.query(Toast)]

            await pilot.pause()
            await until(pilot, lambda: any("acknowledge" in s for s in shown()), "the held notice, after the help")
            assert app.held_notices == []


# ---- drill-down -------------------------------------------------------------------------------------------------


async def test_drill_down_keeps_numerator_denominator_and_formula_at_80x24(redis_client, prefix, cleanup):
    from wallboard.ui.screens import DrillDownScreen
    from wallboard.ui.tables import KeyedTable

    await publish(redis_client, prefix, snapshot(1, support=BREACH))
    app = make_app(prefix, ManualClock(T0))
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        await pilot.press("enter")  # support, the first queue
        await until(pilot, lambda: isinstance(app.screen, DrillDownScreen), "the drill-down")
        figures = app.screen.query_one("#figures", KeyedTable)
        # both windows' numerator / denominator in the table, and every column inside the terminal
        assert figures.shown("service_level", "reset_frac")[0] == "280 / 376"
        assert figures.shown("service_level", "rolling_frac")[0] == "64 / 79"
        assert figures.shown("asa_s", "reset_frac")[0] == "4914 / 351"
        widths = sum(c.get_render_width(figures) for c in figures.columns.values())
        assert widths <= figures.scrollable_content_region.width
        # the highlighted figure, in words, above the table
        figures.select_key("service_level")
        await pilot.pause()
        explain = str(app.screen.query_one("#drill-explain").render())
        assert "Service level = answered within SL / (answered + abandoned - short abandons)" in explain
        assert "since reset 280 / 376 = 74.5%" in explain and "last 30 min 64 / 79 = 81.0%" in explain
        assert app.screen.query_one("#drill-explain").region.bottom <= figures.region.y
        # a counter says its two windows
        figures.select_key("answered")
        await pilot.pause()
        assert str(app.screen.query_one("#drill-explain").render()) == (
            "Answered: 351 since the reset, 80 in the last 30 min"
        )
        # the title names the alerts in words
        title = str(app.screen.query_one("#drill-title").render())
        assert "service level: breach" in title and "service_level" not in title
        # the SL formula in words, not its config name
        assert "SL within 20s · short abandons excluded" in title and "excl_short_abandons" not in title
        # widened, it goes back to separate numerator and denominator columns
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert figures.shown("service_level", "reset_den")[0] == "376"
        assert "reset_frac" not in figures.column_ids


# ---- SVG snapshots at 80x24 -------------------------------------------------------------------------------------


def _then(seq: int, *keys: str):
    async def run_before(pilot) -> None:
        await until(pilot, seq_is(pilot.app, seq), "the stored snapshot")
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_svg_help_80x24(snap_compare, namespace):
    store_sync(namespace, snapshot(7))
    assert snap_compare(supervisor_app(namespace), terminal_size=SMALL, run_before=_then(7, "question_mark"))


def test_svg_drill_down_80x24(snap_compare, namespace):
    store_sync(namespace, snapshot(7, support=BREACH))
    # the cursor on service level (the 9th figure: the counters, transferred among them, come first)
    assert snap_compare(
        make_app(namespace, ManualClock(T0)), terminal_size=SMALL, run_before=_then(7, "enter", *["down"] * 8)
    )


def test_svg_breach_acknowledged(snap_compare, namespace):
    """The header after an ack: the breach counted as acknowledged, no red alarm."""
    from .test_tui import ACKED

    store_sync(namespace, snapshot(7, at=T0 + timedelta(seconds=0), support=ACKED))
    assert snap_compare(make_app(namespace, ManualClock(T0)), terminal_size=SMALL, run_before=_then(7))


# ---- the header and the footer at 80 columns --------------------------------------------------------------------

# a loud breach, an acknowledged one and a snoozed one: the widest badge the header shows
MIXED = {
    "levels": {"service_level": "breach", "longest_wait_s": "breach", "avg_wait_s": "breach"},
    "alerts": {
        "service_level": Alert(level="breach", since=iso(T0 - timedelta(seconds=30))),
        "longest_wait_s": Alert(level="breach", since=iso(T0 - timedelta(seconds=10)), acked_by="rivka"),
        "avg_wait_s": Alert(
            level="breach", since=iso(T0 - timedelta(seconds=10)), snoozed_until=iso(T0 + timedelta(minutes=15))
        ),
    },
}


async def test_header_and_footer_keep_what_matters_at_80x24(redis_client, prefix, cleanup):
    """At 80 columns the supervisor's footer showed "v Advic▏^p palette" (help and quit off the screen) and the
    header shrank to the centre's name once breaches were acknowledged and snoozed. Now: ``?`` help and ``q``
    quit in every footer (queues, agents, drill-down), the header's centre and window whole, the badge in
    short words (its count of loud breaches first)."""
    from wallboard.ui.screens import DrillDownScreen

    from .test_tui_actions import screen_text

    await publish(redis_client, prefix, snapshot(1, support=MIXED))
    app = supervisor_app(prefix)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        await pilot.pause()

        def footer() -> str:
            return screen_text(app).splitlines()[-1]

        head = screen_text(app).splitlines()[0]
        assert "Test centre · since 22:00" in head and "…" not in head, head
        assert "1 BREACH · 1 ack'd · 1 to 09:30" in head and head.rstrip().endswith("09:15:00 rivka"), head
        queues = footer()
        assert "? Help" in queues and "q Quit" in queues and "a Ack" in queues, queues
        await pilot.press("tab")  # the agents: six action keys more
        await until(pilot, lambda: "l Listen" in footer(), "the agents' keys")
        agents = footer()
        assert "? Help" in agents and "q Quit" in agents and "p Pause" in agents, agents
        assert "Advice" not in agents and "palette" not in agents  # left to the help at this width
        await pilot.press("shift+tab", "enter")
        await until(pilot, lambda: isinstance(app.screen, DrillDownScreen), "the drill-down")
        await until(pilot, lambda: "esc Back" in footer(), "the drill-down's keys")
        drill = footer()
        assert "? Help" in drill and "q Quit" in drill, drill
        # a wide terminal: every key in full words, and the palette's entry
        await pilot.press("escape")
        await pilot.resize_terminal(160, 30)
        await until(pilot, lambda: "Snooze 15m" in footer() and "palette" in footer(), "the full footer")
        await until(pilot, lambda: "seq 1 " in screen_text(app).splitlines()[0], "the whole header")
        assert "1 BREACH · 1 acknowledged · 1 snoozed to 09:30" in screen_text(app).splitlines()[0]


def test_svg_supervisor_agents_80x24(snap_compare, namespace):
    """The supervisor's desk at 80x24 with the agents focused: the compact footer, the header's short badge."""
    store_sync(namespace, snapshot(7, support=MIXED))
    assert snap_compare(supervisor_app(namespace), terminal_size=SMALL, run_before=_then(7, "tab"))


async def test_the_written_load_leaves_the_80_column_agents_table_for_the_card(redis_client, prefix, cleanup):
    """At 80 columns the agents' Load column was cut to its first letter ("L") behind the skills; now it is left
    out there (the skills stay whole) and the agent's card says it; a wider desk shows the column again."""
    from wallboard.ui.screens import AgentCardScreen

    snap = snapshot(1)
    dana = snap.agents["1002"].model_copy(update={"capacity": {"chat": 3}, "conversations": {"chat": 2}})
    await publish(redis_client, prefix, snap.model_copy(update={"agents": {**snap.agents, "1002": dana}}))
    app = supervisor_app(prefix)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        assert app.agent_table.column_ids[-1] == "queues" and "load" not in app.agent_table.column_ids
        app.agent_table.focus()
        app.agent_table.select_key("1002")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AgentCardScreen), "Dana's card")
        await pilot.pause()
        assert app.screen.query_one("#card-box").border_subtitle == "2/3 chats · esc close"
        await pilot.press("escape")
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert app.agent_table.column_ids[-1] == "load"
        await until(pilot, lambda: app.agent_table.shown("1002", "load")[0] == "2/3 chats", "the load column")
