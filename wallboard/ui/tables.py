"""A DataTable updated by key, never cleared and refilled.

``KeyedTable.sync(rows)`` inside one batch update: removes the rows that are gone, ``update_cell`` only where
what is shown changed (text or style), ``add_row(key=...)`` for new rows, and sorts once when rows were
added. Counters (``clears``, ``rows_added``, ``rows_removed``, ``cells_updated``, ``sorts``) let tests
assert that an update rebuilt nothing.

An auto-width column is as wide as its widest cell (or header), as DataTable makes it, but the widths are
counted here per column (``Counter`` of cell widths): DataTable's own ``update_width`` measures every cell of
the column again whenever an updated cell got narrower, which at thousands of rows made each second's update
cost seconds. An update now costs the cells that changed.

A cell is drawn again only when it changed: DataTable keys its cache of drawn cells on one count of every
update to the table, so a single clock cell ticking redrew every visible cell of the table each second.
``_render_cell`` keys it instead on the cell's own stamp (set when ``sync`` updates it) and the table's layout
stamp (rows added, removed or sorted, columns changed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from .view import CellModel, RowModel

LEVEL_STYLES = {"ok": "", "warn": "yellow", "breach": "red", "closed": "grey50"}
FLASH_ON_STYLE = "bold white on red"


class SortedText(Text):
    """The first cell of a row also carries the row's sort key (DataTable.sort only sees cell values)."""

    sort_key: tuple = ()


def cell_style(cell: CellModel, flash_on: bool) -> str:
    if cell.flash and flash_on:
        return FLASH_ON_STYLE
    style = LEVEL_STYLES.get(cell.level, "")
    if cell.level == "breach" or cell.bold:
        style = f"bold {style}".strip()
    return style


Shown = tuple[str, str, str]  # text, style, justify: what a cell looks like


def text_width(text: str) -> int:
    return max(cell_len(line) for line in text.split("\n")) if "\n" in text else cell_len(text)


