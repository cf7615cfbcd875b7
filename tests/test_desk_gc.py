"""The desk as a process keeps its garbage collections short (``ui.gcsettle``): what it built is frozen out of the
collector's generations once its agents are shown, a settle collects what is new before freezing it, and Textual's
lines drawn no longer keep themselves alive in their own caches, nor its cleared caches their entries, nor the
desk a finished worker for each read of the pending reverts."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

from rich.segment import Segment
from textual.cache import LRUCache
from textual.strip import Strip

from wallboard.clock import ManualClock
from wallboard.ui import gcsettle
from wallboard.ui.heap import HeapPolicy
from wallboard.ui.gcsettle import GcSettle, untangle_lru_caches, untangle_strips

from .test_desk_tables import shown_line, with_agents

# the test process's malloc left as it is (``ui.heap``'s own tests show the policy in fresh interpreters)
NO_HEAP = HeapPolicy(enabled=False)


class Node:
    """An object that can be part of a reference cycle."""

    other: object = None


def cycle() -> weakref.ref:
    """A two-object reference cycle nothing else refers to: garbage only a collection frees."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


async def test_the_desk_freezes_what_it_built_once_every_agent_is_placed_and_shows_every_agent(
    redis_client, prefix, cleanup
):
    from wallboard.ui.app import build_desk_app

    from .test_tui import T0 as AT, config_for, publish, redis_url, seq_is, snapshot, token_for, until

    assert gc.get_freeze_count() == 0
    threshold = gc.get_threshold()
    snap = with_agents(snapshot(1), 300, AT, {"a299": {"name": "Zohar Z", "state": "paused", "reason": "lunch"}})
    await publish(redis_client, prefix, snap)
    app = build_desk_app(
        config_for(prefix), redis_url(), user="dana", clock=ManualClock(AT), token=token_for("dana"), settle_gc=True
    )
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, seq_is(app, 1), "the first snapshot")
            table = app.agent_table
            await until(pilot, lambda: table.row_count == 304, "every agent placed")  # 300 + Dana, Gefen, Noa, Omer
            await until(pilot, lambda: app.gc_settle.settles >= 1, "the settle after the first agents")
            # frozen: out of every generation the collector walks, the table and its rows among them
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[2] == gcsettle.FULL_GC_AFTER
            walked = {id(o) for o in gc.get_objects()}
            assert id(table) not in walked and id(table.rows) not in walked
            del walked
            # what the desk shows is every agent, in name order, the last one's state when scrolled to
            expected = sorted(snap.agents, key=lambda k: ((snap.agents[k].name or k).lower(), k))
            assert [r.key.value for r in table.ordered_rows] == expected
            table.focus()
            await pilot.press("ctrl+end")
            await pilot.wait_for_scheduled_animations()
            assert shown_line(table, "Zohar Z")[2] == "paused:lunch"
    finally:
        if app.gc_settle is not None:
            app.gc_settle.stop()
    # the desk's end gives the collector back as it was
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == threshold


def test_a_settle_collects_the_new_garbage_before_freezing_and_a_grown_frozen_heap_is_collected_whole():
    now = [0.0]
    settle = GcSettle(every_s=5, clock=lambda: now[0], heap=NO_HEAP)
    threshold = gc.get_threshold()
    try:
        settle.start()
        assert gc.get_freeze_count() > 0 and not settle.due()
        now[0] += 5
        assert settle.due()
        young = cycle()  # garbage made since the start: collected by the settle, not frozen
        settle.settle()
        assert young() is None
        assert settle.settles == 1 and settle.collected >= 2 and not settle.due()
        # a cycle alive at a settle is frozen; once garbage, a settle's collection no longer sees it
        a, b = Node(), Node()
        a.other, b.other = b, a
        held = weakref.ref(a)
        settle.settle()
        del a, b
        gc.collect()
        settle.settle()
        assert held() is not None and settle.reclaims == 0
        # the frozen objects grown by more than a quarter since the first settle: everything is collected once
        settle.frozen_after = int(gc.get_freeze_count() / (1 + gcsettle.RECLAIM_GROWTH)) - 1
        settle.settle()  # the frozen are counted once a minute (a walk of them all): not yet
        assert held() is not None and settle.reclaims == 0
        now[0] += gcsettle.RECLAIM_CHECK_S
        settle.settle()
        assert held() is None and settle.reclaims == 1
        assert settle.frozen_after == gc.get_freeze_count()
    finally:
        settle.stop()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold


def test_a_pile_of_young_collections_asks_for_one_settle_once_armed():
    """Once armed, ``SETTLE_PILE`` younger collections since the last full one ask for a settle (once, until it is
    done): the desk's settle walks a part of what a full agents part makes, not the whole of it."""
    asked: list[int] = []
    settle = GcSettle(
        every_s=5, clock=lambda: 0.0, pile=2, on_pile=lambda: asked.append(gc.get_count()[2]), heap=NO_HEAP
    )
    try:
        settle.start()
        gc.collect(1)
        gc.collect(1)
        gc.collect(1)
        assert asked == []  # not armed: the start-up settles young, in slices
        settle.arm()
        gc.collect(1)  # the fourth since the last full collection: over the pile
        gc.collect(1)
        assert asked == [4]  # asked once, not again until a settle is done
        settle.settle()
        assert gc.get_count()[2] == 0
        gc.collect(1)
        assert asked == [4]
        gc.collect(1)
        assert asked == [4, 2]
    finally:
        settle.stop()
    assert settle._collected not in gc.callbacks
    gc.collect(1)
    gc.collect(1)
    assert asked == [4, 2]  # stopped: no longer asks


