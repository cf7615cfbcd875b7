"""The desk UI (``wallboard tui``): queues, agents and waiting callers, read only from Redis.

Structure (fetch / render split):

- a long-running worker (``reader.SnapshotReader``, shared with the board) reads the stored snapshot parts,
  subscribes to both channels (``source.SnapshotSource``), and posts typed messages (``messages``) that
  collapse in a burst; it reconnects with backoff and says when the figures are stale;
- the handlers keep the last parts and call ``render_all()``: each panel (``panels``) fetches plain data
  from them (``view`` builds rows of plain cells) and renders only that, ``tables.KeyedTable.sync``
  applying rows by key (never a clear);
- one timer ticks waits and time in state locally (server ``at`` + local monotonic time since arrival), each
  table once a second in turns a third of a second apart (one table's lines a frame), and checks staleness (and
  outcomes that never came); a snapshot's tables are drawn one a frame too; one flash timer (<= 2 Hz) drives
  every flashing cell through ``set_flash_phase``, paused when nothing flashes, never started when
  ``display.flash`` is off. The phase follows the injected clock, so a test with a ``ManualClock`` drives it
  without sleeping.

The keys, the supervisor actions and the advice are ``desk_actions.DeskActions``; what became of each
request (the audit stream, read while requests are pending) and the pending auto-reverts (``:reverts``,
read after each agent snapshot) are ``outcomes.OutcomeWatch``.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from textual import constants
from textual.app import App, ComposeResult
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical
from textual.notifications import Notification, Notify
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..actions.auth import allowed_actions
from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from ..keys import Keys
from ..livetime import ServerTime, fmt_clock, fmt_duration, monotonic_of
from ..snapshot import AgentSnapshot, Summary
from .footer import DeskFooter
from .gcsettle import GcSettle
from .bindings import DESK_KEYS, SNOOZE_MINUTES, KeySpec, bindings, in_words, unknown_ids
from .desk_actions import AGENT_TABLES, DeskActions
from .messages import AgentsArrived, FeedStatus, OutcomeArrived, RevertsArrived, SummaryArrived
from .outcomes import OUTCOMES, REVERTING_TYPES, REVERTS, OutcomeWatch
from .panels import AgentsPanel, CallersPanel, DeskState, QueuesPanel, TitlePanel
from .reader import ClientFactory, SnapshotReader
from .requests import Pending, Revert, resolve_token, token_problem
from .screens import DrillDownScreen
from .source import AgentsPart
from .tables import KeyedTable
from .view import TrendBook, is_quiet
from .words import Words

log = logging.getLogger(__name__)

CALLS_REMEMBERED = 5000  # waiting callers' numbers kept by call id (for the confirmations)
# the tables each part feeds: a summary does not rebuild the agents' rows, nor an agent part the queues'
SUMMARY_PANELS = frozenset({"queues", "callers"})
AGENT_PANELS = frozenset({"agents"})
ALL_PANELS = SUMMARY_PANELS | AGENT_PANELS
# The 1 s tick in turns a third of a second apart, one table each: every line in view of a table is drawn again when
# its times move, and the three tables in one frame were 60-100 ms of CPU at 5,000 agents (as much again as one)
TICK_TURNS = ("queues", "agents", "callers")
TURN_S = 1.0 / len(TICK_TURNS)
SETTLE_AFTER_TURN_S = TURN_S / 2  # a collection (``GcSettle.settle``) between two turns' frames, not in one
SETTLE_AFTER_PILE_S = 0.03  # two frames' time
NEXT_TABLE_S = 2.5 / constants.MAX_FPS  # a snapshot's next table after the screen's next frame (drawn every 1/60 s)
SETTLE_LATE_S = 0.01  # a settle due this late finds the loop just busy (a part read, a frame): it waits again
SETTLE_WAITS = 5  # at most, then it settles anyway
NARROW_BELOW = 100  # columns: below this the agents and callers stack instead of sitting side by side


class DeskApp(DeskActions, App):
    """The supervisor's desk monitor. ``client`` is an asyncio Redis client (the caller closes it) or a
    zero-argument async factory (the app connects in its own event loop and closes the client on quit)."""

    CSS_PATH = "desk.tcss"
    TITLE = "wallboard desk"
    BINDINGS = bindings(DESK_KEYS)

    def __init__(
        self,
        config: WallboardConfig,
        client: ClientFactory | object,
        user: str,
        clock: Clock | None = None,
        *,
        snooze_minutes: float = SNOOZE_MINUTES,
        token: str = "",
        settle_gc: bool = False,
        language: str | None = None,
        bidi: str | None = None,
    ) -> None:
        super().__init__()
        # the desk's words (``words``): the config's language unless given; Hebrew right to left, in display
        # order for terminals without bidi support unless ``bidi="terminal"`` (or WALLBOARD_BIDI)
        self.words = Words(language or config.display.language, bidi or os.environ.get("WALLBOARD_BIDI", "visual"))
        if self.words.language != "en":  # the footer's words: the class's bindings are English
            self._bindings = in_words(self._bindings, DESK_KEYS, self.words)
        # A full garbage collection walks every live object not frozen (~300,000 at 5,000 agents: 300 ms). The desk
        # as a process (``settle_gc``: ``run_desk``, the demo, the bench; not tests, many apps in one process)
        # freezes what lives on (``GcSettle``): at mount, once the first agents are placed, and every few seconds.
        self.gc_settle: GcSettle | None = GcSettle(on_pile=self._settle_soon) if settle_gc else None
        self._settle_loop: asyncio.AbstractEventLoop | None = None  # the desk's loop, once mounted
        self._settle_pending = False  # a settle on its way (``_settle_soon``)
        self._first_agents_placed = False
        self.config = config
        self.keys = Keys(config.redis.prefix)
        self.tz = config.centre.tz
        self.user = user
        self.token = token
        self.allowed = frozenset(allowed_actions(config, user))  # the actions offered (the executor decides)
        self.clock: Clock = clock or SystemClock()
        self.server = ServerTime(self.clock)
        self.snooze_minutes = snooze_minutes
        self.reader = SnapshotReader(self, config, client, self.clock)
        # the last snapshot parts (render reads only these)
        self.summary: Summary | None = None
        self.agents: AgentsPart | None = None
        self.trends = TrendBook()
        self.stale = False
        # flashing: one timer, one phase
        self.flash_enabled = config.display.flash
        self.flash_hz = min(2.0, config.display.flash_hz)
        self.flash_on = False
        self._flash_timer = None
        self._flash_running = False
        # requests waiting for their outcome, and the pending auto-reverts
        self.outcome_watch = OutcomeWatch(self, self.reader)
        self.reverts: dict[str, list[Revert]] = {}
        self.takeovers: dict = {}  # agent -> requests.TakenOver: whose call a supervisor took, lately
        # call id -> (caller as the snapshot shows it, masked; queue), remembered from the waiting callers so a
        # confirmation names an agent's call by its caller rather than its id
        self.calls_seen: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.held_notices: list[Notification] = []  # raised while a panel is open: shown once it closes
        self._key_specs: dict[str, list[KeySpec]] = {}
        self._bindings_state: tuple | None = None
        self._render_due: frozenset[str] = frozenset()  # panels to render once the waiting messages are handled
        self._agents_slice_due = False  # a large agents part is taken in slices: the next one is called for
        self._turn = 0  # the tick's next turn (``TICK_TURNS``)
        # the panels: each fetches plain data from the last parts and renders only that
        self.title_panel = TitlePanel()
        self.queues_panel = QueuesPanel(self.words)
        self.callers_panel = CallersPanel(self.words)
        self.agents_panel = AgentsPanel(self.server, self.words)

    # ---- layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        rtl, bidi = self.words.rtl, self.words.bidi
        order = reversed if rtl else list  # a right-to-left desk is the mirror: the title on the right
        with Horizontal(id="top"):
            yield from order([Static(id="title"), Static(id="badge"), Static(id="clock")])
        yield Static(id="stale")
        width = self.size.width or 80
        yield KeyedTable(self.queues_panel.columns(self.config, width), id="queues", rtl=rtl, bidi=bidi)
        with Horizontal(id="lower"):
            agents = Vertical(
                KeyedTable(self.agents_panel.columns(self.config, width), id="agents", rtl=rtl, bidi=bidi),
                id="agents-box",
            )
            callers = Vertical(
                KeyedTable(self.callers_panel.columns(self.config, width), id="callers", rtl=rtl, bidi=bidi),
                id="callers-box",
            )
            yield from [agents, callers]  # side by side on a right-to-left desk: callers first (``_apply_width``)
        yield DeskFooter(self.words)

    def on_mount(self) -> None:
        self.set_keymap(self.config.display.keys)
        self.set_class(self.words.rtl, "-rtl")
        bad = unknown_ids(self.config.display.keys)
        if bad:
            self.notify(self.words("unknown_keys", ids=", ".join(bad)), severity="warning")
        keymap = self._normalize_keymap(self.config.display.keys)
        for spec in DESK_KEYS:
            for key in keymap.get(spec.id, spec.key).split(","):
                self._key_specs.setdefault(key.strip(), []).append(spec)
        problem = token_problem(self.token, self.user, self.clock.now().timestamp()) if self.allowed else None
        if problem:
            self.notify(problem, severity="warning", markup=False)
        self.query_one("#agents-box").border_title = self.words.show(self.words("box.agents"))
        self.query_one("#callers-box").border_title = self.words.show(self.words("box.waiting"))
        self._apply_width(self.size.width)
        self.query_one("#queues", KeyedTable).focus()
        self.set_interval(TURN_S, self.tick_turn)
        if self.gc_settle is not None:
            self._settle_loop = asyncio.get_running_loop()  # (``_settle_soon``: the collector's thread may be another)
            self.gc_settle.start()  # the modules and the app, built
        self.render_all()
        self.reader.start()

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)
        self.render_all()

    def _apply_width(self, width: int) -> None:
        narrow = width < NARROW_BELOW
        self.set_class(narrow, "-narrow")
        if self.words.rtl:  # the mirror: the waiting callers left of the agents; stacked, below them as in English
            lower = self.query_one("#lower")
            agents, callers = self.query_one("#agents-box"), self.query_one("#callers-box")
            if narrow and lower.children[0] is callers:
                lower.move_child(callers, after=agents)
            elif not narrow and lower.children[0] is agents:
                lower.move_child(callers, before=agents)
        self.query_one("#queues", KeyedTable).set_columns(self.queues_panel.columns(self.config, width))
        self.query_one("#agents", KeyedTable).set_columns(self.agents_panel.columns(self.config, width))

    def action_focus_next(self) -> None:
        self._step_focus(1)

    def action_focus_previous(self) -> None:
        self._step_focus(-1)

    def _step_focus(self, delta: int) -> None:
        """Tab: queues, agents, waiting callers, on a right-to-left desk too (where the callers come first in
        the widget tree, to sit left of the agents, and Textual's focus chain would visit them first)."""
        main = self.screen_stack[0] if self.screen_stack else None
        if not self.words.rtl or self.screen is not main:
            super().action_focus_next() if delta > 0 else super().action_focus_previous()
            return
        order = [t for t in (self.queue_table, self.agent_table, self.caller_table) if t.focusable]
        if not order:
            return
        at = order.index(self.focused) if self.focused in order else (-1 if delta > 0 else 0)
        order[(at + delta) % len(order)].focus()

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
        return await self.reader.client()

    # ---- messages ------------------------------------------------------------------------------------

    def on_summary_arrived(self, message: SummaryArrived) -> None:
        s = message.summary
        if not self.reader.heard(s, self.summary, message.received_mono):
            self._set_stale(self.reader.redis_lost)
            return
        self.summary = s
        self.server.anchor(s.at, message.received_mono)
        self.remember_callers(s)
        self.trends.add(s)
        self._set_stale(False)
        self.request_render(SUMMARY_PANELS)

    def on_agents_arrived(self, message: AgentsArrived) -> None:
        part = message.part
        if not self.reader.heard(part, self.agents, message.received_mono):
            self._set_stale(self.reader.redis_lost)
            if self.reader.again(part, self.agents):  # the full part after its delta: an open card's seconds
                self.agents = part
                self.request_render(AGENT_PANELS)
            return
        self.agents = part
        if self.summary is None or part.at >= self.summary.at:
            self.server.anchor(part.at, message.received_mono)
        self._set_stale(False)
        self.request_render(AGENT_PANELS)
        self.read_reverts()

    def on_reverts_arrived(self, message: RevertsArrived) -> None:
        self.reverts = message.reverts
        self.takeovers = message.takeovers
        self.request_render(AGENT_PANELS)

    def on_feed_status(self, message: FeedStatus) -> None:
        self.reader.status(message)
        if self.reader.redis_lost:
            self._set_stale(True)
        self._render_title()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "queues" and event.row_key.value is not None:
            self.drill(event.row_key.value)
        elif event.data_table.id in AGENT_TABLES and event.row_key.value is not None:
            self.agent_card(event.row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id in AGENT_TABLES:
            self._refresh_action_bindings()

    # ---- render: only reads the last parts ----------------------------------------------------------------

    def panel_state(self) -> DeskState:
        return DeskState(
            config=self.config,
            user=self.user,
            server=self.server,
            trends=self.trends,
            summary=self.summary,
            agents=self.agents,
            reverts=self.reverts,
            takeovers=self.takeovers,
            connected=self.reader.connected,
            detail=self.reader.detail,
            words=self.words,
        )

    def request_render(self, panels: frozenset[str]) -> None:
        """Render these panels once the messages waiting now are handled: a burst of snapshots (or a desk
        that fell behind) draws only the latest, once."""
        if not self._render_due:
            self.call_later(self._render_due_panels)
        self._render_due |= panels

    @property
    def panels_due(self) -> frozenset[str]:
        """The panels still waiting for their turn to be drawn (``request_render``): none once the screen shows
        the last parts taken."""
        return self._render_due

    def _render_due_panels(self) -> None:
        """The panels due, one table a frame (``TICK_TURNS``' order): a summary and an agents part come together,
        each table's lines in view are drawn again (their times), and the three in one frame were 60-80 ms of CPU at
        5,000 agents. The next table's turn comes once the screen is drawn: ``NEXT_TABLE_S`` later (after a
        ``call_after_refresh`` the agents' and the callers' tables were still drawn in one frame, most seconds: the
        screen can be idle, its callbacks run, before a table's repaint has reached it)."""
        panels = self._render_due
        first = next((p for p in TICK_TURNS if p in panels), None)
        if first is not None and panels - {first}:
            self.render_all(frozenset({first}))
            self._render_due = panels - {first}
            self.set_timer(NEXT_TABLE_S, self._render_due_panels)
            return
        self._render_due = frozenset()
        if panels:
            self.render_all(panels)

    def render_all(self, panels: frozenset[str] = ALL_PANELS, views: bool = True) -> None:
        """Render the panels named (all of them by default) from the last parts, and the views over the desk
        (a queue's drill-down) unless ``views`` is false (a tick's later turns: once a second is enough)."""
        if not self.is_mounted:
            return
        self._render_due -= panels
        state = self.panel_state()
        self._render_title(state)
        flash = self.flash_on and self.flash_enabled
        try:
            for panel in (self.queues_panel, self.callers_panel, self.agents_panel):
                if panel.table_id in panels:
                    panel.render(self, panel.fetch(state), flash)
        except NoMatches:  # not composed yet, or the main screen is being taken down
            return
        for screen in list(self.screen_stack) if views else ():
            if isinstance(screen, DrillDownScreen):
                screen.refresh_view()  # safe on a screen not composed yet or taken down
        self._update_flash_timer()
        self._refresh_action_bindings()
        if "agents" in panels and self.agents_panel.pending:  # a large part is taken in slices
            if not self._agents_slice_due:
                self._agents_slice_due = True
                self.call_later(self._next_agents_slice)
        elif not self._first_agents_placed and self.agents is not None and "agents" in panels:
            self._first_agents_placed = True  # the start-up's rows: they live as long as the desk
            if self.gc_settle is not None:
                self._settle_soon(SETTLE_AFTER_TURN_S)
                self.gc_settle.arm()

    async def _next_agents_slice(self) -> None:
        """The next slice of a large agents part, once the loop has turned (a frame drawn, input handled). At the
        start-up, what the last slices built is frozen first (``GcSettle.settle(young=True)``), in a turn of its
        own: the rows built live as long as the desk, and the first settle after them walked the whole start-up
        (~80-100 ms at 5,000 agents), the collections during it everything built so far."""
        await asyncio.sleep(0)
        if self.gc_settle is not None and not self._first_agents_placed:
            self.gc_settle.settle(young=True)
            await asyncio.sleep(0)
        self._agents_slice_due = False
        if self.agents_panel.pending:
            self.render_all(AGENT_PANELS)

    def _render_title(self, state: DeskState | None = None) -> None:
        try:
            self.title_panel.render(self, self.title_panel.fetch(state or self.panel_state()))
        except NoMatches:
            return

    # ---- calls in words ------------------------------------------------------------------------------------

    def remember_callers(self, summary: Summary) -> None:
        """Keep each waiting caller's (masked) number and queue by call id, the latest few thousand."""
        for name, q in summary.queues.items():
            for c in q.callers:
                if c.call_id and c.caller:
                    self.calls_seen[c.call_id] = (c.caller, name)
                    self.calls_seen.move_to_end(c.call_id)
        while len(self.calls_seen) > CALLS_REMEMBERED:
            self.calls_seen.popitem(last=False)

    def call_words(self, a: AgentSnapshot) -> str | None:
        """The agent's call as a supervisor knows it: ``with ***5040 (Customer service, 2:41 so far)`` (the
        caller's number as the snapshot showed it while waiting, the queue's label, how long the agent has been
        on it); None without a call."""
        if not a.call_id:
            return None
        w = self.words
        caller, queue = self.calls_seen.get(a.call_id, ("", a.call_queue or ""))
        queue = a.call_queue or queue
        q = self.summary.queues.get(queue) if self.summary is not None and queue else None
        details = [q.label or queue if q is not None else queue] if queue else []
        if a.state == "on_call":
            lasted = self.server.seconds_since(a.since)
            if lasted is not None:
                details.append(w("call.so_far", d=fmt_duration(lasted)))
        tail = f"({', '.join(details)})" if details else ""
        return w("call.with", caller=caller, tail=tail).strip() if caller else tail or None

    # ---- notices: never over an open panel -----------------------------------------------------------------

    def panel_open(self) -> bool:
        """A panel is up (help, a confirmation, a dialog, the advice, a scorecard, the command palette): a modal
        screen over the desk."""
        try:
            return isinstance(self.screen, ModalScreen)
        except Exception:  # no screen yet, or the app is closing
            return False

    def notify(self, message: str, **kwargs) -> None:  # type: ignore[override]
        """A notice, in display order on a right-to-left desk: cut into the toast's lines in reading order (a toast
        is 60 cells, at most half the screen, less its padding and edge), each aligned right."""
        if self.words.rtl:
            width = min(60, (self.size.width or 80) // 2) - 4
            message = "\n".join(line.rjust(width) for line in self.words.wrapped(message, width).split("\n"))
        super().notify(message, **kwargs)

    def _on_notify(self, event: Notify) -> None:
        """A toast docks bottom right, over whatever is there: at 80x24 over the help's last lines and a
        confirmation's keys. A notice raised while a panel is open waits for it to close (and then shows for its
        whole time); the Notify message itself goes out as always."""
        if self.panel_open():
            self.held_notices.append(event.notification)
            return
        super()._on_notify(event)

    def _refresh_notifications(self) -> None:
        """Textual calls this when a notice comes or goes and when a screen is shown again: over a panel it draws
        no toast; back on a screen that is not a panel, the notices held meanwhile are raised, timed from now."""
        if self.panel_open():
            return
        held, self.held_notices = self.held_notices, []
        for n in held:
            self._notifications.add(
                Notification(n.message, n.title, n.severity, n.timeout, markup=n.markup, identity=n.identity)
            )
        super()._refresh_notifications()

    # ---- ticking and staleness -------------------------------------------------------------------------

    def tick(self) -> None:
        """A second's ticking at once (the timer takes it in turns, ``tick_turn``): waits and time in state move
        on locally in every table; the stale mark is checked."""
        for _ in TICK_TURNS:
            self.tick_turn()

    def tick_turn(self) -> None:
        """A third of a second: one table's waits and times in state move on (each table once a second, in its own
        frame); at the first turn the stale mark and overdue outcomes are checked, the panels over the desk
        refreshed."""
        turn, self._turn = self._turn, (self._turn + 1) % len(TICK_TURNS)
        if turn == 0:
            self._set_stale(self.reader.is_stale())
            self.check_overdue_outcomes()
        self.render_all(frozenset({TICK_TURNS[turn]}), views=turn == 0)
        if self.gc_settle is not None and self._first_agents_placed and self.gc_settle.due():
            self._settle_soon(SETTLE_AFTER_TURN_S)  # not in a turn's frame: between two

    def _settle_soon(self, after: float = SETTLE_AFTER_PILE_S) -> None:
        """A settle ``after`` seconds from now, in a quiet moment: when its time comes late (by more than
        ``SETTLE_LATE_S``) the loop was busy until now, with work the settle would be added to in one wake-up (the
        read of a full part, whose collections asked for it; a frame), so it waits again, up to ``SETTLE_WAITS``
        times. Also the collector's callback (``GcSettle.on_pile``): handed to the desk's loop as another thread
        would hand it (nothing else is touched in the middle of whatever ran): the collector runs its callbacks in
        whichever thread collects, the terminal driver's key and writer threads too, which have no loop."""
        settle, loop = self.gc_settle, self._settle_loop
        if settle is None or loop is None:
            return

        def when_quiet(due: float, waits: int) -> None:
            if not settle.armed:  # the desk ended meanwhile (``GcSettle.stop``)
                self._settle_pending = False
                return
            now = loop.time()
            if now - due > SETTLE_LATE_S and waits < SETTLE_WAITS:
                loop.call_later(after, when_quiet, now + after, waits + 1)
                return
            self._settle_pending = False
            settle.settle()

        def schedule() -> None:
            # one on its way (waiting for a quiet moment, past a turn or two that find it still due): that one
            if not self._settle_pending:
                self._settle_pending = True
                loop.call_later(after, when_quiet, loop.time() + after, 0)

        loop.call_soon_threadsafe(schedule)

    def _set_stale(self, stale: bool) -> None:
        self.stale = stale
        try:
            mark = self.query_one("#stale", Static)
        except Exception:
            return
        if stale:
            when = self.summary.at if self.summary else None
            since = fmt_clock(when, self.tz) if when else self.words("stale_start")
            mark.update(self.words.show(self.words("stale", since=since)))
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
        try:  # only the tables with a flashing cell change with the phase
            flashing = frozenset(t.id for t in (self.queue_table, self.agent_table, self.caller_table) if t.flashing)
        except NoMatches:
            return
        self.render_all(frozenset(i for i in flashing if i))

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

    # ---- outcomes ---------------------------------------------------------------------------------------

    @property
    def pending(self) -> dict[str, Pending]:
        """Requests waiting for their outcome: request id -> its batch."""
        return self.outcome_watch.pending

    def expect(self, ids: list[str], label: str, after: Callable[[bool], None] | None = None) -> None:
        self.outcome_watch.expect(ids, label, after)

    def on_outcome_arrived(self, message: OutcomeArrived) -> None:
        if message.request_id not in self.pending:
            return
        batch = self.outcome_watch.arrived(message)
        if batch is not None:
            text, severity = batch.summary(self.words)
            self.notify(text, severity=severity, markup=False, timeout=8)  # type: ignore[arg-type]
            if batch.after is not None:
                batch.after(batch.ok)
        if message.fields.get("type") in REVERTING_TYPES:
            self.read_reverts()

    def check_overdue_outcomes(self) -> None:
        for batch in self.outcome_watch.overdue():
            self.notify(self.words("no_outcome", label=batch.label), severity="warning", markup=False)
            if batch.after is not None:
                batch.after(False)

    def read_reverts(self) -> None:
        self.outcome_watch.read_reverts(self.server.now().timestamp())

    async def action_quit(self) -> None:
        await self.close_feed()
        self.exit()

    async def close_feed(self) -> None:
        """Cancel the readers and close the Redis client we opened (once)."""
        await self.reader.close(groups=(OUTCOMES, REVERTS))

    async def on_unmount(self) -> None:
        await self.close_feed()
        if self.gc_settle is not None:
            self.gc_settle.stop()


def default_user() -> str:
    return os.environ.get("WALLBOARD_USER") or getpass.getuser()


def build_desk_app(
    config: WallboardConfig,
    redis_url: str | None = None,
    user: str | None = None,
    clock: Clock | None = None,
    token: str | None = None,
    settle_gc: bool = False,
    language: str | None = None,
    bidi: str | None = None,
) -> DeskApp:
    """The one factory, for the CLI and the tests. The app connects in its own event loop. The token is the
    argument, else $WALLBOARD_TOKEN, else the file $WALLBOARD_TOKEN_FILE (``requests.resolve_token``)."""
    from ..store import connect

    async def factory():
        return await connect(config, redis_url)

    user = user or default_user()
    return DeskApp(
        config,
        factory,
        user,
        clock,
        token=resolve_token(config, user, token),
        settle_gc=settle_gc,
        language=language,
        bidi=bidi,
    )


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
    config: WallboardConfig,
    redis_url: str | None = None,
    user: str | None = None,
    log_path: Path | None = None,
    token: str | None = None,
    language: str | None = None,
    bidi: str | None = None,
) -> int:
    setup_logging(log_path)
    app = build_desk_app(config, redis_url, user, token=token, settle_gc=True, language=language, bidi=bidi)
    app.run()
    return app.return_code or 0
