"""Right-to-left text for terminals: the order a terminal without bidi support (xterm, tmux, screen, the Linux
console) must be sent, by python-bidi's reference implementation of the Unicode bidi algorithm. A terminal that
reorders by itself (mlterm, Konsole, VTE with bidi on) gets logical order instead (``bidi="terminal"``; the
board's and the desk's ``--bidi``, or ``WALLBOARD_BIDI``). Shared by the board and the desk."""

from __future__ import annotations

import re

from rich.text import Text

MODES = ("visual", "terminal")
_CLOSING_AFTER_LTR = re.compile(r"(?<=[A-Za-z0-9%.])[)\]}]")


def has_rtl(text: str) -> bool:
    # a right-to-left mark too: a line of figures and Latin names around one (``words``' arrows) reads right to left
    return any("\u0590" <= ch <= "\u08ff" or "\ufb1d" <= ch <= "\ufeff" or ch == "\u200f" for ch in text)


def visual(text: str, rtl: bool, bidi: str = "visual") -> str:
    """``text`` in the order a terminal without bidi support must draw it (``bidi="visual"``): right-to-left
    runs reversed by the Unicode bidi algorithm, numbers and Latin kept left to right; unchanged for a
    terminal that reorders by itself (``bidi="terminal"``) or for text with no right-to-left letter."""
    if bidi != "visual" or not has_rtl(text):
        return text
    # python-bidi's reference implementation of the Unicode bidi algorithm: its Rust-backed get_display (the
    # package's top level) skips rule L4, so brackets would come out facing the wrong way
    from bidi.algorithm import get_display

    # python-bidi's algorithm has no paired-bracket rule (N0): a ")" closing a Latin or numeric run ("Gefen
    # (1001)") would take the paragraph's direction and land, mirrored, at the far end. A left-to-right mark after
    # it keeps it with its run; the marks are taken out again (they are not to be drawn), and so are the
    # right-to-left marks a text holds for the same reason (``words``: an arrow between two Latin names).
    marked = _CLOSING_AFTER_LTR.sub("\\g<0>\u200e", text)
    return get_display(marked, base_dir="R" if rtl else "L").replace("\u200e", "").replace("\u200f", "")


def visual_pieces(pieces: list[tuple[str, str]], bidi: str = "visual") -> Text:
    """Styled pieces of a right-to-left line (each a run of words): the pieces from the right, each in display
    order, so every piece keeps its style. Logical order, pieces and all, for a terminal that reorders."""
    if bidi != "visual":
        return Text.assemble(*pieces)
    return Text.assemble(*((_mirrored(text), style) for text, style in reversed(pieces)))


def _mirrored(piece: str) -> str:
    """A piece of a right-to-left line in display order, its leading spaces (logically first: on the right)
    after it and its trailing ones before it, whether or not it holds a right-to-left letter."""
    core = piece.strip(" ")
    if not core:
        return piece
    lead = len(piece) - len(piece.lstrip(" "))
    trail = len(piece) - len(piece.rstrip(" "))
    return " " * trail + visual(core, True) + " " * lead
