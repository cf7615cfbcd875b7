"""AMI framing and parsing: bytes -> blocks -> messages.

- **Framing.** Lines end in CRLF or LF; a blank line ends a message. The ``Framer`` is incremental (bytes in,
  blocks out) so the live client and the capture reader share it. A line longer than ``max_line`` is never
  buffered whole: it is dropped as it streams in and its block becomes a dead letter.
- **Parsing.** ``Key: Value`` lines; keys are case-insensitive (stored lower-case: old proxies send
  ``event: AgentConnect``); the first of a repeated key wins. Each line is decoded as strict UTF-8; a bad
  byte, a line without a colon or an empty key raise ``ParseError`` with a reason for the dead letter.
- **Cheap skipping.** ``peek_event`` reads only the first line (Asterisk always writes ``Event:`` first), so
  a busy PBX's unrelated events are dropped without decoding them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINE = 65536  # longest header line we accept (real AMI lines are < 1 KiB; RTCP reports ~700 bytes)
_RAW_KEEP = 4000  # how much of a bad block a dead letter keeps


class ParseError(ValueError):
    """The block cannot become a message; the text is the dead letter's reason."""


@dataclass(slots=True)
class Block:
    lines: list[bytes]  # without line endings
    line_no: int  # 1-based number of the block's first line in the stream
    error: str | None = None  # a framing problem: the block is a dead letter

    def raw(self) -> str:
        return raw_text(self.lines)


def raw_text(lines: list[bytes]) -> str:
    return b"\n".join(lines)[:_RAW_KEEP].decode("utf-8", "replace")


class Framer:
    """Incremental framer: ``feed(bytes)`` returns the blocks completed so far; ``close()`` returns an
    unterminated last block (the caller decides whether that is a truncation)."""

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self._buf = bytearray()
        self._lines: list[bytes] = []
        self._first = 0
        self._n = 0  # lines completed
        self._error: str | None = None
        self._skipping = False  # inside an over-long line: discard up to its newline

    def feed(self, data: bytes) -> list[Block]:
        out: list[Block] = []
        buf = self._buf
        buf += data
        start = 0
        while True:
            i = buf.find(b"\n", start)
            if i < 0:
                break
            self._line(bytes(buf[start:i]), out)
            start = i + 1
        del buf[:start]
        if len(buf) > self.max_line:  # no newline in sight: drop it now rather than buffer a huge line
            if not self._skipping:
                self._too_long(self._n + 1, bytes(buf[:200]))
            self._skipping = True
            buf.clear()
        return out

    def close(self) -> Block | None:
        """The rest after the last blank line: an unterminated block, or None."""
        if self._buf and not self._skipping:
            self._add(self._n + 1, bytes(self._buf).rstrip(b"\r"))
        self._buf.clear()
        if not self._lines and self._error is None:
            return None
        block = Block(self._lines, self._first, self._error)
        self._lines, self._error, self._skipping = [], None, False
        return block

    @property
    def pending(self) -> bool:
        """True when part of a message has been read (a disconnect now truncates it)."""
        return bool(self._lines or self._buf or self._error)

    def _line(self, line: bytes, out: list[Block]) -> None:
        self._n += 1
        if self._skipping:  # the tail of an over-long line, already recorded
            self._skipping = False
            return
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line:
            self._too_long(self._n, line[:200])
        elif line:
            self._add(self._n, line)
        elif self._lines or self._error:
            out.append(Block(self._lines, self._first, self._error))
            self._lines, self._error = [], None

    def _add(self, no: int, line: bytes) -> None:
        if not self._lines and self._error is None:
            self._first = no
        self._lines.append(line)

    def _too_long(self, no: int, head: bytes) -> None:
        self._add(no, head + b"...")
        if self._error is None:
            self._error = f"line {no - self._first + 1} is longer than {self.max_line} bytes"


def peek_event(lines: list[bytes]) -> str | None:
    """The lower-case event name from the first line, without decoding the rest; None if it is not an event."""
    first = lines[0] if lines else b""
    if first[:6].lower() == b"event:":
        return first[6:].strip().decode("ascii", "replace").lower()
    return None


def parse(lines: list[bytes]) -> dict[str, str]:
    """Header lines -> {lower-case key: value}. Raises ParseError naming the bad line."""
    fields: dict[str, str] = {}
    for n, raw in enumerate(lines, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError(f"line {n} is not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})") from None
        key, sep, value = text.partition(":")
        if not sep:
            raise ParseError(f"line {n} has no colon: {text[:80]!r}")
        key = key.strip().lower()
        if not key:
            raise ParseError(f"line {n} has an empty key")
        if key not in fields:
            fields[key] = value.strip()
    return fields


class Message:
    """One parsed AMI message (event or response); keys are lower-case."""

    __slots__ = ("fields", "line_no", "lines")

    def __init__(self, fields: dict[str, str], line_no: int = 0, lines: list[bytes] | None = None):
        self.fields = fields
        self.line_no = line_no
        self.lines = lines  # the raw lines, kept for dead letters

    @property
    def name(self) -> str | None:
        """The event name, lower-case (None for a response)."""
        v = self.fields.get("event")
        return v.lower() if v is not None else None

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.fields.get(key, default)

    def __repr__(self) -> str:
        return f"Message({self.fields!r})"


# C0 and C1 controls and DEL: CR or LF in a header would inject headers or whole actions; the rest has no place
# in a header either. A queue_log row is '|'-separated and written by the PBX as given, so a '|' in a field of the
# QueueLog action adds fields of the caller's choosing (a forged ABANDON row read back as a real one).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_QUEUE_LOG_UNSAFE = re.compile(r"[|\x00-\x1f\x7f-\x9f]")


def header_fault(action: str, key: str, value: str) -> str | None:
    """Why ``key: value`` may not go into ``action`` (None: it may). The one check for every header we send,
    used by ``encode_action`` and, before acting, for the fields of the audit row that will follow."""
    if _CONTROL.search(key) or (":" in key):
        return f"AMI field name {key!r} has a control character or a colon"
    if action.lower() == "queuelog" and _QUEUE_LOG_UNSAFE.search(value):
        return f"AMI QueueLog field {key} may not contain '|' or a control character (queue_log's separator): {value!r}"
    if _CONTROL.search(value):
        return f"AMI field {key} may not contain a line break or other control character: {value!r}"
    return None


def encode_action(action: str, action_id: str, fields: dict[str, object]) -> bytes:
    """One action as wire bytes. A value with CR, LF or another control character (or, in a QueueLog action, a
    '|') is refused with ValueError before anything is sent: see ``header_fault``."""
    out = [f"Action: {action}", f"ActionID: {action_id}"]
    for k, v in fields.items():
        if v is None:
            continue
        s = ("true" if v else "false") if isinstance(v, bool) else str(v)
        fault = header_fault(action, k, s)
        if fault:
            raise ValueError(fault)
        out.append(f"{k}: {s}")
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8")
