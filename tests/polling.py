"""The one way a test waits: look for the condition often, up to a deadline, and fail naming what never came.

Never a fixed sleep then an assertion: on a fast machine it wastes the sleep, on a loaded one it fails. A test
that asserts something does NOT happen first polls for a positive marker that the system has gone past the point
where it would have happened (a cursor saved, a later event applied, a newer snapshot), then asserts.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


def _failure(what: str, timeout: float, last: Any) -> AssertionError:
    seen = "" if last is None or last is False else f" (last seen: {last!r:.300})"
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}{seen}")


async def until(
    predicate: Callable[[], Any],
    what: str = "the condition",
    *,
    timeout: float = 10.0,
    every: float = 0.01,
    pilot: Any = None,
    check: Callable[[], Any] | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
) -> Any:
    """Poll ``predicate()`` (its result may be awaited) until it is true, and return that result.

    ``pilot``: a Textual pilot, whose ``pause`` lets the app run between looks (and once more at the end, so
    what the condition set off is rendered). ``check()`` runs before each look, e.g. to raise a background task's
    failure at once instead of waiting out the deadline. An exception in ``ignoring`` (a server still starting)
    counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        try:
            got = predicate()
            if inspect.isawaitable(got):
                got = await got
        except ignoring as e:
            got = e
        if got and not isinstance(got, BaseException):
            if pilot is not None:
                await pilot.pause()
            return got
        if time.monotonic() > deadline:
            raise _failure(what, timeout, got)
        if pilot is not None:
            await pilot.pause(every)
        else:
            await asyncio.sleep(every)


def wait_until(
    predicate: Callable[[], Any],
    what: str = "the condition",
    *,
    timeout: float = 10.0,
    every: float = 0.01,
    ignoring: tuple[type[BaseException], ...] = (),
) -> Any:
    """``until`` for a test without an event loop (subprocesses, the sync Redis client)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = predicate()
        except ignoring as e:
            got = e
        if got and not isinstance(got, BaseException):
            return got
        if time.monotonic() > deadline:
            raise _failure(what, timeout, got)
        time.sleep(every)


def task_failed(task: asyncio.Task) -> Callable[[], None]:
    """A ``check`` for ``until``: raise the task's exception as soon as it has failed (or stopped early)."""

    def check() -> None:
        if task.done():
            task.result()
            raise AssertionError(f"{task.get_name()} stopped early")

    return check


async def settle(figures: Callable[[], Any], *, pbx: Any = None, what: str = "the feed", timeout: float = 15.0) -> None:
    """Stop the clock, then wait until a simulated PBX's model has reached its clock (its step loop lags on a
    loaded machine) and ``await figures()`` holds still for 1.2 s: longer than a second, as a quiet PBX feed
    looks for due wrap-up ends at least once a second of real time (the wait it set while the manual clock
    still ran at hundreds of simulated seconds a real one)."""
    last, still = None, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        if pbx is not None and pbx.centre.now < pbx.sim_time():
            still = 0
            continue
        figs = await figures()
        still = still + 1 if figs == last else 0
        if still >= 12:
            return
        last = figs
    raise AssertionError(f"{what} did not settle within {timeout:g} s")
