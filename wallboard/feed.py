"""What a feed adapter is, and how one is found.

Adapters live in ``feeds/`` and are registered in the ``wallboard.feeds`` entry-point group; the entry-point
name is the ``--feed`` name. An adapter class is built as ``Adapter(path, config, **options)`` and yields, in
the order the source gives them, ``Event`` objects and ``DeadLetter`` records (input it could not read: the
reason and the position, never a crash). Feeds know nothing of Redis or metrics.

- ``read()`` — a finite source (a file, a recorded capture): an iterator.
- ``follow()`` — a live source: an async iterator that runs until cancelled (live feeds only).
- ``cursor`` — optional: where in the source the last yielded item came from (for resuming).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, AsyncIterator, Iterator, Protocol

from .config import WallboardConfig
from .events import Event


@dataclass(frozen=True)
class DeadLetter:
    """Input that could not become an event: recorded with its reason and position, counted, skipped."""

    source: str  # feed name, file and position, e.g. "queue-log:/var/log/asterisk/queue_log:812"
    reason: str
    raw: str


@dataclass(frozen=True)
class CursorMark:
    """Where a live feed has read up to, in order among its events: saved (under ``key``) once the events
    before it are applied, and given back to ``feed.resume(state)`` after a restart."""

    key: str
    state: str


class Feed(Protocol):
    name: str

    def read(self) -> Iterator[Event | DeadLetter]: ...


class LiveFeed(Protocol):
    name: str

    def follow(self) -> AsyncIterator[Event | DeadLetter]: ...


class UnknownFeed(LookupError):
    pass


def feed_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="wallboard.feeds"))


def load_feed(name: str, path: str | None, config: WallboardConfig, **options: Any) -> Any:
    for ep in entry_points(group="wallboard.feeds"):
        if ep.name == name:
            return ep.load()(path, config, **options)
    raise UnknownFeed(f"no feed {name!r}; installed feeds: {', '.join(feed_names()) or '(none)'}")
