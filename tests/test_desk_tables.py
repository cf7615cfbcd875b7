"""The desk's tables at scale: what an update costs (column widths counted, only changed cells redrawn, unchanged
agents' cells reused) without changing what the table shows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from textual.app import App

from wallboard.clock import ManualClock
from wallboard.livetime import ServerTime
from wallboard.snapshot import AgentSnapshot
from wallboard.ui.tables import KeyedTable
from wallboard.ui.rowsource import AgentRowSource
from wallboard.ui.view import CellModel, RowModel, caller_rows

from .polling import until
from .ui_seen import agent_rows

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def row(key: str, name: str, state: str) -> RowModel:
    cells = {"name": CellModel(name, justify="left"), "state": CellModel(state, justify="left")}
    return RowModel(key, cells, (name.lower(), key))


class Host(App):
    def compose(self):
        yield KeyedTable([("name", "Name", None), ("state", "State", None)], id="t")


def line(table: KeyedTable, y: int) -> str:
    return table.render_line(y).text.rstrip()


async def test_an_auto_column_fits_its_widest_cell_and_a_changed_cell_is_drawn_again():
    app = Host()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([row("a", "Ann", "paused:coaching"), row("b", "Bob", "available")])
        await pilot.pause()
        assert table.columns["state"].content_width == 15  # len("paused:coaching")
        assert line(table, 1).split() == ["Ann", "paused:coaching"]
        # the widest cell narrows: the column is as wide as the widest left, "available" (9)
        table.sync([row("a", "Ann", "on_call"), row("b", "Bob", "available")])
        await pilot.pause()
        assert table.columns["state"].content_width == 9
        assert table.cells_updated == 1
        assert line(table, 1).split() == ["Ann", "on_call"]
        assert line(table, 2).split() == ["Bob", "available"]
        # all cells narrower than the header: the header's width ("State", 5)
        table.sync([row("a", "Ann", "x"), row("b", "Bob", "y")])
        await pilot.pause()
        assert table.columns["state"].content_width == 5
        # a row added sorts first: every line below it is drawn at its new place, not from the old cache
        table.sync([row("a", "Ann", "x"), row("b", "Bob", "y"), row("0", "Abe", "wrap_up")])
        await pilot.pause()
        assert [line(table, y).split() for y in (1, 2, 3)] == [["Abe", "wrap_up"], ["Ann", "x"], ["Bob", "y"]]
        assert table.columns["state"].content_width == 7


async def test_the_same_cell_models_are_skipped_and_new_ones_compared():
    app = Host()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(KeyedTable)
        rows = [row("a", "Ann", "available"), row("b", "Bob", "available")]
        table.sync(rows)
        table.sync(rows)  # the very same models
        assert table.cells_updated == 0
        table.sync([row("a", "Ann", "available"), row("b", "Bob", "on_call")])  # equal models, one text changed
        await pilot.pause()
        assert table.cells_updated == 1
        assert table.shown("b", "state") == ("on_call", "", "left")


def test_an_unchanged_agent_keeps_its_cells_but_the_time():
    """The desk's agent rows (``rowsource.AgentRowSource``): an agent a delta did not carry (the same object),
    or a full snapshot brought again equal but for its clock figures, keeps its cells; the time ticks."""
    clock = ManualClock(T0)
    server = ServerTime(clock)
    ann = AgentSnapshot(name="Ann", state="available", since=T0 - timedelta(seconds=65), queues={"sales": 1})
    bob = AgentSnapshot(name="Bob", state="on_call", since=T0 - timedelta(seconds=5), queues={"sales": 1})
    source = AgentRowSource(server)
    source.update({"a": ann, "b": bob})
    first = {r.key: r for r in source.rows(["a", "b"])}
    assert first["a"].cells["time"].text == "1:05"
    clock.advance(10)
    bob2 = bob.model_copy(update={"state": "wrap_up"})  # a delta carried Bob: a new object
    source.update({"a": ann, "b": bob2})
    second = {r.key: r for r in source.rows(["a", "b"])}
    assert second["a"].cells["time"].text == "1:15"
    assert second["a"].cells["state"] is first["a"].cells["state"]
    assert second["b"].cells["state"] is not first["b"].cells["state"]
    assert second["b"].cells["state"].text.startswith("wrap")
    # a full snapshot: every agent a new object; Ann's clock figure moved, nothing she shows did
    ann2 = ann.model_copy(update={"available_s": ann.available_s + 10})
    source.update({"a": ann2, "b": bob2.model_copy()})
    third = {r.key: r for r in source.rows(["a", "b"])}
    assert (
        third["a"].cells["state"] is first["a"].cells["state"]
        and third["b"].cells["state"] is second["b"].cells["state"]
    )
    # the same texts as rows built from scratch
    plain = {r.key: r for r in agent_rows({"a": ann2, "b": bob2}, server)}
    for key in ("a", "b"):
        assert {c: m.text for c, m in third[key].cells.items()} == {c: m.text for c, m in plain[key].cells.items()}
    source.update({"b": bob2})  # Ann left
    assert list(source.keys()) == ["b"] and [r.key for r in source.rows(["a", "b"])] == ["b"]


def with_agents(snap, n: int, at: datetime, changed: dict[str, dict] | None = None):
    """``snap`` and ``n`` more agents ("Agent 00"...: sorted before the others), available since 40 s before ``at``;
    ``changed``: agent -> fields that differ."""
    extra = {
        f"a{i:02d}": AgentSnapshot(
            name=f"Agent {i:02d}", state="available", since=at - timedelta(seconds=40), queues={"support": 0}
        )
        for i in range(n)
    }
    for agent, fields in (changed or {}).items():
        extra[agent] = extra[agent].model_copy(update=fields)
    return snap.model_copy(update={"agents": {**extra, **snap.agents}})


def shown_line(table: KeyedTable, name: str) -> list[str] | None:
    """The words of the table's line showing ``name`` as drawn now (None when it is not in view)."""
    for y in range(table.size.height):
        words = line(table, y).split()
        if words[:2] == name.split():
            return words
    return None


