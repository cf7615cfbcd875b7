"""The desk as a process keeps its garbage collections short (``ui.gcsettle``): what it built is frozen out of the
collector's generations once its agents are shown, a settle collects what is new before freezing it, and Textual's
lines drawn no longer keep themselves alive in their own caches."""

from __future__ import annotations

import gc
import weakref

from rich.segment import Segment
from textual.strip import Strip

from wallboard.clock import ManualClock
from wallboard.ui import gcsettle
from wallboard.ui.gcsettle import GcSettle, untangle_strips

from .test_desk_tables import shown_line, with_agents


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
    settle = GcSettle(every_s=5, clock=lambda: now[0])
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
        settle.settle()
        assert held() is None and settle.reclaims == 1
        assert settle.frozen_after == gc.get_freeze_count()
    finally:
        settle.stop()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold


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
