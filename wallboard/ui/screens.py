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

from ..snapshot import QueueSnapshot
from .bindings import DRILL_KEYS, bindings, effective_keys
from .livetime import fmt_clock, parse_utc
from .tables import KeyedTable
from .view import (
    FIGURE_COLUMNS,
    TOTAL_KEY,
    agent_rows,
    describe_window,
    drill_caller_rows,
    figure_rows,
    formulas,
)

if TYPE_CHECKING:
    from .app import DeskApp

DRILL_CALLER_COLUMNS = (("kind", "Kind", None), ("caller", "Caller", None), ("entered", "Entered", None),
                        ("wait", "Wait", None))  # fmt: skip
DRILL_AGENT_COLUMNS = (("agent", "Agent", None), ("state", "State", None), ("time", "Time", None),
                       ("penalty", "Pen", None), ("calls", "Calls", None), ("missed", "Miss", None),
                       ("alerts", "Alerts", None))  # fmt: skip


class DrillDownScreen(Screen):
    """One queue (or the centre total): every figure since the reset and rolling, with its formula,
    numerator, denominator and window; its waiting callers and callbacks; its agents."""

    BINDINGS = bindings(DRILL_KEYS)

    def __init__(self, queue: str) -> None:
        super().__init__()
        self.queue = queue
        self._formulas_plain = ""

    @property
    def desk(self) -> DeskApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        minutes = self.desk.config.centre.rolling_minutes
        cols = [(k, h.format(m=minutes), None) for k, h in FIGURE_COLUMNS]
        yield Static(id="drill-title")
        with VerticalScroll(id="drill-body"):
            yield KeyedTable(cols, id="figures")
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
            agents = agent_rows(desk.agents.agents if desk.agents else {}, server, reverts=desk.reverts,
                                takeovers=desk.takeovers)  # fmt: skip
        else:
            q = summary.queues.get(self.queue)
            if q is None:
                title.update(Text(f"{self.queue}: not in the latest snapshot", style="bold red"))
                return
            head = self._head(q)
            callers = drill_caller_rows(q, self.queue, server, tz)
            agents = agent_rows(desk.agents.agents if desk.agents else {}, server, queue=self.queue,
                                reverts=desk.reverts, takeovers=desk.takeovers)  # fmt: skip
        title.update(head)
        flash = desk.flash_on and desk.flash_enabled
        self.query_one("#figures", KeyedTable).sync(figure_rows(q, summary, server), flash)
        self.query_one("#drill-callers", KeyedTable).sync(callers, flash)
        self.query_one("#drill-agents", KeyedTable).sync(agents, flash)
        self._formulas(q, summary, tz)

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
            note = f"  {metric} {alert.level}"
            if alert.acked_by:
                note += f" (ack {alert.acked_by})"
            elif alert.snoozed_until:
                note += f" (snoozed to {fmt_clock(parse_utc(alert.snoozed_until), self.desk.tz)})"
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


class HelpScreen(ModalScreen):
    """Every key by its binding id, with the key it answers to after remapping."""

    BINDINGS: ClassVar = [("escape", "dismiss", "Close"), ("question_mark", "dismiss", "Close"),
                          ("q", "dismiss", "Close")]  # fmt: skip

    def __init__(self, remap: dict[str, str], hidden: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.remap = remap
        self.hidden = hidden  # actions the user may not take: not listed

    def compose(self) -> ComposeResult:
        lines = ['[b]Keys[/b]  (remap in the config: \\[display] keys = { "wallboard.ack" = "k" })', ""]
        specs = effective_keys(self.remap, self.hidden)
        for spec, key in specs:
            shown = {"question_mark": "?", "enter": "enter", "escape": "esc"}.get(key, key)
            label = spec.help or spec.description
            lines.append(f"  [b]{escape(shown):>6}[/b]  {escape(label):<14} [dim]{spec.id}[/dim]")
        offered = {s.action for s, _ in specs}
        lines += [
            "",
            "  [b]ctrl+p[/b]  command palette (each of these by name)",
            "  [b]   tab[/b]  next table",
            "",
            "Colours: [yellow]warn[/yellow], [bold red]breach[/bold red] (flashes until acknowledged or snoozed), "
            + "[grey50]closed[/grey50].",
        ]
        if offered & {"ack", "snooze"}:
            lines.append("Ack and snooze act on the selected queue's metrics in warn or breach.")
        if offered & {"listen", "whisper", "barge", "takeover", "move", "pause"}:
            lines.append("Agent actions act on the selected agent (tab to Agents); each is confirmed first.")
        lines.append("Agents: [b]rivka:whisper[/b] who listens and how; [b]support(14:59)[/b] a temporary move, "
                     "reverting in 14:59; [b]call taken by rivka[/b] a call a supervisor took over.")  # fmt: skip
        with Vertical(id="help-box"):
            yield Static("\n".join(lines), id="help-text")
