"""``wallboard board`` (the TV terminal) under Pilot, at three terminal sizes, against a real Redis.

Summaries are hand-built and published the way the engine does; the app runs on a ManualClock, so ticking,
rotation, staleness and the flash phase move only when the test moves the clock (no sleeps for them).
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path


from rich.cells import cell_len

from wallboard.clock import ManualClock
from wallboard.projection import FIGURE_FORMAT
from wallboard.ticker import ticker_key
from wallboard.keys import Keys
from wallboard.ui.bigdigits import render_big, rows_for, width_units
from wallboard.ui.board import BigNumber, BoardApp, FigureCell, QueueCard, plan_board

from . import polling
from .tvdata import (
    UNMASKED,
    breach,
    four_queues,
    iso,
    make_queue,
    make_summary,
    now_utc,
    publish,
    tv_config,
)

SIZES = [(80, 24), (160, 48), (480, 135)]  # a small terminal, a large one, a 4K console (8x16 font)
FORMATS = [FIGURE_FORMAT[f] for f in ("waiting", "longest_wait_s", "service_level", "agents_available")]


async def until(pilot, cond, timeout: float = 5.0) -> None:
    await polling.until(cond, "the board to show it", timeout=timeout, every=0.02, pilot=pilot)


def card_for(app: BoardApp, queue: str) -> QueueCard:
    return next(c for c in app.query(QueueCard) if c.queue == queue)


def values(card: QueueCard) -> list[str]:
    return [cell.number.value for cell in card.cells]


def labels(card: QueueCard) -> list[str]:
    return [str(cell.label.render()) for cell in card.cells]


def screen_text(app: BoardApp) -> str:
    return "\n".join(str(w.render()) for w in app.query("Static"))


# ---- the digit renderer and the page plan (pure) ------------------------------------------------------------


def test_block_digits_scale():
    one = render_big("12:34", 1)
    assert len(one) == rows_for(1) == 3 and {len(line) for line in one} == {width_units("12:34")}
    four = render_big("100%", 4)
    assert len(four) == rows_for(4) == 10 and {len(line) for line in four} == {4 * width_units("100%")}
    assert set("".join(four)) <= {"█", "▀", "▄", " "}


def test_plan_pages_when_queues_do_not_fit():
    small = plan_board(80, 22, 10, FORMATS)
    assert small.scale >= 1 and small.per_page < 10  # ten queues rotate on an 80x24 terminal
    big = plan_board(480, 133, 4, FORMATS)
    assert big.per_page == 4 and big.scale >= 5  # a 4K console shows all four, large
    assert plan_board(480, 133, 4, FORMATS, per_page=1).per_page == 1


# ---- the app ------------------------------------------------------------------------------------------------


async def test_board_at_three_sizes(redis_client, prefix, cleanup):
    """The numbers of the snapshot, huge and the same scale everywhere, growing with the terminal; the
    breach red; the longest wait ticking from server time; no caller number anywhere."""
    config = tv_config(prefix)
    t0 = now_utc().replace(microsecond=0)
    await publish(redis_client, prefix, four_queues(1, t0, **breach("service_level", t0)))
    scales = []
    for width, height in SIZES:
        clock = ManualClock(t0)
        # the figures alone (no total tile, no agents row): this test is about the digits' scale
        layout = config.layout("floor").model_copy(update={"show_total": False, "agent_states": False})
        app = BoardApp(config, redis_client, layout, clock)
        async with app.run_test(size=(width, height)) as pilot:
            await until(pilot, lambda: app.projection is not None)
            await pilot.pause(0.1)
            support, tech = card_for(app, "support"), card_for(app, "tech")
            assert values(support) == ["3", "1:14", "62%", "0"]
            assert values(tech) == ["1", "0:12", "91%", "2"]
            numbers = list(app.query(BigNumber))
            assert len({b.scale for b in numbers}) == 1  # one scale for the whole board
            scales.append(numbers[0].scale)
            for b in numbers:  # every number drawn fits its box, every card fits the screen
                lines = str(b.render()).split("\n")
                assert len(lines) <= b.content_size.height and max(map(len, lines)) <= b.content_size.width
            for card in app.query(QueueCard):
                assert app.screen.region.contains_region(card.region)
            assert support.has_class("-breach") and not tech.has_class("-breach")
            sl = support.cells[2]
            assert sl.has_class("-breach") and sl.has_class("-flash")
            assert support.cells[0].has_class("-ok")
            # the rolling window its threshold reads, and the target, whole or short; never cut
            assert re.fullmatch(r"■ (Service level|SL)( · 30 min| 30m) / 80%( \(today 62%\))?", labels(support)[2]), (
                labels(support)
            )
            for card in app.query(QueueCard):
                for c in card.cells:
                    assert "…" not in str(c.label.render()) and cell_len(str(c.label.render())) <= c.label.size.width
            clock.advance(2)
            app.tick()
            assert values(support)[1] == "1:16"  # ticks locally from server time
            assert UNMASKED not in screen_text(app)
            assert app.animation_level == "none"
            app.save_screenshot(str(_artifacts() / f"board_{width}x{height}.svg"))
    assert scales[0] >= 1 and scales[0] < scales[1] < scales[2], scales


async def test_board_flashes_at_most_2hz_and_shows_ack_and_snooze(redis_client, prefix, cleanup):
    config = tv_config(prefix, display={"flash_hz": 2})
    t0 = now_utc().replace(microsecond=0)
    clock = ManualClock(t0)
    app = BoardApp(config, redis_client, config.layout("floor"), clock)
    await publish(redis_client, prefix, four_queues(1, t0, **breach("service_level", t0)))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.projection is not None)
        assert len(app.flashing_cells()) == 1
        phases = []
        for _ in range(40):  # two seconds of server time in 50 ms steps
            clock.advance(0.05)
            app.flash_tick()
            phases.append(app.flash_on)
        changes = sum(1 for a, b in zip(phases, phases[1:]) if a != b)
        assert 6 <= changes <= 8  # 2 Hz: on and off twice a second, never faster
        runs, run = [], 1
        for a, b in zip(phases, phases[1:]):
            if a == b:
                run += 1
            else:
                runs.append(run)
                run = 1
        assert min(runs[1:]) >= 5  # each phase lasts a quarter second (5 steps of 50 ms)
        assert app.has_class("-flash-on") == app.flash_on

        # acknowledged: the colour stays, the flashing stops, the name shows
        await publish(
            redis_client, prefix, four_queues(2, clock.now(), **breach("service_level", t0, acked_by="rivka"))
        )
        await until(pilot, lambda: app.summary.seq == 2)
        sl = card_for(app, "support").cells[2]
        assert sl.has_class("-breach") and not sl.has_class("-flash") and sl.has_class("-quiet")
        assert re.search(r"✓ (ack )?rivka / 80%", str(sl.label.render()))  # (short at this size: "✓ rivka")
        assert not app.flashing_cells() and not app.flash_on and not app._flash_timer._active.is_set()

        # snoozed for a minute: quiet with its end shown, then flashing again once it has run out
        until_t = clock.now() + timedelta(seconds=60)
        await publish(
            redis_client, prefix, four_queues(3, clock.now(), **breach("service_level", t0, snoozed_until=until_t))
        )
        await until(pilot, lambda: app.summary.seq == 3)
        sl = card_for(app, "support").cells[2]
        assert not sl.has_class("-flash") and re.search(
            f"⏸ (snoozed to )?{iso(until_t)[11:16]}", str(sl.label.render())
        )
        clock.advance(61)  # the same snooze in a fresh snapshot (a stale board flashes nothing)
        await publish(
            redis_client, prefix, four_queues(4, clock.now(), **breach("service_level", t0, snoozed_until=until_t))
        )
        await until(pilot, lambda: app.summary.seq == 4)
        app.tick()
        assert sl.has_class("-flash") and app._flash_timer._active.is_set()


async def test_board_rotates_pages_and_shows_ticker_and_stale(redis_client, prefix, cleanup):
    config = tv_config(prefix)
    t0 = now_utc().replace(microsecond=0)
    clock = ManualClock(t0)
    app = BoardApp(config, redis_client, config.layout("single"), clock)  # one queue per page, 1 s each
    await publish(redis_client, prefix, four_queues(1, t0))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.projection is not None)
        assert app.pages == 3 and len(list(app.query(QueueCard))) == 1
        seen = []
        for _ in range(3):
            seen.append(card_for(app, app.query_one(QueueCard).queue).queue)
            assert f"page {app.page + 1}/3" in str(app.query_one("#pageno").render())
            clock.advance(1)
            app.tick()
        assert sorted(seen) == ["billing", "support", "tech"]  # every queue in turn, in step with server time

        await publish(redis_client, prefix, four_queues(2, clock.now()))  # fresh again (3 s went by)
        await until(pilot, lambda: app.summary.seq == 2 and not app.stale)
        await redis_client.set(ticker_key(Keys(prefix)), "Team meeting at 14:00")
        await until(pilot, lambda: app.ticker == "Team meeting at 14:00")
        ticker = app.query_one("#ticker")
        assert ticker.display and "Team meeting at 14:00" in str(ticker.render())

        assert not app.stale
        t2 = clock.now()
        clock.advance(config.display.stale_after_s + 0.5)
        app.tick()
        badge = app.query_one("#stale")
        assert app.stale and badge.display and f"STALE — no data since {iso(t2)[11:19]}" in str(badge.render())
        # the ticker row says it in words, counting; the figures are struck through
        assert str(ticker.render()) == f"NO DATA FOR 2 s · last update {iso(t2)[11:19]}"
        assert all(c.number.stale for c in app.query(FigureCell))
        await publish(redis_client, prefix, four_queues(3, clock.now()))
        await until(pilot, lambda: not app.stale)
        assert not badge.display


async def test_board_hebrew_labels_and_closed_queue(redis_client, prefix, cleanup):
    config = tv_config(prefix)
    t0 = now_utc().replace(microsecond=0)
    summary = make_summary(
        1,
        t0,
        {
            "support": make_queue("Customer service", t0, waiting_since_s=(30,)),
            "tech": make_queue("Technical", t0, open_=False),
        },
    )
    await publish(redis_client, prefix, summary)
    # logical order here (a terminal that does bidi itself); test_board_hebrew_visual_order checks the default
    app = BoardApp(config, redis_client, config.layout("floor-he"), ManualClock(t0), bidi="terminal")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.projection is not None)
        support, tech = card_for(app, "support"), card_for(app, "tech")
        assert "שירות לקוחות" in str(support.query_one(".qname").render())
        assert labels(support)[0].startswith("ממתינים")
        assert tech.has_class("-closed") and "סגור" in str(tech.query_one(".qname").render())
        assert all(cell.has_class("-closed") for cell in tech.cells)
        assert not app.flashing_cells()


def test_board_command_refuses_an_unknown_layout():
    wallboard = Path(sys.executable).with_name("wallboard")
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [str(wallboard), "board", "--config", str(root / "config" / "wallboard.toml"), "--layout", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no layout 'nope'" in proc.stderr and "floor" in proc.stderr


def _artifacts() -> Path:
    out = Path(__file__).resolve().parent / "artifacts"
    out.mkdir(exist_ok=True)
    return out


async def test_board_hebrew_visual_order_and_scrolling_ticker(redis_client, prefix, cleanup):
    """In a terminal without bidi (tmux, xterm, the Linux console) Hebrew is sent in display order, read right
    to left; the first queue is on the right; a ticker wider than the terminal scrolls on server time."""
    config = tv_config(prefix)
    t0 = now_utc().replace(microsecond=0)
    clock = ManualClock(t0)
    await publish(
        redis_client,
        prefix,
        make_summary(
            1,
            t0,
            {
                "support": make_queue(
                    "Customer service", t0, waiting_since_s=(30, 20), sl=0.5, **breach("service_level", t0)
                ),
                "tech": make_queue("Technical", t0),
            },
        ),
    )
    message = "ישיבת צוות בשעה 14:00 — נא לעדכן זמינות במערכת לפני תחילת המשמרת"
    await redis_client.set(ticker_key(Keys(prefix)), message)
    app = BoardApp(config, redis_client, config.layout("floor-he"), clock)  # bidi: visual, the default
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.projection is not None and app.ticker == message)
        await pilot.pause(0.1)
        support, tech = card_for(app, "support"), card_for(app, "tech")
        # each name reversed letter by letter (what a non-bidi terminal needs to show it right to left)
        assert "שירות לקוחות"[::-1] in str(support.query_one(".qname").render())
        assert support.region.x > tech.region.x  # the first queue on the right
        assert str(support.cells[0].label.render()).rstrip().endswith("ממתינים"[::-1])
        # the message, then the alert line; the numbers keep their left-to-right order
        line = f"{message}   •   שירות לקוחות: 2 ממתינים, רמת שירות 50%"
        assert app.ticker_line() == line
        from bidi.algorithm import get_display

        shown = [str(app.query_one("#ticker").render())]
        assert len(shown[0]) <= 80 and "14:00" in get_display(line, base_dir="R")
        for _ in range(3):  # a quarter second of server time: two columns further, to the right (reading RTL)
            clock.advance(0.25)
            app.render_ticker()
            shown.append(str(app.query_one("#ticker").render()))
        assert len(set(shown)) == 4
        assert shown[1][2:] == shown[0][: len(shown[1]) - 2]  # moved right by two columns
        app.save_screenshot(str(_artifacts() / "board_he_80x24.svg"))


async def test_board_follows_a_new_run_whose_seq_starts_again(redis_client, prefix, cleanup):
    """The demo quit and started again (or a namespace wiped, a fresh Redis): the new run's seq is lower than
    the one held, its snapshot later. The board takes it at once, then its deltas; a late old one is refused."""
    from .tvdata import publish_delta, publish_late

    config = tv_config(prefix)  # display.stale_after_s = 2
    t0 = now_utc().replace(microsecond=0)
    clock = ManualClock(t0)
    app = BoardApp(config, redis_client, config.layout("floor"), clock)
    await publish(redis_client, prefix, four_queues(500, t0))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.summary is not None and app.summary.seq == 500)
        clock.advance(config.display.stale_after_s + 1)  # the old run quit: nothing more comes
        app.tick()
        assert app.stale
        await publish(redis_client, prefix, four_queues(3, clock.now(), waiting_since_s=(9,)))
        await until(pilot, lambda: app.summary.seq == 3 and not app.stale)
        assert values(card_for(app, "support"))[0] == "1"
        clock.advance(1)
        await publish_delta(
            redis_client, prefix, four_queues(4, clock.now(), waiting_since_s=(10, 1)), changed=("support",)
        )
        await until(pilot, lambda: app.summary.seq == 4)
        assert values(card_for(app, "support"))[0] == "2" and not app.stale
        # a full one arriving late (a lower seq and older): refused (were it taken, the delta at 5 would not follow)
        await publish_late(redis_client, prefix, four_queues(2, t0 - timedelta(seconds=1)))
        clock.advance(1)
        await publish_delta(
            redis_client, prefix, four_queues(5, clock.now(), waiting_since_s=(11,)), changed=("support",)
        )
        await until(pilot, lambda: app.summary.seq == 5)
        assert values(card_for(app, "support"))[0] == "1" and not app.stale


async def test_board_takes_the_full_summary_sent_after_its_delta(redis_client, prefix, cleanup):
    """At a full publish the owner sends the delta to it first, then the full summary, both of one seq and time
    (``DeltaPublisher._send``). A queue whose callers did not change keeps in the delta its longest wait as last
    sent (it moves with the clock alone); the full summary brings it up to date, and with it the ticker's alert
    line and the trend the board keeps of it. The board reads and takes that full summary."""
    from .tvdata import publish_full_with_delta

    config = tv_config(prefix)
    t0 = now_utc().replace(microsecond=0)
    clock = ManualClock(t0)
    waits = breach("longest_wait_s", t0)  # the support queue in breach on its longest wait
    app = BoardApp(config, redis_client, config.layout("floor"), clock)
    await publish(redis_client, prefix, four_queues(3, t0, **waits))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.summary is not None and app.summary.seq == 3)
        assert [line for line in app.projection["alerts"] if "longest wait 1:14" in line]  # 74 s
        clock.advance(10)
        # nothing changed but the waits (the same three callers, the longest now 84 s): the delta names no queue
        ten = four_queues(4, clock.now(), waiting_since_s=(84, 30, 15), **waits)

        async def delta_taken() -> None:  # (a burst of parts collapses to the newest: here they come apart)
            await until(pilot, lambda: app.summary.seq == 4)

        await publish_full_with_delta(redis_client, prefix, ten, changed=(), between=delta_taken)
        await until(pilot, lambda: app.summary.queues["support"].longest_wait_s == 84.0, timeout=3)
        assert [line for line in app.projection["alerts"] if "longest wait 1:24" in line]
        # the trend arrows compare each figure with its value then: the longest wait at this time is 84 s
        assert app.trends.values[("support", "longest_wait_s")][-1] == (ten.at.timestamp(), 84.0)
