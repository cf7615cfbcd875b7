"""A cancellation lost on the way (redis-py turns one into a ConnectionError when it races a connect timeout on
Python 3.11) must not leave a retry loop running: the suite once hung for an hour on such a loop."""

from __future__ import annotations

import asyncio

from wallboard.aio import cancel_and_wait
from wallboard.backoff import Backoff


async def _swallowing_retry_loop(tries: list[int]) -> None:
    """A reader's shape: wait on Redis, on "connection lost" back off and try again. Its await turns the
    cancellation into a ConnectionError, as the race in redis-py does."""
    backoff = Backoff(0.001, 0.001)
    while len(tries) < 100:  # bounded, so that without the fix the test fails instead of hanging
        tries.append(1)
        try:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise ConnectionError("Timeout connecting to server") from None
        except ConnectionError:
            await asyncio.sleep(backoff.next())


async def test_a_retry_loop_that_lost_its_cancellation_stops_at_its_next_backoff():
    tries: list[int] = []
    task = asyncio.create_task(_swallowing_retry_loop(tries))
    await asyncio.sleep(0.01)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)  # without the check in Backoff.next the loop retries on
    assert task in done and task.cancelled() and len(tries) == 1  # stopped, and did not try again


async def test_backoff_outside_a_cancelled_task_is_the_plain_delay():
    b = Backoff(1.0, 4.0)
    delays = [b.next() for _ in range(4)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0 and 2.0 <= delays[3] <= 4.0


def test_backoff_with_no_running_loop():
    assert 0.5 <= Backoff(1.0, 4.0).next() <= 1.0


async def test_cancel_and_wait_cancels_again_a_task_that_swallowed_the_first():
    swallowed: list[int] = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            swallowed.append(1)  # lost, as in the race
        await asyncio.sleep(10)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(cancel_and_wait(task, grace_s=0.05), 2)
    assert task.cancelled() and swallowed == [1]


async def test_cancel_and_wait_stops_a_task_that_failed_without_raising_its_error():
    async def failing() -> None:
        raise ConnectionError("gone")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    await cancel_and_wait(task)  # a stop: the task's own error is not the caller's
    assert isinstance(task.exception(), ConnectionError)
