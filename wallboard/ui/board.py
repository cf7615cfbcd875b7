"""The large-screen mode (``wallboard board [--layout NAME]``): a terminal on a TV, read from 8 metres.

Per queue of the layout a card of a few huge numbers (``bigdigits``, scaled to the terminal), coloured by
level; a breach nobody acknowledged or snoozed flashes (<= 2 Hz, one timer, paused when nothing flashes, its
phase from server time so every screen flashes in step); an acknowledgement or a snooze shows beside the
figure's label. When the queues do not fit, pages rotate every ``rotate_s`` (on server time too). A ticker
line shows the supervisor's message (the Redis key of ``wallboard.ticker``); a "stale" badge shows when
no snapshot came for ``display.stale_after_s``, or at once when the reader loses Redis (until newer data
comes: it reconnects by itself). The longest wait and the clock tick locally from server time.

What a card shows is the layout's projection (``wallboard.projection``), the same data the TV page gets:
a centre total card first when the layout shows it, each figure's target and trend arrow in its label, a
shape beside the colour for warn (▲) and breach (■), and the agents by state along each card's foot. A label
too long for its tile takes a shorter form (``figure_label_variants``: the abbreviations of
``catalog.TV_SHORT``, the other window left out; the target stays), the agents row wraps whole states over
the rows the page plan gave it; an ellipsis only when nothing fits. Pages share the queues evenly. Alert
lines (one per queue in breach) follow the supervisor's message in the ticker, which scrolls (8 columns a
second, on server time) when it is wider than the terminal. Stale: every figure grey and struck through, the
timers stopped at the last snapshot, and the ticker row turns into "NO DATA FOR 40 s · last update 09:14:22".

Right-to-left layouts (Hebrew): the first queue is on the right, labels align right, and every text is reordered for
display with python-bidi's ``get_display`` (the Unicode bidi algorithm, brackets mirrored): xterm, tmux, screen and
the Linux console draw characters in the order they get, so logical-order Hebrew would show letter-reversed. A
terminal that runs the bidi algorithm itself (mlterm, Konsole, VTE with bidi on) would reverse it again: ``--bidi
terminal`` (or ``WALLBOARD_BIDI=terminal``) sends logical order to those.
Animations are off and nothing redraws more than the 1 s tick, the flash and new snapshots ask for; the
command also caps Textual's frame rate (``TEXTUAL_FPS``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from pathlib import Path

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Static

from ..clock import Clock, SystemClock
from ..config import LayoutConfig, WallboardConfig
from .. import catalog
from ..projection import (
    AGENT_LABELS,
    AGENT_STATES,
    STRIPS,
    FIGURE_FORMAT,
    UI_TEXT,
    TrendBook,
    figure_label,
    fmt_value,
    live_value,
    project,
    record_trends,
)
from ..ticker import read_ticker
from ..keys import Keys
from ..snapshot import Alert, Summary
from ..thresholds import flash_phase, should_flash
from .bidi import visual
from .bigdigits import fit_scale, render_big, width_units
from ..livetime import ServerTime, fmt_clock
from .messages import FeedStatus, SummaryArrived
from .reader import SnapshotReader

log = logging.getLogger(__name__)

# The widest value each format must fit: the board sizes every figure of a layout for the widest.
TEMPLATES = {"count": "888", "duration": "88:88", "pct": "100%", "score": "-100"}
CHROME_ROWS = 1  # the top bar; the ticker takes one more row when it has a message
CARD_BORDER = 2  # a round border: one cell each side
CARD_HEADER = 1
TICKER_COLS_PER_S = 8  # how fast a ticker wider than the terminal scrolls
TICKER_GAP = "   •   "
LEVEL_ICONS = {"warn": "▲ ", "breach": "■ "}  # a shape besides the colour (cp437 glyphs: every console font)
TREND_ARROWS = {"up": " ▲", "down": " ▼"}


def marquee(text: str, width: int, pos: int, rtl: bool) -> str:
    """``width`` columns of ``text`` scrolled ``pos`` columns: the text moves left (right for a right-to-left
    text, which reads from its right end), looping with a gap."""
    if len(text) <= width:
        return text
    loop = text + TICKER_GAP
    n = len(loop)
    start = (-pos) % n if rtl else pos % n
    return (loop * (width // n + 2))[start : start + width]


# ---- fitting text to a tile (pure) ----------------------------------------------------------------------


def fits(text: str, width: int, height: int = 1) -> bool:
    lines = text.split("\n")
    return len(lines) <= height and all(cell_len(line) <= width for line in lines)


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis, in reading order (a right-to-left text loses its end,
    on the left, once reordered for display)."""
    if cell_len(text) <= width:
        return text
    out = ""
    for ch in text:
        if cell_len(out + ch) > width - 1:
            break
        out += ch
    return out.rstrip() + "…" if width > 0 else ""


