"""The desk's tables at scale: what an update costs (column widths counted, only changed cells redrawn, unchanged
agents' cells reused) without changing what the table shows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from textual.app import App

from wallboard.clock import ManualClock
from wallboard.livetime import ServerTime
from wallboard.snapshot import AgentSnapshot
from wallboard.ui.tables import KeyedTable
from wallboard.ui.view import CellModel, RowModel, agent_rows

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
    clock = ManualClock(T0)
    server = ServerTime(clock)
    ann = AgentSnapshot(name="Ann", state="available", since=T0 - timedelta(seconds=65), queues={"sales": 1})
    bob = AgentSnapshot(name="Bob", state="on_call", since=T0 - timedelta(seconds=5), queues={"sales": 1})
    cache: dict = {}
    first = {r.key: r for r in agent_rows({"a": ann, "b": bob}, server, cache=cache)}
    assert first["a"].cells["time"].text == "1:05"
    clock.advance(10)
    bob2 = bob.model_copy(update={"state": "wrap_up"})  # a delta carried Bob: a new object
    second = {r.key: r for r in agent_rows({"a": ann, "b": bob2}, server, cache=cache)}
    assert second["a"].cells["time"].text == "1:15"
    assert second["a"].cells["state"] is first["a"].cells["state"]
    assert second["b"].cells["state"] is not first["b"].cells["state"]
    assert second["b"].cells["state"].text.startswith("wrap")
    # the same texts as rows built without the cache
    plain = {r.key: r for r in agent_rows({"a": ann, "b": bob2}, server)}
    for key in ("a", "b"):
        assert {c: m.text for c, m in second[key].cells.items()} == {c: m.text for c, m in plain[key].cells.items()}
    agent_rows({"b": bob2}, server, cache=cache)  # Ann left
    assert set(cache) == {"b"}
