"""The desk UI (``wallboard tui``): queues, agents and waiting callers, read only from Redis.

Structure (fetch / render split):

- a long-running worker (``read_snapshots``) reads the stored snapshot parts, subscribes to both channels
  (``source.SnapshotSource``), and posts typed messages (``messages``) that collapse in a burst;
- the handlers keep the last parts and call ``render_all()``, which only reads them: ``view`` builds rows of
  plain cells, ``tables.KeyedTable.sync`` applies them by key (never a clear);
- one 1 s timer ticks waits and time in state locally (server ``at`` + local monotonic time since arrival)
  and checks staleness; one flash timer (<= 2 Hz) drives every flashing cell through ``set_flash_phase``,
  paused when nothing flashes, never started when ``display.flash`` is off. The phase follows the injected
  clock, so a test with a ``ManualClock`` drives it without sleeping.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from ..keys import Keys
from ..snapshot import Summary
from .bindings import APP_KEYS, SNOOZE_MINUTES, bindings, unknown_ids
from .livetime import ServerTime, fmt_clock, monotonic_of, parse_utc
from .messages import AgentsArrived, FeedStatus, SummaryArrived
from .requests import alerting_metrics, build_request, send_requests
from .screens import DrillDownScreen, HelpScreen
from .source import AgentsPart, SnapshotSource
from .tables import KeyedTable
from .view import (
    AGENT_COLUMNS,
    CALLER_COLUMNS,
    QUEUE_COLUMNS,
    TOTAL_KEY,
    TrendBook,
    agent_rows,
    caller_rows,
    fit_columns,
    is_quiet,
    queue_rows,
)

log = logging.getLogger(__name__)

ClientFactory = Callable[[], Awaitable[object]]
NARROW_BELOW = 100  # columns: below this the agents and callers stack instead of sitting side by side


class DeskApp(App):
    """The supervisor's desk monitor. ``client`` is an asyncio Redis client (the caller closes it) or a
    zero-argument async factory (the app connects in its own event loop and closes the client on quit)."""

    CSS_PATH = "desk.tcss"
    TITLE = "wallboard desk"
    BINDINGS = bindings(APP_KEYS)

    def __init__(
        self,
        config: WallboardConfig,
        client: ClientFactory | object,
        user: str,
        clock: Clock | None = None,
        *,
        snooze_minutes: float = SNOOZE_MINUTES,
    ) -> None:
        super().__init__()
        self.config = config
        self.keys = Keys(config.redis.prefix)
        self.tz = config.centre.tz
        self.user = user
        self.clock: Clock = clock or SystemClock()
        self.server = ServerTime(self.clock)
        self.snooze_minutes = snooze_minutes
        self._client_arg = client
        self._owns_client = callable(client) and not hasattr(client, "xadd")
        self._client = None if self._owns_client else client
        # the last snapshot parts (render reads only these)
        self.summary: Summary | None = None
        self.agents: AgentsPart | None = None
        self.trends = TrendBook()
        self.feed_connected = False
        self.feed_detail = "connecting to Redis…"
        # staleness, on the local monotonic clock
        self.started_mono = monotonic_of(self.clock)
        self.last_message_mono: float | None = None
        self.stale = False
        # flashing: one timer, one phase
        self.flash_enabled = config.display.flash
        self.flash_hz = min(2.0, config.display.flash_hz)
        self.flash_on = False
        self._flash_timer = None
        self._flash_running = False
        # counters for tests and diagnostics
        self.table_clears = 0
        self.renders = 0
        self.requests_sent: list[dict] = []
        self._closed = False

    # ---- layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static(id="title")
            yield Static(id="badge")
            yield Static(id="clock")
        yield Static(id="stale")
        yield KeyedTable(self._queue_columns(self.size.width or 80), id="queues")
        with Horizontal(id="lower"):
            with Vertical(id="agents-box"):
                yield KeyedTable([(k, h, None) for k, h in AGENT_COLUMNS], id="agents")
            with Vertical(id="callers-box"):
                yield KeyedTable([(k, h, None) for k, h in CALLER_COLUMNS], id="callers")
        yield Footer()

    def _queue_columns(self, width: int) -> list[tuple[str, str, int | None]]:
        name_w = 16 if width >= 130 else 12 if width >= 100 else 10
        specs = [s if s.key != "name" else type(s)(s.key, s.header, name_w, s.priority) for s in QUEUE_COLUMNS]
        minutes = self.config.centre.rolling_minutes
        fitted = fit_columns(specs, max(20, width - 3))
        return [(s.key, s.header.format(m=minutes), s.width) for s in fitted]

    def on_mount(self) -> None:
        self.set_keymap(self.config.display.keys)
        bad = unknown_ids(self.config.display.keys)
        if bad:
            self.notify(f"display.keys: unknown binding id(s) {', '.join(bad)}", severity="warning")
        self.query_one("#agents-box").border_title = "Agents"
        self.query_one("#callers-box").border_title = "Waiting now"
        self._apply_width(self.size.width)
        self.query_one("#queues", KeyedTable).focus()
        self.set_interval(1.0, self.tick)
        self.render_all()
        self.read_snapshots()

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)
        self.render_all()

    def _apply_width(self, width: int) -> None:
        self.set_class(width < NARROW_BELOW, "-narrow")
        self.query_one("#queues", KeyedTable).set_columns(self._queue_columns(width))

    @property
    def queue_table(self) -> KeyedTable:
        return self.query_one("#queues", KeyedTable)

    @property
    def agent_table(self) -> KeyedTable:
        return self.query_one("#agents", KeyedTable)

    @property
    def caller_table(self) -> KeyedTable:
        return self.query_one("#callers", KeyedTable)

    def tables(self) -> list[KeyedTable]:
        out = []
        for screen in self.screen_stack:
            out.extend(screen.query(KeyedTable))
        return out

    # ---- fetch: the Redis-reading worker -----------------------------------------------------------------

    async def client(self):
        if self._client is None:
            self._client = await self._client_arg()  # type: ignore[operator]
        return self._client

    @work(exclusive=True, group="snapshots", exit_on_error=False)
    async def read_snapshots(self) -> None:
        delay = self.config.redis.retry_initial_s
        while True:
            try:
                client = await self.client()
                source = SnapshotSource(client, self.keys)
                self.post_message(FeedStatus(True, "connected"))
                async for part in source.parts():
                    mono = monotonic_of(self.clock)
                    if isinstance(part, Summary):
                        self.post_message(SummaryArrived(part, mono))
                    else:
                        self.post_message(AgentsArrived(part, mono))
                    delay = self.config.redis.retry_initial_s
                raise ConnectionError("subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # connection lost, server restarted, Redis unreachable: retry
                log.warning("snapshot reader: %s; retrying in %.1fs", e, delay)
                self.post_message(FeedStatus(False, str(e)))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.redis.retry_max_s)

    # ---- messages ------------------------------------------------------------------------------------

    def on_summary_arrived(self, message: SummaryArrived) -> None:
        s = message.summary
        self.last_message_mono = message.received_mono
        old = self.summary
        if old is not None and s.seq <= old.seq and s.at <= old.at:
            self._set_stale(False)
            return
        self.summary = s
        self.server.anchor(s.at, message.received_mono)
        self.trends.add(s)
        self._set_stale(False)
        self.render_all()

    def on_agents_arrived(self, message: AgentsArrived) -> None:
        part = message.part
        self.last_message_mono = message.received_mono
        old = self.agents
        if old is not None and part.seq <= old.seq and part.at <= old.at:
            self._set_stale(False)
            return
        self.agents = part
        if self.summary is None or part.at >= self.summary.at:
            self.server.anchor(part.at, message.received_mono)
        self._set_stale(False)
        self.render_all()

    def on_feed_status(self, message: FeedStatus) -> None:
        self.feed_connected = message.connected
        self.feed_detail = message.detail
        self._render_title()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "queues" and event.row_key.value is not None:
            self.drill(event.row_key.value)

    # ---- render: only reads the last parts ----------------------------------------------------------------

    def render_all(self) -> None:
        if not self.is_mounted:
            return
        self.renders += 1
        self._render_title()
        try:
            queues, agents, callers = self.queue_table, self.agent_table, self.caller_table
        except Exception:  # not composed yet (or tearing down)
            return
        flash = self.flash_on and self.flash_enabled
        if self.summary is not None:
            queues.sync(queue_rows(self.summary, self.config, self.server, self.trends), flash)
            callers.sync(caller_rows(self.summary, self.server), flash)
            self.query_one("#callers-box").border_title = f"Waiting now ({callers.row_count})"
        if self.agents is not None:
            agents.sync(agent_rows(self.agents.agents, self.server), flash)
            self.query_one("#agents-box").border_title = f"Agents ({agents.row_count})"
        for screen in self.screen_stack:
            if isinstance(screen, DrillDownScreen) and screen.is_mounted:
                screen.refresh_view()
        self._update_flash_timer()

    def _render_title(self) -> None:
        try:
            title, badge, clock = (self.query_one(f"#{i}", Static) for i in ("title", "badge", "clock"))
        except Exception:
            return
        s = self.summary
        t = Text()
        t.append(s.centre if s and s.centre else self.config.centre.name, style="bold")
        if s is not None:
            if s.window.kind == "since_reset":
                since = parse_utc(s.window.since)
                t.append(f" · since {fmt_clock(since, self.tz)[:5]}" if since else " · since reset")
            else:
                t.append(" · all input")
            t.append(f" · seq {s.seq}", style="dim")
        if not self.feed_connected:
            t.append(f" · {self.feed_detail}", style="bold red")
        title.update(t)
        breaches = self.breach_count()
        badge.update(f" {breaches} BREACH " if breaches else "")
        badge.set_class(bool(breaches), "-active")
        clock.update(Text.assemble((fmt_clock(self.server.now(), self.tz), "bold"), f" {self.user}"))

    def breach_count(self) -> int:
        if self.summary is None:
            return 0
        return sum(1 for q in self.summary.queues.values() for lv in q.levels.values() if lv == "breach")

    # ---- ticking and staleness -------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: waits and time in state move on locally; the stale mark is checked."""
        since = self.last_message_mono if self.last_message_mono is not None else self.started_mono
        self._set_stale(monotonic_of(self.clock) - since > self.config.display.stale_after_s)
        self.render_all()

    def _set_stale(self, stale: bool) -> None:
        self.stale = stale
        try:
            mark = self.query_one("#stale", Static)
        except Exception:
            return
        if stale:
            when = parse_utc(self.summary.at) if self.summary else None
            since = fmt_clock(when, self.tz) if when else "start (no snapshot yet)"
            mark.update(f"STALE — no data since {since}")
        mark.set_class(stale, "-stale")

    # ---- flashing --------------------------------------------------------------------------------------

    def phase_from_clock(self) -> bool:
        return int(monotonic_of(self.clock) * 2 * self.flash_hz) % 2 == 0

    def flash_tick(self) -> None:
        """The flash timer's callback: the phase follows the clock."""
        phase = self.phase_from_clock()
        if phase != self.flash_on:
            self.set_flash_phase(phase)

    def set_flash_phase(self, on: bool) -> None:
        """Show every flashing cell in its bright (``on``) or plain phase."""
        self.flash_on = on
        self.set_class(on, "-flash-on")
        self.render_all()

    def flashing_cells(self) -> set[tuple[str, str, str]]:
        """(table id, row key, column key) of every cell that flashes now."""
        return {(t.id or "", r, c) for t in self.tables() for r, c in t.flashing}

    def _update_flash_timer(self) -> None:
        want = self.flash_enabled and bool(self.flashing_cells() or self.breach_flashing())
        if want and not self._flash_running:
            if self._flash_timer is None:
                self._flash_timer = self.set_interval(1 / (2 * self.flash_hz), self.flash_tick)
            else:
                self._flash_timer.resume()
            self._flash_running = True
            if self.phase_from_clock() != self.flash_on:
                self.set_flash_phase(self.phase_from_clock())
        elif not want and self._flash_running:
            self._flash_timer.pause()
            self._flash_running = False
            if self.flash_on:
                self.set_flash_phase(False)
        elif not want and self.flash_on:
            self.set_flash_phase(False)

    def breach_flashing(self) -> bool:
        """A breach nobody acknowledged or snoozed, even in a column the terminal is too narrow to show."""
        if self.summary is None:
            return False
        now = self.server.now()
        return any(
            lv == "breach" and q.open and not is_quiet(q.alerts.get(m), now)
            for q in self.summary.queues.values()
            for m, lv in q.levels.items()
        )

    @property
    def flash_running(self) -> bool:
        return self._flash_running

    # ---- actions ---------------------------------------------------------------------------------------

    def selected_queue(self) -> str | None:
        if isinstance(self.screen, DrillDownScreen):
            return self.screen.queue
        return self.queue_table.selected_key

    def drill(self, queue: str | None = None) -> None:
        queue = queue or self.queue_table.selected_key
        if queue is None or isinstance(self.screen, DrillDownScreen):
            return
        self.push_screen(DrillDownScreen(queue))

    def action_drill(self) -> None:
        self.drill()

    async def action_ack(self) -> None:
        await self.request_alerts("ack")

    async def action_snooze(self) -> None:
        await self.request_alerts("snooze")

    async def request_alerts(self, kind: str) -> list[dict]:
        """XADD an ack or snooze request for each metric of the selected queue in warn or breach."""
        queue = self.selected_queue()
        if self.summary is None or queue is None or queue == TOTAL_KEY or queue not in self.summary.queues:
            self.notify("Select a queue first", severity="warning")
            return []
        q = self.summary.queues[queue]
        metrics = alerting_metrics(q, kind, self.server.now())
        if not metrics:
            self.notify(f"{queue}: nothing to {kind}")
            return []
        now = self.clock.now()
        reqs = [build_request(kind, queue, m, self.user, now, self.snooze_minutes) for m in metrics]
        try:
            await send_requests(await self.client(), self.keys, reqs)
        except Exception as e:
            log.warning("request failed: %s", e)
            self.notify(f"{kind} not sent: {e}", severity="error")
            return []
        self.requests_sent.extend(reqs)
        what = "acknowledged" if kind == "ack" else f"snoozed {self.snooze_minutes:g} min"
        self.notify(f"{queue}: {', '.join(metrics)} {what}")
        return reqs

    def action_toggle_flash(self) -> None:
        self.flash_enabled = not self.flash_enabled
        self.notify(f"Flashing {'on' if self.flash_enabled else 'off'}")
        self.render_all()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.config.display.keys))

    async def action_quit(self) -> None:
        await self.close_feed()
        self.exit()

    async def close_feed(self) -> None:
        """Cancel the reader and close the Redis client we opened (once)."""
        if self._closed:
            return
        self._closed = True
        for worker in list(self.workers):
            if worker.group == "snapshots":
                worker.cancel()
                try:
                    await worker.wait()
                except Exception:  # WorkerCancelled / WorkerFailed: it is stopping, as asked
                    pass
        if self._owns_client and self._client is not None:
            try:
                await self._client.aclose()  # type: ignore[attr-defined]
            except Exception:
                log.debug("closing the Redis client failed", exc_info=True)
            self._client = None

    async def on_unmount(self) -> None:
        await self.close_feed()

    # ---- command palette -------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Drill down", "Open the selected queue: how each figure is computed", self.drill)
        yield SystemCommand("Acknowledge", "Acknowledge the selected queue's alerts (flashing stops)",
                            self.action_ack)  # fmt: skip
        yield SystemCommand(f"Snooze {self.snooze_minutes:g} min", "Snooze the selected queue's alerts",
                            self.action_snooze)  # fmt: skip
        yield SystemCommand("Toggle flashing", "Turn breach flashing off or on", self.action_toggle_flash)
        yield SystemCommand("Help", "Keys and their binding ids", self.action_help)
        yield SystemCommand("Quit", "Quit the desk", self.action_quit)
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Quit",):
                yield cmd


def default_user() -> str:
    return os.environ.get("WALLBOARD_USER") or getpass.getuser()


def build_desk_app(
    config: WallboardConfig, redis_url: str | None = None, user: str | None = None, clock: Clock | None = None
) -> DeskApp:
    """The one factory, for the CLI and the tests. The app connects in its own event loop."""
    from ..store import connect

    async def factory():
        return await connect(config, redis_url)

    return DeskApp(config, factory, user or default_user(), clock)


def setup_logging(path: Path | None) -> None:
    """Never log to the terminal under a running TUI: a file when asked, otherwise nowhere."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            root.removeHandler(h)
    if path is not None:
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.setLevel(logging.INFO)
    else:
        handler = logging.NullHandler()
    root.addHandler(handler)


def run_desk(
    config: WallboardConfig, redis_url: str | None = None, user: str | None = None, log_path: Path | None = None
) -> int:
    setup_logging(log_path)
    app = build_desk_app(config, redis_url, user)
    app.run()
    return app.return_code or 0