def test_a_settle_asked_for_waits_for_a_quiet_moment_of_the_loop():
    """A settle asked for (by the collector's callback, or the tick) runs when its time comes in a quiet moment:
    one whose time came while the loop was busy (a full part read, whose collections asked for it) waits again,
    not run in the same wake-up as that work; once the desk ended (``GcSettle.stop``), not at all."""
    from wallboard.ui.app import DeskApp

    class Desk:  # the desk's state this uses: its settle, its loop, whether a settle is on its way
        gc_settle: GcSettle
        _settle_loop: asyncio.AbstractEventLoop
        _settle_pending = False

    settled: list[float] = []

    async def run(busy_s: float) -> float:
        loop = asyncio.get_running_loop()
        desk = Desk()
        desk._settle_loop = loop
        desk.gc_settle = GcSettle(every_s=5, heap=NO_HEAP)
        desk.gc_settle.settle = lambda young=False: settled.append(loop.time())  # type: ignore[method-assign]
        desk.gc_settle.arm()
        DeskApp._settle_soon(desk, 0.02)  # type: ignore[arg-type]
        await asyncio.sleep(0.005)
        time.sleep(busy_s)  # the loop busy past the settle's time
        end = loop.time()
        await asyncio.sleep(0.5)
        return end

    end = asyncio.run(run(0.05))
    assert len(settled) == 1 and settled[0] >= end + 0.02  # a quiet 20 ms after the busy stretch, not right after it
    settled.clear()
    end = asyncio.run(run(0.0))
    assert len(settled) == 1  # not busy: once, at its time

    async def ended() -> None:
        desk = Desk()
        desk._settle_loop = asyncio.get_running_loop()
        desk.gc_settle = GcSettle(every_s=5, heap=NO_HEAP)
        desk.gc_settle.settle = lambda young=False: settled.append(0.0)  # type: ignore[method-assign]
        desk.gc_settle.arm()
        DeskApp._settle_soon(desk, 0.02)  # type: ignore[arg-type]
        desk.gc_settle.stop()
        await asyncio.sleep(0.1)

    settled.clear()
    asyncio.run(ended())
    assert settled == []


def test_untangled_strips_cut_and_crop_as_before_without_keeping_themselves():
    untangle_strips()
    segments = [Segment("abc"), Segment("defghij")]
    strip = Strip(segments, 10)
    # a cut at its own length, a crop over its own length: the strip itself, no cache entry pointing back
    assert strip.divide([10]) == [strip] and strip.divide([10, 12]) == [strip]
    assert strip.crop_extend(0, 10, None) is strip
    assert not reaches_itself(strip)
    # the same cut and crop by Textual's own code kept the strip in its caches (what made each a cycle)
    tangled = Strip(segments, 10)
    divide, crop_extend = gcsettle.TEXTUAL_STRIP
    divide(tangled, [10])
    crop_extend(tangled, 0, 10, None)
    assert reaches_itself(tangled)
    # other cuts and crops: the text cut where asked (counted by hand), as Textual cuts it
    assert [s.text for s in strip.divide([3, 10])] == ["abc", "defghij"]
    assert [s.text for s in strip.divide([2, 5, 10])] == ["ab", "cde", "fghij"]
    assert strip.crop_extend(2, 6, None).text == "cdef"
    assert strip.crop_extend(8, 13, None).text == "ij   "


def reaches_itself(obj: object, depth: int = 6) -> bool:
    """``obj`` among what it refers to, directly or through up to ``depth`` objects: a reference cycle."""
    seen: set[int] = set()
    level = [obj]
    for _ in range(depth):
        level = [r for o in level for r in gc.get_referents(o) if id(r) not in seen and not seen.add(id(r))]
        if any(r is obj for r in level):
            return True
    return False


def test_an_untangled_lru_cache_clears_without_a_ring_for_the_collector_and_caches_as_before():
    untangle_lru_caches()
    gc.disable()  # what is freed below is freed by its reference count alone
    try:
        cache: LRUCache[int, Node] = LRUCache(2)
        values = [Node(), Node(), Node()]
        held = [weakref.ref(v) for v in values]
        for i in range(3):
            cache.set(i, values[i])
        # two kept, the oldest one evicted (as Textual's cache does)
        assert sorted(cache.keys()) == [1, 2] and cache.get(0) is None and cache.get(2) is values[2]
        del values
        assert held[0]() is None
        cache.clear()
        assert held[1]() is None and held[2]() is None and len(cache) == 0
        cache.set(5, Node())
        assert list(cache.keys()) == [5]
        # Textual's own clear left the ring of links (each refers to the next): the entries live until a collection
        tangled: LRUCache[int, Node] = LRUCache(2)
        kept = Node()
        ref = weakref.ref(kept)
        tangled.set(0, kept)
        tangled.set(1, Node())
        del kept
        gcsettle.TEXTUAL_LRU_CLEAR(tangled)
        assert ref() is not None
        gc.collect()
        assert ref() is None
    finally:
        gc.enable()


