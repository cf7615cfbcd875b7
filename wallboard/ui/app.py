"""The desk UI (``wallboard tui``): queues, agents and waiting callers, read only from Redis.

Structure (fetch / render split):

- a long-running worker (``reader.SnapshotReader``, shared with the board) reads the stored snapshot parts,
  subscribes to both channels (``source.SnapshotSource``), and posts typed messages (``messages``) that
  collapse in a burst; it reconnects with backoff and says when the figures are stale;
- the handlers keep the last parts and call ``render_all()``, which only reads them: ``view`` builds rows of
  plain cells, ``tables.KeyedTable.sync`` applies them by key (never a clear);
- one 1 s timer ticks waits and time in state locally (server ``at`` + local monotonic time since arrival)
  and checks staleness (and outcomes that never came); one flash timer (<= 2 Hz) drives every flashing
  cell through ``set_flash_phase``, paused when nothing flashes, never started when ``display.flash`` is
  off. The phase follows the injected clock, so a test with a ``ManualClock`` drives it without sleeping.

Requests (ack, snooze and the supervisor actions on the selected agent) are typed models with the user's
token (``requests``); each action is confirmed first (``dialogs.ConfirmScreen``: ``describe`` of the very
request sent). A second worker (``watch_outcomes``) reads the audit stream while requests are pending and
posts each one's outcome; the pending auto-reverts (``:reverts``) are read after each agent snapshot.
Keys for actions the user's roles do not grant are not offered (``check_action``).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from ..actions.auth import allowed_actions
from ..actions.model import Move, Pause, Spy, Takeover, describe, to_fields
from ..actions.submit import submit
from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from ..keys import Keys
from ..snapshot import AgentSnapshot, Summary
from ..advisor import EstimateSettings, advise, read_estimates
from ..snapshot import Snapshot
from .bindings import (
    ACTION_OF,
    AGENT_ACTIONS,
    DESK_KEYS,
    QUEUE_ACTIONS,
    SNOOZE_MINUTES,
    CALL_ACTIONS,
    KeySpec,
    bindings,
    unknown_ids,
)
from .dialogs import AdviceScreen, ConfirmScreen, MoveScreen, PauseReasonScreen
from ..livetime import ServerTime, fmt_clock, fmt_duration, iso_utc, monotonic_of, parse_utc
from .messages import AgentsArrived, FeedStatus, OutcomeArrived, RevertsArrived, SummaryArrived
from .reader import ClientFactory, SnapshotReader
from .requests import (
    NO_TOKEN,
    OUTCOME_TIMEOUT_S,
    Pending,
    Revert,
    alerting_metrics,
    audit_key,
    build_request,
    load_reverts,
    load_takeovers,
    outcome_label,
    read_from,
    resolve_token,
    token_problem,
)
from .screens import DrillDownScreen, HelpScreen
from .source import AgentsPart
from .tables import KeyedTable
from .view import (
    AGENT_COLUMNS,
    CALLER_COLUMNS,
    LEVEL_RANK,
    QUEUE_COLUMNS,
    SPY_SHOWN,
    TOTAL_KEY,
    TrendBook,
    agent_rows,
    breach_badge,
    caller_rows,
    fit_columns,
    is_quiet,
    metric_words,
    move_queue_rows,
    queue_level,
    queue_rows,
)

log = logging.getLogger(__name__)

CALLS_REMEMBERED = 5000  # waiting callers' numbers kept by call id (for the confirmations)
NARROW_BELOW = 100  # columns: below this the agents and callers stack instead of sitting side by side
AGENT_TABLES = ("agents", "drill-agents")
NOTHING_TO = {
    "listen": "nothing to listen to",
    "whisper": "nothing to whisper on",
    "barge": "nothing to barge in on",
    "takeover": "nothing to take over",
}


class DeskApp(App):
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
    ) -> None:
        super().__init__()
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
        # counters for tests and diagnostics
        self.table_clears = 0
        self.renders = 0
        self.requests_sent: list[dict] = []
        self.notices: list[tuple[str, str]] = []  # (message, severity) of every notification
        self.outcomes: list[dict] = []  # the audit entries of this desk's requests, as they came
        # requests waiting for their outcome (request id -> its batch), and the pending auto-reverts
        self.pending: dict[str, Pending] = {}
        self._watching = False
        self.reverts: dict[str, list[Revert]] = {}
        self.takeovers: dict = {}  # agent -> requests.TakenOver: whose call a supervisor took, lately
        # call id -> (caller as the snapshot shows it, masked; queue), remembered from the waiting callers so a
        # confirmation names an agent's call by its caller rather than its id
        self.calls_seen: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._key_specs: dict[str, list[KeySpec]] = {}
        self._bindings_state: tuple | None = None

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
        keymap = self._normalize_keymap(self.config.display.keys)
        for spec in DESK_KEYS:
            for key in keymap.get(spec.id, spec.key).split(","):
                self._key_specs.setdefault(key.strip(), []).append(spec)
        problem = token_problem(self.token, self.user, self.clock.now().timestamp()) if self.allowed else None
        if problem:
            self.notify(problem, severity="warning", markup=False)
        self.query_one("#agents-box").border_title = "Agents"
        self.query_one("#callers-box").border_title = "Waiting now"
        self._apply_width(self.size.width)
        self.query_one("#queues", KeyedTable).focus()
        self.set_interval(1.0, self.tick)
        self.render_all()
        self.reader.start()

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
        self.render_all()

    def on_agents_arrived(self, message: AgentsArrived) -> None:
        part = message.part
        if not self.reader.heard(part, self.agents, message.received_mono):
            self._set_stale(self.reader.redis_lost)
            return
        self.agents = part
        if self.summary is None or part.at >= self.summary.at:
            self.server.anchor(part.at, message.received_mono)
        self._set_stale(False)
        self.render_all()
        self.read_reverts()

    def on_reverts_arrived(self, message: RevertsArrived) -> None:
        self.reverts = message.reverts
        self.takeovers = message.takeovers
        self.render_all()

    def on_feed_status(self, message: FeedStatus) -> None:
        self.reader.status(message)
        if self.reader.redis_lost:
            self._set_stale(True)
        self._render_title()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "queues" and event.row_key.value is not None:
            self.drill(event.row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id in AGENT_TABLES:
            self._refresh_action_bindings()

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
        try:
            if self.summary is not None:
                queues.sync(queue_rows(self.summary, self.config, self.server, self.trends), flash)
                callers.sync(caller_rows(self.summary, self.server), flash)
                self.query_one("#callers-box").border_title = f"Waiting now ({callers.row_count})"
            if self.agents is not None:
                agents.sync(
                    agent_rows(self.agents.agents, self.server, reverts=self.reverts, takeovers=self.takeovers), flash
                )
                self.query_one("#agents-box").border_title = f"Agents ({agents.row_count})"
        except NoMatches:  # the main screen is being taken down
            return
        for screen in list(self.screen_stack):
            if isinstance(screen, DrillDownScreen):
                screen.refresh_view()  # safe on a screen not composed yet or taken down
        self._update_flash_timer()
        self._refresh_action_bindings()

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
        if not self.reader.connected:
            t.append(f" · {self.reader.detail}", style="bold red")
        title.update(t)
        text, cls = breach_badge(s, self.server.now(), self.tz)
        badge.update(text)
        badge.set_class(cls == "-active", "-active")
        badge.set_class(cls == "-quiet", "-quiet")
        clock.update(Text.assemble((fmt_clock(self.server.now(), self.tz), "bold"), f" {self.user}"))

    def breach_count(self) -> int:
        if self.summary is None:
            return 0
        return sum(1 for q in self.summary.queues.values() for lv in q.levels.values() if lv == "breach")

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
        caller, queue = self.calls_seen.get(a.call_id, ("", a.call_queue or ""))
        queue = a.call_queue or queue
        q = self.summary.queues.get(queue) if self.summary is not None and queue else None
        details = [q.label or queue if q is not None else queue] if queue else []
        if a.state == "on_call":
            lasted = self.server.seconds_since(a.since)
            if lasted is not None:
                details.append(f"{fmt_duration(lasted)} so far")
        tail = f"({', '.join(details)})" if details else ""
        return f"with {caller} {tail}".strip() if caller else tail or None

    # ---- ticking and staleness -------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: waits and time in state move on locally; the stale mark is checked."""
        self._set_stale(self.reader.is_stale())
        self.check_overdue_outcomes()
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
        if kind not in self.allowed:
            self.notify(f"{self.user} may not {kind}", severity="warning", markup=False)
            return []
        queue = self.selected_queue()
        if self.summary is None or queue is None or queue == TOTAL_KEY or queue not in self.summary.queues:
            self.notify("Select a queue first", severity="warning")
            return []
        q = self.summary.queues[queue]
        metrics = alerting_metrics(q, kind, self.server.now())
        what = "acknowledge" if kind == "ack" else f"snooze {self.snooze_minutes:g} min"
        if not metrics:
            self.notify(f"{q.label or queue}: no alert to {what.split()[0]}")
            return []
        if not self.has_token():
            return []
        now = self.clock.now()
        reqs = [build_request(kind, queue, m, self.user, now, self.snooze_minutes) for m in metrics]
        try:
            ids = await submit(await self.client(), self.keys, reqs, self.token)
        except Exception as e:
            log.warning("request failed: %s", e)
            self.notify(f"{kind} not sent: {e}", severity="error", markup=False)
            return []
        self.requests_sent.extend(to_fields(r) for r in reqs)
        alerts = "alert" if len(metrics) == 1 else "alerts"
        if kind == "ack":
            label = f"{q.label or queue}: acknowledge the {metric_words(metrics)} {alerts}"
        else:
            label = f"{q.label or queue}: snooze the {metric_words(metrics)} {alerts} for {self.snooze_minutes:g} min"
        self.expect(ids, label)
        self.notify(f"{label} — sent", markup=False)
        return reqs

    def action_toggle_flash(self) -> None:
        self.flash_enabled = not self.flash_enabled
        self.notify(f"Flashing {'on' if self.flash_enabled else 'off'}")
        self.render_all()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            hidden = frozenset(a for a in AGENT_ACTIONS | QUEUE_ACTIONS if a not in self.allowed)
            hidden |= frozenset(a for a, needs in ACTION_OF.items() if needs not in self.allowed)
            self.push_screen(HelpScreen(self.config.display.keys, hidden))

    # ---- supervisor actions on the selected agent --------------------------------------------------------

    def focused_agent_table(self) -> KeyedTable | None:
        """The agents table (main or drill-down) with focus on the topmost screen that is not a dialog, so the
        footer under a dialog still reads the screen's own context."""
        screen = next((s for s in reversed(self.screen_stack) if not isinstance(s, ModalScreen)), None)
        focused = screen.focused if screen is not None else None
        if isinstance(focused, KeyedTable) and focused.id in AGENT_TABLES:
            return focused
        return None

    def agent_of(self, agent_id: str | None) -> AgentSnapshot | None:
        if self.agents is None or agent_id is None:
            return None
        return self.agents.agents.get(agent_id)

    def gate(self, action: str) -> tuple[bool | None, str]:
        """Whether a key's action is offered now: True (run it), None (shown, dimmed: not possible for this
        agent now) or False (not offered here), with the reason a press of the key is told."""
        if (action in AGENT_ACTIONS or action in QUEUE_ACTIONS) and action not in self.allowed:
            return False, f"{self.user} may not {action} (not offered)"
        if action in ACTION_OF and ACTION_OF[action] not in self.allowed:
            return False, f"{self.user} may not {ACTION_OF[action]} (not offered)"
        table = self.focused_agent_table()
        if action in AGENT_ACTIONS:
            if table is None:
                return False, "Select an agent first: tab to the Agents table"
            agent_id = table.selected_key
            a = self.agent_of(agent_id)
            if a is None:
                return None, "Select an agent first"
            name = a.name or agent_id
            if action == "pause" and a.state == "paused":
                return False, f"{name} is paused already"
            if action == "unpause" and a.state != "paused":
                return False, f"{name} is not paused"
            if action == "pause" and a.state == "logged_out":
                return None, f"{name} is logged out"
            if action in CALL_ACTIONS and not a.call_id:
                return None, f"{name} is not on a call: {NOTHING_TO[action]}"
            return True, ""
        if table is not None and action in QUEUE_ACTIONS | {"drill"}:
            return False, f"{action.capitalize()} acts on a queue: select one in the queue table"
        return True, ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.gate(action)[0]

    def _refresh_action_bindings(self) -> None:
        """Refresh the footer when what the action keys offer changed (agent focus, on a call, paused)."""
        table = self.focused_agent_table()
        state = None
        if table is not None:
            a = self.agent_of(table.selected_key)
            state = (table.id, a is not None and a.state, bool(a and a.call_id))
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    def on_key(self, event: events.Key) -> None:
        """A key of an action not offered here does nothing but say why."""
        if isinstance(self.screen, ModalScreen):
            return
        specs = self._key_specs.get(event.key)
        if not specs:
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.enabled:
            return  # a binding answers it
        for spec in specs:
            state, reason = self.gate(spec.action)
            if state is True:
                return
        for spec in specs:
            state, reason = self.gate(spec.action)
            if reason and not (state is False and spec.alias):
                self.notify(reason, severity="warning", markup=False)
                return

    def has_token(self) -> bool:
        if not self.token:
            self.notify(NO_TOKEN, severity="error", markup=False)
            return False
        return True

    def _selected_agent(self, action: str) -> tuple[str, AgentSnapshot] | None:
        state, reason = self.gate(action)
        if state is not True:
            self.notify(reason, severity="warning", markup=False)
            return None
        if not self.has_token():
            return None
        table = self.focused_agent_table()
        assert table is not None and table.selected_key is not None
        agent = self.agent_of(table.selected_key)
        assert agent is not None
        return table.selected_key, agent

    def action_listen(self) -> None:
        self.spy("listen")

    def action_whisper(self) -> None:
        self.spy("whisper")

    def action_barge(self) -> None:
        self.spy("barge")

    def action_takeover(self) -> None:
        """Take over the selected agent's call: the caller comes to the user's phone, the agent drops out."""
        sel = self._selected_agent("takeover")
        if sel is None:
            return
        agent_id, a = sel
        req = Takeover(user=self.user, agent=agent_id, call_id=a.call_id, at=iso_utc(self.clock.now()))
        self.confirm(
            req,
            a.name or agent_id,
            "Your phone rings with the caller; the agent's line is cut. This cannot be undone from here.",
            self.call_words(a),
        )

    def spy(self, mode: str) -> None:
        """Listen, whisper or barge on the selected agent's current call. Escalating (listen -> whisper ->
        barge) is the same request with the new mode: the executor re-originates the spy."""
        sel = self._selected_agent(mode)
        if sel is None:
            return
        agent_id, a = sel
        req = Spy(type=mode, user=self.user, agent=agent_id, call_id=a.call_id, at=iso_utc(self.clock.now()))
        mine = a.spied_by.get(self.user)
        note = ""
        if mine == "keypad":
            note = "You are on this call in keypad mode: 4 listen, 5 whisper, 6 barge on your phone switch at once."
        elif mine == mode:
            note = f"You are on this call in {mode} mode already: this calls your phone again."
        elif mine:
            note = f"You are on this call in {SPY_SHOWN.get(mine, mine)} mode: this re-originates it in {mode} mode."
        self.confirm(req, a.name or agent_id, note, self.call_words(a))

    def action_move(self) -> None:
        sel = self._selected_agent("move")
        if sel is None:
            return
        agent_id, a = sel
        name = a.name or agent_id
        rows = move_queue_rows(a, self.summary, self.config)
        # the cursor starts on the queue that needs help most (of those the agent is not in)
        initial = None
        if self.summary is not None:
            candidates = [
                (LEVEL_RANK.get(queue_level(q), 0), q.waiting, n)
                for n, q in self.summary.queues.items()
                if n not in a.queues and q.open
            ]
            if candidates:
                initial = max(candidates, key=lambda c: (c[0], c[1]))[2]

        def make(queue: str, op: str, penalty: int, revert_after_s: float | None) -> Move:
            return Move(
                user=self.user,
                agent=agent_id,
                queue=queue,
                op=op,
                penalty=penalty,
                revert_after_s=revert_after_s,
                at=iso_utc(self.clock.now()),
            )

        def chosen(req: Move | None) -> None:
            if req is not None:
                self.confirm(req, name)

        self.push_screen(MoveScreen(agent_id, name, a.queues, rows, make, initial), callback=chosen)

    # ---- overload advice ----------------------------------------------------------------------------------

    def latest_snapshot(self) -> Snapshot | None:
        """The desk's latest snapshot (summary and agent detail) as one ``Snapshot``."""
        if self.summary is None:
            return None
        agents = self.agents.agents if self.agents is not None else {}
        return Snapshot(**self.summary.model_dump(), agents=agents)

    async def action_advice(self) -> None:
        """Required vs staffed per queue and the advisor's ranked moves; enter applies one (via ``move``)."""
        state, reason = self.gate("advice")
        if state is not True:
            self.notify(reason, severity="warning", markup=False)
            return
        if isinstance(self.screen, AdviceScreen):
            return
        snap = self.latest_snapshot()
        if snap is None:
            self.notify("No snapshot yet: no advice", severity="warning")
            return
        try:
            estimates = await read_estimates(
                await self.client(), self.config, self.server.now(), EstimateSettings(), keys=self.keys
            )
            advice = advise(snap, estimates, self.config)
        except Exception as e:
            log.warning("advice failed: %s", e)
            self.notify(f"No advice: {e}", severity="error", markup=False)
            return

        def chosen(move) -> None:
            if move is not None:
                self.apply_advice(move)

        self.push_screen(AdviceScreen(advice, self.tz), callback=chosen)

    def apply_advice(self, move) -> None:
        """Each step of an advised move is one ``move`` request, confirmed and sent like the move dialog's."""
        if not self.has_token():
            return
        reqs = [Move(user=self.user, at=iso_utc(self.clock.now()), **s.request_fields(move.agent)) for s in move.steps]
        self.confirm_chain(reqs, move.agent_name or move.agent)

    def confirm_chain(self, reqs: list, agent_name: str | None) -> None:
        if not reqs:
            return

        async def confirmed(final) -> None:
            if final is not None:
                await self.send_action(final, agent_name)
                self.confirm_chain(reqs[1:], agent_name)

        self.push_screen(ConfirmScreen(reqs[0], agent_name), callback=confirmed)

    def action_pause(self) -> None:
        sel = self._selected_agent("pause")
        if sel is None:
            return
        agent_id, a = sel
        name = a.name or agent_id

        def chosen(reason: str | None) -> None:
            if reason is not None:
                self.confirm(
                    Pause(type="pause", user=self.user, agent=agent_id, reason=reason, at=iso_utc(self.clock.now())),
                    name,
                )

        self.push_screen(PauseReasonScreen(name), callback=chosen)

    def action_unpause(self) -> None:
        sel = self._selected_agent("unpause")
        if sel is None:
            return
        agent_id, a = sel
        self.confirm(
            Pause(type="unpause", user=self.user, agent=agent_id, at=iso_utc(self.clock.now())), a.name or agent_id
        )

    def toggle_pause(self) -> None:
        table = self.focused_agent_table()
        a = self.agent_of(table.selected_key) if table is not None else None
        if a is not None and a.state == "paused":
            self.action_unpause()
        else:
            self.action_pause()

    def confirm(self, req, agent_name: str | None, note: str = "", call: str | None = None) -> None:
        """Say exactly what will happen; send it only when confirmed."""

        async def confirmed(final) -> None:
            if final is not None:
                await self.send_action(final, agent_name, call)

        self.push_screen(ConfirmScreen(req, agent_name, note, call), callback=confirmed)

    async def send_action(self, req, agent_name: str | None = None, call: str | None = None) -> str | None:
        """XADD one action request (stamped with the time it is sent) and watch for its outcome."""
        req = req.model_copy(update={"at": self.clock.now()})
        fields = to_fields(req)
        label = outcome_label(describe(req, agent_name, call))
        try:
            ids = await submit(await self.client(), self.keys, [req], self.token)
        except Exception as e:
            log.warning("request failed: %s", e)
            self.notify(f"{label}: not sent: {e}", severity="error", markup=False)
            return None
        self.requests_sent.append(fields)
        self.expect(ids, label)
        self.notify(f"{label} — sent", markup=False)
        return ids[0]

    # ---- outcomes ---------------------------------------------------------------------------------------

    def expect(self, ids: list[str], label: str) -> None:
        """Wait for the audit entries of ``ids`` (one notice for them all, or "no outcome yet" after a while)."""
        if not ids:
            return
        batch = Pending(label, list(ids), monotonic_of(self.clock) + OUTCOME_TIMEOUT_S)
        for rid in ids:
            self.pending[rid] = batch
        if not self._watching:
            self._watching = True
            self.watch_outcomes(read_from(ids[0]))

    @work(group="outcomes", exit_on_error=False)
    async def watch_outcomes(self, start: str) -> None:
        """Read the audit stream while requests are pending; post each one's entry."""
        last = start
        try:
            while self.pending and not self.reader.closed:
                try:
                    client = await self.client()
                    out = await client.xread({audit_key(self.keys): last}, count=200, block=500)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # Redis away for a moment: the pending requests time out on their own
                    log.warning("audit reader: %s", e)
                    await asyncio.sleep(0.5)
                    continue
                for _stream, entries in out or []:
                    for eid, fields in entries:
                        last = eid
                        rid = fields.get("request", "")
                        if rid in self.pending:
                            self.post_message(OutcomeArrived(rid, fields))
                await asyncio.sleep(0)
        finally:
            self._watching = False

    def on_outcome_arrived(self, message: OutcomeArrived) -> None:
        batch = self.pending.pop(message.request_id, None)
        if batch is None:
            return
        batch.results[message.request_id] = message.fields
        self.outcomes.append(message.fields)
        if batch.done:
            text, severity = batch.summary()
            self.notify(text, severity=severity, markup=False, timeout=8)  # type: ignore[arg-type]
        if message.fields.get("type") in ("move", "takeover"):
            self.read_reverts()

    def check_overdue_outcomes(self) -> None:
        now = monotonic_of(self.clock)
        overdue = {id(b): b for b in self.pending.values() if b.deadline <= now}
        for batch in overdue.values():
            for rid in batch.ids:
                self.pending.pop(rid, None)
            self.notify(f"{batch.label}: no outcome yet: is the executor running?", severity="warning", markup=False)

    @work(exclusive=True, group="reverts", exit_on_error=False)
    async def read_reverts(self) -> None:
        try:
            client = await self.client()
            reverts = await load_reverts(client, self.keys)
            takeovers = await load_takeovers(client, self.keys, self.server.now().timestamp())
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("reading the pending auto-reverts: %s", e)
            return
        self.post_message(RevertsArrived(reverts, takeovers))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity="information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.notices.append((str(message), str(severity)))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    async def action_quit(self) -> None:
        await self.close_feed()
        self.exit()

    async def close_feed(self) -> None:
        """Cancel the readers and close the Redis client we opened (once)."""
        await self.reader.close(groups=("outcomes", "reverts"))

    async def on_unmount(self) -> None:
        await self.close_feed()

    # ---- command palette -------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Drill down", "Open the selected queue: how each figure is computed", self.drill)
        if "ack" in self.allowed:
            yield SystemCommand(
                "Acknowledge", "Acknowledge the selected queue's alerts (flashing stops)", self.action_ack
            )
        if "snooze" in self.allowed:
            yield SystemCommand(
                f"Snooze {self.snooze_minutes:g} min", "Snooze the selected queue's alerts", self.action_snooze
            )
        agent_commands = (
            ("listen", "Listen", "Listen to the selected agent's call (nobody hears you)", self.action_listen),
            (
                "whisper",
                "Whisper",
                "Speak to the selected agent on a call (the caller will not hear you)",
                self.action_whisper,
            ),
            ("barge", "Barge", "Join the selected agent's call (both hear you)", self.action_barge),
            (
                "takeover",
                "Take over call",
                "Take the selected agent's call on your phone (the agent drops out)",
                self.action_takeover,
            ),
            (
                "move",
                "Move agent",
                "Add the selected agent to a queue, remove it, change its penalty",
                self.action_move,
            ),
        )
        for action, title, help_text, callback in agent_commands:
            if action in self.allowed:
                yield SystemCommand(title, help_text, callback)
        if "move" in self.allowed:
            yield SystemCommand(
                "Advice", "Overload advice: required vs staffed, ranked moves (enter applies one)", self.action_advice
            )
        if "pause" in self.allowed or "unpause" in self.allowed:
            yield SystemCommand(
                "Pause / unpause agent", "Pause the selected agent (with a reason), or unpause", self.toggle_pause
            )
        yield SystemCommand("Toggle flashing", "Turn breach flashing off or on", self.action_toggle_flash)
        yield SystemCommand("Help", "Keys and their binding ids", self.action_help)
        yield SystemCommand("Quit", "Quit the desk", self.action_quit)
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Quit",):
                yield cmd


def default_user() -> str:
    return os.environ.get("WALLBOARD_USER") or getpass.getuser()


def build_desk_app(
    config: WallboardConfig,
    redis_url: str | None = None,
    user: str | None = None,
    clock: Clock | None = None,
    token: str | None = None,
) -> DeskApp:
    """The one factory, for the CLI and the tests. The app connects in its own event loop. The token is the
    argument, else $WALLBOARD_TOKEN, else the file $WALLBOARD_TOKEN_FILE (``requests.resolve_token``)."""
    from ..store import connect

    async def factory():
        return await connect(config, redis_url)

    user = user or default_user()
    return DeskApp(config, factory, user, clock, token=resolve_token(config, user, token))


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
) -> int:
    setup_logging(log_path)
    app = build_desk_app(config, redis_url, user, token=token)
    app.run()
    return app.return_code or 0
