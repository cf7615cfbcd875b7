"""The desk's footer: the keys that apply, in words, as wide as the terminal allows.

Textual's footer lays its keys out in one row and crops what does not fit, so on 80 columns a supervisor's
keys pushed ``?`` help and ``q`` quit off the screen. This one takes the first form that fits: every key in full
words with the command palette's entry; else compact, the short words (``keyshort.<action>`` in ``words``) and
no palette entry (ctrl+p still opens it); else also without the keys the help lists (advice, flash). Help and
quit always stay: the help lists every key.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from .words import ENGLISH, Words

# left out of a footer too narrow for them: the help lists them, and they are not the keys of a live alert
NARROW_HIDDEN = frozenset(("advice", "toggle_flash"))
PALETTE_CELLS = 12  # "▏^p palette " on the right


def full_cells(keys: list[FooterKey]) -> int:
    """Cells of the full footer: each key " k " then "desc ", and the palette's entry."""
    return sum(cell_len(k.key_display) + 2 + cell_len(k.description) + 1 for k in keys) + PALETTE_CELLS


def compact_cells(keys: list[FooterKey]) -> int:
    """Cells of the compact footer: each key "k desc" and one cell between keys."""
    return sum(cell_len(k.key_display) + 1 + cell_len(k.description) + 1 for k in keys)


class DeskFooter(Footer):
    def __init__(self, words: Words = ENGLISH, **kw) -> None:
        super().__init__(**kw)
        self.words = words
        self._width = 0

    def compose(self):
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey) and not w.has_class("-command-palette")]
        width = self.app.size.width
        if not keys or full_cells(keys) <= width:
            self._set_compact(False)
            yield from widgets
            return
        self._set_compact(True)
        for k in keys:
            short = self.words.table.get(f"keyshort.{k.action}")
            if short:
                k.description = self.words.show(short)
        if compact_cells(keys) > width:
            keys = [k for k in keys if k.action not in NARROW_HIDDEN]
        yield from keys

    def _set_compact(self, on: bool) -> None:
        self.set_reactive(Footer.compact, on)
        self.set_class(on, "-compact")

    def on_resize(self, event) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            if self._bindings_ready:
                self.call_after_refresh(self.recompose)
