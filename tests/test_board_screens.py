"""The terminal board's canonical screens: the demo's floor layout in English and Hebrew at 80x24 and 160x48,
kept as SVG snapshots (tests/__snapshots__/test_board_screens/) so a change to what the floor sees fails here;
every label and agents row whole (the shorter forms of ``catalog.TV_SHORT`` when the tile is narrow, never an
ellipsis); and the pure fitting rules with hand-worked widths."""

from __future__ import annotations

import re

from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis as sync_redis
from rich.cells import cell_len

from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.keys import Keys
from wallboard.projection import UI_TEXT
from wallboard.snapshot import Summary
from wallboard.ticker import ticker_key
from wallboard.ui.board import (
    BigNumber,
    BoardApp,
    FitText,
    QueueCard,
    agent_rows,
    agent_variants,
    build_board_app,
    cut,
    figure_label_variants,
    fit,
    visual,
    wrap_units,
)

from . import polling
from .conftest import redis_url
from .tvdata import demo_floor

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "wallboard" / "data" / "demo.toml"
T0 = datetime(2026, 11, 23, 9, 15, 0, tzinfo=timezone.utc)  # 11:15 on the centre's clock (Asia/Jerusalem)
SIZES = [(80, 24), (160, 48)]


# ---- the fitting rules (pure, widths counted by hand) ----------------------------------------------------------


def test_fit_takes_the_first_variant_that_fits_else_cuts_the_last_in_reading_order():
    assert fit(["Service level", "SL"], 13) == "Service level"
    assert fit(["Service level", "SL"], 12) == "SL"
    assert fit(["Service level", "Service lvl"], 8) == "Service…"  # neither fits: the last, cut to 8 cells
    assert cut("abcdef", 4) == "abc…" and cut("abc", 4) == "abc"
    # a Hebrew text is cut at its logical end, which a non-bidi terminal draws on the left
    hebrew = cut("שירות לקוחות", 7)
    assert hebrew == "שירות…" and visual(hebrew, rtl=True).startswith("…")
    assert fit(["a b c d", "a b\nc d"], 3, height=2) == "a b\nc d"  # several lines when the box has the rows


def test_figure_label_keeps_the_target_and_sheds_words_in_order():
    words = UI_TEXT["en"]
    v = figure_label_variants(
        "Service level",
        "en",
        words,
        icon="■ ",
        window_min=30,
        acked_by="rivka",
        target="80%",
        trend=" ▼",
        other=("today", "62%"),
    )
    assert v[0] == "■ Service level · 30 min  ✓ ack rivka / 80% ▼ (today 62%)"
    assert v[-1] == "■ SL ✓ / 80% ▼"
    assert all("/ 80%" in x for x in v)  # the target beside the figure, in every form
    assert fit(v, 24) == "■ SL 30m ✓ rivka / 80% ▼"  # 24 cells: the window and who acknowledged stay
    assert fit(v, 19) == "■ SL 30m ✓ / 80% ▼"  # 18 cells: the acknowledgement's mark stays
    he = figure_label_variants("רמת שירות", "he", UI_TEXT["he"], window_min=30, target="80%")
    # the Hebrew short form abbreviates the first word ("שירות" alone reads "service"), the minutes keep their word
    assert he == ["רמת שירות · 30 דק׳ / 80%", "רמת שירות 30 דק׳ / 80%", "ר. שירות 30 דק׳ / 80%", "ר. שירות / 80%"]


def test_agents_row_wraps_whole_states_when_the_tile_is_narrow():
    counts = {"available": 0, "on_call": 4, "wrap_up": 1, "paused": 2, "logged_in": 12}
    assert wrap_units(["0 free", "4 on call", "1 wrap-up"], 18) == ["0 free  4 on call", "1 wrap-up"]
    one_line = "0 free  4 on call  1 wrap-up  2 paused  12 logged in"  # 52 cells
    assert fit(agent_variants(counts, "en", 78), 78) == one_line
    narrow = fit(agent_variants(counts, "en", 18), 18, height=3)
    assert narrow == "0 free 4 on call\n1 wrap-up 2 paused\n12 logged in"  # two spaces would take four rows
    assert agent_rows("en", 78) == 1 and agent_rows("en", 18) == 3 and agent_rows("he", 18) == 3


# ---- the demo's floor layout, as the floor sees it ---------------------------------------------------------------


def _demo_config(prefix: str):
    return load_config(DEMO, redis={"prefix": prefix, "url": redis_url()})


def _floor_summary(seq: int = 7) -> Summary:
    return demo_floor(seq, T0)


def _store(prefix: str, summary: Summary, ticker: str | None = None) -> None:
    r = sync_redis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        r.set(Keys(prefix).summary, summary.model_dump_json())
        if ticker:
            r.set(ticker_key(Keys(prefix)), ticker)
    finally:
        r.close()


def _board(prefix: str, layout: str) -> BoardApp:
    config = _demo_config(prefix)
    return build_board_app(config, config.layout(layout), redis_url(), clock=ManualClock(T0))


async def _shown(pilot) -> None:
    app = pilot.app
    await polling.until(
        lambda: app.projection is not None and all(c.queue for c in app.query(QueueCard)),
        "the board to show the stored snapshot",
        timeout=10,
        every=0.02,
        pilot=pilot,
    )
    await pilot.pause()


