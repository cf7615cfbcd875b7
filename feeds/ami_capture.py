"""The ``ami-capture`` feed: a text capture of AMI events -> Events (mapping: wallboard.ami.mapper).

Two layouts, told apart by the marker line:

- **blank-line separated blocks** (what a telnet or tcpdump of port 5038 gives). Lines starting with ``#``
  are comments (the GitHub excerpts file puts its source URLs there).
- **the Asterisk console log** of ``log_setVar.js`` (``manager debug on``): each event follows a
  ``<-- Examining AMI event: -->`` line, with CLI chatter (``-- Executing ...``, ``== Manager ... logged on``)
  around and between the blocks. A block is what follows its marker; chatter lines (indented, or a run with no
  marker that does not start with ``Event:``) are skipped; a block with no marker that starts with
  ``Event:`` is kept (the log repeats the last event after the CLI exits).

**Duplicates.** With two AMI sessions logged, each event is printed twice. A block is a duplicate when a block
with the same content *and* a ``SequenceNumber`` or ``Timestamp`` was seen: those make the content unique, so
identical means the same event printed again. A block with neither is always kept (two identical
QueueMemberStatus without them may be two real events; the engine's by-meaning dedup covers call
transitions anyway). Dropped ones are counted in ``duplicates``.

**Times** (no ``Timestamp`` header in a capture like this): the capture clock of the mapper, started at the
first Uniqueid epoch in the file; a skipped event's Uniqueid moves it on too, so the order of arrival is kept.

**Dead letters**: a line longer than 64 KiB, a non-UTF-8 byte, a line without a colon, an unknown event name
(once per name), an event missing what it needs (``missing Uniqueid`` ...), and a file that ends inside a
line (no newline at the end: a truncated capture).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Iterator

from pydantic import Field

from wallboard.ami.mapper import AmiMapper, epoch_of
from wallboard.ami.protocol import Block, Framer, Message, ParseError, parse, peek_event, raw_text
from wallboard.config import WallboardConfig
from wallboard.events import Event
from wallboard.feed import DeadLetter, FeedOptions, FileFeed, build_options

MARKER = b"<-- Examining AMI event: -->"
_FIRST_TIME = re.compile(rb"(?im)^(?:dest)?uniqueid:[ \t]*(\d{9,11})|^timestamp:[ \t]*(\d{9,11})")
_HEADER_START = (b"event:", b"response:")


class AmiCaptureOptions(FeedOptions):
    """``[feeds.ami-capture]`` / ``--feed-opt``: the mapping's timing, as for the live ``ami`` feed."""

    settle_s: float = Field(3.0, ge=0, le=600, description="How long a queue exit waits for what explains it.")
    connect_wait_s: float = Field(
        30.0, ge=0, le=3600, description="How long after an answer the agent's Connect may still come."
    )


class AmiCaptureFeed:
    name = "ami-capture"
    Options = AmiCaptureOptions
    provides = (FileFeed,)

    def __init__(self, path: Any, config: WallboardConfig, **options: Any):
        opts = build_options(AmiCaptureOptions, self.name, config, options)
        if path is None:
            raise ValueError("the ami-capture feed needs the path of a capture file")
        self.path = str(path)
        self.config = config
        self.options = opts
        self.settle_s = opts.settle_s
        self.connect_wait_s = opts.connect_wait_s
        self.duplicates = 0
        self.skipped = 0

    def read(self) -> Iterator[Event | DeadLetter]:
        self.duplicates = self.skipped = 0
        mapper = AmiMapper(
            self.config,
            feed=self.name,
            origin=self.path,
            capture=True,
            settle_s=self.settle_s,
            connect_wait_s=self.connect_wait_s,
        )
        console, first = self._scan()
        if first is not None:
            mapper.observe(first)
        seen: set[bytes] = set()
        framer = Framer()
        last = b""
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 16):
                last = chunk
                for block in framer.feed(chunk):
                    yield from self._block(block, console, mapper, seen)
        tail = framer.close()
        if tail is not None:
            if not last.endswith(b"\n") and tail.error is None:
                tail.error = "truncated: the file ends inside a line"
            yield from self._block(tail, console, mapper, seen)
        yield from mapper.flush()

    def _scan(self) -> tuple[bool, int | None]:
        """(console layout?, first Uniqueid or Timestamp epoch) by one pass over the bytes."""
        console, first = False, None
        with open(self.path, "rb") as f:
            prev = b""
            while chunk := f.read(1 << 20):
                data = prev[-256:] + chunk  # a marker or a Uniqueid line may straddle two chunks
                console = console or MARKER in data
                if first is None:
                    m = _FIRST_TIME.search(data)
                    if m:
                        first = int(m[1] or m[2])
                if console and first is not None:
                    break
                prev = chunk
        return console, first

    def _lines(self, block: Block, console: bool) -> list[bytes]:
        lines = block.lines
        if console:
            marks = [i for i, line in enumerate(lines) if line.strip() == MARKER]
            if marks:
                lines = lines[marks[-1] + 1 :]
            elif not lines[0].lower().startswith(_HEADER_START):
                return []  # CLI chatter
            lines = [line for line in lines if line[:1] not in (b" ", b"\t")]
        return [line for line in lines if not line.startswith(b"#")]

    def _block(self, block: Block, console: bool, mapper: AmiMapper, seen: set[bytes]) -> Iterator[Any]:
        where = str(block.line_no)
        source = f"{self.name}:{self.path}:{where}"
        if block.error:
            yield DeadLetter(source, block.error, block.raw())
            return
        lines = self._lines(block, console)
        if not lines:
            return
        name = peek_event(lines)
        if not mapper.wants(name, lines):
            self.skipped += 1
            for line in lines:  # its Uniqueid still moves the capture clock on
                low = line[:13].lower()
                if low.startswith(b"uniqueid:") or low.startswith(b"destuniqueid:"):
                    e = epoch_of(line.split(b":", 1)[1].strip().decode("ascii", "replace"))
                    if e is not None:
                        mapper.observe(e)
            return
        try:
            fields = parse(lines)
        except ParseError as e:
            yield DeadLetter(source, str(e), raw_text(lines))
            return
        if "sequencenumber" in fields or "timestamp" in fields:
            key = hashlib.blake2b(repr(sorted(fields.items())).encode("utf-8"), digest_size=16).digest()
            if key in seen:
                self.duplicates += 1
                return
            seen.add(key)
        yield from mapper.map(Message(fields, block.line_no, lines), None, where)