async def test_the_desk_fills_the_rows_in_view_and_rows_scrolled_to_show_what_they_are_now(
    redis_client, prefix, cleanup
):
    """The desk's agent table fills only the rows in view (and a page around them); a row that changed while out
    of view shows its new state and its time in state as of now once scrolled to, in either direction."""
    from .test_tui import T0 as AT, make_app, publish, seq_is, snapshot, until

    clock = ManualClock(AT)
    await publish(redis_client, prefix, with_agents(snapshot(1), 60, AT))
    app = make_app(prefix, clock, stale_after_s=60)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, seq_is(app, 1), "the first snapshot")
        await pilot.pause()
        table = app.agent_table
        assert table.row_count == 64  # 60 + Dana, Gefen, Noa, Omer
        assert shown_line(table, "Agent 00")[2:4] == ["available", "0:40"]
        assert table.shown("a59", "state") is None  # far below: never filled
        # Agent 59 takes a call while out of view; 3 s later the table is scrolled to its end
        clock.advance(3)
        later = AT + timedelta(seconds=3)
        snap = with_agents(
            snapshot(2, later), 60, AT, {"a59": {"state": "on_call", "since": later, "calls_handled": 5}}
        )
        await publish(redis_client, prefix, snap)
        await until(pilot, seq_is(app, 2), "the second snapshot")
        await pilot.pause()
        assert table.shown("a59", "state") is None
        clock.advance(4)  # 0:04 on the call by the time it is seen (the desk's 1 s tick draws the rows in view)
        app.tick()
        assert table.shown("a59", "state") is None
        table.focus()
        await pilot.press("ctrl+end")
        await pilot.wait_for_scheduled_animations()
        assert shown_line(table, "Agent 59")[2:5] == ["on", "call", "0:04"]
        assert shown_line(table, "Agent 59")[5] == "5"
        assert shown_line(table, "Agent 00") is None  # scrolled out of view
        # Agent 00 pauses while out of view; back at the top it shows it
        clock.advance(2)
        at3 = AT + timedelta(seconds=9)
        changed = {
            "a59": {"state": "on_call", "since": later, "calls_handled": 5},
            "a00": {"state": "paused", "reason": "lunch", "since": at3},
        }
        await publish(redis_client, prefix, with_agents(snapshot(3, at3), 60, AT, changed))
        await until(pilot, seq_is(app, 3), "the third snapshot")
        await pilot.pause()
        assert table.shown("a00", "state")[0] == "available"  # not refreshed while out of view
        clock.advance(1)
        app.tick()
        await pilot.press("ctrl+home")
        await pilot.wait_for_scheduled_animations()
        assert shown_line(table, "Agent 00")[2:4] == ["paused:lunch", "0:01"]