@pytest.mark.parametrize("layout", ["floor", "floor-he"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_svg_floor(snap_compare, namespace, layout, size):
    _store(namespace, _floor_summary())
    assert snap_compare(_board(namespace, layout), terminal_size=size, run_before=_shown)


@pytest.mark.parametrize("layout", ["floor", "floor-he"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_label_or_agents_row_is_cut(namespace, layout, size):
    """Every name, figure label and agents row of every tile whole: within its box, no ellipsis, every state's
    count shown; the target beside every figure that has one."""
    _store(namespace, _floor_summary())
    app = _board(namespace, layout)
    async with app.run_test(size=size) as pilot:
        await _shown(pilot)
        texts = list(app.query(FitText))
        assert texts
        for t in texts:
            lines = str(t.render()).split("\n")
            assert len(lines) <= t.size.height, (t, lines)
            for line in lines:
                assert "…" not in line and cell_len(line) <= t.size.width, (size, layout, line)
        parts = {q["name"]: len(q["agents"]) for q in app.projection["queues"]}
        if app.projection["total"] is not None:
            parts[app.projection["total"]["name"]] = len(app.projection["total"]["agents"])
        # five states on a phone queue; with room / busy / paused / logged in on a written one (free ... on the total)
        assert sorted(set(parts.values())) == [4, 5], parts
        for card in app.query(QueueCard):
            (agents,) = card.query(".agents").results(FitText)
            row = str(agents.render())
            assert len(re.findall(r"\d+", row)) == parts[card.queue], row  # every part's count
        for number in app.query(BigNumber):  # every tile shows its figures, not only their labels
            assert number.content_size.height >= 1 and number.value, (size, layout, number.value)
        support = next(c for c in app.query(QueueCard) if c.queue == "support")
        sl = str(support.cells[2].label.render())
        assert "80%" in sl and "✓" in sl, sl  # the target and the acknowledgement's mark, even at 80x24


async def test_stale_board_stops_the_ticker_and_says_so(namespace):
    """Stale: the ticker row holds the notice (no alert line of the last snapshot, no message) and stays put."""
    message = "Team meeting at 14:00 — please update your availability in the system before the shift starts"
    _store(namespace, _floor_summary(), ticker=message)
    config = _demo_config(namespace)
    clock = ManualClock(T0)
    app = build_board_app(config, config.layout("floor"), redis_url(), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await _shown(pilot)
        await polling.until(lambda: app.ticker == message, "the message", timeout=10, every=0.02, pilot=pilot)
        ticker = app.query_one("#ticker")
        assert "Customer service: 3 waiting" in app.ticker_line()
        clock.advance(config.display.stale_after_s + 1)
        app.tick()
        assert app.stale
        seen = set()
        for _ in range(4):  # half a second of server time: a live ticker would have moved four columns
            clock.advance(0.125)
            app.scroll_ticker()
            seen.add(str(ticker.render()))
        (shown,) = seen
        assert shown.startswith("NO DATA FOR ") and "Customer service" not in shown and "Team" not in shown
        assert shown.endswith("last update 11:15:00")  # 09:15Z on the centre's clock (Asia/Jerusalem, UTC+2)
        assert not app._ticker_timer._active.is_set()  # the scroll timer itself is paused


async def test_pages_share_the_queues_evenly(namespace):
    """At 120x40 a page holds the total and five queues: six queues would give pages of 5 and 1 (a page of one
    tile and a hole). They are shared 3 and 3 instead, four larger tiles a page, every queue once."""
    from wallboard.ui.board import plan_board

    rows = 40 - 2  # the top bar and the ticker row
    formats = ["count", "duration", "pct", "count"]
    assert plan_board(120, rows, 7, formats, card_extra=lambda w: agent_rows("en", w)).per_page == 6  # 5 + total
    _store(namespace, _floor_summary())
    config = _demo_config(namespace)
    clock = ManualClock(T0)
    app = build_board_app(config, config.layout("floor"), redis_url(), clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await _shown(pilot)
        assert app.pages == 2 and app.plan.per_page == 4
        seen = []
        for _ in range(2):
            shown = [c.queue for c in app.query(QueueCard) if c.queue]
            assert len(shown) == 4 and shown[0] == "__total__", shown
            seen += shown[1:]
            clock.advance(config.layout("floor").rotate_s)
            app.tick()
            await pilot.pause()
        assert sorted(seen) == sorted(q.name for q in config.queues)


def test_every_short_form_names_a_real_label_and_is_shorter():
    """``catalog.TV_SHORT``: each key is a label a screen shows (a figure's, a channel's or an agent state's),
    each short form shorter than it; a renamed label would leave its abbreviation unused, silently."""
    from wallboard import catalog
    from wallboard.projection import AGENT_LABELS

    for lang, table in catalog.TV_SHORT.items():
        shown = set(catalog.tv_labels(lang).values()) | set(AGENT_LABELS[lang].values())
        shown |= {by[lang] for m in catalog.QUEUE for by in m.by_channel.values() if lang in by}
        for full, short in table.items():
            assert full in shown, (lang, full)
            assert cell_len(short) < cell_len(full), (lang, full, short)


def test_a_hebrew_short_form_keeps_its_first_word():
    """A shortened Hebrew label keeps its meaning: its first word abbreviated ("ר. שירות"), not dropped ("שירות"
    alone reads "service"); a one-word label or a Latin acronym (CSAT) is the exception."""
    from wallboard import catalog

    for full, short in catalog.TV_SHORT["he"].items():
        first = full.split()[0]
        if " " not in full or short.isascii():
            continue
        head = short.split()[0]
        kept = first.startswith(head[:-1]) if head.endswith(".") else head in first  # "ר." of "רמת", "ותיק" of "הוותיק"
        assert kept and len(short.split()) == len(full.split()), (full, short)
