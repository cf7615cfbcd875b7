"""Block digits that scale with the terminal: a 3x5 pixel font drawn with half blocks, at any whole scale.

Textual's ``Digits`` is three rows tall whatever the screen; a TV terminal runs from 80x24 to a 4K console
(480x135 and more), so the board draws its own. A pixel is one column wide and half a row tall (a terminal
cell is about twice as tall as wide, so pixels come out square); at scale ``s`` a digit is ``3s`` columns by
``5s`` pixels (``ceil(5s/2)`` rows), glyphs ``s`` apart. Pure functions, no Textual.
"""

from __future__ import annotations

from math import ceil

GLYPH_ROWS = 5
_FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    "%": ("#.#", "..#", ".#.", "#..", "#.#"),
    ":": (".", "#", ".", "#", "."),
    ".": (".", ".", ".", ".", "#"),
    "-": ("...", "...", "###", "...", "..."),
    " ": ("..", "..", "..", "..", ".."),
}
_BLANK = ("...",) * GLYPH_ROWS


def glyph(ch: str) -> tuple[str, ...]:
    return _FONT.get(ch, _BLANK)


def width_units(text: str) -> int:
    """Width in pixels at scale 1: the glyphs plus a one-pixel gap between neighbours."""
    if not text:
        return 0
    return sum(len(glyph(c)[0]) for c in text) + len(text) - 1


def rows_for(scale: int) -> int:
    return ceil(GLYPH_ROWS * scale / 2)


def fit_scale(text: str, width: int, height: int) -> int:
    """The largest whole scale at which ``text`` fits ``width`` columns by ``height`` rows (0: not even 1)."""
    units = width_units(text)
    if units == 0 or width <= 0 or height <= 0:
        return 0
    return max(0, min(width // units, (2 * height) // GLYPH_ROWS))


def render_big(text: str, scale: int) -> list[str]:
    """The lines of ``text`` at ``scale`` (>= 1), all the same width."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    pixels: list[str] = []
    for r in range(GLYPH_ROWS):
        row = " ".join(glyph(c)[r] for c in text)  # the one-pixel gap
        wide = "".join(("#" if p == "#" else ".") * scale for p in row)
        pixels.extend([wide] * scale)
    if len(pixels) % 2:
        pixels.append("." * len(pixels[0]))
    out = []
    for top, bottom in zip(pixels[0::2], pixels[1::2]):
        out.append("".join(_HALF[(a == "#", b == "#")] for a, b in zip(top, bottom)))
    return out


_HALF = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