def test_a_budget_takes_a_large_part_in_slices_the_first_rows_first():
    """``AgentRowSource.update(budget=...)``: a first part of many agents is built a slice at a time, the agents
    of the table's top first; ``pending`` until every agent is taken; then the same rows as built at once."""
    server = ServerTime(ManualClock(T0))
    agents = {
        f"a{i:03d}": AgentSnapshot(name=f"Agent {i:03d}", state="available", since=T0, queues={"sales": 1})
        for i in reversed(range(300))  # the part's order is not the table's
    }
    source = AgentRowSource(server)
    source.update(agents, budget=10 * 9)  # a comparison and a build (1 + 8) each: ten agents
    assert source.pending
    assert sorted(source.keys()) == [f"a{i:03d}" for i in range(10)]  # the first ten by name
    slices = 1
    while source.pending:
        source.update(agents, budget=10 * 9)
        slices += 1
    assert slices == 30
    at_once = AgentRowSource(server)
    at_once.update(agents)
    assert not at_once.pending
    assert source.keys() == at_once.keys() and source.widths() == at_once.widths()
    keys = list(agents)
    assert [r.cells for r in source.rows(keys)] == [r.cells for r in at_once.rows(keys)]


async def test_a_large_centre_s_first_agents_come_in_slices_the_rows_in_view_first(redis_client, prefix, cleanup):
    """The real desk, 2,004 agents: the first agents part is placed and built in slices (the loop turns between
    them), the rows at the top of the table first and shown at once; after the slices every agent is there, in
    name order, and the last one shows its state when scrolled to."""
    from .test_tui import T0 as AT, make_app, publish, seq_is, snapshot, until

    clock = ManualClock(AT)
    snap = with_agents(snapshot(1), 2000, AT, {"a1999": {"name": "Zohar Z", "state": "paused", "reason": "lunch"}})
    await publish(redis_client, prefix, snap)
    app = make_app(prefix, clock, stale_after_s=60)
    seen: list[tuple[int, tuple | None]] = []  # after each sync of the agents: rows placed, Agent 00's state
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.agent_table
        sync = table.sync

        def watched(rows, flash_on=False):
            sync(rows, flash_on)
            seen.append((table.row_count, table.shown("a00", "state")))

        table.sync = watched  # type: ignore[method-assign]
        await until(pilot, seq_is(app, 1), "the first snapshot")
        await until(pilot, lambda: table.row_count == 2004, "every agent placed")
        await pilot.pause()
        first = next(s for s in seen if s[0])
        assert first[0] < 2004  # a slice, not the whole part
        assert first[1] is not None and first[1][0] == "available"  # the top row filled in the first slice
        expected = sorted(snap.agents, key=lambda k: ((snap.agents[k].name or k).lower(), k))
        assert [r.key.value for r in table.ordered_rows] == expected
        title = str(app.query_one("#agents-box").border_title)
        assert "(2004)" in title
        table.focus()
        await pilot.press("ctrl+end")
        await pilot.wait_for_scheduled_animations()
        assert shown_line(table, "Zohar Z")[2] == "paused:lunch"  # the last row


def test_waiting_contacts_most_urgent_first_on_a_blended_floor():
    """An e-mail waiting 4 min (its SL threshold 4 h away) goes below a caller waiting 47 s past a 20 s one;
    within a queue, longest first. Urgency = entered + the queue's threshold, earliest first."""
    from .tvdata import make_queue, make_summary

    now = T0
    voice = make_queue("Customer service", now, waiting_since_s=(47, 12)).model_copy(update={"sl_threshold_s": 20})
    mail = make_queue("E-mail", now, waiting_since_s=(247, 30)).model_copy(update={"sl_threshold_s": 14_400})
    summary = make_summary(1, now, {"email": mail, "support": voice})
    rows = sorted(caller_rows(summary, ServerTime(ManualClock(now))), key=lambda r: r.sort_key)
    waits = [(r.cells["queue"].text, r.cells["wait"].text) for r in rows]
    # due: support 27 s ago and 8 s from now; e-mail in 3 h 56 min and 3 h 59.5 min
    assert waits == [("support", "0:47"), ("support", "0:12"), ("email", "4:07"), ("email", "0:30")]


class Watched(KeyedTable):
    """A table that notes what it asks to be drawn again: the whole of it (None) or regions."""

    asked: list | None = None  # (DataTable's own set-up refreshes before it is made)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked = []

    def refresh(self, *regions, **kwargs):
        if not self._syncing and self.asked is not None:
            self.asked.append(regions or None)
        return super().refresh(*regions, **kwargs)


