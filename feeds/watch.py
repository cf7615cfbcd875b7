"""Watching a followed file, apart from reading it: wake the reader when the file changes.

``FileChanges.wait(timeout)`` returns as soon as the file at ``path`` is written, created, moved or removed
(inotify on Linux, through ``watchfiles``, watching the directory so a rotation is seen too), or after
``timeout`` at the latest: the reader still looks now and then, for what falls due on the clock and on a file
system that sends no notifications (a network mount); there the timeout is the old polling tick.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

log = logging.getLogger(__name__)

STEP_MS = 1  # changes within a millisecond of each other wake the reader once
DEBOUNCE_MS = 10  # a file written without pause still wakes it every 10 ms


class FileChanges:
    def __init__(self, path: str | Path):
        self.path = str(Path(path).absolute())
        self.changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def wait(self, timeout: float) -> None:
        """Until the file changes or ``timeout`` passes. Whatever changes from the return on wakes the next
        call at once (the mark is cleared on waking, before the caller reads)."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name=f"watch {self.path}")
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        self.changed.clear()

    async def _watch(self) -> None:
        try:
            from watchfiles import awatch

            directory = str(Path(self.path).parent)
            async for _ in awatch(
                directory,
                watch_filter=lambda _change, p: p == self.path,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                stop_event=self._stop,
                recursive=False,
            ):
                self.changed.set()
        except Exception as e:  # no notifications here (a missing directory, no inotify): the timeout polls
            log.info("not watching %s (%s); looking for changes on the polling tick", self.path, e)

    async def close(self) -> None:
        """Stop watching (the watching thread sees the stop within its step)."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 2)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
