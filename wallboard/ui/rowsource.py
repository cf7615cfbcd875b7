"""Rows built when a table shows them: a table of thousands of rows costs, each second, the rows in view.

A ``RowSource`` knows every row's key and sort key (``keys()``, with ``layout`` moving when they change) and
the widest text of each auto-width column over every row (``widths()``); it builds a row (``rows(keys)``) only
when the table asks: for the rows in view (and a margin) at each update, and for the rows scrolled into view as
they come (``tables.KeyedTable``). A row built is what ``view`` would build for it at that moment.

- ``AgentRowSource``: the agents (all, or one queue's members). An agent keeps its cells but the time in state
  while nothing it shows changed — the same object (a delta carries only the agents that changed; the desk's
  full parts too, ``SnapshotSource``) or one equal but for the clock figures (a view's full snapshot with its
  talk/wrap/available/paused seconds brought up to date; no cell reads them): a full snapshot rebuilds only
  what it changed. The time
  column's widest text is the longest time in state, the earliest ``since`` (``fmt_duration`` never narrows
  as time grows).
- ``QueueRowSource``: the queues in snapshot order, then the total (the queue table's widths are fixed).

Nothing here imports Textual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter

from rich.cells import cell_len

from ..config import WallboardConfig
from ..delta import AGENT_CLOCK
from ..livetime import ServerTime, fmt_duration
from ..snapshot import AgentSnapshot, Summary
from .view import (
    AGENT_COLUMNS,
    TOTAL_KEY,
    TOTAL_SORT,
    CellModel,
    RowModel,
    TrendBook,
    agent_cells,
    agent_sort_key,
    queue_row,
    time_in_state,
    total_row,
)
from .words import ENGLISH, Words


def text_width(text: str) -> int:
    """The cells a text takes, its widest line."""
    return max(cell_len(line) for line in text.split("\n")) if "\n" in text else cell_len(text)


INTERNED = 50_000  # distinct cells shared, at most (then forgotten: the cells built since share anew)
# A first part of 5,000 agents built its cells (~280 ms) and placed its rows (~200 ms) in one frame; a full part
# compared every agent (30-70 ms). Work between two turns of the desk's loop (``AgentRowSource.update``):
SLICE = 2000  # a comparison of an agent's fields costs 1
BUILD_COST = 8  # its cells built (and its row placed) cost about as much as comparing eight

_NONE: dict = {}  # no reverts or takeovers (never written to)

# an agent's fields but the clock figures: equal, and its row shows the same (but the time)
_SHOWN_FIELDS = itemgetter(*(f for f in AgentSnapshot.model_fields if f not in AGENT_CLOCK))


class RowSource:
    """What a ``KeyedTable`` asks of rows it builds on demand."""

    layout = 0  # moves when a row is added or removed or a sort key changes

    def keys(self) -> dict[str, tuple]:
        """Every row's key -> its sort key."""
        raise NotImplementedError

    def rows(self, keys: Sequence[str]) -> list[RowModel]:
        """These rows as they are now."""
        raise NotImplementedError

    def widths(self) -> dict[str, int]:
        """An auto-width column -> the widest text of its cells over every row."""
        return {}


