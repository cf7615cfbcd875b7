"""A DataTable updated by key, never cleared and refilled.

``KeyedTable.sync(rows)`` inside one batch update: removes the rows that are gone, ``update_cell`` only where
what is shown changed (text or style), ``add_row(key=...)`` for new rows, and sorts once when rows were
added. It counts its work (``clears``, ``rows_added``, ``rows_removed``, ``cells_updated``, ``sorts``): what an
update did not do looks the same on the screen, so these are how tests show it rebuilt nothing (the one set of
counters kept for tests, see docs/ARCHITECTURE.md).

An auto-width column is as wide as its widest cell (or header), as DataTable makes it, but the widths are
counted here per column (``Counter`` of cell widths): DataTable's own ``update_width`` measures every cell of
the column again whenever an updated cell got narrower, which at thousands of rows made each second's update
cost seconds. An update now costs the cells that changed.

A cell is drawn again only when it changed: DataTable keys its cache of drawn cells on one count of every
update to the table, so a single clock cell ticking redrew every visible cell of the table each second.
``_render_cell`` keeps a cell's drawing instead on the cell's own stamp (set when ``sync`` updates it, or when its
row was added), and the row's formatted cells on the row's own stamp (the latest of its cells'). A cell whose row
moved (a row above it removed, the table sorted) keeps its drawing too, its mouse metadata (the row and column a
click selects, the one thing in it that depends on the place) set to the new place: every second's waiting
callers answered moved the rows below them, and each of their cells was drawn again (~70 us a cell, ~140 cells a
frame of the callers' table).

``sync(source)`` with a ``rowsource.RowSource`` (the desk's queues and agents): every row is placed by key at its
sort key's place, but only the rows in view and a page above and below are filled (built by the source, compared
and updated as above), at each sync and as rows are scrolled into view (``watch_scroll_y``) or the table grows;
the auto columns take the widths the source counted over every row. An update costs the rows in view, not the
table: at 5,000 agents the ticking time in state was 5,000 cells a second. DataTable's row order and line
offsets are cached on the layout stamp (it keys them on every cell update: a list of every row, rebuilt each
second), and its drawing caches are sized to a screen or two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from .bidi import visual
from .rowsource import RowSource, text_width
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


CACHED_LINES = 120  # lines (and rows) of drawing kept per table until it has a size: a screen or two
CACHED_CELLS = 1200  # cells of drawing kept per table until it has a size: a screen of the widest table and more
# then two of its own screens (a page scrolled back and forth), and their cells: a row drawn is a Strip per cell,
# each ~10 objects for every full garbage collection to walk
CACHED_SCREENS = 2
MIN_CACHED_LINES = 24

Shown = tuple[str, str, str]  # text, style, justify: what a cell looks like
HEADER = ("header",)  # the header cells' key in DataTable's cache in place of its update count


class _FrameStyles:
    """A component's styles while one frame is drawn: their rich style (a walk up the widget tree) read once."""

    def __init__(self, styles) -> None:
        self._styles = styles
        self.rich_style = styles.rich_style

    def __getattr__(self, name: str):
        return getattr(self._styles, name)


def _placed_at(lines: list[list[Segment]], at: tuple[int, int]) -> list[list[Segment]]:
    """A cell's drawing at another place: DataTable puts the row and column in every segment's metadata (a click
    selects them), the rest of the drawing does not depend on the place. The new place's metadata added on the
    right replaces theirs, as DataTable's own (added to the cell's base style) would be."""
    meta = Style.from_meta({"row": at[0], "column": at[1]})
    return [
        [Segment(s.text, s.style + meta if s.style is not None else None, s.control) for s in line] for line in lines
    ]