def fit(variants: list[str], width: int, height: int = 1) -> str:
    """The first of ``variants`` (longest, most telling first) that fits ``width`` x ``height`` cells; else the
    last, each line cut. A variant may hold several lines."""
    for v in variants:
        if fits(v, width, height):
            return v
    return "\n".join(cut(line, width) for line in variants[-1].split("\n")[: max(1, height)])


def wrap_units(units: list[str], width: int, sep: str = "  ") -> list[str]:
    """``units`` (never broken) on as few lines of ``width`` cells as they fit, ``sep`` between two on a line."""
    lines: list[str] = []
    for u in units:
        if lines and cell_len(lines[-1] + sep + u) <= width:
            lines[-1] += sep + u
        else:
            lines.append(u)
    return lines


def agent_units(counts: dict, language: str, short: bool = False) -> list[str]:
    """The strip's parts as the projection gives them, in its order (a written queue's and the total's are not
    states: ``projection._agents``); the states when it gives none."""
    words = AGENT_LABELS[language]
    keys = [k for k in counts if k in words] or AGENT_STATES
    return [f"{counts.get(k, '-')} {catalog.tv_short(words[k], language) if short else words[k]}" for k in keys]


def agent_variants(counts: dict, language: str, width: int) -> list[str]:
    """The agents row: on one line (two spaces between states, else one), else wrapped over lines, in whole
    words, then in short ones (``catalog.TV_SHORT``)."""
    full, short = agent_units(counts, language), agent_units(counts, language, short=True)
    wrapped = ["\n".join(wrap_units(units, width, sep)) for units in (full, short) for sep in ("  ", " ")]
    return ["  ".join(full), " ".join(full), *wrapped]


def agent_rows(language: str, width: int) -> int:
    """Rows a tile ``width`` cells wide gives its agents row: one when it fits on one line with counts of two
    digits, else as many as its short words wrap to."""
    return max(_strip_rows(dict.fromkeys(parts, 88), language, width) for parts in STRIPS)


def _strip_rows(counts: dict, language: str, width: int) -> int:
    if cell_len(" ".join(agent_units(counts, language))) <= width:
        return 1
    return min(len(wrap_units(agent_units(counts, language, short=True), width, sep)) for sep in ("  ", " "))


def figure_label_variants(
    name: str,
    language: str,
    words: dict[str, str],
    *,
    icon: str = "",
    window_min: int | None = None,
    acked_by: str | None = None,
    snoozed_to: str | None = None,
    target: str | None = None,
    trend: str = "",
    other: tuple[str, str] | None = None,
) -> list[str]:
    """A figure's label, whole then shorter: ``■ Service level · 30 min / 80% ▲ (today 62%)`` down to
    ``■ SL / 80%``. The target stays beside the figure to the last; the long words go first
    (``catalog.TV_SHORT``), then the figure's other window, then the acknowledgement's words (its mark stays)."""
    short = catalog.tv_short(name, language)
    win = {
        "full": f" · {window_min} {words['minutes']}" if window_min else "",
        "short": " " + words["window_short"].format(m=window_min) if window_min else "",
        "none": "",
    }
    if acked_by:
        state = {"full": f"  ✓ {words['acked']} {acked_by}", "short": f" ✓ {acked_by}", "tiny": " ✓"}
    elif snoozed_to:
        state = {"full": f"  ⏸ {words['snoozed']} {snoozed_to}", "short": f" ⏸ {snoozed_to}", "tiny": " ⏸"}
    else:
        state = dict.fromkeys(("full", "short", "tiny"), "")
    tail = (f" / {target}" if target else "") + trend
    more = f" ({other[0]} {other[1]})" if other else ""
    forms = [  # (name, window, state, the other window)
        (name, "full", "full", True),
        (name, "short", "full", True),
        (short, "short", "full", True),
        (name, "short", "full", False),
        (short, "short", "full", False),
        (short, "short", "short", False),
        (short, "short", "tiny", False),
        (short, "none", "tiny", False),
    ]
    out: list[str] = []
    for n, w, st, o in forms:
        v = f"{icon}{n}{win[w]}{state[st]}{tail}{more if o else ''}"
        if v not in out:
            out.append(v)
    return out


