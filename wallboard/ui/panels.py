"""The desk's panels, each in two halves (dolphie's habit): ``fetch`` reads the desk's last parts (one
``DeskState``) and returns plain data, row models or a title's pieces; ``render`` only draws that data into
the panel's widgets. The desk calls both for every panel after each snapshot, tick and flash phase.

- ``TitlePanel``: the centre, its window and sequence, the reader's trouble, the breach badge, the clock;
- ``QueuesPanel``: a row per queue and the centre total, its columns fitted to the terminal's width;
- ``CallersPanel`` and ``AgentsPanel``: the waiting callers and the agents, with their counts in the border.

Tables are updated by key (``tables.KeyedTable.sync``), never cleared; a part not read yet leaves its
table as it is. The queues and the agents (hundreds, thousands) are handed over as a ``rowsource.RowSource``:
the table builds only the rows in view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import App
from textual.widgets import Static

from ..config import WallboardConfig
from ..livetime import ServerTime, fmt_clock
from ..snapshot import Summary
from .requests import Revert
from .rowsource import AgentRowSource, QueueRowSource, RowSource
from .source import AgentsPart
from .tables import KeyedTable
from .view import (
    AGENT_COLUMNS,
    CALLER_COLUMNS,
    QUEUE_COLUMNS,
    RowModel,
    TrendBook,
    breach_badge,
    caller_rows,
    fit_columns,
)

Columns = list[tuple[str, str, int | None]]


@dataclass(frozen=True)
class DeskState:
    """What the panels read: the desk's last parts and the reader's state, at one moment."""

    config: WallboardConfig
    user: str
    server: ServerTime
    trends: TrendBook
    summary: Summary | None
    agents: AgentsPart | None
    reverts: dict[str, list[Revert]] = field(default_factory=dict)
    takeovers: dict = field(default_factory=dict)
    connected: bool = False
    detail: str = ""

    @property
    def tz(self) -> str:
        return self.config.centre.tz


# ---- the title bar --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TitleData:
    centre: str
    window: str | None  # " · since 08:00", " · all input"; None before the first summary
    seq: int | None
    trouble: str | None  # the reader's error while it retries
    badge: str
    badge_class: str  # "-active", "-quiet" or ""
    clock: str
    user: str


class TitlePanel:
    ids = ("title", "badge", "clock")

    def fetch(self, s: DeskState) -> TitleData:
        summary = s.summary
        window = None
        if summary is not None:
            if summary.window.kind == "since_reset":
                since = summary.window.since
                window = f" · since {fmt_clock(since, s.tz)[:5]}" if since else " · since reset"
            else:
                window = " · all input"
        now = s.server.now()
        badge, badge_class = breach_badge(summary, now, s.tz)
        return TitleData(
            centre=summary.centre if summary and summary.centre else s.config.centre.name,
            window=window,
            seq=summary.seq if summary is not None else None,
            trouble=None if s.connected else s.detail,
            badge=badge,
            badge_class=badge_class,
            clock=fmt_clock(now, s.tz),
            user=s.user,
        )

    def render(self, app: App, data: TitleData) -> None:
        title, badge, clock = (app.query_one(f"#{i}", Static) for i in self.ids)
        t = Text()
        t.append(data.centre, style="bold")
        if data.window is not None:
            t.append(data.window)
            t.append(f" · seq {data.seq}", style="dim")
        if data.trouble is not None:
            t.append(f" · {data.trouble}", style="bold red")
        title.update(t)
        badge.update(data.badge)
        badge.set_class(data.badge_class == "-active", "-active")
        badge.set_class(data.badge_class == "-quiet", "-quiet")
        clock.update(Text.assemble((data.clock, "bold"), f" {data.user}"))


# ---- the tables -----------------------------------------------------------------------------------------


class TablePanel:
    """A keyed table, and optionally the box whose border title counts its rows."""

    table_id = ""
    box_id = ""
    box_title = ""

    def columns(self, config: WallboardConfig, width: int) -> Columns:
        raise NotImplementedError

    def fetch(self, s: DeskState) -> list[RowModel] | RowSource | None:
        raise NotImplementedError

    def render(self, app: App, rows: list[RowModel] | RowSource | None, flash: bool) -> None:
        if rows is None:
            return
        table = app.query_one(f"#{self.table_id}", KeyedTable)
        table.sync(rows, flash)
        if self.box_id:
            app.query_one(f"#{self.box_id}").border_title = f"{self.box_title} ({table.row_count})"


class QueuesPanel(TablePanel):
    table_id = "queues"

    def columns(self, config: WallboardConfig, width: int) -> Columns:
        name_w = 16 if width >= 130 else 12 if width >= 100 else 10
        specs = [s if s.key != "name" else type(s)(s.key, s.header, name_w, s.priority) for s in QUEUE_COLUMNS]
        minutes = config.centre.rolling_minutes
        fitted = fit_columns(specs, max(20, width - 3))
        return [(s.key, s.header.format(m=minutes), s.width) for s in fitted]

    def __init__(self) -> None:
        self.source = QueueRowSource()  # 500 queues: each second builds the rows in view

    def fetch(self, s: DeskState) -> RowSource | None:
        if s.summary is None:
            return None
        self.source.update(s.summary, s.config, s.server, s.trends)
        return self.source


class CallersPanel(TablePanel):
    table_id = "callers"
    box_id = "callers-box"
    box_title = "Waiting now"

    def columns(self, config: WallboardConfig, width: int) -> Columns:
        return [(k, h, None) for k, h in CALLER_COLUMNS]

    def fetch(self, s: DeskState) -> list[RowModel] | None:
        return caller_rows(s.summary, s.server) if s.summary is not None else None


class AgentsPanel(TablePanel):
    table_id = "agents"
    box_id = "agents-box"
    box_title = "Agents"

    def __init__(self, server: ServerTime) -> None:
        self.source = AgentRowSource(server)  # 5,000 agents: each second builds the rows in view

    def columns(self, config: WallboardConfig, width: int) -> Columns:
        return [(k, h, None) for k, h in AGENT_COLUMNS]

    def fetch(self, s: DeskState) -> RowSource | None:
        if s.agents is None:
            return None
        self.source.update(s.agents.agents, s.reverts, s.takeovers)
        return self.source
