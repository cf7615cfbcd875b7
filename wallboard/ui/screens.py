"""The drill-down into one queue (how each figure is computed) and the help screen.

Both only read the app's last snapshot; the app calls ``refresh_view()`` after each snapshot, tick and flash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from ..targets import queue_targets
from ..snapshot import QueueSnapshot
from .bindings import DRILL_KEYS, bindings, effective_keys
from ..livetime import fmt_clock
from .rowsource import AgentRowSource
from .tables import KeyedTable
from .view import (
    SCORECARD_COLUMNS,
    scorecard_rows,
    TOTAL_KEY,
    describe_window,
    drill_caller_rows,
    figure_columns,
    figure_explanation,
    figure_rows,
    formulas,
    metric_words,
)

if TYPE_CHECKING:
    from .app import DeskApp

DRILL_CALLER_COLUMNS = (
    ("kind", "Kind", None),
    ("caller", "Caller", None),
    ("entered", "Entered", None),
    ("wait", "Wait", None),
)
DRILL_AGENT_COLUMNS = (
    ("agent", "Agent", None),
    ("state", "State", None),
    ("time", "Time", None),
    ("penalty", "Pen", None),
    ("calls", "Calls", None),
    ("missed", "Miss", None),
    ("alerts", "Alerts", None),
)


class DrillDownScreen(Screen):
    """One queue (or the centre total): every figure since the reset and rolling, with its formula,
    numerator, denominator and window; its waiting callers and callbacks; its agents."""

    BINDINGS = bindings(DRILL_KEYS)

    def __init__(self, queue: str) -> None:
        super().__init__()
        self.queue = queue
        self._formulas_plain = ""
        self._agents: AgentRowSource | None = None  # its agents (all 5,000 for the total): the rows in view built

    @property
    def desk(self) -> DeskApp:
        return self.app  # type: ignore[return-value]

    def _figure_columns(self, width: int) -> list[tuple[str, str, int | None]]:
        minutes = self.desk.config.centre.rolling_minutes
        return [(k, h.format(m=minutes), None) for k, h in figure_columns(width)]

    def compose(self) -> ComposeResult:
        yield Static(id="drill-title")
        yield Static(id="drill-explain")
        with VerticalScroll(id="drill-body"):
            yield KeyedTable(self._figure_columns(self.app.size.width or 80), id="figures")
            yield Static(id="formulas")
            with Horizontal(id="drill-lower"):
                with Vertical(id="drill-callers-box"):
                    yield KeyedTable(DRILL_CALLER_COLUMNS, id="drill-callers")
                with Vertical(id="drill-agents-box"):
                    yield KeyedTable(DRILL_AGENT_COLUMNS, id="drill-agents")
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.query_one("#drill-callers-box").border_title = "Waiting callers and callbacks"
            self.query_one("#drill-agents-box").border_title = "Agents"
            self._refresh_view()  # composed now (``is_mounted`` turns true only after this handler)
            self.query_one("#figures", KeyedTable).focus()
        except NoMatches:  # popped before it was mounted: its widgets are gone already
            return

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_resize(self, event) -> None:
        try:
            if self.query_one("#figures", KeyedTable).set_columns(self._figure_columns(event.size.width)):
                self.refresh_view()
        except NoMatches:
            return

    def on_data_table_row_highlighted(self, event) -> None:
        if event.data_table.id == "figures":
            self._explain()

    def _explain(self) -> None:
        """The highlighted figure in words (formula, numerator / denominator = value per window), above the
        table so it stays in sight on a short terminal."""
        desk = self.desk
        summary = desk.summary
        key = self.query_one("#figures", KeyedTable).selected_key
        q = None
        if summary is not None:
            q = summary.total if self.queue == TOTAL_KEY else summary.queues.get(self.queue)
        text = figure_explanation(key, q, summary, desk.server) if q is not None and key else ""
        self.query_one("#drill-explain", Static).update(Text(text))

    def refresh_view(self) -> None:
        """Show the app's last snapshot. Called from timers too: a screen not composed yet (a tick between
        ``push_screen`` and its compose) or already taken down (popped, the app closing) shows nothing and
        raises nothing; its ``on_mount`` refreshes it once its widgets are there."""
        if not self.is_attached or not self.is_mounted:
            return
        try:
            self._refresh_view()
        except NoMatches:  # widgets not there (yet, or any more): the next refresh after mount shows it
            return

    def _refresh_view(self) -> None:
        desk = self.desk
        summary = desk.summary
        title = self.query_one("#drill-title", Static)
        if summary is None:
            title.update("no snapshot yet")
            return
        tz = desk.tz
        server = desk.server
        if self.queue == TOTAL_KEY:
            q = summary.total
            head = Text.assemble(
                ("Centre total", "bold"), "  all queues · SL = sum of numerators / sum of denominators"
            )
            callers = []
        else:
            q = summary.queues.get(self.queue)
            if q is None:
                title.update(Text(f"{self.queue}: not in the latest snapshot", style="bold red"))
                return
            head = self._head(q)
            callers = drill_caller_rows(q, self.queue, server, tz)
        if self._agents is None:
            self._agents = AgentRowSource(server, queue=None if self.queue == TOTAL_KEY else self.queue)
        agents = self._agents
        agents.update(desk.agents.agents if desk.agents else {}, desk.reverts, desk.takeovers)
        title.update(head)
        flash = desk.flash_on and desk.flash_enabled
        goals = queue_targets(desk.config, self.queue) if self.queue != TOTAL_KEY else None
        self.query_one("#figures", KeyedTable).sync(figure_rows(q, summary, server, goals), flash)
        self.query_one("#drill-callers", KeyedTable).sync(callers, flash)
        self.query_one("#drill-agents", KeyedTable).sync(agents, flash)
        self._formulas(q, summary, tz)
        self._explain()

    def _head(self, q: QueueSnapshot) -> Text:
        label = q.label or self.queue
        t = Text.assemble((label, "bold"), f"  ({self.queue})" if q.label else "")
        t.append(f"  SL within {q.sl_threshold_s:g}s · {q.sl_formula}")
        if q.count_overflow:
            t.append(" (overflow counted)")
        t.append(f" · short abandon ≤ {q.short_abandon_s:g}s")
        if not q.open:
            t.append("  CLOSED", style="grey50 bold")
        for metric, alert in q.alerts.items():
            style = {"breach": "bold red", "warn": "yellow"}.get(alert.level, "")
            note = f"  {metric_words([metric])}: {alert.level}"
            if alert.acked_by:
                note += f" (ack {alert.acked_by})"
            elif alert.snoozed_until:
                note += f" (snoozed to {fmt_clock(alert.snoozed_until, self.desk.tz)})"
            t.append(note, style=style)
        return t

    def _formulas(self, q, summary, tz) -> None:
        lines = Text()
        for f in formulas(q, tz):
            lines.append(f"{f.label}", style="bold")
            lines.append(f" = {f.formula}\n")
        win = summary.window
        since = describe_window(next(iter(q.explain.values())).window, tz) if q.explain else win.kind
        lines.append("Windows: ", style="bold")
        rolling = q.explain.get("rolling.service_level")
        rtext = describe_window(rolling.window, tz) if rolling else f"last {q.rolling.minutes} min"
        lines.append(f"{since}; {rtext} (last {q.rolling.minutes} min)")
        if self._formulas_plain != lines.plain:
            self._formulas_plain = lines.plain
            self.query_one("#formulas", Static).update(lines)


class AgentCardScreen(ModalScreen):
    """An agent's scorecard for today: each figure since the reset beside its target (``[targets.agents]``), met
    or missed (``reports.scorecard.live_card``); refreshed from the latest agents part each second."""

    BINDINGS: ClassVar = [("escape", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def __init__(self, agent_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id

    def compose(self) -> ComposeResult:
        with Vertical(id="card-box"):
            yield KeyedTable([(k, h, None) for k, h in SCORECARD_COLUMNS], id="card")

    def on_mount(self) -> None:
        self._refresh_card()
        self.set_interval(1.0, self._refresh_card)
        self.query_one("#card", KeyedTable).focus()

    def _refresh_card(self) -> None:
        from ..reports.scorecard import live_card

        desk = self.app
        a = desk.agent_of(self.agent_id)  # type: ignore[attr-defined]
        box = self.query_one("#card-box")
        box.border_title = f"{(a.name if a else None) or self.agent_id}: today against targets"
        box.border_subtitle = "esc close"
        if a is not None:
            self.query_one("#card", KeyedTable).sync(scorecard_rows(live_card(a, desk.config)))  # type: ignore[attr-defined]


class HelpScreen(ModalScreen):
    """Every key by its binding id, with the key it answers to after remapping."""

    BINDINGS: ClassVar = [
        ("escape", "dismiss", "Close"),
        ("question_mark", "dismiss", "Close"),
        ("q", "dismiss", "Close"),
    ]

    def __init__(self, remap: dict[str, str], hidden: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.remap = remap
        self.hidden = hidden  # actions the user may not take: not listed

    def compose(self) -> ComposeResult:
        yield VerticalScroll(Static(self.text(), id="help-text"), id="help-box")

    def on_mount(self) -> None:
        box = self.query_one("#help-box")
        box.border_title = "Help"
        box.border_subtitle = "↑↓ scroll · esc close"
        box.focus()

    def text(self) -> str:
        """The keys in aligned columns (key, what it does, its binding id), then what the colours and the
        agent notes mean; lines short enough for 80 columns, the box scrolls on a short terminal."""
        specs = effective_keys(self.remap, self.hidden)
        keys = [
            (
                {"question_mark": "?", "enter": "enter", "escape": "esc"}.get(key, key),
                spec.help or spec.description,
                spec.id,
            )
            for spec, key in specs
        ]
        keys += [("ctrl+p", "Command palette (each by name)", ""), ("tab", "Next table", "")]
        kw = max(len(k) for k, _, _ in keys)
        lw = max(len(label) for _, label, binding in keys if binding)
        lines = ["[b]Keys[/b]", ""]
        for shown, label, binding in keys:
            line = f"  [b]{escape(shown):>{kw}}[/b]  {escape(label):<{lw}}"
            lines.append(f"{line}  [dim]{binding}[/dim]" if binding else line.rstrip())
        offered = {s.action for s, _ in specs}
        lines += [
            "",
            "[b]Colours[/b]: [yellow]warn[/yellow], [bold red]breach[/bold red] (flashes until acknowledged or "
            "snoozed), [grey50]closed[/grey50].",
        ]
        if offered & {"ack", "snooze"}:
            lines.append("Ack and snooze act on the selected queue's metrics in warn or breach.")
        if offered & {"listen", "whisper", "barge", "takeover", "move", "pause"}:
            lines.append("Agent keys act on the selected agent (tab to Agents); each is confirmed.")
        notes = (
            ("rivka:whisper", "who listens to the agent, and how"),
            ("support(14:59)", "a temporary move, reverting in 14:59"),
            ("taken:rivka", "rivka took the agent's call (Alerts, for 5 minutes)"),
        )
        nw = max(len(n) for n, _ in notes)
        lines += ["", "[b]Agents[/b] column notes:"] + [f"  [b]{n:<{nw}}[/b]  {what}" for n, what in notes]
        lines += ["", 'Remap a key in the config: \\[display] keys = { "wallboard.ack" = "k" }']
        return "\n".join(lines)
