"""The large-screen mode (``wallboard board [--layout NAME]``): a terminal on a TV, read from 8 metres.

Per queue of the layout a card of a few huge numbers (``bigdigits``, scaled to the terminal), coloured by
level; a breach nobody acknowledged or snoozed flashes (<= 2 Hz, one timer, paused when nothing flashes, its
phase from server time so every screen flashes in step); an acknowledgement or a snooze shows beside the
figure's label. When the queues do not fit, pages rotate every ``rotate_s`` (on server time too). A ticker
line shows the supervisor's message (the Redis key of ``wallboard.hub.ticker``); a "stale" badge shows when
no snapshot came for ``display.stale_after_s``, or at once when the reader loses Redis (until newer data
comes: it reconnects by itself). The longest wait and the clock tick locally from server time.

What a card shows is the layout's projection (``wallboard.hub.projection``), the same data the TV page gets.
Animations are off and nothing redraws more than the 1 s tick, the flash and new snapshots ask for; the
command also caps Textual's frame rate (``TEXTUAL_FPS``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from math import ceil
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Static

from ..backoff import redis_backoff
from ..clock import Clock, SystemClock
from ..config import LayoutConfig, WallboardConfig
from ..hub.projection import (
    FIGURE_FORMAT,
    UI_TEXT,
    figure_label,
    fmt_value,
    live_value,
    project,
)
from ..hub.ticker import read_ticker
from ..keys import Keys
from ..snapshot import Alert, Summary
from ..thresholds import flash_phase, should_flash
from .bigdigits import fit_scale, render_big, width_units
from .livetime import ServerTime, fmt_clock, monotonic_of, parse_utc
from .messages import FeedStatus, SummaryArrived
from .source import SnapshotSource

log = logging.getLogger(__name__)

# The widest value each format must fit: the board sizes every figure of a layout for the widest.
TEMPLATES = {"count": "888", "duration": "88:88", "pct": "100%"}
CHROME_ROWS = 1  # the top bar; the ticker takes one more row when it has a message
CARD_BORDER = 2  # a round border: one cell each side
CARD_HEADER = 1


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


def plan_board(width: int, height: int, n_queues: int, formats: list[str], per_page: int = 0) -> Plan:
    """The page layout with the largest digits that still shows as many queues per page as fit at scale 1
    (``per_page`` fixes the count). Pages rotate when that is fewer than the queues."""
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
            inner_h = height // rows - CARD_BORDER - CARD_HEADER
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
            return Text(self.value, style="bold")
        return Text("\n".join(render_big(self.value, s)), no_wrap=True, overflow="crop")


class FigureCell(Vertical):
    """One figure of a queue: its label (with ack/snooze state) and its value."""

    def __init__(self, template: str, **kw) -> None:
        super().__init__(**kw)
        self.template = template

    def compose(self) -> ComposeResult:
        yield Static(classes="flabel")
        yield BigNumber(self.template)

    @property
    def number(self) -> BigNumber:
        return self.query_one(BigNumber)

    @property
    def label(self) -> Static:
        return self.query_one(".flabel", Static)


class QueueCard(Vertical):
    """One queue: its name (and closed state) and a grid of figures."""

    def __init__(self, n_figures: int, fig_cols: int, fig_rows: int, template: str, **kw) -> None:
        super().__init__(**kw)
        self.template = template
        self.n_figures = n_figures
        self.fig_cols = fig_cols
        self.fig_rows = fig_rows
        self.queue: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="qname")
        grid = Grid(classes="figs")
        grid.styles.grid_size_columns = self.fig_cols
        grid.styles.grid_size_rows = self.fig_rows
        with grid:
            for _ in range(self.n_figures):
                yield FigureCell(self.template)

    @property
    def cells(self) -> list[FigureCell]:
        return list(self.query(FigureCell))


# ---- the app ------------------------------------------------------------------------------------------

LEVEL_CLASSES = ("-ok", "-warn", "-breach", "-closed")


class BoardApp(App):
    """The TV terminal. ``client`` is an asyncio Redis client (the caller closes it) or a zero-argument
    async factory (the app connects in its own loop and closes the client when it quits)."""

    CSS_PATH = "board.tcss"
    TITLE = "wallboard board"
    BINDINGS = [Binding("q", "quit", "Quit", show=False), Binding("f", "toggle_flash", "Flash", show=False)]

    def __init__(self, config: WallboardConfig, client, layout: LayoutConfig | None = None,
                 clock: Clock | None = None) -> None:  # fmt: skip
        super().__init__()
        self.animation_level = "none"  # a TV: no animations, whatever the environment says
        self.config = config
        self.layout = layout or config.layout(None)
        self.keys = Keys(config.redis.prefix)
        self.tz = config.centre.tz
        self.clock: Clock = clock or SystemClock()
        self.server = ServerTime(self.clock)
        self.words = UI_TEXT[self.layout.language]
        self.formats = [FIGURE_FORMAT[f] for f in self.layout.figures]
        self._client_arg = client
        self._owns_client = callable(client) and not hasattr(client, "get")
        self._client = None if self._owns_client else client
        self._closed = False
        self.summary: Summary | None = None
        self.projection: dict | None = None
        self.ticker = ""
        self.feed_connected = False
        self.started_mono = monotonic_of(self.clock)
        self.last_message_mono: float | None = None
        self.stale = False
        self.redis_lost = False  # the reader lost Redis: stale at once, until newer data comes
        self.plan: Plan | None = None
        self.page = 0
        self.pages = 1
        self.flash_enabled = config.display.flash
        self.flash_hz = min(2.0, config.display.flash_hz)
        self.flash_on = False
        self.flash_toggles = 0
        self._flash_timer = None
        self.renders = 0

    # ---- layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="bar"):
            yield Static(id="title")
            yield Static(id="stale")
            yield Static(id="pageno")
            yield Static(id="clock")
        yield Grid(id="page")
        yield Static(id="ticker")

    async def on_mount(self) -> None:
        self.query_one("#title", Static).update(self.layout.title or self.config.centre.name)
        self.set_interval(1.0, self.tick)
        self._flash_timer = self.set_interval(1 / (4 * self.flash_hz), self.flash_tick, pause=True)
        await self.relayout()
        self.read_snapshots()
        self.read_ticker()

    async def on_resize(self, event) -> None:
        await self.relayout()

    def queue_names(self) -> list[str]:
        if self.projection is not None:
            return [q["name"] for q in self.projection["queues"]]
        return list(self.layout.queues)

    async def relayout(self) -> None:
        """Plan the page for the terminal's size and the number of queues; rebuild the cards if it changed."""
        if not self.is_mounted:
            return
        rows = self.size.height - CHROME_ROWS - (1 if self.ticker else 0)
        plan = plan_board(self.size.width, max(1, rows), len(self.queue_names()), self.formats, self.layout.per_page)
        if plan != self.plan:
            self.plan = plan
            page = self.query_one("#page", Grid)
            await page.remove_children()
            page.styles.grid_size_columns = plan.cols
            page.styles.grid_size_rows = plan.rows
            template = max((TEMPLATES[f] for f in self.formats), key=width_units)
            await page.mount_all(QueueCard(len(self.formats), plan.fig_cols, plan.fig_rows, template)
                                 for _ in range(plan.per_page))  # fmt: skip
        self.render_board()

    # ---- fetch ------------------------------------------------------------------------------------------

    async def client(self):
        if self._client is None:
            self._client = await self._client_arg()
        return self._client

    @work(exclusive=True, group="snapshots", exit_on_error=False)
    async def read_snapshots(self) -> None:
        backoff = redis_backoff(self.config)
        while True:
            try:
                source = SnapshotSource(await self.client(), self.keys)
                self.post_message(FeedStatus(True, "connected"))
                async for part in source.parts():
                    if isinstance(part, Summary):  # the board needs no agent detail
                        self.post_message(SummaryArrived(part, monotonic_of(self.clock)))
                    backoff.reset()
                raise ConnectionError("subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Redis lost or restarting: retry, the stale badge shows meanwhile
                delay = backoff.next()
                log.warning("board snapshot reader: %s; retrying in %.1fs", e, delay)
                self.post_message(FeedStatus(False, str(e)))
                await asyncio.sleep(delay)

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

    async def set_ticker(self, text: str) -> None:
        if text == self.ticker:
            return
        had = bool(self.ticker)
        self.ticker = text
        ticker = self.query_one("#ticker", Static)
        ticker.update(text)
        ticker.set_class(bool(text), "-active")
        if had != bool(text):
            await self.relayout()

    # ---- messages -----------------------------------------------------------------------------------

    async def on_summary_arrived(self, message: SummaryArrived) -> None:
        s = message.summary
        self.last_message_mono = message.received_mono
        old = self.summary
        if old is not None and s.seq <= old.seq and s.at <= old.at:
            self.set_stale(self.redis_lost)  # the stored summary read again on reconnect is not news
            return
        self.summary = s
        self.server.anchor(s.at, message.received_mono)
        before = self.queue_names()
        self.projection = project(s, self.layout, self.config)
        self.redis_lost = False
        self.set_stale(False)
        if self.queue_names() != before and (self.plan is None or len(before) != len(self.queue_names())):
            await self.relayout()
        else:
            self.render_board()

    def on_feed_status(self, message: FeedStatus) -> None:
        self.feed_connected = message.connected
        if not message.connected:  # the figures stop here: say so now, not stale_after_s later
            self.redis_lost = True
            self.set_stale(True)

    # ---- render: reads only the projection and server time -------------------------------------------------

    def page_queues(self) -> list[dict]:
        if self.projection is None or self.plan is None:
            return []
        queues = self.projection["queues"]
        per = self.plan.per_page
        self.pages = max(1, ceil(len(queues) / per))
        now = self.server.now()
        self.page = int(now.timestamp() // self.layout.rotate_s) % self.pages if self.pages > 1 else 0
        return queues[self.page * per : self.page * per + per]

    def render_board(self) -> None:
        if not self.is_mounted or self.plan is None:
            return
        self.renders += 1
        now = self.server.now()
        cards = list(self.query(QueueCard))
        shown = self.page_queues()
        snapshot_at = parse_utc(self.projection["snapshot"]["at"]) if self.projection else None
        for card, q in zip(cards, shown + [None] * (len(cards) - len(shown))):
            self.render_card(card, q, snapshot_at, now)
        self.update_scale()
        self.query_one("#pageno", Static).update(
            f"{self.words['page']} {self.page + 1}/{self.pages}" if self.pages > 1 else ""
        )
        self.query_one("#clock", Static).update(Text(fmt_clock(now, self.tz), style="bold"))
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
        name = Text(q["label"], style="bold")
        if not q["open"]:
            name.append(f"  {self.words['closed']}", style="dim")
        card.query_one(".qname", Static).update(name)
        for cell, fig, fmt in zip(card.cells, q["figures"], self.formats):
            alert = Alert.model_validate(fig["alert"]) if fig.get("alert") else None
            flashing = fig["level"] == "breach" and should_flash(alert, now)
            quiet = fig["level"] == "breach" and not flashing
            for cls in LEVEL_CLASSES:
                cell.set_class(cls == f"-{fig['level']}", cls)
            cell.set_class(flashing, "-flash")
            cell.set_class(quiet, "-quiet")
            label = Text(figure_label(self.layout, fig["key"]))
            if fig.get("window_min"):
                label.append(f" · {fig['window_min']} {self.words['minutes']}", style="dim")
            if alert is not None and alert.acked_by:
                label.append(f"  ✓ {self.words['acked']} {alert.acked_by}")
            elif alert is not None and quiet and alert.snoozed_until:
                until = fmt_clock(parse_utc(alert.snoozed_until), self.tz)[:5]
                label.append(f"  ⏸ {self.words['snoozed']} {until}")
            cell.label.update(label)
            cell.number.set_value(fmt_value(fmt, live_value(fig, snapshot_at, now)))

    # ---- ticking, staleness, flashing -------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: the longest wait and the clock move on, pages rotate, staleness is checked."""
        since = self.last_message_mono if self.last_message_mono is not None else self.started_mono
        self.set_stale(self.redis_lost or monotonic_of(self.clock) - since > self.config.display.stale_after_s)
        self.render_board()

    def set_stale(self, stale: bool) -> None:
        self.stale = stale
        try:
            badge = self.query_one("#stale", Static)
        except NoMatches:  # a message that came in as the board quits: nothing left to mark
            return
        if stale:
            when = parse_utc(self.summary.at) if self.summary else None
            since = fmt_clock(when, self.tz) if when else "-"
            badge.update(f" {self.words['stale']} — {self.words['no_data_since']} {since} ")
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
            self.flash_toggles += 1
            self.set_class(on, "-flash-on")

    def action_toggle_flash(self) -> None:
        self.flash_enabled = not self.flash_enabled
        self.render_board()

    async def action_quit(self) -> None:
        await self.close_feed()
        self.exit()

    async def close_feed(self) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in list(self.workers):
            if worker.group in ("snapshots", "ticker"):
                worker.cancel()
        if self._owns_client and self._client is not None:
            try:
                await self._client.aclose()
            except Exception:
                log.debug("closing the Redis client failed", exc_info=True)
            self._client = None

    async def on_unmount(self) -> None:
        await self.close_feed()


def build_board_app(config: WallboardConfig, layout: LayoutConfig | None = None, redis_url: str | None = None,
                    clock: Clock | None = None) -> BoardApp:  # fmt: skip
    """The one factory, for the CLI and the tests. The app connects in its own event loop."""
    from ..store import connect

    async def factory():
        return await connect(config, redis_url)

    return BoardApp(config, factory, layout, clock)


def run_board(config: WallboardConfig, layout: LayoutConfig | None = None, redis_url: str | None = None,
              log_path: Path | None = None) -> int:  # fmt: skip
    from .app import setup_logging

    setup_logging(log_path)
    app = build_board_app(config, layout, redis_url)
    app.run()
    return app.return_code or 0
