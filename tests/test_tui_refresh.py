"""Periodic refreshes (the 1 s tick, the flash timer, a snapshot's render) against screens that are not mounted
yet or any more: a drill-down pushed but not composed, one being taken down, one never pushed. Provoked
deterministically: each refresh is called by hand at the exact moment, between the push (or pop) and the
event loop running it, rather than hoping a timer lands there."""

from __future__ import annotations

import pytest

from .test_tui_actions import SIZE, Floor, _config, agents_seq, make_app, secret_env, until  # noqa: F401

START_OFFSET_S = 5


@pytest.fixture
async def floor(redis_client, prefix, secret_env):  # noqa: F811 (the fixture imported above)
    from wallboard.clock import ManualClock

    from .test_tui_actions import START

    f = Floor(redis_client, _config(prefix), ManualClock(START))
    await f.start()
    yield f
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis_client.unlink(*keys)


def every_periodic_refresh(app) -> None:
    """What timers and messages call, all of them, now."""
    app.tick()  # the 1 s timer
    app.flash_tick()  # the flash timer
    app.set_flash_phase(not app.flash_on)
    app.render_all()  # a snapshot arrived
    app._set_stale(True)
    app._set_stale(False)


async def test_refreshes_between_push_and_compose_and_after_pop_do_not_crash(floor):
    from textual.widgets import Static

    from wallboard.ui.screens import DrillDownScreen

    app = make_app(floor, "rivka")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, agents_seq(app, 1), "the first snapshot")

        never = DrillDownScreen("support")  # never pushed: nothing to show, nothing raised
        never.refresh_view()

        screen = DrillDownScreen("support")
        waiter = app.push_screen(screen)
        assert screen in app.screen_stack and not screen.query("#drill-title")  # pushed, not composed
        every_periodic_refresh(app)
        screen.refresh_view()
        await waiter
        await pilot.pause()
        assert app.screen is screen
        title = str(screen.query_one("#drill-title", Static).render())
        assert "(support)" in title  # shown once composed

        # composed, then its widgets taken away under it (as while the screen is torn down): no NoMatches
        await screen.query_one("#drill-title").remove()
        every_periodic_refresh(app)

        done = app.pop_screen()  # being popped: the stack changes before the screen is unmounted
        every_periodic_refresh(app)
        await done
        await pilot.pause()
        every_periodic_refresh(app)
        screen.refresh_view()  # popped and unmounted
        assert app.screen is app.screen_stack[0] and app.is_running and app.return_code is None

        # a drill-down pushed and popped in one go, ticks in between, over and over
        for _ in range(5):
            s = DrillDownScreen("tech")
            app.push_screen(s)
            every_periodic_refresh(app)
            app.pop_screen()
            every_periodic_refresh(app)
        await pilot.pause()
        assert app.is_running and app.screen is app.screen_stack[0]