class KeyedTable(DataTable):
    """A table whose rows have stable keys; see the module docstring."""

    _syncing = False  # DataTable refreshes the widget at each update_cell: once per sync instead
    _refresh_wanted = False
    _updating: str | None = None  # the row whose cell ``sync`` is updating: only that row is drawn again
    _rows_wanted: set[str] = set()
    # read by DataTable's own __init__ (through ordered_rows, watch_scroll_y) before ours sets them
    _layout = 0
    _places = 0
    _ordered: tuple[int, list] | None = None
    _offsets: tuple[int, list] | None = None
    _source: RowSource | None = None
    _shrink = False  # as wide as its columns (``shrink_to_columns``)
    _frame: dict | None = None  # the styles read while one frame's lines are drawn (``render_lines``)
    _held = True  # a right-to-left table at its right end, not scrolled left by the supervisor (``hold_right``)

    def __init__(
        self, columns: Sequence[tuple[str, str, int | None]] = (), *, rtl: bool = False, bidi: str = "visual", **kwargs
    ):
        super().__init__(cursor_type="row", zebra_stripes=False, cursor_foreground_priority="renderable", **kwargs)
        self.rtl = rtl  # cells in display order for a right-to-left desk (``bidi.visual``), aligned right
        self.bidi = bidi
        # DataTable's caches of drawn rows, cells and lines hold up to 10,000 cells and 1,000 lines each (a few
        # objects per segment): ~100,000 live objects per table that every full garbage collection walks (at
        # 5,000 agents, pauses of 300 ms). A screen or two of them is what a table draws again.
        self._row_render_cache = LRUCache(CACHED_LINES)
        self._row_renderable_cache = LRUCache(CACHED_LINES)
        self._line_cache = LRUCache(CACHED_LINES)
        self._cell_render_cache = LRUCache(CACHED_LINES)  # the header's cells (the rows' are ``_drawn``)
        # (row, column, style, cursor, hover, the cell's stamp, ...) -> ((row index, column index), its lines)
        self._drawn: LRUCache = LRUCache(CACHED_CELLS)
        self.cells_drawn = 0  # cells drawn anew (not from ``_drawn``, nor moved): what a frame costs
        self._cached_lines = CACHED_LINES  # until the table has its size (``_size_caches``)
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
        self._row_stamps: dict[str, int] = {}  # row -> when sync last updated one of its cells
        self._born: dict[str, int] = {}  # row -> the stamp when it was added (its cells' until updated)
        self._stamp = 0
        self._models: dict[tuple[str, str], CellModel] = {}  # (row, column) -> the cell model last synced
        self._layout = 0  # moves when rows are added, removed or sorted, or the columns change
        self._places = 0  # moves when a row placed may have moved (removed, sorted, the columns changed); not when
        # rows are added at the end: a drawn cell (its row's index is in its style) is still right
        self._source = None  # rows built on demand (a RowSource): only those in view are filled
        self._placed: tuple[RowSource, int] | None = None  # the source and its layout the rows were placed at
        self._sort_keys: dict[str, tuple] = {}  # a source's row -> the sort key it was placed at
        self._last_sort_key: tuple | None = None  # none of those sorts after it
        self._flash_on = False
        self._ordered = None  # (layout, DataTable.ordered_rows then)
        self._offsets = None  # (layout, DataTable._y_offsets then)

    def on_mount(self) -> None:
        for key, header, width in self._spec:
            self.add_column(self._header(header), width=width, key=key)

    async def _on_idle(self, event) -> None:
        """DataTable measures an updated cell's width when idle, but keeps the cells it rendered in between
        (at the old width) in caches keyed on its update count, which the measuring does not change: a state
        grown from ``available`` to ``paused:coaching`` stayed cut to ``paused:coa``. Drop them when a
        width changed."""
        before = [c.content_width for c in self.columns.values()]
        await super()._on_idle(event)
        if [c.content_width for c in self.columns.values()] != before:
            self._clear_caches()
            if self._shrink:  # the columns were measured: the table's width follows
                self._shrink_now()
            self._hold_later()

    # ---- a right-to-left table holds its right end ----------------------------------------------------------------

    def hold_right(self) -> None:
        """A right-to-left table wider than its box shows its right end (its first columns: the agent's name),
        not its left one, until the supervisor scrolls left (``watch_scroll_x``); scrolled back to the right end,
        it is held there again. A new set of columns starts at the right end (``clear``).

        Asked for after the refresh that follows each change of what the right end is (``_hold_later``). Textual
        refuses a horizontal scroll until the layout has shown the horizontal scrollbar, and the refresh a callback
        follows may be one already under way, before that layout: the scrollbar shown asks again."""
        if self.rtl and self._held and self.scroll_x != self.max_scroll_x:
            self.scroll_to(x=self.max_scroll_x, animate=False)

    def _hold_later(self) -> None:
        if self.rtl and self._held:
            self.call_after_refresh(self.hold_right)

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_x(old_value, new_value)
        # Textual only clamps scroll_x to the right end; any other move left is the supervisor's
        self._held = new_value >= self.max_scroll_x

    # the right end (max_scroll_x) moves with the virtual width, the box (``_on_resize``) and the vertical
    # scrollbar's width; the horizontal scrollbar shown is when Textual lets the table scroll to it. Each changes
    # at a layout or a measuring, not at a frame
    def watch_virtual_size(self, old: Size, new: Size) -> None:  # the columns measured: wider or narrower
        if old.width != new.width:
            self._hold_later()

    def watch_show_horizontal_scrollbar(self) -> None:
        self._hold_later()

    def watch_show_vertical_scrollbar(self) -> None:
        self._hold_later()

    def shrink_to_columns(self) -> None:
        """As wide as its columns (a DataTable takes its container's width), so a right-to-left table can sit
        against the right edge of a container aligned right."""
        self._shrink = True
        self._shrink_now()

    def _shrink_now(self) -> None:
        width = sum(c.get_render_width(self) for c in self.columns.values()) + 1
        if self.styles.width is None or self.styles.width.value != width:
            self.styles.width = width

    def _header(self, header: str) -> str | Text:
        return Text(header, justify="right") if self.rtl else header

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
                self.add_column(self._header(header), width=width, key=key)
        return True

    def clear(self, columns: bool = False):
        """Counted: data updates never clear (tests assert it); only a change of the column set does."""
        self.clears += 1
        self._shown.clear()
        self._widths.clear()
        self._stamps.clear()
        self._row_stamps.clear()
        self._born.clear()
        self._models.clear()
        self._placed = None
        self._sort_keys.clear()
        self._last_sort_key = None
        self._layout += 1
        self._places += 1
        result = super().clear(columns)  # scrolled to the left end
        self._held = True
        return result

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

    def _render(self, cell: CellModel, style: str, first: bool, sort_key: tuple) -> Text:
        text, justify = cell.text, cell.justify
        if self.rtl:  # a right-to-left desk: text reads from the right (numbers stay right-aligned)
            text = visual(text, True, self.bidi)
            justify = "right" if justify == "left" else justify
        if first:
            out = SortedText(text, style=style, justify=justify)
            out.sort_key = sort_key
            return out
        return Text(text, style=style, justify=justify)

    def sync(self, rows: Iterable[RowModel] | RowSource, flash_on: bool = False) -> None:
        """Make the table show ``rows``, touching only what changed. A ``RowSource``: every row is placed (its
        key, at its sort key's place) but only the rows in view and a margin are filled, now and as they are
        scrolled into view."""
        cols = self.column_ids
        if not cols:
            return
        self._syncing, self._refresh_wanted, self._rows_wanted = True, False, set()
        try:
            if isinstance(rows, RowSource):
                self._source, self._flash_on = rows, flash_on
                self._sync_source(rows, cols)
            else:
                self._source = self._placed = self._last_sort_key = None
                self._sort_keys.clear()
                auto = {key for key, _, width in self._spec if width is None}
                self._sync(list(rows), cols, auto, flash_on)
        finally:
            self._syncing = False
        self._refresh_synced()

    def refresh(self, *args, **kwargs):
        # a row removed asks for the screen's layout too (DataTable.remove_row): a frame laying out every widget
        # and drawing every table again, at each second's waiting callers answered. The table's size is measured
        # at its next idle (``_update_dimensions``), and the screen is laid out then if it changed
        if self._syncing and not args and kwargs.get("layout") and len(kwargs) == 1:
            kwargs = {}
        if self._syncing and not args and not kwargs:
            if self._updating is not None:
                self._rows_wanted.add(self._updating)
            else:
                self._refresh_wanted = True
            return self
        return super().refresh(*args, **kwargs)

    def _refresh_synced(self) -> None:
        """Draw again what a sync changed: the rows whose cells it updated (a delta's few agents; a whole repaint
        of the table under its box drew ~60 lines of every widget beneath), or the whole table when rows were
        added, removed or sorted, a width changed, or most rows in view changed (the clock's tick)."""
        rows, self._rows_wanted = self._rows_wanted, set()
        if not self._refresh_wanted and not rows:
            return
        header = self.header_height if self.show_header else 0
        in_view = max(1, self.size.height - header)
        if self._refresh_wanted or len(rows) * 2 > in_view or len(self._y_offsets) != self.row_count:
            self.refresh()  # (rows of one line each: a row's index is its line)
            return
        width = max(self.size.width, self.virtual_size.width)
        for key in rows:
            if key in self.rows:
                self._refresh_region(Region(0, self.get_row_index(key) + header, width, 1))

    def _sync(self, rows: list[RowModel], cols: list[str], auto: set[str], flash_on: bool) -> None:
        keep = self.selected_key
        widths = {col: self._widths.setdefault(col, Counter()) for col in auto}
        widened: set[str] = set()  # auto columns whose widest cell may have changed
        wanted = {r.key for r in rows}
        added = False
        self.flashing = set()
        with self.app.batch_update():
            self._remove_rows_but(wanted, cols, widths, widened)
            for r in rows:
                if r.key in self.rows:
                    self._update_row(r, cols, flash_on, widths, widened)
                    continue
                values = []
                for i, col in enumerate(cols):
                    cell = r.cells.get(col) or CellModel("")
                    if cell.flash:
                        self.flashing.add((r.key, col))
                    self._models[(r.key, col)] = cell
                    shown = (cell.text, cell_style(cell, flash_on), cell.justify)
                    values.append(self._render(cell, shown[1], i == 0, r.sort_key))
                    self._shown[(r.key, col)] = shown
                    if col in widths:
                        self._count_width(widths[col], shown[0], +1)
                self.add_row(*values, key=r.key)
                self.rows_added += 1
                added = True
            if added:
                self._sort(cols)
            self._fit_widths(widths, widened)
            self._reselect(keep)

    def _remove_rows_but(self, wanted, cols: list[str], widths: dict, widened: set[str]) -> None:
        for row_key in [k.value for k in self.rows]:
            if row_key not in wanted:
                self.remove_row(row_key)
                self.rows_removed += 1
                self._row_stamps.pop(row_key, None)
                self._born.pop(row_key, None)
                for col in cols:
                    self._stamps.pop((row_key, col), None)
                    self._models.pop((row_key, col), None)
                    old = self._shown.pop((row_key, col), None)
                    if old is not None and col in widths:
                        self._count_width(widths[col], old[0], -1)
                        widened.add(col)

    def _update_row(self, r: RowModel, cols: list[str], flash_on: bool, widths: dict, widened: set[str]) -> None:
        """A row already in the table: update the cells whose text or style changed (a cell whose model is
        the very one synced last, not flashing, is not even compared)."""
        for i, col in enumerate(cols):
            cell = r.cells.get(col) or CellModel("")
            if cell.flash:
                self.flashing.add((r.key, col))
            elif self._models.get((r.key, col)) is cell:
                continue
            self._models[(r.key, col)] = cell
            shown = (cell.text, cell_style(cell, flash_on), cell.justify)
            old = self._shown.get((r.key, col))
            if old == shown:
                continue
            self._updating = r.key
            try:
                self.update_cell(r.key, col, self._render(cell, shown[1], i == 0, r.sort_key))
            finally:
                self._updating = None
            self._stamp += 1
            self._stamps[(r.key, col)] = self._row_stamps[r.key] = self._stamp
            if col in widths and (old is None or old[0] != shown[0]):
                # an auto-width column widens for a longer text (a countdown, who listens)
                if old is not None:
                    self._count_width(widths[col], old[0], -1)
                self._count_width(widths[col], shown[0], +1)
                widened.add(col)
            self._shown[(r.key, col)] = shown
            self.cells_updated += 1

    def _sort(self, cols: list[str]) -> None:
        self.sort(cols[0], key=lambda first: getattr(first, "sort_key", ()))
        self.sorts += 1

    def _reselect(self, keep: str | None) -> None:
        if keep is not None and keep in self.rows and self.get_row_index(keep) != self.cursor_row:
            self.select_key(keep)

    # ---- rows built on demand (a RowSource) -------------------------------------------------------------

    def _sync_source(self, source: RowSource, cols: list[str]) -> None:
        keep = self.selected_key
        with self.app.batch_update():
            if self._placed is None or self._placed[0] is not source or self._placed[1] != source.layout:
                self._place(source.keys(), cols)
                self._placed = (source, source.layout)
            self._fill(cols)
            widths = source.widths()
            self._set_widths({key: widths.get(key, 0) for key, _, width in self._spec if width is None})
            self._reselect(keep)

    def _place(self, keys: dict[str, tuple], cols: list[str]) -> None:
        """Every row at its place: the rows gone removed, the new ones added empty (filled once in view). New
        rows that all sort after the rows placed (a source's first part, coming in slices) are added in order;
        otherwise (a row among them, a renamed one) the table is sorted."""
        placed = self._sort_keys
        for gone in [k for k in placed if k not in keys]:
            del placed[gone]
        self._remove_rows_but(keys, cols, {}, set())
        new: list[tuple[tuple, str]] = []
        moved = False
        for key, sort_key in keys.items():
            was = placed.get(key)
            if was is None and key not in self.rows:
                new.append((sort_key, key))
            elif was != sort_key:  # renamed (or placed by a list's sync): a new place
                placed[key] = sort_key
                moved = True
                first = self.get_cell(key, cols[0])
                if getattr(first, "sort_key", None) == sort_key:
                    continue
                again = SortedText(first.plain, style=first.style, justify=first.justify)
                again.sort_key = sort_key
                self.update_cell(key, cols[0], again)
                self._stamp += 1
                self._stamps[(key, cols[0])] = self._row_stamps[key] = self._stamp
        new.sort()
        blank = [Text("") for _ in cols[1:]]
        for sort_key, key in new:
            first = SortedText("")
            first.sort_key = sort_key
            self.add_row(first, *blank, key=key)
            placed[key] = sort_key
            self.rows_added += 1
        in_order = not moved and (not new or self._last_sort_key is None or new[0][0] > self._last_sort_key)
        if in_order:
            if new:
                self._last_sort_key = new[-1][0]
        else:
            self._sort(cols)
            self._last_sort_key = max(placed.values(), default=None)

    def _window(self) -> list[str]:
        """The keys of the rows in view, and a page above and below."""
        n = self.row_count
        if not n:
            return []
        page = max(1, self.size.height - (self.header_height if self.show_header else 0)) if self.size.height else 60
        top = int(self.scroll_y)
        keys = self._row_locations
        return [keys.get_key(i).value for i in range(max(0, top - page), min(n, top + 2 * page))]

    def _fill(self, cols: list[str]) -> None:
        """Fill the rows in view from the source, as they are now."""
        assert self._source is not None
        self.flashing = set()
        for r in self._source.rows(self._window()):
            self._update_row(r, cols, self._flash_on, {}, set())

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._source is not None and int(old_value) != int(new_value):
            self._fill_in_view()

    def _on_resize(self, event) -> None:  # DataTable's own runs too (Textual calls each class's handler)
        self._size_caches()
        self._hold_later()
        if self._source is not None:
            self._fill_in_view()

    def _size_caches(self) -> None:
        """DataTable's drawing caches: two of this table's screens of lines and of their cells (a new cache is
        an empty one: what a resize draws again anyway)."""
        lines = max(MIN_CACHED_LINES, CACHED_SCREENS * self.size.height)
        if lines == self._cached_lines:
            return
        self._cached_lines = lines
        for cache in (self._row_render_cache, self._row_renderable_cache, self._line_cache, self._drawn):
            cache.clear()  # emptied, not left to the collector (``gcsettle.untangle_lru_caches``)
        self._row_render_cache = LRUCache(lines)
        self._row_renderable_cache = LRUCache(lines)
        self._line_cache = LRUCache(lines)
        self._drawn = LRUCache(lines * max(1, len(self._spec)))

    def _fill_in_view(self) -> None:
        """Rows scrolled into view (or a taller table) show what they are now, before they are drawn."""
        cols = self.column_ids
        if not cols or self._placed is None:
            return
        self._syncing, self._refresh_wanted, self._rows_wanted = True, False, set()
        try:
            self._fill(cols)
        finally:
            self._syncing = False
        self._refresh_synced()

    def _set_widths(self, widths: dict[str, int]) -> None:
        """Each auto column as wide as its widest cell over every row (the source counts them), or its header."""
        resized = False
        for col, width in widths.items():
            column = self.columns.get(ColumnKey(col))
            if column is None:
                continue
            width = max(width, text_width(column.label.plain))
            if width != column.content_width:
                column.content_width = width
                resized = True
        if resized:
            self._resized()

    def _update_dimensions(self, new_rows) -> None:
        """DataTable measures every cell of the new rows: a source's rows are added empty, its widths counted."""
        super()._update_dimensions(() if self._source is not None else new_rows)

    # ---- the row order, cached on the layout (DataTable keys it on every cell update) -------------------------

    def add_row(self, *args, **kwargs):
        self._layout += 1
        key = super().add_row(*args, **kwargs)
        self._stamp += 1
        self._born[key.value] = self._stamp  # a row added again (a caller back in the queue) is drawn anew
        return key

    def remove_row(self, row_key) -> None:
        self._layout += 1
        self._places += 1
        super().remove_row(row_key)

    def sort(self, *args, **kwargs):
        self._layout += 1
        self._places += 1
        result = super().sort(*args, **kwargs)
        self._layout += 1
        self._places += 1
        return result

    @property
    def ordered_rows(self) -> list:
        if self._ordered is None or self._ordered[0] != self._layout:
            self._ordered = (self._layout, DataTable.ordered_rows.fget(self))  # type: ignore[attr-defined]
        return self._ordered[1]

    @property
    def _y_offsets(self) -> list:
        if self._offsets is None or self._offsets[0] != self._layout:
            self._offsets = (self._layout, DataTable._y_offsets.fget(self))  # type: ignore[attr-defined]
        return self._offsets[1]

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._drawn.clear()

    # ---- the styles a frame reads for every line, read once a frame ------------------------------------------

    def render_lines(self, crop: Region) -> list:
        """DataTable's. The styles it reads for each line (the table's, its header's, its background: each a walk
        up the widget tree, ~20 % of a frame's time) are read once while the frame is drawn, as nothing changes
        them meanwhile."""
        self._frame = {}
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _per_frame(self, name: str):
        """DataTable's property ``name``, read once while a frame is drawn."""
        read = getattr(DataTable, name).fget
        frame = self._frame
        if frame is None:
            return read(self)
        value = frame.get(name)
        if value is None:
            value = frame[name] = read(self)
        return value

    @property
    def rich_style(self) -> Style:
        return self._per_frame("rich_style")

    @property
    def background_colors(self):
        return self._per_frame("background_colors")

    def get_component_styles(self, *names: str):
        frame = self._frame
        if frame is None:
            return super().get_component_styles(*names)
        styles = frame.get(names)
        if styles is None:
            styles = frame[names] = _FrameStyles(super().get_component_styles(*names))
        return styles

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ):
        """DataTable's, kept on the cell's own stamp, and moved with its row (see the module docstring)."""
        if row_index < 0 or column_index < 0:  # the header (and row labels, not shown): its labels and widths
            count = self._update_count  # change with the caches cleared, not with every cell update
            self._update_count = HEADER  # type: ignore[assignment]
            try:
                return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            finally:
                self._update_count = count
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        stamp = self._stamps.get((row_key.value, column_key.value)) or self._born.get(row_key.value, 0)
        # DataTable's cell key, the cell's stamp in place of the table's update count
        key = (row_key, column_key, base_style, cursor, hover, self._show_hover_cursor, stamp, self._pseudo_class_state)
        at = (row_index, column_index)
        kept = self._drawn.get(key)
        if kept is not None:
            if kept[0] == at:
                return kept[1]
            lines = _placed_at(kept[1], at)
        else:
            count = self._update_count
            # inside this call only: DataTable's own cache takes it under this key (dropped after: ``_drawn`` keeps
            # it), and the row renderables it reads under it hold this cell's current value
            self._update_count = (self._places, stamp)  # type: ignore[assignment]
            try:
                lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            finally:
                self._update_count = count
            self._cell_render_cache.discard(key[:6] + ((self._places, stamp), self._pseudo_class_state))
            self.cells_drawn += 1
        self._drawn.set(key, (at, lines))
        return lines

    def _get_row_renderables(self, row_index: int):
        """DataTable's, cached on the row's own stamp: it is keyed on the update count, which ``_render_cell``
        sets to the cell's stamp, so the row's every cell was formatted again for each of its cells drawn."""
        if row_index < 0:
            return super()._get_row_renderables(row_index)
        row_key = self._row_locations.get_key(row_index)
        count = self._update_count
        self._update_count = (self._places, self._row_stamps.get(row_key.value if row_key else None, 0))  # type: ignore[assignment]
        try:
            return super()._get_row_renderables(row_index)
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
            self._resized()

    def _resized(self) -> None:
        self._require_update_dimensions = True  # the virtual width, at the next idle
        self._clear_caches()  # lines rendered at the old width
        self.refresh()  # every line (inside a sync: once, at its end)
        self.check_idle()

    def shown(self, row_key: str, col: str) -> Shown | None:
        """What a cell shows now: (text, style, justify)."""
        return self._shown.get((row_key, col))