@dataclass(frozen=True)
class Plan:
    """How a page is laid out: queues per page on a ``cols`` x ``rows`` grid, each card's figures on a
    ``fig_cols`` x ``fig_rows`` grid, and the digit scale that gives."""

    per_page: int
    cols: int
    rows: int
    fig_cols: int
    fig_rows: int
    scale: int


def plan_board(
    width: int,
    height: int,
    n_queues: int,
    formats: list[str],
    per_page: int = 0,
    card_extra: int | Callable[[int], int] = 0,
) -> Plan:
    """The page layout with the largest digits that still shows as many queues per page as fit at scale 1
    (``per_page`` fixes the count). Pages rotate when that is fewer than the queues. ``card_extra``: rows
    each card takes besides its name and figures (the agents row), or a function of the card's inner width
    giving them (a narrow card wraps its agents row)."""
    units = max(width_units(TEMPLATES[f]) for f in formats)
    n_fig = len(formats)
    n = max(1, n_queues)
    counts = [min(per_page, n)] if per_page else list(range(n, 0, -1))
    fallback: Plan | None = None
    for k in counts:
        best: Plan | None = None
        for cols in range(1, k + 1):
            rows = ceil(k / cols)
            if cols * rows - k >= cols:  # a whole empty row: another cols gives the same
                continue
            inner_w = width // cols - CARD_BORDER
            extra = card_extra(inner_w) if callable(card_extra) else card_extra
            inner_h = height // rows - CARD_BORDER - CARD_HEADER - extra
            for fc in range(1, n_fig + 1):
                fr = ceil(n_fig / fc)
                cell_w = (inner_w - (fc - 1)) // fc
                cell_h = inner_h // fr - 1  # the label row
                scale = max(0, min(cell_w // units, (2 * cell_h) // 5)) if cell_w > 0 and cell_h > 0 else 0
                plan = Plan(k, cols, rows, fc, fr, scale)
                if best is None or plan.scale > best.scale:
                    best = plan
        assert best is not None
        if fallback is None or best.scale > fallback.scale:
            fallback = best
        if best.scale >= 1 or per_page:
            return best
    assert fallback is not None
    return fallback


# ---- widgets ------------------------------------------------------------------------------------------


class BigNumber(Widget):
    """A value in block digits at the largest scale its box allows (plain bold text when even 1 is too big)."""

    DEFAULT_CSS = """
    BigNumber { width: 1fr; height: 1fr; content-align: center middle; }
    """

    def __init__(self, template: str = "", **kw) -> None:
        super().__init__(**kw)
        self.value = ""
        self.template = template  # the widest value expected: every number of a board shares one scale
        self.cap = 10_000  # the board's common scale (the smallest any figure box allows)
        self.stale = False  # drawn struck through (and grey, by the stylesheet)

    def set_value(self, value: str) -> None:
        if value != self.value:
            self.value = value
            self.refresh()

    def natural_scale(self) -> int:
        """The scale this box allows for the template (the board takes the smallest of them all)."""
        size = self.content_size
        return fit_scale(self.template or self.value, size.width, size.height)

    def on_resize(self) -> None:
        update = getattr(self.app, "update_scale", None)
        if update is not None:
            self.call_after_refresh(update)

    def set_cap(self, cap: int) -> None:
        if cap != self.cap:
            self.cap = cap
            self.refresh()

    @property
    def scale(self) -> int:
        """The scale drawn: the board's common one, smaller only for a value wider than the template."""
        size = self.content_size
        return min(self.cap, fit_scale(self.value, size.width, size.height))

    def render(self) -> Text:
        s = self.scale
        if s < 1:
            return Text(self.value, style="bold strike" if self.stale else "bold")
        lines = render_big(self.value, s)
        if self.stale:  # a strike through the middle row of the block digits
            mid = len(lines) // 2
            lines[mid] = "".join("━" if ch == " " else ch for ch in lines[mid])
        return Text("\n".join(lines), no_wrap=True, overflow="crop")


class FitText(Static):
    """Text that takes, of its variants, the first that fits its box (``fit``), again on every resize; then
    reordered for display (``visual``) when right to left. ``variants`` may be a function of the width."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._variants: list[str] | Callable[[int], list[str]] = [""]
        self._how: tuple[bool, str, str | None] = (False, "visual", None)
        self._shown: tuple | None = None

    def show(self, variants, rtl: bool = False, bidi: str = "visual", style: str | None = None) -> None:
        self._variants, self._how = variants, (rtl, bidi, style)
        self._fit()

    def _fit(self) -> None:
        size = self.content_size
        variants = self._variants(size.width) if callable(self._variants) else self._variants
        text = fit(variants, size.width, max(1, size.height)) if size.width else variants[0]
        if (text, self._how) == self._shown:
            return
        self._shown = (text, self._how)
        rtl, bidi, style = self._how
        shown = "\n".join(visual(line, rtl, bidi) for line in text.split("\n"))
        self.update(Text(shown, style=style) if style else shown)

    def on_resize(self) -> None:
        self._fit()


class FigureCell(Vertical):
    """One figure of a queue: its label (with ack/snooze state) and its value."""

    def __init__(self, template: str, **kw) -> None:
        super().__init__(**kw)
        self.template = template
        # held, not queried: a tick can render a card whose cells are attached but not composed yet (just
        # mounted by a relayout), where a query found nothing and ended the board (NoMatches)
        self._label = FitText(classes="flabel")
        self._number = BigNumber(template)

    def compose(self) -> ComposeResult:
        yield self._label
        yield self._number

    @property
    def number(self) -> BigNumber:
        return self._number

    @property
    def label(self) -> FitText:
        return self._label


class QueueCard(Vertical):
    """One queue (or the centre total): its name (and closed state), a grid of figures, the agents by state
    (``agents``: the rows that takes; 0 without)."""

    def __init__(
        self, n_figures: int, fig_cols: int, fig_rows: int, template: str, agents: int = 0, rtl: bool = False, **kw
    ) -> None:
        super().__init__(**kw)
        self.template = template
        self.n_figures = n_figures
        self.fig_cols = fig_cols
        self.fig_rows = fig_rows
        self.agents = agents
        self.rtl = rtl
        self.queue: str | None = None

    def compose(self) -> ComposeResult:
        yield FitText(classes="qname")
        grid = Grid(classes="figs")
        grid.styles.grid_size_columns = self.fig_cols
        grid.styles.grid_size_rows = self.fig_rows
        with grid:
            for _ in range(self.n_figures):
                yield FigureCell(self.template)
        if self.agents:  # its rows: 1, or more when a narrow card wraps it
            row = FitText(classes="agents")
            row.styles.height = self.agents
            yield row

    @property
    def cells(self) -> list[FigureCell]:
        """The figure cells in the layout's order (right to left in a right-to-left layout)."""
        cells = list(self.query(FigureCell))
        return _reading_order(cells, self.fig_cols) if self.rtl else cells


def _reading_order(items: list, cols: int) -> list:
    """Grid children (filled left to right) in right-to-left reading order: each row reversed."""
    rows = [items[i : i + cols] for i in range(0, len(items), cols)]
    return [x for row in rows for x in reversed(row + [None] * (cols - len(row))) if x is not None] if rows else []


# ---- the app ------------------------------------------------------------------------------------------

LEVEL_CLASSES = ("-ok", "-warn", "-breach", "-closed")


class BoardApp(App):
    """The TV terminal. ``client`` is an asyncio Redis client (the caller closes it) or a zero-argument
    async factory (the app connects in its own loop and closes the client when it quits)."""

    CSS_PATH = "board.tcss"
    TITLE = "wallboard board"
    BINDINGS = [Binding("q", "quit", "Quit", show=False), Binding("f", "toggle_flash", "Flash", show=False)]

    def __init__(
        self,
        config: WallboardConfig,
        client,
        layout: LayoutConfig | None = None,
        clock: Clock | None = None,
        bidi: str | None = None,
    ) -> None:
        super().__init__()
        self.animation_level = "none"  # a TV: no animations, whatever the environment says
        self.config = config
        self.layout = layout or config.layout(None)
        self.keys = Keys(config.redis.prefix)
        self.tz = config.centre.tz
        self.clock: Clock = clock or SystemClock()
        self.server = ServerTime(self.clock)
        self.words = UI_TEXT[self.layout.language]
        self.rtl = self.layout.language == "he"
        self.bidi = bidi or os.environ.get("WALLBOARD_BIDI", "visual")  # visual | terminal (see the docstring)
        self.trends = TrendBook(keep_s=self.layout.trend_s + 60)
        self.alerts: list[str] = []
        self._ticker_text = ""  # the ticker line shown (message and alert lines), changed between two passes
        self._ticker_pending = ""
        self._ticker_pass = -1
        self._ticker_t0 = 0.0
        self._ticker_timer = None
        self.formats = [FIGURE_FORMAT[f] for f in self.layout.figures]
        self.reader = SnapshotReader(self, config, client, self.clock, agents=False, name="board snapshot reader")
        self.summary: Summary | None = None
        self.projection: dict | None = None
        self.ticker = ""
        self.stale = False
        self.plan: Plan | None = None
        self.page = 0
        self.pages = 1
        self.flash_enabled = config.display.flash
        self.flash_hz = min(2.0, config.display.flash_hz)
        self.flash_on = False
        self._flash_timer = None

    # ---- layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="bar"):
            bar = [Static(id="title"), Static(id="stale"), Static(id="pageno"), Static(id="clock")]
            yield from reversed(bar) if self.rtl else bar
        yield Grid(id="page")
        yield Static(id="ticker")

    async def on_mount(self) -> None:
        self.set_class(self.rtl, "-rtl")
        self.query_one("#title", Static).update(self.vis(self.layout.title or self.config.centre.name))
        self.set_interval(1.0, self.tick)
        self._ticker_timer = self.set_interval(1 / TICKER_COLS_PER_S, self.scroll_ticker, pause=True)
        self._flash_timer = self.set_interval(1 / (4 * self.flash_hz), self.flash_tick, pause=True)
        await self.relayout()
        self.reader.start()
        self.read_ticker()

    async def on_resize(self, event) -> None:
        await self.relayout()

    def vis(self, text: str, widget: Widget | None = None) -> str:
        """``text`` for display; cut to ``widget``'s width first (in reading order, so a right-to-left text
        loses its end, not its beginning, to the ellipsis)."""
        width = widget.content_size.width if widget is not None and self.rtl else 0  # LTR: the CSS ellipsis
        if width and len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        return visual(text, self.rtl, self.bidi)

    def queue_names(self) -> list[str]:
        if self.projection is not None:
            return [q["name"] for q in self.projection["queues"]]
        return list(self.layout.queues)

    def tiles(self) -> int:
        """Cards the page plan must hold: the queues, and the centre total (pinned to every page)."""
        return len(self.queue_names()) + (1 if self.layout.show_total else 0)

    async def relayout(self) -> None:
        """Plan the page for the terminal's size and the number of queues; rebuild the cards if it changed."""
        if not self.is_mounted:
            return
        rows = self.size.height - CHROME_ROWS - (1 if self.ticker_line() or self.stale else 0)
        per_page = self.layout.per_page + (1 if self.layout.per_page and self.layout.show_total else 0)
        lang = self.layout.language
        extra = (lambda w: agent_rows(lang, w)) if self.layout.agent_states else 0
        plan = plan_board(self.size.width, max(1, rows), self.tiles(), self.formats, per_page, card_extra=extra)
        # pages share the queues evenly (6 queues at 5 a page: 3 and 3, not 5 and 1), each tile as large as
        # that fewer a page allows
        total = 1 if self.layout.show_total else 0
        n = len(self.queue_names())
        pages = ceil(n / max(1, plan.per_page - total))
        if pages > 1 and (even := ceil(n / pages) + total) < plan.per_page:
            plan = plan_board(self.size.width, max(1, rows), even, self.formats, even, card_extra=extra)
        if plan != self.plan:
            self.plan = plan
            page = self.query_one("#page", Grid)
            await page.remove_children()
            page.styles.grid_size_columns = plan.cols
            page.styles.grid_size_rows = plan.rows
            template = max((TEMPLATES[f] for f in self.formats), key=width_units)
            agents = agent_rows(lang, self.size.width // plan.cols - CARD_BORDER) if self.layout.agent_states else 0
            await page.mount_all(
                QueueCard(len(self.formats), plan.fig_cols, plan.fig_rows, template, agents, self.rtl)
                for _ in range(plan.per_page)
            )
        self.render_board()

    # ---- fetch ------------------------------------------------------------------------------------------

    async def client(self):
        return await self.reader.client()

    @work(exclusive=True, group="ticker", exit_on_error=False)
    async def read_ticker(self) -> None:
        while True:
            try:
                await self.set_ticker(await read_ticker(await self.client(), self.keys))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("ticker read failed: %s", e)
            await asyncio.sleep(self.config.hub.ticker_poll_s)

    def ticker_line(self) -> str:
        """The supervisor's message, then one alert line per queue in breach."""
        parts = ([self.ticker] if self.ticker else []) + (self.alerts if self.layout.ticker_alerts else [])
        return TICKER_GAP.join(parts)

    async def set_ticker(self, text: str) -> None:
        if text == self.ticker:
            return
        self.ticker = text
        await self.update_ticker()

    async def update_ticker(self, now_pass: bool = True) -> None:
        had = bool(self._ticker_pending)
        self._ticker_pending = self.ticker_line()
        if now_pass or not self._ticker_text or not self._ticker_timer_running():
            self._ticker_text = self._ticker_pending
            self._ticker_t0 = self.server.now().timestamp()
            self._ticker_pass = 0
        self.render_ticker()
        if had != bool(self._ticker_pending):
            await self.relayout()

    def _ticker_timer_running(self) -> bool:
        return self.is_mounted and self._ticker_pos_width()[1] < len(self.vis(self._ticker_text))

    def _scrolling(self, on: bool) -> None:
        if self._ticker_timer is not None:
            self._ticker_timer.resume() if on else self._ticker_timer.pause()

    def _ticker_pos_width(self) -> tuple[int, int]:
        pos = int((self.server.now().timestamp() - self._ticker_t0) * TICKER_COLS_PER_S)
        try:
            width = self.query_one("#ticker", Static).content_size.width or self.size.width - 2
        except NoMatches:
            width = self.size.width - 2
        return max(0, pos), max(1, width)

    def scroll_ticker(self) -> None:
        self.render_ticker()

    def render_ticker(self) -> None:
        """The ticker row: the stale notice while stale, else the ticker line, scrolled when it is too wide.
        A new text (an alert line's numbers move often) waits for the end of the pass in progress."""
        try:
            ticker = self.query_one("#ticker", Static)
        except NoMatches:
            return
        if self.stale:
            ticker.set_class(True, "-active")
            ticker.set_class(True, "-stale")
            ticker.update(Text(self.vis(self.stale_notice()), style="bold"))
            self._scrolling(False)
            return
        ticker.set_class(False, "-stale")
        ticker.set_class(bool(self._ticker_text), "-active")
        text = self.vis(self._ticker_text)
        pos, width = self._ticker_pos_width()
        if len(text) <= width:
            self._scrolling(False)
            ticker.update(text)
            if self._ticker_pending != self._ticker_text:
                self._ticker_text = self._ticker_pending
                ticker.update(self.vis(self._ticker_text))
            return
        n = len(text) + len(TICKER_GAP)
        if pos // n != self._ticker_pass:  # a pass ended: take the newest text
            self._ticker_pass = pos // n
            if self._ticker_pending != self._ticker_text:
                self._ticker_text = self._ticker_pending
                self._ticker_t0 = self.server.now().timestamp()
                self._ticker_pass = 0
                pos, text = 0, self.vis(self._ticker_text)
        self._scrolling(True)
        ticker.update(marquee(text, width, pos, self.rtl))

    def stale_notice(self) -> str:
        at = self.summary.at if self.summary else None
        if at is None:
            return f"{self.words['no_data_for']} -"
        age = max(0, int((self.server.now() - at).total_seconds()))
        when = fmt_clock(at, self.tz)
        span = f"{age} {self.words['seconds']}" if age < 120 else fmt_value("duration", age)
        return f"{self.words['no_data_for']} {span} · {self.words['last_update']} {when}"

    # ---- messages -----------------------------------------------------------------------------------

    async def on_summary_arrived(self, message: SummaryArrived) -> None:
        s = message.summary
        news = self.reader.heard(s, self.summary, message.received_mono)
        if not news:
            self.set_stale(self.reader.redis_lost)
            if not self.reader.again(s, self.summary):
                return
            # the full summary after the delta to it: the queues' waits up to date (their alert lines, trends)
        self.summary = s
        if news:
            self.server.anchor(s.at, message.received_mono)
        before = self.queue_names()
        record_trends(self.trends, s, self.config, set(self.layout.figures))
        self.projection = project(s, self.layout, self.config, self.trends)
        if self.projection["alerts"] != self.alerts:
            self.alerts = self.projection["alerts"]
            await self.update_ticker(now_pass=False)
        if news:
            self.set_stale(False)
        if self.queue_names() != before and (self.plan is None or len(before) != len(self.queue_names())):
            await self.relayout()
        else:
            self.render_board()

    def on_feed_status(self, message: FeedStatus) -> None:
        self.reader.status(message)
        if self.reader.redis_lost:
            self.set_stale(True)

    # ---- render: reads only the projection and server time -------------------------------------------------

    def page_queues(self) -> list[dict]:
        if self.projection is None or self.plan is None:
            return []
        queues = self.projection["queues"]
        total = [self.projection["total"]] if self.projection.get("total") else []
        per = max(1, self.plan.per_page - len(total))
        self.pages = max(1, ceil(len(queues) / per))
        now = self.server.now()
        self.page = int(now.timestamp() // self.layout.rotate_s) % self.pages if self.pages > 1 else 0
        return total + queues[self.page * per : self.page * per + per]

    def render_board(self) -> None:
        if not self.is_mounted or self.plan is None:
            return
        try:
            pageno, clock = self.query_one("#pageno", Static), self.query_one("#clock", Static)
        except NoMatches:  # a tick as the board is taken down (its screen's widgets already gone)
            return
        now = self.server.now()
        cards = list(self.query(QueueCard))
        if self.rtl:
            cards = _reading_order(cards, self.plan.cols)
        shown = self.page_queues()
        snapshot_at = self.summary.at if self.projection and self.summary else None
        if self.stale and snapshot_at is not None:
            now = min(now, snapshot_at)  # stale: timers stop at the last real value
        for card, q in zip(cards, shown + [None] * (len(cards) - len(shown))):
            self.render_card(card, q, snapshot_at, now)
        now = self.server.now()
        self.update_scale()
        pageno.update(f"{self.words['page']} {self.page + 1}/{self.pages}" if self.pages > 1 else "")
        clock.update(Text(fmt_clock(now, self.tz), style="bold"))
        self.update_flash_timer()

    def update_scale(self) -> None:
        """One digit scale for the whole board: the smallest any figure box allows."""
        numbers = [b for b in self.query(BigNumber) if b.content_size.area]
        cap = min((b.natural_scale() for b in numbers), default=1)
        for b in numbers:
            b.set_cap(max(cap, 1))

    def render_card(self, card: QueueCard, q: dict | None, snapshot_at, now) -> None:
        card.queue = q["name"] if q else None
        card.set_class(q is None, "-empty")
        if q is None:
            return
        for cls in LEVEL_CLASSES:
            card.set_class(cls == f"-{q['level']}", cls)
        card.set_class(bool(q.get("total")), "-total")
        icons = self.layout.level_icons and not self.stale
        name = (LEVEL_ICONS.get(q["level"], "") if icons else "") + q["label"]
        closed = "" if q["open"] else f"  {self.words['closed']}"
        names = [name + closed]
        if q.get("channel_label"):  # a written queue names its channel (left out first when it does not fit)
            names.insert(0, f"{name} · {q['channel_label']}{closed}")
        found = card.query(".qname")
        if not found:  # a card a relayout made that has not composed yet: the next tick draws it
            return
        found.first(FitText).show(names, self.rtl, self.bidi, style="bold")
        lang = self.layout.language
        for cell, fig, fmt in zip(card.cells, q["figures"], self.formats):
            alert = Alert.model_validate(fig["alert"]) if fig.get("alert") else None
            flashing = fig["level"] == "breach" and should_flash(alert, now) and not self.stale
            quiet = fig["level"] == "breach" and not should_flash(alert, now)
            for cls in LEVEL_CLASSES + ("-none",):
                cell.set_class(cls == f"-{fig['level']}", cls)
            cell.set_class(flashing, "-flash")
            cell.set_class(quiet, "-quiet")
            cell.set_class(self.stale, "-stale")
            other = fig.get("other")
            label = figure_label_variants(
                fig.get("label") or figure_label(self.layout, fig["key"]),
                lang,
                self.words,
                icon=LEVEL_ICONS.get(fig["level"], "") if icons else "",
                window_min=fig.get("window_min"),
                acked_by=alert.acked_by if alert is not None else None,
                snoozed_to=fmt_clock(alert.snoozed_until, self.tz)[:5]
                if alert is not None and quiet and alert.snoozed_until
                else None,
                target=fmt_value(fmt, fig["target"]) if fig.get("target") is not None else None,
                trend=TREND_ARROWS.get(fig.get("trend") or "", ""),
                other=(
                    self.words["today"]
                    if other["window"] == "today"
                    else f"{other['minutes']} {self.words['minutes']}",
                    fmt_value(fmt, other["value"]),
                )
                if other is not None
                else None,
            )
            cell.label.show(label, self.rtl, self.bidi)
            cell.number.set_value(fmt_value(fmt, live_value(fig, snapshot_at, now)))
            cell.number.stale = self.stale
        if card.agents:
            counts = q.get("agents") or {}
            for agents in card.query(".agents").results(FitText):
                agents.show(lambda width, c=counts: agent_variants(c, lang, width), self.rtl, self.bidi)

    # ---- ticking, staleness, flashing -------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: the longest wait and the clock move on, pages rotate, staleness is checked."""
        self.set_stale(self.reader.is_stale())
        self.render_board()
        self.render_ticker()

    def set_stale(self, stale: bool) -> None:
        changed = stale != self.stale
        self.stale = stale
        if changed and self.is_mounted:
            self.render_ticker()
            self.call_later(self.relayout)
        try:
            badge = self.query_one("#stale", Static)
        except NoMatches:  # a message that came in as the board quits: nothing left to mark
            return
        if stale:
            when = self.summary.at if self.summary else None
            since = fmt_clock(when, self.tz) if when else "-"
            badge.update(f" {self.vis(self.words['stale'] + ' — ' + self.words['no_data_since'])} {since} ")
        badge.set_class(stale, "-stale")

    def flashing_cells(self) -> list[FigureCell]:
        return [c for c in self.query(FigureCell) if c.has_class("-flash")]

    def update_flash_timer(self) -> None:
        want = self.flash_enabled and bool(self.flashing_cells())
        if self._flash_timer is None:
            return
        if want:
            self._flash_timer.resume()
            self.flash_tick()
        else:
            self._flash_timer.pause()
            self.set_flash_phase(False)

    def flash_tick(self) -> None:
        """The one flash timer: the phase follows server time (every screen in step), at most 2 Hz."""
        on = self.flash_enabled and flash_phase(self.server.now(), self.flash_hz)
        self.set_flash_phase(on)

    def set_flash_phase(self, on: bool) -> None:
        if on != self.flash_on:
            self.flash_on = on
            self.set_class(on, "-flash-on")

    def action_toggle_flash(self) -> None:
        self.flash_enabled = not self.flash_enabled
        self.render_board()

    async def action_quit(self) -> None:
        await self.close_feed()
        self.exit()

    async def close_feed(self) -> None:
        await self.reader.close(groups=("ticker",), wait=False)  # no await while the screen is taken down

    async def on_unmount(self) -> None:
        await self.close_feed()


def build_board_app(
    config: WallboardConfig,
    layout: LayoutConfig | None = None,
    redis_url: str | None = None,
    clock: Clock | None = None,
    bidi: str | None = None,
) -> BoardApp:
    """The one factory, for the CLI and the tests. The app connects in its own event loop."""
    from ..store import connect

    async def factory():
        return await connect(config, redis_url)

    return BoardApp(config, factory, layout, clock, bidi)


def run_board(
    config: WallboardConfig,
    layout: LayoutConfig | None = None,
    redis_url: str | None = None,
    log_path: Path | None = None,
    bidi: str | None = None,
) -> int:
    from .app import setup_logging

    setup_logging(log_path)
    app = build_board_app(config, layout, redis_url, bidi=bidi)
    app.run()
    return app.return_code or 0
