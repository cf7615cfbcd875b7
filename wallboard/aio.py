"""asyncio helpers."""

from __future__ import annotations

import asyncio
import signal
from typing import Awaitable, TypeVar

T = TypeVar("T")


async def wait_for(aw: Awaitable[T], timeout: float | None) -> T:
    """Like ``asyncio.wait_for``, raising TimeoutError, but built on ``asyncio.timeout``: on Python 3.11
    ``wait_for`` can swallow a cancellation that races with the awaited result (gh-86296), which leaves a
    cancelled reader running forever."""
    if timeout is None:
        return await aw
    async with asyncio.timeout(timeout):
        return await aw


async def cancel_and_wait(*tasks: asyncio.Task, grace_s: float = 0.5) -> None:
    """Cancel tasks and wait until they are done, cancelling again if one swallowed it (a cancellation can
    be lost in a timeout race on Python 3.11), so a stop never hangs on a reader."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=grace_s)
    for t in tasks:  # an error it ended with is the stop's business no more (and not "never retrieved")
        if not t.cancelled():
            t.exception()


def cancellation_pending() -> bool:
    """True inside a task that was asked to stop but is still running: a ``CancelledError`` was swallowed on
    the way (redis-py can turn one into a ConnectionError when it races a connect timeout on Python 3.11), so a
    retry loop that caught "connection lost" must stop instead of trying again."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: synchronous code
        return False
    return task is not None and task.cancelling() > 0


def stop_on_signals(stop: asyncio.Event | None = None) -> asyncio.Event:
    """``stop`` (or a new event), set by SIGTERM (systemd's stop) or SIGINT (Ctrl-C) in the running loop; off
    the main thread (tests drive a service in a thread) no handler can be installed and nothing is."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    return stop
