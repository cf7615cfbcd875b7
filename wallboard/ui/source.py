"""The fetch half of the desk UI: read the published snapshot parts from Redis, as plain data.

Nothing here renders or imports Textual. ``SnapshotSource.parts()`` subscribes first, then reads the stored
parts (so nothing published in between is lost), then yields a full ``Summary`` and ``AgentsPart`` each time
they change: full snapshots as published, deltas applied to the copy it holds, a resynchronisation on a gap in
``seq`` (``wallboard.delta.SnapshotStream``). The caller (a long-running worker) turns them into messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection

from ..delta import AgentsPart, SnapshotStream, parse_agents, parse_summary
from ..keys import Keys
from ..snapshot import Summary

__all__ = ["AgentsPart", "SnapshotSource", "parse_agents", "parse_summary"]


class SnapshotSource:
    """Latest parts at start, then every change, as full parts. ``agents=False``: the summary only. An agent's
    clock figures (``delta.AGENT_CLOCK``) are as its last change brought them, not brought up to date by each
    full part: the desk shows none (``view.agent_cells``), and a model made anew for every agent logged in at
    each full part was memory the desk could not give back (``delta.parse_agents``). The agents in ``clock_for``
    (the desk's: those whose scorecard is open, ``live_card`` rests on their seconds in each state; the set is
    read at each part, its owner changes it) are the exception: each full part brings theirs up to date. With the
    agent detail (the desk), a full part the delta before it already brought (in step) is not read at all
    (``SnapshotStream(skip_fulls=True)``): the desk ticks its waits and times in state itself; the agents part is
    read while a card is open. The board reads the full summaries: its alert lines and trend arrows read the
    queues' waits as the snapshot has them."""

    def __init__(self, client, keys: Keys, agents: bool = True, clock_for: Collection[str] = frozenset()):
        self.stream = SnapshotStream(client, keys, agents=agents, clock_figures=clock_for, skip_fulls=agents)

    @property
    def rejected(self) -> int:
        return self.stream.rejected

    def parts(self) -> AsyncIterator[Summary | AgentsPart]:
        return self.stream.parts()
