"""The action dialogs: the confirmation (exactly what will happen), the move dialog and the pause reason.

Each is a modal screen that dismisses with a typed request (``wallboard.actions.model``) or ``None``; the app
sends what the confirmation returns, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, OptionList, Static

from ..actions.model import Move, Spy
from ..events import utc
from ..livetime import fmt_clock
from .tables import LEVEL_STYLES
from .view import RowModel
from .words import ENGLISH, Words, describe as describe_in

REVERT_MINUTES = (0, 15, 30, 60)


class Choice(Widget, can_focus=True):
    """One line of mutually exclusive options; left / right pick (no separate "press" step)."""

    DEFAULT_CSS = """
    Choice { height: 1; width: 1fr; }
    """
    BINDINGS: ClassVar = [
        Binding("left", "step(-1)", "Previous", show=False),
        Binding("right", "step(1)", "Next", show=False),
    ]
    index: reactive[int] = reactive(0)

    @dataclass
    class Changed(Message):
        choice: Choice
        value: object

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(
        self, options: Sequence[tuple[object, str]], value: object = None, rtl: bool = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.options = list(options)
        self.rtl = rtl  # right to left: the first option on the right, each mark right of its label (read first)
        values = [v for v, _ in self.options]
        self.set_reactive(Choice.index, values.index(value) if value in values else 0)

    @property
    def value(self) -> object:
        return self.options[self.index][0]

    def select(self, value: object) -> None:
        values = [v for v, _ in self.options]
        if value in values:
            self.index = values.index(value)

    def action_step(self, delta: int) -> None:
        delta = -delta if self.rtl else delta  # the arrow moves the mark the way it points
        self.index = (self.index + delta) % len(self.options)

    def watch_index(self) -> None:
        self.post_message(self.Changed(self, self.value))

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis", justify="right" if self.rtl else "left")
        shown = list(enumerate(self.options))
        for i, (_, label) in reversed(shown) if self.rtl else shown:
            on = i == self.index
            style = ("reverse bold" if self.has_focus else "bold") if on else ""
            mark = "●" if on else "○"
            if self.rtl:  # labels come in display order already (``Words.show``)
                t.append("  ")
                t.append(f"{label} {mark}", style=style)
            else:
                t.append(f"{mark} {label}", style=style)
                t.append("  ")
        return t

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class ConfirmScreen(ModalScreen[object]):
    """Says exactly what will happen (``describe``); enter or y sends it, escape or n cancels. A spy request
    can switch to keypad mode here (k)."""

    BINDINGS: ClassVar = [
        Binding("enter,y", "confirm", "Confirm", priority=True),
        Binding("escape,n", "cancel", "Cancel"),
        Binding("k", "keypad", "Keypad mode"),
    ]

    def __init__(
        self,
        request,
        agent_name: str | None,
        note: str = "",
        call: str | None = None,
        then: tuple = (),
        words: Words = ENGLISH,
    ) -> None:
        super().__init__()
        self.words = words
        self.request = request
        self.agent_name = agent_name
        self.note = note
        self.call = call  # the agent's call in words (``describe``), not its id
        self.then = then  # the steps that follow ``request`` (an advised move), confirmed with it at once

    @property
    def text(self) -> str:
        """What will happen, in logical order (``shown``: as the screen draws it)."""
        w = self.words
        first = describe_in(self.request, self.agent_name, self.call, w)
        if not self.then:
            return first
        steps = [first, *(describe_in(r, self.agent_name, None, w) for r in self.then)]
        return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))

    def _shown(self, text: str, style: str) -> Text:
        """A right-to-left text cut into the box's lines in reading order (``Words.wrapped``)."""
        w = self.words
        if not w.rtl:
            return Text(text, style=style)
        return Text(w.wrapped(text, self._width()), style=style, justify="right")

    def _width(self) -> int:
        """The text's width in the box: its own once laid out, else the box's at the screen's width now."""
        try:
            width = self.query_one("#confirm-text").content_region.width
        except Exception:
            width = 0
        return width or min(84, int((self.app.size.width or 80) * 0.98)) - 4

    def on_resize(self, event) -> None:
        if self.words.rtl:
            self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        self.query_one("#confirm-text", Static).update(self._shown(self.text, "bold"))
        self.query_one("#confirm-note", Static).update(self._shown(self.note, "italic"))

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self._shown(self.text, "bold"), id="confirm-text")
            yield Static(self._shown(self.note, "italic"), id="confirm-note")
            yield Static(self._keys(), id="confirm-keys")

    def on_mount(self) -> None:
        self.query_one("#confirm-box").border_title = self.words.show(self.words("confirm.title"))
        self.query_one("#confirm-note").display = bool(self.note)

    def _keys(self) -> Text:
        w = self.words
        pieces = [("⏎/y", "bold"), (w("confirm.yes"), ""), ("esc/n", "bold"), (w("confirm.no"), "")]
        if isinstance(self.request, Spy):
            what = w("confirm.plain_spy") if self.request.keypad else w("confirm.keypad")
            pieces += [("   ", ""), ("k", "bold"), (what, "")]
        return w.line(*pieces)

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "keypad":
            return isinstance(self.request, Spy)
        return True

    def action_keypad(self) -> None:
        if isinstance(self.request, Spy):
            self.request = self.request.model_copy(update={"keypad": not self.request.keypad})
            self.query_one("#confirm-text", Static).update(self._shown(self.text, "bold"))
            self.query_one("#confirm-keys", Static).update(self._keys())

    def action_confirm(self) -> None:
        self.dismiss(self.request)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PauseReasonScreen(ModalScreen[object]):
    """Why the agent is paused: the centre's reasons (``centre.pause_reasons``; enter picks, 1-9 too; escape
    cancels)."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, agent_name: str, reasons: list[str], words: Words = ENGLISH) -> None:
        super().__init__()
        self.agent_name = agent_name
        self.reasons = list(reasons)
        self.words = words

    def on_key(self, event: events.Key) -> None:
        # the digits shown (ASCII 1-9): str.isdigit also says yes to '²' (AZERTY's key left of 1), which int() refuses
        key = event.character or ""
        if len(key) == 1 and "1" <= key <= "9" and int(key) <= len(self.reasons):
            event.stop()
            self.dismiss(self.reasons[int(key) - 1])

    def compose(self) -> ComposeResult:
        w = self.words
        with Vertical(id="reason-box"):
            yield Static(w.show(w("pause.why", name=self.agent_name)), id="reason-title")
            # the shipped reasons in the desk's words, a centre's own as written (the request carries the reason)
            yield OptionList(*[w.show(f"{i}  {w.reason(r)}") for i, r in enumerate(self.reasons, 1)], id="reason-list")
            yield Static(
                w.line(("⏎", "bold"), (w("pause.keys"), ""), ("esc", "bold"), (w("confirm.no"), "")), id="reason-keys"
            )

    def on_mount(self) -> None:
        self.query_one("#reason-box").border_title = self.words.show(self.words("pause.title"))
        ol = self.query_one(OptionList)
        ol.highlighted = 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.reasons[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


MoveFactory = Callable[[str, str, int, float | None], Move]


class MoveScreen(ModalScreen[object]):
    """Move an agent: its skills first, then the other queues, each with its current level and waiting count;
    add / remove / penalty, a penalty, an optional auto-revert. Enter goes on to the confirmation."""

    BINDINGS: ClassVar = [
        Binding("enter", "submit", "Next", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self,
        agent_id: str,
        agent_name: str,
        members: dict[str, int],
        rows: list[RowModel],
        make: MoveFactory,
        initial: str | None = None,
        words: Words = ENGLISH,
    ) -> None:
        super().__init__()
        self.words = words
        self.initial = initial
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.members = dict(members)
        self.rows = rows
        self.make = make
        self.error = ""

    def compose(self) -> ComposeResult:
        w = self.words
        ops = [("add", w.show(w("move.add"))), ("remove", w.show(w("move.remove")))]
        ops.append(("penalty", w.show(w("move.penalty_op"))))
        reverts = [(m, w.show(w("move.minutes", m=m) if m else w("move.off"))) for m in REVERT_MINUTES]
        with Vertical(id="move-box"):
            yield DataTable(id="move-queues", cursor_type="row", zebra_stripes=False)
            order = reversed if w.rtl else list  # a right-to-left desk: each field's label on the right
            with Horizontal(classes="move-field"):
                yield from order(
                    [Label(w.show(w("move.operation")), classes="move-label"), Choice(ops, id="move-op", rtl=w.rtl)]
                )
            with Horizontal(classes="move-field"):
                penalty = Input("0", id="move-penalty", type="integer", restrict=r"[0-9]*", max_length=3, compact=True)
                yield from order([Label(w.show(w("move.penalty")), classes="move-label"), penalty])
            with Horizontal(classes="move-field"):
                revert = Choice(reverts, id="move-revert", rtl=w.rtl)
                yield from order([Label(w.show(w("move.revert")), classes="move-label"), revert])
            yield Static(id="move-preview")
            yield Static(
                w.line(
                    ("⏎", "bold"),
                    (w("move.next"), ""),
                    ("tab", "bold"),
                    (w("move.next_field"), ""),
                    ("←→", "bold"),
                    (w("move.choose"), ""),
                    ("esc", "bold"),
                    (w("confirm.no"), ""),
                ),
                id="move-keys",
            )

    MOVE_COLUMNS = ("queue", "label", "member", "level", "waiting")

    def on_mount(self) -> None:
        w = self.words
        self.query_one("#move-box").border_title = w.show(w("move.title", name=self.agent_name, id=self.agent_id))
        table = self.query_one("#move-queues", DataTable)
        columns = self.MOVE_COLUMNS[::-1] if w.rtl else self.MOVE_COLUMNS  # from the right on a Hebrew desk
        for key in columns:
            header = w.show(w(f"move.{key}"))
            table.add_column(Text(header, justify="right") if w.rtl else header, key=key)
        for r in self.rows:
            values = []
            for col in columns:
                c = r.cells[col]
                justify = "right" if w.rtl else c.justify
                values.append(Text(w.show(c.text), style=LEVEL_STYLES.get(c.level, ""), justify=justify))
            table.add_row(*values, key=r.key)
        table.focus()
        if self.initial is not None and self.initial in table.rows:
            self.select_queue(self.initial)
        if self.rows:
            self._queue_changed(self.queue)
        self.update_preview()

    # ---- state ----------------------------------------------------------------------------------------

    @property
    def queue(self) -> str | None:
        table = self.query_one("#move-queues", DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def select_queue(self, queue: str) -> None:
        table = self.query_one("#move-queues", DataTable)
        table.move_cursor(row=table.get_row_index(queue), animate=False)

    @property
    def op(self) -> str:
        return str(self.query_one("#move-op", Choice).value)

    @property
    def revert_minutes(self) -> int:
        return int(self.query_one("#move-revert", Choice).value)  # type: ignore[arg-type]

    @property
    def penalty(self) -> int | None:
        text = self.query_one("#move-penalty", Input).value.strip()
        return int(text) if text.isdigit() else None

    def request(self) -> Move | None:
        """The request the dialog describes now, or None (and ``error`` says why)."""
        queue, op, penalty = self.queue, self.op, self.penalty
        w, name = self.words, self.agent_name
        self.error = ""
        if queue is None:
            self.error = w("move.no_queue")
            return None
        member = queue in self.members
        if op == "add" and member:
            self.error = w("move.in_already", name=name, queue=queue)
        elif op in ("remove", "penalty") and not member:
            self.error = w("move.not_in", name=name, queue=queue)
        elif op == "penalty" and penalty == self.members.get(queue):
            self.error = w("move.same_penalty", name=name, penalty=penalty, queue=queue)
        elif op != "remove" and penalty is None:
            self.error = w("move.whole")
        if self.error:
            return None
        revert = self.revert_minutes * 60 or None
        try:
            return self.make(queue, op, penalty or 0, revert)
        except ValidationError as e:
            self.error = e.errors()[0]["msg"]
            return None

    def update_preview(self) -> None:
        req = self.request()
        preview = self.query_one("#move-preview", Static)
        w = self.words
        if req is None:
            preview.update(Text(w.show(self.error), style="yellow"))
        else:
            preview.update(Text(w.show(describe_in(req, self.agent_name, None, w)), style="bold"))
        self.query_one("#move-penalty", Input).disabled = self.op == "remove"

    def _queue_changed(self, queue: str | None) -> None:
        """A member queue defaults to a penalty change (at its penalty now), another queue to add."""
        if queue is None:
            return
        op = self.query_one("#move-op", Choice)
        pen = self.query_one("#move-penalty", Input)
        if queue in self.members:
            if op.value == "add":
                op.select("penalty")
            pen.value = str(self.members[queue])
        else:
            op.select("add")
            pen.value = "0"

    # ---- events ---------------------------------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._queue_changed(event.row_key.value)
        self.update_preview()

    def on_choice_changed(self, event: Choice.Changed) -> None:
        self.update_preview()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.update_preview()

    def action_submit(self) -> None:
        req = self.request()
        if req is None:  # the preview says why, in the dialog (a toast would wait until it closes)
            self.app.bell()
            return
        self.dismiss(req)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


class AdviceScreen(ModalScreen[object]):
    """The overload advice: per queue required vs staffed (and the live and projected SL), then the ranked
    moves; enter on a move dismisses with it (the app confirms and sends each step through ``move``); with no
    move, why not, in words. Escape (or v) closes. In the desk's language (``words``), right to left in Hebrew;
    the advisor's own notes and model names as it words them."""

    BINDINGS: ClassVar = [Binding("escape,v", "cancel", "Close")]

    # the queue table's columns: (word, width, right-aligned)
    COLUMNS = (
        ("queue", 18, False),
        ("required", 8, True),
        ("effective", 9, True),
        ("sl_now", 6, True),
        ("sl_model", 8, True),
        ("status", 16, False),
    )

    def __init__(self, advice, tz=None, words: Words = ENGLISH) -> None:
        super().__init__()
        self.advice = advice
        self.tz = tz
        self.words = words

    def _row(self, cells: list[tuple[str, str]], widths: list[int], model: str, header: bool = False) -> Text:
        """One line of the queue table: each (text, style) cell at its column's width, then the model; from the
        right on a right-to-left desk (``Words.line`` mirrors each cell, its padding with it: a name stays at the
        start of its column, a figure at the end). There a row too long for the panel is cut into lines in
        reading order, the same columns on each row's lines (the screen would wrap it from the left, its start,
        the queue's name, on the line below): the cells that fit on the first, the rest below, and the model
        after them, or on a line of its own (as the screen wraps an English one)."""
        w = self.words
        pieces: list[tuple[tuple[str, str], tuple[str, str]]] = []  # (the separator before it, the cell)
        for i, ((text, style), width, (_, _, right)) in enumerate(zip(cells, widths, self.COLUMNS)):
            text = text[:width] if i == 0 else text  # a long label cut, as a status or figure never is
            sep = ("  " if i == 5 else " ") if i else ""  # the status stands a space further off
            pieces.append(((sep, ""), (text.rjust(width) if right else text.ljust(width), style)))
        shown = (model, "bold" if header else "")
        if not w.rtl:
            flat = [piece for pair in pieces for piece in pair]
            return Text.assemble(*flat, (" ", ""), shown, no_wrap=True, overflow="ellipsis")
        room = self._width()
        lines: list[list[tuple[str, str]]] = [[]]
        used = 0  # by the columns' widths, so that every row breaks where the header does
        for ((sep, _), cell), width in zip(pieces, widths):
            if lines[-1] and used + len(sep) + width > room:
                lines.append([])
                used = 0
            if lines[-1]:
                lines[-1].append((sep, ""))
                used += len(sep)
            lines[-1].append(cell)
            used += width
        if sum(len(t) for t, _ in lines[-1]) + 1 + len(model) <= room:
            lines[-1] += [(" ", ""), shown]
        else:
            lines.append([shown])
        return Text("\n").join(w.line(*line) for line in lines)

    @property
    def queue_text(self) -> Text:
        """Per queue: required against the effective staffing (what "short by" is computed from: a backup counts
        a share, so 10 agents staffed may be 9.4), the SLs, the status and the model it rests on."""
        w = self.words
        heads = [w(f"advice.col.{name}") for name, _, _ in self.COLUMNS]
        widths = [max(width, len(h)) for h, (_, width, _) in zip(heads, self.COLUMNS)]
        over = sum(widths) + len(widths) - self._width()
        if w.rtl and 0 < over <= widths[0] - 8:  # a little narrow: the queue's name cut rather than the row broken
            widths[0] -= over
        lines = [self._row([(h, "bold") for h in heads], widths, w("advice.col.model"), header=True)]
        for q in self.advice.queues.values():
            req = "-" if q.required is None else str(q.required)
            status = w(f"advice.status.{q.status}", short_by=q.short_by, spare=q.spare)
            style = {"short": "bold red", "no_estimate": "yellow", "closed": "grey50"}.get(q.status, "")
            cells = [(q.label, ""), (req, ""), (q.effective_text(), ""), (_pct(q.live_sl), ""), (_pct(q.model_sl), "")]
            lines.append(self._row([*cells, (status, style)], widths, q.model_short or "-"))
        return Text("\n", no_wrap=True, overflow="ellipsis").join(lines)

    @property
    def model_notes(self) -> str:
        """Why a queue's model SL and its live one differ (an overloaded queue the live figure lags), wrapped."""
        return "\n".join(f"{q.label}: {q.note}" for q in self.advice.queues.values() if q.note)

    def move_text(self, m) -> str:
        """A ranked move in the desk's words (in English the advisor's own ``Move.text``)."""
        key = "advice.move_penalty" if m.kind == "penalty" else "advice.move"
        return self.words(
            key,
            name=m.agent_name,
            src=m.from_label,
            dst=m.to_label,
            to_was=_pct(m.to_sl_before),
            to_now=_pct(m.to_sl_after),
            from_was=_pct(m.from_sl_before),
            from_now=_pct(m.from_sl_after),
        )

    @property
    def empty_text(self) -> str:
        """No move: why, in words."""
        w = self.words
        queues = list(self.advice.queues.values())
        short = [q.label for q in queues if q.status == "short"]
        if short:
            head = w("advice.none_short_one" if len(short) == 1 else "advice.none_short_many", queues=", ".join(short))
        elif any(q.status == "no_estimate" for q in queues):
            head = w("advice.none_yet")
        else:
            head = w("advice.none")
        notes = [n for n in self.advice.notes if not n.startswith("short: ")]
        if short and any(n.startswith("short: ") for n in self.advice.notes):
            notes.insert(0, w("advice.no_spare"))
        return head + (":\n" + "\n".join(f"- {n}" for n in notes) if notes else ".")

    @property
    def plan_text(self) -> str:
        plan = self.advice.plan
        if len(plan) < 2:
            return ""
        target = plan[0].to_queue
        last = [m for m in plan if m.to_queue == target][-1]
        names = ", ".join(m.agent_name for m in plan if m.to_queue == target)
        return self.words(
            "advice.plan",
            names=names,
            queue=plan[0].to_label,
            was=_pct(plan[0].to_sl_before),
            now=_pct(last.to_sl_after),
        )

    def _width(self) -> int:
        """The cells a line of the panel has (``#advice-box``: the screen's width up to 110, less its border,
        padding and the moves' scroll bar)."""
        return max(20, min(self.app.size.width, 110) - 6)

    def _text(self, text: str, style: str = "") -> Text:
        """A paragraph for the screen: as it is in English (the screen wraps it); on a right-to-left desk cut into
        lines in reading order, each reordered (aligned right by desk.tcss)."""
        w = self.words
        return Text(w.wrapped(text, self._width()) if w.rtl else text, style=style)

    def _move_lines(self) -> list[str]:
        """The ranked moves, each an option's text: on a right-to-left desk cut into lines in reading order, each
        to the right (an option's text is drawn from the left whatever its justify)."""
        w, width = self.words, self._width()
        lines = [w.wrapped(self.move_text(m), width) for m in self.advice.moves]
        if not w.rtl:
            return lines
        return ["\n".join(line.rjust(width) for line in text.split("\n")) for text in lines]

    @property
    def subtitle(self) -> str:
        """When, and on which calls, for the box's bottom edge: on a right-to-left desk cut in reading order to the
        edge's room (the box's width less its corners and a "─ " each side), so that the ellipsis takes its end
        (the screen cuts a label on its right: a right-to-left one's start)."""
        w = self.words
        at = fmt_clock(self.advice.at, self.tz) if self.tz is not None else utc(self.advice.at)
        text = w("advice.subtitle", t=at, basis=self.advice.basis or w("advice.no_calls"))
        room = self._width()
        if w.rtl and len(text) > room:
            text = text[: room - 1] + "…"
        return w.show(text)

    def on_resize(self, event) -> None:
        if self.words.rtl:
            self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        """A right-to-left panel cut again into lines for the screen's width now (the screen would wrap the old
        ones from the left, their start on the line below)."""
        w = self.words
        self.query_one("#advice-queues", Static).update(self.queue_text)
        self.query_one("#advice-box").border_subtitle = self.subtitle
        if self.advice.moves:
            self.query_one("#advice-moves-title", Static).update(self._text(w("advice.moves"), "bold"))
            moves = self.query_one("#advice-moves", OptionList)
            for i, line in enumerate(self._move_lines()):
                moves.replace_option_prompt_at_index(i, line)
            if self.plan_text:
                self.query_one("#advice-plan", Static).update(self._text(self.plan_text, "italic"))
        else:
            self.query_one("#advice-empty", Static).update(self._text(self.empty_text, "yellow"))

    def compose(self) -> ComposeResult:
        w = self.words
        with Vertical(id="advice-box"):
            yield Static(self.queue_text, id="advice-queues")
            if self.model_notes:
                yield Static(Text(self.model_notes, style="italic"), id="advice-notes")
            if self.advice.moves:
                yield Static(self._text(w("advice.moves"), "bold"), id="advice-moves-title")
                yield OptionList(*self._move_lines(), id="advice-moves")
                if self.plan_text:
                    yield Static(self._text(self.plan_text, "italic"), id="advice-plan")
            else:
                yield Static(self._text(self.empty_text, "yellow"), id="advice-empty")
            keys = [("⏎", "bold"), (f" {w('advice.apply')}   ", "")] if self.advice.moves else []
            keys += [("esc", "bold"), (f" {w('advice.close')}", "")]
            yield Static(w.line(*keys), id="advice-keys")

    def on_mount(self) -> None:
        w = self.words
        box = self.query_one("#advice-box")
        box.border_title = w.show(w("advice.title"))
        box.border_subtitle = self.subtitle
        if self.advice.moves:
            ol = self.query_one(OptionList)
            ol.highlighted = 0
            ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.advice.moves[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
