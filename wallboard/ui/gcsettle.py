"""The desk's garbage collections, kept short (``DeskApp(settle_gc=True)``: one desk per process).

CPython's full (generation 2) collection walks every tracked object that is not frozen; at 5,000 agents a
desk holds ~300,000 (the modules, the app, the tables' rows, the snapshot's models, Textual's drawing caches): a
frame of 100-300 ms every few seconds, and several during the start-up, each walking everything built so far.
``GcSettle`` lets the collector walk only what is new (see the class).

Textual's ``Strip`` (a line drawn) keeps itself in its own caches when a cut or crop returns the whole strip
(``divide`` at its own length caches ``[self]``; ``crop_extend`` over its whole length caches ``self``): every
such line drawn is a reference cycle, freed only by a collection, not when its cache lets it go. A desk draws
thousands a second, and the ones frozen in a cache stayed forever (~16,000 objects a minute at 5,000 agents).
``untangle_strips`` returns the same strips without keeping those (nothing is computed there to keep).

Textual's ``LRUCache`` keeps its entries in a ring of links (``[previous, next, key, value]``); its ``clear`` drops
the ring whole, a cycle that only a collection frees. A DataTable clears its caches of drawn lines whenever its
widths are measured again (the waiting callers' table: each second) or a whole table is drawn again: rings frozen
at a settle and cleared after it stayed (~5,000 objects a minute at 5,000 agents: lines, segments, the row lists
of the one-entry caches). ``untangle_lru_caches`` empties each link first, so what was cached goes with its
reference count.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Sequence

from textual.cache import LRUCache
from textual.strip import Strip

from .heap import HeapPolicy

FULL_GC_AFTER = 100  # younger collections before a full one (Python's default: 10)
SETTLE_EVERY_S = 5.0  # the desk's collections and freezes (``GcSettle``)
SETTLE_PILE = 2  # younger collections since the last full one: a settle soon (~3,000 objects each at 5,000 agents)
RECLAIM_CHECK_S = 60.0  # how often a settle counts the frozen objects (a walk of them all: ~20 ms at 5,000 agents)
RECLAIM_GROWTH = 0.25  # the frozen grown by a quarter: one collection of everything (CPython's own rule for a full one)


class GcSettle:
    """The collector walks only what is new: ``start`` freezes what was built before the first snapshot (``gc.freeze``:
    out of the generations, for good) and lets a full collection wait for 100 younger ones, not 10; ``settle``
    (once the first agents are placed, then every ``every_s`` seconds) collects what is not frozen (what was
    made since the last settle: a full collection of that only) and freezes what survived. An object frozen is
    still freed when nothing refers to it (a snapshot's models replaced, a drawing evicted from its cache); only
    a cycle that became garbage after a settle stays (with the caches untangled and one reverts reader, the
    start-up's restyled nodes: ~1,700 objects in 10 minutes at 5,000 agents). So that such cycles cannot pile
    up, once the frozen objects have grown by a quarter since the last time, a settle unfreezes everything
    first: one collection of the whole heap (~200-350 ms at 5,000 agents), a backstop not reached in 10 min.
    The C heap's side goes with it (``heap.HeapPolicy``: big blocks mapped on their own from ``start``, free
    pages given back at a settle every ~10 s).

    A settle's cost is what it walks: every 5 s at 5,000 agents ~68,000 objects (60-110 ms), most of them made at
    once by the full agents part. Once ``arm``ed, a settle is also asked for (``on_pile``, called from the
    collector's callback: it should only schedule one) when ``pile`` younger collections have run since the last
    full one, so that a settle walks a part of that (~10,000-20,000 objects, 10-25 ms), not the whole of it."""

    def __init__(
        self,
        every_s: float = SETTLE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        pile: int = SETTLE_PILE,
        on_pile: Callable[[], None] | None = None,
        heap: HeapPolicy | None = None,
    ) -> None:
        self.heap = heap if heap is not None else HeapPolicy(clock)  # the C heap's side (``heap``)
        self.every_s = every_s
        self.clock = clock
        self.pile = pile
        self.on_pile = on_pile
        self.armed = False  # asks for a settle when the young collections pile up (``arm``)
        self._asked = False  # one asked for and not done yet
        self._checked = clock()  # when the frozen objects were last counted
        self.last = clock()
        self.settles = 0  # settles done
        self.collected = 0  # unreachable objects found by them
        self.reclaims = 0  # settles that collected everything (the frozen had grown by a quarter)
        self.frozen_after: int | None = None  # the frozen objects after the first settle, or the last reclaim
        self._threshold: tuple[int, int, int] | None = None

    def start(self) -> None:
        untangle_strips()
        untangle_lru_caches()
        self._threshold = gc.get_threshold()
        young, middle, _ = self._threshold
        gc.set_threshold(young, middle, FULL_GC_AFTER)
        self.heap.start()
        gc.freeze()
        self.last = self.clock()
        gc.callbacks.append(self._collected)

    def arm(self) -> None:
        """From now on, ask for a settle when the young collections pile up (``on_pile``)."""
        self.armed = True

    def _collected(self, phase: str, info: dict) -> None:
        if phase != "stop" or info["generation"] != 1 or not self.armed or self._asked or self.on_pile is None:
            return
        if gc.get_count()[2] >= self.pile:
            self._asked = True
            self.on_pile()

    def due(self) -> bool:
        return self.clock() - self.last >= self.every_s

    def settle(self, young: bool = False) -> None:
        """Collect what is not frozen, then freeze what survived. ``young``: collect the two younger generations
        only (the start-up's slices: what they built was made to last, and a full collection of it, ~45,000
        objects of the first snapshot at 5,000 agents, was a frame of ~100 ms; a cycle that became garbage in
        the oldest generation meanwhile is frozen with it, once, and reclaimed with the rest)."""
        check = not young and self.frozen_after is not None and self.clock() - self._checked >= RECLAIM_CHECK_S
        if check:
            self._checked = self.clock()
        reclaim = check and gc.get_freeze_count() > self.frozen_after * (1 + RECLAIM_GROWTH)  # type: ignore[operator]
        if reclaim:
            gc.unfreeze()
            self.reclaims += 1
        self.collected += gc.collect(1 if young else 2)
        gc.freeze()
        if young:
            return
        self._asked = False
        self.heap.trim()
        if reclaim or self.frozen_after is None:
            self.frozen_after = gc.get_freeze_count()
            self._checked = self.clock()
        self.settles += 1
        self.last = self.clock()

    def stop(self) -> None:
        """The collector as it was: nothing frozen, its thresholds back."""
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        self.armed = False
        gc.unfreeze()
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None


_untangled = False
TEXTUAL_STRIP = (Strip.divide, Strip.crop_extend)  # Textual's own (the tests show what they kept)


def untangle_strips() -> None:
    """Strips that do not keep themselves in their own caches (see the module docstring); the same results."""
    global _untangled
    if _untangled:
        return
    divide, crop_extend = TEXTUAL_STRIP

    def divide_untangled(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
        cuts = [cut for cut in cuts if cut <= self.cell_length]
        if cuts == [self.cell_length]:
            return [self]
        return divide(self, cuts)

    def crop_extend_untangled(self: Strip, start: int, end: int, style) -> Strip:
        if start == 0 and end == self.cell_length:
            return self
        return crop_extend(self, start, end, style)

    Strip.divide = divide_untangled  # type: ignore[method-assign]
    Strip.crop_extend = crop_extend_untangled  # type: ignore[method-assign]
    _untangled = True


TEXTUAL_LRU_CLEAR = LRUCache.clear  # Textual's own (the tests show what it left)


def untangle_lru_caches() -> None:
    """LRU caches whose ``clear`` leaves no ring for the collector (see the module docstring); the same caches."""
    if LRUCache.clear is not TEXTUAL_LRU_CLEAR:
        return

    def clear_untangled(self: LRUCache) -> None:
        for link in self._cache.values():
            link.clear()  # no link refers to another: each goes when the cache lets it go
        TEXTUAL_LRU_CLEAR(self)

    LRUCache.clear = clear_untangled  # type: ignore[method-assign]