class WatchedHost(App):
    def compose(self):
        yield Watched([("name", "Name", None), ("state", "State", None)], id="t")


async def test_a_sync_that_changes_a_few_rows_draws_those_rows_again_not_the_table():
    """A delta's few agents: only their lines are drawn again (a whole table repainted the widgets under it too);
    rows added, or most rows in view changed (the clock's tick), draw the whole table."""
    app = WatchedHost()
    names = ["Ann", "Bob", "Cai", "Dov", "Eli", "Fay", "Gil", "Hod"]
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(Watched)
        table.sync([row(n.lower(), n, "available") for n in names])
        await pilot.pause()
        table.asked.clear()
        changed = {"cai": "on_call"}
        table.sync([row(n.lower(), n, changed.get(n.lower(), "available")) for n in names])
        assert [r for r in table.asked if r is not None] and None not in table.asked
        (region,) = [r for regions in table.asked for r in regions]
        assert (region.y, region.height) == (3, 1)  # the header's line, then Ann, Bob: Cai's is line 3
        await pilot.pause()
        assert line(table, 3).split() == ["Cai", "on_call"]
        assert line(table, 4).split() == ["Dov", "available"]
        # most rows in view changed: the whole table
        table.asked.clear()
        table.sync([row(n.lower(), n, "wrap_up") for n in names])
        assert table.asked == [None]
        # a row added: the whole table (every row below it moved)
        table.asked.clear()
        table.sync([row(n.lower(), n, "wrap_up") for n in names] + [row("abe", "Abe", "wrap_up")])
        assert None in table.asked
        await pilot.pause()
        assert [line(table, y).split()[0] for y in (1, 2, 3)] == ["Abe", "Ann", "Bob"]


async def test_a_sync_that_removes_rows_draws_the_table_but_lays_out_no_screen():
    """The waiting callers: each second some answered (rows removed), some joined. A row removed asked DataTable for
    the screen's layout, a frame that drew every table of the desk again; the table is drawn again, its size
    measured when idle, and the screen laid out only when that size changed."""
    app = WatchedHost()
    names = ["Ann", "Bob", "Cai", "Dov"]
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(Watched)
        table.sync([row(n.lower(), n, "available") for n in names])
        await pilot.pause()
        layouts = table._layout_updates
        table.asked.clear()
        # Bob answered, Eli joined: as many rows as before
        table.sync([row(n.lower(), n, "available") for n in ("Ann", "Cai", "Dov", "Eli")])
        assert table.asked == [None] and table.rows_removed == 1
        await pilot.pause()
        assert table._layout_updates == layouts
        assert [line(table, y).split() for y in (1, 2, 3, 4)] == [
            ["Ann", "available"],
            ["Cai", "available"],
            ["Dov", "available"],
            ["Eli", "available"],
        ]
        assert table.virtual_size.height == 5  # the header and four rows
        # one fewer: the table's size changed, measured when idle
        table.sync([row(n.lower(), n, "available") for n in ("Ann", "Cai", "Eli")])
        await pilot.pause()
        assert table.virtual_size.height == 4
        assert [line(table, y).split() for y in (1, 2, 3)] == [
            ["Ann", "available"],
            ["Cai", "available"],
            ["Eli", "available"],
        ]
        assert line(table, 4) == ""