class KeyedTable(DataTable):
    """A table whose rows have stable keys; see the module docstring."""

    _syncing = False  # DataTable refreshes the widget at each update_cell: once per sync instead
    _refresh_wanted = False

    def __init__(self, columns: Sequence[tuple[str, str, int | None]] = (), **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=False, cursor_foreground_priority="renderable", **kwargs)
        self._spec: list[tuple[str, str, int | None]] = list(columns)
        self._shown: dict[tuple[str, str], Shown] = {}
        self.clears = 0
        self.rows_added = 0
        self.rows_removed = 0
        self.cells_updated = 0
        self.sorts = 0
        self.flashing: set[tuple[str, str]] = set()
        self._widths: dict[str, Counter[int]] = {}  # auto-width column -> how many cells have each width
        self._stamps: dict[tuple[str, str], int] = {}  # (row, column) -> when sync last updated the cell
        self._stamp = 0
        self._models: dict[tuple[str, str], CellModel] = {}  # (row, column) -> the cell model last synced
        self._layout = 0  # moves when rows are added, removed or sorted, or the columns change

    def on_mount(self) -> None:
        for key, header, width in self._spec:
            self.add_column(header, width=width, key=key)

    async def _on_idle(self, event) -> None:
        """DataTable measures an updated cell's width when idle, but keeps the cells it rendered in between
        (at the old width) in caches keyed on its update count, which the measuring does not change: a state
        grown from ``available`` to ``paused:coaching`` stayed cut to ``paused:coa``. Drop them when a
        width changed."""
        before = [c.content_width for c in self.columns.values()]
        await super()._on_idle(event)
        if [c.content_width for c in self.columns.values()] != before:
            self._clear_caches()

    @property
    def column_ids(self) -> list[str]:
        return [key for key, _, _ in self._spec]

    def set_columns(self, columns: Sequence[tuple[str, str, int | None]]) -> bool:
        """Change the column set (a layout change, e.g. the terminal was resized). Returns True if it changed.

        This is the one place that clears the table, and it counts in ``clears``."""
        columns = list(columns)
        if columns == self._spec:
            return False
        self._spec = columns
        if self.is_mounted:
            self.clear(columns=True)
            for key, header, width in columns:
                self.add_column(header, width=width, key=key)
        return True

    def clear(self, columns: bool = False):
        """Counted: data updates never clear (tests assert it); only a change of the column set does."""
        self.clears += 1
        self._shown.clear()
        self._widths.clear()
        self._stamps.clear()
        self._models.clear()
        self._layout += 1
        return super().clear(columns)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return row_key.value

    def select_key(self, key: str) -> None:
        if key in self.rows:
            self.move_cursor(row=self.get_row_index(key), animate=False)

    @staticmethod
    def _render(cell: CellModel, style: str, first: bool, sort_key: tuple) -> Text:
        if first:
            text = SortedText(cell.text, style=style, justify=cell.justify)
            text.sort_key = sort_key
            return text
        return Text(cell.text, style=style, justify=cell.justify)

    def sync(self, rows: Iterable[RowModel], flash_on: bool = False) -> None:
        """Make the table show ``rows``, touching only what changed."""
        rows = list(rows)
        cols = self.column_ids
        if not cols:
            return
        auto = {key for key, _, width in self._spec if width is None}
        self._syncing, self._refresh_wanted = True, False
        try:
            self._sync(rows, cols, auto, flash_on)
        finally:
            self._syncing = False
        if self._refresh_wanted:
            self.refresh()

    def refresh(self, *args, **kwargs):
        if self._syncing and not args and not kwargs:
            self._refresh_wanted = True
            return self
        return super().refresh(*args, **kwargs)

    def _sync(self, rows: list[RowModel], cols: list[str], auto: set[str], flash_on: bool) -> None:
        keep = self.selected_key
        widths = {col: self._widths.setdefault(col, Counter()) for col in auto}
        widened: set[str] = set()  # auto columns whose widest cell may have changed
        wanted = {r.key for r in rows}
        added = False
        self.flashing = set()
        with self.app.batch_update():
            for row_key in [k.value for k in self.rows]:
                if row_key not in wanted:
                    self.remove_row(row_key)
                    self.rows_removed += 1
                    self._layout += 1
                    for col in cols:
                        self._stamps.pop((row_key, col), None)
                        self._models.pop((row_key, col), None)
                        old = self._shown.pop((row_key, col), None)
                        if old is not None and col in widths:
                            self._count_width(widths[col], old[0], -1)
                            widened.add(col)
            for r in rows:
                shown: dict[str, Shown] = {}
                same: set[str] = set()  # the very cell models of the last sync, not flashing: nothing to compare
                existing = r.key in self.rows
                for col in cols:
                    cell = r.cells.get(col) or CellModel("")
                    if cell.flash:
                        self.flashing.add((r.key, col))
                    elif existing and self._models.get((r.key, col)) is cell:
                        same.add(col)
                        continue
                    self._models[(r.key, col)] = cell
                    shown[col] = (cell.text, cell_style(cell, flash_on), cell.justify)
                if existing:
                    for i, col in enumerate(cols):
                        if col not in same and self._shown.get((r.key, col)) != shown[col]:
                            style = shown[col][1]
                            cell = r.cells.get(col) or CellModel("")
                            self.update_cell(r.key, col, self._render(cell, style, i == 0, r.sort_key))
                            self._stamp += 1
                            self._stamps[(r.key, col)] = self._stamp
                            old = self._shown.get((r.key, col))
                            if col in widths and (old is None or old[0] != shown[col][0]):
                                # an auto-width column widens for a longer text (a countdown, who listens)
                                if old is not None:
                                    self._count_width(widths[col], old[0], -1)
                                self._count_width(widths[col], shown[col][0], +1)
                                widened.add(col)
                            self._shown[(r.key, col)] = shown[col]
                            self.cells_updated += 1
                else:
                    values = []
                    for i, col in enumerate(cols):
                        cell = r.cells.get(col) or CellModel("")
                        values.append(self._render(cell, shown[col][1], i == 0, r.sort_key))
                        self._shown[(r.key, col)] = shown[col]
                        if col in widths:
                            self._count_width(widths[col], shown[col][0], +1)
                    self.add_row(*values, key=r.key)
                    self.rows_added += 1
                    self._layout += 1
                    added = True
            if added:
                self.sort(cols[0], key=lambda first: getattr(first, "sort_key", ()))
                self.sorts += 1
            self._fit_widths(widths, widened)
            if keep is not None and keep in self.rows and self.get_row_index(keep) != self.cursor_row:
                self.select_key(keep)

    def _render_cell(self, row_index: int, column_index: int, *args, **kwargs):
        """DataTable's, with the cell's cache keyed on the cell's own stamp (see the module docstring)."""
        if row_index < 0 or column_index < 0:  # the header, row labels
            return super()._render_cell(row_index, column_index, *args, **kwargs)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        count = self._update_count
        # inside this call only; the row renderables it reads under this key hold this cell's current value
        self._update_count = (self._layout, self._stamps.get((row_key.value, column_key.value), 0))  # type: ignore[assignment]
        try:
            return super()._render_cell(row_index, column_index, *args, **kwargs)
        finally:
            self._update_count = count

    @staticmethod
    def _count_width(counter: Counter[int], text: str, n: int) -> None:
        w = text_width(text)
        counter[w] += n
        if counter[w] <= 0:
            del counter[w]

    def _fit_widths(self, widths: dict[str, Counter[int]], changed: set[str]) -> None:
        """Set each changed auto column's width from its counted cells (a few distinct widths, not every row)."""
        resized = False
        for col in changed:
            column = self.columns.get(ColumnKey(col))
            if column is None:
                continue
            width = max(max(widths[col], default=0), text_width(column.label.plain))
            if width != column.content_width:
                column.content_width = width
                resized = True
        if resized:
            self._require_update_dimensions = True  # the virtual width, at the next idle
            self._clear_caches()  # lines rendered at the old width
            self.check_idle()

    def shown(self, row_key: str, col: str) -> Shown | None:
        """What a cell shows now: (text, style, justify)."""
        return self._shown.get((row_key, col))
