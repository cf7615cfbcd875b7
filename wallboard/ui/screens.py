"""The drill-down into one queue (how each figure is computed) and the help screen.

Both only read the app's last snapshot; the app calls ``refresh_view()`` after each snapshot, tick and flash.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..targets import queue_targets
from ..snapshot import QueueSnapshot
from ..catalog import SL_FORMULA_WORDS
from .footer import DeskFooter
from .bindings import DRILL_KEYS, bindings, effective_keys, in_words
from .words import ENGLISH, Words
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
    load_text,
    metric_words,
)

if TYPE_CHECKING:
    from .app import DeskApp

# (column, its header's words key)
DRILL_CALLER_COLUMNS = (
    ("kind", "col.kind"),
    ("caller", "col.caller"),
    ("entered", "col.entered"),
    ("wait", "col.wait"),
)
DRILL_AGENT_COLUMNS = (
    ("agent", "col.agent"),
    ("state", "col.state"),
    ("time", "col.time"),
    ("penalty", "col.penalty"),
    ("calls", "col.drill_calls"),
    ("missed", "col.missed"),
    ("alerts", "col.alerts"),
)


def headers(columns, w: Words, **fields) -> list[tuple[str, str, int | None]]:
    """(column, header, auto width) in ``w``'s words, from the right on a right-to-left desk."""
    out: list[tuple[str, str, int | None]] = [(k, w.show(w(h, **fields)), None) for k, h in columns]
    return out[::-1] if w.rtl else out


