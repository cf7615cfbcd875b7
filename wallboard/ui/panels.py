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

from rich.cells import cell_len

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rich.text import Text
from textual.app import App
from textual.widgets import Static

from ..config import WallboardConfig
from ..livetime import ServerTime, fmt_clock
from ..snapshot import Summary
from .requests import Revert
from .rowsource import SLICE, AgentRowSource, QueueRowSource, RowSource
from .source import AgentsPart
from .tables import KeyedTable
from .view import (
    AGENT_COLUMNS,
    AGENT_LOAD_FROM,
    CALLER_COLUMNS,
    QUEUE_COLUMNS,
    RowModel,
    TrendBook,
    breach_badge,
    caller_rows,
    fit_columns,
)
from .words import ENGLISH, Words

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
    words: Words = ENGLISH

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
    words: Words = ENGLISH
    badge_short: str = ""  # the badge in a narrow header's words


class TitlePanel:
    ids = ("title", "badge", "clock")

    def fetch(self, s: DeskState) -> TitleData:
        summary = s.summary
        w = s.words
        window = None
        if summary is not None:
            if summary.window.kind == "since_reset":
                since = summary.window.since
                window = w("since", t=fmt_clock(since, s.tz)[:5]) if since else w("since_reset")
            else:
                window = w("all_input")
        now = s.server.now()
        badge, badge_class = breach_badge(summary, now, s.tz, w)
        badge_short = breach_badge(summary, now, s.tz, w, short=True)[0]
        return TitleData(
            centre=summary.centre if summary and summary.centre else s.config.centre.name,
            window=window,
            seq=summary.seq if summary is not None else None,
            trouble=None if s.connected else s.detail,
            badge=badge,
            badge_class=badge_class,
            clock=fmt_clock(now, s.tz),
            user=s.user,
            words=w,
            badge_short=badge_short,
        )

    def render(self, app: App, data: TitleData) -> None:
        title, badge, clock = (app.query_one(f"#{i}", Static) for i in self.ids)
        w = data.words
        when = f"{data.clock} {data.user}"
        text, seq = f"{data.centre}{data.window or ''}", w("seq", n=data.seq) if data.seq is not None else ""
        # a narrow header keeps the centre and its window whole: the badge in short words, then no seq number

        def fits(*parts: str) -> bool:  # 4: the title's and the clock's padding
            return sum(cell_len(p) for p in parts) + 4 <= app.size.width

        shown_badge = data.badge if fits(text, seq, data.badge, when) else data.badge_short
        pieces = [(data.centre, "bold")]
        if data.window is not None:
            pieces.append((data.window, ""))
            if fits(text, seq, shown_badge, when):
                pieces.append((seq, "dim"))
        if data.trouble is not None:
            pieces.append((f" · {data.trouble}", "bold red"))
        show(title, tuple(pieces), lambda: w.line(*pieces))
        show(badge, shown_badge, lambda: w.show(shown_badge))
        badge.set_class(data.badge_class == "-active", "-active")
        badge.set_class(data.badge_class == "-quiet", "-quiet")
        show(clock, (data.clock, data.user), lambda: Text.assemble((data.clock, "bold"), f" {data.user}"))


def show(static: Static, key: object, content: Callable[[], Text | str]) -> None:
    """Update a one-line Static only when what it shows changed (``key``), and lay the screen out again only when
    its width did: ``Static.update`` lays out the whole screen by default, and each render of the desk (several a
    second) updated the title, the badge and the clock, drawing every table again."""
    was = getattr(static, "_shown_key", None)
    if was is not None and was[0] == key:
        return
    made = content()
    width = made.cell_len if isinstance(made, Text) else cell_len(made)
    static.update(made, layout=was is None or was[1] != width)
    static._shown_key = (key, width)  # type: ignore[attr-defined]


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

    def __init__(self, words: Words = ENGLISH) -> None:
        self.words = words
        self._titled: tuple[object, str] | None = None  # (box, title) last set

    def render(self, app: App, rows: list[RowModel] | RowSource | None, flash: bool) -> None:
        if rows is None:
            return
        table = app.query_one(f"#{self.table_id}", KeyedTable)
        table.sync(rows, flash)
        if self.box_id:
            title = self.words.show(f"{self.words(self.box_title)} ({table.row_count})")
            box = app.query_one(f"#{self.box_id}")
            if self._titled != (box, title):  # a border title set repaints the whole box, and the table in it
                box.border_title = title
                self._titled = (box, title)

    def headers(self, columns: list[tuple[str, str]]) -> Columns:
        """(column, header, auto width), from the right on a right-to-left desk."""
        out: Columns = [(k, self.words.show(self.words(h)), None) for k, h in columns]
        return out[::-1] if self.words.rtl else out


class QueuesPanel(TablePanel):
    table_id = "queues"

    def columns(self, config: WallboardConfig, width: int) -> Columns:
        name_w = 16 if width >= 130 else 12 if width >= 100 else 10
        w = self.words
        minutes = config.centre.rolling_minutes
        # each column at least as wide as its header in this language (English headers fit their widths)
        specs = [
            replace(s, width=max(name_w if s.key == "name" else s.width, len(w(s.header, m=minutes))))
            for s in QUEUE_COLUMNS
        ]
        fitted = fit_columns(specs, max(20, width - 3))
        out: Columns = [(s.key, w.show(w(s.header, m=minutes)), s.width) for s in fitted]
        return out[::-1] if w.rtl else out

    def __init__(self, words: Words = ENGLISH) -> None:
        super().__init__(words)
        self.source = QueueRowSource(words)  # 500 queues: each second builds the rows in view

    def fetch(self, s: DeskState) -> RowSource | None:
        if s.summary is None:
            return None
        self.source.update(s.summary, s.config, s.server, s.trends)
        return self.source


class CallersPanel(TablePanel):
    table_id = "callers"
    box_id = "callers-box"
    box_title = "box.waiting"

    def columns(self, config: WallboardConfig, width: int) -> Columns:
        return self.headers(list(CALLER_COLUMNS))

    def fetch(self, s: DeskState) -> list[RowModel] | None:
        return caller_rows(s.summary, s.server) if s.summary is not None else None


class AgentsPanel(TablePanel):
    table_id = "agents"
    box_id = "agents-box"
    box_title = "box.agents"

    def __init__(self, server: ServerTime, words: Words = ENGLISH) -> None:
        super().__init__(words)
        self.source = AgentRowSource(server, words=words)  # 5,000 agents: each second builds the rows in view

    def columns(self, config: WallboardConfig, width: int) -> Columns:
        return self.headers([c for c in AGENT_COLUMNS if c[0] != "load" or width >= AGENT_LOAD_FROM])

    def fetch(self, s: DeskState) -> RowSource | None:
        if s.agents is None:
            return None
        self.source.update(s.agents.agents, s.reverts, s.takeovers, budget=SLICE)
        return self.source

    @property
    def pending(self) -> bool:
        """Agents of the last part still to be taken: render again once the loop has turned."""
        return self.source.pending
