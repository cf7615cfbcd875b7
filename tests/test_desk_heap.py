"""The desk's C heap (``ui.heap``), on this machine's glibc: a block of a snapshot part's size is mapped on its
own and given back when freed, whatever larger one came before; the heap's free pages are handed back."""

from __future__ import annotations

import ctypes
import os

from wallboard.ui.heap import HeapPolicy


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


_libc = ctypes.CDLL(None)
_libc.mallinfo2.restype = _Mallinfo2


def mapped() -> int:
    """Bytes malloc holds in blocks mapped on their own (glibc's own count)."""
    return _libc.mallinfo2().hblkhd


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# in a fresh interpreter (the test process's heap may have a hole that serves the block either way): an 8 MB block
# made and freed, then how much of a 4 MB one malloc mapped on its own
_MAPPED_AFTER_A_LARGER = """
import ctypes, sys
from wallboard.ui.heap import HeapPolicy
from tests.test_desk_heap import mapped
if sys.argv[1] == "on":
    HeapPolicy().start()
larger = b"x" * (8 << 20)
del larger
before = mapped()
block = b"x" * (4 << 20)
print(mapped() - before)
"""


def test_a_part_sized_block_is_mapped_on_its_own_after_a_larger_one_was_freed():
    """Left to itself, glibc maps an 8 MB block, and once it is freed takes blocks up to 8 MB from the heap (its
    dynamic threshold; shown here in a fresh interpreter, not taken from the module): the desk's 3 MB parts came out
    of the heap, which kept the space. With the policy started, such a block is mapped on its own."""
    assert HeapPolicy().active  # Linux with glibc, as here and in CI

    assert int(_fresh(_MAPPED_AFTER_A_LARGER, "off")) < 4 << 20  # glibc alone: from the heap
    assert int(_fresh(_MAPPED_AFTER_A_LARGER, "on")) >= 4 << 20


def _fresh(code: str, *args: str) -> str:
    """What ``code`` prints, run in a fresh interpreter at the project's root."""
    import subprocess
    import sys
    from pathlib import Path

    run = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


_TRIMMED = """
from wallboard.ui.heap import HeapPolicy
from tests.test_desk_heap import rss
now = [100.0]
policy = HeapPolicy(clock=lambda: now[0], every_s=10)
policy.start()
blocks, kept = [], []
for i in range(400):  # 25 MB
    blocks.append(bytes([i % 251]) * 65536)
    kept.append(b"k" * 65536)
del blocks
freed = rss()
policy.trim()
out = [policy.trims, freed - rss()]
now[0] += 9.9
policy.trim()
out.append(policy.trims)
now[0] += 0.1
policy.trim()
out.append(policy.trims)
print(*out, len(kept))
"""


def test_the_heaps_free_pages_are_handed_back_at_most_every_few_seconds():
    """64 KB blocks (under ``MMAP_FROM``: from the heap) each followed by one kept: freed, they are holes in the
    heap whose pages stay resident; ``trim`` gives them back, not more often than ``every_s`` (in a fresh
    interpreter: the test process's malloc is left as it is)."""
    first, given_back, early, due, kept = map(int, _fresh(_TRIMMED).split())
    assert (first, early, due, kept) == (1, 1, 2, 400)
    assert given_back > 15 << 20, given_back