async def test_the_desk_reads_the_pending_reverts_after_each_agents_part_by_one_worker(redis_client, prefix, cleanup):
    from wallboard.keys import Keys

    from .test_tui import T0 as AT, make_app, publish, seq_is, snapshot, until

    keys = Keys(prefix)
    revert = '{"request": "1-0", "user": "dana", "agent": "1001", "queue": "support", "op": "remove"}'
    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, ManualClock(AT))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, seq_is(app, 1), "the first snapshot")
        await until(pilot, lambda: any(w.group == "reverts" for w in app.workers), "the reverts read")
        [reader] = [w for w in app.workers if w.group == "reverts"]
        assert app.reverts == {}
        # a revert written, then an agents part: read after it, by the same worker, still running for the next
        await redis_client.zadd(keys.reverts, {revert: AT.timestamp() + 120})
        await publish(redis_client, prefix, snapshot(2))
        await until(pilot, lambda: "1001" in app.reverts, "the revert read after the second part")
        assert [(r.queue, r.op) for r in app.reverts["1001"]] == [("support", "remove")]
        await redis_client.zrem(keys.reverts, revert)
        await publish(redis_client, prefix, snapshot(3))
        await until(pilot, lambda: app.reverts == {}, "the revert gone after the third part")
        assert [w for w in app.workers if w.group == "reverts"] == [reader]
        assert reader.state.name == "RUNNING"


async def test_a_pile_of_collections_in_another_thread_asks_the_desk_s_loop_for_its_settle(
    redis_client, prefix, cleanup
):
    """The collector calls its callbacks in whichever thread collects: the terminal driver's key and writer threads
    too. A pile of young collections there asks the desk's loop for the settle (as one in the loop's thread does),
    not that thread's loop (it has none: an exception the collector could only report, and no settle asked for
    again until the next timed one)."""
    import sys
    import threading

    from wallboard.ui.app import build_desk_app

    from .conftest import redis_url
    from .test_tui import T0 as AT, config_for, publish, seq_is, snapshot, token_for, until

    await publish(redis_client, prefix, snapshot(1))
    app = build_desk_app(
        config_for(prefix), redis_url(), user="dana", clock=ManualClock(AT), token=token_for("dana"), settle_gc=True
    )
    reported: list[BaseException | None] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: reported.append(u.exc_value)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, seq_is(app, 1), "the first snapshot")
            settle = app.gc_settle
            assert settle is not None
            await until(pilot, lambda: settle.armed and settle.settles >= 1, "the start-up's settle")
            done = settle.settles

            def collect() -> None:  # as a driver thread's allocations would
                for _ in range(settle.pile + 1):
                    gc.collect(1)

            worker = threading.Thread(target=collect)
            worker.start()
            worker.join()
            await until(pilot, lambda: settle.settles > done, "the settle the pile asked for", timeout=2.0)
            assert reported == []
    finally:
        sys.unraisablehook = hook


async def test_a_settle_asked_for_while_one_waits_for_a_quiet_moment_is_the_same_settle(redis_client, prefix, cleanup):
    """A settle due is asked for at each turn of the tick (a third of a second) until it is done; one that waits for
    a quiet moment (the loop busy) outlives a turn or two. Those turns ask for the settle already on its way, not
    for more: a busy desk with one settle due settles once (each one a walk of tens of thousands of objects, at the
    very moments the loop is busy)."""
    import time

    from wallboard.ui.app import build_desk_app

    from .conftest import redis_url
    from .test_tui import T0 as AT, config_for, publish, seq_is, snapshot, token_for, until

    await publish(redis_client, prefix, snapshot(1))
    app = build_desk_app(
        config_for(prefix), redis_url(), user="dana", clock=ManualClock(AT), token=token_for("dana"), settle_gc=True
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, seq_is(app, 1), "the first snapshot")
        settle = app.gc_settle
        assert settle is not None
        await until(pilot, lambda: settle.armed and settle.settles >= 1, "the start-up's settle")
        settle.pile = 10**9  # (no settle asked for by the collector's callback here)
        loop = asyncio.get_running_loop()
        busy_until = loop.time() + 1.2

        def busy() -> None:  # the loop busy: 25 ms of work every 5 ms (a large part read, frames)
            time.sleep(0.025)
            if loop.time() < busy_until:
                loop.call_later(0.005, busy)

        done = settle.settles
        settle.last -= settle.every_s  # one settle due
        busy()
        await asyncio.sleep(2.5)  # the busy second, the waits, and a second more
        assert settle.settles - done == 1
