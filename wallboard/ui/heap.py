"""The desk's C heap kept to what it holds (glibc's malloc; with any other, nothing is done).

Every few seconds the desk reads a full snapshot: at 5,000 agents ~3 MB of agents' JSON and ~2 MB of queues', and
the large dicts made from them. glibc maps a block that large on its own and unmaps it when freed, but each such
free raises the size from which it maps (its "dynamic mmap threshold", up to 32 MB), so the next parts were carved
out of the heap instead: at 5,000 agents the heap held ~43 MB free of ~85 MB and grew ~0.3 MB a minute, resident all
the while (the desk's memory drifted though its objects did not). ``HeapPolicy.start`` sets that size once for the
process (glibc's own starting value; set, it no longer moves), and ``trim`` hands the heap's free pages back
(``malloc_trim``: ~1 ms at 5,000 agents), at most every ``TRIM_EVERY_S`` (the desk's settles call it).
"""

from __future__ import annotations

import ctypes
import logging
import platform
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt's parameter (glibc's malloc.h)
MMAP_FROM = 128 * 1024  # blocks this large or more are mapped on their own (glibc's starting value)
TRIM_EVERY_S = 10.0


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        return libc
    except (OSError, AttributeError):  # a libc without them
        return None


class HeapPolicy:
    """glibc's mapping size fixed (``start``) and the heap's free pages given back now and then (``trim``)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, every_s: float = TRIM_EVERY_S, enabled: bool = True
    ) -> None:
        self.clock = clock
        self.every_s = every_s
        self.libc = _glibc() if enabled else None  # (disabled: a process that is not a desk's, a test's)
        self.last = float("-inf")
        self.trims = 0

    @property
    def active(self) -> bool:
        return self.libc is not None

    def start(self) -> None:
        if self.libc is not None and not self.libc.mallopt(M_MMAP_THRESHOLD, MMAP_FROM):
            log.debug("mallopt(M_MMAP_THRESHOLD) refused: the heap's free pages are still given back")

    def trim(self) -> None:
        """The heap's free pages given back, if ``every_s`` passed since the last time."""
        if self.libc is None or self.clock() - self.last < self.every_s:
            return
        self.last = self.clock()
        self.libc.malloc_trim(0)
        self.trims += 1