class DrillDownScreen(Screen):
    """One queue (or the centre total): every figure since the reset and rolling, with its formula,
    numerator, denominator and window; its waiting callers and callbacks; its agents."""

    BINDINGS = bindings(DRILL_KEYS)

    def __init__(self, queue: str, words: Words = ENGLISH) -> None:
        super().__init__()
        self.queue = queue
        self.words = words
        if words.language != "en":
            self._bindings = in_words(self._bindings, DRILL_KEYS, words)
        self._formulas_plain = ""
        self._agents: AgentRowSource | None = None  # its agents (all 5,000 for the total): the rows in view built

    @property
    def desk(self) -> DeskApp:
        return self.app  # type: ignore[return-value]

    def _figure_columns(self, width: int) -> list[tuple[str, str, int | None]]:
        return headers(figure_columns(width), self.words, m=self.desk.config.centre.rolling_minutes)

    def compose(self) -> ComposeResult:
        w = self.words
        yield Static(id="drill-title")
        yield Static(id="drill-explain")
        with VerticalScroll(id="drill-body"):
            figures = KeyedTable(self._figure_columns(self.app.size.width or 80), id="figures", rtl=w.rtl, bidi=w.bidi)
            if w.rtl:  # against the right edge
                with Horizontal(id="figures-row"):
                    yield figures
            else:
                yield figures
            yield Static(id="formulas")
            with Horizontal(id="drill-lower"):
                callers = Vertical(
                    KeyedTable(headers(DRILL_CALLER_COLUMNS, w), id="drill-callers", rtl=w.rtl, bidi=w.bidi),
                    id="drill-callers-box",
                )
                agents = Vertical(
                    KeyedTable(headers(DRILL_AGENT_COLUMNS, w), id="drill-agents", rtl=w.rtl, bidi=w.bidi),
                    id="drill-agents-box",
                )
                yield from [agents, callers] if w.rtl else [callers, agents]
        yield DeskFooter(self.words)

    def on_mount(self) -> None:
        w = self.words
        try:
            self.query_one("#drill-callers-box").border_title = w.show(w("box.drill_callers"))
            self.query_one("#drill-agents-box").border_title = w.show(w("box.agents"))
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
        text = figure_explanation(key, q, summary, desk.server, self.words) if q is not None and key else ""
        w = self.words
        self.query_one("#drill-explain", Static).update(Text("\n".join(w.show(ln) for ln in text.split("\n"))))

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
        w = self.words
        title = self.query_one("#drill-title", Static)
        if summary is None:
            title.update(w.show(w("drill.none")))
            return
        tz = desk.tz
        server = desk.server
        if self.queue == TOTAL_KEY:
            q = summary.total
            head = w.line((w("drill.total"), "bold"), (w("drill.total_how"), ""))
            callers = []
        else:
            q = summary.queues.get(self.queue)
            if q is None:
                title.update(w.line((w("drill.gone", queue=self.queue), "bold red")))
                return
            head = self._head(q)
            callers = drill_caller_rows(q, self.queue, server, tz, w)
        if self._agents is None:
            self._agents = AgentRowSource(server, queue=None if self.queue == TOTAL_KEY else self.queue, words=w)
        agents = self._agents
        agents.update(desk.agents.agents if desk.agents else {}, desk.reverts, desk.takeovers)
        title.update(head)
        flash = desk.flash_on and desk.flash_enabled
        goals = queue_targets(desk.config, self.queue) if self.queue != TOTAL_KEY else None
        figures = self.query_one("#figures", KeyedTable)
        figures.sync(figure_rows(q, summary, server, goals, w), flash)
        if w.rtl:  # against the right edge
            figures.shrink_to_columns()
        self.query_one("#drill-callers", KeyedTable).sync(callers, flash)
        self.query_one("#drill-agents", KeyedTable).sync(agents, flash)
        self._formulas(q, summary, tz)
        self._explain()

    def _head(self, q: QueueSnapshot) -> Text:
        """The queue, its SL threshold and formula in words, the short abandon, and its alerts."""
        w = self.words
        label = q.label or self.queue
        sl_formula = SL_FORMULA_WORDS.get(q.sl_formula, {}).get(w.language, q.sl_formula)
        tail = w("drill.sl_within", s=q.sl_threshold_s, formula=sl_formula)
        if q.count_overflow:
            tail += w("drill.overflow")
        tail += w("drill.short", s=q.short_abandon_s)
        pieces = [(label, "bold"), (f"  ({self.queue})" if q.label else "", ""), (tail, "")]
        if not q.open:
            pieces.append((w("drill.closed"), "grey50 bold"))
        notes = []
        for metric, alert in q.alerts.items():
            style = {"breach": "bold red", "warn": "yellow"}.get(alert.level, "")
            note = f"  {metric_words([metric], w)}: {w.level(alert.level)}"
            if alert.acked_by:
                note += w("drill.acked", user=alert.acked_by)
            elif alert.snoozed_until:
                note += w("drill.snoozed", t=fmt_clock(alert.snoozed_until, self.desk.tz))
            notes.append((note, style))
        if not w.rtl:
            return Text.assemble(*(p for p in pieces + notes if p[0]))
        # right to left: a line each for the queue, its SL settings and its alerts (a line wrapped by the
        # screen would put the sentence's end on the first line: the text is in display order)
        lines = [w.line(*(p for p in pieces[:2] if p[0])), w.line((tail.strip(), ""), *pieces[3:])]
        if notes:
            lines.append(w.line((notes[0][0].strip(), notes[0][1]), *notes[1:]))
        return Text("\n").join(lines)

    def _formulas(self, q, summary, tz) -> None:
        w = self.words
        rows: list[list[tuple[str, str]]] = [
            [(f"{f.label}", "bold"), (f" = {f.formula}", "")] for f in formulas(q, tz, w)
        ]
        win = summary.window
        since = describe_window(next(iter(q.explain.values())).window, tz, w) if q.explain else win.kind
        rolling = q.explain.get("rolling.service_level")
        rtext = describe_window(rolling.window, tz, w) if rolling else w("window.last", m=q.rolling.minutes)
        rows.append([(w("windows"), "bold"), (f"{since}; {rtext}{w('window.last_paren', m=q.rolling.minutes)}", "")])
        if w.rtl:  # a row wider than the screen: cut in reading order (``Words.wrapped``), its head kept bold
            width = max(20, (self.app.size.width or 80) - 4)
            lines = Text("\n").join(self._rtl_row(row, width) for row in rows)
        else:
            lines = Text("\n").join(w.line(*row) for row in rows)
        if self._formulas_plain != lines.plain:
            self._formulas_plain = lines.plain
            self.query_one("#formulas", Static).update(lines)

    def _rtl_row(self, row: list[tuple[str, str]], width: int) -> Text:
        (head, style), (rest, _) = row
        w = self.words
        if len(head) + len(rest) <= width:
            return w.line(*row)
        first, *more = textwrap.wrap(head + rest, width, break_on_hyphens=False)
        lines = [w.line((head, style), (first[len(head) :], ""))] if first.startswith(head) else [w.line((first, ""))]
        lines += [Text(w.show(line)) for line in more]
        return Text("\n").join(lines)


