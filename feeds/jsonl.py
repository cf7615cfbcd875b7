"""``jsonl``: our own events, one JSON object per line (the shape of ``wallboard.events``)."""

from __future__ import annotations

from typing import Iterator

from pydantic import ValidationError

from wallboard.config import WallboardConfig
from wallboard.events import Event, parse_event
from wallboard.feed import DeadLetter, FileFeed, NoOptions, build_options


class JsonlFeed:
    name = "jsonl"
    Options = NoOptions
    provides = (FileFeed,)

    def __init__(self, path: str | None, config: WallboardConfig, **options):
        self.options = build_options(NoOptions, self.name, config, options)
        if not path:
            raise ValueError("the jsonl feed reads a file: give its path")
        self.path = path
        self.cursor: int = 0

    def read(self) -> Iterator[Event | DeadLetter]:
        with open(self.path, encoding="utf-8-sig", errors="replace") as f:  # -sig: a leading BOM is no input
            for n, line in enumerate(f, 1):
                self.cursor = n
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    yield parse_event(line)
                except ValidationError as e:
                    first = e.errors()[0]
                    where = ".".join(str(p) for p in first["loc"]) or "(line)"
                    yield DeadLetter(f"jsonl:{self.path}:{n}", f"{where}: {first['msg']}", line)
