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


def test_a_part_sized_block_is_mapped_on_its_own_after_a_larger_one_was_freed():
    """Left to itself, glibc maps an 8 MB block, and once it is freed grows the heap for blocks up to 8 MB (its
    dynamic threshold): the desk's 3 MB parts came out of the heap, which kept the space. With the policy started,
    a block ``MMAP_FROM`` or larger that the heap has no room for is mapped on its own."""
    policy = HeapPolicy()
    assert policy.active  # Linux with glibc, as here and in CI
    policy.start()
    larger = b"x" * (8 << 20)
    del larger
    for size in (4 << 20, 2 << 20):
        before = mapped()
        block = b"x" * size
        assert mapped() - before >= size, size
        del block
        assert mapped() - before < size  # unmapped when freed: not kept by the process


def test_the_heaps_free_pages_are_handed_back_at_most_every_few_seconds():
    """64 KB blocks (under ``MMAP_FROM``: from the heap) each followed by one kept: freed, they are holes in the
    heap whose pages stay resident; ``trim`` gives them back, not more often than ``every_s``."""
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
    assert policy.trims == 1
    assert freed - rss() > 15 << 20, (freed, rss())
    now[0] += 9.9
    policy.trim()
    assert policy.trims == 1
    now[0] += 0.1
    policy.trim()
    assert policy.trims == 2
    assert len(kept) == 400