async def test_the_tick_moves_one_table_a_turn_and_a_snapshot_is_drawn_one_table_a_frame(redis_client, prefix, cleanup):
    """The desk's 1 s tick comes in three turns, one table each (every line in view of a table is drawn again when
    its times move: the three in one frame were 60-100 ms at 5,000 agents); a snapshot's tables are drawn one a
    frame, the next once the screen was drawn."""
    from wallboard.ui.app import ALL_PANELS, TICK_TURNS

    from .test_tui import T0 as AT, cell, make_app, publish, seq_is, snapshot, until

    clock = ManualClock(AT)
    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, clock, stale_after_s=60)
    rendered: list[tuple[frozenset, int]] = []  # (tables rendered, frames drawn before)
    frames = [0]
    render_all = app.render_all

    def noting(panels=ALL_PANELS, views=True):
        rendered.append((panels & ALL_PANELS, frames[0]))
        return render_all(panels, views)

    app.render_all = noting  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, seq_is(app, 1), "the first snapshot")
        screen = app.screen
        compositor_refresh = screen._compositor_refresh

        def counting():
            frames[0] += 1
            compositor_refresh()

        screen._compositor_refresh = counting  # type: ignore[method-assign]
        watched = {  # a cell of each table whose time moves, and what it shows at the snapshot's time
            "queues": ("support", "longest", "1:14"),
            "agents": ("1001", "time", "2:05"),
            "callers": ("support|sup.0", "wait", "1:14"),
        }
        await until(
            pilot, lambda: all(cell(app, r, c, f"#{t}")[0] == v for t, (r, c, v) in watched.items()), "every table"
        )
        # 10 s later, one turn: one table's times move (no await in between: the desk's own timer waits)
        clock.advance(10)
        turn = app._turn
        app.tick_turn()
        moved = {t for t, (r, c, v) in watched.items() if cell(app, r, c, f"#{t}")[0] != v}
        assert moved == {TICK_TURNS[turn]}
        app.tick_turn()
        app.tick_turn()
        later = {"queues": "1:24", "agents": "2:15", "callers": "1:24"}
        assert {t: cell(app, r, c, f"#{t}")[0] for t, (r, c, _) in watched.items()} == later
        # a snapshot: its summary (queues and callers) and its agents, each table in a frame of its own
        rendered.clear()
        await publish(
            redis_client, prefix, snapshot(2, AT + timedelta(seconds=10), support={"waiting_since": [84, 30]})
        )
        await until(pilot, seq_is(app, 2), "the second snapshot")
        await until(pilot, lambda: {"queues", "agents", "callers"} <= {t for p, _ in rendered for t in p}, "each table")
        tables = [(p, f) for p, f in rendered if p]
        assert all(len(p) == 1 for p, _ in tables), tables
        firsts = {}
        for p, f in tables:
            firsts.setdefault(next(iter(p)), f)
        # the summary's two tables: the callers' after a frame drawn with the queues'
        assert firsts["callers"] > firsts["queues"]


def drawn_lines(table: KeyedTable, rows: int) -> list[list]:
    """Every row's line as DataTable draws it: its segments, each with its style and the style's metadata."""
    return [
        [(s.text, s.style, s.style.meta if s.style else None) for s in table.render_line(y)] for y in range(1, rows + 1)
    ]


async def test_rows_that_moved_keep_their_drawing_at_their_new_place():
    """A waiting caller answered moves every row below it up one line: their cells are not drawn again, but what
    the table shows, the mouse's row and column in each segment included, is what a table drawing everything anew
    shows (and a click on a moved row selects that row)."""
    app = Host()
    names = ["Ann", "Bob", "Cai", "Dov", "Eli", "Fay"]
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([row(n.lower(), n, "available") for n in names])
        await pilot.pause()
        drawn_lines(table, len(names))
        before = table.cells_drawn
        assert before >= 2 * len(names)  # each row's two cells drawn once
        # Bob answered, Gil joined at the end: Cai..Fay each one line up
        now = [n for n in names if n != "Bob"] + ["Gil"]
        table.sync([row(n.lower(), n, "available") for n in now])
        await pilot.pause()
        moved = drawn_lines(table, len(now))
        assert table.cells_drawn - before == 2  # Gil's two cells; none of the four rows that moved
        assert [line(table, y).split()[0] for y in range(1, 7)] == now
        # Cai's cells say they are on row 1 (the second row) now, not row 2
        assert {meta["row"] for _, _, meta in moved[1] if meta and "row" in meta} == {1}
        table._clear_caches()  # the same table drawn from nothing: segment by segment the same, styles and all
        assert drawn_lines(table, len(now)) == moved
        # a click on Eli's line (the header, Ann, Cai, Dov, then Eli: line 4 of the table) selects Eli
        await pilot.click(KeyedTable, offset=(2, 4))
        await pilot.pause()
        assert table.selected_key == "eli"


async def test_a_row_removed_and_added_again_is_drawn_with_what_it_shows_now():
    """A row's drawing is kept on its cells' stamps; a row gone and back under the same key (a caller who left and
    joined again) has new cells, not the drawing kept from before."""
    app = Host()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([row("a", "Ann", "available"), row("b", "Bob", "on_call")])
        await pilot.pause()
        assert line(table, 2).split() == ["Bob", "on_call"]
        table.sync([row("a", "Ann", "available")])
        await pilot.pause()
        table.sync([row("a", "Ann", "available"), row("b", "Bob", "wrap_up")])
        await pilot.pause()
        assert line(table, 2).split() == ["Bob", "wrap_up"]