class AgentCardScreen(ModalScreen):
    """An agent's scorecard for today: each figure since the reset beside its target (``[targets.agents]``), met
    or missed (``reports.scorecard.live_card``); refreshed from the latest agents part each second."""

    BINDINGS: ClassVar = [("escape", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def __init__(self, agent_id: str, words: Words = ENGLISH) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.words = words

    def compose(self) -> ComposeResult:
        w = self.words
        with Vertical(id="card-box"):
            yield KeyedTable(headers(SCORECARD_COLUMNS, w), id="card", rtl=w.rtl, bidi=w.bidi)

    def on_mount(self) -> None:
        # the card rests on the agent's seconds in each state, which the desk's source leaves as the agent's last
        # change brought them (its rows show none): brought up to date for this agent from the next full part on,
        # and the owner asked for one now (the figures held may be hours old: an agent long available)
        reader = self.app.reader  # type: ignore[attr-defined]
        reader.clock_for.add(self.agent_id)
        self.run_worker(reader.ask_full(), exit_on_error=False)
        self._refresh_card()
        self.set_interval(1.0, self._refresh_card)
        self.query_one("#card", KeyedTable).focus()

    def on_unmount(self) -> None:
        self.app.reader.clock_for.discard(self.agent_id)  # type: ignore[attr-defined]

    def _refresh_card(self) -> None:
        from ..reports.scorecard import live_card

        desk = self.app
        a = desk.agent_of(self.agent_id)  # type: ignore[attr-defined]
        box = self.query_one("#card-box")
        w = self.words
        box.border_title = w.show(w("card.title", name=(a.name if a else None) or self.agent_id))
        load = load_text(a, w.language) if a is not None else ""  # the written load (the 80-column table has none)
        box.border_subtitle = w.show(f"{load} · {w('card.close')}" if load else w("card.close"))
        if a is not None:
            card = live_card(a, desk.config)  # type: ignore[attr-defined]
            table = self.query_one("#card", KeyedTable)
            table.sync(scorecard_rows(card, w))
            if w.rtl:  # against the box's right edge
                table.shrink_to_columns()


class HelpScreen(ModalScreen):
    """Every key by its binding id, with the key it answers to after remapping."""

    BINDINGS: ClassVar = [
        ("escape", "dismiss", "Close"),
        ("question_mark", "dismiss", "Close"),
        ("q", "dismiss", "Close"),
    ]

    def __init__(self, remap: dict[str, str], hidden: frozenset[str] = frozenset(), words: Words = ENGLISH) -> None:
        super().__init__()
        self.remap = remap
        self.hidden = hidden  # actions the user may not take: not listed
        self.words = words

    def compose(self) -> ComposeResult:
        shown = self.rtl_text() if self.words.rtl else self.text()
        yield VerticalScroll(Static(shown, id="help-text"), id="help-box")

    def on_mount(self) -> None:
        w = self.words
        box = self.query_one("#help-box")
        box.border_title = w.show(w("help.title"))
        box.border_subtitle = w.show(w("help.subtitle"))
        box.focus()

    def rows(self) -> list[tuple]:
        """What the help says, row by row: ("head", words), ("blank",), ("key", key, words, binding id),
        ("text", markup), ("note", note, words), ("remap", words, config)."""
        w = self.words
        specs = effective_keys(self.remap, self.hidden)
        keys = [
            ({"question_mark": "?", "enter": "enter", "escape": "esc"}.get(key, key), spec.help(w), spec.id)
            for spec, key in specs
        ]
        keys += [("ctrl+p", w("help.palette"), ""), ("tab", w("help.tab"), "")]
        rows: list[tuple] = [("head", w("help.keys")), ("blank",)]
        rows += [("key", *k) for k in keys]
        offered = {s.action for s, _ in specs}
        rows += [("blank",), ("text", w("help.colours"))]
        if offered & {"ack", "snooze"}:
            rows.append(("text", w("help.ack")))
        if offered & {"listen", "whisper", "barge", "takeover", "move", "pause"}:
            rows.append(("text", w("help.agent_keys")))
        rows += [("blank",), ("text", w("help.notes"))]
        rows += [
            ("note", f"rivka:{w.spy('whisper')}", w("help.note_spy")),
            ("note", "support(14:59)", w("help.note_move")),
            ("note", w("taken", by="rivka"), w("help.note_taken")),
        ]
        rows += [("blank",), ("remap", w("help.remap"), REMAP_EXAMPLE)]
        return rows

    def text(self) -> str:
        """The keys in aligned columns (key, what it does, its binding id), then what the colours and the
        agent notes mean; lines short enough for 80 columns, the box scrolls on a short terminal."""
        rows = self.rows()
        keys = [r[1:] for r in rows if r[0] == "key"]
        kw = max(len(k) for k, _, _ in keys)
        lw = max(len(label) for _, label, binding in keys if binding)
        nw = max(len(r[1]) for r in rows if r[0] == "note")
        lines = []
        for kind, *rest in rows:
            if kind == "head":
                lines.append(f"[b]{rest[0]}[/b]")
            elif kind == "blank":
                lines.append("")
            elif kind == "key":
                shown, label, binding = rest
                line = f"  [b]{escape(shown):>{kw}}[/b]  {escape(label):<{lw}}"
                lines.append(f"{line}  [dim]{binding}[/dim]" if binding else line.rstrip())
            elif kind == "text":
                lines.append(rest[0])
            elif kind == "note":
                lines.append(f"  [b]{rest[0]:<{nw}}[/b]  {rest[1]}")
            else:
                lines.append(f"{rest[0]}{escape(rest[1])}")
        return "\n".join(lines)

    def rtl_text(self) -> Text:
        """The help of a right-to-left desk: the same rows mirrored, each line from the right (the key at the
        right edge, its words, then the binding id), each piece in display order."""
        w = self.words
        rows = self.rows()
        keys = [r[1:] for r in rows if r[0] == "key"]
        kw = max(len(k) for k, _, _ in keys)
        lw = max(len(label) for _, label, binding in keys if binding)
        bw = max(len(b) for _, _, b in keys)
        nw = max(len(r[1]) for r in rows if r[0] == "note")
        lines = []
        for kind, *rest in rows:
            if kind == "head":
                line = Text(w.show(rest[0]), style="bold")
            elif kind == "blank":
                line = Text("")
            elif kind == "key":
                shown, label, binding = rest
                line = Text.assemble(
                    (f"{binding:<{bw}}", "dim"), "  ", w.show(label).rjust(lw), "  ", (f"{shown:<{kw}}", "bold"), "  "
                )
            elif kind == "text":
                line = w.markup_line(rest[0])
            elif kind == "note":
                line = Text.assemble(w.show(rest[1]), "  ", (w.show(rest[0]).rjust(nw), "bold"), "  ")
            else:
                line = Text.assemble(rest[1], " ", w.show(rest[0]))
            line.justify = "right"
            lines.append(line)
        return Text("\n", justify="right").join(lines)


REMAP_EXAMPLE = '[display] keys = { "wallboard.ack" = "k" }'  # config syntax, the same in every language
