"""A note (a pending auto-revert, a takeover) that goes away while a sliced agents part is half taken leaves the
row: a part arriving mid-pass carries over the agents the pass under way had still to build again
(``AgentRowSource._start``; before, it forgot them and the row kept a frozen countdown or ``taken:rivka``)."""

from __future__ import annotations

from datetime import datetime, timezone

from wallboard.clock import ManualClock
from wallboard.livetime import ServerTime
from wallboard.snapshot import AgentSnapshot
from wallboard.ui.requests import Revert
from wallboard.ui.rowsource import AgentRowSource

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _agents(state: str) -> dict[str, AgentSnapshot]:
    return {
        f"a{i:03d}": AgentSnapshot(name=f"Agent {i:03d}", state=state, since=T0, queues={"sales": 1})
        for i in range(300)
    }


def test_a_note_gone_mid_slice_is_not_left_on_the_row():
    server = ServerTime(ManualClock(T0))
    first = _agents("available")
    due = T0.timestamp() + 90
    reverts = {"a150": [Revert(agent="a150", queue="sales", op="remove", penalty=None, due=due)]}
    source = AgentRowSource(server)
    source.update(first, reverts)  # at once: a150's queues cell shows its countdown
    [r] = source.rows(["a150"])
    assert "(" in r.cells["queues"].text

    # the revert is cancelled; a full part where every agent but a150 changed (a150: the same object)
    second = {k: (a if k == "a150" else a.model_copy(update={"state": "on_call"})) for k, a in first.items()}
    source.update(second, {}, budget=10 * 9)  # ten agents taken; a150 not reached yet
    assert source.pending
    # the next part arrives before the slices are done (same agents, a new dict): then every slice is taken
    third = dict(second)
    source.update(third, {}, budget=10 * 9)
    while source.pending:
        source.update(third, {}, budget=10 * 9)

    fresh = AgentRowSource(server)
    fresh.update(third, {})
    [want] = fresh.rows(["a150"])
    [got] = source.rows(["a150"])
    assert "(" not in want.cells["queues"].text  # by hand: no revert pending, the queue's name alone
    assert got.cells["queues"].text == want.cells["queues"].text, "stale revert countdown left on a150's row"


def test_a_takeover_note_that_expires_mid_slice_is_not_left_on_the_row():
    """The same with a takeover (``taken:rivka`` in the Alerts column): ``load_takeovers`` stops listing it after
    ``TAKEOVER_SHOWN_S`` while the agent's snapshot stays the same; the desk reads the takeovers again after every
    agents part (``read_reverts``), so a second ``_start`` right after a part is the normal case."""
    from wallboard.ui.requests import TakenOver

    server = ServerTime(ManualClock(T0))
    first = _agents("available")
    taken = {"a150": TakenOver(agent="a150", by="rivka", call_id="c1", at=T0.timestamp())}
    source = AgentRowSource(server)
    source.update(first, None, taken)
    [r] = source.rows(["a150"])
    assert "rivka" in r.cells["alerts"].text

    second = {k: (a if k == "a150" else a.model_copy(update={"state": "paused"})) for k, a in first.items()}
    source.update(second, None, {}, budget=10 * 9)  # the takeover no longer listed: a150 to be built again
    assert source.pending
    source.update(second, None, {"a7": TakenOver(agent="a7", by="moshe", call_id="c9", at=T0.timestamp())}, budget=90)
    while source.pending:
        source.update(second, None, {}, budget=10 * 9)

    [got] = source.rows(["a150"])
    assert got.cells["alerts"].text == "", f"a150 still shows {got.cells['alerts'].text!r}"