class AgentRowSource(RowSource):
    """The agents' rows (``queue``: its members, with their penalty), kept from one agents part to the next."""

    def __init__(self, server: ServerTime, queue: str | None = None, words: Words = ENGLISH) -> None:
        self.server = server
        self.queue = queue
        self.words = words
        self.layout = 0
        self.now: datetime = server.now()
        self._agents: dict[str, AgentSnapshot] = {}
        self._keys: dict[str, tuple] = {}
        # agent -> (the object its cells were built from, what they show of it, its cells; "time" as then)
        self._held: dict[str, tuple[AgentSnapshot, tuple, dict[str, CellModel]]] = {}
        self._widths: dict[str, Counter[int]] = {}  # column -> how many cells have each width (not "time")
        self._noted: set[str] = set()  # agents with a countdown or a takeover note: built again at each update
        self._renote: set[str] = set()  # agents built again in the pass under way (a note came or went)
        self._todo: list[str] = []  # agents of the latest part not looked at yet, the next last
        self._seen: tuple = ()
        self._earliest: datetime | None = None  # the earliest since: the longest time in state
        self._undated = False  # an agent with no since ("-")
        self._same: dict[CellModel, CellModel] = {}  # equal cells share one object (not countdowns: they tick)

    def update(
        self,
        agents: dict[str, AgentSnapshot],
        reverts: dict | None = None,
        takeovers: dict | None = None,
        budget: int | None = None,
    ) -> None:
        """Take the latest agents (and pending reverts, recent takeovers); costs the agents that changed (an
        identity check, or a comparison of their fields, for the others). ``budget``: at most this much work
        now (``SLICE``; a comparison costs 1, cells built ``BUILD_COST`` more), the rest at the next calls while
        ``pending`` (the agents not looked at yet keep their rows as they were)."""
        reverts, takeovers = reverts or _NONE, takeovers or _NONE  # the same when none: not a new part
        self.now = now = self.server.now()
        epoch = now.timestamp()
        seen = (agents, reverts, takeovers)
        if len(seen) != len(self._seen) or any(x is not y for x, y in zip(seen, self._seen)):
            self._seen = seen
            self._start(agents, reverts, takeovers)
        elif not self._todo:
            for agent_id in self._noted:  # countdowns and notes move on
                if agent_id in self._held:
                    a = self._agents[agent_id]
                    self._build(agent_id, a, _SHOWN_FIELDS(a.__dict__), reverts, takeovers, epoch)
            return
        self._take(budget, epoch)

    @property
    def pending(self) -> bool:
        """Agents of the latest part not looked at yet (a ``budget`` ran out)."""
        return bool(self._todo)

    def _start(self, agents: dict[str, AgentSnapshot], reverts: dict, takeovers: dict) -> None:
        """A new part: the agents gone leave now; every other is to be looked at (``_take``), the new ones first
        and in their rows' order, so that a first part fills the top of the table first."""
        queue = self.queue
        members = agents if queue is None else {k: a for k, a in agents.items() if queue in a.queues}
        held = self._held
        for gone in [k for k in held if k not in members]:
            self._count(held.pop(gone)[2], -1)
            self._keys.pop(gone, None)
            self.layout += 1
        noted = {k for k in members if reverts.get(k) or takeovers.get(k)}
        # built again: a note came or went (and what a pass cut short by this part had still to build again)
        self._renote = noted | self._noted | (self._renote if self._todo else set())
        self._noted = noted
        self._agents = members
        new = sorted((k for k in members if k not in held), key=lambda k: agent_sort_key(k, members[k]), reverse=True)
        self._todo = [k for k in members if k in held] + new  # taken from the end
        dated = [a.since for a in members.values() if a.since is not None]
        self._earliest = min(dated, default=None)
        self._undated = len(dated) < len(members)

    def _take(self, budget: int | None, epoch: float) -> None:
        _, reverts, takeovers = self._seen
        members, held, renote, todo = self._agents, self._held, self._renote, self._todo
        spent = 0
        while todo and (budget is None or spent < budget):
            agent_id = todo.pop()
            a = members[agent_id]
            hit = held.get(agent_id)
            again = agent_id in renote
            if hit is not None and hit[0] is a and not again:
                continue
            spent += 1
            shown = _SHOWN_FIELDS(a.__dict__)
            if hit is not None and hit[1] == shown and not again:
                held[agent_id] = (a, shown, hit[2])  # the clock figures moved: the same cells
                continue
            spent += BUILD_COST
            self._build(agent_id, a, shown, reverts, takeovers, epoch)

    def _build(self, agent_id: str, a: AgentSnapshot, shown: tuple, reverts, takeovers, epoch: float) -> None:
        cells = agent_cells(
            agent_id, a, reverts.get(agent_id) or [], takeovers.get(agent_id), epoch, "", self.queue, self.words
        )
        if agent_id not in self._noted:  # equal cells share one object (a countdown ticks: not worth keeping)
            same = self._same
            if len(same) > INTERNED:
                same.clear()
            cells = {col: same.setdefault(cell, cell) for col, cell in cells.items()}
        old = self._held.get(agent_id)
        if old is not None:
            self._count(old[2], -1)
        self._count(cells, +1)
        self._held[agent_id] = (a, shown, cells)
        sort_key = agent_sort_key(agent_id, a)
        if self._keys.get(agent_id) != sort_key:
            self._keys[agent_id] = sort_key
            self.layout += 1

    def _count(self, cells: dict[str, CellModel], n: int) -> None:
        for col, cell in cells.items():
            if col == "time":
                continue
            counter = self._widths.setdefault(col, Counter())
            w = text_width(cell.text)
            counter[w] += n
            if counter[w] <= 0:
                del counter[w]

    def keys(self) -> dict[str, tuple]:
        return self._keys

    def rows(self, keys: Sequence[str]) -> list[RowModel]:
        now = self.now
        out = []
        for agent_id in keys:
            hit = self._held.get(agent_id)
            if hit is None:
                continue
            a, _, cells = hit
            cells = dict(cells)
            cells["time"] = CellModel(time_in_state(a, now), level=cells["time"].level)
            out.append(RowModel(agent_id, cells, self._keys[agent_id]))
        return out

    def widths(self) -> dict[str, int]:
        out = {col: max(c, default=0) for col, c in self._widths.items()}
        longest = 0
        if self._earliest is not None:
            longest = text_width(fmt_duration(max(0.0, (self.now - self._earliest).total_seconds())))
        out["time"] = max(longest, 1 if self._undated else 0)
        return out


class QueueRowSource(RowSource):
    """The queue table's rows: every queue in snapshot order, then the total."""

    def __init__(self, words: Words = ENGLISH) -> None:
        self.words = words
        self.layout = 0
        self._names: list[str] = []
        self._keys: dict[str, tuple] = {}
        self._args: tuple | None = None

    def update(self, summary: Summary, config: WallboardConfig, server: ServerTime, trends: TrendBook) -> None:
        names = list(summary.queues)
        if names != self._names:
            self._names = names
            self._keys = {n: (0, i) for i, n in enumerate(names)}
            self._keys[TOTAL_KEY] = TOTAL_SORT
            self.layout += 1
        self._args = (summary, config, server, trends, server.now())

    def keys(self) -> dict[str, tuple]:
        return self._keys

    def rows(self, keys: Sequence[str]) -> list[RowModel]:
        if self._args is None:
            return []
        summary, config, server, trends, now = self._args
        out = []
        for key in keys:
            if key == TOTAL_KEY:
                out.append(total_row(summary, server, trends, w=self.words))
            elif key in summary.queues:
                out.append(queue_row(key, self._keys[key][1], summary, config, server, trends, now, w=self.words))
        return out


__all__ = ["AGENT_COLUMNS", "AgentRowSource", "QueueRowSource", "RowSource"]