# ---- a right-to-left table wider than its box: its right end in view ------------------------------------------


class RightToLeftHost(App):
    def compose(self):
        yield KeyedTable([("name", "Name", None), ("state", "State", None)], rtl=True, id="t")


async def test_a_right_to_left_table_widened_while_the_screen_waits_is_held_once_laid_out():
    """The hold runs after a refresh (``call_after_refresh``), but the refresh it follows may not be the layout
    that shows the table's horizontal scrollbar (CI: a screen's refresh already under way); until that scrollbar
    is shown Textual refuses a horizontal scroll. Here the screen is held in a batch while the table measures its
    wider column, so the callbacks after refresh run before the layout; once laid out the table shows its right
    end. Widths by hand: a cell is its text and a space either side; Name 4 + 2, State 5 + 2 (13 <= 20), then
    paused:coaching 15 + 2: 6 + 17 = 23, three columns more than the 20 of the box."""
    app = RightToLeftHost()
    async with app.run_test(size=(20, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([row("a", "Ann", "x")])
        await until(lambda: table.virtual_size.width == 13, "the narrow columns measured", pilot=pilot)
        assert (table.max_scroll_x, table.scroll_x) == (0, 0)
        with app.batch_update():
            table.sync([row("a", "Ann", "paused:coaching")])
            await until(lambda: table.virtual_size.width == 23, "the wider column measured", pilot=pilot)
            await pilot.pause()  # every widget's messages handled: the hold asked for after the next refresh
            # the screen runs its callbacks after refresh when idle in a batch, without laying anything out
            await until(lambda: not app.screen._callbacks, "the callbacks after refresh run", pilot=pilot)
            assert not table.show_horizontal_scrollbar  # not laid out yet
        await until(lambda: table.scroll_x == 3, "the right end", pilot=pilot)
        assert table.max_scroll_x == 3
        assert line(table, 1).endswith("paused:coaching")


async def test_a_right_to_left_table_stays_at_its_right_end_when_its_vertical_scrollbar_comes():
    """Rows enough for a vertical scrollbar take its width from the box: the right end moves two columns on
    though neither the columns nor the box changed (no resize, the virtual width the same)."""
    app = RightToLeftHost()
    names = ["Ann", "Bob", "Cai", "Dov", "Eli", "Fay", "Gil", "Hod", "Ida", "Jo"]
    async with app.run_test(size=(20, 6)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([row(n.lower(), n, "paused:coaching") for n in names[:2]])  # the header and 2 rows: 3 of 5 lines
        await until(lambda: table.max_scroll_x == 3 and table.scroll_x == 3, "the right end", pilot=pilot)
        assert not table.show_vertical_scrollbar
        table.sync([row(n.lower(), n, "paused:coaching") for n in names])  # 11 lines: a vertical scrollbar
        await until(lambda: table.show_vertical_scrollbar, "the vertical scrollbar", pilot=pilot)
        assert table.scrollbar_size_vertical == 2 and table.virtual_size.width == 23
        await until(lambda: table.scroll_x == 5, "the new right end: 23 - (20 - 2)", pilot=pilot)
        assert table.max_scroll_x == 5
        assert line(table, 1).endswith("paused:coaching")


async def test_a_right_to_left_table_scrolled_left_by_the_supervisor_stays_there():
    """The supervisor scrolled left (to the last columns): a column widened does not take the table back to its
    right end; scrolled back to the right end, it is held there again as it widens."""
    app = RightToLeftHost()
    async with app.run_test(size=(20, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([row("a", "Ann", "paused:coaching")])
        await until(lambda: table.scroll_x == 3, "the right end", pilot=pilot)
        table.focus()
        await pilot.press("home")  # DataTable's row cursor: the left end
        await until(lambda: table.scroll_x == 0, "the left end", pilot=pilot)
        table.sync([row("a", "Ann", "paused:coaching+1")])  # 17 + 2: 25 wide
        await until(lambda: table.virtual_size.width == 25 and table.max_scroll_x == 5, "widened", pilot=pilot)
        await pilot.pause()
        await pilot.pause()
        assert table.scroll_x == 0
        await pilot.press("end")  # the right end again
        await until(lambda: table.scroll_x == 5, "the right end", pilot=pilot)
        table.sync([row("a", "Ann", "paused:coaching+12")])  # 18 + 2: 26 wide
        await until(lambda: table.scroll_x == 6, "held at the new right end", pilot=pilot)
